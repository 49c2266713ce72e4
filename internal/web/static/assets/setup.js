// The first-boot wizard. First the one-time setup token from the boot log
// (until the creator account exists, the appliance asks it of whoever
// sets it up). Keys: choose custodians, hand out each share once
// and have each custodian confirm it, then send everyone to /unseal. Once
// the appliance is unsealed: create the creator account (GOD) and enrol its
// authenticator, sign in with it, and create the first company.
"use strict";

(() => {
  const V = Vanta;
  const $ = V.$;

  const state = {
    status: null,    // last seal-status
    reissue: false,  // step 1 replaces a pending share set
    returnTo: "",    // where Cancel on step 1 goes
    issued: [],      // shares of this ceremony; each is dropped once hidden
    index: 0,        // custodian being handled in step 2
    threshold: 0,
    rows: [],        // step 1 custodian inputs: {name, age}
    busy: false,
    watch: 0,        // timer that waits for the unseal
    existing: null,  // a company that exists already, for finishing without another
    setupToken: "",  // the one-time setup token, in memory only, until the creator account exists
    tokenRequired: true, // no creator account yet: the appliance wants the token
    afterToken: null, // the screen to show once the token is entered
  };

  // The ceremony token init returns is the proof "start over" needs. It is
  // kept in this tab's session storage only until the ceremony ends, so a
  // reload of the wizard during the ceremony can still start over.
  const ceremonyKey = "vanta.ceremony_token";
  const ceremony = {
    get: () => { try { return sessionStorage.getItem(ceremonyKey) || ""; } catch { return ""; } },
    set: (t) => { try { sessionStorage.setItem(ceremonyKey, t); } catch { /* private mode: memory only */ } },
    clear: () => { try { sessionStorage.removeItem(ceremonyKey); } catch { /* nothing kept */ } },
  };

  // The signed-in creator. Tokens live in this variable only: never in
  // storage or cookies, so closing or reloading the page ends the session.
  const session = { access: "", refresh: "", email: "" };
  // The creator account just made, until its first sign-in: the password
  // is kept only to sign in with the first code, the secret only to show it.
  let enrol = null;

  const screens = ["step-loading", "step-already", "step-pending", "step-token", "step-configure", "step-shares", "step-done",
    "step-god", "step-totp", "step-login", "step-company", "step-finish", "step-complete"];
  const wizardStep = {
    "step-token": ["stepper", "configure"], "step-configure": ["stepper", "configure"], "step-shares": ["stepper", "shares"], "step-done": ["stepper", "done"],
    "step-god": ["stepper-access", "god"], "step-login": ["stepper-access", "god"], "step-totp": ["stepper-access", "totp"],
    "step-company": ["stepper-access", "company"], "step-finish": ["stepper-access", "finish"],
  };

  function go(id) {
    for (const s of screens) $(s).hidden = s !== id;
    const [stepper, current] = wizardStep[id] || ["", ""];
    for (const ol of [$("stepper"), $("stepper-access")]) {
      ol.hidden = ol.id !== stepper;
      let past = true;
      for (const li of ol.children) {
        const here = li.dataset.step === current;
        if (here) past = false;
        li.className = here ? "current" : past ? "done" : "";
      }
    }
    if (id !== "step-already") stopWatching();
    window.scrollTo(0, 0);
  }

  // ---- Start: ask the appliance where it stands. ----

  async function load() {
    go("step-loading");
    $("load-error").hidden = true;
    $("load-retry").hidden = true;
    const [r, tok] = await Promise.all([V.api("GET", "/api/v1/sys/seal-status"), V.api("GET", "/api/v1/sys/setup-token")]);
    if (!r.ok) {
      V.message($("load-error"), "error", "The appliance did not answer.", r.error.message, r.error.code);
      $("load-retry").hidden = false;
      return;
    }
    // An appliance that does not say is asked with the token when it
    // refuses without (setup_token_required).
    state.tokenRequired = !tok.ok || !!(tok.data && tok.data.required);
    route(r.data);
  }

  function route(st, note) {
    state.status = st;
    if (st.initialized && st.sealed) {
      showSealed();
    } else if (st.initialized) {
      showAccess();
    } else if (st.shares > 0) {
      showPending(st, note);
    } else {
      withSetupToken(() => showConfigure(false));
    }
  }

  // ---- The one-time setup token: asked first, sent on the calls that
  // need it (creating the shares and the creator account). ----

  function withSetupToken(next, err) {
    if ((state.setupToken || !state.tokenRequired) && !err) return next();
    state.afterToken = next;
    clearForm($("token-form"), $("token-error"));
    if (err) state.tokenRequired = true;
    if (err && state.setupToken) {
      V.message($("token-error"), "error", "The appliance did not accept this setup token.",
        "Enter the token printed in the boot log; the command vanta ctl setup-token shows it on the appliance.", err.code);
    } else if (err) {
      V.message($("token-error"), "info", "This step needs the setup token.",
        "Enter it to go on; what you filled in is kept.", err.code);
    }
    state.setupToken = "";
    go("step-token");
    $("setup-token").focus();
  }

  function submitToken(ev) {
    ev.preventDefault();
    clearForm($("token-form"), $("token-error"));
    const tok = $("setup-token").value.trim();
    if (!required($("token-form"), "setup_token", tok, "enter the setup token")) return;
    state.setupToken = tok;
    $("setup-token").value = "";
    V.hideSecret("setup-token");
    const next = state.afterToken;
    state.afterToken = null;
    if (next) next();
  }

  function setupHeaders() {
    return state.setupToken ? { "X-Vanta-Setup-Token": state.setupToken } : undefined;
  }

  // ---- Step 1: how many custodians, how many to unseal, who. ----

  function intValue(id) {
    const v = $(id).value.trim();
    return /^\d+$/.test(v) ? parseInt(v, 10) : NaN;
  }

  function showConfigure(reissue, from) {
    state.reissue = reissue;
    state.returnTo = reissue ? from || "step-pending" : "";
    $("reissue-note").hidden = !reissue;
    // Without the token of this tab's ceremony, ask for a proof.
    $("reissue-proof-field").hidden = !reissue || ceremony.get() !== "";
    $("reissue-proof").value = "";
    $("configure-cancel").hidden = !reissue;
    $("init-submit").textContent = reissue ? "Create new shares" : "Create the shares";
    if (reissue && from === "step-pending" && state.status && state.status.shares > 0) {
      $("shares").value = state.status.shares;
      $("threshold").value = state.status.threshold;
      state.rows = (state.status.custodians || []).map((c) => ({
        name: V.custodianLabel(c) === c.name ? c.name : "",
        age: "",
      }));
    }
    clearForm($("configure-form"), $("configure-error"));
    renderRows();
    explain();
    go("step-configure");
  }

  function renderRows() {
    const n = intValue("shares");
    const count = Number.isNaN(n) ? 0 : Math.min(Math.max(n, 0), 255);
    while (state.rows.length < count) state.rows.push({ name: "", age: "" });
    const list = $("custodian-rows");
    if (list.children.length === count) return;
    V.clear(list);
    for (let i = 0; i < count; i++) {
      const row = state.rows[i];
      const name = V.el("input", {
        type: "text", id: `custodian-name-${i + 1}`, "data-testid": `custodian-name-${i + 1}`,
        maxlength: 100, placeholder: "Name (optional)", autocomplete: "off",
      });
      name.value = row.name;
      name.addEventListener("input", () => { row.name = name.value; });
      const age = V.el("input", {
        type: "text", id: `custodian-age-${i + 1}`, class: "age", placeholder: "age1… public key (optional)",
        autocomplete: "off", spellcheck: "false",
      });
      age.value = row.age;
      age.addEventListener("input", () => { row.age = age.value; });
      list.append(V.el("li", { "data-slot": i + 1 }, [
        V.el("label", { for: name.id, text: `Custodian ${i + 1}` }), name,
        V.el("p", { class: "field-error", "data-error-for": `custodians[${i}].name`, "data-input": name.id }),
        V.el("label", { for: age.id, class: "age-label", text: "age key" }), age,
        V.el("p", { class: "field-error", "data-error-for": `custodians[${i}].age_recipient`, "data-input": age.id }),
      ]));
    }
  }

  function explain() {
    const n = intValue("shares");
    const k = intValue("threshold");
    const out = $("threshold-explain");
    if (Number.isNaN(n) || n < 2 || n > 255) {
      out.textContent = "Choose between 2 and 255 custodians.";
    } else if (Number.isNaN(k) || k < 2 || k > n) {
      out.textContent = `The number needed to unseal must be between 2 and ${n}.`;
    } else {
      const spare = n - k;
      out.textContent = `Any ${k} of the ${n} custodians together can unseal the appliance; fewer than ${k} cannot. ` +
        (spare === 0
          ? "Every share is needed: if one is lost, the data can no longer be unlocked."
          : `Up to ${V.plural(spare, "share", "shares")} can be lost without locking the data away.`);
    }
  }

  function clearForm(form, box) {
    for (const p of form.querySelectorAll("[data-error-for]")) {
      p.textContent = "";
      delete p.dataset.code;
    }
    for (const i of form.querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
    if (box) V.message(box, "", "");
  }

  // showError shows an API error next to the field of form it names, or
  // in box, under title, when it names none there.
  function showError(form, box, title, err) {
    const p = err.field && form.querySelector(`[data-error-for="${CSS.escape(err.field)}"]`);
    let text = err.message || "";
    if (err.field && text.startsWith(err.field + ": ")) text = text.slice(err.field.length + 2);
    text = V.capitalise(text);
    if (!p) {
      V.message(box, "error", title, text + (/[.!?)]$/.test(text) ? "" : "."), err.code);
      return;
    }
    p.textContent = text;
    p.dataset.code = err.code;
    const input = $(p.dataset.input || err.field);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  }

  function fieldError(err) {
    showError($("configure-form"), $("configure-error"), "The shares were not created.", err);
  }

  function custodiansRequest() {
    const useAge = $("use-age").checked;
    const n = intValue("shares");
    const rows = state.rows.slice(0, Number.isNaN(n) ? 0 : n);
    let last = -1;
    rows.forEach((r, i) => { if (r.name.trim() || (useAge && r.age.trim())) last = i; });
    // Custodians are positional; an unnamed slot before a named one keeps
    // the appliance's default name.
    return rows.slice(0, last + 1).map((r, i) => {
      const c = { name: r.name.trim() || `custodian ${i + 1}` };
      if (useAge && r.age.trim()) c.age_recipient = r.age.trim();
      return c;
    });
  }

  async function submitConfigure(ev) {
    ev.preventDefault();
    if (state.busy) return;
    clearForm($("configure-form"), $("configure-error"));
    const shares = intValue("shares");
    const threshold = intValue("threshold");
    if (Number.isNaN(shares)) return fieldError({ field: "shares", message: "enter a whole number", code: "client" });
    if (Number.isNaN(threshold)) return fieldError({ field: "threshold", message: "enter a whole number", code: "client" });
    const body = { shares, threshold };
    const custodians = custodiansRequest();
    if (custodians.length) body.custodians = custodians;
    if (state.reissue) {
      body.reissue = true;
      const proof = ceremony.get() || $("reissue-proof").value.trim();
      if (proof.startsWith("vct_")) body.ceremony_token = proof;
      else if (proof) body.share = proof;
    }

    busy(true, "init-submit", "Creating…");
    const r = await V.api("POST", "/api/v1/sys/init", body, undefined, setupHeaders());
    busy(false, "init-submit");
    if (!r.ok) {
      if (r.error.code === "setup_token_required") return withSetupToken(() => go("step-configure"), r.error);
      if (r.error.code === "already_initialized") return load();
      if (r.error.code === "confirmation_pending") {
        const st = await V.api("GET", "/api/v1/sys/seal-status");
        if (st.ok) return route(st.data, ["warn", "Setup was already started, perhaps on another screen.", "Confirm the shares handed out, or start over."]);
      }
      if (r.error.code === "ceremony_proof_required") {
        ceremony.clear();
        $("reissue-proof-field").hidden = false;
        $("reissue-proof").focus();
      }
      return fieldError(r.error);
    }
    $("reissue-proof").value = "";
    V.hideSecret("reissue-proof");
    if (r.data.ceremony_token) ceremony.set(r.data.ceremony_token);
    state.issued = r.data.shares.map((s) => Object.assign({}, s));
    state.threshold = r.data.threshold;
    state.index = 0;
    window.addEventListener("beforeunload", guardLeaving);
    showShare();
  }

  function busy(on, buttonId, label) {
    state.busy = on;
    const b = $(buttonId);
    if (on) {
      b.dataset.label = b.textContent;
      b.textContent = label;
    } else if (b.dataset.label) {
      b.textContent = b.dataset.label;
    }
    b.disabled = on;
  }

  function guardLeaving(ev) {
    ev.preventDefault();
    ev.returnValue = "";
  }

  // ---- Step 2: each share once, then its confirmation. ----

  function current() { return state.issued[state.index]; }

  function renderDots() {
    const dots = $("share-dots");
    V.clear(dots);
    state.issued.forEach((s, i) => {
      dots.append(V.el("li", {
        class: i < state.index ? "done" : i === state.index ? "current" : "",
        title: V.custodianLabel(s), text: i < state.index ? "✓" : String(s.slot),
      }));
    });
    $("share-counter").textContent = `Custodian ${state.index + 1} of ${state.issued.length}`;
  }

  function showShare() {
    const s = current();
    const who = V.custodianLabel(s);
    renderDots();
    $("share-card").dataset.slot = s.slot;
    $("share-custodian").textContent = who;
    $("share-custodian-2").textContent = who;
    $("share-slot").textContent = s.slot;
    const box = $("share-text");
    V.clear(box);
    box.classList.toggle("armored", s.encrypted);
    if (s.encrypted) {
      box.textContent = s.share;
    } else {
      // Groups of four, for reading aloud or copying by hand; the
      // appliance ignores the spaces.
      V.groups(box, s.share);
    }
    $("share-encrypted-note").hidden = !s.encrypted;
    $("share-plain-note").hidden = s.encrypted;
    $("share-action-status").textContent = "";
    $("share-saved").checked = false;
    $("share-saved-label").textContent = `${who} has saved this share somewhere safe`;
    $("share-continue").disabled = true;
    $("share-card").hidden = false;
    $("confirm-card").hidden = true;
    go("step-shares");
  }

  async function copyShare() {
    const s = current();
    const status = $("share-action-status");
    if (!s.share) return;
    const done = await V.copyText(s.share);
    status.textContent = done
      ? "Copied. Paste it where it will be kept, then clear the clipboard."
      : "This browser would not copy. Select the share and copy it by hand, or use Download.";
    status.className = done ? "status" : "status warn";
  }

  function downloadShare() {
    const s = current();
    if (!s.share) return;
    const who = V.custodianLabel(s).replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "") || "custodian";
    const blob = new Blob([s.share + "\n"], { type: "text/plain" });
    const url = URL.createObjectURL(blob);
    const a = V.el("a", { href: url, download: `vanta-ledger-share-${s.slot}-${who}.txt` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    $("share-action-status").textContent = "Downloaded. Move the file somewhere safe, away from this computer.";
    $("share-action-status").className = "status";
  }

  function hideShare() {
    const s = current();
    // The share leaves the page for good.
    s.share = "";
    V.clear($("share-text"));
    $("share-action-status").textContent = "";
    $("share-card").hidden = true;
    $("confirm-custodian").textContent = V.custodianLabel(s);
    $("confirm-share").value = "";
    V.hideSecret("confirm-share");
    V.message($("confirm-message"), "", "");
    $("confirm-card").hidden = false;
    $("confirm-share").focus();
  }

  async function submitConfirm(ev) {
    ev.preventDefault();
    if (state.busy) return;
    const s = current();
    const input = $("confirm-share");
    const share = input.value.trim();
    const box = $("confirm-message");
    if (!share) {
      V.message(box, "error", "Enter the share first.", "", "empty");
      input.focus();
      return;
    }
    busy(true, "confirm-submit", "Checking…");
    const r = await V.api("POST", "/api/v1/sys/init/confirm", { share });
    busy(false, "confirm-submit");
    if (!r.ok) {
      if (r.error.code === "nothing_pending") {
        window.removeEventListener("beforeunload", guardLeaving);
        return load();
      }
      const [title, detail] = confirmError(r.error);
      V.message(box, "error", title, detail, r.error.code);
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    input.removeAttribute("aria-invalid");
    state.status = r.data;
    const mine = (r.data.custodians || []).find((c) => c.slot === s.slot);
    if (!mine || !mine.confirmed) {
      input.value = "";
      V.message(box, "warn", "That share belongs to another custodian.",
        `It was confirmed for them. ${V.custodianLabel(s)} must enter their own share, slot ${s.slot}.`, "other_slot");
      return;
    }
    input.value = "";
    V.hideSecret("confirm-share");
    state.index++;
    if (state.index >= state.issued.length || r.data.pending_confirmations === 0) {
      return finish(r.data);
    }
    showShare();
  }

  function confirmError(err) {
    switch (err.code) {
      case "duplicate_share":
        return ["This share was confirmed already.", V.capitalise(err.message).replace("entered", "confirmed") + "."];
    }
    return V.shareError(err);
  }

  function finish(st) {
    window.removeEventListener("beforeunload", guardLeaving);
    state.issued = [];
    const n = st.shares;
    const k = st.threshold;
    ceremony.clear();
    $("done-summary").textContent = `All ${n} custodians confirmed their shares. Any ${k} of the ${n} can unseal the appliance.`;
    $("done-threshold").textContent = `any ${k}`;
    $("done-threshold-2").textContent = `any ${k}`;
    // The last confirmation opens the appliance; it stays sealed only if
    // it restarted during the ceremony.
    $("done-title").textContent = st.sealed ? "Vanta Ledger is initialized and sealed" : "Vanta Ledger is initialized and unsealed";
    $("done-sealed").hidden = !st.sealed;
    $("done-unsealed").hidden = st.sealed;
    state.status = st;
    go("step-done");
    $(st.sealed ? "to-unseal" : "done-continue").focus();
  }

  // ---- Setup left unfinished: confirm what was handed out, or restart. ----

  function showPending(st, note) {
    state.status = st;
    const waiting = st.pending_confirmations;
    $("pending-summary").textContent =
      `${V.plural(waiting, "custodian still needs", "custodians still need")} to confirm their share. ` +
      `When all ${st.shares} have, any ${st.threshold} of them can unseal the appliance.`;
    const list = $("pending-list");
    V.clear(list);
    for (const c of st.custodians || []) {
      list.append(V.el("li", { class: c.confirmed ? "yes" : "", "data-slot": c.slot, "data-confirmed": String(c.confirmed) }, [
        V.el("span", { class: "slot-no", text: String(c.slot) }),
        V.el("span", { class: "slot-name", text: V.custodianLabel(c) }),
        V.el("span", { class: "slot-state", text: c.confirmed ? "Confirmed" : "Waiting" }),
      ]));
    }
    if (note) V.message($("pending-message"), note[0], note[1], note[2], "note");
    go("step-pending");
  }

  async function submitPending(ev) {
    ev.preventDefault();
    if (state.busy) return;
    const input = $("pending-share");
    const share = input.value.trim();
    const box = $("pending-message");
    if (!share) {
      V.message(box, "error", "Enter the share first.", "", "empty");
      input.focus();
      return;
    }
    const before = new Set((state.status.custodians || []).filter((c) => c.confirmed).map((c) => c.slot));
    busy(true, "pending-submit", "Checking…");
    const r = await V.api("POST", "/api/v1/sys/init/confirm", { share });
    busy(false, "pending-submit");
    if (!r.ok) {
      if (r.error.code === "nothing_pending") return load();
      const [title, detail] = confirmError(r.error);
      V.message(box, "error", title, detail, r.error.code);
      input.focus();
      return;
    }
    input.value = "";
    V.hideSecret("pending-share");
    if (r.data.pending_confirmations === 0) return finish(r.data);
    const added = (r.data.custodians || []).find((c) => c.confirmed && !before.has(c.slot));
    showPending(r.data, ["success", added ? `Confirmed: slot ${added.slot}, ${V.custodianLabel(added)}.` : "Confirmed.",
      `${V.plural(r.data.pending_confirmations, "confirmation", "confirmations")} to go.`]);
  }

  // ---- Initialized but sealed: wait for the custodians. ----

  function showSealed() {
    go("step-already");
    if (state.watch) return;
    // Custodians may unseal from other screens; go on when they have.
    const tick = async () => {
      const r = await V.api("GET", "/api/v1/sys/seal-status");
      if (!state.watch) return;
      if (r.ok && !(r.data.initialized && r.data.sealed)) {
        stopWatching();
        return route(r.data);
      }
      state.watch = setTimeout(tick, 2000);
    };
    state.watch = setTimeout(tick, 2000);
  }

  function stopWatching() {
    if (state.watch) clearTimeout(state.watch);
    state.watch = 0;
  }

  // ---- Unsealed: the creator account, its authenticator, the first company. ----

  // Once the creator account exists, its form is of no use to anyone:
  // the page says setup is complete and offers the creator's sign-in.
  async function showAccess() {
    if (session.access) return showCompany();
    if (enrol) return showTotp();
    const r = await V.api("GET", "/api/v1/sys/setup/status");
    if (r.ok && r.data.god_exists) return go("step-complete");
    showGod();
  }

  // Some answers mean the page is out of step with the appliance: it was
  // sealed meanwhile, or is still starting its databases.
  function unavailable(err, box) {
    if (err.code === "sealed") {
      load();
      return true;
    }
    if (err.code === "starting" || err.code === "unavailable") {
      V.message(box, "warn", "The appliance is not ready yet.", "It is still starting or its databases are busy. Try again in a moment.", err.code);
      return true;
    }
    if (err.code === "rate_limited" || err.code === "locked_out") {
      const wait = err.code === "locked_out" ? "Too many failed sign-ins for this account or from this computer." : "Too many attempts from this computer.";
      V.message(box, "error", wait, V.capitalise(err.message) + (/[.!]$/.test(err.message) ? "" : "."), err.code);
      return true;
    }
    if (err.code === "forbidden_network") {
      V.message(box, "error", "The creator account may not be used from this network address.",
        "The appliance limits it to the addresses in VANTA_GOD_ALLOW. Use a computer on an allowed network.", err.code);
      return true;
    }
    return false;
  }

  function required(form, field, value, what) {
    if (value) return true;
    showError(form, null, "", { field, message: what, code: "required" });
    return false;
  }

  function showGod() {
    if (!state.setupToken && state.tokenRequired) return withSetupToken(showGod);
    clearForm($("god-form"), $("god-error"));
    go("step-god");
    $("god-email").focus();
  }

  async function submitGod(ev) {
    ev.preventDefault();
    if (state.busy) return;
    const form = $("god-form");
    const box = $("god-error");
    clearForm(form, box);
    const email = $("god-email").value.trim();
    const name = $("god-name").value.trim();
    const password = $("god-password").value;
    if (!required(form, "email", email, "enter your email address") ||
      !required(form, "name", name, "enter your name") ||
      !required(form, "password", password, "choose a password")) return;
    if (password !== $("god-password2").value) {
      return showError(form, box, "", { field: "password2", message: "the two passwords are not the same", code: "mismatch" });
    }
    busy(true, "god-submit", "Creating…");
    const r = await V.api("POST", "/api/v1/sys/setup/god", { email, name, password }, undefined, setupHeaders());
    busy(false, "god-submit");
    if (!r.ok) {
      if (r.error.code === "setup_token_required") return withSetupToken(() => go("step-god"), r.error);
      if (r.error.code === "god_exists") {
        $("god-password").value = "";
        $("god-password2").value = "";
        return showLogin(email, ["warn", "The creator account exists already.",
          "There is only one. Sign in with it to go on. If its password or authenticator is lost, the custodians’ break-glass procedure resets them."],
          "god_exists");
      }
      if (unavailable(r.error, box)) return;
      return showError(form, box, "The creator account was not created.", r.error);
    }
    for (const id of ["god-password", "god-password2"]) {
      $(id).value = "";
      V.hideSecret(id);
    }
    state.setupToken = ""; // spent: the creator account guards the appliance now
    state.tokenRequired = false;
    enrol = { email: (r.data.user && r.data.user.email) || email, password, secret: r.data.totp.secret, uri: r.data.totp.uri, qr: r.data.totp.qr_png || "" };
    // Leaving now loses the secret for good.
    window.addEventListener("beforeunload", guardLeaving);
    showTotp();
  }

  function showTotp() {
    $("totp-email").textContent = enrol.email;
    V.groups($("totp-secret"), enrol.secret);
    $("totp-uri").textContent = enrol.uri;
    $("totp-open").href = enrol.uri;
    const qr = enrol.qr;
    $("totp-qr").src = qr.startsWith("data:image/png;base64,") ? qr : "";
    $("totp-qr-figure").hidden = !qr;
    for (const id of ["totp-secret-status", "totp-uri-status"]) $(id).textContent = "";
    $("totp-code").value = "";
    clearForm($("totp-form"), $("totp-error"));
    go("step-totp");
    $("totp-code").focus();
  }

  async function copyFromEnrol(what, statusId) {
    if (!enrol) return;
    const done = await V.copyText(enrol[what]);
    const status = $(statusId);
    status.textContent = done ? "Copied. Paste it into the authenticator app, then clear the clipboard." : "This browser would not copy. Select it and copy it by hand.";
    status.className = done ? "status" : "status warn";
  }

  // codeOf reads a 6-digit code, allowing the space some apps show.
  function codeOf(id) { return $(id).value.replace(/\s+/g, ""); }

  function codeError(form, box, err) {
    // Sign-in answers a wrong code like a wrong password (no oracle);
    // where the password was just typed on this page, it is the code.
    if (err.code === "invalid_totp" || err.code === "invalid_credentials") {
      return showError(form, box, "", { field: "totp", code: "invalid_totp",
        message: "this code was not accepted. Check that the key was entered correctly and that the clocks of this appliance and the app’s device are right. A code works only once: if it was used already, wait for the next one." });
    }
    showError(form, box, "Not signed in.", err);
  }

  async function submitTotp(ev) {
    ev.preventDefault();
    if (state.busy || !enrol) return;
    const form = $("totp-form");
    const box = $("totp-error");
    clearForm(form, box);
    const code = codeOf("totp-code");
    if (!/^\d{6}$/.test(code)) {
      return showError(form, box, "", { field: "totp", message: "enter the 6 digits the app shows", code: "client" });
    }
    busy(true, "totp-submit", "Checking…");
    const r = await V.api("POST", "/api/v1/auth/login", { email: enrol.email, password: enrol.password, totp: code });
    busy(false, "totp-submit");
    if (!r.ok) {
      if (unavailable(r.error, box)) return;
      return codeError(form, box, r.error);
    }
    $("totp-code").value = "";
    signedIn(r.data, enrol.email);
    // The secret and the password leave the page.
    enrol = null;
    V.clear($("totp-secret"));
    $("totp-uri").textContent = "";
    $("totp-open").href = "#";
    $("totp-qr").removeAttribute("src");
    $("totp-qr-figure").hidden = true;
    window.removeEventListener("beforeunload", guardLeaving);
    showCompany();
  }

  function signedIn(pair, email) {
    session.access = pair.access_token;
    session.refresh = pair.refresh_token;
    session.email = email;
  }

  function showLogin(email, note, code) {
    const form = $("login-form");
    clearForm(form, $("login-error"));
    if (note) V.message($("login-note"), note[0], note[1], note[2], code);
    else V.message($("login-note"), "", "");
    // Back is for who came here by the link on the account form.
    $("login-to-god").hidden = !!code;
    if (email) $("login-email").value = email;
    $("login-password").value = "";
    $("login-code").value = "";
    go("step-login");
    (email ? $("login-password") : $("login-email")).focus();
  }

  async function submitLogin(ev) {
    ev.preventDefault();
    if (state.busy) return;
    const form = $("login-form");
    const box = $("login-error");
    clearForm(form, box);
    const email = $("login-email").value.trim();
    const password = $("login-password").value;
    const code = codeOf("login-code");
    if (!required(form, "email", email, "enter the creator account’s email address") ||
      !required(form, "password", password, "enter the password")) return;
    if (!/^\d{6}$/.test(code)) {
      return showError(form, box, "", { field: "totp", message: "enter the 6 digits the authenticator app shows", code: "client" });
    }
    busy(true, "login-submit", "Signing in…");
    const r = await V.api("POST", "/api/v1/auth/login", { email, password, totp: code });
    if (!r.ok) {
      busy(false, "login-submit");
      if (unavailable(r.error, box)) return;
      if (r.error.code === "invalid_credentials") {
        $("login-password").focus();
        return V.message(box, "error", "Wrong email, password or code.", "Check them and try again. After five failures, sign-in waits longer each time.", r.error.code);
      }
      return codeError(form, box, r.error);
    }
    const me = await V.api("GET", "/api/v1/me", undefined, r.data.access_token);
    busy(false, "login-submit");
    if (me.ok && !me.data.is_god) {
      await V.api("POST", "/api/v1/auth/logout", undefined, r.data.access_token);
      return V.message(box, "error", "This is not the creator account.", "Only the creator account creates companies. Sign in with it.", "not_god");
    }
    $("login-password").value = "";
    V.hideSecret("login-password");
    $("login-code").value = "";
    signedIn(r.data, email);
    showCompany();
  }

  // authed calls the API as the signed-in creator. An expired access token
  // is renewed once with the refresh token; when that fails too, the
  // session is over and the creator signs in again.
  async function authed(method, path, body) {
    let r = await V.api(method, path, body, session.access);
    if (r.status === 401 && session.refresh) {
      const fresh = await V.api("POST", "/api/v1/auth/refresh", { refresh_token: session.refresh });
      if (fresh.ok) {
        session.access = fresh.data.access_token;
        session.refresh = fresh.data.refresh_token;
        r = await V.api(method, path, body, session.access);
      }
    }
    if (r.status === 401) {
      const email = session.email;
      session.access = session.refresh = "";
      showLogin(email, ["warn", "Your session has ended.", "Sign in again to go on; what you entered is kept."], "session_ended");
      return null;
    }
    return r;
  }

  let timezonesListed = false;

  async function showCompany() {
    if (!timezonesListed && typeof Intl.supportedValuesOf === "function") {
      timezonesListed = true;
      const list = $("timezones");
      for (const z of Intl.supportedValuesOf("timeZone")) list.append(V.el("option", { value: z }));
    }
    clearForm($("company-form"), $("company-error"));
    $("company-existing").hidden = true;
    $("company-title").textContent = "Create the first company";
    go("step-company");
    $("company-name").focus();
    const r = await authed("GET", "/api/v1/companies");
    if (!r || !r.ok) return;
    const items = r.data.items || [];
    if (items.length) {
      $("company-existing-title").textContent = items.length === 1 ? "A company exists already." : `${items.length} companies exist already.`;
      $("company-existing-list").textContent = items.map((c) => c.company_name).join(", ") + ". Setup is complete; another company can be created here if you wish.";
      state.existing = items[0];
      $("company-title").textContent = "Create a company";
      $("company-existing").hidden = false;
    }
  }

  async function submitCompany(ev) {
    ev.preventDefault();
    if (state.busy) return;
    const form = $("company-form");
    const box = $("company-error");
    clearForm(form, box);
    const v = (id) => $(id).value.trim();
    const body = {
      company_name: v("company-name"),
      tax_id: v("tax-id").toUpperCase(),
      email: v("company-email"),
      phone: v("phone"),
      address: v("address"),
      industry: v("industry"),
      registration_number: v("registration-number"),
      settings: { currency: v("currency").toUpperCase(), timezone: v("timezone") },
    };
    if (!required(form, "company_name", body.company_name, "enter the company’s name")) return;
    busy(true, "company-submit", "Creating…");
    const r = await authed("POST", "/api/v1/companies", body);
    busy(false, "company-submit");
    if (!r) return;
    if (!r.ok) {
      if (unavailable(r.error, box)) return;
      if (r.error.code === "internal") {
        return V.message(box, "error", "The appliance could not finish creating the company.",
          "Its log says why. Try again: creating a company picks up where it stopped.", r.error.code);
      }
      return showError(form, box, "The company was not created.", r.error);
    }
    for (const el of form.querySelectorAll("input:not(#currency):not(#timezone), textarea")) el.value = "";
    showFinish(r.data, true);
  }

  function showFinish(co, created) {
    $("finish-summary").textContent = created
      ? `${co.company_name} is created, with its own encryption key and stores.`
      : "The creator account and a company exist already.";
    const facts = $("finish-facts");
    V.clear(facts);
    const fact = (name, value, cls) => {
      if (!value) return;
      facts.append(V.el("dt", { text: name }), V.el("dd", { class: cls || null, text: value }));
    };
    fact("Creator account", session.email);
    fact("Company", co.company_name);
    fact("KRA PIN", co.tax_id, "mono");
    fact("Currency", co.settings && co.settings.currency);
    fact("Time zone", co.settings && co.settings.timezone);
    fact("Company id", co.company_id, "mono");
    $("finish-status").textContent = "";
    $("finish-logout").disabled = !session.access;
    go("step-finish");
  }

  async function logout() {
    if (!session.access || state.busy) return;
    busy(true, "finish-logout", "Signing out…");
    const r = await V.api("POST", "/api/v1/auth/logout", undefined, session.access);
    busy(false, "finish-logout");
    session.access = session.refresh = "";
    $("finish-logout").disabled = true;
    $("finish-status").textContent = r.ok || r.status === 401 ? "Signed out." : "Signed out of this page; the session ends by itself within 15 minutes.";
  }

  // ---- Wiring ----

  function wire() {
    V.wireReveal();
    $("load-retry").addEventListener("click", load);
    $("token-form").addEventListener("submit", submitToken);
    $("configure-form").addEventListener("submit", submitConfigure);
    $("shares").addEventListener("input", () => { renderRows(); explain(); });
    $("threshold").addEventListener("input", explain);
    for (const b of document.querySelectorAll("button.preset")) {
      b.addEventListener("click", () => {
        $("shares").value = b.dataset.shares;
        $("threshold").value = b.dataset.threshold;
        renderRows();
        explain();
      });
    }
    $("done-continue").addEventListener("click", () => route(state.status));
    $("use-age").addEventListener("change", () => {
      $("custodian-rows").classList.toggle("with-age", $("use-age").checked);
    });
    $("configure-cancel").addEventListener("click", () => {
      if (state.returnTo === "step-confirm") go("step-shares");
      else showPending(state.status);
    });
    $("share-saved").addEventListener("change", () => { $("share-continue").disabled = !$("share-saved").checked; });
    $("share-copy").addEventListener("click", copyShare);
    $("share-download").addEventListener("click", downloadShare);
    $("share-continue").addEventListener("click", hideShare);
    $("confirm-form").addEventListener("submit", submitConfirm);
    $("confirm-start-over").addEventListener("click", () => withSetupToken(() => showConfigure(true, "step-confirm")));
    $("pending-form").addEventListener("submit", submitPending);
    $("start-over").addEventListener("click", () => withSetupToken(() => showConfigure(true, "step-pending")));
    $("god-form").addEventListener("submit", submitGod);
    $("god-to-login").addEventListener("click", () => showLogin($("god-email").value.trim()));
    $("totp-copy-secret").addEventListener("click", () => copyFromEnrol("secret", "totp-secret-status"));
    $("totp-copy-uri").addEventListener("click", () => copyFromEnrol("uri", "totp-uri-status"));
    $("totp-form").addEventListener("submit", submitTotp);
    $("login-form").addEventListener("submit", submitLogin);
    $("login-to-god").addEventListener("click", showGod);
    $("complete-login").addEventListener("click", () => showLogin("", null, "setup_complete"));
    $("company-form").addEventListener("submit", submitCompany);
    $("company-skip").addEventListener("click", () => { if (state.existing) showFinish(state.existing, false); });
    $("finish-logout").addEventListener("click", logout);
  }

  wire();
  load();
})();
