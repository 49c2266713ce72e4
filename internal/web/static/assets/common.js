// Shared helpers of the setup, unseal and invitation pages. Plain browser
// JavaScript: no build step, nothing loaded from elsewhere. Text from the
// API is only ever put into the page as text, never as HTML.
"use strict";

const Vanta = (() => {
  // api sends a JSON request (with extra headers, when given) and resolves (it never rejects) with
  // {ok, status, data, error: {code, message, field, rule}, retryAfter}. A token
  // is sent as a bearer token; callers keep it in memory only.
  async function api(method, path, body, token, headers) {
    const init = { method, headers: Object.assign({ Accept: "application/json" }, headers || {}), cache: "no-store", credentials: "same-origin" };
    if (token) init.headers.Authorization = "Bearer " + token;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp, text;
    try {
      resp = await fetch(path, init);
      text = await resp.text();
    } catch (e) {
      return {
        ok: false, status: 0, data: null, retryAfter: 0,
        error: { code: "network", message: "The appliance could not be reached. Check the network connection and try again.", field: "" },
      };
    }
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    const out = { ok: resp.ok, status: resp.status, data, error: null, retryAfter: 0 };
    if (!resp.ok) {
      const e = (data && data.error) || {};
      out.error = {
        code: e.code || "http_" + resp.status,
        message: e.message || "The appliance answered with status " + resp.status + ".",
        field: e.field || "",
        rule: e.rule || "", // the ledger's rule a refused entry broke
      };
      out.retryAfter = parseInt(resp.headers.get("Retry-After") || "0", 10) || 0;
    }
    return out;
  }

  const $ = (id) => document.getElementById(id);

  // el builds an element: el("li", {class: "x", "data-slot": 3, text: "…"}, [child, "text"]).
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children || []) node.append(c);
    return node;
  }

  function clear(node) { node.replaceChildren(); }

  // message fills a message box; kind is success, error, warn or info and
  // code says exactly which case it is (tests and screen readers alike).
  function message(node, kind, title, detail, code) {
    node.replaceChildren();
    if (!title) {
      node.hidden = true;
      node.removeAttribute("data-kind");
      node.removeAttribute("data-code");
      return;
    }
    node.className = "message " + kind;
    node.dataset.kind = kind;
    node.dataset.code = code || kind;
    node.append(el("strong", { text: title }));
    if (detail) node.append(el("span", { text: detail }));
    node.hidden = false;
  }

  // wireReveal makes every [data-reveal] button show or hide its input.
  function wireReveal() {
    for (const btn of document.querySelectorAll("[data-reveal]")) {
      btn.addEventListener("click", () => {
        const input = $(btn.dataset.reveal);
        const reveal = input.type === "password";
        input.type = reveal ? "text" : "password";
        btn.textContent = reveal ? "Hide" : "Show";
        btn.setAttribute("aria-pressed", String(reveal));
        input.focus();
      });
    }
  }

  function hideSecret(inputId) {
    $(inputId).type = "password";
    const btn = document.querySelector(`[data-reveal="${inputId}"]`);
    if (btn) {
      btn.textContent = "Show";
      btn.setAttribute("aria-pressed", "false");
    }
  }

  // custodianLabel is the name to show for a slot; the appliance names
  // unnamed slots "custodian N".
  function custodianLabel(c) {
    const name = (c && (c.name || c.custodian)) || "";
    if (!name || /^custodian \d+$/.test(name)) return "Custodian " + c.slot;
    return name;
  }

  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }

  function clock(iso) {
    const d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  // dateTime is a date and time in the reader's own zone, with the zone.
  function dateTime(iso) {
    const d = new Date(iso);
    if (!iso || isNaN(d.getTime())) return "(unknown)";
    return d.toLocaleString([], { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" });
  }

  // shareError turns a refused share into a title and a detail for people
  // who are not technical; the API's own message is kept where it names
  // something (a slot, a wait).
  function shareError(err) {
    switch (err.code) {
      case "unknown_share":
        return ["This share does not match any custodian slot.",
          "Check for a missing or mistyped character (use Show to see what was entered), and that it is a share for this appliance."];
      case "duplicate_share":
        return ["This share was already entered.", capitalise(err.message) + "."];
      case "malformed_share":
        return [/mistyped/.test(err.message) ? "Part of the share looks mistyped." : "That is not a complete share.",
          "A share is 21 groups of letters and digits (the last character of each group checks it; case, spaces and dashes do not matter). The appliance said: " + err.message + "."];
      case "rate_limited":
        return ["Too many attempts from this computer.", capitalise(err.message) + "."];
      case "network":
        return ["The appliance could not be reached.", "Check the network connection and try again."];
      case "validation_failed":
        return ["Enter a share first.", capitalise(err.message) + "."];
    }
    return ["The share was not accepted.", capitalise(err.message) + (/[.!]$/.test(err.message) ? "" : ".")];
  }

  function capitalise(s) { return s ? s.charAt(0).toUpperCase() + s.slice(1) : s; }

  // copyText puts text on the clipboard and resolves with whether it
  // worked. Without a secure context (plain http on the local network)
  // there is no clipboard API, so it copies through a selection instead.
  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return true;
      } catch (e) { /* fall back to a selection */ }
    }
    const area = el("textarea", { class: "offscreen", readonly: true, "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    let done = false;
    try { done = document.execCommand("copy"); } catch (e) { done = false; }
    area.value = "";
    area.remove();
    return done;
  }

  // groups splits a secret into groups of four for reading and copying by
  // hand; the appliance ignores the spaces.
  // groups lays text out in groups: a share's own dash-separated groups
  // (each ends in its check character), else groups of four.
  function groups(node, text) {
    clear(node);
    (text.includes("-") ? text.split("-") : text.match(/.{1,4}/g) || []).forEach((g, i) => {
      if (i) node.append(" ");
      node.append(el("span", { class: "g", text: g }));
    });
  }

  return { api, $, el, clear, message, wireReveal, hideSecret, custodianLabel, plural, clock, dateTime, shareError, capitalise, copyText, groups };
})();
