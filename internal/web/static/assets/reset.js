// The password page. With a reset link (/reset#vpr_…, the token in the
// fragment, which browsers never send to a server) it sets a new password
// with the link; without one it replaces a password the person knows:
// the initial one an administrator chose, or their own.
"use strict";

(() => {
  const V = Vanta;
  const $ = V.$;
  const state = { token: "", busy: false };

  function readLink() {
    let t = (location.hash || "").replace(/^#/, "");
    try { t = decodeURIComponent(t); } catch (e) { /* keep it */ }
    t = t.replace(/\s+/g, "");
    if (!t.startsWith("vpr_")) return;
    state.token = t;
    history.replaceState(null, "", location.pathname + location.search);
    $("token-from-link").hidden = false;
    $("current-fields").hidden = true;
    $("mode-lead").textContent = "An administrator made this link so that you can set a new password. Choose it below. Every session of your account ends; your authenticator app, if you use one, stays as it is.";
  }

  function clearErrors() {
    for (const p of $("password-form").querySelectorAll("[data-error-for]")) {
      p.textContent = "";
      delete p.dataset.code;
    }
    V.message($("password-error"), "", "");
  }

  function fieldError(field, code, text) {
    const p = $("password-form").querySelector(`[data-error-for="${CSS.escape(field)}"]`);
    if (!p || p.closest("[hidden]")) {
      return V.message($("password-error"), "error", "The password was not set.", text, code);
    }
    p.textContent = text;
    p.dataset.code = code;
    $(p.dataset.input).focus();
  }

  function refused(err, retryAfter) {
    switch (err.code) {
      case "invalid_credentials":
        return fieldError("password", err.code, "The email address, the current password or the authenticator code is not right.");
      case "weak_password":
        return fieldError("new_password", err.code, V.capitalise(err.message.replace(/^new password /, "the new password ")) + ".");
      case "invalid_reset_token":
        return V.message($("password-error"), "error", "This reset link cannot be used.",
          "It is unknown, already used or expired. Ask your administrator for a new one.", err.code);
      case "locked_out":
      case "rate_limited":
        return V.message($("password-error"), "error", "Too many attempts.",
          `Wait ${V.plural(Math.max(retryAfter, 1), "second", "seconds")}, then try again.`, err.code);
    }
    if (err.field) return fieldError(err.field, err.code, V.capitalise(err.message) + ".");
    V.message($("password-error"), "error", "The password was not set.", V.capitalise(err.message), err.code);
  }

  async function submit(ev) {
    ev.preventDefault();
    if (state.busy) return;
    clearErrors();
    const fresh = $("new-input").value;
    if (!fresh) return fieldError("new_password", "required", "Choose a new password.");
    let r;
    state.busy = true;
    $("password-submit").disabled = true;
    if (state.token) {
      r = await V.api("POST", "/api/v1/auth/password/reset", { token: state.token, new_password: fresh });
    } else {
      const body = { email: $("email-input").value.trim(), password: $("current-input").value, new_password: fresh };
      const code = $("code-input").value.replace(/\s+/g, "");
      if (code) body.totp = code;
      r = await V.api("POST", "/api/v1/auth/password", body);
    }
    state.busy = false;
    $("password-submit").disabled = false;
    if (!r.ok) return refused(r.error, r.retryAfter);
    for (const id of ["current-input", "new-input", "code-input"]) $(id).value = "";
    state.token = "";
    $("done-summary").textContent = "Sign in with your email address and your new password (and your authenticator code, if you use one). Any other session of your account has ended.";
    $("password-card").hidden = true;
    $("done-view").hidden = false;
    $("done-title").focus();
  }

  V.wireReveal();
  readLink();
  $("password-form").addEventListener("submit", submit);
})();
