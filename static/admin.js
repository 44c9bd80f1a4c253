// The administrator's screens: users (create, disable / enable, reset a password, give staff
// their companies) and companies (create). Staff never see them, and the API refuses them too.
// Uses app.js's helpers, company.js's actionButton and updates.js's sections; loaded after them.
"use strict";

function field(label, input) {
  return h("label", {}, label, input);
}

/** A form whose submit runs `action` with its data; a refusal shows as the API's sentence. */
function adminForm(attrs, children, action) {
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", Object.assign({ class: "admin-form" }, attrs), ...children, error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      await action(new FormData(form));
    } catch (e) {
      const details = (e.details || []).map((d) => h("li", {}, d.path + ": " + d.message));
      error.replaceChildren(e.message, details.length ? h("ul", {}, details) : "");
    } finally {
      if (button) button.disabled = false;
    }
  });
  return form;
}

function companyChecks(companies, chosen, name) {
  if (!companies.length) return h("p", { class: "sub" }, "No companies yet.");
  return h(
    "fieldset",
    { class: "checks" },
    h("legend", {}, "Companies"),
    companies.map((c) =>
      h("label", {}, h("input", { type: "checkbox", name: name, value: c.id, checked: chosen.includes(c.id) }), " " + c.name)
    )
  );
}

function newUserForm(companies, reload) {
  const role = h("select", { name: "role", id: "new-role" }, h("option", { value: "staff" }, "Staff"), h("option", { value: "admin" }, "Administrator"));
  return adminForm(
    { id: "new-user" },
    [
      h("h2", {}, "New user"),
      field("Username", h("input", { name: "username", id: "new-username", autocomplete: "off", required: true })),
      field("Password", h("input", { name: "password", id: "new-password", type: "password", autocomplete: "new-password", required: true })),
      field("Role", role),
      companyChecks(companies, [], "companyIds"),
      h("button", { type: "submit", id: "create-user" }, "Create user"),
    ],
    async (data) => {
      await api("/users", {
        method: "POST",
        json: { username: data.get("username"), password: data.get("password"), role: data.get("role"), companyIds: data.getAll("companyIds") },
      });
      await reload();
    }
  );
}

/** An inline editor under a user's row: a new password, or the staff user's companies. */
function userEditor(user, what, companies, reload) {
  const path = "/users/" + user.id + "/" + what;
  if (what === "password") {
    return adminForm(
      { class: "admin-form inline", "data-edit": "password" },
      [field("New password for " + user.username, h("input", { name: "password", type: "password", autocomplete: "new-password", required: true })), h("button", { type: "submit" }, "Set password")],
      async (data) => {
        const reset = await api(path, { method: "PUT", json: { password: data.get("password") } });
        await reload("Password of " + user.username + " changed; their sessions have ended.", enrolledConnectorsBox(user, reset.enrolledConnectors || []));
      }
    );
  }
  return adminForm(
    { class: "admin-form inline", "data-edit": "companies" },
    [companyChecks(companies, user.companyIds, "companyIds"), h("button", { type: "submit" }, "Save companies")],
    async (data) => {
      await api(path, { method: "PUT", json: { companyIds: data.getAll("companyIds") } });
      await reload();
    }
  );
}

/** After a password reset: the connectors the user enrolled that still work, each with its
 *  revoke button. The reset does not stop them (that would stop the firm's PCs); a reset often
 *  follows a suspected compromise, so the admin looks at each. */
function enrolledConnectorsBox(user, connectors) {
  if (!connectors.length) return null;
  const rows = connectors.map((k) => {
    const name = k.deviceName || k.deviceId;
    const state = h("td", { class: "state" }, pill("warn", "still working"));
    let revoked = false;
    const revoke = actionButton("Revoke", { "data-connector": k.connectorId, class: "action danger" }, async () => {
      if (!confirm("Revoke " + name + " (" + k.companyName + ")? It stops syncing until an administrator restores it and the PC is enrolled again.")) return;
      await api("/connectors/" + encodeURIComponent(k.connectorId) + "/revoke", { method: "POST", json: {} });
      revoked = true;
    }, () => {
      if (!revoked) return;
      state.replaceChildren(pill("plain", "revoked"));
      revoke.remove();
    });
    return h(
      "tr",
      { "data-connector": k.connectorId },
      h("td", {}, name),
      h("td", {}, h("a", { href: "#/c/" + encodeURIComponent(k.companyId) }, k.companyName)),
      h("td", { class: "when" }, indianDate(k.enrolledAt) + " " + clockTime(k.enrolledAt)),
      h("td", { class: "when" }, indianDate(k.lastSeen) + " " + clockTime(k.lastSeen)),
      state,
      h("td", {}, revoke)
    );
  });
  return h(
    "section",
    { class: "enrolled-by", id: "enrolled-by" },
    h("h2", {}, "Connectors " + user.username + " enrolled still work"),
    h("p", {}, "The reset does not stop them. If someone else may have known the old password, revoke every connector here you do not recognise: it stops syncing at once, and its PC must be enrolled again after an administrator restores it."),
    table(["Device", "Company", "Enrolled", "Last seen", "State", ""], rows)
  );
}

function userRow(user, companies, me, reload) {
  const names = user.role === "admin" ? "every company" : user.companyIds.map((id) => (companies.find((c) => c.id === id) || { name: id }).name).join(", ") || "none";
  const editing = h("td", { colspan: 5, class: "editor" });
  const editRow = h("tr", { hidden: true }, editing);
  const edit = (what) => () => {
    const open = !editRow.hidden && editing.dataset.what === what;
    editRow.hidden = open;
    editing.dataset.what = what;
    editing.replaceChildren(open ? "" : userEditor(user, what, companies, reload));
  };
  const toggle = user.disabled ? "enable" : "disable";
  const actions = [
    actionButton(user.disabled ? "Enable" : "Disable", { "data-action": toggle, class: "action" + (user.disabled ? "" : " danger") }, () => api("/users/" + user.id + "/" + toggle, { method: "POST", json: {} }), () => reload()),
    h("button", { type: "button", class: "action", "data-action": "password", onclick: edit("password") }, "Reset password"),
    user.role === "staff" ? h("button", { type: "button", class: "action", "data-action": "companies", onclick: edit("companies") }, "Companies") : null,
  ];
  const row = h(
    "tr",
    { "data-user": user.username },
    h("td", {}, user.username, user.username === me ? h("span", { class: "sub" }, " (you)") : null),
    h("td", {}, user.role === "admin" ? "Administrator" : "Staff"),
    h("td", { class: "companies" }, names),
    h("td", { class: "state" }, user.disabled ? pill("bad", "disabled") : pill("good", "enabled")),
    h("td", { class: "actions" }, actions)
  );
  return [row, editRow];
}

function newCompanyForm(reload) {
  return adminForm(
    { id: "new-company" },
    [
      h("h2", {}, "New company"),
      field("Name", h("input", { name: "name", id: "company-name", autocomplete: "off", required: true })),
      field("Id (optional, made from the name)", h("input", { name: "id", id: "company-id", autocomplete: "off" })),
      h("button", { type: "submit", id: "create-company" }, "Create company"),
    ],
    async (data) => {
      const id = String(data.get("id") || "").trim();
      await api("/companies", { method: "POST", json: id ? { name: data.get("name"), id: id } : { name: data.get("name") } });
      await reload();
    }
  );
}

function companiesTable(companies) {
  const rows = companies.map((c) =>
    h("tr", { "data-company": c.id }, h("td", {}, h("a", { href: "#/c/" + encodeURIComponent(c.id) }, c.name)), h("td", {}, c.id), h("td", {}, c.tallyCompanyName || ""))
  );
  if (!rows.length) rows.push(h("tr", {}, h("td", { colspan: 3 }, "No companies yet.")));
  return table(["Company", "Id", "Tally company"], rows, { id: "admin-companies" });
}

async function adminPage() {
  stopRefresh();
  document.title = "Users and companies · aicfo";
  const body = h("div", {});
  const flash = h("p", { class: "sub", id: "admin-flash", role: "status" });
  const afterReset = h("div", {});
  show(h("h1", {}, "Users and companies"), flash, afterReset, body);
  const me = (currentUser() || {}).username;
  // `resetBox`: what a password reset left working (enrolledConnectorsBox), until the next change.
  const load = async (message, resetBox) => {
    const [users, companies, updates, https] = await Promise.all([api("/users"), api("/companies"), updatesSection(), httpsSection()]);
    flash.textContent = message || "";
    afterReset.replaceChildren(resetBox || "");
    body.replaceChildren(
      h("h2", {}, "Users"),
      table(["User", "Role", "Companies", "State", ""], users.flatMap((u) => userRow(u, companies, me, load)), { id: "users" }),
      h("div", { class: "admin-forms" }, newUserForm(companies, load), newCompanyForm(load)),
      h("h2", {}, "Companies"),
      companiesTable(companies),
      ...updates,
      ...https
    );
  };
  await load();
}
