// The custodians' unseal page: progress, who has entered, and a form for
// one share at a time. Several custodians may have it open on different
// screens; each polls seal-status, so everyone sees the same round.
"use strict";

(() => {
  const V = Vanta;
  const $ = V.$;
  const POLL_MS = 2000;

  const state = {
    status: null,
    nonce: "",       // the round this page is looking at
    seq: 0,          // requests sent that answer with a status
    applied: 0,      // the newest of them shown so far
    timer: 0,
    busy: false,
    blockedUntil: 0, // rate limited until then
    rekeyShown: "",  // the pending rekey on screen, as JSON
  };

  // ---- Status ----

  async function refresh() {
    const seq = ++state.seq;
    const r = await V.api("GET", "/api/v1/sys/seal-status");
    if (r.ok) apply(r.data, seq);
    else if (seq > state.applied) offline(r.error);
    return r;
  }

  // apply shows a status unless a newer one is already on screen: a poll
  // sent before a share can answer after it.
  function apply(st, seq) {
    if (seq < state.applied) return;
    state.applied = seq;
    state.status = st;
    state.nonce = st.nonce || "";
    $("connection").hidden = true;
    $("last-update").textContent = " · last update " + new Date().toLocaleTimeString();
    render(st);
  }

  function offline(err) {
    V.message($("connection"), "error", "Lost contact with the appliance.",
      (err.code === "network" ? "" : err.message + " ") + "Retrying every few seconds…", err.code);
    badge("offline", "Offline");
  }

  function badge(kind, text) {
    const b = $("seal-state");
    b.className = "badge " + kind;
    b.dataset.state = kind;
    b.textContent = text;
  }

  // ---- A pending rekey ----

  // renderRekey shows the pending rekey, if any, with everything a custodian
  // needs to judge it. All of it comes from the API and is set as text.
  function renderRekey(st) {
    const r = st.rekey;
    $("rekey-card").hidden = !r;
    $("rekey-form-note").hidden = !r;
    if (!r) {
      state.rekeyShown = "";
      return;
    }
    // Redrawn only when it changed: the page polls every two seconds.
    const key = JSON.stringify([r, st.threshold]);
    if (key === state.rekeyShown) return;
    state.rekeyShown = key;

    let by;
    if (r.started_by === "god") by = "GOD, user id " + (r.started_by_user || "(not given)");
    else if (r.started_by === "unauthenticated while sealed") by = "Unauthenticated while sealed: anyone who could reach the appliance";
    else if (r.started_by === "before any GOD existed") by = "Before any GOD existed (nobody could sign in yet)";
    else by = r.started_by || "(not given)";
    $("rekey-started-by").textContent = by;
    $("rekey-started-by").dataset.startedBy = r.started_by || "";
    $("rekey-ip").textContent = r.started_ip || "(unknown)";
    const at = $("rekey-started-at");
    at.textContent = V.dateTime(r.started_at);
    at.setAttribute("datetime", r.started_at || "");
    $("rekey-new-set").textContent =
      `${V.plural(r.new_shares, "new share", "new shares")}; any ${r.new_threshold} of them would unseal the appliance.`;
    $("rekey-expires").textContent = r.expires_at
      ? `${V.dateTime(r.expires_at)}, unless more happens with it before then (each share entered for it postpones this).`
      : "(not given)";
    $("rekey-progress").textContent = `${r.progress} of ${r.required} current shares entered with vanta operator rekey update.` +
      (r.pending_confirmations > 0 ? ` The new shares are made; ${V.plural(r.pending_confirmations, "new share is", "new shares are")} still to be confirmed by the new custodians.` : "");
    $("rekey-cancel-progress").textContent = `${r.cancel_progress || 0} of ${st.threshold} current shares entered to cancel it.`;
    $("rekey-cancel-shares").textContent =
      `with current shares, one custodian after another, until ${V.plural(st.threshold, "current share has", "current shares have")} been entered (the threshold); this works while sealed too.`;

    const list = $("rekey-recipients");
    V.clear(list);
    for (const c of r.new_custodians || []) {
      const li = V.el("li", { "data-name": c.name || "", "data-recipient": c.age_recipient || "" }, [
        V.el("span", { class: "rekey-name", text: !c.name ? "(no name given)" : /^custodian \d+$/.test(c.name) ? V.capitalise(c.name) + " (no name given)" : c.name }),
      ]);
      if (c.age_recipient) li.append(V.el("code", { class: "rekey-age", text: c.age_recipient }));
      else li.append(V.el("span", { class: "rekey-age none", text: "No age key: this new share would be handed out unencrypted to whoever completes the rekey." }));
      list.append(li);
    }
  }

  function render(st) {
    renderRekey(st);
    const card = $("seal-card");
    if (!st.initialized) {
      badge("uninitialized", "Not set up");
      $("seal-title").textContent = "Unseal Vanta Ledger";
      $("sealed-view").hidden = true;
      $("unsealed-view").hidden = true;
      $("custodians-card").hidden = true;
      $("reset-card").hidden = true;
      $("not-initialized").hidden = false;
      if (st.shares > 0) {
        $("not-initialized-title").textContent = "Setup is not finished.";
        $("not-initialized-text").textContent =
          `${V.plural(st.pending_confirmations, "custodian has", "custodians have")} still to confirm their share before the appliance can be unsealed. `;
      } else {
        $("not-initialized-title").textContent = "This appliance has not been set up yet.";
        $("not-initialized-text").textContent = "Its keys and the custodians’ shares are created on the setup page. ";
      }
      document.title = "Unseal Vanta Ledger";
      return;
    }
    $("not-initialized").hidden = true;

    if (!st.sealed) {
      badge("unsealed", "Unsealed");
      card.classList.add("unsealed");
      $("seal-title").textContent = "Vanta Ledger is unsealed";
      $("seal-lead").hidden = true;
      $("sealed-view").hidden = true;
      $("unsealed-view").hidden = false;
      // Sent here by the setup wizard: it goes on once unsealed.
      $("continue-setup").hidden = new URLSearchParams(location.search).get("next") !== "setup";
      $("custodians-card").hidden = true;
      $("reset-card").hidden = true;
      document.title = "Unsealed · Vanta Ledger";
      return;
    }

    badge("sealed", "Sealed");
    card.classList.remove("unsealed");
    $("seal-title").textContent = "Unseal Vanta Ledger";
    $("seal-lead").hidden = false;
    $("unsealed-view").hidden = true;
    $("sealed-view").hidden = false;

    const k = st.threshold;
    const have = st.progress;
    const text = $("progress-text");
    text.textContent = `${have} of ${k} shares entered`;
    text.dataset.progress = have;
    text.dataset.threshold = k;
    const pips = $("progress-pips");
    if (pips.children.length !== k) {
      V.clear(pips);
      for (let i = 0; i < k; i++) pips.append(V.el("li"));
    }
    Array.from(pips.children).forEach((li, i) => { li.className = i < have ? "on" : ""; });
    let note = `${V.plural(k - have, "more share", "more shares")} needed. ` +
      `${st.shares} custodians hold a share; any ${k} of them are enough.`;
    if (have > 0 && st.progress_expires_at) {
      note += ` Shares entered are forgotten at ${V.clock(st.progress_expires_at)} unless the round completes.`;
    }
    $("progress-note").textContent = note;
    document.title = `(${have}/${k}) Unseal Vanta Ledger`;

    const list = $("custodians");
    V.clear(list);
    for (const c of st.custodians || []) {
      list.append(V.el("li", { class: c.entered ? "yes" : "", "data-slot": c.slot, "data-entered": String(c.entered) }, [
        V.el("span", { class: "slot-no", text: String(c.slot) }),
        V.el("span", { class: "slot-name", text: V.custodianLabel(c) }),
        V.el("span", { class: "slot-state", text: c.entered ? "Entered" : "Not yet" }),
      ]));
    }
    $("custodians-card").hidden = false;

    $("reset-card").hidden = false;
    $("reset-button").disabled = have === 0;
    if (have === 0) closeResetConfirm();
    $("reset-question").textContent = `Discard the ${V.plural(have, "share", "shares")} entered so far?`;
  }

  function schedule() {
    clearTimeout(state.timer);
    state.timer = setTimeout(async () => {
      await refresh();
      schedule();
    }, POLL_MS);
  }

  // ---- Entering a share ----

  async function submit(ev) {
    ev.preventDefault();
    if (state.busy) return;
    const input = $("share-input");
    const box = $("share-message");
    const share = input.value.trim();
    // The share leaves the screen whatever happens next.
    input.value = "";
    V.hideSecret("share-input");
    if (!share) {
      V.message(box, "error", "Enter your share first.", "Paste or type it in the box above.", "empty");
      input.focus();
      return;
    }
    if (Date.now() < state.blockedUntil) {
      V.message(box, "error", "Too many attempts from this computer.", "Wait a few seconds, then enter the share again.", "rate_limited");
      return;
    }
    const before = new Set((state.status && state.status.entered_slots) || []);
    const body = { share };
    if (state.nonce) body.nonce = state.nonce;
    busy(true);
    const seq = ++state.seq;
    const r = await V.api("POST", "/api/v1/sys/unseal", body);
    busy(false);

    if (r.ok) {
      apply(r.data, seq);
      const st = r.data;
      if (!st.sealed) {
        V.message(box, "success", "Your share completed the unseal.", "", "unsealed");
        return;
      }
      const added = (st.custodians || []).find((c) => c.entered && !before.has(c.slot));
      const left = st.threshold - st.progress;
      V.message(box, "success",
        added ? `Thank you — share accepted for slot ${added.slot} (${V.custodianLabel(added)}).` : "Thank you — share accepted.",
        `${st.progress} of ${st.threshold} entered; ${V.plural(left, "more share", "more shares")} needed.`, "accepted");
      input.focus();
      return;
    }

    const err = r.error;
    switch (err.code) {
      case "stale_nonce":
        await refresh();
        V.message(box, "warn", "The round changed while you were entering your share.",
          "Another custodian reset it, or the shares entered earlier expired. The page is up to date now: please enter your share again.",
          err.code);
        break;
      case "already_unsealed":
        await refresh();
        V.message(box, "success", "The appliance is already unsealed.", "No more shares are needed.", err.code);
        break;
      case "not_initialized":
        await refresh();
        break;
      case "wrong_key":
        await refresh();
        V.message(box, "error", "The shares entered did not open the keys.",
          "Progress was reset and everyone needs to enter their share again. If it happens again, one of the shares belongs to another appliance or to an earlier setup.",
          err.code);
        break;
      case "rate_limited": {
        const secs = Math.max(r.retryAfter, 1);
        blockFor(secs);
        const [title, detail] = V.shareError(err);
        V.message(box, "error", title, detail, err.code);
        break;
      }
      default: {
        const [title, detail] = V.shareError(err);
        V.message(box, "error", title, detail + (/_share$/.test(err.code) ? " Progress is unchanged." : ""), err.code);
        refresh();
      }
    }
    input.focus();
  }

  function busy(on) {
    state.busy = on;
    const b = $("submit-share");
    b.disabled = on || Date.now() < state.blockedUntil;
    b.textContent = on ? "Checking…" : "Enter share";
  }

  function blockFor(secs) {
    state.blockedUntil = Date.now() + secs * 1000;
    const b = $("submit-share");
    b.disabled = true;
    setTimeout(() => {
      if (Date.now() >= state.blockedUntil) b.disabled = state.busy;
    }, secs * 1000 + 50);
  }

  // ---- Reset ----

  function openResetConfirm() {
    $("reset-button").hidden = true;
    $("reset-confirm").hidden = false;
    V.message($("reset-message"), "", "");
    $("reset-share").focus();
  }

  function closeResetConfirm() {
    $("reset-confirm").hidden = true;
    $("reset-button").hidden = false;
  }

  async function reset() {
    if (state.busy) return;
    state.busy = true;
    $("reset-yes").disabled = true;
    const seq = ++state.seq;
    const share = $("reset-share").value.trim();
    $("reset-share").value = "";
    V.hideSecret("reset-share");
    const r = await V.api("POST", "/api/v1/sys/unseal", { reset: true, share });
    state.busy = false;
    $("reset-yes").disabled = false;
    closeResetConfirm();
    if (!r.ok) {
      V.message($("reset-message"), "error", "The round was not reset.", V.capitalise(r.error.message), r.error.code);
      refresh();
      return;
    }
    apply(r.data, seq);
    V.message($("share-message"), "", "");
    V.message($("reset-message"), "success", "Progress was reset.", "The shares entered so far were discarded. Custodians can enter their shares again.", "reset");
  }

  // ---- Wiring ----

  V.wireReveal();
  $("unseal-form").addEventListener("submit", submit);
  $("reset-button").addEventListener("click", openResetConfirm);
  $("reset-no").addEventListener("click", closeResetConfirm);
  $("reset-yes").addEventListener("click", reset);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refresh();
  });
  refresh().then(schedule);
})();
