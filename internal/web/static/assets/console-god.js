// The console's pages for GOD, the appliance's creator: the system
// overview, creating and archiving companies, and the system audit chain.
// Only GOD's navigation has them; the API refuses everyone else anyway.
"use strict";

const VantaGodPages = (() => {
  const { el } = Vanta;
  const P = VantaPages;

  // allCompanies pages through GET /companies (GOD sees every company
  // that is not archived).
  async function allCompanies(ctx) {
    const out = [];
    let cursor = "";
    for (;;) {
      const res = await ctx.api("GET", "/api/v1/companies?limit=100" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
      if (!res.ok) return res;
      out.push(...res.data.items);
      cursor = res.data.next_cursor;
      if (!cursor) return { ok: true, data: out.sort((a, b) => a.company_name.localeCompare(b.company_name)) };
    }
  }

  function uptime(s) {
    if (!s) return "";
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    return (d ? d + " d " : "") + (d || h ? h + " h " : "") + m + " min";
  }

  // toolButtons opens Mongo Express or pgAdmin (the API's proxy at
  // /admin/…): a cookie for GOD's session is set first (it is HttpOnly, so
  // no script here ever holds it), then the tool opens in a new tab. The
  // tab is opened at the click, before the request, so that no popup
  // blocker takes it for an unasked one.
  function toolButtons(services, ctx) {
    const box = P.messageBox("tools-message");
    const tools = [["mongo-express", "Mongo Express", "/admin/mongo/"], ["pgadmin", "pgAdmin", "/admin/pgadmin/"]];
    const row = el("p", { class: "actions", "data-testid": "management-tools" });
    for (const [name, title, path] of tools) {
      const svc = services.find((v) => v.name === name);
      const up = svc && svc.state === "healthy";
      const b = el("button", { type: "button", "data-testid": "open-" + name, disabled: !up,
        title: up ? "Opens in a new tab" : title + " is " + (svc ? svc.state + (svc.reason ? ": " + svc.reason : "") : "not configured"),
        text: "Open " + title });
      b.addEventListener("click", async () => {
        const tab = window.open("about:blank", "_blank");
        const res = await ctx.api("POST", "/api/v1/sys/admin-tools/session");
        if (!res.ok) {
          if (tab) tab.close();
          P.failed(box, title + " could not be opened.", res);
          return;
        }
        if (tab) {
          tab.opener = null;
          tab.location.href = path;
        } else {
          window.location.assign(path);
        }
      });
      row.append(b, " ");
    }
    return el("div", {}, [row, box]);
  }

  // overview: services and their state, the seal, every company with its
  // people and storage, and the allowances in force, from one request
  // (GET /sys/overview): one per company would use up GOD's requests a
  // minute on an appliance with many companies.
  async function overview(root, ctx) {
    const box = P.messageBox("overview-message");
    root.append(box);

    const res = await ctx.api("GET", "/api/v1/sys/overview");
    if (!ctx.live()) return;
    if (!res.ok) {
      P.failed(box, "The overview could not be read.", res);
      return;
    }
    const { seal: s, services, companies, quotas } = res.data;

    root.append(el("h2", { text: "Seal" }));
    root.append(el("dl", { class: "facts", "data-testid": "overview-seal" }, [
      el("dt", { text: "State" }),
      el("dd", {}, [el("span", { class: "badge " + (s.sealed ? "sealed" : "unsealed"), "data-testid": "seal-state",
        text: s.sealed ? "Sealed" : "Unsealed" })]),
      el("dt", { text: "Key version" }), el("dd", { "data-testid": "key-version", text: String(s.key_version) }),
      el("dt", { text: "Custodians" }), el("dd", { text: s.threshold + " of " + s.shares + " shares unseal it" }),
      el("dt", { text: "Key protection" }), el("dd", { text: (s.provider || "software") + (s.memory_locked ? ", memory locked" : "") }),
    ]));

    root.append(el("h2", { text: "Services" }));
    const svc = P.table("overview-services", ["Service", "State", "Up for", "Restarts", "Last exit", "Reason"]);
    root.append(svc.table);
    for (const v of services.services) {
      svc.body.append(el("tr", { "data-testid": "service", "data-service": v.name, "data-state": v.state }, [
        P.td(v.name + (v.engine ? " (" + v.engine + ")" : "")),
        el("td", {}, [el("span", { class: "badge state-" + v.state, text: v.state })]),
        P.td(uptime(v.uptime_s)), P.td(v.restarts), P.td(v.last_exit), P.td(v.reason),
      ]));
    }

    root.append(el("h2", { text: "Management tools" }), toolButtons(services.services, ctx));

    root.append(el("h2", { text: "Companies" }));
    const cos = P.table("overview-companies", ["Company", "KRA PIN", "Status", "People", "Stored", "Storage allowance"]);
    root.append(cos.table);
    if (!companies.length) cos.body.append(el("tr", {}, [P.td("No companies yet.", { colspan: 6 })]));
    for (const c of companies) {
      cos.body.append(el("tr", { "data-testid": "overview-company", "data-company": c.company_id }, [
        P.td(c.company_name, { "data-testid": "overview-company-name" }), P.td(c.tax_id), P.td(c.status),
        P.td(String(c.members), { "data-testid": "overview-company-users" }),
        P.td(P.bytes(c.storage_bytes.used), { "data-testid": "overview-company-storage" }),
        P.td(P.bytes(c.storage_bytes.limit)),
      ]));
    }

    root.append(el("h2", { text: "Allowances" }), el("dl", { class: "facts", "data-testid": "overview-quotas" }, [
      el("dt", { text: "Requests a minute" }), el("dd", { "data-testid": "quota-requests",
        text: quotas.requests_per_minute.per_user + " per person, " + quotas.requests_per_minute.per_company + " per company" }),
      el("dt", { text: "AI requests an hour" }), el("dd", { text: quotas.ai_requests_per_hour + " per company" }),
      el("dt", { text: "Stored documents" }), el("dd", { text: P.bytes(quotas.storage_bytes) + " per company" }),
    ]));
  }

  // companies: create a company, and archive one (the API asks for its
  // exact name, so the form asks for it too).
  async function companies(root, ctx) {
    const box = P.messageBox("companies-message");
    const input = (id, label, attrs, hint) => {
      const i = el("input", Object.assign({ id, type: "text", autocomplete: "off", "data-testid": id, "aria-describedby": id + "-error" }, attrs || {}));
      const err = el("p", { class: "field-error", id: id + "-error", "data-testid": id + "-error" });
      return { i, err, node: el("div", { class: "field" }, [el("label", { for: id, text: label }), i, hint ? el("p", { class: "hint", text: hint }) : "", err]) };
    };
    const name = input("company-new-name", "Name", { maxlength: "200" });
    const tax = input("company-new-tax-id", "KRA PIN", { maxlength: "20", class: "mono" }, "For example P051234567X.");
    const reg = input("company-new-registration", "Registration number (optional)", { maxlength: "100" });
    const email = input("company-new-email", "Email (optional)", { type: "email", maxlength: "254" });
    const submit = el("button", { type: "submit", class: "primary", "data-testid": "company-create", text: "Create the company" });
    const fields = { company_name: name, tax_id: tax, registration_number: reg, email };
    const form = el("form", { class: "narrow-form", novalidate: true, "data-testid": "company-form" }, [name.node, tax.node, reg.node, email.node, el("div", { class: "actions" }, [submit])]);
    const list = P.table("companies-table", ["Company", "KRA PIN", "Status", "Created", ""]);
    root.append(box, el("h2", { text: "Companies on this appliance" }), list.table,
      el("h2", { text: "Create a company" }), form);

    async function load() {
      const res = await allCompanies(ctx);
      if (!ctx.live()) return;
      Vanta.clear(list.body);
      if (!res.ok) {
        P.failed(box, "The companies could not be read.", res);
        return;
      }
      for (const c of res.data) list.body.append(companyRow(c));
      if (!res.data.length) list.body.append(el("tr", {}, [P.td("No companies yet.", { colspan: 5 })]));
    }

    function companyRow(c) {
      const tr = el("tr", { "data-testid": "company-row", "data-company": c.company_id });
      const confirmInput = el("input", { type: "text", autocomplete: "off", "data-testid": "archive-confirm",
        "aria-label": "Type " + c.company_name + " to archive it" });
      const go = el("button", { type: "button", class: "danger solid", "data-testid": "archive-submit", text: "Archive" });
      const cancel = el("button", { type: "button", "data-testid": "archive-cancel", text: "Cancel" });
      const ask = el("div", { class: "confirm-ask", hidden: true }, [
        el("span", { text: "Type the company’s name to archive it. Its people lose access; its data is kept." }), confirmInput, go, cancel]);
      const start = el("button", { type: "button", class: "danger", "data-testid": "archive-start", text: "Archive…" });
      start.addEventListener("click", () => { start.hidden = true; ask.hidden = false; confirmInput.focus(); });
      cancel.addEventListener("click", () => { ask.hidden = true; start.hidden = false; confirmInput.value = ""; start.focus(); });
      go.addEventListener("click", async () => {
        go.disabled = true;
        const res = await ctx.api("DELETE", "/api/v1/companies/" + c.company_id, { confirm: confirmInput.value, purge: false });
        go.disabled = false;
        if (!res.ok) {
          P.failed(box, c.company_name + " was not archived.", res);
          confirmInput.focus();
          return;
        }
        Vanta.message(box, "success", c.company_name + " is archived.", "Its people no longer reach it; its records are kept.", "company_archived");
        tr.remove();
        await Console.refreshMe();
      });
      tr.append(P.td(c.company_name, { "data-testid": "company-row-name" }), P.td(c.tax_id), P.td(c.status), P.td(Vanta.dateTime(c.created_at)),
        el("td", { class: "row-actions" }, [start, ask]));
      return tr;
    }

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      Vanta.message(box);
      for (const f of Object.values(fields)) { f.err.textContent = ""; f.i.removeAttribute("aria-invalid"); }
      const body = { company_name: name.i.value.trim(), tax_id: tax.i.value.trim() };
      if (reg.i.value.trim()) body.registration_number = reg.i.value.trim();
      if (email.i.value.trim()) body.email = email.i.value.trim();
      submit.disabled = true;
      const res = await ctx.api("POST", "/api/v1/companies", body);
      submit.disabled = false;
      if (!res.ok) {
        const f = fields[res.error.field];
        if (f) {
          f.err.textContent = Vanta.capitalise(res.error.message) + ".";
          f.err.dataset.code = res.error.code;
          f.i.setAttribute("aria-invalid", "true");
          f.i.focus();
        } else {
          P.failed(box, "The company was not created.", res);
        }
        return;
      }
      Vanta.message(box, "success", res.data.company_name + " is created.", "Add its first admin from its People page, or invite one.", "company_created");
      form.reset();
      await load();
      await Console.refreshMe();
    });
    await load();
  }

  function systemAudit(root, ctx) {
    return P.audit(root, ctx, {
      path: "/api/v1/sys/audit",
      title: "System audit chain",
      lead: "Sign-ins, the seal, companies created and archived, and refusals outside a company, newest first. Verify the chain to prove no record was changed, removed or reordered.",
    });
  }

  // GOD's pages, in the System group of GOD's navigation.
  const god = ["god"];
  Console.registerView("/console/system", {
    title: "System overview", nav: { group: "system", label: "Overview", order: 0 }, roles: god, render: overview,
  });
  Console.registerView("/console/system/companies", {
    title: "Companies", nav: { group: "system", label: "Companies", order: 10 }, roles: god, render: companies,
  });
  Console.registerView("/console/system/audit", {
    title: "System audit chain", nav: { group: "system", label: "System audit", order: 20 }, roles: god, render: systemAudit,
  });

  return { overview, companies, systemAudit };
})();
