// The shell's own views: sign in, home (the person's companies and their
// role in each), a company's landing page, and the account (password and
// second factor). They follow the view contract at the top of console.js.
"use strict";

(() => {
  const C = Console;
  const el = C.el;
  const S = C._session;

  // field builds a labelled input with its hint and its error line.
  function field(id, label, attrs, hint) {
    const input = el("input", Object.assign({ id, name: id, "data-testid": id }, attrs));
    const err = el("p", { class: "field-error", id: id + "-error", "data-error-for": id });
    const parts = [el("label", { for: id, text: label })];
    if (attrs.type === "password") {
      const btn = el("button", { type: "button", "aria-pressed": "false", "aria-controls": id, text: "Show" });
      btn.addEventListener("click", () => {
        const show = input.type === "password";
        input.type = show ? "text" : "password";
        btn.textContent = show ? "Hide" : "Show";
        btn.setAttribute("aria-pressed", String(show));
        input.focus();
      });
      parts.push(el("div", { class: "secret-input" }, [input, btn]));
    } else {
      parts.push(input);
    }
    if (hint) {
      const h = el("p", { class: "hint", id: id + "-hint", text: hint });
      input.setAttribute("aria-describedby", id + "-hint " + id + "-error");
      parts.push(h);
    } else {
      input.setAttribute("aria-describedby", id + "-error");
    }
    parts.push(err);
    return { node: el("div", { class: "field" }, parts), input, err };
  }

  // formErrors shows an API refusal at its field when the form has it,
  // else in the form's alert box; it clears earlier ones first.
  function formErrors(fields, box) {
    const clear = () => {
      for (const f of Object.values(fields)) {
        f.err.textContent = "";
        f.input.removeAttribute("aria-invalid");
        delete f.err.dataset.code;
      }
      C.message(box, "", "");
    };
    const show = (name, code, text) => {
      const f = fields[name];
      if (!f || f.node.closest("[hidden]")) return C.message(box, "error", text, "", code);
      f.err.textContent = text;
      f.err.dataset.code = code;
      f.input.setAttribute("aria-invalid", "true");
      f.input.focus();
    };
    return { clear, show };
  }

  const sentence = (s) => { const t = V2(s); return /[.!?]$/.test(t) ? t : t + "."; };
  const V2 = (s) => Vanta.capitalise(String(s || ""));
  const wait = (secs) => `Wait ${Vanta.plural(Math.max(secs, 1), "second", "seconds")}, then try again.`;

  // ---- Sign in ----

  C.registerView("/console/sign-in", {
    title: "Sign in",
    public: true,
    render(root, ctx) {
      const next = S.safeNext(ctx.query.get("next"));
      const box = el("div", { class: "message", id: "sign-in-error", "data-testid": "sign-in-error", role: "alert", hidden: true });
      const notice = el("div", { class: "message", id: "sign-in-notice", "data-testid": "sign-in-notice", role: "status", hidden: true });
      const n = S.takeNotice();
      if (n) C.message(notice, n.kind, n.title, n.detail, n.code);
      const f = {
        email: field("sign-in-email", "Email address", { type: "email", autocomplete: "username", maxlength: "254", required: true }),
        password: field("sign-in-password", "Password", { type: "password", autocomplete: "current-password", maxlength: "1024", required: true }),
        totp: field("sign-in-code", "Code from your authenticator app", { type: "text", class: "code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "10", spellcheck: "false" },
          "Six digits. Leave it empty if you have not set up an authenticator app (administrators and the creator account always have one)."),
      };
      const errs = formErrors(f, box);
      const submit = el("button", { type: "submit", class: "primary", id: "sign-in-submit", "data-testid": "sign-in-submit", text: "Sign in" });
      const form = el("form", { id: "sign-in-form", novalidate: true, "aria-describedby": "sign-in-lead" },
        [f.email.node, f.password.node, f.totp.node, box, el("div", { class: "actions" }, [submit])]);
      const lead = el("p", { class: "lead", id: "sign-in-lead" });
      lead.textContent = next !== "/console" ? "Sign in to continue to the page you were on." : "Sign in with the email address of your account.";
      root.append(el("section", { class: "card narrow" }, [notice, lead, form]),
        el("section", { class: "card quiet narrow", "aria-labelledby": "sign-in-other" }, [
          el("h2", { id: "sign-in-other", text: "Something else?" }),
          el("ul", { class: "plain" }, [
            el("li", {}, ["Invited to a company? Open the link from your invitation, or paste its token on the ", el("a", { href: "/accept", text: "invitation page" }), "."]),
            el("li", {}, ["Password chosen by an administrator, or a reset link? ", el("a", { href: "/reset", text: "Set your own password" }), "."]),
            el("li", {}, ["A custodian? The ", el("a", { href: "/unseal", text: "custodians’ page" }), " shows whether the appliance is sealed."]),
            el("li", {}, ["Using the API? It describes itself at ", el("a", { href: "/api/v1/openapi.json" }, [el("code", { text: "/api/v1/openapi.json" })]), "."]),
          ]),
        ]));
      f.email.input.focus();

      let busy = false;
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        if (busy) return;
        errs.clear();
        C.message(notice, "", "");
        const email = f.email.input.value.trim();
        const password = f.password.input.value;
        const code = f.totp.input.value.replace(/\s+/g, "");
        if (!email) return errs.show("email", "required", "Enter your email address.");
        if (!password) return errs.show("password", "required", "Enter your password.");
        const body = { email, password };
        if (code) body.totp = code;
        busy = true;
        submit.disabled = true;
        const r = await Vanta.api("POST", "/api/v1/auth/login", body);
        busy = false;
        submit.disabled = false;
        if (!ctx.live()) return;
        if (r.ok) {
          f.password.input.value = "";
          f.totp.input.value = "";
          return S.signedIn(r.data, next);
        }
        const e = r.error;
        switch (e.code) {
          case "invalid_credentials":
            f.totp.input.value = "";
            C.message(box, "error", "The email address, password or code is not right.",
              code ? "Check each of them; a code works once and only for about a minute." : "If you use an authenticator app, enter its current code as well.", e.code);
            return (code ? f.password.input : f.totp.input).focus();
          case "password_change_required":
            C.message(box, "error", "Set your own password first.", "An administrator chose this password for you; it opens nothing until you replace it with one of your own.", e.code);
            box.append(el("a", { href: "/reset", "data-testid": "to-reset", text: "Set your own password" }));
            return;
          case "locked_out":
          case "rate_limited":
            return C.message(box, "error", "Too many attempts.", wait(r.retryAfter), e.code);
          case "forbidden_network":
            return C.message(box, "error", "This account may not sign in from this network.", sentence(e.message), e.code);
          case "sealed":
            location.assign("/unseal");
            return;
        }
        const map = { email: "email", password: "password", totp: "totp" };
        if (map[e.field]) return errs.show(map[e.field], e.code, sentence(e.message));
        C.message(box, "error", "You were not signed in.", sentence(e.message), e.code);
      });
    },
  });

  // ---- Home ----

  C.registerView("/console", {
    title: (ctx) => "Welcome, " + (ctx.me.name || ctx.me.email),
    nav: { group: "top", label: "Home", order: 0 },
    async render(root, ctx) {
      const me = ctx.me;
      if (me.invitations && me.invitations.length) root.append(invitations(me.invitations, ctx));
      const list = el("ul", { class: "company-cards", id: "home-companies", "data-testid": "home-companies" });
      for (const c of ctx.companies) {
        list.append(el("li", { "data-testid": "home-company", "data-company": c.company_id, "data-role": c.role }, [
          el("a", { href: "/console/c/" + encodeURIComponent(c.company_id), class: "co-name", text: c.company_name }),
          el("span", { class: "badge role-" + c.role, "data-testid": "home-role", text: C.roleLabel(c.role) }),
          el("span", { class: "hint", text: roleSays[c.role] || "" }),
        ]));
      }
      const sec = el("section", { class: "card", "aria-labelledby": "home-companies-title" }, [
        el("h2", { id: "home-companies-title", text: me.is_god ? "Companies on this appliance" : "Your companies" }),
      ]);
      if (me.is_god) sec.append(el("p", { class: "hint", text: "As the creator account (GOD) you see every company; the system pages are in the navigation." }));
      if (ctx.companies.length) sec.append(list);
      else sec.append(el("p", { "data-testid": "home-none", text: me.is_god ? "There is no company yet." : "You do not belong to any company yet. An administrator of a company can invite you." }));
      root.append(sec);
    },
  });

  const roleSays = {
    admin: "Manages people, roles, invitations and the audit log.",
    manager: "Works with the books and approves others' work.",
    user: "Enters and edits the company's records.",
    viewer: "Reads the company's records; changes nothing.",
    god: "Creator account: sees and administers every company.",
  };

  // invitations lists invitations addressed to the person's email, each
  // with an Accept button (joining is their own decision).
  function invitations(items, ctx) {
    const box = el("div", { class: "message", role: "alert", hidden: true, "data-testid": "invitation-error" });
    const ul = el("ul", { class: "plain" });
    for (const inv of items) {
      const btn = el("button", { type: "button", class: "primary", "data-testid": "accept-invitation", "data-invitation": inv.id, text: "Accept" });
      btn.addEventListener("click", async () => {
        btn.disabled = true;
        const r = await ctx.api("POST", "/api/v1/me/invitations/" + encodeURIComponent(inv.id) + "/accept");
        if (!ctx.live()) return;
        btn.disabled = false;
        if (!r.ok) return C.message(box, "error", "The invitation was not accepted.", sentence(r.error.message), r.error.code);
        await C.refreshMe();
        if (!ctx.live()) return;
        C.navigate("/console/c/" + encodeURIComponent(r.data.company_id));
      });
      btn.setAttribute("aria-label", "Accept the invitation to " + inv.company_name);
      ul.append(el("li", { class: "invitation", "data-testid": "invitation", "data-invitation": inv.id }, [
        el("span", {}, ["An invitation to join ", el("strong", { "data-testid": "invitation-company", text: inv.company_name }),
          " as " + C.roleLabel(inv.role) + ", until " + C.dateTime(inv.expires_at) + ". "]), btn,
      ]));
    }
    return el("section", { class: "card", "aria-labelledby": "inv-title", "data-testid": "home-invitations" }, [
      el("h2", { id: "inv-title", text: "Invitations for you" }), ul, box]);
  }

  // ---- A company's landing page ----

  C.registerView("/console/c/:company", {
    title: (ctx) => ctx.company.company_name,
    render(root, ctx) {
      const c = ctx.company;
      root.append(el("dl", { class: "facts", "data-testid": "company-facts" }, [
        el("dt", { text: "Your role" }), el("dd", { "data-testid": "company-role", text: C.roleLabel(ctx.role) }),
        el("dt", { text: "KRA PIN" }), el("dd", { text: c.tax_id || "—" }),
        el("dt", { text: "Status" }), el("dd", { text: c.status || "" }),
      ]), el("p", { class: "hint", text: roleSays[ctx.role] || "" }));
      const links = [...document.querySelectorAll('#nav ul[data-group="company"] a')];
      if (links.length) {
        root.append(el("ul", { class: "plain sections" }, links.map((a) => el("li", {}, [el("a", { href: a.getAttribute("href"), text: a.textContent })]))));
      }
    },
  });

  // ---- Account ----

  C.registerView("/console/account", {
    title: "Your account",
    nav: { group: "you", label: "Account", order: 0 },
    render(root, ctx) {
      const me = ctx.me;
      const facts = el("dl", { class: "facts", "data-testid": "account-facts" }, [
        el("dt", { text: "Name" }), el("dd", { text: me.name || "" }),
        el("dt", { text: "Email" }), el("dd", { "data-testid": "account-email", text: me.email }),
        el("dt", { text: "Authenticator app" }), el("dd", { "data-testid": "account-totp", text: me.totp_enrolled ? "Set up" : "Not set up" }),
      ]);
      root.append(facts, passwordCard(ctx), totpCard(ctx));
    },
  });

  function passwordCard(ctx) {
    const me = ctx.me;
    const box = el("div", { class: "message", role: "alert", hidden: true, "data-testid": "password-message" });
    const f = {
      password: field("pw-current", "Current password", { type: "password", autocomplete: "current-password", maxlength: "1024" }),
      totp: field("pw-code", "Code from your authenticator app", { type: "text", class: "code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "10", spellcheck: "false" }),
      new_password: field("pw-new", "New password", { type: "password", autocomplete: "new-password", maxlength: "1024" },
        "At least 12 characters; a few unrelated words make a good one. Not your name, not the part of your email before the @, not a common password."),
      repeat: field("pw-repeat", "New password again", { type: "password", autocomplete: "new-password", maxlength: "1024" }),
    };
    f.totp.node.hidden = !me.totp_enrolled;
    const errs = formErrors(f, box);
    const submit = el("button", { type: "submit", class: "primary", "data-testid": "pw-submit", text: "Change password" });
    const form = el("form", { id: "password-form", novalidate: true }, [f.password.node, f.totp.node, f.new_password.node, f.repeat.node, box, el("div", { class: "actions" }, [submit])]);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      errs.clear();
      const body = { email: me.email, password: f.password.input.value, new_password: f.new_password.input.value };
      const code = f.totp.input.value.replace(/\s+/g, "");
      if (me.totp_enrolled && code) body.totp = code;
      if (!body.password) return errs.show("password", "required", "Enter your current password.");
      if (me.totp_enrolled && !code) return errs.show("totp", "required", "Enter the current code from your authenticator app.");
      if (!body.new_password) return errs.show("new_password", "required", "Choose a new password.");
      if (body.new_password !== f.repeat.input.value) return errs.show("repeat", "mismatch", "The two new passwords differ.");
      submit.disabled = true;
      // Not ctx.api: this route takes the password, not the session, and
      // its 401 means a wrong password rather than an ended session.
      const r = await Vanta.api("POST", "/api/v1/auth/password", body);
      submit.disabled = false;
      if (!ctx.live()) return;
      if (!r.ok) {
        const e = r.error;
        if (e.code === "invalid_credentials") return errs.show("password", e.code, me.totp_enrolled ? "The current password or the code is not right." : "The current password is not right.");
        if (e.code === "weak_password") return errs.show("new_password", e.code, sentence(e.message));
        if (e.code === "locked_out" || e.code === "rate_limited") return C.message(box, "error", "Too many attempts.", wait(r.retryAfter), e.code);
        if (e.field && f[e.field]) return errs.show(e.field, e.code, sentence(e.message));
        return C.message(box, "error", "The password was not changed.", sentence(e.message), e.code);
      }
      // The change ended every session, this one too: carry on with the new one.
      S.saveSession(r.data);
      for (const x of Object.values(f)) x.input.value = "";
      C.message(box, "success", "Your password is changed.", "Every other session of your account has ended; this one goes on.", "password_changed");
      box.setAttribute("role", "status");
    });
    return el("section", { class: "card", "aria-labelledby": "pw-title" }, [el("h2", { id: "pw-title", text: "Change your password" }), form]);
  }

  function totpCard(ctx) {
    const me = ctx.me;
    const sec = el("section", { class: "card", "aria-labelledby": "totp-title", "data-testid": "totp-card" }, [
      el("h2", { id: "totp-title", text: me.totp_enrolled ? "Replace your authenticator app" : "Set up an authenticator app" }),
    ]);
    if (me.is_god) {
      sec.append(el("p", { text: "The creator account's authenticator changes only through break-glass: the custodians' shares reset its password and second factor together." }));
      return sec;
    }
    sec.append(el("p", { class: "hint", text: me.totp_enrolled
      ? "A new phone, or a lost one: start here. Your current app keeps working until the new one is confirmed."
      : "After this, signing in asks for a six-digit code from the app as well as your password. Administrators must have one." }));
    const box = el("div", { class: "message", role: "alert", hidden: true, "data-testid": "totp-message" });
    const f = {
      password: field("totp-password", "Your password", { type: "password", autocomplete: "current-password", maxlength: "1024" }),
      totp: field("totp-current", "Current code from your authenticator app", { type: "text", class: "code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "10", spellcheck: "false" }),
    };
    f.totp.node.hidden = !me.totp_enrolled;
    const errs = formErrors(f, box);
    const begin = el("button", { type: "submit", class: "primary", "data-testid": "totp-begin", text: me.totp_enrolled ? "Make a new secret" : "Start" });
    const form = el("form", { id: "totp-form", novalidate: true }, [f.password.node, f.totp.node, box, el("div", { class: "actions" }, [begin])]);
    sec.append(form);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      errs.clear();
      const body = { password: f.password.input.value };
      const code = f.totp.input.value.replace(/\s+/g, "");
      if (!body.password) return errs.show("password", "required", "Enter your password.");
      if (me.totp_enrolled) {
        if (!code) return errs.show("totp", "required", "Enter the current code from your authenticator app.");
        body.totp = code;
      }
      begin.disabled = true;
      const r = await ctx.api("POST", "/api/v1/me/totp", body);
      begin.disabled = false;
      if (!ctx.live()) return;
      if (!r.ok) {
        const e = r.error;
        if (e.code === "invalid_credentials" || e.code === "invalid_totp" || e.code === "totp_required") {
          return errs.show(e.field === "totp" ? "totp" : "password", e.code, me.totp_enrolled ? "The password or the code is not right." : "The password is not right.");
        }
        if (e.code === "locked_out" || e.code === "rate_limited") return C.message(box, "error", "Too many attempts.", wait(r.retryAfter), e.code);
        return C.message(box, "error", "Nothing was changed.", sentence(e.message), e.code);
      }
      for (const x of Object.values(f)) x.input.value = "";
      form.hidden = true;
      sec.append(confirmStep(ctx, r.data.totp));
      document.getElementById("totp-step2").focus();
    });
    return sec;
  }

  // confirmStep shows the new secret (as text: the appliance makes the QR
  // image itself, nothing goes to an outside service) and asks for a first
  // code from it; nothing changes until that code is accepted.
  function confirmStep(ctx, totp) {
    const box = el("div", { class: "message", role: "alert", hidden: true, "data-testid": "totp-confirm-message" });
    const secret = el("p", { class: "share", id: "totp-secret", "data-testid": "totp-secret" });
    Vanta.groups(secret, totp.secret);
    const parts = [
      el("h3", { text: "Add this account to your app", tabindex: "-1", id: "totp-step2" }),
      el("ol", { class: "how" }, [
        el("li", { text: "Open your authenticator app and add an account." }),
        el("li", { text: "Scan the picture, or type the key below (spaces do not matter)." }),
        el("li", { text: "Enter the six-digit code the app then shows." }),
      ]),
    ];
    if (typeof totp.qr_png === "string" && totp.qr_png.startsWith("data:image/png;base64,")) {
      parts.push(el("figure", { class: "qr" }, [el("img", { src: totp.qr_png, width: "240", height: "240", alt: "QR code of the authenticator key shown below" })]));
    }
    parts.push(el("p", { class: "label", text: "Key" }), secret,
      el("p", { class: "label", text: "Or the whole address, for apps that take one" }),
      el("p", { class: "uri", "data-testid": "totp-uri", text: totp.uri }));
    const code = field("totp-confirm-code", "Code from the app", { type: "text", class: "code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "10", spellcheck: "false" });
    const errs = formErrors({ code }, box);
    const submit = el("button", { type: "submit", class: "primary", "data-testid": "totp-confirm", text: "Confirm" });
    const form = el("form", { id: "totp-confirm-form", novalidate: true }, [code.node, box, el("div", { class: "actions" }, [submit])]);
    const step = el("div", { class: "totp-step", "data-testid": "totp-step2" }, [...parts, form]);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      errs.clear();
      const c = code.input.value.replace(/\s+/g, "");
      if (!c) return errs.show("code", "required", "Enter the code the app shows.");
      submit.disabled = true;
      const r = await ctx.api("POST", "/api/v1/me/totp/confirm", { code: c });
      submit.disabled = false;
      if (!ctx.live()) return;
      if (!r.ok) {
        if (r.error.code === "invalid_totp") return errs.show("code", r.error.code, "That code does not match the new key. Check the app's clock, then enter the code it shows now.");
        return C.message(box, "error", "The new authenticator was not confirmed.", sentence(r.error.message), r.error.code);
      }
      step.replaceChildren(el("div", { class: "message success", role: "status", "data-testid": "totp-done", "data-code": "totp_enrolled" }, [
        el("strong", { text: "Your authenticator app is set up." }),
        el("span", { text: "From now on, signing in asks for its code." }),
      ]));
      const fact = document.querySelector('[data-testid="account-totp"]');
      if (fact) fact.textContent = "Set up";
      await C.refreshMe();
    });
    return step;
  }
})();
