// The company page's parts beyond the status: a connector's revoke / restore (admins), a sync
// run's events and ingestion log, and, for admins, the connector downloads and enrolment codes.
// Uses app.js's helpers (h, api, pill, table, keepFresh, ...); loaded after it.
"use strict";

function isAdmin() {
  const user = currentUser();
  return !!user && user.role === "admin";
}

function runHref(companyId, runId) {
  return "#/c/" + encodeURIComponent(companyId) + "/run/" + encodeURIComponent(runId);
}

/** A button that runs `action`, shows its refusal as the API's sentence, then `done`. */
function actionButton(label, attrs, action, done) {
  const button = h("button", Object.assign({ type: "button", class: "action" }, attrs), label);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await action();
      notice("");
      if (done) await done();
    } catch (e) {
      notice(e.message);
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

/** Revoke or restore, for an admin; nothing for staff. */
function connectorActions(k, reload) {
  if (!isAdmin()) return null;
  const path = "/connectors/" + encodeURIComponent(k.connectorId) + (k.revoked ? "/restore" : "/revoke");
  const label = k.revoked ? "Restore" : "Revoke";
  return actionButton(label, { "data-connector": k.connectorId, class: "action" + (k.revoked ? "" : " danger") }, async () => {
    if (!k.revoked && !confirm("Revoke " + (k.deviceName || k.deviceId) + "? It stops syncing until restored.")) return;
    await api(path, { method: "POST", json: {} });
  }, reload);
}

// ---- a sync run ----

/** "15:16:05": a run's events are seconds apart. */
function clockSeconds(text) {
  const t = new Date(text);
  return clockTime(text) + ":" + String(t.getSeconds()).padStart(2, "0");
}

function eventsTable(run) {
  const rows = run.events.map((e) =>
    h(
      "tr",
      {},
      h("td", { class: "when" }, clockSeconds(e.at)),
      h("td", {}, e.kind),
      h("td", {}, e.stage || ""),
      h("td", { class: "num" }, e.percent == null ? "" : e.percent + "%"),
      h("td", {}, e.message || "")
    )
  );
  return table(["When", "Event", "Stage", { text: "Done", cls: "num" }, "Message"], rows, { id: "run-events" });
}

function sizeText(bytes) {
  if (bytes < 1024) return bytes + " B";
  if (bytes < 1024 * 1024) return Math.round(bytes / 1024) + " KB";
  return (bytes / (1024 * 1024)).toFixed(1) + " MB";
}

/** What a stored payload's outcome means for the books (PARTS_MEANING: app.js). */
function ingestionOutcome(outcome) {
  switch (outcome) {
    case "stored":
      return pill("good", "stored");
    case "stored_unbalanced":
      return pill("warn", "stored, does not balance");
    case "receiving":
      return pill("plain", "receiving parts: not in the books yet", PARTS_MEANING.receiving);
    case "incomplete":
      return pill("warn", "incomplete: parts missing, its months keep their previous figures", PARTS_MEANING.incomplete);
    default:
      return pill("plain", outcome);
  }
}

function ingestionsTable(run) {
  const rows = run.ingestions.map((i) =>
    h(
      "tr",
      {},
      h("td", { class: "when" }, clockSeconds(i.receivedAt)),
      h("td", { class: "num" }, sizeText(i.bytes)),
      h("td", { class: "num" }, i.groups),
      h("td", { class: "num" }, i.ledgers),
      h("td", { class: "num" }, i.months),
      h("td", { class: "num" }, i.balances),
      h("td", { class: "num" }, duration(i.durationMs)),
      h("td", {}, ingestionOutcome(i.outcome))
    )
  );
  if (!rows.length) rows.push(h("tr", {}, h("td", { colspan: 8 }, "Nothing stored by this run.")));
  const head = ["Received", { text: "Size", cls: "num" }, { text: "Groups", cls: "num" }, { text: "Ledgers", cls: "num" }, { text: "Months", cls: "num" }, { text: "Balances", cls: "num" }, { text: "Took", cls: "num" }, "Outcome"];
  return table(head, rows, { id: "run-ingestions" });
}

function progressBar(run) {
  return h("progress", { max: 100, value: run.percent, id: "run-progress" }, run.percent + "%");
}

async function runPage(id, runId) {
  stopRefresh();
  const companyLink = h("a", { href: "#/c/" + encodeURIComponent(id) }, id);
  const title = h("h1", {}, "Sync run");
  const body = h("div", {});
  show(h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Clients"), " › ", companyLink), title, body);
  api("/companies")
    .then((all) => {
      const company = all.find((c) => c.id === id);
      if (company) companyLink.textContent = company.name;
    })
    .catch(() => {});
  const load = async () => {
    const run = await api("/companies/" + encodeURIComponent(id) + "/sync-runs/" + encodeURIComponent(runId));
    title.textContent = "Sync run of " + indianDate(run.startedAt) + " " + clockTime(run.startedAt);
    document.title = title.textContent + " · aicfo";
    const now = new Date().toISOString();
    const parts = [
      h("p", { class: "summary", id: "run-summary" }, syncPill(run, now), " ", run.trigger ? "trigger: " + run.trigger : "", run.error ? [" · ", h("span", { class: "error" }, run.error)] : null),
      run.partsOutcome ? h("p", { id: "run-parts" }, PARTS_MEANING[run.partsOutcome] || "") : null,
      run.status === "running" ? h("p", {}, run.stage + " ", progressBar(run)) : null,
      h("h2", {}, "What it stored"),
      ingestionsTable(run),
      h("h2", {}, "Events"),
      eventsTable(run),
    ];
    body.replaceChildren(...parts.filter(Boolean));
    // A finished run no longer changes: stop asking.
    if (run.status !== "running") stopRefresh();
  };
  await load();
  keepFresh(load, true);
}

// ---- connector downloads and enrolment codes (admins) ----

const TARGETS = [
  ["windows", "Windows (Tally PC)"],
  ["linux", "Linux"],
];

/** Asks for a signed link, then fetches the ZIP through it and saves it under its name. */
async function downloadConnector(companyId, target, status) {
  status.textContent = "Preparing the ZIP…";
  const link = await api("/download-links", { method: "POST", json: { companyId: companyId, target: target } });
  status.replaceChildren();
  let res;
  try {
    res = await fetch(link.url);
  } catch (e) {
    throw new ApiError(0, "The appliance cannot be reached; check the network.");
  }
  if (!res.ok) {
    const body = await res.json().catch(() => null);
    throw new ApiError(res.status, body && body.message ? body.message : "The appliance answered " + res.status + ".");
  }
  const disposition = res.headers.get("Content-Disposition") || "";
  const name = (disposition.match(/filename="([^"]+)"/) || [])[1] || "connector.zip";
  const url = URL.createObjectURL(await res.blob());
  const a = h("a", { href: url, download: name, id: "download-saved", "data-link": link.url }, name);
  status.replaceChildren("Saved ", a, ". Unzip it on the PC beside Tally and start the connector: it enrols itself for this company with the one-time code inside.");
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

function downloadSection(companyId, saved) {
  const status = h("p", { class: "sub", id: "download-status", role: "status" });
  const download = (target) => () =>
    downloadConnector(companyId, target, status).catch((e) => {
      status.textContent = "";
      throw e;
    });
  const buttons = TARGETS.map(([target, label]) => actionButton("Download for " + label, { id: "download-" + target }, download(target), saved));
  return [h("h2", {}, "Connector download"), h("p", { class: "buttons" }, buttons), status];
}

/** `devices` names connectors by id, so a used code says which PC used it. */
function codeRow(code, devices, reload) {
  const by = code.usedByConnector ? " by " + (devices[code.usedByConnector] || code.usedByConnector.slice(0, 8)) : "";
  const used = code.usedAt ? indianDate(code.usedAt) + " " + clockTime(code.usedAt) + by : "";
  const kind = { unused: "good", used: "plain", expired: "plain", revoked: "warn" }[code.state] || "plain";
  return h(
    "tr",
    { "data-code": code.id },
    h("td", {}, indianDate(code.createdAt) + " " + clockTime(code.createdAt)),
    h("td", {}, code.createdBy || ""),
    h("td", {}, indianDate(code.expiresAt)),
    h("td", {}, pill(kind, code.state)),
    h("td", {}, used),
    h("td", {}, code.state === "unused" ? actionButton("Revoke", { class: "action danger" }, () => api("/enrollment-codes/" + code.id + "/revoke", { method: "POST", json: {} }), reload) : null)
  );
}

/** Draws the codes; returns `load(status?)`, which redraws them when they changed (a code used by
 * a connector, made by a download, revoked), so the company page's refresh keeps them current. */
async function codesSection(companyId, box) {
  let drawn = null;
  const load = async (status) => {
    const [all, st] = await Promise.all([api("/enrollment-codes"), status || api("/connector/status?companyId=" + encodeURIComponent(companyId))]);
    const devices = Object.fromEntries(st.connectors.map((k) => [k.connectorId, k.deviceName || k.deviceId]));
    const mine = all.filter((c) => c.companyId === companyId).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    // Unchanged: leave the table (and a keyboard user's focus in it) alone.
    const key = JSON.stringify([mine, devices]);
    if (key === drawn) return;
    drawn = key;
    const rows = mine.map((c) => codeRow(c, devices, () => load()));
    if (!rows.length) rows.push(h("tr", {}, h("td", { colspan: 6 }, "No connector downloaded for this company yet.")));
    box.replaceChildren(
      h("h2", {}, "Enrolment codes"),
      h("p", { class: "sub" }, "Each downloaded ZIP carries a one-time code; revoke one whose ZIP went astray."),
      table(["Made", "By", "Expires", "State", "Used", ""], rows, { id: "codes" })
    );
  };
  await load();
  return load;
}

/** The admin's part of a company page: downloads and codes. Nothing for staff. Returns what
 * redraws the codes from a fresh status, or nothing. */
async function companyAdmin(companyId, box) {
  if (!isAdmin()) return null;
  const codes = h("div", {});
  let reloadCodes = async () => {};
  // A download makes a code: show it.
  box.replaceChildren(...downloadSection(companyId, () => reloadCodes()), codes);
  reloadCodes = await codesSection(companyId, codes);
  return reloadCodes;
}

// ---- when it syncs, and "sync now" ----

/** The schedule in words and "Sync now" / "Full read now", for anyone who sees the company. */
function syncNowBox(companyId, status, reload) {
  const s = status.schedule;
  const at = (t) => indianDate(t) + " " + clockTime(t);
  const due = [];
  if (s && s.nextSyncAt) due.push("next sync due " + at(s.nextSyncAt));
  if (s && s.nextFullReadAt) due.push("next full read " + at(s.nextFullReadAt));
  const line = due.length ? due.join(" · ") : "The connectors sync on their own interval (no schedule is set on the appliance).";
  const ask = (full) => () =>
    api("/companies/" + encodeURIComponent(companyId) + "/sync-requests", { method: "POST", json: full ? { full: true } : {} });
  return h(
    "div",
    { class: "sync-now" },
    h("p", {}, line),
    h(
      "p",
      {},
      actionButton("Sync now", { "data-sync-now": "changes" }, ask(false), reload),
      " ",
      actionButton("Full read now", { "data-sync-now": "full", title: "Read every month from Tally again, not only what changed" }, ask(true), reload),
      " ",
      syncRequestState(companyId, s && s.syncRequest, status.serverTime)
    )
  );
}

/** The latest "sync now": waiting for a connector, or the run it started. */
function syncRequestState(companyId, req, serverTime) {
  if (!req) return null;
  const asked = (req.full ? "full read" : "sync") + " asked " + ago(req.requestedAt, serverTime);
  if (req.status === "pending") return pill("warn", asked + ", waiting for the connector", "It starts at the connector's next heartbeat, quiet hours notwithstanding");
  if (req.status === "started" && req.syncRunId) return h("span", { "data-sync-request": req.status }, asked + ": ", h("a", { href: runHref(companyId, req.syncRunId) }, "the run it started"));
  return pill("plain", asked + ": " + req.status);
}
