// Keeping the appliance and its connectors in order, on the page: each connector's version, whether
// it is behind, its last update attempt and (for admins) its own update policy; on the admin screen
// the firm-wide policy, the releases the appliance carries and whether it serves HTTPS (with the
// certificate's fingerprint to compare with the browser's); the last backup on the overview.
// Uses app.js's helpers and company.js's isAdmin / sizeText; loaded after both.
"use strict";

const BACKUP_WARN_MS = 2 * 24 * 3600 * 1000;

/** The release target of a connector from the `os` it enrolled with, as the appliance reads it. */
function releaseTarget(os) {
  const s = String(os || "").toLowerCase();
  if (s.includes("aarch64") || s.includes("arm")) return null;
  if (s.includes("windows")) return "windows";
  if (s.includes("linux")) return "linux";
  return null;
}

/** The version cell: what it runs, and "behind → 0.2.0" when it should run a newer one. */
function versionCell(k) {
  if (!k.behind) return k.appVersion || "";
  return [k.appVersion || "", " ", pill("warn", "behind → " + k.targetVersion, "The appliance offers " + k.targetVersion)];
}

const OUTCOMES = {
  installed: ["good", (v) => "installed " + v],
  failed: ["bad", (v) => "update to " + v + " failed"],
  rolled_back: ["warn", (v) => v + " rolled back"],
};

/** The last update attempt: "update to 0.2.0 failed 26 Nov 2026 15:04", and its sentence below. */
function lastUpdateLine(attempt) {
  if (!attempt) return null;
  const [kind, words] = OUTCOMES[attempt.outcome] || ["plain", (v) => v + " " + attempt.outcome];
  return h(
    "div",
    { class: "last-update" },
    pill(kind, words(attempt.version)),
    " " + indianDate(attempt.at) + " " + clockTime(attempt.at),
    attempt.message ? h("div", { class: "sub" }, attempt.message) : null
  );
}

/** The policy in force, as a pill: firm-wide `paused` wins over a connector's own policy. An
 *  admin's select already shows the connector's own policy: the pill then says only what differs. */
function policyPill(k, own) {
  if (own && policyValue(own) === (k.updatePolicy === "pinned" ? "pinned:" + k.targetVersion : k.updatePolicy)) return null;
  if (own && k.updatePolicy === "paused") return pill("warn", "paused firm-wide");
  if (k.updatePolicy === "paused") return pill("warn", "updates paused");
  if (k.updatePolicy === "pinned") return pill("plain", "pinned to " + (k.targetVersion || "?"));
  if (k.updatePolicy === "auto") return pill("plain", "updates automatic");
  return null;
}

/** What an admin's policy control needs: each connector's own policy and the carried releases. */
async function updateControls(status) {
  if (!isAdmin()) return null;
  const live = status.connectors.filter((k) => !k.revoked);
  const [releases, ...own] = await Promise.all([
    api("/connector/releases"),
    ...live.map((k) => api("/connectors/" + encodeURIComponent(k.connectorId) + "/update-policy")),
  ]);
  const policies = Object.fromEntries(live.map((k, i) => [k.connectorId, own[i]]));
  return { releases: releases.releases, policies: policies };
}

/** "auto", "paused" or "pinned:0.1.0": one select value per choice. */
function policyValue(p) {
  return p.policy === "pinned" ? "pinned:" + p.version : p.policy;
}

/** An admin's select of a connector's own policy; a change is stored at once. */
function policySelect(k, controls, reload) {
  const own = controls && controls.policies[k.connectorId];
  if (!own) return null;
  const target = releaseTarget(k.os);
  const versions = controls.releases.filter((r) => r.target === target).map((r) => r.version);
  if (own.policy === "pinned" && !versions.includes(own.version)) versions.push(own.version);
  const options = [h("option", { value: "auto" }, "Automatic"), h("option", { value: "paused" }, "Paused")].concat(
    versions.map((v) => h("option", { value: "pinned:" + v }, "Pinned to " + v))
  );
  const select = h("select", { class: "policy", "data-connector": k.connectorId, "aria-label": "Update policy of " + (k.deviceName || k.deviceId) }, options);
  select.value = policyValue(own);
  select.addEventListener("change", async () => {
    const [policy, version] = select.value.split(":");
    select.disabled = true;
    try {
      const body = version ? { policy: policy, version: version } : { policy: policy };
      await api("/connectors/" + encodeURIComponent(k.connectorId) + "/update-policy", { method: "PUT", json: body });
      notice("");
    } catch (e) {
      // The API's sentence, then what was wrong with which field.
      notice([e.message].concat((e.details || []).map((d) => d.path + ": " + d.message)).join(" "));
    }
    await reload(true);
  });
  return select;
}

/** The connectors table's update cell: the policy in force, the admin's control, the last attempt. */
function updateCell(k, controls, reload) {
  if (k.revoked) return "";
  const own = controls && controls.policies[k.connectorId];
  return [h("div", { class: "policy-line" }, policySelect(k, controls, reload), policyPill(k, own)), lastUpdateLine(k.lastUpdate)];
}

/** True while an admin is choosing a policy: the refresh waits rather than close the list. */
function choosingPolicy() {
  const el = document.activeElement;
  return !!el && el.matches("select.policy");
}

// ---- the admin screen ----

function firmPolicyForm(current, flash) {
  const select = h(
    "select",
    { id: "firm-update-policy", "aria-label": "Firm-wide connector updates" },
    h("option", { value: "auto" }, "Automatic: every connector moves to the newest release"),
    h("option", { value: "paused" }, "Paused: no connector updates, pinned ones included")
  );
  select.value = current.policy;
  select.addEventListener("change", async () => {
    select.disabled = true;
    try {
      const saved = await api("/settings/connector-updates", { method: "PUT", json: { policy: select.value } });
      select.value = saved.policy;
      flash.textContent = saved.policy === "paused" ? "Connector updates are paused for every client." : "Connectors update automatically again.";
    } catch (e) {
      select.value = current.policy;
      flash.textContent = "";
      notice(e.message);
    } finally {
      select.disabled = false;
    }
  });
  return h("label", { class: "firm-policy" }, "For every client ", select);
}

function releasesTable(releases) {
  const names = { windows: "Windows", linux: "Linux" };
  const rows = releases.map((r) =>
    h("tr", { "data-release": r.file }, h("td", {}, names[r.target] || r.target), h("td", {}, r.version), h("td", {}, r.file), h("td", { class: "num" }, sizeText(r.size)))
  );
  if (!rows.length) rows.push(h("tr", {}, h("td", { colspan: 4 }, "This appliance carries no connector release: connectors are not updated from it.")));
  return table(["System", "Version", "File", { text: "Size", cls: "num" }], rows, { id: "releases" });
}

/** The admin screen's updates part: the firm-wide policy and the releases carried. */
async function updatesSection() {
  const [current, releases] = await Promise.all([api("/settings/connector-updates"), api("/connector/releases")]);
  const flash = h("p", { class: "sub", id: "updates-flash", role: "status" });
  return [
    h("h2", {}, "Connector updates"),
    h("p", { class: "sub" }, "A connector's own policy (pause it, or pin it to a version) is set on its company's page."),
    firmPolicyForm(current, flash),
    flash,
    releasesTable(releases.releases),
  ];
}

/** "abcd…" -> "AB:CD:…", as browsers show a certificate's SHA-256 and the appliance prints it. */
function fingerprint(hex) {
  return (String(hex).toUpperCase().match(/../g) || []).join(":");
}

/** Whether the page's network path is encrypted, and how to check the certificate or turn it on. */
async function httpsSection() {
  const tls = await api("/health/tls");
  const body = tls.enabled
    ? [pill("good", "HTTPS on"), " Compare this SHA-256 fingerprint with the one the browser shows for the certificate: ", h("code", { class: "fingerprint" }, fingerprint(tls.certSha256))]
    : [pill("warn", "plain HTTP"), " Passwords and books cross the office network unencrypted. Start the appliance with AICFO_TLS=auto to serve HTTPS."];
  return [h("h2", {}, "HTTPS"), h("p", { id: "https" }, body)];
}

// ---- the overview ----

/** For admins: when the last backup was taken, or a warning when none is recent. */
function backupLine(ov) {
  if (!isAdmin()) return null;
  const b = ov.lastBackup;
  if (!b) return h("p", { class: "backup warn", id: "backup" }, pill("warn", "no backup taken yet"));
  const old = Date.parse(ov.serverTime) - Date.parse(b.at) > BACKUP_WARN_MS;
  const text = "Last backup " + indianDate(b.at) + " " + clockTime(b.at) + " (" + ago(b.at, ov.serverTime) + "), " + sizeText(b.size);
  return h("p", { class: "backup sub", id: "backup" }, old ? pill("warn", "no backup in the last 2 days") : null, old ? " " : null, text);
}
