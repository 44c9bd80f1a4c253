// The appliance's web page: sign-in, the fleet overview, a company, a month's trial balance.
// Plain JavaScript, no libraries; it reads only the documented API, as any script could.
// Pages are built with DOM calls (never innerHTML), so names from Tally cannot inject markup.
"use strict";

const TOKEN_KEY = "aicfo.token";
const USER_KEY = "aicfo.user";
const REFRESH_VISIBLE_MS = 5000;
const REFRESH_HIDDEN_MS = 60000;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

// ---- formatting: Indian grouping, Dr/Cr, financial years, dates ----

/** Paise from a JSON amount (a number with at most two decimals). */
function toPaise(amount) {
  return Math.round(Number(amount) * 100);
}

/** 12345678.9 -> "1,23,45,678.90": the last three digits, then groups of two. */
function indian(amount) {
  const paise = Math.abs(toPaise(amount));
  const rupees = String(Math.floor(paise / 100));
  const frac = String(paise % 100).padStart(2, "0");
  let head = rupees.slice(0, -3);
  const tail = rupees.slice(-3);
  const parts = [];
  while (head.length > 2) {
    parts.unshift(head.slice(-2));
    head = head.slice(0, -2);
  }
  if (head) parts.unshift(head);
  parts.push(tail);
  return parts.join(",") + "." + frac;
}

/** A balance with its side: positive is debit. */
function drCr(amount) {
  const p = toPaise(amount);
  if (p === 0) return "0.00";
  return indian(amount) + (p > 0 ? " Dr" : " Cr");
}

/** A column amount: blank when zero, so a trial balance reads as Tally prints it. */
function column(amount) {
  return toPaise(amount) === 0 ? "" : indian(amount);
}

/** "2026-03" -> "FY 2025-26" (years starting in April, as Indian books do). */
function financialYear(monthKey) {
  const [y, m] = monthKey.split("-").map(Number);
  const start = m >= 4 ? y : y - 1;
  return "FY " + start + "-" + String((start + 1) % 100).padStart(2, "0");
}

function monthName(monthKey) {
  const [y, m] = monthKey.split("-").map(Number);
  return MONTHS[m - 1] + " " + y;
}

/** "2026-03-15" or an RFC 3339 time -> "15 Mar 2026" (local date for times). */
function indianDate(text) {
  if (!text) return "";
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    const [y, m, d] = text.split("-").map(Number);
    return d + " " + MONTHS[m - 1] + " " + y;
  }
  const t = new Date(text);
  return t.getDate() + " " + MONTHS[t.getMonth()] + " " + t.getFullYear();
}

function clockTime(text) {
  const t = new Date(text);
  return String(t.getHours()).padStart(2, "0") + ":" + String(t.getMinutes()).padStart(2, "0");
}

/** "3 min ago", measured on the server's clock so a PC's wrong clock cannot mislead. */
function ago(then, serverNow) {
  const secs = Math.max(0, Math.round((Date.parse(serverNow) - Date.parse(then)) / 1000));
  if (secs < 60) return secs + " s ago";
  if (secs < 3600) return Math.floor(secs / 60) + " min ago";
  if (secs < 86400) return Math.floor(secs / 3600) + " h ago";
  return Math.floor(secs / 86400) + " days ago";
}

function duration(ms) {
  if (ms == null) return "";
  if (ms < 1000) return "under 1 s";
  const secs = Math.round(ms / 1000);
  return secs < 60 ? secs + " s" : Math.floor(secs / 60) + " min " + (secs % 60) + " s";
}

// ---- DOM ----

/** h("td", {class: "x"}, "text", child...) */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v == null) continue;
    if (k === "onclick") el.addEventListener("click", v);
    else if (k === "onsubmit") el.addEventListener("submit", v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A pill: good (green), bad (red), warn (amber) or plain. */
function pill(kind, text, title) {
  return h("span", { class: "pill " + kind, title: title || null }, text);
}

function show(...nodes) {
  const main = document.getElementById("main");
  main.replaceChildren(...nodes);
}

// Whether the notice shown is a refresh's own failure, which the next good refresh clears. Any
// other notice (an action's refusal) stays until dismissed or the user acts again.
let noticeFromRefresh = false;

function notice(text, fromRefresh) {
  const n = document.getElementById("notice");
  noticeFromRefresh = !!text && !!fromRefresh;
  n.hidden = !text;
  if (!text) return n.replaceChildren();
  const dismiss = h("button", { type: "button", class: "dismiss", id: "notice-dismiss", title: "Dismiss", "aria-label": "Dismiss this message", onclick: () => notice("") }, "✕");
  n.replaceChildren(h("span", { class: "notice-text" }, text), dismiss);
}

/** Whether an action's refusal is on screen (a refresh's failure does not replace it). */
function actionNoticeShown() {
  return !document.getElementById("notice").hidden && !noticeFromRefresh;
}

// ---- the API ----

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Calls the API; a refusal becomes an ApiError carrying the API's own sentence. */
async function api(path, options) {
  const opts = Object.assign({ headers: {} }, options || {});
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) opts.headers["Authorization"] = "Bearer " + token;
  if (opts.json !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(opts.json);
  }
  let res;
  try {
    res = await fetch("/api" + path, opts);
  } catch (e) {
    throw new ApiError(0, "The appliance cannot be reached; check the network.");
  }
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch (e) {
    body = null;
  }
  if (!res.ok) {
    const sentence = body && body.message ? body.message : "The appliance answered " + res.status + ".";
    if (res.status === 401 && token) signOut(sentence);
    const error = new ApiError(res.status, sentence);
    // Which fields were wrong, each with its own sentence: forms show them.
    error.details = (body && body.details) || [];
    throw error;
  }
  return body;
}

// ---- session ----

function currentUser() {
  try {
    return JSON.parse(sessionStorage.getItem(USER_KEY));
  } catch (e) {
    return null;
  }
}

function signOut(why) {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
  stopRefresh();
  // Without a hashchange event, which would clear the notice below.
  if (location.hash && location.hash !== "#/") history.replaceState(null, "", "#/");
  route();
  notice(why || "");
}

function headerFor(user) {
  const who = document.getElementById("who");
  const out = document.getElementById("signout");
  who.hidden = out.hidden = !user;
  document.getElementById("admin-link").hidden = !user || user.role !== "admin";
  who.textContent = user ? user.username + " (" + user.role + ")" : "";
}

function loginPage() {
  document.title = "Sign in · aicfo";
  const error = h("p", { class: "error", id: "login-error", role: "alert" });
  const form = h(
    "form",
    { class: "login", id: "login", onsubmit: (e) => signIn(e, form, error) },
    h("h1", {}, "Sign in"),
    h("label", {}, "Username", h("input", { name: "username", id: "username", autocomplete: "username", required: true })),
    h("label", {}, "Password", h("input", { name: "password", id: "password", type: "password", autocomplete: "current-password", required: true })),
    h("button", { type: "submit", id: "signin" }, "Sign in"),
    error
  );
  show(form);
  form.querySelector("input").focus();
}

async function signIn(event, form, error) {
  event.preventDefault();
  error.textContent = "";
  const data = new FormData(form);
  try {
    const body = await api("/auth/login", {
      method: "POST",
      json: { username: data.get("username"), password: data.get("password") },
    });
    sessionStorage.setItem(TOKEN_KEY, body.token);
    sessionStorage.setItem(USER_KEY, JSON.stringify(body.user));
    notice("");
    route();
  } catch (e) {
    error.textContent = e.message;
  }
}

// ---- refreshing ----

let refreshTimer = null;
let refreshing = null;

function stopRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = null;
  refreshing = null;
}

/** Runs `load` now (or after a pause when it `justRan`), and again every few seconds while the
 * tab is visible, rarely while hidden. */
function keepFresh(load, justRan) {
  stopRefresh();
  refreshing = load;
  const tick = async () => {
    if (refreshing !== load) return;
    try {
      await load();
      if (noticeFromRefresh) notice("");
    } catch (e) {
      if (refreshing === load && !actionNoticeShown()) notice(e.message, true);
    }
    if (refreshing !== load) return;
    refreshTimer = setTimeout(tick, document.hidden ? REFRESH_HIDDEN_MS : REFRESH_VISIBLE_MS);
  };
  if (justRan) refreshTimer = setTimeout(tick, REFRESH_VISIBLE_MS);
  else tick();
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && refreshing) keepFresh(refreshing);
});

// ---- overview ----

/** `withSeen`: say when it was last heard from (the company page has a column for that). */
function connectorPills(k, serverTime, withSeen = true) {
  const pills = [];
  if (k.revoked) return [pill("plain", "revoked")];
  // A connector run once (`once`) syncs without a heartbeat: it was seen, just not kept running.
  const last = k.lastHeartbeat || k.lastSeen;
  const seen = last ? "last seen " + ago(last, serverTime) : "never heard from";
  pills.push(pill(k.online ? "good" : "bad", (k.online ? "online" : "offline") + (withSeen ? " · " + seen : ""), k.deviceName || k.deviceId));
  // What an offline connector last said about Tally is stale: leave it out rather than show it green.
  if (!k.online) return pills;
  if (k.tallyReachable != null) pills.push(pill(k.tallyReachable ? "good" : "bad", k.tallyReachable ? "Tally reachable" : "Tally unreachable"));
  if (k.companyOpen != null) pills.push(pill(k.companyOpen ? "good" : "bad", k.companyOpen ? "company open" : "company not open"));
  return pills;
}

// A sync too large for one request arrives in parts; until the last is in, the books are as
// before, and a run that ends without all of them changes no month at all.
const PARTS_MEANING = {
  receiving: "Its parts are arriving; the books change only when the last part is in.",
  incomplete: "Not all of its parts arrived, so none of its months was stored: the books keep the figures of the previous sync.",
};

function syncPill(run, serverTime) {
  if (!run) return pill("plain", "no sync yet");
  const when = ago(run.finishedAt || run.updatedAt, serverTime);
  if (run.partsOutcome === "receiving" && run.status === "running") {
    return pill("plain", "receiving parts · books unchanged until the last arrives", PARTS_MEANING.receiving);
  }
  if (run.partsOutcome === "incomplete") {
    return pill("warn", "sync incomplete " + when + " · parts missing, books as before", PARTS_MEANING.incomplete + (run.error ? " (" + run.error + ")" : ""));
  }
  switch (run.status) {
    case "succeeded":
      return pill("good", "synced " + when + ", took " + duration(run.durationMs));
    case "running":
      return pill("plain", "syncing · " + run.stage + " " + run.percent + "%");
    case "failed":
      return pill("bad", "sync failed " + when, run.error || "");
    default:
      return pill("warn", "sync " + run.status + " " + when, run.error || "");
  }
}

function freshnessPill(month) {
  if (!month) return pill("plain", "no books yet");
  return pill("plain", "books to " + indianDate(month.asOfDate) + " · " + financialYear(month.monthKey));
}

// Several PCs for one client read as one line at a glance: how many are online, which are not,
// and Tally's state only where it is bad; each connector's own pills are on the company page.
function fleetPills(connectors, serverTime) {
  const active = connectors.filter((k) => !k.revoked);
  if (active.length <= 1) return connectors.flatMap((k) => connectorPills(k, serverTime));
  const online = active.filter((k) => k.online);
  const names = active.map((k) => (k.deviceName || k.deviceId) + (k.online ? ": online" : ": offline")).join("\n");
  const pills = [pill(online.length === active.length ? "good" : "bad",
    online.length + " of " + active.length + " connectors online", names)];
  for (const k of active.filter((k) => !k.online)) {
    const last = k.lastHeartbeat || k.lastSeen;
    pills.push(pill("bad", (k.deviceName || k.deviceId) + " offline" + (last ? " · last seen " + ago(last, serverTime) : "")));
  }
  const unreachable = online.filter((k) => k.tallyReachable === false).length;
  const closed = online.filter((k) => k.companyOpen === false).length;
  if (unreachable) pills.push(pill("bad", "Tally unreachable on " + unreachable));
  else if (online.some((k) => k.tallyReachable)) pills.push(pill("good", "Tally reachable"));
  if (closed) pills.push(pill("bad", "company not open on " + closed));
  else if (online.some((k) => k.companyOpen)) pills.push(pill("good", "company open"));
  return pills;
}

/** A company whose data the appliance could not read: its name and the appliance's sentence. */
function unreadableCard(co) {
  return h(
    "li",
    { class: "card unreadable", "data-company": co.id },
    h("a", { class: "name", href: "#/c/" + encodeURIComponent(co.id) }, co.name),
    h("div", { class: "pills" }, pill("bad", "books not shown")),
    h("p", { class: "unreadable-why", role: "status" }, co.name + " " + co.unreadable)
  );
}

function companyCard(co, serverTime) {
  if (co.unreadable) return unreadableCard(co);
  const pills = fleetPills(co.connectors, serverTime);
  if (co.connectors.length === 0) pills.push(pill("warn", "no connector"));
  pills.push(syncPill(co.lastSyncRun, serverTime));
  pills.push(freshnessPill(co.latestMonth));
  if (co.unbalancedMonths.length) {
    pills.push(pill("warn", "does not balance: " + co.unbalancedMonths.map(monthName).join(", ")));
  }
  pills.push(...restatedPills(co));
  return h(
    "li",
    { class: "card", "data-company": co.id },
    h("a", { class: "name", href: "#/c/" + encodeURIComponent(co.id) }, co.name),
    co.tallyCompanyName && co.tallyCompanyName !== co.name ? h("span", { class: "sub" }, "Tally: " + co.tallyCompanyName) : null,
    h("div", { class: "pills" }, pills)
  );
}

async function overviewPage() {
  const list = h("ul", { class: "cards", id: "companies" });
  const summary = h("p", { class: "summary", id: "summary" });
  const backup = h("div", {});
  show(h("h1", {}, "Clients"), summary, backup, list);
  keepFresh(async () => {
    const ov = await api("/overview");
    const offline = ov.offlineConnectors;
    const unreadable = ov.companies.filter((co) => co.unreadable).length;
    document.title = (offline ? "(" + offline + " offline) " : "") + "Clients · aicfo";
    summary.textContent =
      ov.companies.length + (ov.companies.length === 1 ? " company" : " companies") +
      (offline ? " · " + offline + " connector" + (offline === 1 ? "" : "s") + " offline" : " · every connector online") +
      // An unreadable company's connectors are not counted above: say so.
      (unreadable ? " · " + unreadable + " could not be read" : "");
    backup.replaceChildren(backupLine(ov) || "");
    list.replaceChildren(...ov.companies.map((co) => companyCard(co, ov.serverTime)));
    if (!ov.companies.length) list.append(h("li", { class: "empty" }, "No companies yet."));
  });
}

// ---- a company ----

function table(head, rows, attrs) {
  return h(
    "div",
    { class: "scroll" },
    h("table", attrs || {}, h("thead", {}, h("tr", {}, head.map((c) => h("th", { class: c.cls || null }, c.text || c)))), h("tbody", {}, rows))
  );
}

/** `controls` (admins only) carry each connector's own update policy and the releases. */
function connectorsTable(status, reload, controls) {
  const rows = status.connectors.map((k) =>
    h(
      "tr",
      { "data-connector": k.connectorId },
      h("td", {}, k.deviceName || k.deviceId),
      h("td", {}, k.os || ""),
      h("td", { class: "version" }, versionCell(k)),
      h("td", { class: "when" }, k.lastSeen ? ago(k.lastSeen, status.serverTime) : ""),
      h("td", { class: "status" }, connectorPills(Object.assign({}, k, agentFlags(k)), status.serverTime, false)),
      h("td", { class: "updates" }, updateCell(k, controls, reload)),
      h("td", {}, connectorActions(k, reload))
    )
  );
  if (!rows.length) rows.push(h("tr", {}, h("td", { colspan: 7 }, "No connector enrolled yet.")));
  return table(["Device", "OS", "Version", "Last seen", "Status", "Updates", ""], rows, { id: "connectors" });
}

function agentFlags(k) {
  const s = k.agentState || {};
  return { tallyReachable: s.tallyReachable, companyOpen: s.companyOpen };
}

function runLine(label, run, serverTime) {
  return h("p", {}, h("strong", {}, label + ": "), run ? [syncPill(run, serverTime), " started " + indianDate(run.startedAt) + " " + clockTime(run.startedAt)] : "none");
}

/** `restated`: month key -> that month's restatements, newest first (books.js). */
function monthsTable(companyId, status, restated) {
  const months = status.months.slice().reverse();
  const rows = months.map((m) =>
    h(
      "tr",
      { "data-month": m.monthKey, class: restated.has(m.monthKey) ? "restated" : null },
      h("td", {}, h("a", { href: "#/c/" + encodeURIComponent(companyId) + "/tb/" + m.monthKey }, monthName(m.monthKey))),
      h("td", { class: "opt" }, financialYear(m.monthKey)),
      h("td", {}, indianDate(m.asOfDate) + (m.closed ? "" : " (open)")),
      h("td", { class: "num opt" }, m.ledgerCount),
      h("td", { class: "num opt" }, indian(m.debitTotal)),
      h("td", { class: "num opt" }, indian(m.creditTotal)),
      h("td", { class: "state" }, m.balanced ? pill("good", "balanced") : pill("warn", "differs by " + drCr(m.difference)), restatedMark(restated.get(m.monthKey))),
      h("td", { class: "links" }, reportLinks(companyId, m.monthKey))
    )
  );
  if (!rows.length) rows.push(h("tr", {}, h("td", { colspan: 8 }, "No months held yet.")));
  // On a phone the month, its date, its state and its reports fit; the totals are a scroll away.
  return table(["Month", { text: "Year", cls: "opt" }, "As of", { text: "Ledgers", cls: "num opt" }, { text: "Debit", cls: "num opt" }, { text: "Credit", cls: "num opt" }, "", "Reports"], rows, { id: "months" });
}

function runsTable(runs, status) {
  const device = (connectorId) => {
    const k = status.connectors.find((c) => c.connectorId === connectorId);
    return k ? k.deviceName || k.deviceId : "";
  };
  const rows = runs.map((r) =>
    h(
      "tr",
      {},
      h("td", {}, h("a", { href: runHref(status.companyId, r.syncRunId) }, indianDate(r.startedAt) + " " + clockTime(r.startedAt))),
      h("td", {}, device(r.connectorId)),
      h("td", {}, r.trigger || ""),
      h("td", {}, syncPill(r, status.serverTime)),
      h("td", {}, r.status === "running" ? r.stage + " " + r.percent + "%" : r.error || "")
    )
  );
  if (!rows.length) rows.push(h("tr", {}, h("td", { colspan: 5 }, "No sync run yet.")));
  return table(["Started", "Device", "Trigger", "Outcome", "Stage or error"], rows, { id: "runs" });
}

async function companyPage(id) {
  const title = h("h1", {}, id);
  const body = h("div", {});
  const admin = h("div", { id: "company-admin" });
  show(h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Clients")), title, body, admin);
  const companies = await api("/companies");
  const company = companies.find((c) => c.id === id);
  if (company) title.textContent = company.name;
  document.title = title.textContent + " · aicfo";
  // Restated months, read once: listed above the months table and marked on its rows.
  let restated = new Map();
  let refreshCodes = null;
  const changed = restatementsBox(id, (list) => {
    restated = restatedByMonth(list);
    load(true).catch(() => {});
  });
  // `force` after a change of policy; the refresh itself waits while a policy is being chosen.
  const load = async (force) => {
    if (!force && choosingPolicy()) return;
    const [status, runs] = await Promise.all([
      api("/connector/status?companyId=" + encodeURIComponent(id)),
      api("/companies/" + encodeURIComponent(id) + "/sync-runs?limit=10"),
    ]);
    const controls = await updateControls(status);
    body.replaceChildren(
      h("h2", {}, "Connectors"),
      connectorsTable(status, load, controls),
      h("h2", {}, "Sync"),
      syncNowBox(id, status, () => load(true)),
      runLine("Last run", status.lastSyncRun, status.serverTime),
      runLine("Last successful", status.lastSuccessfulSync, status.serverTime),
      runsTable(runs, status),
      h("h2", {}, "Months held"),
      changed,
      monthsTable(id, status, restated)
    );
    if (refreshCodes) await refreshCodes(status);
  };
  // The first load's refusal (say, another firm's company) replaces the page, not a banner.
  await load();
  keepFresh(load, true);
  refreshCodes = await companyAdmin(id, admin);
}

// ---- a month's reports ----

const REPORTS = [
  ["tb", "Trial balance", "TB"],
  ["pl", "Profit & loss", "P&L"],
  ["bs", "Balance sheet", "BS"],
];

/** Links to a month's reports; `current` (on a report page) is named in full, not linked. */
function reportLinks(companyId, month, current) {
  return REPORTS.map(([code, name, short]) =>
    code === current
      ? h("strong", { class: "report-link" }, name)
      : h("a", { class: "report-link", title: name, href: "#/c/" + encodeURIComponent(companyId) + "/" + code + "/" + month, "data-report": code }, current ? name : short)
  );
}

/** Crumbs back to the clients and the company, and links to the month's other reports. */
async function reportFrame(id, month, code) {
  stopRefresh();
  const companyLink = h("a", { href: "#/c/" + encodeURIComponent(id) }, id);
  const crumbs = h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Clients"), " › ", companyLink);
  const name = REPORTS.find((r) => r[0] === code)[1];
  const head = [crumbs, h("h1", {}, name + ", " + monthName(month)), h("nav", { class: "reports" }, reportLinks(id, month, code))];
  show(...head, h("p", {}, "Loading…"));
  api("/companies")
    .then((all) => {
      const company = all.find((c) => c.id === id);
      if (company) companyLink.textContent = company.name;
    })
    .catch(() => {});
  document.title = name + " " + monthName(month) + " · aicfo";
  return head;
}

function reportUrl(id, month, report) {
  return "/companies/" + encodeURIComponent(id) + "/reports/" + encodeURIComponent(month) + "/" + report;
}

/** A signed amount for a report column: a loss shows with a minus. */
function signed(amount) {
  return (toPaise(amount) < 0 ? "−" : "") + indian(amount);
}

// The reports themselves, comparisons, charts and CSV are in books.js.

// ---- routing ----

async function route() {
  const user = currentUser();
  headerFor(sessionStorage.getItem(TOKEN_KEY) ? user : null);
  if (!sessionStorage.getItem(TOKEN_KEY)) {
    stopRefresh();
    return loginPage();
  }
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  try {
    const books = booksRoute(parts);
    if (books) return await books;
    if (parts[0] === "c" && parts[1] && parts[2] === "run" && parts[3]) return await runPage(parts[1], parts[3]);
    if (parts[0] === "c" && parts[1]) return await companyPage(parts[1]);
    if (parts[0] === "admin") return await adminPage();
    return await overviewPage();
  } catch (e) {
    stopRefresh();
    show(h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Clients")), h("p", { class: "error", role: "alert" }, e.message));
  }
}

/** Over plain HTTP from another machine, passwords and books cross the office network in clear:
 *  say so above every page until the appliance serves HTTPS (README: "HTTPS on the LAN"). */
function warnIfPlainHttp() {
  const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(location.hostname);
  if (location.protocol !== "http:" || loopback) return;
  const warning = h("div", { id: "plain-http", class: "notice", role: "status" },
    "This page is not encrypted (plain HTTP): anyone on the office network can read passwords and books on their way. " +
    "Ask the administrator to turn on HTTPS (AICFO_TLS=auto) and open the page at its https address.");
  document.getElementById("notice").before(warning);
}

window.addEventListener("hashchange", () => {
  notice("");
  route();
});
document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("signout").addEventListener("click", () => signOut(""));
  warnIfPlainHttp();
  route();
});
