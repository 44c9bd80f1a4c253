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
        await api(path, { method: "PUT", json: { password: data.get("password") } });
        await reload("Password of " + user.username + " changed; their sessions have ended.");
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
  show(h("h1", {}, "Users and companies"), flash, body);
  const me = (currentUser() || {}).username;
  const load = async (message) => {
    const [users, companies, updates, https] = await Promise.all([api("/users"), api("/companies"), updatesSection(), httpsSection()]);
    flash.textContent = message || "";
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
