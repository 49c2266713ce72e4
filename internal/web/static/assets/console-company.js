// The console's company pages: people and their roles, invitations, the
// role matrix and the company's audit trail. Each page asks the API only
// for what the signed-in person's role may read, and draws a write
// control only where that role may use it: a viewer gets no button that
// would fail. Text from the API is only ever put into the page as text.
"use strict";

const VantaPages = (() => {
  const { el } = Vanta;

  // Who may do what, as the API's company gate enforces it (auth.Matrix).
  // Only used to decide what to draw; the API decides what is allowed.
  const canManage = (role) => role === "god" || role === "admin";

  const roleTitles = { god: "GOD", admin: "Admin", manager: "Manager", user: "User", viewer: "Viewer" };
  const roleTitle = (r) => roleTitles[r] || r;
  const companyRoles = ["admin", "manager", "user", "viewer"];

  // What each action of the matrix means, for people.
  const actionTitles = {
    "company.create": "Create companies",
    "company.archive": "Archive companies",
    "company.update": "Change the company's details",
    "company.read": "See the company",
    "users.manage": "Manage people, roles and invitations",
    "audit.read": "Read and verify the audit trail",
    "ledger.read": "Read the books",
    "ledger.draft": "Draft journal entries",
    "ledger.post": "Post journal entries",
    "ledger.approve": "Approve journal entries",
    "reports.read": "Read reports",
    "documents.read": "Read documents",
    "documents.upload": "Upload documents",
    "documents.approve": "Approve extracted documents",
  };

  // cpath is the API path of the current company's resource p.
  const cpath = (ctx, p) => "/api/v1/companies/" + encodeURIComponent(ctx.company.company_id) + p;

  function messageBox(testid) {
    return el("div", { class: "message", role: "status", "aria-live": "polite", "data-testid": testid, hidden: true });
  }

  // failed shows an API refusal in box, naming the code for tests.
  function failed(box, title, res) {
    Vanta.message(box, "error", title, Vanta.capitalise(res.error.message), res.error.code);
  }

  function table(testid, headers) {
    const body = el("tbody");
    const t = el("table", { class: "grid", "data-testid": testid }, [
      el("thead", {}, [el("tr", {}, headers.map((h) => el("th", { scope: "col", text: h })))]),
      body,
    ]);
    return { table: t, body };
  }

  function td(text, attrs) {
    return el("td", Object.assign({ text: text === undefined || text === null ? "" : String(text) }, attrs || {}));
  }

  function bytes(n) {
    if (typeof n !== "number") return "";
    const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    let v = n;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i === 0 ? String(v) : v.toFixed(1)) + " " + units[i];
  }

  // confirmButton is a button that asks again in place ("Remove? Yes / No")
  // instead of a browser dialog, which a keyboard user and a test both
  // handle like any other control.
  function confirmButton(label, question, testid, onYes) {
    const wrap = el("span", { class: "confirm" });
    const btn = el("button", { type: "button", class: "danger", "data-testid": testid, text: label });
    const ask = el("span", { class: "confirm-ask", hidden: true }, [
      el("span", { text: question + " " }),
    ]);
    const yes = el("button", { type: "button", class: "danger solid", "data-testid": testid + "-yes", text: "Yes" });
    const no = el("button", { type: "button", "data-testid": testid + "-no", text: "No" });
    ask.append(yes, " ", no);
    btn.addEventListener("click", () => { btn.hidden = true; ask.hidden = false; no.focus(); });
    no.addEventListener("click", () => { ask.hidden = true; btn.hidden = false; btn.focus(); });
    yes.addEventListener("click", async () => {
      yes.disabled = no.disabled = true;
      await onYes();
      yes.disabled = no.disabled = false;
      ask.hidden = true;
      btn.hidden = false;
    });
    wrap.append(btn, ask);
    return wrap;
  }

  // ---- People ---------------------------------------------------------

  // people lists the company's members with their roles. An admin (or
  // GOD) changes a role or removes a member in place; anyone else is told
  // who to ask, since the API shows the list to admins only.
  async function people(root, ctx) {
    const box = messageBox("people-message");
    if (!canManage(ctx.role)) {
      root.append(el("p", { class: "lead", "data-testid": "people-readonly",
        text: "Your role here is " + roleTitle(ctx.role) + ". The company’s administrators manage its people and their roles; the role matrix shows what each role may do." }));
      return;
    }
    // A password link is shown once, like an invitation's: the appliance
    // keeps only its hash.
    const link = el("input", { type: "text", class: "mono", readonly: true, "data-testid": "reset-link", "aria-label": "Password link" });
    const copy = el("button", { type: "button", "data-testid": "reset-copy", text: "Copy link" });
    copy.addEventListener("click", async () => {
      copy.textContent = (await Vanta.copyText(link.value)) ? "Copied" : "Copy by hand";
    });
    const made = el("div", { class: "notice success", "data-testid": "reset-made", hidden: true }, [
      el("strong", { "data-testid": "reset-made-title" }),
      el("span", { text: "Send this link to them: it is shown only now, works once, and replaces any earlier link. Their sessions go on until they use it." }),
      el("div", { class: "secret-input" }, [link, copy]),
    ]);
    const showLink = (title, url) => {
      Vanta.message(box);
      made.querySelector("[data-testid=reset-made-title]").textContent = title;
      link.value = url;
      copy.textContent = "Copy link";
      made.hidden = false;
      link.focus();
      link.select();
    };
    root.append(el("p", { class: "lead", text: "Everyone with access to this company, and the role that decides what they may do. Changes take effect at once and are written to the audit trail." }), box, made);
    const { table: t, body } = table("people-table", ["Name", "Email", "Role", "Status", "Second factor", ""]);
    root.append(t);
    const res = await ctx.api("GET", cpath(ctx, "/users"));
    if (!ctx.live()) return;
    if (!res.ok) {
      failed(box, "The people of this company could not be read.", res);
      return;
    }
    for (const m of res.data.items) body.append(personRow(m, ctx, box, showLink));
    if (!res.data.items.length) body.append(el("tr", {}, [td("Nobody yet.", { colspan: 6 })]));
  }

  function personRow(m, ctx, box, showLink) {
    const tr = el("tr", { "data-testid": "person", "data-user": m.id, "data-email": m.email });
    const self = ctx.me && ctx.me.id === m.id;
    const roleCell = el("td");
    const actions = el("td", { class: "row-actions" });
    if (m.is_god || self) {
      // Nobody changes GOD's access through a company, and an admin does
      // not demote or remove themselves by accident from this list.
      roleCell.append(el("span", { class: "badge role", "data-testid": "person-role", text: roleTitle(m.role) }));
      if (self) actions.append(el("span", { class: "hint", text: "you" }));
    } else {
      const label = "Role of " + (m.name || m.email);
      const sel = el("select", { "aria-label": label, "data-testid": "person-role-select" },
        companyRoles.map((r) => el("option", { value: r, text: roleTitle(r), selected: r === m.role })));
      // One change at a time: a select also reports a change when it loses
      // focus (disabled while its change is sent, or put back after a
      // refusal), and that must not send the role again.
      let busy = false;
      sel.addEventListener("change", async () => {
        const want = sel.value;
        if (busy || want === m.role) return;
        busy = true;
        sel.disabled = true;
        const res = await ctx.api("PATCH", cpath(ctx, "/users/" + m.id), { role: want });
        sel.disabled = false;
        busy = false;
        if (!res.ok) {
          sel.value = m.role;
          const title = res.error.code === "totp_not_enrolled"
            ? (m.name || m.email) + " needs a second factor before they can be an admin."
            : "The role of " + (m.name || m.email) + " was not changed.";
          failed(box, title, res);
          return;
        }
        m.role = want;
        tr.dataset.role = want;
        Vanta.message(box, "success", (m.name || m.email) + " is now " + roleTitle(want) + ".", "", "role_changed");
      });
      roleCell.append(sel);
      // A forgotten password: a single-use link with which the member
      // sets a new one (refused when they also belong to a company this
      // admin does not run).
      const reset = el("button", { type: "button", "data-testid": "person-reset", text: "Password link",
        "aria-label": "Password link for " + (m.name || m.email) });
      reset.addEventListener("click", async () => {
        reset.disabled = true;
        const res = await ctx.api("POST", cpath(ctx, "/users/" + m.id + "/password-reset"));
        reset.disabled = false;
        if (!res.ok) {
          failed(box, "No password link was made for " + (m.name || m.email) + ".", res);
          return;
        }
        showLink("A password link for " + (m.name || m.email) + ", until " + Vanta.dateTime(res.data.expires_at) + ".",
          location.origin + res.data.reset_path);
      });
      actions.append(reset, " ");
      actions.append(confirmButton("Remove", "Remove " + (m.name || m.email) + " from this company?", "person-remove", async () => {
        const res = await ctx.api("DELETE", cpath(ctx, "/users/" + m.id));
        if (!res.ok) {
          failed(box, (m.name || m.email) + " was not removed.", res);
          return;
        }
        tr.remove();
        Vanta.message(box, "success", (m.name || m.email) + " no longer has access to this company.", "", "member_removed");
      }));
    }
    tr.dataset.role = m.role;
    tr.append(td(m.name, { "data-testid": "person-name" }), td(m.email, { "data-testid": "person-email" }), roleCell,
      td(m.status), td(m.totp_enrolled ? "enrolled" : "none"), actions);
    return tr;
  }

  // ---- Invitations ----------------------------------------------------

  // invitations: an admin invites a person by email and role, sees the
  // link once, and revokes pending invitations.
  async function invitations(root, ctx) {
    if (!canManage(ctx.role)) {
      root.append(el("p", { class: "lead", "data-testid": "invitations-readonly",
        text: "The company’s administrators invite people. Ask one of them to invite a colleague." }));
      return;
    }
    const box = messageBox("invite-message");
    const email = el("input", { id: "invite-email", type: "email", autocomplete: "off", maxlength: "254", required: true, "data-testid": "invite-email", "aria-describedby": "invite-email-error" });
    const emailErr = el("p", { class: "field-error", id: "invite-email-error", "data-testid": "invite-email-error" });
    const role = el("select", { id: "invite-role", "data-testid": "invite-role" },
      companyRoles.map((r) => el("option", { value: r, text: roleTitle(r), selected: r === "user" })));
    const submit = el("button", { type: "submit", class: "primary", "data-testid": "invite-submit", text: "Invite" });
    const form = el("form", { class: "inline-form", novalidate: true, "data-testid": "invite-form" }, [
      el("div", { class: "field" }, [el("label", { for: "invite-email", text: "Email" }), email, emailErr]),
      el("div", { class: "field" }, [el("label", { for: "invite-role", text: "Role" }), role]),
      el("div", { class: "actions" }, [submit]),
    ]);
    // The link is shown once: the appliance keeps only its hash.
    const link = el("input", { type: "text", class: "mono", readonly: true, "data-testid": "invite-link", "aria-label": "Invitation link" });
    const copy = el("button", { type: "button", "data-testid": "invite-copy", text: "Copy link" });
    const made = el("div", { class: "notice success", "data-testid": "invite-made", hidden: true }, [
      el("strong", { "data-testid": "invite-made-title" }),
      el("span", { text: "Send this link to them: it is shown only now. It works once, for their email only." }),
      el("div", { class: "secret-input" }, [link, copy]),
    ]);
    copy.addEventListener("click", async () => {
      copy.textContent = (await Vanta.copyText(link.value)) ? "Copied" : "Copy by hand";
    });
    const { table: t, body } = table("invitations-table", ["Email", "Role", "Status", "Sent", "Expires", ""]);
    root.append(el("p", { class: "lead", text: "Invite a person by email; they choose their own password when they accept." }),
      form, made, box, el("h2", { text: "Sent invitations" }), t);

    async function load() {
      const res = await ctx.api("GET", cpath(ctx, "/invitations"));
      if (!ctx.live()) return;
      Vanta.clear(body);
      if (!res.ok) {
        failed(box, "The invitations could not be read.", res);
        return;
      }
      // Pending first; the rest are history.
      const items = res.data.items.slice().sort((a, b) => (a.status === "pending" ? 0 : 1) - (b.status === "pending" ? 0 : 1));
      for (const inv of items) body.append(invitationRow(inv, ctx, box));
      if (!items.length) body.append(el("tr", {}, [td("No invitations yet.", { colspan: 6 })]));
    }

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      emailErr.textContent = "";
      email.removeAttribute("aria-invalid");
      Vanta.message(box);
      if (!email.value.trim()) {
        emailErr.textContent = "Enter the email of the person to invite.";
        email.setAttribute("aria-invalid", "true");
        email.focus();
        return;
      }
      submit.disabled = true;
      const res = await ctx.api("POST", cpath(ctx, "/invitations"), { email: email.value.trim(), role: role.value });
      submit.disabled = false;
      if (!res.ok) {
        if (res.error.field === "email" || res.error.code === "already_member") {
          emailErr.textContent = Vanta.capitalise(res.error.message) + ".";
          emailErr.dataset.code = res.error.code;
          email.setAttribute("aria-invalid", "true");
          email.focus();
        } else {
          failed(box, "The invitation was not sent.", res);
        }
        return;
      }
      link.value = res.data.accept_url || (location.origin + res.data.accept_path);
      made.querySelector("[data-testid=invite-made-title]").textContent =
        res.data.invitation.email + " is invited as " + roleTitle(res.data.invitation.role) + ".";
      made.hidden = false;
      copy.textContent = "Copy link";
      email.value = "";
      link.focus();
      link.select();
      await load();
    });
    await load();
  }

  function invitationRow(inv, ctx, box) {
    const tr = el("tr", { "data-testid": "invitation", "data-invitation": inv.id, "data-status": inv.status, "data-email": inv.email });
    const actions = el("td", { class: "row-actions" });
    if (inv.status === "pending") {
      actions.append(confirmButton("Revoke", "Revoke the invitation of " + inv.email + "?", "invitation-revoke", async () => {
        const res = await ctx.api("DELETE", cpath(ctx, "/invitations/" + inv.id));
        if (!res.ok) {
          failed(box, "The invitation was not revoked.", res);
          return;
        }
        tr.dataset.status = "revoked";
        tr.children[2].textContent = "revoked";
        Vanta.clear(actions);
        Vanta.message(box, "success", "The invitation of " + inv.email + " is revoked: its link no longer works.", "", "invitation_revoked");
      }));
    }
    tr.append(td(inv.email), td(roleTitle(inv.role)), td(inv.status, { "data-testid": "invitation-status" }),
      td(Vanta.dateTime(inv.created_at)), td(Vanta.dateTime(inv.expires_at)), actions);
    return tr;
  }

  // ---- Role matrix ----------------------------------------------------

  // roles draws the API's role matrix, with the reader's own role marked.
  async function roles(root, ctx) {
    const box = messageBox("roles-message");
    root.append(el("p", { class: "lead", text: "What each role may do in a company. GOD, the appliance’s creator, may do everything everywhere." }), box);
    const res = await ctx.api("GET", "/api/v1/roles");
    if (!ctx.live()) return;
    if (!res.ok) {
      failed(box, "The role matrix could not be read.", res);
      return;
    }
    const { table: t, body } = table("role-matrix", []);
    const headRow = t.querySelector("thead tr");
    headRow.append(el("th", { scope: "col", text: "Action" }));
    for (const r of res.data.roles) {
      headRow.append(el("th", { scope: "col", class: r === ctx.role ? "mine" : null, "data-role": r,
        text: roleTitle(r) + (r === ctx.role ? " (you)" : "") }));
    }
    for (const a of res.data.actions) {
      const tr = el("tr", { "data-action": a.action }, [
        el("th", { scope: "row" }, [el("span", { text: actionTitles[a.action] || a.action }), " ", el("code", { text: a.action })]),
      ]);
      for (const r of res.data.roles) {
        const yes = a.allowed.includes(r);
        tr.append(el("td", { class: "cell " + (yes ? "yes" : "no") + (r === ctx.role ? " mine" : ""), "data-role": r, "data-allowed": String(yes) }, [
          el("span", { "aria-hidden": "true", text: yes ? "✓" : "—" }),
          el("span", { class: "offscreen", text: yes ? "allowed" : "not allowed" }),
        ]));
      }
      body.append(tr);
    }
    root.append(t);
  }

  // ---- Audit trail ----------------------------------------------------

  // auditOutcomes are the outcomes a record can carry, as the API's
  // outcome filter accepts them (its enum in /api/v1/openapi.json;
  // TestConsolePagesRolesAndAudit checks the two agree).
  const auditOutcomes = ["ok", "denied", "locked_out", "unavailable", "unknown_email", "bad_password", "disabled",
    "god_network", "totp_required", "bad_totp", "totp_replayed", "refresh_reuse", "refresh_invalid", "refresh_expired",
    "password_change_required", "invalid_input"];
  const auditFilterKeys = ["actor", "action", "outcome", "from", "to"];

  // localDay turns a date input's value (the reader's own day) into the
  // instants the API's from and to take: from the day's first instant, to
  // its last microsecond (the API's to includes what it names; records
  // keep microseconds). A value that is no date goes as it is, so the
  // API's answer names the parameter.
  function localDay(value, end) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
    if (!m) return value;
    const [y, mo, d] = [+m[1], +m[2] - 1, +m[3]];
    if (!end) return new Date(y, mo, d).toISOString();
    return new Date(new Date(y, mo, d + 1).getTime() - 1).toISOString().replace(/Z$/, "999Z");
  }

  // audit shows one audit chain, newest first, a page at a time. The
  // filters live in the page's address (so a filtered view can be
  // bookmarked, reloaded and gone back to) and the appliance applies them:
  // applying them opens the same page with the new address.
  async function audit(root, ctx, opts) {
    const base = opts.path;
    const q = ctx.query;
    const box = messageBox("audit-message");
    const verifyBox = el("div", { class: "message", role: "status", "aria-live": "polite", "data-testid": "audit-verify-result", hidden: true });
    const verify = el("button", { type: "button", class: "primary", "data-testid": "audit-verify", text: "Verify the chain" });
    const fActor = el("input", { type: "text", id: "audit-actor", name: "actor", "data-testid": "audit-filter-actor", autocomplete: "off",
      placeholder: "user/…", maxlength: "200", value: q.get("actor") || "" });
    const fAction = el("input", { type: "text", id: "audit-action", name: "action", "data-testid": "audit-filter-action", autocomplete: "off",
      list: "audit-actions", placeholder: "auth.login or auth.", maxlength: "200", "aria-describedby": "audit-action-hint", value: q.get("action") || "" });
    const actionList = el("datalist", { id: "audit-actions" });
    const fOutcome = el("select", { id: "audit-outcome", name: "outcome", "data-testid": "audit-filter-outcome" }, [el("option", { value: "", text: "Any" })]);
    const outcomes = auditOutcomes.slice();
    // An outcome in the address that the list lacks is kept, so the
    // appliance's answer about it shows rather than a silent "Any".
    if (q.get("outcome") && !outcomes.includes(q.get("outcome"))) outcomes.push(q.get("outcome"));
    for (const o of outcomes) fOutcome.append(el("option", { value: o, text: o }));
    fOutcome.value = q.get("outcome") || "";
    const fFrom = el("input", { type: "date", id: "audit-from", name: "from", "data-testid": "audit-filter-from", value: q.get("from") || "" });
    const fTo = el("input", { type: "date", id: "audit-to", name: "to", "data-testid": "audit-filter-to", value: q.get("to") || "" });
    const apply = el("button", { type: "submit", "data-testid": "audit-filter-apply", text: "Apply filters" });
    const clear = el("a", { href: ctx.path, "data-testid": "audit-filter-clear", text: "Clear filters" });
    const field = (id, label, input) => el("div", { class: "field" }, [el("label", { for: id, text: label }), input]);
    const filters = el("form", { class: "filters", "data-testid": "audit-filters", role: "search", "aria-label": "Filter the audit trail" }, [
      field("audit-actor", "Actor", fActor), field("audit-action", "Action", fAction), actionList,
      field("audit-outcome", "Outcome", fOutcome), field("audit-from", "From", fFrom), field("audit-to", "To", fTo),
      el("div", { class: "actions" }, [apply, clear]),
    ]);
    const hint = el("p", { class: "hint", id: "audit-action-hint",
      text: "An action ending in a dot (auth.) matches every action it begins; dates are your own days." });
    const count = el("p", { class: "hint", "data-testid": "audit-count", "aria-live": "polite" });
    const more = el("button", { type: "button", "data-testid": "audit-more", text: "Load older records", hidden: true });
    const { table: t, body } = table("audit-table", ["#", "When", "Actor", "Role", "Action", "Resource", "Outcome", "Details"]);
    root.append(el("p", { class: "lead", text: opts.lead }),
      el("div", { class: "actions" }, [verify]), verifyBox, box, filters, hint, count, el("div", { class: "scroll" }, [t]), more);

    // The filters of this address, as the page has them and as the API
    // takes them.
    const shownFilters = new URLSearchParams();
    const apiFilters = new URLSearchParams();
    for (const k of auditFilterKeys) {
      const v = q.get(k);
      if (!v) continue;
      shownFilters.set(k, v);
      apiFilters.set(k, k === "from" || k === "to" ? localDay(v, k === "to") : v);
    }
    const filtered = auditFilterKeys.some((k) => shownFilters.has(k));
    let loaded = 0;
    let cursor = "";

    function show(items) {
      for (const r of items) {
        body.append(el("tr", { "data-testid": "audit-record", "data-seq": r.seq, "data-action": r.action, "data-outcome": r.outcome }, [
          td(r.seq), td(Vanta.dateTime(r.at)), td(r.actor, { class: "mono" }), td(r.role), td(r.action), td(r.resource, { class: "mono" }),
          td(r.outcome, { class: "outcome " + r.outcome }), td(r.details, { class: "mono details" }),
        ]));
      }
      loaded += items.length;
      count.textContent = Vanta.plural(loaded, "record", "records") + (filtered ? " matching the filters" : "") + " shown" +
        (cursor ? " (older ones not loaded yet)." : ".");
      // The filters this listing was read with: a hook for tests, which
      // wait for the listing of the address they opened.
      count.dataset.filters = shownFilters.toString();
    }

    function learn(items) {
      const actions = new Set([...actionList.options].map((o) => o.value));
      for (const r of items) {
        if (!actions.has(r.action)) { actions.add(r.action); actionList.append(el("option", { value: r.action })); }
      }
    }

    async function load() {
      more.disabled = true;
      const params = new URLSearchParams(apiFilters);
      params.set("limit", "100");
      if (cursor) params.set("cursor", cursor);
      const res = await ctx.api("GET", base + "?" + params.toString());
      if (!ctx.live()) return;
      more.disabled = false;
      if (!res.ok) {
        failed(box, "The audit trail could not be read.", res);
        const bad = res.error && { actor: fActor, action: fAction, outcome: fOutcome, from: fFrom, to: fTo }[res.error.field];
        if (bad) bad.setAttribute("aria-invalid", "true");
        return;
      }
      cursor = res.data.next_cursor || "";
      more.hidden = !cursor;
      learn(res.data.items);
      show(res.data.items);
    }

    filters.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const next = new URLSearchParams();
      for (const [k, f] of [["actor", fActor], ["action", fAction], ["outcome", fOutcome], ["from", fFrom], ["to", fTo]]) {
        const v = f.value.trim();
        if (v) next.set(k, v);
      }
      const s = next.toString();
      ctx.navigate(ctx.path + (s ? "?" + s : ""));
    });
    more.addEventListener("click", load);
    verify.addEventListener("click", async () => {
      verify.disabled = true;
      Vanta.message(verifyBox, "info", "Verifying…", "", "verifying");
      const res = await ctx.api("GET", base + "/verify");
      if (!ctx.live()) return;
      verify.disabled = false;
      if (!res.ok) {
        failed(verifyBox, "The chain could not be verified.", res);
        return;
      }
      const v = res.data;
      if (v.ok) {
        Vanta.message(verifyBox, "success", "The chain is intact.",
          Vanta.plural(v.records, "record", "records") + " checked: none was changed, removed or reordered.", "audit_intact");
      } else {
        Vanta.message(verifyBox, "error", "The chain is broken.",
          (v.first_bad_seq ? "The first bad record is #" + v.first_bad_seq + ". " : "") + Vanta.capitalise(v.reason || "") +
          " (" + Vanta.plural(v.records || 0, "record", "records") + " checked.)", "audit_broken");
      }
    });
    await load();
  }

  // ---- The company page -------------------------------------------------

  // overview is the company's front page: its details, the reader's role,
  // and its allowances. Every member may read it.
  async function overview(root, ctx) {
    const box = messageBox("company-message");
    root.append(box);
    const [co, quota] = await Promise.all([ctx.api("GET", cpath(ctx, "")), ctx.api("GET", cpath(ctx, "/quota"))]);
    if (!ctx.live()) return;
    if (!co.ok) {
      failed(box, "The company could not be read.", co);
      return;
    }
    const c = co.data;
    const facts = el("dl", { class: "facts", "data-testid": "company-facts" });
    const fact = (k, v, testid) => { if (v) facts.append(el("dt", { text: k }), el("dd", { "data-testid": testid, text: v })); };
    fact("Your role", roleTitle(ctx.role), "company-role");
    fact("Name", c.company_name, "company-name");
    fact("KRA PIN", c.tax_id, "company-tax-id");
    fact("Registration number", c.registration_number);
    fact("Industry", c.industry);
    fact("Address", c.address);
    fact("Phone", c.phone);
    fact("Email", c.email);
    fact("Currency", c.settings && c.settings.currency);
    fact("Time zone", c.settings && c.settings.timezone);
    fact("Status", c.status, "company-status");
    root.append(facts);
    if (quota.ok) {
      const q = quota.data;
      root.append(el("h2", { text: "Allowances" }), el("dl", { class: "facts", "data-testid": "company-quota" }, [
        el("dt", { text: "Stored documents" }), el("dd", { text: bytes(q.storage_bytes.used) + " of " + bytes(q.storage_bytes.limit) }),
        el("dt", { text: "Requests a minute" }), el("dd", { text: q.requests_per_minute.per_user + " per person, " + q.requests_per_minute.per_company + " for the company" }),
        el("dt", { text: "AI requests an hour" }), el("dd", { text: String(q.ai_requests_per_hour) }),
      ]));
    }
  }

  function companyAudit(root, ctx) {
    if (!canManage(ctx.role)) {
      root.append(el("p", { class: "lead", "data-testid": "audit-readonly",
        text: "The company’s administrators read and verify its audit trail." }));
      return Promise.resolve();
    }
    return audit(root, ctx, {
      path: cpath(ctx, "/audit"),
      title: "Audit trail",
      lead: "Everything done in this company, newest first. Each record is chained to the one before it, so a change, removal or reordering breaks the chain: verify it at any time.",
    });
  }

  // The company pages, before the Books, Documents and Reports slots (50+).
  // People, invitations and the audit trail are for the company's admins
  // (and GOD): the shell leaves them out of other roles' navigation, and
  // the API refuses those roles anyway. Details and roles are read-only
  // and open to every member.
  const managers = ["admin", "god"];
  Console.registerView("/console/c/:company/details", {
    title: "Company details", nav: { group: "company", label: "Details", order: 10 }, render: overview,
  });
  Console.registerView("/console/c/:company/people", {
    title: "People and roles", nav: { group: "company", label: "People", order: 20 }, roles: managers, render: people,
  });
  Console.registerView("/console/c/:company/invitations", {
    title: "Invitations", nav: { group: "company", label: "Invitations", order: 25 }, roles: managers, render: invitations,
  });
  Console.registerView("/console/c/:company/roles", {
    title: "Roles", nav: { group: "company", label: "Roles", order: 30 }, render: roles,
  });
  Console.registerView("/console/c/:company/audit", {
    title: "Audit trail", nav: { group: "company", label: "Audit trail", order: 40 }, roles: managers, render: companyAudit,
  });

  return { audit, canManage, roleTitle, messageBox, failed, table, td, bytes, confirmButton };
})();
