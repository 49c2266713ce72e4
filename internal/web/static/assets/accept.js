// The invitation page. The token comes in the link's fragment
// (/accept#vinv_…), which browsers never send to a server, so it stays out
// of access logs; the page keeps it in memory and takes it out of the
// address bar. One form serves both cases the appliance knows: a new
// account (name and password), or an existing account proven by its
// password (and its code, when it has a second factor).
"use strict";

(() => {
  const V = Vanta;
  const $ = V.$;
  const PREFIX = "vinv_";
  const QR_PREFIX = "data:image/png;base64,";

  const state = {
    token: "",        // the token from the link, while its field is hidden
    preview: null,    // {token, company_name, email, role} the appliance recognised
    busy: false,
    blockedUntil: 0,  // rate limited or locked out until then
    enrol: null,      // an admin's new second factor, until hidden
  };

  // What each role may do in this version, and nothing it may not yet.
  const ROLES = {
    admin: ["Admin", "Admins manage the company’s members, invitations and settings, and read its audit trail."],
    manager: ["Manager", "Managers see the company’s settings and allowances."],
    user: ["User", "Users see the company’s settings and allowances."],
    viewer: ["Viewer", "Viewers see the company’s settings and allowances."],
  };

  // ---- The token ----

  // tokenFrom finds the token in what was pasted: the token itself, or a
  // whole link with the token after its #.
  function tokenFrom(text) {
    let s = (text || "").trim();
    const hash = s.indexOf("#");
    if (hash >= 0) s = s.slice(hash + 1);
    try { s = decodeURIComponent(s); } catch (e) { /* keep it as it is */ }
    return s.replace(/\s+/g, "");
  }

  // readLink takes the token out of the address bar into memory.
  function readLink() {
    const t = tokenFrom(location.hash);
    if (t) {
      state.token = t;
      history.replaceState(null, "", location.pathname + location.search);
      $("token-input").value = "";
      $("token-field").hidden = true;
      $("token-from-link").hidden = false;
      clearForm();
      preview(t);
    } else if (!state.token) {
      $("token-from-link").hidden = true;
      $("token-field").hidden = false;
    }
  }

  // preview asks the appliance what the invitation offers, to name the
  // company before anything is typed. It spends nothing. A token it does
  // not know is shown as refused at once; when the appliance cannot answer
  // (sealed, busy, too many lookups) the page works as without it.
  async function preview(token) {
    $("invitation-preview").hidden = true;
    state.preview = null;
    if (!token.startsWith(PREFIX)) return;
    const r = await V.api("POST", "/api/v1/auth/invitations/preview", { token });
    if (currentToken() !== token) return; // another token meanwhile
    if (!r.ok) {
      if (r.error.code === "invalid_invitation") refused(r, "");
      return;
    }
    state.preview = Object.assign({ token }, r.data);
    const [roleName] = ROLES[r.data.role] || [V.capitalise(String(r.data.role || ""))];
    $("preview-company").textContent = `${r.data.company_name} invites you.`;
    $("preview-detail").textContent = ` The invitation is for ${r.data.email}, as ${roleName.toLowerCase()}.`;
    $("invitation-preview").hidden = false;
  }

  // showTokenField lets the token be pasted or corrected; value is what
  // the field starts with.
  function showTokenField(value) {
    state.token = "";
    $("token-from-link").hidden = true;
    $("token-field").hidden = false;
    $("token-input").value = value;
  }

  function currentToken() {
    return $("token-field").hidden ? state.token : tokenFrom($("token-input").value);
  }

  // ---- Errors ----

  function clearForm() {
    const form = $("accept-form");
    for (const p of form.querySelectorAll("[data-error-for]")) {
      p.textContent = "";
      delete p.dataset.code;
    }
    for (const i of form.querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
    V.message($("accept-error"), "", "");
  }

  // fieldError shows text next to the field the API names (token, name,
  // password or totp), marks the field invalid and puts the cursor in it.
  function fieldError(field, code, text) {
    const p = $("accept-form").querySelector(`[data-error-for="${CSS.escape(field)}"]`);
    if (!p) {
      V.message($("accept-error"), "error", "The invitation was not accepted.", text, code);
      return;
    }
    if (field === "totp") $("existing").open = true;
    // A token from the link is shown once something is wrong with it.
    if (field === "token" && $("token-field").hidden) showTokenField(state.token);
    p.textContent = text;
    p.dataset.code = code;
    const input = $(p.dataset.input);
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }

  function sentence(s) {
    s = V.capitalise((s || "").replace(/^auth: /, ""));
    return s + (/[.!?)]$/.test(s) ? "" : ".");
  }

  function refused(r, name) {
    const err = r.error;
    const box = $("accept-error");
    switch (err.code) {
      case "invalid_invitation":
        return fieldError("token", err.code,
          "This invitation cannot be used: it is unknown, already used, withdrawn or expired. Check that the whole link was copied, or ask the administrator who invited you for a new invitation.");
      case "weak_password":
        return fieldError("password", err.code, sentence(err.message) + " Choose another password for your new account.");
      case "validation_failed":
        if (err.field === "name" && !name) {
          return fieldError("name", err.code,
            "Enter your name: the invited email address has no account here yet, so a new one is made with this name. (Have an account already? Then the invitation went to another address: ask the administrator.)");
        }
        if (err.field === "name") return fieldError("name", err.code, sentence(err.message) + " Enter it as plain text on one line.");
        return fieldError(err.field || "-", err.code, sentence(err.message));
      case "invalid_credentials":
        $("existing").open = true;
        return fieldError("password", err.code,
          "The invited email address already has an account here, and this is not its password, or its authenticator code is missing or wrong. Enter the password you sign in with (and the code, if you use an app); your name is then not needed.");
      case "password_change_required":
        // The account's password was chosen by an administrator: it proves
        // nothing about who is here, so it cannot join a company.
        return fieldError("password", err.code,
          "This account’s password was set by an administrator, so it cannot be used to join another company. Set your own password first on the page /reset (your email, this password, and your new one), then accept the invitation with your new password.");
      case "totp_required":
        return fieldError("totp", err.code, "Your account uses an authenticator app: enter the 6-digit code it shows now.");
      case "invalid_totp":
        $("code-input").value = "";
        return fieldError("totp", err.code,
          "This code was not accepted. Enter the code the app shows now; each code works only once, so if it was just used, wait for the next one.");
      case "locked_out":
      case "rate_limited": {
        const secs = Math.max(r.retryAfter, 1);
        blockFor(secs);
        return V.message(box, "error",
          err.code === "locked_out" ? "Too many failed attempts for this account." : "Too many attempts from this computer.",
          `Wait ${V.plural(secs, "second", "seconds")}, then try again.`, err.code);
      }
      case "sealed":
        return V.message(box, "warn", "The appliance is sealed.",
          "Its custodians must unseal it before an invitation can be accepted. Try again later: the invitation stays valid until it expires.", err.code);
      case "starting":
      case "unavailable":
        return V.message(box, "warn", "The appliance is not ready yet.", "It is still starting or its databases are busy. Try again in a moment.", err.code);
      case "network":
        return V.message(box, "error", "The appliance could not be reached.", "Check the network connection and try again.", err.code);
    }
    if (err.field && $("accept-form").querySelector(`[data-error-for="${CSS.escape(err.field)}"]`)) {
      return fieldError(err.field, err.code, sentence(err.message));
    }
    V.message(box, "error", "The invitation was not accepted.", sentence(err.message), err.code);
  }

  // ---- Accepting ----

  async function submit(ev) {
    ev.preventDefault();
    if (state.busy) return;
    clearForm();
    const token = currentToken();
    const name = $("name-input").value.trim();
    const password = $("password-input").value;
    const code = $("code-input").value.replace(/\s+/g, "");
    if (!token) {
      return fieldError("token", "required", "Paste the invitation token, or the whole link you were given.");
    }
    if (!token.startsWith(PREFIX)) {
      return fieldError("token", "malformed", "This is not an invitation token: those start with vinv_. Paste the whole link or token again.");
    }
    if (!password) {
      return fieldError("password", "required",
        "Enter a password: a new one for a new account, or the password of your existing account.");
    }
    if (code && !/^\d{6}$/.test(code)) {
      return fieldError("totp", "malformed", "A code is the 6 digits the authenticator app shows now. Leave this empty if you do not use one.");
    }
    if (Date.now() < state.blockedUntil) {
      return V.message($("accept-error"), "error", "Too many attempts.", "Wait a few seconds, then try again.", "rate_limited");
    }
    const body = { token, password };
    if (name) body.name = name;
    if (code) body.totp = code;
    busy(true);
    const r = await V.api("POST", "/api/v1/auth/invitations/accept", body);
    busy(false);
    if (!r.ok) return refused(r, name);
    accepted(r.data, !!code, state.preview && state.preview.token === token ? state.preview : null);
  }

  function accepted(d, usedCode, shown) {
    // What was typed leaves the page; the token is spent.
    state.token = "";
    for (const id of ["token-input", "name-input", "password-input", "code-input"]) $(id).value = "";
    V.hideSecret("password-input");

    const known = shown ? shown.company_name : "";
    state.preview = null;
    const company = known || d.company_id || "";
    $("accepted-company-name").textContent = company;
    const u = d.user || {};
    const [roleName, roleNote] = ROLES[d.role] || [V.capitalise(String(d.role || "")), ""];
    $("accepted-email").textContent = u.email || "";
    $("accepted-name").textContent = u.name || "";
    $("accepted-role").textContent = roleName;
    $("accepted-role").dataset.role = d.role || "";
    $("accepted-company").textContent = d.company_id || "";
    const fresh = !!d.new_account;
    $("accepted-new").textContent = fresh ? "Yes — a new account was made for you" : "No — your existing account was added to the company";
    $("accepted-new").dataset.newAccount = String(fresh);
    $("accepted-summary").textContent =
      `${u.email || "You"} joined ${known ? company : "the company " + company} as ${roleName.toLowerCase()}. ` +
      (fresh ? "A new account was made for you." : "Your account keeps the companies it was in already.");
    $("accepted-role-note").textContent = roleNote;

    let next;
    if (d.totp) next = "Add your authenticator key below before you leave this page. Then sign in to Vanta Ledger with your email address, your password and the code the app shows.";
    else if (usedCode) next = "You can now sign in to Vanta Ledger with your email address, your password and a code from your authenticator app.";
    else next = "You can now sign in to Vanta Ledger with your email address and your password.";
    $("accepted-next").textContent = next;

    $("accept-card").hidden = true;
    $("accepted-view").hidden = false;
    document.title = "Invitation accepted · Vanta Ledger";
    if (d.totp && d.totp.secret) showEnrolment(d.totp);
    window.scrollTo(0, 0);
    $("accepted-title").focus();
  }

  // ---- An admin's second factor: shown once ----

  function showEnrolment(t) {
    state.enrol = { secret: String(t.secret), uri: String(t.uri || "") };
    V.groups($("totp-secret"), state.enrol.secret);
    $("totp-uri").textContent = state.enrol.uri;
    const qr = typeof t.qr_png === "string" && t.qr_png.startsWith(QR_PREFIX) ? t.qr_png : "";
    if (qr) $("totp-qr").src = qr;
    $("totp-qr-figure").hidden = !qr;
    $("totp-saved").checked = false;
    $("totp-hide").disabled = true;
    $("totp-shown").hidden = false;
    $("totp-hidden").hidden = true;
    $("totp-card").hidden = false;
    // Leaving now loses the key for good.
    window.addEventListener("beforeunload", guardLeaving);
  }

  function hideEnrolment() {
    state.enrol = null;
    V.clear($("totp-secret"));
    $("totp-uri").textContent = "";
    $("totp-qr").removeAttribute("src");
    $("totp-qr-figure").hidden = true;
    for (const id of ["totp-secret-status", "totp-uri-status"]) $(id).textContent = "";
    $("totp-shown").hidden = true;
    $("totp-hidden").hidden = false;
    window.removeEventListener("beforeunload", guardLeaving);
  }

  function guardLeaving(ev) {
    ev.preventDefault();
    ev.returnValue = "";
  }

  async function copyFromEnrol(what, statusId) {
    if (!state.enrol) return;
    const done = await V.copyText(state.enrol[what]);
    const status = $(statusId);
    status.textContent = done ? "Copied. Paste it into the authenticator app, then clear the clipboard." : "This browser would not copy. Select it and copy it by hand.";
    status.className = done ? "status" : "status warn";
  }

  // ---- Small things ----

  function busy(on) {
    state.busy = on;
    const b = $("accept-submit");
    b.disabled = on || Date.now() < state.blockedUntil;
    b.textContent = on ? "Accepting…" : "Accept the invitation";
  }

  function blockFor(secs) {
    state.blockedUntil = Date.now() + secs * 1000;
    $("accept-submit").disabled = true;
    setTimeout(() => {
      if (Date.now() >= state.blockedUntil) $("accept-submit").disabled = state.busy;
    }, secs * 1000 + 50);
  }

  // ---- Wiring ----

  V.wireReveal();
  $("accept-form").addEventListener("submit", submit);
  $("token-input").addEventListener("change", () => preview(tokenFrom($("token-input").value)));
  $("token-change").addEventListener("click", () => {
    clearForm();
    $("invitation-preview").hidden = true;
    showTokenField("");
    $("token-input").focus();
  });
  $("totp-copy-secret").addEventListener("click", () => copyFromEnrol("secret", "totp-secret-status"));
  $("totp-copy-uri").addEventListener("click", () => copyFromEnrol("uri", "totp-uri-status"));
  $("totp-saved").addEventListener("change", () => { $("totp-hide").disabled = !$("totp-saved").checked; });
  $("totp-hide").addEventListener("click", hideEnrolment);
  // A second link opened in this tab changes only the fragment. After an
  // acceptance the page starts afresh (asking first while a key is shown).
  window.addEventListener("hashchange", () => {
    if ($("accepted-view").hidden) readLink();
    else location.reload();
  });
  readLink();
})();
