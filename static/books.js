// A month's books as a CFO reads them: the trial balance, P&L and balance sheet, each against
// the previous month or the same month a year before, a chart of a group or ledger over every
// month held, CSV of what is on screen, and closed months that changed after closing.
// Uses app.js's helpers (h, api, indian, drCr, ...); like app.js, builds the DOM with calls only.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const COMPARISONS = [
  ["", "no comparison"],
  ["previous", "previous month"],
  ["year", "same month last year"],
];

/** "₹1,20,000.00" for an amount's size. */
function rupees(amount) {
  return "₹" + indian(amount);
}

/** A change: "+1,20,000.00" or "−20,000.00" (debit positive), blank when none or nothing moved
 * (as Tally leaves a zero blank, so the changes stand out). */
function change(amount) {
  if (amount == null) return "";
  const p = toPaise(amount);
  return p === 0 ? "" : (p > 0 ? "+" : "−") + indian(amount);
}

function seriesHash(id, kind, name) {
  return "#/c/" + encodeURIComponent(id) + "/chart/" + kind + "/" + encodeURIComponent(name);
}

// ---- restated closed months ----

/** "Mar 2026 changed on 14 Nov 2026: 2 ledgers, ₹20,000.00" */
function restatedSentence(monthKey, receivedAt, ledgers, amount) {
  return monthName(monthKey) + " changed on " + indianDate(receivedAt) + ": " + ledgers + (ledgers === 1 ? " ledger, " : " ledgers, ") + rupees(amount);
}

/** "profit ₹20,000.00 lower" for the financial year, or "profit unchanged". */
function profitWords(monthKey, profitChange) {
  const p = toPaise(profitChange);
  const year = financialYear(monthKey) + " profit ";
  if (!p) return year + "unchanged";
  return year + rupees(profitChange) + (p > 0 ? " higher" : " lower");
}

/** The overview's warning pills: closed months a sync changed in the last 90 days. */
function restatedPills(co) {
  return (co.restatedMonths || []).map((r) =>
    h("span", { class: "pill warn restated", title: "A closed month's balances changed after it was first received" }, restatedSentence(r.monthKey, r.receivedAt, r.ledgers, r.amount) + " · " + profitWords(r.monthKey, r.profitChange))
  );
}

/** The company page's list of restated months, each opening to its lines. Loads once, then
 * hands the list to `loaded` (the months table marks those months). */
function restatementsBox(id, loaded) {
  const box = h("section", { id: "restatements" });
  api("/companies/" + encodeURIComponent(id) + "/restatements")
    .then((r) => {
      if (!r.restatements.length) return;
      box.replaceChildren(h("h3", {}, "Closed months changed after closing"), ...r.restatements.map(restatementDetails));
      if (loaded) loaded(r.restatements);
    })
    .catch((e) => box.replaceChildren(h("p", { class: "error" }, e.message)));
  return box;
}

/** Month key -> its restatements, newest first (as the API lists them). */
function restatedByMonth(list) {
  const by = new Map();
  for (const r of list) {
    if (!by.has(r.monthKey)) by.set(r.monthKey, []);
    by.get(r.monthKey).push(r);
  }
  return by;
}

/** On a month's row: "changed 14 Nov 2026", the latest change, with every change in its title. */
function restatedMark(list) {
  if (!list || !list.length) return null;
  const title = list.map((r) => restatedSentence(r.monthKey, r.receivedAt, r.ledgersChanged, r.amount) + ", " + profitWords(r.monthKey, r.profitChange)).join("\n");
  const times = list.length > 1 ? " (" + list.length + " times)" : "";
  return h("span", { class: "pill warn restated-mark", title: title }, "changed after closing, " + indianDate(list[0].receivedAt) + times);
}

/** "FY 2025-26 profit 20,000.00 lower", or nothing when income and expense did not move. */
function profitEffect(r) {
  const p = toPaise(r.profitChange);
  if (!p) return h("span", { class: "summary" }, "profit unchanged");
  return h("span", { class: "summary profit-change" }, financialYear(r.monthKey) + " profit " + indian(r.profitChange) + (p > 0 ? " higher" : " lower"));
}

function restatementDetails(r) {
  const rows = r.lines.map((l) =>
    h("tr", {}, h("td", {}, l.ledgerName), h("td", { class: "num" }, drCr(l.old)), h("td", { class: "num" }, drCr(l.new)), h("td", { class: "num" }, change(l.change)))
  );
  return h(
    "details",
    { class: "restatement" },
    h("summary", {}, pill("warn", restatedSentence(r.monthKey, r.receivedAt, r.ledgersChanged, r.amount)), " ", profitEffect(r)),
    table(["Ledger", { text: "Was", cls: "num" }, { text: "Now", cls: "num" }, { text: "Change", cls: "num" }], rows)
  );
}

// ---- comparing and downloading ----

/** Links choosing the comparison; the current one is named, not linked. */
function compareLinks(id, month, code, compare) {
  const links = COMPARISONS.map(([key, label]) =>
    key === compare
      ? h("strong", {}, label)
      : h("a", { href: "#/c/" + encodeURIComponent(id) + "/" + code + "/" + month + (key ? "/" + key : ""), "data-compare": key || "none" }, label)
  );
  return h("nav", { class: "compare" }, "Compare with: ", ...links.flatMap((l, i) => (i ? [" · ", l] : [l])));
}

/** A "Download CSV" button for the report as shown (the API's `?format=csv`). */
function csvButton(code, path, fallbackName) {
  const button = h("button", { type: "button", class: "csv", id: code + "-csv" }, "Download CSV");
  button.addEventListener("click", () => saveCsv(path, fallbackName, button));
  return button;
}

async function saveCsv(path, fallbackName, button) {
  button.disabled = true;
  try {
    const res = await fetch("/api" + path, { headers: { Authorization: "Bearer " + sessionStorage.getItem(TOKEN_KEY) } });
    if (!res.ok) {
      const body = await res.json().catch(() => null);
      throw new Error(body && body.message ? body.message : "The appliance answered " + res.status + ".");
    }
    const disposition = res.headers.get("Content-Disposition") || "";
    const name = (disposition.match(/filename="([^"]+)"/) || [])[1] || fallbackName;
    const url = URL.createObjectURL(await res.blob());
    const link = h("a", { href: url, download: name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) {
    notice(e.message);
  } finally {
    button.disabled = false;
  }
}

function query(compare, format) {
  const q = [];
  if (compare) q.push("compare=" + compare);
  if (format) q.push("format=" + format);
  return q.length ? "?" + q.join("&") : "";
}

// ---- trial balance ----

function tbCells(id, kind, name, debit, credit, item, compared) {
  const cells = [
    h("td", {}, h("a", { href: seriesHash(id, kind, name), title: "Chart of " + name + " over the months held" }, name)),
    h("td", { class: "num" }, column(debit)),
    h("td", { class: "num" }, column(credit)),
  ];
  if (compared) cells.push(h("td", { class: "num" }, item.compareBalance == null ? "" : drCr(item.compareBalance)), h("td", { class: "num change" }, change(item.change)));
  return cells;
}

function tbRows(id, group, depth, rows, compared) {
  rows.push(h("tr", { class: "group depth" + Math.min(depth, 6) }, tbCells(id, "group", group.name, group.debit, group.credit, group, compared)));
  for (const sub of group.groups) tbRows(id, sub, depth + 1, rows, compared);
  for (const l of group.ledgers) {
    rows.push(h("tr", { class: "ledger depth" + Math.min(depth + 1, 6) }, tbCells(id, "ledger", l.ledgerName, l.debit, l.credit, l, compared)));
  }
  return rows;
}

async function booksTrialBalance(id, month, compare) {
  const head = await reportFrame(id, month, "tb");
  const path = reportUrl(id, month, "trial-balance");
  const tb = await api(path + query(compare));
  const compared = tb.comparedWith && tb.comparedWith.held ? tb.comparedWith.monthKey : null;
  const rows = [];
  for (const g of tb.groups) tbRows(id, g, 0, rows, compared);
  const headCells = ["Particulars", { text: "Debit", cls: "num" }, { text: "Credit", cls: "num" }];
  if (compared) headCells.push({ text: monthName(compared), cls: "num" }, { text: "Change", cls: "num" });
  const totals = [h("td", {}, "Grand total"), h("td", { class: "num", id: "tb-debit" }, indian(tb.debitTotal)), h("td", { class: "num", id: "tb-credit" }, indian(tb.creditTotal))];
  if (compared) totals.push(h("td", {}), h("td", {}));
  const grid = table(headCells, rows, { id: "trial-balance", class: "tb" });
  grid.querySelector("table").append(h("tfoot", {}, h("tr", { class: "total" }, totals)));
  const asOf = "As of " + indianDate(tb.asOfDate) + " · " + financialYear(month) + (tb.closed ? "" : " · month still open");
  const notes = [h("p", { class: "summary" }, asOf, " ", csvButton("tb", path + query(compare, "csv"), id + "-trial-balance-" + month + ".csv"), " ", tb.balanced ? pill("good", "balanced") : pill("warn", "does not balance: differs by " + drCr(tb.difference)))];
  if (tb.comparedWith && !tb.comparedWith.held) notes.push(h("p", { class: "summary", id: "compare-missing" }, monthName(tb.comparedWith.monthKey) + " is not held, so there is nothing to compare with."));
  if (compared) notes.push(h("p", { class: "summary" }, "Balances are closing balances as Tally shows them; income and expense run from the start of the financial year. Change is debit positive."));
  notes.push(h("p", { class: "summary hint" }, "Choose a group or ledger to chart it over every month held."));
  show(...head, compareLinks(id, month, "tb", compare), ...notes, grid);
}

// ---- profit and loss ----

function plAmount(figures, name) {
  if (!figures) return "";
  const g = figures.groups.find((x) => x.name === name);
  return g ? indian(g.amount) : "";
}

function plLines(pl) {
  const month = pl.month;
  const ytd = pl.yearToDate;
  const other = pl.compared ? pl.compared.month : null;
  const all = ytd.groups.concat(month ? month.groups : [], other ? other.groups : []);
  const names = [...new Set(all.map((g) => g.name))];
  const kindOf = (name) => all.find((g) => g.name === name);
  const columns = (f) => [month, ytd].concat(pl.compared ? [other] : []).map(f);
  const line = (name) => {
    const k = kindOf(name);
    const label = (k.nature === "expense" ? "Less: " : "") + name;
    return h("tr", {}, h("td", {}, label), columns((fig) => h("td", { class: "num" }, plAmount(fig, name))));
  };
  const stock = (label, key) => {
    if (ytd[key] == null) return null;
    return h("tr", { class: "stock" }, h("td", {}, label), columns((fig) => h("td", { class: "num" }, fig && fig[key] != null ? indian(fig[key]) : "")));
  };
  const result = (label, key, id) =>
    h("tr", { class: "result" }, h("td", {}, label), columns((fig, i) => h("td", { class: "num", id: id + ["-month", "-ytd", "-compared"][i] }, fig ? signed(fig[key]) : "—")));
  const incomeFirst = (a, b) => (kindOf(a).nature === "income" ? 0 : 1) - (kindOf(b).nature === "income" ? 0 : 1);
  const trading = names.filter((n) => kindOf(n).affectsGrossProfit).sort(incomeFirst);
  const indirect = names.filter((n) => !kindOf(n).affectsGrossProfit).sort(incomeFirst);
  return [
    stock("Less: Opening stock", "openingStock"),
    ...trading.map(line),
    stock("Add: Closing stock", "closingStock"),
    result("Gross profit", "grossProfit", "pl-gross"),
    ...indirect.map(line),
    result("Net profit", "netProfit", "pl-net"),
  ];
}

async function booksProfitLoss(id, month, compare) {
  const head = await reportFrame(id, month, "pl");
  const path = reportUrl(id, month, "profit-and-loss");
  const pl = await api(path + query(compare));
  const headCells = ["Particulars", { text: monthName(month), cls: "num" }, { text: financialYear(pl.yearFrom) + " to date", cls: "num" }];
  if (pl.compared) headCells.push({ text: monthName(pl.compared.monthKey), cls: "num" });
  const grid = table(headCells, plLines(pl), { id: "profit-and-loss", class: "report" });
  const stockNote = pl.yearToDate.openingStock == null ? " No stock was read for this company." : " Stock as Tally values it.";
  const notes = [h("p", { class: "summary" }, "As of " + indianDate(pl.asOfDate) + "." + stockNote + " ", csvButton("pl", path + query(compare, "csv"), id + "-profit-and-loss-" + month + ".csv"))];
  if (pl.monthMissingReason) notes.push(h("p", { class: "summary" }, pl.monthMissingReason));
  if (pl.comparedWith && !pl.comparedWith.held) notes.push(h("p", { class: "summary", id: "compare-missing" }, monthName(pl.comparedWith.monthKey) + " is not held, so there is nothing to compare with."));
  if (pl.compared && pl.compared.monthMissingReason) notes.push(h("p", { class: "summary" }, pl.compared.monthMissingReason));
  show(...head, compareLinks(id, month, "pl", compare), ...notes, grid);
}

// ---- balance sheet ----

/** A side's lines, [label, amount, class], its groups first. */
function bsLines(bs, side) {
  if (side === "liabilities") return bs.liabilities.map((g) => [g.name, g.amount]).concat([["Profit & Loss A/c (this year)", bs.profitAndLoss]]);
  const stock = bs.closingStock == null ? [] : [["of which closing stock", bs.closingStock, "of-which"]];
  return bs.assets.map((g) => [g.name, g.amount]).concat(stock);
}

/** One side, with the compared month's amounts beside it when `other` (a balance sheet) is given. */
function sideOf(title, id, bs, side, other) {
  const lines = bsLines(bs, side);
  const before = other ? bsLines(other, side) : [];
  for (const l of before) if (!lines.some((x) => x[0] === l[0])) lines.push([l[0], null, l[2]]);
  const beside = (label) => {
    const l = before.find((x) => x[0] === label);
    return h("td", { class: "num" }, l ? signed(l[1]) : "");
  };
  const rows = lines.map(([label, amount, cls]) =>
    h("tr", { class: cls || null }, h("td", {}, label), h("td", { class: "num" }, amount == null ? "" : signed(amount)), other ? beside(label) : null)
  );
  const head = [title, { text: other ? monthName(bs.monthKey) : "Amount", cls: "num" }];
  if (other) head.push({ text: monthName(other.monthKey), cls: "num" });
  const t = table(head, rows, { id: id, class: "report" });
  t.classList.add("side");
  const total = (b) => (side === "liabilities" ? b.totalLiabilities : b.totalAssets);
  const totals = [h("td", {}, "Total"), h("td", { class: "num", id: id + "-total" }, signed(total(bs)))];
  if (other) totals.push(h("td", { class: "num", id: id + "-total-compared" }, signed(total(other))));
  t.querySelector("table").append(h("tfoot", {}, h("tr", { class: "total" }, totals)));
  return t;
}

async function booksBalanceSheet(id, month, compare) {
  const head = await reportFrame(id, month, "bs");
  const path = reportUrl(id, month, "balance-sheet");
  const bs = await api(path + query(compare));
  const other = bs.compared || null;
  const sides = h(
    "div",
    { class: "sides" },
    sideOf("Liabilities", "bs-liabilities", bs, "liabilities", other),
    sideOf("Assets", "bs-assets", bs, "assets", other)
  );
  const ok = toPaise(bs.totalLiabilities) === toPaise(bs.totalAssets);
  const csv = csvButton("bs", path + query(compare, "csv"), id + "-balance-sheet-" + month + ".csv");
  const notes = [h("p", { class: "summary" }, "At " + indianDate(bs.asOfDate) + " ", ok ? pill("good", "balances") : pill("warn", "sides differ"), " ", csv)];
  if (bs.comparedWith && !bs.comparedWith.held) notes.push(h("p", { class: "summary", id: "compare-missing" }, monthName(bs.comparedWith.monthKey) + " is not held, so there is nothing to compare with."));
  show(...head, compareLinks(id, month, "bs", compare), ...notes, sides);
}

// ---- a chart of a group or ledger ----

/** A bar chart drawn as SVG: one bar per month, above or below the zero line. `side` is 1 to
 * draw debits upward, -1 to draw credits upward. */
function barChart(points, valueOf, label, side) {
  const width = 720, height = 260, left = 90, bottom = 40, top = 16;
  const values = points.map((p) => (valueOf(p) == null ? null : (side * toPaise(valueOf(p))) / 100));
  const known = values.filter((v) => v != null);
  const max = Math.max(0, ...known), min = Math.min(0, ...known);
  const span = max - min || 1;
  const y = (v) => top + ((max - v) / span) * (height - top - bottom);
  const step = (width - left - 10) / Math.max(points.length, 1);
  const svg = svgEl("svg", { viewBox: "0 0 " + width + " " + height, class: "chart", role: "img", "aria-label": label });
  for (const v of [...new Set([max, 0, min])]) {
    svg.append(svgEl("line", { x1: left, x2: width - 10, y1: y(v), y2: y(v), class: v === 0 ? "axis" : "grid" }));
    svg.append(svgText(left - 6, y(v) + 4, compactRupees(v), "end"));
  }
  points.forEach((p, i) => {
    const v = values[i];
    const x = left + i * step + step * 0.15;
    if (v != null) {
      const debit = side * v >= 0;
      const bar = svgEl("rect", { x: x, width: step * 0.7, y: Math.min(y(v), y(0)), height: Math.max(1, Math.abs(y(v) - y(0))), class: debit ? "bar dr" : "bar cr" });
      bar.append(svgEl("title", {}, monthName(p.monthKey) + ": " + drCr(valueOf(p))));
      svg.append(bar);
    }
    if (points.length <= 13 || i % Math.ceil(points.length / 12) === 0) svg.append(svgText(x + step * 0.35, height - bottom + 16, MONTHS[Number(p.monthKey.slice(5)) - 1] + " " + p.monthKey.slice(2, 4), "middle"));
  });
  return svg;
}

function svgEl(tag, attrs, text) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text != null) el.textContent = text;
  return el;
}

function svgText(x, y, text, anchor) {
  return svgEl("text", { x: x, y: y, "text-anchor": anchor, class: "label" }, text);
}

/** 1234567 -> "12.3 L", 25000000 -> "2.5 Cr": axis labels in lakh and crore. */
function compactRupees(v) {
  const a = Math.abs(v);
  const sign = v < 0 ? "−" : "";
  if (a >= 1e7) return sign + (a / 1e7).toFixed(1) + " Cr";
  if (a >= 1e5) return sign + (a / 1e5).toFixed(1) + " L";
  if (a >= 1e3) return sign + (a / 1e3).toFixed(1) + " K";
  return sign + a.toFixed(0);
}

async function booksChart(id, kind, name) {
  stopRefresh();
  const companyLink = h("a", { href: "#/c/" + encodeURIComponent(id) }, id);
  const crumbs = h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Clients"), " › ", companyLink);
  show(crumbs, h("h1", {}, name), h("p", {}, "Loading…"));
  document.title = name + " over time · aicfo";
  api("/companies")
    .then((all) => {
      const company = all.find((c) => c.id === id);
      if (company) companyLink.textContent = company.name;
    })
    .catch(() => {});
  const s = await api("/companies/" + encodeURIComponent(id) + "/series?" + kind + "=" + encodeURIComponent(name));
  const valueOf = s.revenue ? (p) => p.movement : (p) => p.closing;
  const what = s.revenue ? "each month's own figure (income and expense run from the start of the financial year in Tally)" : "closing balance at each month's end";
  // Draw on the item's usual side: sales and liabilities (credits) grow upward too.
  const total = s.points.reduce((sum, p) => sum + (valueOf(p) == null ? 0 : toPaise(valueOf(p))), 0);
  const side = total < 0 ? -1 : 1;
  const rows = s.points
    .slice()
    .reverse()
    .map((p) => h("tr", {}, h("td", {}, monthName(p.monthKey)), h("td", {}, indianDate(p.asOfDate)), h("td", { class: "num" }, drCr(p.closing)), s.revenue ? h("td", { class: "num" }, p.movement == null ? "—" : drCr(p.movement)) : null));
  const head = ["Month", "As of", { text: "Closing", cls: "num" }];
  if (s.revenue) head.push({ text: "The month alone", cls: "num" });
  show(
    crumbs,
    h("h1", {}, s.name + (s.kind === "group" ? " (group)" : "")),
    h("p", { class: "summary" }, (side > 0 ? "Debit above the line, credit below: " : "Credit above the line, debit below: ") + what + "."),
    h("div", { class: "scroll chart-box", id: "chart" }, barChart(s.points, valueOf, s.name + ", " + what, side)),
    table(head, rows, { id: "series" })
  );
}

/** Routes the books' pages; false when the path is not one of them. */
function booksRoute(parts) {
  if (parts[0] !== "c" || !parts[1]) return false;
  const [, id, page, a, b] = parts;
  const compare = ["previous", "year"].includes(b) ? b : "";
  if (page === "tb" && a) return booksTrialBalance(id, a, compare);
  if (page === "pl" && a) return booksProfitLoss(id, a, compare);
  if (page === "bs" && a) return booksBalanceSheet(id, a, compare);
  if (page === "chart" && (a === "ledger" || a === "group") && b) return booksChart(id, a, b);
  return false;
}
