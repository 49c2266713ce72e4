// The console shell: one document at /console; routes are paths under it
// (History API), each drawn by a view that calls the JSON API. The shell
// owns the header (signed-in person, company switcher with their role in
// each company, sign out), the left navigation, the session and the API
// client. No framework; text from the API only ever goes in as text.
//
// CONTRACT FOR VIEW FILES (assets/console-*.js, one <script defer> line
// each in console.html after console-account.js):
//
//   Console.registerView("/console/c/:company/people", {
//     title: "People",               // or (ctx) => string; the shell draws it as the view's <h1>
//     nav: { group: "company", label: "People", order: 10 },  // optional: a left-nav entry
//     roles: ["admin", "manager", "user", "viewer", "god"],   // optional: who may open it
//     public: false,                 // true only for views shown without a session (sign-in)
//     render: async (root, ctx) => { root.append(Console.el("p", { text: "…" })); },
//   });
//
// - Patterns: literal segments and :name parameters, matched whole and in
//   registration order. ":company" is special: the shell resolves it to a
//   company the person may see (else "not found", so another company's id
//   reveals nothing) and fills ctx.company and ctx.role.
// - nav.group: "company" (links for the current company; the pattern may
//   have :company and nothing else), "system" (GOD) or "you". Entries are
//   shown only to roles the view allows. Books, Documents and Reports are
//   fixed "coming" slots of the company group until their views register
//   with nav.slot "books" | "documents" | "reports" (which replaces the slot).
// - roles: company roles "admin" | "manager" | "user" | "viewer", and "god"
//   (GOD, who sees every company; in a company GOD's role is "god" unless
//   they are a member, and a view listing "god" opens for GOD everywhere).
//   Without roles any signed-in person may open it.
//   Another role gets the shell's "no access" page; the API stays the
//   authority (a view must still handle 403).
// - ctx: { path, params, query (URLSearchParams), me (GET /api/v1/me plus
//   nothing else), company ({company_id, company_name, status, role} or
//   null), role (the person's role in ctx.company, or "god", or ""),
//   companies (every company in the switcher), api, navigate, announce,
//   setTitle, signal (aborted when the person leaves the view), live() }.
// - ctx.api(method, path, body) → Promise of {ok, status, data, error:
//   {code, message, field}, retryAfter}; it never rejects. It sends the
//   bearer token, refreshes once on a 401 for the token, and when the
//   session cannot be refreshed it takes the person to sign-in, which
//   returns them to this page afterwards. Check ctx.live() after each
//   await before touching the page. Console.raw(method, path, body) does
//   the same for bodies that are not JSON (CSV downloads, file uploads);
//   Console.upload(path, formData, onProgress) posts a file and reports
//   the bytes sent, for a progress bar.
// - Links: any <a href="/console/…"> is routed without a page load.
//   Console.navigate(path) does the same from code.
// - Helpers: Console.el (Vanta.el), Console.message (Vanta.message),
//   Console.roleLabel(role), Console.dateTime(iso), Console.refreshMe().
// - Test hooks: elements carry data-testid; views should too.
"use strict";

const Console = (() => {
  const V = Vanta;
  const $ = V.$;
  const storeKey = "vanta.console.session";
  const companyKey = "vanta.console.company";
  const signInPath = "/console/sign-in";

  const views = [];
  const state = {
    session: readSession(), // {access, refresh}: this tab only (sessionStorage)
    me: null,               // GET /api/v1/me, while signed in
    companies: [],          // [{company_id, company_name, status, role}]
    current: null,          // {controller} of the view on screen
    refreshing: null,       // the one refresh in flight
    notice: null,           // {kind, title, detail, code} for the sign-in view
    first: true,            // the first route of this page load keeps focus where it is
    drawn: "",              // path and query of the route drawn last
  };

  function readSession() {
    try {
      const s = JSON.parse(sessionStorage.getItem(storeKey) || "null");
      return s && s.access && s.refresh ? s : null;
    } catch (e) {
      return null;
    }
  }

  function saveSession(pair) {
    state.session = pair ? { access: pair.access_token, refresh: pair.refresh_token } : null;
    try {
      if (state.session) sessionStorage.setItem(storeKey, JSON.stringify(state.session));
      else sessionStorage.removeItem(storeKey);
    } catch (e) { /* private mode: the session lives in memory only */ }
  }

  // ---- API client ----

  // refresh trades the refresh token for a new pair, once for all the
  // requests that found the access token refused at the same time. It
  // resolves "ok", "refused" (the session is over) or "failed" (no answer:
  // the session may well be alive, so nobody is signed out for it).
  function refresh() {
    if (!state.session) return Promise.resolve("refused");
    if (!state.refreshing) {
      const sent = state.session.refresh;
      state.refreshing = V.api("POST", "/api/v1/auth/refresh", { refresh_token: sent }).then((r) => {
        state.refreshing = null;
        if (r.ok && r.data && r.data.access_token) {
          if (state.session && state.session.refresh === sent) saveSession(r.data);
          return state.session ? "ok" : "refused";
        }
        return r.status >= 400 && r.status < 500 ? "refused" : "failed";
      });
    }
    return state.refreshing;
  }

  // tokenRefused: the API did not accept the bearer token (expired,
  // revoked, sessions ended by a seal); other 401s (a wrong password
  // typed into a form) are the form's business.
  const tokenRefused = (r) => r.status === 401 && (r.error.code === "invalid_token" || r.error.code === "unauthenticated");

  async function api(method, path, body) {
    if (!state.session) {
      expired();
      return { ok: false, status: 401, data: null, retryAfter: 0, error: { code: "unauthenticated", message: "Sign in first.", field: "" } };
    }
    let r = await V.api(method, path, body, state.session.access);
    if (tokenRefused(r)) {
      const outcome = await refresh();
      if (outcome === "ok" && state.session) r = await V.api(method, path, body, state.session.access);
      // Many requests may learn of the end at once: the first one acts.
      if (outcome !== "failed" && tokenRefused(r) && state.session) expired();
    } else if (r.status === 503 && r.error.code === "sealed") {
      location.assign("/unseal");
    }
    return r;
  }

  // raw sends a request whose body or answer is not JSON (a CSV to
  // download, a file to upload as multipart) with the session's bearer
  // token, which a link or a form cannot carry. It resolves (never rejects)
  // with {ok, status, blob, filename, error}; on a refused token it
  // refreshes once, as api does.
  async function raw(method, path, body) {
    const once = async () => {
      if (!state.session) return { ok: false, status: 401, blob: null, filename: "", error: { code: "unauthenticated", message: "Sign in first.", field: "", rule: "" } };
      let resp;
      try {
        resp = await fetch(path, { method, body, cache: "no-store", credentials: "same-origin",
          headers: { Authorization: "Bearer " + state.session.access } });
      } catch (e) {
        return { ok: false, status: 0, blob: null, filename: "", error: { code: "network", message: "The appliance could not be reached.", field: "", rule: "" } };
      }
      const blob = await resp.blob();
      const out = { ok: resp.ok, status: resp.status, blob, filename: "", error: null };
      const cd = resp.headers.get("Content-Disposition") || "";
      const m = /filename="?([^";]+)"?/.exec(cd);
      if (m) out.filename = m[1];
      if (!resp.ok) {
        let e = {};
        try { e = (JSON.parse(await blob.text()) || {}).error || {}; } catch (x) { e = {}; }
        out.error = { code: e.code || "http_" + resp.status, message: e.message || "The appliance answered with status " + resp.status + ".", field: e.field || "", rule: e.rule || "" };
      }
      return out;
    };
    let r = await once();
    if (r.status === 401 && r.error && (r.error.code === "invalid_token" || r.error.code === "unauthenticated") && state.session) {
      const outcome = await refresh();
      if (outcome === "ok") r = await once();
      else if (outcome === "refused") expired();
    }
    return r;
  }

  // upload sends a multipart body (a FormData) with XMLHttpRequest, which
  // unlike fetch reports how much of the body has gone out:
  // onProgress(loaded, total) is called as it is sent. It resolves (never
  // rejects) as api does, with {ok, status, data, error}; on a refused
  // token it refreshes once and sends the body again.
  async function upload(path, body, onProgress) {
    const once = () => new Promise((resolve) => {
      if (!state.session) {
        resolve({ ok: false, status: 401, data: null, error: { code: "unauthenticated", message: "Sign in first.", field: "", rule: "" } });
        return;
      }
      const xhr = new XMLHttpRequest();
      xhr.open("POST", path);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("Authorization", "Bearer " + state.session.access);
      if (onProgress) {
        xhr.upload.addEventListener("progress", (ev) => onProgress(ev.loaded, ev.lengthComputable ? ev.total : 0));
      }
      xhr.addEventListener("load", () => {
        let data = null;
        try { data = xhr.responseText ? JSON.parse(xhr.responseText) : null; } catch (e) { data = null; }
        const ok = xhr.status >= 200 && xhr.status < 300;
        const out = { ok, status: xhr.status, data, error: null };
        if (!ok) {
          const e = (data && data.error) || {};
          out.error = { code: e.code || "http_" + xhr.status, message: e.message || "The appliance answered with status " + xhr.status + ".", field: e.field || "", rule: e.rule || "" };
        }
        resolve(out);
      });
      const lost = () => resolve({ ok: false, status: 0, data: null, error: { code: "network", message: "The appliance could not be reached.", field: "", rule: "" } });
      xhr.addEventListener("error", lost);
      xhr.addEventListener("abort", lost);
      xhr.send(body);
    });
    let r = await once();
    if (tokenRefused(r) && state.session) {
      const outcome = await refresh();
      if (outcome === "ok") r = await once();
      else if (outcome === "refused") expired();
    } else if (r.status === 503 && r.error.code === "sealed") {
      location.assign("/unseal");
    }
    return r;
  }

  // expired ends the session on this tab and sends the person to sign in,
  // remembering the page to come back to.
  function expired() {
    const back = location.pathname + location.search;
    dropSession();
    state.notice = { kind: "warn", title: "Your session has ended.", detail: "Sign in again to continue where you were.", code: "session_expired" };
    navigate(signInPath + (back.startsWith(signInPath) ? "" : "?next=" + encodeURIComponent(back)), { replace: true });
  }

  function dropSession() {
    saveSession(null);
    state.me = null;
    state.companies = [];
  }

  // signedIn starts a session from a login's token pair and goes to next.
  async function signedIn(pair, next) {
    saveSession(pair);
    state.me = null;
    state.notice = null;
    navigate(safeNext(next), { replace: true });
  }

  async function signOut() {
    const s = state.session;
    // The tab forgets the tokens first, so that leaving the page half-way
    // cannot leave it signed in; keepalive lets the revocation reach the
    // appliance even then. A failure changes nothing here.
    dropSession();
    if (s) {
      try {
        await fetch("/api/v1/auth/logout", { method: "POST", keepalive: true, cache: "no-store", credentials: "same-origin",
          headers: { Accept: "application/json", Authorization: "Bearer " + s.access } });
      } catch (e) { /* offline: the session ends on its own */ }
    }
    state.notice = { kind: "success", title: "You have signed out.", detail: "", code: "signed_out" };
    navigate(signInPath, { replace: true });
  }

  // safeNext keeps a remembered page inside the console.
  function safeNext(next) {
    return typeof next === "string" && /^\/console(\/|$|\?)/.test(next) && !next.startsWith(signInPath) ? next : "/console";
  }

  // loadPerson reads who is signed in and the companies they see.
  async function loadPerson() {
    const r = await api("GET", "/api/v1/me");
    if (!r.ok) return false;
    const me = r.data;
    const names = new Map();
    let cursor = "";
    // GOD sees every company; a member, theirs. Pages of 1000 (the API's most).
    for (let i = 0; i < 20; i++) {
      const list = await api("GET", "/api/v1/companies?limit=1000" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
      if (!list.ok) return false;
      for (const c of list.data.items || []) names.set(c.company_id, c);
      cursor = list.data.next_cursor || "";
      if (!cursor) break;
    }
    const roleOf = new Map((me.memberships || []).map((m) => [m.company_id, m.role]));
    const companies = [];
    for (const [id, c] of names) {
      const role = roleOf.get(id) || (me.is_god ? "god" : "");
      if (role) companies.push(Object.assign({}, c, { role }));
    }
    companies.sort((a, b) => a.company_name.localeCompare(b.company_name));
    state.me = me;
    state.companies = companies;
    return true;
  }

  // ---- Views and routing ----

  function registerView(pattern, spec) {
    const keys = [];
    const re = new RegExp("^" + pattern.replace(/\/+$/, "").split("/").map((seg) => {
      if (seg.startsWith(":")) {
        keys.push(seg.slice(1));
        return "([^/]+)";
      }
      return seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    }).join("/") + "/?$");
    views.push({ pattern, re, keys, spec });
  }

  function match(path) {
    for (const v of views) {
      const m = v.re.exec(path);
      if (!m) continue;
      const params = {};
      v.keys.forEach((k, i) => {
        try { params[k] = decodeURIComponent(m[i + 1]); } catch (e) { params[k] = m[i + 1]; }
      });
      return { view: v, params };
    }
    return null;
  }

  function navigate(path, opts) {
    const o = opts || {};
    if (o.replace) history.replaceState(null, "", path);
    else if (path !== location.pathname + location.search) history.pushState(null, "", path);
    route();
  }

  const roleNames = { admin: "Admin", manager: "Manager", user: "User", viewer: "Viewer", god: "GOD" };
  const roleLabel = (r) => roleNames[r] || r || "";

  // mayOpen: the view allows the role, or allows GOD and this is GOD
  // (also in a company where GOD happens to be a member).
  function mayOpen(spec, role) {
    return !spec.roles || spec.roles.includes(role) || (!!state.me && state.me.is_god && spec.roles.includes("god"));
  }

  function currentCompanyId(params) {
    if (params.company) return params.company;
    let id = "";
    try { id = sessionStorage.getItem(companyKey) || ""; } catch (e) { id = ""; }
    if (state.companies.some((c) => c.company_id === id)) return id;
    return state.companies.length ? state.companies[0].company_id : "";
  }

  async function route() {
    if (state.current) state.current.controller.abort();
    const controller = new AbortController();
    state.current = { controller };
    const path = location.pathname;
    const query = new URLSearchParams(location.search);
    state.drawn = path + location.search;
    const found = match(path);

    if (!(found && found.view.spec.public)) {
      if (!state.session) return expiredQuietly();
      if (!state.me && !(await loadPerson())) {
        // api() has sent them to sign in (the route moved on), or the
        // appliance could not answer: say so, with a way to try again.
        if (!controller.signal.aborted && state.session) unreachable();
        return;
      }
      if (controller.signal.aborted) return;
    }
    if (found && found.view.spec.public && state.session) {
      // A signed-in tab opening the sign-in page goes where it was going.
      if (state.me || await loadPerson()) return navigate(safeNext(query.get("next")), { replace: true });
      if (controller.signal.aborted) return;
    }

    const ctx = {
      path, query, params: found ? found.params : {}, me: state.me, companies: state.companies,
      company: null, role: "", api, navigate, announce, signal: controller.signal,
      live: () => !controller.signal.aborted,
      setTitle: (t) => setTitle(t, ctx),
    };
    let view = found ? found.view : null;
    if (state.me) {
      const cid = currentCompanyId(ctx.params);
      ctx.company = state.companies.find((c) => c.company_id === cid) || null;
      ctx.role = ctx.company ? ctx.company.role : (state.me.is_god ? "god" : "");
      if (ctx.params.company && !ctx.company) view = null; // not theirs: not found, naming nothing
      if (ctx.company) {
        try { sessionStorage.setItem(companyKey, ctx.company.company_id); } catch (e) { /* memory only */ }
      }
    }
    let spec = view ? view.spec : notFound;
    if (view && !mayOpen(spec, ctx.role)) spec = noAccess;

    drawChrome(ctx, view);
    const main = $("view");
    const h1 = V.el("h1", { id: "view-title", tabindex: "-1", "data-testid": "view-title" });
    const root = V.el("div", { id: "view-root", "data-view": view ? view.pattern : "", "data-testid": "view-root" });
    main.replaceChildren(h1, root);
    setTitle(typeof spec.title === "function" ? spec.title(ctx) : spec.title, ctx);
    if (!state.first) {
      h1.focus();
    }
    state.first = false;
    try {
      await spec.render(root, ctx);
    } catch (e) {
      if (controller.signal.aborted) return;
      root.replaceChildren();
      const box = V.el("div", { class: "message error", role: "alert", "data-testid": "view-error" });
      V.message(box, "error", "This page failed to show.", String(e && e.message || e), "view_failed");
      root.append(box);
      throw e; // a bug: let the browser report it
    }
  }

  function unreachable() {
    drawChrome({}, null);
    const retry = V.el("button", { type: "button", class: "primary", "data-testid": "retry", text: "Try again" });
    retry.addEventListener("click", route);
    const box = V.el("div", { class: "message error", role: "alert", "data-testid": "load-error" });
    V.message(box, "error", "The appliance did not answer.", "It may be starting or busy. Your session is kept; try again in a moment.", "unreachable");
    $("view").replaceChildren(V.el("h1", { id: "view-title", tabindex: "-1", text: "Not loaded" }), box, V.el("div", { class: "actions" }, [retry]));
  }

  // expiredQuietly sends a tab without a session to sign in, remembering
  // the page; nothing had expired, so nothing is said about it.
  function expiredQuietly() {
    const back = location.pathname + location.search;
    navigate(signInPath + (back === "/console" || back === "/console/" ? "" : "?next=" + encodeURIComponent(back)), { replace: true });
  }

  function setTitle(text, ctx) {
    const h1 = $("view-title");
    if (h1) h1.textContent = text || "";
    const co = ctx && ctx.params && ctx.params.company && ctx.company ? " · " + ctx.company.company_name : "";
    document.title = (text ? text + co + " · " : "") + "Vanta Ledger";
    announce(text || "");
  }

  function announce(text) {
    const a = $("announce");
    a.textContent = "";
    // A fresh text node makes screen readers read it even when it repeats.
    if (text) setTimeout(() => { a.textContent = text; }, 50);
  }

  const notFound = {
    title: "Page not found",
    render(root) {
      root.append(V.el("p", { class: "lead", text: "There is no such page here, or it is not yours to see." }),
        V.el("p", {}, [V.el("a", { href: "/console", text: "Go to your home page" })]));
    },
  };
  const noAccess = {
    title: "Not available to your role",
    render(root, ctx) {
      root.append(V.el("p", { class: "lead", "data-testid": "no-access", text: "Your role" + (ctx.company ? " in " + ctx.company.company_name : "") + " (" + roleLabel(ctx.role) + ") does not open this page." }),
        V.el("p", {}, [V.el("a", { href: "/console", text: "Go to your home page" })]));
    },
  };

  // ---- Header and navigation ----

  const slots = [
    { slot: "books", label: "Books", order: 50 },
    { slot: "documents", label: "Documents", order: 60 },
    { slot: "reports", label: "Reports", order: 70 },
  ];

  function drawChrome(ctx, view) {
    const signed = !!state.me;
    document.body.classList.toggle("signed-in", signed);
    $("who").hidden = !signed;
    $("nav").hidden = !signed;
    $("switcher").hidden = !signed || state.companies.length === 0;
    if (!signed) {
      $("nav").replaceChildren();
      return;
    }
    const me = state.me;
    $("who-name").textContent = me.name || me.email;
    $("who-name").title = me.email;

    // Switcher: every company with the person's role in it.
    const sw = $("switcher");
    sw.open = false;
    $("switcher-current").textContent = ctx.company ? ctx.company.company_name + " · " + roleLabel(ctx.company.role) : "Choose a company";
    const list = $("switcher-list");
    list.replaceChildren();
    for (const c of state.companies) {
      const here = ctx.company && c.company_id === ctx.company.company_id;
      list.append(V.el("li", {}, [V.el("a", {
        href: switchTarget(c, view), "data-company": c.company_id, "data-role": c.role, "data-testid": "switch-company",
        "aria-current": here ? "true" : null,
      }, [V.el("span", { class: "co-name", text: c.company_name }), V.el("span", { class: "badge role-" + c.role, text: roleLabel(c.role) })])]));
    }

    // Navigation.
    const nav = $("nav");
    nav.replaceChildren();
    const here = view ? view.pattern : "";
    const group = (id, heading, items) => {
      if (!items.length) return;
      const hid = "nav-" + id;
      if (heading) nav.append(V.el("p", { class: "nav-head", id: hid, text: heading }));
      nav.append(V.el("ul", { "aria-labelledby": heading ? hid : null, "data-group": id }, items));
    };
    const link = (v, href) => V.el("li", {}, [V.el("a", {
      href, "data-nav": v.spec.nav.slot || v.spec.nav.label, "aria-current": v.pattern === here ? "page" : null,
    }, [v.spec.nav.label])]);
    const allowed = (v, role) => mayOpen(v.spec, role);
    const entries = (g) => views.filter((v) => v.spec.nav && v.spec.nav.group === g).sort((a, b) => (a.spec.nav.order || 0) - (b.spec.nav.order || 0));

    group("top", "", entries("top").map((v) => link(v, v.pattern)));
    if (ctx.company) {
      const cid = encodeURIComponent(ctx.company.company_id);
      const items = entries("company").filter((v) => allowed(v, ctx.company.role))
        .map((v) => ({ order: v.spec.nav.order || 0, slot: v.spec.nav.slot, node: link(v, v.pattern.replace(":company", cid)) }));
      for (const s of slots) {
        if (items.some((i) => i.slot === s.slot)) continue;
        items.push({ order: s.order, node: V.el("li", {}, [V.el("span", { class: "nav-coming", "aria-disabled": "true", "data-nav": s.slot }, [s.label, " ", V.el("small", { text: "coming" })])]) });
      }
      items.sort((a, b) => a.order - b.order);
      group("company", ctx.company.company_name, items.map((i) => i.node));
    }
    if (me.is_god) group("system", "System", entries("system").filter((v) => allowed(v, "god")).map((v) => link(v, v.pattern)));
    group("you", "You", entries("you").map((v) => link(v, v.pattern)));
  }

  // switchTarget: the same page in the other company when the page is a
  // company's and their role there opens it, else that company's page.
  function switchTarget(c, view) {
    const cid = encodeURIComponent(c.company_id);
    if (view && view.pattern.includes(":company") && view.keys.length === 1 && mayOpen(view.spec, c.role)) {
      return view.pattern.replace(":company", cid);
    }
    return "/console/c/" + cid;
  }

  // ---- Wiring ----

  function onClick(ev) {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const a = ev.target.closest && ev.target.closest("a[href]");
    if (!a || a.target || a.hasAttribute("download")) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || !/^\/console(\/|$)/.test(url.pathname)) return;
    // A link within the page (the skip link) is the browser's to follow.
    if (url.hash && url.pathname === location.pathname && url.search === location.search) return;
    ev.preventDefault();
    navigate(url.pathname + url.search);
  }

  function start() {
    document.addEventListener("click", onClick);
    // Back and forward re-route; a move to a fragment of the same page
    // (the skip link) keeps the view as it is.
    window.addEventListener("popstate", () => {
      if (location.pathname + location.search !== state.drawn) route();
    });
    $("sign-out").addEventListener("click", signOut);
    // A click elsewhere closes the company switcher.
    document.addEventListener("click", (ev) => {
      if ($("switcher").open && !$("switcher").contains(ev.target)) $("switcher").open = false;
    });
    // Escape closes the company switcher and puts focus back on it.
    $("switcher").addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && $("switcher").open) {
        $("switcher").open = false;
        $("switcher-summary").focus();
      }
    });
    route();
  }

  document.addEventListener("DOMContentLoaded", start);

  return {
    registerView, navigate, api, raw, upload, announce, roleLabel,
    el: V.el, message: V.message, dateTime: V.dateTime,
    refreshMe: async () => { state.me = null; return loadPerson(); },
    // For the shell's own views (sign-in, account): not for other views.
    _session: { signedIn, signOut, safeNext, takeNotice: () => { const n = state.notice; state.notice = null; return n; }, saveSession },
  };
})();
