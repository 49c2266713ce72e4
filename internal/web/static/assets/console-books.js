// The console's books pages for one company: the chart of accounts, the
// journal (list, entry, new entry), reports with their CSV, contacts,
// invoices and bills, and imports. Like the company pages, each page asks
// the API only for what every member may read and draws a write control
// only for a role the API would let use it (auth.Matrix: ledger.draft for
// users and up, ledger.post and ledger.approve for managers and up); the
// API stays the authority.
//
// Money is shown exactly as the API's decimal strings. Where a page adds
// amounts itself (an entry's live totals, an invoice's preview) it adds
// them as integers of minor units (BigInt), never as JavaScript numbers.
//
// Controls that only change what is shown (filters, report dates, CSV
// downloads, "load more") carry data-reads, so that a crawl can tell them
// from controls that change the books.
"use strict";

const VantaBooks = (() => {
  const { el } = Vanta;
  const { messageBox, failed, td, confirmButton } = VantaPages;

  const posters = ["god", "admin", "manager"];
  const drafters = posters.concat(["user"]);
  const canPost = (role) => posters.includes(role);
  const canDraft = (role) => drafters.includes(role);

  const cpath = (ctx, p) => "/api/v1/companies/" + encodeURIComponent(ctx.company.company_id) + p;
  const vpath = (ctx, p) => "/console/c/" + encodeURIComponent(ctx.company.company_id) + p;

  // ---- Decimal strings as integers ------------------------------------

  // dec parses a decimal string ("1,234.50", "-3", ".5") into an integer
  // of units and its scale, or null when it is not a number.
  function dec(s) {
    const m = /^([+-])?(\d*)(?:\.(\d*))?$/.exec(String(s === undefined || s === null ? "" : s).trim().replace(/[,\s_]/g, ""));
    if (!m || (m[2] === "" && !m[3])) return null;
    const frac = m[3] || "";
    let u = BigInt((m[2] || "0") + frac);
    if (m[1] === "-") u = -u;
    return { u, scale: frac.length };
  }

  const pow10 = (n) => 10n ** BigInt(n);
  const atScale = (d, scale) => d.u * pow10(scale - d.scale);

  // fmt writes units at scale as a decimal string with thousands left out
  // (as the API writes them).
  function fmt(u, scale) {
    const neg = u < 0n;
    let s = (neg ? -u : u).toString();
    if (scale > 0) {
      s = s.padStart(scale + 1, "0");
      s = s.slice(0, -scale) + "." + s.slice(-scale);
    }
    return (neg ? "-" : "") + s;
  }

  // sum adds decimal strings at the largest scale among them (at least
  // min), ignoring empty ones; null when one is not a number.
  function sum(values, min) {
    const ds = [];
    for (const v of values) {
      if (v === undefined || v === null || String(v).trim() === "") continue;
      const d = dec(v);
      if (!d) return null;
      ds.push(d);
    }
    const scale = ds.reduce((m, d) => Math.max(m, d.scale), min || 0);
    return { u: ds.reduce((a, d) => a + atScale(d, scale), 0n), scale };
  }

  // divRound divides two BigInts rounding half to even, as the
  // appliance's money package does.
  function divRound(n, d) {
    if (d < 0n) { n = -n; d = -d; }
    const neg = n < 0n;
    const a = neg ? -n : n;
    let q = a / d;
    const r = a % d;
    if (r * 2n > d || (r * 2n === d && q % 2n === 1n)) q += 1n;
    return neg ? -q : q;
  }

  // ---- Small pieces ---------------------------------------------------

  const isAmount = (v) => typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v);
  function amountTd(v, attrs) {
    return el("td", Object.assign({ class: "amount", text: v === undefined || v === null ? "" : String(v) }, attrs || {}));
  }

  function today() {
    const d = new Date();
    return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0");
  }
  const yearStart = () => today().slice(0, 4) + "-01-01";

  function grid(testid, headers) {
    const body = el("tbody");
    const t = el("table", { class: "grid books", "data-testid": testid }, [
      el("thead", {}, [el("tr", {}, headers.map((h) => {
        const amount = typeof h === "object";
        return el("th", { scope: "col", class: amount ? "amount" : null, text: amount ? h.amount : h });
      }))]),
      body,
    ]);
    return { table: t, body, wrap: el("div", { class: "scroll" }, [t]) };
  }

  // field builds a labelled input with an error line under it; the error
  // line is what the API's error.field points at.
  function field(id, label, input, hint) {
    input.id = id;
    const err = el("p", { class: "field-error", id: id + "-error", "data-testid": id + "-error" });
    input.setAttribute("aria-describedby", id + "-error");
    return el("div", { class: "field" }, [el("label", { for: id, text: label }), input, hint ? el("p", { class: "hint", text: hint }) : "", err]);
  }

  // errors manages the error lines of one form: show puts the API's
  // refusal next to the input it names (data-code and data-rule say which
  // refusal for tests), clear empties them all.
  function errors(form) {
    return {
      clear() {
        for (const e of form.querySelectorAll(".field-error")) {
          e.textContent = "";
          delete e.dataset.code;
          delete e.dataset.rule;
        }
        for (const i of form.querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
      },
      show(input, message, code, rule) {
        const err = document.getElementById(input.getAttribute("aria-describedby"));
        if (err) {
          err.textContent = message;
          err.dataset.code = code || "invalid";
          if (rule) err.dataset.rule = rule;
        }
        input.setAttribute("aria-invalid", "true");
        input.focus();
      },
    };
  }

  const sentence = (s) => { const t = Vanta.capitalise(String(s || "")); return /[.!?]$/.test(t) ? t : t + "."; };

  // idempotencyKey makes one key per form: a retried submit of the same
  // form (a lost answer) posts nothing twice.
  function idempotencyKey() {
    if (window.crypto && crypto.randomUUID) return "console:" + crypto.randomUUID();
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return "console:" + [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  }

  // listAll reads every page of a list (limit 1000, the API's most).
  async function listAll(ctx, path) {
    const items = [];
    let cursor = "";
    for (let i = 0; i < 50; i++) {
      const sep = path.includes("?") ? "&" : "?";
      const res = await ctx.api("GET", cpath(ctx, path + sep + "limit=1000" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "")));
      if (!res.ok) return { ok: false, res, items };
      items.push(...(res.data.items || []));
      cursor = res.data.next_cursor || "";
      if (!cursor) break;
    }
    return { ok: true, items };
  }

  const typeOrder = ["asset", "liability", "equity", "income", "expense"];
  const typeTitles = { asset: "Assets", liability: "Liabilities", equity: "Equity", income: "Income", expense: "Expenses" };
  const byCode = (a, b) => String(a.code).localeCompare(String(b.code), undefined, { numeric: true });

  // accountSelect is a picker of accounts grouped by type.
  function accountSelect(accounts, opts) {
    const o = opts || {};
    const sel = el("select", { "data-testid": o.testid || null, "aria-label": o.label || null, "data-reads": o.reads ? "" : null });
    sel.append(el("option", { value: "", text: o.empty || "Choose an account" }));
    for (const type of typeOrder) {
      const list = accounts.filter((a) => a.type === type && (o.all || a.active !== false)).sort(byCode);
      if (!list.length) continue;
      sel.append(el("optgroup", { label: typeTitles[type] }, list.map((a) => el("option", { value: a.code, text: a.code + " " + a.name, selected: o.value === a.code }))));
    }
    return sel;
  }

  const nameOf = (accounts) => {
    const m = new Map(accounts.map((a) => [a.code, a.name]));
    return (code) => (m.has(code) ? code + " " + m.get(code) : code);
  };

  function statusBadge(status) {
    return el("span", { class: "badge status-" + String(status || "").replace(/[^a-z_]/g, ""), "data-testid": "status", text: String(status || "").replace(/_/g, " ") });
  }

  // ---- Chart of accounts ----------------------------------------------

  async function chart(root, ctx) {
    const box = messageBox("accounts-message");
    root.append(el("p", { class: "lead", text: "The company’s accounts by type. An account that has postings can be deactivated, never deleted: its history stays in the books." }), box);
    const holder = el("div", { "data-testid": "accounts" });
    let load;
    if (canPost(ctx.role)) root.append(addAccountForm(ctx, box, () => load()));
    root.append(holder);

    load = async () => {
      const got = await listAll(ctx, "/accounts");
      if (!ctx.live()) return;
      holder.replaceChildren();
      if (!got.ok) {
        failed(box, "The chart of accounts could not be read.", got.res);
        return;
      }
      for (const type of typeOrder) {
        const list = got.items.filter((a) => a.type === type).sort(byCode);
        if (!list.length) continue;
        const headers = ["Code", "Name", "Role", "Currency", "Active"];
        if (canPost(ctx.role)) headers.push("");
        const g = grid("accounts-" + type, headers);
        for (const a of list) g.body.append(accountRow(a, ctx, box, load));
        holder.append(el("h2", { text: typeTitles[type] }), g.wrap);
      }
      if (!got.items.length) holder.append(el("p", { class: "hint", text: "No accounts yet." }));
    };
    await load();
  }

  function accountRow(a, ctx, box, reload) {
    const tr = el("tr", { "data-testid": "account", "data-code": a.code, "data-active": String(a.active !== false) }, [
      td(a.code, { class: "mono" }), td(a.name, { "data-testid": "account-name" }), td(a.role || "", { class: "mono" }),
      td(a.currency || "any"), td(a.active === false ? "no" : "yes", { "data-testid": "account-active" }),
    ]);
    if (!canPost(ctx.role)) return tr;
    const actions = el("td", { class: "row-actions" });
    const patch = async (active) => {
      const res = await ctx.api("PATCH", cpath(ctx, "/accounts/" + encodeURIComponent(a.id)), { active });
      if (!ctx.live()) return;
      if (!res.ok) {
        failed(box, a.code + " " + a.name + " was not " + (active ? "reactivated" : "deactivated") + ".", res);
        return;
      }
      Vanta.message(box, "success", a.code + " " + a.name + (active ? " is active again." : " is deactivated: nothing more can be posted to it."), "", active ? "account_reactivated" : "account_deactivated");
      await reload();
    };
    if (a.active !== false) {
      actions.append(confirmButton("Deactivate", "Deactivate " + a.code + " " + a.name + "?", "account-deactivate", () => patch(false)));
    } else {
      const again = el("button", { type: "button", "data-testid": "account-reactivate", text: "Reactivate", "aria-label": "Reactivate " + a.code + " " + a.name });
      again.addEventListener("click", () => patch(true));
      actions.append(again);
    }
    tr.append(actions);
    return tr;
  }

  function addAccountForm(ctx, box, reload) {
    const code = el("input", { type: "text", maxlength: "40", autocomplete: "off", required: true, "data-testid": "account-new-code", class: "mono" });
    const name = el("input", { type: "text", maxlength: "200", autocomplete: "off", required: true, "data-testid": "account-new-name" });
    const type = el("select", { "data-testid": "account-new-type" }, typeOrder.map((t) => el("option", { value: t, text: typeTitles[t] })));
    const currency = el("input", { type: "text", maxlength: "12", autocomplete: "off", placeholder: "any", "data-testid": "account-new-currency", class: "mono" });
    const submit = el("button", { type: "submit", class: "primary", "data-testid": "account-create", text: "Add account" });
    const form = el("form", { class: "inline-form books-form", novalidate: true, "data-testid": "account-form" }, [
      field("account-new-code", "Code", code), field("account-new-name", "Name", name), field("account-new-type", "Type", type),
      field("account-new-currency", "Currency", currency), el("div", { class: "actions" }, [submit]),
    ]);
    const errs = errors(form);
    const inputs = { code, name, type, currency };
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      errs.clear();
      Vanta.message(box);
      if (!code.value.trim()) return errs.show(code, "Enter the account’s code.", "required");
      if (!name.value.trim()) return errs.show(name, "Enter the account’s name.", "required");
      const body = { code: code.value.trim(), name: name.value.trim(), type: type.value };
      if (currency.value.trim()) body.currency = currency.value.trim().toUpperCase();
      submit.disabled = true;
      const res = await ctx.api("POST", cpath(ctx, "/accounts"), body);
      submit.disabled = false;
      if (!ctx.live()) return;
      if (!res.ok) {
        const input = inputs[res.error.field];
        if (input) errs.show(input, sentence(res.error.message), res.error.code, res.error.rule);
        else failed(box, "The account was not added.", res);
        return;
      }
      Vanta.message(box, "success", body.code + " " + body.name + " is added.", "", "account_created");
      code.value = name.value = currency.value = "";
      await reload();
    });
    return form;
  }

  // ---- Journal ----------------------------------------------------------

  const journalFilterKeys = ["status", "from", "to", "account", "source"];

  async function journal(root, ctx) {
    const q = ctx.query;
    const box = messageBox("journal-message");
    const accounts = await listAll(ctx, "/accounts");
    if (!ctx.live()) return;
    const fStatus = el("select", { "data-testid": "journal-filter-status", "data-reads": "" },
      [["", "Any"], ["draft", "Draft"], ["posted", "Posted"]].map(([v, t]) => el("option", { value: v, text: t, selected: q.get("status") === v })));
    const fFrom = el("input", { type: "date", "data-testid": "journal-filter-from", "data-reads": "", value: q.get("from") || "" });
    const fTo = el("input", { type: "date", "data-testid": "journal-filter-to", "data-reads": "", value: q.get("to") || "" });
    const fAccount = accountSelect(accounts.items || [], { testid: "journal-filter-account", empty: "Any account", all: true, reads: true, value: q.get("account") || "" });
    const filters = el("form", { class: "filters", role: "search", "aria-label": "Filter the journal", "data-testid": "journal-filters", "data-reads": "" }, [
      field("journal-status", "Status", fStatus), field("journal-from", "From", fFrom), field("journal-to", "To", fTo),
      field("journal-account", "Account", fAccount),
      el("div", { class: "actions" }, [el("button", { type: "submit", "data-reads": "", "data-testid": "journal-filter-apply", text: "Apply filters" }),
        el("a", { href: ctx.path, "data-testid": "journal-filter-clear", text: "Clear filters" })]),
    ]);
    const top = el("div", { class: "actions" });
    if (canDraft(ctx.role)) top.append(el("a", { class: "button primary", href: vpath(ctx, "/journal/new"), "data-testid": "journal-new", text: "New entry" }));
    const names = nameOf(accounts.items || []);
    const g = grid("journal-table", ["No.", "Date", "Description", "Reference", "Accounts", "Source", "Status", { amount: "Amount" }]);
    const count = el("p", { class: "hint", "data-testid": "journal-count", "aria-live": "polite" });
    const more = el("button", { type: "button", "data-reads": "", "data-testid": "journal-more", text: "Load more entries", hidden: true });
    root.append(el("p", { class: "lead", text: "Journal entries, newest first. Drafts can be changed until a manager approves them; posted entries never change, a reversal undoes them." }),
      top, box, filters, count, g.wrap, more);
    if (!accounts.ok) failed(box, "The accounts could not be read.", accounts.res);

    const params = new URLSearchParams();
    for (const k of journalFilterKeys) if (q.get(k)) params.set(k, q.get(k));
    let cursor = "";
    let shown = 0;
    async function load() {
      more.disabled = true;
      const p = new URLSearchParams(params);
      p.set("limit", "50");
      if (cursor) p.set("cursor", cursor);
      const res = await ctx.api("GET", cpath(ctx, "/journal-entries?" + p.toString()));
      if (!ctx.live()) return;
      more.disabled = false;
      if (!res.ok) {
        failed(box, "The journal could not be read.", res);
        const bad = { status: fStatus, from: fFrom, to: fTo, account: fAccount }[res.error.field];
        if (bad) bad.setAttribute("aria-invalid", "true");
        return;
      }
      for (const e of res.data.items || []) {
        const lines = e.lines || [];
        const total = sum(lines.map((l) => l.base_debit || l.debit || ""), 0);
        const accts = [...new Set(lines.map((l) => l.account))];
        g.body.append(el("tr", { "data-testid": "journal-entry", "data-entry": e.id, "data-status": e.status, "data-number": e.number || "" }, [
          td(e.number || "—", { class: "mono" }), td(e.date),
          el("td", {}, [el("a", { href: vpath(ctx, "/journal/" + encodeURIComponent(e.id)), "data-testid": "journal-entry-link", text: e.description || "(no description)" })]),
          td(e.reference || ""), td(accts.map(names).join(", "), { class: "small" }), td(e.source || ""),
          el("td", {}, [statusBadge(e.status)]), amountTd(total && lines.length ? fmt(total.u, total.scale) : "", { "data-testid": "journal-entry-amount" }),
        ]));
        shown++;
      }
      cursor = res.data.next_cursor || "";
      more.hidden = !cursor;
      count.textContent = Vanta.plural(shown, "entry", "entries") + " shown" + (cursor ? " (older ones not loaded yet)." : ".");
      count.dataset.filters = params.toString();
    }
    filters.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const next = new URLSearchParams();
      for (const [k, f] of [["status", fStatus], ["from", fFrom], ["to", fTo], ["account", fAccount]]) if (f.value) next.set(k, f.value);
      const s = next.toString();
      ctx.navigate(ctx.path + (s ? "?" + s : ""));
    });
    more.addEventListener("click", load);
    await load();
  }

  // entry shows one journal entry, its lines and who did what to it, with
  // the actions its state and the reader's role allow.
  async function entry(root, ctx) {
    const box = messageBox("entry-message");
    root.append(box);
    const [res, accounts] = await Promise.all([
      ctx.api("GET", cpath(ctx, "/journal-entries/" + encodeURIComponent(ctx.params.entry))),
      listAll(ctx, "/accounts"),
    ]);
    if (!ctx.live()) return;
    if (!res.ok) {
      failed(box, "The entry could not be read.", res);
      return;
    }
    const e = res.data;
    ctx.setTitle("Journal entry " + (e.number ? "#" + e.number : "(draft)"));
    const names = nameOf(accounts.items || []);
    const facts = el("dl", { class: "facts", "data-testid": "entry-facts", "data-status": e.status });
    const fact = (k, v, testid, link) => {
      if (v === undefined || v === null || v === "") return;
      facts.append(el("dt", { text: k }), el("dd", { "data-testid": testid || null }, [link ? el("a", { href: link, text: String(v) }) : String(v)]));
    };
    fact("Status", e.status, "entry-status");
    fact("Number", e.number, "entry-number");
    fact("Date", e.date, "entry-date");
    fact("Description", e.description, "entry-description");
    fact("Reference", e.reference, "entry-reference");
    fact("Source", e.source, "entry-source");
    fact("Created", [e.created_by, e.created_at ? Vanta.dateTime(e.created_at) : ""].filter(Boolean).join(", "), "entry-created");
    fact("Approved", [e.approved_by, e.approved_at ? Vanta.dateTime(e.approved_at) : ""].filter(Boolean).join(", "), "entry-approved");
    fact("Posted", [e.posted_by, e.posted_at ? Vanta.dateTime(e.posted_at) : ""].filter(Boolean).join(", "), "entry-posted");
    if (e.reversed_by_user || e.reversed_at) fact("Reversed", [e.reversed_by_user, e.reversed_at ? Vanta.dateTime(e.reversed_at) : ""].filter(Boolean).join(", "), "entry-reversed-at");
    if (e.reverses) fact("Reverses", "the entry it undoes", "entry-reverses", vpath(ctx, "/journal/" + encodeURIComponent(e.reverses)));
    if (e.reversed_by) fact("Reversed by", "its reversal", "entry-reversed-by", vpath(ctx, "/journal/" + encodeURIComponent(e.reversed_by)));
    root.append(facts);

    const g = grid("entry-lines", ["#", "Account", "Memo", { amount: "Debit" }, { amount: "Credit" }, "Currency", { amount: "Rate" }, { amount: "Base debit" }, { amount: "Base credit" }]);
    (e.lines || []).forEach((l, i) => {
      g.body.append(el("tr", { "data-testid": "entry-line", "data-account": l.account }, [
        td(i + 1), td(names(l.account)), td(l.memo || ""), amountTd(l.debit || "", { "data-testid": "line-debit" }), amountTd(l.credit || "", { "data-testid": "line-credit" }),
        td(l.currency || ""), amountTd(l.rate || ""), amountTd(l.base_debit || ""), amountTd(l.base_credit || ""),
      ]));
    });
    const dt = sum((e.lines || []).map((l) => l.base_debit || l.debit || ""), 0);
    const ct = sum((e.lines || []).map((l) => l.base_credit || l.credit || ""), 0);
    if (dt && ct) {
      g.table.append(el("tfoot", {}, [el("tr", {}, [el("th", { scope: "row", colspan: "7", text: "Totals" }),
        amountTd(fmt(dt.u, dt.scale), { "data-testid": "entry-total-debit" }), amountTd(fmt(ct.u, ct.scale), { "data-testid": "entry-total-credit" })])]));
    }
    root.append(el("h2", { text: "Lines" }), g.wrap);

    const actions = el("div", { class: "actions", "data-testid": "entry-actions" });
    if (e.status === "draft" && canPost(ctx.role)) {
      const approve = el("button", { type: "button", class: "primary", "data-testid": "entry-approve", text: "Approve and post" });
      approve.addEventListener("click", async () => {
        approve.disabled = true;
        const r = await ctx.api("POST", cpath(ctx, "/journal-entries/" + encodeURIComponent(e.id) + "/approve"));
        approve.disabled = false;
        if (!ctx.live()) return;
        if (!r.ok) return failed(box, "The entry was not approved.", r);
        ctx.navigate(ctx.path);
      });
      actions.append(approve);
    }
    if (e.status === "draft" && canDraft(ctx.role)) {
      actions.append(confirmButton("Delete draft", "Delete this draft?", "entry-delete", async () => {
        const r = await ctx.api("DELETE", cpath(ctx, "/journal-entries/" + encodeURIComponent(e.id)));
        if (!ctx.live()) return;
        if (!r.ok) return failed(box, "The draft was not deleted.", r);
        ctx.navigate(vpath(ctx, "/journal"));
      }));
    }
    if (actions.childNodes.length) root.append(actions);
    if (e.status === "posted" && !e.reversed_by && canPost(ctx.role)) root.append(reverseForm(ctx, e, box));
  }

  function reverseForm(ctx, e, box) {
    const date = el("input", { type: "date", required: true, value: today(), "data-testid": "reverse-date" });
    const desc = el("input", { type: "text", maxlength: "500", value: "Reversal of " + (e.number ? "#" + e.number : "") + (e.description ? " " + e.description : ""), "data-testid": "reverse-description" });
    const submit = el("button", { type: "submit", class: "danger", "data-testid": "reverse-submit", text: "Reverse this entry" });
    const form = el("form", { class: "inline-form books-form", novalidate: true, "data-testid": "reverse-form" }, [
      field("reverse-date", "Reversal date", date), field("reverse-description", "Description", desc), el("div", { class: "actions" }, [submit]),
    ]);
    const errs = errors(form);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      errs.clear();
      Vanta.message(box);
      if (!date.value) return errs.show(date, "Choose the date the reversal is posted on.", "required");
      submit.disabled = true;
      const r = await ctx.api("POST", cpath(ctx, "/journal-entries/" + encodeURIComponent(e.id) + "/reverse"), { date: date.value, description: desc.value.trim() });
      submit.disabled = false;
      if (!ctx.live()) return;
      if (!r.ok) {
        if (r.error.field === "date" || r.error.rule === "period_locked") errs.show(date, sentence(r.error.message), r.error.code, r.error.rule);
        else if (r.error.field === "description") errs.show(desc, sentence(r.error.message), r.error.code, r.error.rule);
        else failed(box, "The entry was not reversed.", r);
        return;
      }
      ctx.navigate(vpath(ctx, "/journal/" + encodeURIComponent(r.data.id)));
    });
    return el("section", { class: "card-section" }, [el("h2", { text: "Reverse" }),
      el("p", { class: "hint", text: "A posted entry never changes. Reversing posts its mirror image on the date you choose, linked to it." }), form]);
  }

  // newEntry is the form for a manual entry: lines with debit or credit as
  // decimal strings, live totals added as integers, refused here when
  // unbalanced, and the appliance's refusals shown next to what they name.
  async function newEntry(root, ctx) {
    const box = messageBox("entry-form-message");
    const accounts = await listAll(ctx, "/accounts");
    if (!ctx.live()) return;
    if (!accounts.ok) {
      root.append(box);
      failed(box, "The accounts could not be read.", accounts.res);
      return;
    }
    const key = idempotencyKey();
    const date = el("input", { type: "date", required: true, value: today(), "data-testid": "entry-date" });
    const description = el("input", { type: "text", maxlength: "500", autocomplete: "off", "data-testid": "entry-description" });
    const reference = el("input", { type: "text", maxlength: "200", autocomplete: "off", "data-testid": "entry-reference" });
    const g = grid("entry-form-lines", ["#", "Account", "Memo", { amount: "Debit" }, { amount: "Credit" }, ""]);
    const totalDebit = el("td", { class: "amount", "data-testid": "entry-debits" });
    const totalCredit = el("td", { class: "amount", "data-testid": "entry-credits" });
    g.table.append(el("tfoot", {}, [el("tr", {}, [el("th", { scope: "row", colspan: "3", text: "Totals" }), totalDebit, totalCredit, el("td")])]));
    const balance = el("p", { class: "balance", role: "status", "aria-live": "polite", tabindex: "-1", "data-testid": "entry-balance" });
    const addLine = el("button", { type: "button", "data-testid": "entry-add-line", text: "Add a line" });
    const draft = el("button", { type: "submit", value: "draft", "data-testid": "entry-save-draft", text: "Save as draft" });
    const post = canPost(ctx.role) ? el("button", { type: "submit", value: "posted", class: "primary", "data-testid": "entry-post", text: "Post" }) : null;
    const form = el("form", { class: "entry-form", novalidate: true, "data-testid": "entry-form" }, [
      el("div", { class: "entry-head" }, [field("entry-date", "Date", date), field("entry-description", "Description", description), field("entry-reference", "Reference", reference)]),
      g.wrap, el("div", { class: "actions" }, [addLine]), balance, box,
      el("div", { class: "actions" }, [draft].concat(post ? [post] : [])),
    ]);
    root.append(el("p", { class: "lead", text: canPost(ctx.role)
      ? "Each line is a debit or a credit to one account; debits must equal credits. Save it as a draft for someone to check, or post it now."
      : "Each line is a debit or a credit to one account; debits must equal credits. Your entry is saved as a draft, which a manager approves." }), form);
    const errs = errors(form);
    const rows = [];

    function renumber() {
      rows.forEach((r, i) => {
        r.tr.dataset.line = String(i);
        r.no.textContent = String(i + 1);
        r.account.setAttribute("aria-label", "Account of line " + (i + 1));
        r.memo.setAttribute("aria-label", "Memo of line " + (i + 1));
        r.debit.setAttribute("aria-label", "Debit of line " + (i + 1));
        r.credit.setAttribute("aria-label", "Credit of line " + (i + 1));
        r.remove.setAttribute("aria-label", "Remove line " + (i + 1));
        r.remove.disabled = rows.length <= 2;
      });
    }

    function line() {
      const id = "entry-line-" + Math.random().toString(36).slice(2, 10);
      const account = accountSelect(accounts.items, { testid: "line-account" });
      const memo = el("input", { type: "text", maxlength: "500", autocomplete: "off", "data-testid": "line-memo" });
      const debit = el("input", { type: "text", inputmode: "decimal", autocomplete: "off", class: "amount", "data-testid": "line-debit", placeholder: "0.00" });
      const credit = el("input", { type: "text", inputmode: "decimal", autocomplete: "off", class: "amount", "data-testid": "line-credit", placeholder: "0.00" });
      const err = el("p", { class: "field-error", id: id + "-error", "data-testid": "line-error" });
      for (const i of [account, memo, debit, credit]) i.setAttribute("aria-describedby", id + "-error");
      const remove = el("button", { type: "button", class: "danger", "data-testid": "line-remove", text: "Remove" });
      const no = el("td");
      const tr = el("tr", { "data-testid": "entry-form-line" }, [no, el("td", {}, [account, err]), el("td", {}, [memo]),
        el("td", { class: "amount" }, [debit]), el("td", { class: "amount" }, [credit]), el("td", { class: "row-actions" }, [remove])]);
      const r = { tr, no, account, memo, debit, credit, remove, err };
      remove.addEventListener("click", () => {
        if (rows.length <= 2) return;
        rows.splice(rows.indexOf(r), 1);
        tr.remove();
        renumber();
        totals();
      });
      // Typing a debit empties the credit of the same line, and the other
      // way round: a line is one or the other.
      debit.addEventListener("input", () => { if (debit.value.trim()) credit.value = ""; totals(); });
      credit.addEventListener("input", () => { if (credit.value.trim()) debit.value = ""; totals(); });
      rows.push(r);
      g.body.append(tr);
      renumber();
      return r;
    }

    // totals adds the lines' amounts as integers of minor units and says
    // whether they balance; it returns what it found for submit.
    function totals() {
      const d = sum(rows.map((r) => r.debit.value), 2);
      const c = sum(rows.map((r) => r.credit.value), 2);
      if (!d || !c) {
        totalDebit.textContent = d ? fmt(d.u, d.scale) : "?";
        totalCredit.textContent = c ? fmt(c.u, c.scale) : "?";
        balance.textContent = "An amount is not a number.";
        balance.dataset.balanced = "false";
        return null;
      }
      const scale = Math.max(d.scale, c.scale);
      const du = d.u * pow10(scale - d.scale);
      const cu = c.u * pow10(scale - c.scale);
      const ds = fmt(du, scale);
      const cs = fmt(cu, scale);
      totalDebit.textContent = ds;
      totalCredit.textContent = cs;
      const ok = du === cu && du > 0n;
      balance.dataset.balanced = String(ok);
      balance.dataset.debits = ds;
      balance.dataset.credits = cs;
      balance.className = "balance " + (ok ? "ok" : "off");
      balance.textContent = du === cu ? (du > 0n ? "Balanced: debits " + ds + " = credits " + cs + "." : "Enter the amounts.")
        : "Debits " + ds + " ≠ credits " + cs + " (difference " + fmt(du > cu ? du - cu : cu - du, scale) + ").";
      return { ok, ds, cs, du, cu };
    }

    line();
    line();
    totals();
    addLine.addEventListener("click", () => { line().account.focus(); });

    let submitting = false;
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (submitting) return;
      const status = ev.submitter && ev.submitter.value === "posted" ? "posted" : "draft";
      errs.clear();
      Vanta.message(box);
      if (!date.value) return errs.show(date, "Choose the entry’s date.", "required");
      // Checked here first, so that a mistake is shown before anything is
      // sent; the appliance checks it all again.
      const lines = [];
      for (const [i, r] of rows.entries()) {
        const dv = r.debit.value.trim();
        const cv = r.credit.value.trim();
        if (!r.account.value && !dv && !cv) continue; // an empty line is left out
        if (!r.account.value) return errs.show(r.account, "Choose the account of line " + (i + 1) + ".", "required");
        const amount = dv || cv;
        const d = dec(amount);
        if (!amount || !d || d.u <= 0n) return errs.show(dv ? r.debit : r.credit, "Line " + (i + 1) + " needs a debit or a credit greater than zero.", "invalid_amount");
        const l = { account: r.account.value };
        l[dv ? "debit" : "credit"] = amount.replace(/[,\s_]/g, "");
        if (r.memo.value.trim()) l.memo = r.memo.value.trim();
        lines.push({ l, r });
      }
      if (lines.length < 2) {
        Vanta.message(box, "error", "An entry needs at least two lines.", "One account is debited and another credited.", "one_line");
        return;
      }
      const t = totals();
      if (!t || !t.ok) {
        Vanta.message(box, "error", "The entry does not balance.", t ? "Debits " + t.ds + " ≠ credits " + t.cs + "." : "An amount is not a number.", "unbalanced");
        balance.focus();
        return;
      }
      submitting = true;
      draft.disabled = true;
      if (post) post.disabled = true;
      const body = { date: date.value, description: description.value.trim(), reference: reference.value.trim(), idempotency_key: key, status, lines: lines.map((x) => x.l) };
      const res = await ctx.api("POST", cpath(ctx, "/journal-entries"), body);
      submitting = false;
      draft.disabled = false;
      if (post) post.disabled = false;
      if (!ctx.live()) return;
      if (!res.ok) {
        showEntryError(res, { date, description, reference }, lines.map((x) => x.r), errs, box);
        return;
      }
      ctx.navigate(vpath(ctx, "/journal/" + encodeURIComponent(res.data.id)));
    });
  }

  // showEntryError puts a refused entry's message next to the field the
  // appliance named: "date", "lines", "lines[2].account" or "lines.2.debit".
  function showEntryError(res, inputs, rows, errs, box) {
    const f = res.error.field || "";
    const msg = sentence(res.error.message);
    if (inputs[f]) return errs.show(inputs[f], msg, res.error.code, res.error.rule);
    if (res.error.rule === "period_locked") return errs.show(inputs.date, msg, res.error.code, res.error.rule);
    const m = /^lines(?:\[(\d+)\]|\.(\d+))(?:\.(\w+))?$/.exec(f);
    if (m) {
      const r = rows[+(m[1] || m[2])];
      if (r) {
        const which = m[3] === "debit" || m[3] === "credit" || m[3] === "memo" ? r[m[3]] : (m[3] === "amount" ? (r.debit.value ? r.debit : r.credit) : r.account);
        return errs.show(which, msg, res.error.code, res.error.rule);
      }
    }
    Vanta.message(box, "error", "The entry was not saved.", msg, res.error.code);
    if (res.error.rule) box.dataset.rule = res.error.rule;
    if (f) box.dataset.field = f;
  }

  // ---- Reports ----------------------------------------------------------

  const reportDefs = [
    { id: "trial-balance", title: "Trial balance", params: ["as_of"], lead: "Every account with postings, its debit or credit balance in the company currency, and what it holds in each currency." },
    { id: "profit-and-loss", title: "Profit and loss", params: ["from", "to"], lead: "Income less expenses over a period." },
    { id: "balance-sheet", title: "Balance sheet", params: ["as_of"], lead: "Assets, liabilities and equity on a day, with the earnings not yet closed." },
    { id: "general-ledger", title: "General ledger", params: ["account", "from", "to"], lead: "Every posted line of one account over a period, with its running balance." },
    { id: "aged-receivables", title: "Aged receivables", params: ["as_of"], lead: "What customers owe, by how long it has been due." },
    { id: "aged-payables", title: "Aged payables", params: ["as_of"], lead: "What the company owes its vendors, by how long it has been due." },
    { id: "vat-return", title: "VAT return", params: ["from", "to"], lead: "Output and input VAT of a period, as the return to KRA states them." },
  ];

  function reportsIndex(root, ctx) {
    const list = el("ul", { class: "report-list", "data-testid": "report-list" });
    for (const r of reportDefs) {
      list.append(el("li", {}, [el("a", { href: vpath(ctx, "/reports/" + r.id), "data-report": r.id, text: r.title }), el("span", { class: "hint", text: " " + r.lead })]));
    }
    root.append(el("p", { class: "lead", text: "The statements an accountant signs, from the posted entries. Each can be downloaded as CSV." }), list);
  }

  async function report(root, ctx) {
    const def = reportDefs.find((r) => r.id === ctx.params.report);
    if (!def) {
      root.append(el("p", { class: "lead", text: "There is no such report." }), el("p", {}, [el("a", { href: vpath(ctx, "/reports"), text: "All reports" })]));
      return;
    }
    ctx.setTitle(def.title);
    const q = ctx.query;
    const box = messageBox("report-message");
    const values = {};
    for (const p of def.params) values[p] = q.get(p) || (p === "as_of" || p === "to" ? today() : p === "from" ? yearStart() : "");
    const inputs = {};
    const fields = [];
    let accounts = [];
    if (def.params.includes("account")) {
      const got = await listAll(ctx, "/accounts");
      if (!ctx.live()) return;
      accounts = got.items || [];
    }
    for (const p of def.params) {
      const label = { as_of: "As of", from: "From", to: "To", account: "Account" }[p];
      const input = p === "account"
        ? accountSelect(accounts, { testid: "report-account", all: true, reads: true, value: values.account })
        : el("input", { type: "date", value: values[p], "data-testid": "report-" + p.replace("_", "-"), "data-reads": "" });
      inputs[p] = input;
      fields.push(field("report-" + p.replace("_", "-"), label, input));
    }
    const show = el("button", { type: "submit", class: "primary", "data-reads": "", "data-testid": "report-show", text: "Show" });
    const csv = el("button", { type: "button", "data-reads": "", "data-testid": "report-csv", text: "Download CSV" });
    const form = el("form", { class: "filters", role: "search", "aria-label": "Report dates", "data-reads": "", "data-testid": "report-form" },
      fields.concat([el("div", { class: "actions" }, [show, csv])]));
    const out = el("div", { "data-testid": "report", "aria-live": "polite" });
    root.append(el("p", { class: "lead", text: def.lead }), form, box, out, el("p", {}, [el("a", { href: vpath(ctx, "/reports"), text: "All reports" })]));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const next = new URLSearchParams();
      for (const p of def.params) if (inputs[p].value) next.set(p, inputs[p].value);
      ctx.navigate(ctx.path + "?" + next.toString());
    });
    const params = new URLSearchParams();
    for (const p of def.params) if (values[p]) params.set(p, values[p]);
    const api = cpath(ctx, "/reports/" + def.id + "?" + params.toString());
    csv.addEventListener("click", async () => {
      csv.disabled = true;
      const r = await Console.raw("GET", api + (params.toString() ? "&" : "") + "format=csv");
      csv.disabled = false;
      if (!ctx.live()) return;
      if (!r.ok) return failed(box, "The CSV could not be made.", r);
      save(r.blob, r.filename || def.id + "-" + [...params.values()].join("-") + ".csv", csv);
    });
    if (def.params.includes("account") && !values.account) {
      out.append(el("p", { class: "hint", "data-testid": "report-needs-account", text: "Choose an account to see its ledger." }));
      csv.hidden = true;
      return;
    }
    const res = await ctx.api("GET", api);
    if (!ctx.live()) return;
    if (!res.ok) {
      failed(box, "The report could not be made.", res);
      const bad = inputs[res.error.field];
      if (bad) bad.setAttribute("aria-invalid", "true");
      return;
    }
    out.dataset.params = params.toString();
    if (def.id === "trial-balance") trialBalance(out, res.data);
    else generic(out, res.data, 0, (id) => vpath(ctx, "/journal/" + encodeURIComponent(id)));
    if (res.data && res.data.next_cursor) out.append(el("p", { class: "hint", "data-testid": "report-more", text: "Only the first lines are shown: narrow the dates, or download the CSV for all of them." }));
  }

  // save hands a downloaded body to the browser as a file: a link cannot
  // carry the bearer token, so the body is fetched and given a Blob URL.
  function save(blob, filename, from) {
    const url = URL.createObjectURL(blob);
    const a = el("a", { href: url, download: filename, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    from.dataset.filename = filename;
    from.dataset.bytes = String(blob.size);
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  function trialBalance(out, tb) {
    const g = grid("tb-table", ["Code", "Account", "Type", { amount: "Debit" }, { amount: "Credit" }, { amount: "Balance" }, "In each currency"]);
    for (const a of tb.accounts || []) {
      g.body.append(el("tr", { "data-testid": "tb-row", "data-code": a.code }, [
        td(a.code, { class: "mono" }), td(a.name), td(a.type), amountTd(a.debit, { "data-testid": "tb-debit" }), amountTd(a.credit, { "data-testid": "tb-credit" }),
        amountTd(a.balance, { "data-testid": "tb-balance" }),
        el("td", { class: "amount" }, (a.balances || []).map((b) => el("div", { text: b.amount + " " + b.currency }))),
      ]));
    }
    const t = tb.totals || {};
    g.table.append(el("tfoot", {}, [el("tr", {}, [el("th", { scope: "row", colspan: "3", text: "Totals" }),
      amountTd(t.debit, { "data-testid": "tb-total-debit" }), amountTd(t.credit, { "data-testid": "tb-total-credit" }), el("td"), el("td")])]));
    const balanced = t.debit === t.credit;
    out.append(el("p", { class: "hint", "data-testid": "tb-summary", "data-balanced": String(balanced) },
      ["As of " + (tb.as_of || "") + ", in " + (tb.currency || "the company currency") + ". ", el("strong", { text: balanced ? "Debits equal credits." : "Debits and credits differ!" })]), g.wrap);
    if (!(tb.accounts || []).length) out.append(el("p", { class: "hint", text: "Nothing is posted yet." }));
  }

  // generic lays out any report: its plain fields as facts, each list of
  // rows as a table (amounts right-aligned), nested sections under their
  // names. The reports' exact shapes are the API's; this shows them all.
  const humanise = (k) => Vanta.capitalise(String(k).replace(/_/g, " "));
  function cellText(v) {
    if (v === null || v === undefined) return "";
    if (Array.isArray(v)) return v.map(cellText).join("; ");
    if (typeof v === "object") {
      if ("amount" in v && "currency" in v) return v.amount + " " + v.currency;
      return Object.entries(v).map(([k, x]) => humanise(k) + ": " + cellText(x)).join(", ");
    }
    return String(v);
  }
  function generic(out, data, depth, entryLink) {
    const d = depth || 0;
    // A section of a statement: its accounts, and their total under them.
    if (data && !Array.isArray(data) && Array.isArray(data.accounts) && "total" in data && Object.keys(data).length === 2) {
      const g = grid("report-section", ["Code", "Account", { amount: "Amount" }]);
      for (const a of data.accounts) g.body.append(el("tr", { "data-testid": "report-row", "data-code": a.code }, [td(a.code, { class: "mono" }), td(a.name), amountTd(a.amount, { "data-col": "amount" })]));
      g.table.append(el("tfoot", {}, [el("tr", {}, [el("th", { scope: "row", colspan: "2", text: "Total" }), amountTd(data.total, { "data-testid": "report-section-total" })])]));
      out.append(g.wrap);
      return;
    }
    if (Array.isArray(data)) {
      const rows = data.filter((x) => x && typeof x === "object" && !Array.isArray(x));
      if (!rows.length) {
        out.append(el("p", { class: "hint", text: data.length ? cellText(data) : "None." }));
        return;
      }
      const keys = [];
      for (const r of rows) for (const k of Object.keys(r)) if (!keys.includes(k)) keys.push(k);
      const amountCol = (k) => rows.some((r) => isAmount(r[k])) && rows.every((r) => r[k] === undefined || r[k] === null || r[k] === "" || isAmount(r[k]));
      const g = grid("report-rows", keys.map((k) => (amountCol(k) ? { amount: humanise(k) } : humanise(k))));
      for (const r of rows) {
        g.body.append(el("tr", { "data-testid": "report-row" }, keys.map((k) => {
          if (k === "entry_id" && r[k] && entryLink) return el("td", { "data-col": k }, [el("a", { href: entryLink(r[k]), text: "entry" + (r.number ? " #" + r.number : "") })]);
          return amountCol(k) ? amountTd(cellText(r[k]), { "data-col": k }) : td(cellText(r[k]), { "data-col": k });
        })));
      }
      out.append(g.wrap);
      return;
    }
    if (!data || typeof data !== "object") {
      out.append(el("p", { text: cellText(data) }));
      return;
    }
    const facts = el("dl", { class: "facts" });
    const nested = [];
    for (const [k, v] of Object.entries(data)) {
      if (k === "next_cursor") continue;
      if (v && typeof v === "object" && (Array.isArray(v) ? v.some((x) => x && typeof x === "object") : Object.values(v).some((x) => x && typeof x === "object"))) {
        nested.push([k, v]);
        continue;
      }
      facts.append(el("dt", { text: humanise(k) }), el("dd", { class: isAmount(v) ? "amount" : null, "data-key": k, text: cellText(v) }));
    }
    if (facts.childNodes.length) out.append(facts);
    for (const [k, v] of nested) {
      out.append(el(d ? "h3" : "h2", { text: humanise(k) }));
      generic(out, v, d + 1, entryLink);
    }
  }

  // ---- Contacts, invoices and bills -------------------------------------

  async function contacts(root, ctx) {
    const box = messageBox("contacts-message");
    root.append(el("p", { class: "lead", text: "Customers and vendors, with their KRA PIN for the VAT return." }), box);
    const g = grid("contacts-table", ["Name", "Kind", "KRA PIN", "Email", "Phone"]);
    if (canDraft(ctx.role)) {
      const name = el("input", { type: "text", maxlength: "200", required: true, autocomplete: "off", "data-testid": "contact-new-name" });
      const kind = el("select", { "data-testid": "contact-new-kind" }, [["customer", "Customer"], ["vendor", "Vendor"], ["both", "Both"]].map(([v, t]) => el("option", { value: v, text: t })));
      const pin = el("input", { type: "text", maxlength: "11", autocomplete: "off", class: "mono", placeholder: "P051234567Z", "data-testid": "contact-new-pin" });
      const email = el("input", { type: "email", maxlength: "254", autocomplete: "off", "data-testid": "contact-new-email" });
      const phone = el("input", { type: "text", maxlength: "40", autocomplete: "off", "data-testid": "contact-new-phone" });
      const submit = el("button", { type: "submit", class: "primary", "data-testid": "contact-create", text: "Add contact" });
      const form = el("form", { class: "inline-form books-form", novalidate: true, "data-testid": "contact-form" }, [
        field("contact-new-name", "Name", name), field("contact-new-kind", "Kind", kind), field("contact-new-pin", "KRA PIN", pin),
        field("contact-new-email", "Email", email), field("contact-new-phone", "Phone", phone), el("div", { class: "actions" }, [submit]),
      ]);
      const errs = errors(form);
      const inputs = { name, kind, type: kind, kra_pin: pin, tax_id: pin, email, phone };
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        errs.clear();
        Vanta.message(box);
        if (!name.value.trim()) return errs.show(name, "Enter the contact’s name.", "required");
        const body = { name: name.value.trim(), kind: kind.value };
        if (pin.value.trim()) body.kra_pin = pin.value.trim().toUpperCase();
        if (email.value.trim()) body.email = email.value.trim();
        if (phone.value.trim()) body.phone = phone.value.trim();
        submit.disabled = true;
        const res = await ctx.api("POST", cpath(ctx, "/contacts"), body);
        submit.disabled = false;
        if (!ctx.live()) return;
        if (!res.ok) {
          const input = inputs[res.error.field];
          if (input) errs.show(input, sentence(res.error.message), res.error.code, res.error.rule);
          else failed(box, "The contact was not added.", res);
          return;
        }
        Vanta.message(box, "success", body.name + " is added.", "", "contact_created");
        name.value = pin.value = email.value = phone.value = "";
        await load();
      });
      root.append(form);
    }
    root.append(g.wrap);
    async function load() {
      const got = await listAll(ctx, "/contacts");
      if (!ctx.live()) return;
      g.body.replaceChildren();
      if (!got.ok) return failed(box, "The contacts could not be read.", got.res);
      for (const c of got.items) {
        g.body.append(el("tr", { "data-testid": "contact", "data-contact": c.id }, [td(c.name), td(c.kind || c.type || ""), td(c.kra_pin || c.tax_id || "", { class: "mono" }), td(c.email || ""), td(c.phone || "")]));
      }
      if (!got.items.length) g.body.append(el("tr", {}, [td("No contacts yet.", { colspan: 5 })]));
    }
    await load();
  }

  const docKinds = {
    invoices: { one: "invoice", title: "Invoices", party: "Customer", lead: "Sales invoices to customers. A draft can change; issuing it gives it its number and posts it to the books." },
    bills: { one: "bill", title: "Bills", party: "Vendor", lead: "Bills from vendors. Issuing a bill posts it to the books; payments settle it." },
  };

  const contactName = (list) => { const m = new Map(list.map((c) => [c.id, c.name])); return (id) => m.get(id) || ""; };

  async function docList(root, ctx, kind) {
    const k = docKinds[kind];
    const box = messageBox(kind + "-message");
    const [docs, cs] = await Promise.all([listAll(ctx, "/" + kind), listAll(ctx, "/contacts")]);
    if (!ctx.live()) return;
    root.append(el("p", { class: "lead", text: k.lead }), box);
    // Invoices go to customers, bills come from vendors.
    const parties = (cs.items || []).filter((c) => !c.kind || c.kind === "both" || c.kind === (kind === "invoices" ? "customer" : "vendor"));
    if (canDraft(ctx.role) && cs.ok) root.append(await docForm(ctx, kind, parties, box));
    if (!ctx.live()) return;
    const who = contactName(cs.items || []);
    const g = grid(kind + "-table", ["Number", k.party, "Date", "Due", "Status", { amount: "Total" }, { amount: "Due now" }]);
    root.append(el("h2", { text: k.title }), g.wrap);
    if (!docs.ok) return failed(box, "The " + kind + " could not be read.", docs.res);
    for (const d of docs.items) {
      g.body.append(el("tr", { "data-testid": k.one, "data-id": d.id, "data-status": d.status }, [
        el("td", {}, [el("a", { href: vpath(ctx, "/" + kind + "/" + encodeURIComponent(d.id)), text: d.number || "Draft" })]),
        td(who(d.contact_id)), td(d.issue_date || ""), td(d.due_date || ""), el("td", {}, [statusBadge(d.status)]),
        amountTd(d.total, { "data-testid": "doc-total" }), amountTd(d.balance_due, { "data-testid": "doc-balance-due" }),
      ]));
    }
    if (!docs.items.length) g.body.append(el("tr", {}, [td("None yet.", { colspan: 7 })]));
  }

  // taxRate is a tax code's rate (the API's percent, "16") as a fraction.
  function taxRate(tc) {
    const d = tc ? dec(String(tc.rate || "0").replace("%", "")) : null;
    return d ? { u: d.u, scale: d.scale + 2 } : { u: 0n, scale: 0 };
  }

  // lineCodes are the tax codes a document line may carry on day: the
  // version of each code in force then; withholding VAT is not charged on
  // a line (a customer withholds it when paying).
  function lineCodes(all, day) {
    const seen = new Map();
    for (const tc of all) {
      if (tc.kind === "withholding_vat") continue;
      if (tc.effective_from && tc.effective_from > day) continue;
      if (tc.effective_to && tc.effective_to < day) continue;
      seen.set(tc.code, tc);
    }
    return [...seen.values()].sort((a, b) => String(a.code).localeCompare(String(b.code)));
  }

  async function docForm(ctx, kind, contactList, box) {
    const k = docKinds[kind];
    const codes = await ctx.api("GET", cpath(ctx, "/tax-codes?on=" + today()));
    const taxCodes = lineCodes(codes.ok ? (codes.data.items || []) : [], today());
    const key = (tc) => tc.code;
    const contact = el("select", { required: true, "data-testid": "doc-contact" }, [el("option", { value: "", text: "Choose a " + k.party.toLowerCase() })]
      .concat(contactList.map((c) => el("option", { value: c.id, text: c.name }))));
    const date = el("input", { type: "date", value: today(), "data-testid": "doc-date" });
    const due = el("input", { type: "date", "data-testid": "doc-due" });
    const g = grid("doc-form-lines", ["Description", { amount: "Quantity" }, { amount: "Unit price" }, "Tax code", { amount: "Net" }, ""]);
    const sub = el("dd", { class: "amount", "data-testid": "doc-subtotal" });
    const vat = el("dd", { class: "amount", "data-testid": "doc-vat" });
    const total = el("dd", { class: "amount", "data-testid": "doc-total" });
    const preview = el("dl", { class: "facts preview", "data-testid": "doc-preview" }, [el("dt", { text: "Subtotal" }), sub, el("dt", { text: "VAT" }), vat, el("dt", { text: "Total" }), total]);
    const add = el("button", { type: "button", "data-testid": "doc-add-line", text: "Add a line" });
    const submit = el("button", { type: "submit", class: "primary", "data-testid": "doc-create", text: "Save draft " + k.one });
    const form = el("form", { class: "entry-form", novalidate: true, "data-testid": "doc-form" }, [
      el("div", { class: "entry-head" }, [field("doc-contact", k.party, contact), field("doc-date", "Date", date), field("doc-due", "Due date", due)]),
      g.wrap, el("div", { class: "actions" }, [add]), preview, el("div", { class: "actions" }, [submit]),
    ]);
    const errs = errors(form);
    const rows = [];
    function line() {
      const n = rows.length + 1;
      const desc = el("input", { type: "text", maxlength: "500", autocomplete: "off", "aria-label": "Description of line " + n, "data-testid": "doc-line-description" });
      const qty = el("input", { type: "text", inputmode: "decimal", value: "1", class: "amount", "aria-label": "Quantity of line " + n, "data-testid": "doc-line-quantity" });
      const price = el("input", { type: "text", inputmode: "decimal", class: "amount", "aria-label": "Unit price of line " + n, "data-testid": "doc-line-price" });
      const tax = el("select", { "aria-label": "Tax code of line " + n, "data-testid": "doc-line-tax" },
        [el("option", { value: "", text: "No tax" })].concat(taxCodes.map((tc) => el("option", { value: key(tc), text: tc.name || tc.code }))));
      const std = taxCodes.find((tc) => tc.kind === "standard");
      if (std) tax.value = key(std);
      const net = amountTd("", { "data-testid": "doc-line-net" });
      const err = el("p", { class: "field-error", id: "doc-line-" + n + "-error" });
      for (const i of [desc, qty, price, tax]) i.setAttribute("aria-describedby", err.id);
      const remove = el("button", { type: "button", class: "danger", "aria-label": "Remove line " + n, text: "Remove" });
      const tr = el("tr", { "data-testid": "doc-form-line" }, [el("td", {}, [desc, err]), el("td", {}, [qty]), el("td", {}, [price]), el("td", {}, [tax]), net, el("td", { class: "row-actions" }, [remove])]);
      const r = { tr, desc, qty, price, tax, net, description: desc, quantity: qty, unit_price: price, tax_code: tax, account: desc };
      remove.addEventListener("click", () => { if (rows.length > 1) { rows.splice(rows.indexOf(r), 1); tr.remove(); calc(); } });
      for (const i of [qty, price, tax]) i.addEventListener("input", calc);
      tax.addEventListener("change", calc);
      rows.push(r);
      g.body.append(tr);
      calc();
      return r;
    }
    // calc previews the totals as the appliance computes them: each line's
    // net and VAT rounded half-even to cents, in integers of minor units.
    function calc() {
      let s = 0n;
      let v = 0n;
      for (const r of rows) {
        const q = dec(r.qty.value);
        const p = dec(r.price.value);
        if (!q || !p) { r.net.textContent = ""; continue; }
        const n = divRound(q.u * p.u * 100n, pow10(q.scale + p.scale));
        const rate = taxRate(taxCodes.find((tc) => key(tc) === r.tax.value));
        const t = divRound(n * rate.u, pow10(rate.scale));
        r.net.textContent = fmt(n, 2);
        s += n;
        v += t;
      }
      sub.textContent = fmt(s, 2);
      vat.textContent = fmt(v, 2);
      total.textContent = fmt(s + v, 2);
    }
    line();
    add.addEventListener("click", () => line().desc.focus());
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      errs.clear();
      Vanta.message(box);
      if (!contact.value) return errs.show(contact, "Choose the " + k.party.toLowerCase() + ".", "required");
      const lines = [];
      for (const r of rows) {
        if (!r.desc.value.trim() && !r.price.value.trim()) continue;
        if (!dec(r.qty.value)) return errs.show(r.qty, "Enter a quantity.", "invalid_amount");
        if (!dec(r.price.value)) return errs.show(r.price, "Enter a unit price.", "invalid_amount");
        const l = { description: r.desc.value.trim(), quantity: r.qty.value.trim(), unit_price: r.price.value.trim().replace(/[,\s_]/g, "") };
        if (r.tax.value) l.tax_code = r.tax.value;
        lines.push({ l, r });
      }
      if (!lines.length) return errs.show(rows[0].desc, "Add at least one line.", "required");
      const body = { contact_id: contact.value, issue_date: date.value, lines: lines.map((x) => x.l) };
      if (due.value) body.due_date = due.value;
      submit.disabled = true;
      const res = await ctx.api("POST", cpath(ctx, "/" + kind), body);
      submit.disabled = false;
      if (!ctx.live()) return;
      if (!res.ok) {
        const f = res.error.field || "";
        const m = /^lines(?:\[(\d+)\]|\.(\d+))(?:\.(\w+))?$/.exec(f);
        const top = { contact_id: contact, issue_date: date, due_date: due }[f];
        if (top) return errs.show(top, sentence(res.error.message), res.error.code, res.error.rule);
        if (m && lines[+(m[1] || m[2])]) {
          const r = lines[+(m[1] || m[2])].r;
          return errs.show(r[m[3]] || r.desc, sentence(res.error.message), res.error.code, res.error.rule);
        }
        return failed(box, "The " + k.one + " was not saved.", res);
      }
      ctx.navigate(vpath(ctx, "/" + kind + "/" + encodeURIComponent(res.data.id)));
    });
    return el("details", { class: "new-doc", "data-testid": "doc-new" }, [el("summary", { text: "New " + k.one }), form]);
  }

  async function docDetail(root, ctx, kind) {
    const k = docKinds[kind];
    const box = messageBox(k.one + "-message");
    root.append(box);
    const id = ctx.params.doc;
    const [res, accounts, cs] = await Promise.all([ctx.api("GET", cpath(ctx, "/" + kind + "/" + encodeURIComponent(id))), listAll(ctx, "/accounts"), listAll(ctx, "/contacts")]);
    if (!ctx.live()) return;
    if (!res.ok) return failed(box, "The " + k.one + " could not be read.", res);
    const d = res.data;
    ctx.setTitle(Vanta.capitalise(k.one) + " " + (d.number || "(draft)"));
    const facts = el("dl", { class: "facts", "data-testid": k.one + "-facts", "data-status": d.status });
    const fact = (label, v, testid, amount) => { if (v !== undefined && v !== null && v !== "") facts.append(el("dt", { text: label }), el("dd", { class: amount ? "amount" : null, "data-testid": testid || null, text: String(v) })); };
    fact("Status", String(d.status || "").replace(/_/g, " "), "doc-status");
    fact("Number", d.number, "doc-number");
    fact(k.party, contactName(cs.items || [])(d.contact_id));
    fact("Date", d.issue_date);
    fact("Due date", d.due_date);
    fact("Reference", d.reference);
    fact("Currency", d.currency);
    fact("Subtotal", d.subtotal, "doc-subtotal", true);
    fact("VAT", d.tax_total, "doc-vat", true);
    fact("Total", d.total, "doc-total", true);
    fact("Paid", d.paid, "doc-paid", true);
    fact("Credited", d.credited && dec(d.credited) && dec(d.credited).u !== 0n ? d.credited : "", "doc-credited", true);
    fact("Due now", d.balance_due, "doc-due-now", true);
    root.append(facts);
    const g = grid("doc-lines", ["Description", { amount: "Quantity" }, { amount: "Unit price" }, "Tax code", { amount: "Net" }, { amount: "Tax" }, { amount: "Total" }]);
    for (const l of d.lines || []) g.body.append(el("tr", { "data-testid": "doc-line" }, [td(l.description), amountTd(l.quantity), amountTd(l.unit_price), td(l.tax_code || ""), amountTd(l.net), amountTd(l.tax), amountTd(l.total)]));
    root.append(el("h2", { text: "Lines" }), g.wrap);
    if (d.entry_id) root.append(el("p", {}, [el("a", { href: vpath(ctx, "/journal/" + encodeURIComponent(d.entry_id)), "data-testid": "doc-entry", text: "Its journal entry" })]));
    if (!canPost(ctx.role)) return;
    if (d.status === "draft") {
      const issue = el("button", { type: "button", class: "primary", "data-testid": "doc-issue", text: "Issue " + k.one });
      issue.addEventListener("click", async () => {
        issue.disabled = true;
        const r = await ctx.api("POST", cpath(ctx, "/" + kind + "/" + encodeURIComponent(id) + "/issue"));
        issue.disabled = false;
        if (!ctx.live()) return;
        if (!r.ok) return failed(box, "The " + k.one + " was not issued.", r);
        ctx.navigate(ctx.path);
      });
      root.append(el("div", { class: "actions" }, [issue]));
    }
    if (d.status === "issued" || d.status === "partially_paid") root.append(paymentForm(ctx, kind, d, accounts.items || [], box));
  }

  function paymentForm(ctx, kind, d, accounts, box) {
    const date = el("input", { type: "date", value: today(), "data-testid": "payment-date" });
    const amount = el("input", { type: "text", inputmode: "decimal", class: "amount", value: d.balance_due || "", "data-testid": "payment-amount" });
    const cash = accounts.filter((a) => a.type === "asset" && a.active !== false && (a.role === "bank" || a.role === "mpesa" || !a.role));
    const account = accountSelect(cash, { testid: "payment-account", value: (cash.find((a) => a.role === "bank") || {}).code });
    const reference = el("input", { type: "text", maxlength: "200", autocomplete: "off", "data-testid": "payment-reference" });
    const submit = el("button", { type: "submit", class: "primary", "data-testid": "payment-submit", text: "Record payment" });
    const form = el("form", { class: "inline-form books-form", novalidate: true, "data-testid": "payment-form" }, [
      field("payment-date", "Date", date), field("payment-amount", "Amount", amount), field("payment-account", "Paid through", account),
      field("payment-reference", "Reference", reference), el("div", { class: "actions" }, [submit]),
    ]);
    const errs = errors(form);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      errs.clear();
      Vanta.message(box);
      const a = dec(amount.value);
      if (!a || a.u <= 0n) return errs.show(amount, "Enter the amount paid.", "invalid_amount");
      if (!account.value) return errs.show(account, "Choose the account it was paid through.", "required");
      // The payment goes to this document alone; what exceeds it stays
      // with the contact as an advance.
      const paid = amount.value.trim().replace(/[,\s_]/g, "");
      const due = dec(d.balance_due || "0");
      const applied = due && a.u * pow10(Math.max(due.scale - a.scale, 0)) > due.u * pow10(Math.max(a.scale - due.scale, 0)) ? d.balance_due : paid;
      const body = { direction: kind === "invoices" ? "received" : "made", contact_id: d.contact_id, date: date.value, amount: paid,
        account: account.value, allocations: [{ document_id: d.id, amount: applied }] };
      if (d.currency) body.currency = d.currency;
      if (reference.value.trim()) body.reference = reference.value.trim();
      submit.disabled = true;
      const r = await ctx.api("POST", cpath(ctx, "/payments"), body);
      submit.disabled = false;
      if (!ctx.live()) return;
      if (!r.ok) {
        const input = { date, amount, account, reference }[r.error.field];
        if (input) return errs.show(input, sentence(r.error.message), r.error.code, r.error.rule);
        return failed(box, "The payment was not recorded.", r);
      }
      ctx.navigate(ctx.path);
    });
    return el("section", {}, [el("h2", { text: "Record a payment" }), form]);
  }

  // ---- Imports ------------------------------------------------------------

  const importKinds = [
    { id: "journal", label: "Plain-text journal (hledger or ledger)", format: "journal" },
    { id: "mpesa", label: "M-Pesa statement (CSV)", format: "csv", preset: "mpesa", role: "mpesa" },
    { id: "bank", label: "Bank statement (CSV)", format: "csv", preset: "bank", role: "bank" },
  ];

  async function imports(root, ctx) {
    const box = messageBox("imports-message");
    root.append(el("p", { class: "lead", text: "Bring in books kept elsewhere, or a bank or M-Pesa statement: each statement line becomes a draft entry against the suspense account, and a line imported before is skipped." }), box);
    const [list, accounts] = await Promise.all([ctx.api("GET", cpath(ctx, "/imports?limit=100")), canPost(ctx.role) ? listAll(ctx, "/accounts") : Promise.resolve({ ok: true, items: [] })]);
    if (!ctx.live()) return;
    if (canPost(ctx.role)) {
      const kind = el("select", { "data-testid": "import-kind" }, importKinds.map((k) => el("option", { value: k.id, text: k.label })));
      const banks = (accounts.items || []).filter((a) => a.type === "asset" && a.active !== false);
      const account = accountSelect(banks, { testid: "import-account" });
      const mapping = el("input", { type: "text", autocomplete: "off", class: "mono", placeholder: "date:Date,amount:Amount,description:Details,id:Reference", "data-testid": "import-mapping" });
      const file = el("input", { type: "file", accept: ".csv,.journal,.ledger,.hledger,.txt,text/csv,text/plain", required: true, "data-testid": "import-file" });
      const accountField = field("import-account", "Statement of account", account);
      const mappingField = field("import-mapping", "Column mapping (optional)", mapping, "Which column holds what, when the bank’s columns have other names.");
      const submit = el("button", { type: "submit", class: "primary", "data-testid": "import-submit", text: "Upload and import" });
      const form = el("form", { class: "narrow-form", novalidate: true, "data-testid": "import-form" }, [
        field("import-kind", "What it is", kind), accountField, mappingField, field("import-file", "File", file), el("div", { class: "actions" }, [submit]),
      ]);
      const errs = errors(form);
      const sync = () => {
        const k = importKinds.find((x) => x.id === kind.value);
        accountField.hidden = !k.preset;
        mappingField.hidden = k.id !== "bank";
        if (k.role) {
          const a = banks.find((x) => x.role === k.role);
          if (a) account.value = a.code;
        }
      };
      kind.addEventListener("change", sync);
      sync();
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        errs.clear();
        Vanta.message(box);
        const k = importKinds.find((x) => x.id === kind.value);
        if (!file.files || !file.files.length) return errs.show(file, "Choose the file to import.", "required");
        if (k.preset && !account.value) return errs.show(account, "Choose the account this statement is of.", "required");
        const p = new URLSearchParams({ format: k.format });
        if (k.preset) { p.set("preset", k.preset); p.set("account", account.value); }
        if (k.id === "bank" && mapping.value.trim()) p.set("mapping", mapping.value.trim());
        const fd = new FormData();
        fd.append("file", file.files[0], file.files[0].name);
        submit.disabled = true;
        const r = await Console.raw("POST", cpath(ctx, "/imports?" + p.toString()), fd);
        submit.disabled = false;
        if (!ctx.live()) return;
        if (!r.ok) {
          const input = { file, account, mapping, preset: kind, format: kind }[r.error.field];
          if (input) return errs.show(input, sentence(r.error.message), r.error.code, r.error.rule);
          return failed(box, "The file was not imported.", r);
        }
        let id = "";
        try { id = JSON.parse(await r.blob.text()).import_id || ""; } catch (e) { id = ""; }
        if (!ctx.live()) return;
        ctx.navigate(vpath(ctx, "/imports/" + encodeURIComponent(id)));
      });
      root.append(form);
    }
    const g = grid("imports-table", ["Started", "Kind", "Status", "Progress", "Entries"]);
    root.append(el("h2", { text: "Imports" }), g.wrap);
    if (!list.ok) return failed(box, "The imports could not be read.", list);
    for (const i of list.data.items || []) {
      const pr = i.progress || {};
      g.body.append(el("tr", { "data-testid": "import", "data-id": i.id, "data-status": i.status }, [
        el("td", {}, [el("a", { href: vpath(ctx, "/imports/" + encodeURIComponent(i.id)), text: i.created_at ? Vanta.dateTime(i.created_at) : i.id })]),
        td(i.format || i.kind || ""), el("td", {}, [statusBadge(i.status)]), td((pr.done || 0) + " of " + (pr.total || 0)), amountTd(i.entries !== undefined ? String(i.entries) : ""),
      ]));
    }
    if (!(list.data.items || []).length) g.body.append(el("tr", {}, [td("Nothing imported yet.", { colspan: 5 })]));
  }

  // importJob follows one import until it ends, asking again every half
  // second while it runs.
  async function importJob(root, ctx) {
    const box = messageBox("import-message");
    const status = el("p", { class: "lead", "data-testid": "import-status", role: "status", "aria-live": "polite" });
    const bar = el("progress", { max: "1", value: "0", "data-testid": "import-progress", "aria-label": "Import progress" });
    const counts = el("p", { class: "hint", "data-testid": "import-counts" });
    const g = grid("import-errors", ["Line", "Problem"]);
    const errHead = el("h2", { text: "Problems", hidden: true });
    g.wrap.hidden = true;
    root.append(status, bar, counts, box, errHead, g.wrap, el("p", {}, [el("a", { href: vpath(ctx, "/imports"), text: "All imports" })]));
    for (;;) {
      const res = await ctx.api("GET", cpath(ctx, "/imports/" + encodeURIComponent(ctx.params.import)));
      if (!ctx.live()) return;
      if (!res.ok) return failed(box, "The import could not be read.", res);
      const i = res.data;
      const pr = i.progress || {};
      const total = Number(pr.total || 0);
      const done = Number(pr.done || 0);
      bar.max = String(Math.max(total, 1));
      bar.value = String(Math.min(done, Math.max(total, 1)));
      status.dataset.status = i.status;
      status.textContent = { running: "Importing…", done: "The import is done.", failed: "The import failed: nothing of it was kept." }[i.status] || String(i.status);
      counts.textContent = done + " of " + total + " done" + (i.entries !== undefined && i.entries !== null ? ", " + Vanta.plural(Number(i.entries), "entry", "entries") + " made." : ".");
      counts.dataset.done = String(done);
      counts.dataset.total = String(total);
      g.body.replaceChildren();
      for (const e of i.errors || []) g.body.append(el("tr", { "data-testid": "import-error", "data-line": e.line }, [td(e.line, { class: "mono" }), td(e.message)]));
      errHead.hidden = g.wrap.hidden = !(i.errors || []).length;
      if (i.status !== "running") return;
      await new Promise((resolve) => {
        const t = setTimeout(resolve, 500);
        ctx.signal.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
      });
      if (!ctx.live()) return;
    }
  }

  // ---- Registration -------------------------------------------------------

  // The books pages fill the Books and Reports slots of the company's
  // navigation; the journal, sales, purchases and imports follow Books.
  Console.registerView("/console/c/:company/books", {
    title: "Chart of accounts", nav: { group: "company", label: "Books", order: 50, slot: "books" }, render: chart,
  });
  Console.registerView("/console/c/:company/journal", {
    title: "Journal", nav: { group: "company", label: "Journal", order: 51 }, render: journal,
  });
  Console.registerView("/console/c/:company/journal/new", {
    title: "New journal entry", roles: drafters, render: newEntry,
  });
  Console.registerView("/console/c/:company/journal/:entry", { title: "Journal entry", render: entry });
  Console.registerView("/console/c/:company/contacts", {
    title: "Contacts", nav: { group: "company", label: "Contacts", order: 52 }, render: contacts,
  });
  Console.registerView("/console/c/:company/invoices", {
    title: "Invoices", nav: { group: "company", label: "Invoices", order: 53 }, render: (root, ctx) => docList(root, ctx, "invoices"),
  });
  Console.registerView("/console/c/:company/invoices/:doc", { title: "Invoice", render: (root, ctx) => docDetail(root, ctx, "invoices") });
  Console.registerView("/console/c/:company/bills", {
    title: "Bills", nav: { group: "company", label: "Bills", order: 54 }, render: (root, ctx) => docList(root, ctx, "bills"),
  });
  Console.registerView("/console/c/:company/bills/:doc", { title: "Bill", render: (root, ctx) => docDetail(root, ctx, "bills") });
  Console.registerView("/console/c/:company/imports", {
    title: "Imports", nav: { group: "company", label: "Imports", order: 55 }, render: imports,
  });
  Console.registerView("/console/c/:company/imports/:import", { title: "Import", render: importJob });
  Console.registerView("/console/c/:company/reports", {
    title: "Reports", nav: { group: "company", label: "Reports", order: 70, slot: "reports" }, render: reportsIndex,
  });
  Console.registerView("/console/c/:company/reports/:report", { title: "Report", render: report });

  // For tests of the arithmetic.
  return { dec, fmt, sum, divRound, taxRate };
})();
