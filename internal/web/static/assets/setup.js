// The first-boot wizard: choose custodians, hand out each share once and
// have each custodian confirm it, then send everyone to /unseal.
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
  };

  const screens = ["step-loading", "step-already", "step-pending", "step-configure", "step-shares", "step-done"];
  const wizardStep = { "step-configure": "configure", "step-shares": "shares", "step-done": "done" };

  function go(id) {
    for (const s of screens) $(s).hidden = s !== id;
    const current = wizardStep[id];
    $("stepper").hidden = !current;
    let past = true;
    for (const li of $("stepper").children) {
      const here = li.dataset.step === current;
      if (here) past = false;
      li.className = here ? "current" : past ? "done" : "";
    }
    window.scrollTo(0, 0);
  }

  // ---- Start: ask the appliance where it stands. ----

  async function load() {
    go("step-loading");
    $("load-error").hidden = true;
    $("load-retry").hidden = true;
    const r = await V.api("GET", "/api/v1/sys/seal-status");
    if (!r.ok) {
      V.message($("load-error"), "error", "The appliance did not answer.", r.error.message, r.error.code);
      $("load-retry").hidden = false;
      return;
    }
    route(r.data);
  }

  function route(st, note) {
    state.status = st;
    if (st.initialized) {
      go("step-already");
    } else if (st.shares > 0) {
      showPending(st, note);
    } else {
      showConfigure(false);
    }
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
    clearErrors();
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
          ? "Every share is needed: if one is lost, the books can no longer be unlocked."
          : `Up to ${V.plural(spare, "share", "shares")} can be lost without locking the books away.`);
    }
  }

  function clearErrors() {
    for (const p of document.querySelectorAll("[data-error-for]")) p.textContent = "";
    for (const i of document.querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
    V.message($("configure-error"), "", "");
  }

  // fieldError shows an API error next to the field it names, or above
  // the button when it names none.
  function fieldError(err) {
    const p = err.field && document.querySelector(`[data-error-for="${CSS.escape(err.field)}"]`);
    if (!p) {
      V.message($("configure-error"), "error", "The shares were not created.", V.capitalise(err.message), err.code);
      return;
    }
    p.textContent = V.capitalise(err.message);
    p.dataset.code = err.code;
    const input = $(p.dataset.input || err.field);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
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
    clearErrors();
    const shares = intValue("shares");
    const threshold = intValue("threshold");
    if (Number.isNaN(shares)) return fieldError({ field: "shares", message: "enter a whole number", code: "client" });
    if (Number.isNaN(threshold)) return fieldError({ field: "threshold", message: "enter a whole number", code: "client" });
    const body = { shares, threshold };
    const custodians = custodiansRequest();
    if (custodians.length) body.custodians = custodians;
    if (state.reissue) body.reissue = true;

    busy(true, "init-submit", "Creating…");
    const r = await V.api("POST", "/api/v1/sys/init", body);
    busy(false, "init-submit");
    if (!r.ok) {
      if (r.error.code === "already_initialized") return load();
      if (r.error.code === "confirmation_pending") {
        const st = await V.api("GET", "/api/v1/sys/seal-status");
        if (st.ok) return route(st.data, ["warn", "Setup was already started, perhaps on another screen.", "Confirm the shares handed out, or start over."]);
      }
      return fieldError(r.error);
    }
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
      const groups = s.share.match(/.{1,4}/g) || [];
      groups.forEach((g, i) => {
        if (i) box.append(" ");
        box.append(V.el("span", { class: "g", text: g }));
      });
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
    let done = false;
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(s.share);
        done = true;
      } catch (e) { done = false; }
    }
    if (!done) {
      // Without a secure context there is no clipboard API: copy through
      // a selection instead.
      const area = V.el("textarea", { class: "offscreen", readonly: true, "aria-hidden": "true" });
      area.value = s.share;
      document.body.append(area);
      area.select();
      try { done = document.execCommand("copy"); } catch (e) { done = false; }
      area.value = "";
      area.remove();
    }
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
    $("done-summary").textContent = `All ${n} custodians confirmed their shares. Any ${k} of the ${n} can unseal the appliance.`;
    $("done-threshold").textContent = `any ${k}`;
    go("step-done");
    $("to-unseal").focus();
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

  // ---- Wiring ----

  function wire() {
    V.wireReveal();
    $("load-retry").addEventListener("click", load);
    $("configure-form").addEventListener("submit", submitConfigure);
    $("shares").addEventListener("input", () => { renderRows(); explain(); });
    $("threshold").addEventListener("input", explain);
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
    $("confirm-start-over").addEventListener("click", () => showConfigure(true, "step-confirm"));
    $("pending-form").addEventListener("submit", submitPending);
    $("start-over").addEventListener("click", () => showConfigure(true, "step-pending"));
  }

  wire();
  load();
})();
