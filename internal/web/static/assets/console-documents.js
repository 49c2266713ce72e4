// The console's documents pages for one company: uploading (a file chooser
// or a drop, with the bytes sent shown as they go), the list with its
// status filter and search, and the review of one document: the original
// beside what the appliance read from it, corrected by the reviewer and
// approved into a draft journal entry of the books.
//
// Roles as auth.Matrix has them: every member reads documents
// (documents.read); users and up upload them, try a failed one again and
// delete one not yet approved (documents.upload);
// managers and up correct what was read and approve them into the books
// (documents.approve). A page draws a write control only for a role the
// API would let use it; the API stays the authority.
//
// Controls that only change what is shown (the filter, "load more", the
// original's download) carry data-reads, as on the books pages, so that a
// crawl can tell them from controls that change something.
//
// Amounts stay the API's decimal strings; the review's live totals add
// them as integers (VantaBooks.sum), never as JavaScript numbers.
"use strict";

const VantaDocuments = (() => {
  const { el } = Vanta;
  const { messageBox, failed, td, confirmButton } = VantaPages;
  const { dec, fmt, sum } = VantaBooks;

  const uploaders = ["god", "admin", "manager", "user"];
  const approvers = ["god", "admin", "manager"];
  const canUpload = (role) => uploaders.includes(role);
  const canCorrect = (role) => approvers.includes(role); // PATCH …/extraction is documents.approve
  const canApprove = (role) => approvers.includes(role);

  const cpath = (ctx, p) => "/api/v1/companies/" + encodeURIComponent(ctx.company.company_id) + p;
  const vpath = (ctx, p) => "/console/c/" + encodeURIComponent(ctx.company.company_id) + p;
  const dpath = (ctx, id, p) => cpath(ctx, "/documents/" + encodeURIComponent(id) + (p || ""));

  // The pipeline's states in their order, with what they mean to a reader.
  const statuses = [
    ["queued", "Queued"], ["ocr", "Reading text"], ["classify", "Classifying"], ["extract", "Extracting fields"],
    ["done", "Ready for review"], ["needs_review", "Needs review"], ["approved", "Approved"], ["failed", "Failed"],
  ];
  const statusLabel = (s) => (statuses.find((x) => x[0] === s) || [s, String(s || "").replace(/_/g, " ")])[1];
  // A document at rest: the pipeline is done with it (or gave up). Pages
  // ask again only about the others.
  const atRest = (s) => s === "done" || s === "needs_review" || s === "approved" || s === "failed";
  const reviewable = (s) => s === "done" || s === "needs_review";

  // How often a page asks again about documents in the pipeline.
  const pollMs = 1000;

  const typeNames = { invoice: "Invoice", receipt: "Receipt", credit_note: "Credit note", contract: "Contract", statement: "Statement", report: "Report", other: "Other" };
  const typeLabel = (t) => typeNames[t] || (t ? Vanta.capitalise(String(t).replace(/_/g, " ")) : "");

  function statusBadge(status) {
    const s = String(status || "");
    return el("span", { class: "badge doc-status status-" + s.replace(/[^a-z_]/g, ""), "data-testid": "document-status", "data-status": s, text: statusLabel(s) });
  }

  // percent shows a confidence of 0..1 as a whole percentage.
  function percent(c) {
    const n = Number(c);
    if (c === undefined || c === null || c === "" || !isFinite(n)) return "";
    return Math.round(Math.max(0, Math.min(1, n)) * 100) + "%";
  }

  // pause waits ms or until the person leaves the view.
  function pause(ctx, ms) {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      ctx.signal.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
    });
  }

  const sentence = (s) => { const t = Vanta.capitalise(String(s || "")); return /[.!?]$/.test(t) ? t : t + "."; };

  // ---- The list and uploads ---------------------------------------------

  async function list(root, ctx) {
    const box = messageBox("documents-message");
    root.append(el("p", { class: "lead", text: "Invoices, receipts and statements as they arrive. The appliance reads each one (text, type and the figures an accountant needs); open one to check what it read and approve it into a draft journal entry." }), box);

    const rows = new Map(); // document id → its row's parts
    let watching = false;

    if (canUpload(ctx.role)) root.append(uploader(ctx, (id) => { if (id) refreshOne(id, true); }));

    // Filters change only what is shown.
    const q = ctx.query;
    const fStatus = el("select", { "data-testid": "documents-filter-status" },
      [el("option", { value: "", text: "Any status" })].concat(statuses.map(([v, t]) => el("option", { value: v, text: t }))));
    fStatus.value = statuses.some(([v]) => v === q.get("status")) ? q.get("status") : "";
    const fQuery = el("input", { type: "text", maxlength: "200", autocomplete: "off", value: q.get("q") || "", "data-testid": "documents-filter-q" });
    const search = el("button", { type: "submit", class: "primary", "data-testid": "documents-search", text: "Search" });
    const filters = el("form", { class: "filters", role: "search", "aria-label": "Find documents", "data-reads": "", "data-testid": "documents-filters" }, [
      labelled("documents-filter-status", "Status", fStatus), labelled("documents-filter-q", "Search text", fQuery),
      el("div", { class: "actions" }, [search]),
    ]);
    filters.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const next = new URLSearchParams();
      if (fStatus.value) next.set("status", fStatus.value);
      if (fQuery.value.trim()) next.set("q", fQuery.value.trim());
      const s = next.toString();
      ctx.navigate(ctx.path + (s ? "?" + s : ""));
    });

    const table = el("table", { class: "grid books", "data-testid": "documents-table" }, [
      el("thead", {}, [el("tr", {}, ["Document", "Type", "Status", "Confidence", "Uploaded"].map((h) => el("th", { scope: "col", class: h === "Confidence" ? "amount" : null, text: h })))]),
    ]);
    const body = el("tbody");
    table.append(body);
    const count = el("p", { class: "hint", "data-testid": "documents-count", role: "status", "aria-live": "polite" });
    const more = el("button", { type: "button", "data-reads": "", "data-testid": "documents-more", text: "Load more", hidden: true });
    root.append(el("h2", { text: "Documents" }), filters, el("div", { class: "scroll" }, [table]), count, el("div", { class: "actions", "data-reads": "" }, [more]));

    let cursor = "";
    const params = new URLSearchParams();
    if (fStatus.value) params.set("status", fStatus.value);
    if (q.get("q")) params.set("q", q.get("q"));

    function row(d) {
      const status = el("td");
      const type = td("");
      const conf = td("", { class: "amount" });
      const tr = el("tr", { "data-testid": "document", "data-id": d.id }, [
        el("td", {}, [el("a", { href: vpath(ctx, "/documents/" + encodeURIComponent(d.id)), "data-testid": "document-link", text: d.filename || d.id })]),
        type, status, conf, td(d.created_at ? Vanta.dateTime(d.created_at) : ""),
      ]);
      const r = { tr, status, type, conf };
      rows.set(d.id, r);
      update(r, d);
      return tr;
    }

    function update(r, d) {
      r.tr.dataset.status = d.status;
      r.status.replaceChildren(statusBadge(d.status));
      if (d.status === "failed" && d.error) r.status.append(el("div", { class: "small", "data-testid": "document-error", text: d.error }));
      r.type.textContent = typeLabel(d.type);
      r.conf.textContent = atRest(d.status) && d.status !== "failed" ? percent(d.confidence) : "";
    }

    async function load() {
      more.disabled = true;
      const p = new URLSearchParams(params);
      p.set("limit", "50");
      if (cursor) p.set("cursor", cursor);
      const res = await ctx.api("GET", cpath(ctx, "/documents?" + p.toString()));
      more.disabled = false;
      if (!ctx.live()) return;
      if (!res.ok) return failed(box, "The documents could not be read.", res);
      const items = res.data.items || [];
      for (const d of items) if (!rows.has(d.id)) body.append(row(d));
      cursor = res.data.next_cursor || "";
      more.hidden = !cursor;
      showCount();
      watch();
    }

    function showCount() {
      body.querySelector('[data-testid="documents-empty"]')?.remove();
      if (!rows.size) {
        body.append(el("tr", { "data-testid": "documents-empty" }, [td(params.toString() ? "No document matches." : "No documents yet.", { colspan: 5 })]));
      }
      count.textContent = Vanta.plural(rows.size, "document", "documents") + " shown" + (cursor ? " (more not loaded yet)." : ".");
      count.dataset.filters = params.toString();
    }

    // refreshOne reads one document again; a new upload is put at the top
    // when it is not in the list yet and the list shows every document.
    async function refreshOne(id, added) {
      const res = await ctx.api("GET", dpath(ctx, id));
      if (!ctx.live() || !res.ok) return;
      const r = rows.get(id);
      if (r) update(r, res.data);
      else if (added && !params.toString()) {
        body.prepend(row(res.data));
        showCount();
      }
      watch();
    }

    // watch asks again, every second, about the documents still in the
    // pipeline, until none is left or the person leaves the page.
    async function watch() {
      if (watching) return;
      watching = true;
      try {
        for (;;) {
          const busy = [...rows.entries()].filter(([, r]) => !atRest(r.tr.dataset.status)).map(([id]) => id);
          if (!busy.length) return;
          await pause(ctx, pollMs);
          if (!ctx.live()) return;
          // A bounded number per round: a bulk upload must not turn the
          // page into a flood of requests.
          await Promise.all(busy.slice(0, 20).map(async (id) => {
            const res = await ctx.api("GET", dpath(ctx, id));
            if (ctx.live() && res.ok) update(rows.get(id), res.data);
          }));
          if (!ctx.live()) return;
        }
      } finally {
        watching = false;
      }
    }

    more.addEventListener("click", load);
    await load();
  }

  function labelled(id, label, input, hint) {
    input.id = id;
    return el("div", { class: "field" }, [el("label", { for: id, text: label }), input, hint ? el("p", { class: "hint", text: hint }) : ""]);
  }

  // uploader is the upload form: a file chooser (several files at once)
  // and a drop zone around it. Each file is sent on its own, one after the
  // other, with a progress bar of the bytes sent; what the appliance
  // answers (accepted, a duplicate of an earlier upload, refused and why)
  // is said next to it. added(id) is told of every document accepted.
  function uploader(ctx, added) {
    const input = el("input", { type: "file", multiple: true, id: "document-file", "aria-describedby": "document-file-hint",
      accept: ".pdf,.png,.jpg,.jpeg,.tif,.tiff,application/pdf,image/png,image/jpeg,image/tiff", "data-testid": "document-file" });
    const submit = el("button", { type: "submit", class: "primary", "data-testid": "document-upload", text: "Upload" });
    const zone = el("div", { class: "drop-zone", "data-testid": "document-drop" }, [
      el("label", { for: "document-file", text: "Files to upload" }), input,
      el("p", { class: "hint", id: "document-file-hint", text: "PDF, PNG, JPEG or TIFF, scanned or not. You can also drop files here." }),
    ]);
    const err = el("p", { class: "field-error", id: "document-file-error", "data-testid": "document-file-error", role: "alert" });
    const uploads = el("ul", { class: "uploads", "data-testid": "uploads" });
    const form = el("form", { class: "upload-form", novalidate: true, "data-testid": "document-upload-form" }, [zone, err, el("div", { class: "actions" }, [submit])]);

    const queue = [];
    let sending = false;
    function enqueue(files) {
      err.textContent = "";
      if (!files.length) {
        err.textContent = "Choose a file to upload first.";
        input.focus();
        return;
      }
      for (const f of files) queue.push({ file: f, item: item(f) });
      pump();
    }

    // item is the line of one upload: its name, a progress bar and what
    // became of it (data-state: sending, accepted, duplicate, refused).
    function item(f) {
      const bar = el("progress", { max: String(Math.max(f.size, 1)), value: "0", "aria-label": "Upload of " + f.name, "data-testid": "upload-progress" });
      const said = el("span", { class: "upload-said", "data-testid": "upload-said", text: "Waiting…" });
      const li = el("li", { "data-testid": "upload", "data-name": f.name, "data-state": "waiting" }, [el("span", { class: "upload-name", text: f.name }), bar, said]);
      uploads.prepend(li);
      return { li, bar, said };
    }

    async function pump() {
      if (sending) return;
      sending = true;
      submit.disabled = true;
      while (queue.length) {
        const { file, item: it } = queue.shift();
        it.li.dataset.state = "sending";
        it.said.textContent = "Sending…";
        const fd = new FormData();
        fd.append("file", file, file.name);
        const r = await Console.upload(cpath(ctx, "/documents"), fd, (loaded, total) => {
          it.bar.max = String(Math.max(total || file.size, 1));
          it.bar.value = String(loaded);
        });
        it.bar.value = it.bar.max;
        const id = r.ok && r.data ? (r.data.document_id || r.data.id || "") : "";
        const link = id ? el("a", { href: vpath(ctx, "/documents/" + encodeURIComponent(id)), "data-testid": "upload-link", text: "Open it" }) : null;
        if (r.ok && r.data && r.data.duplicate) {
          it.li.dataset.state = "duplicate";
          it.li.dataset.code = "duplicate";
          it.said.replaceChildren("Already uploaded: this file is the same as an earlier one, which is kept once. ", link || "");
        } else if (r.ok) {
          it.li.dataset.state = "accepted";
          it.li.dataset.code = "accepted";
          it.said.replaceChildren("Uploaded; the appliance is reading it. ", link || "");
        } else {
          it.li.dataset.state = "refused";
          it.li.dataset.code = r.error.code;
          it.bar.hidden = true;
          it.said.replaceChildren(el("strong", { text: "Not uploaded: " }), sentence(r.error.message));
        }
        if (it.li.dataset.document === undefined && id) it.li.dataset.document = id;
        Console.announce(file.name + ": " + it.said.textContent);
        if (!ctx.live()) continue;
        if (id) added(id);
      }
      sending = false;
      submit.disabled = false;
    }

    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const files = [...(input.files || [])];
      input.value = "";
      enqueue(files);
    });
    // Dropped files are sent at once: dropping them is the decision.
    for (const t of ["dragenter", "dragover"]) {
      zone.addEventListener(t, (ev) => {
        if (!ev.dataTransfer || ![...ev.dataTransfer.types].includes("Files")) return;
        ev.preventDefault();
        ev.dataTransfer.dropEffect = "copy";
        zone.classList.add("over");
      });
    }
    zone.addEventListener("dragleave", (ev) => { if (!zone.contains(ev.relatedTarget)) zone.classList.remove("over"); });
    zone.addEventListener("drop", (ev) => {
      zone.classList.remove("over");
      if (!ev.dataTransfer || !ev.dataTransfer.files.length) return;
      ev.preventDefault();
      enqueue([...ev.dataTransfer.files]);
    });
    return el("section", { class: "card-section upload-section", "aria-labelledby": "upload-heading" }, [
      el("h2", { id: "upload-heading", text: "Upload" }), form, uploads,
    ]);
  }

  // ---- Review -------------------------------------------------------------

  // The fields of an extraction (their JSON names are the API's), in the
  // order a reader meets them on an invoice.
  const headFields = [
    { key: "vendor_name", label: "Vendor", max: 200 },
    { key: "vendor_pin", label: "Vendor KRA PIN", max: 11, mono: true },
    { key: "customer", label: "Customer", max: 200 },
    { key: "document_number", label: "Document number", max: 100 },
    { key: "issue_date", label: "Issue date", type: "date" },
    { key: "due_date", label: "Due date", type: "date" },
    { key: "currency", label: "Currency", max: 3, mono: true },
    { key: "payment_method", label: "Payment method", max: 100 },
  ];
  const totalFields = [
    { key: "subtotal", label: "Subtotal", amount: true },
    { key: "total", label: "Total", amount: true },
  ];
  const lineCols = [
    { key: "description", label: "Description" },
    { key: "quantity", label: "Quantity", amount: true },
    { key: "unit_price", label: "Unit price", amount: true },
    { key: "amount", label: "Amount", amount: true },
  ];
  const vatCols = [
    { key: "rate", label: "Rate (%)", amount: true },
    { key: "amount", label: "VAT amount", amount: true },
  ];

  // Which fields each check of the appliance looks at, so that a failed
  // check marks them ("in_text" names its fields in its message).
  const checkFields = {
    totals: ["subtotal", "total", "vat"],
    kra_pin: ["vendor_pin"],
    dates: ["issue_date", "due_date"],
  };
  const checkTitles = { totals: "Subtotal and VAT add up to the total", in_text: "Every value appears in the document", kra_pin: "The KRA PIN has the right form", dates: "The dates make sense" };
  const allKeys = headFields.concat(totalFields).map((f) => f.key).concat(["vat", "lines"]);

  function fieldsOfCheck(c) {
    if (checkFields[c.name]) return checkFields[c.name];
    const msg = String(c.message || "").toLowerCase();
    return allKeys.filter((k) => msg.includes(k) || msg.includes(k.replace(/_/g, " ")));
  }

  // The API's extraction: {class, class_confidence, fields: {…},
  // confidence: [{field, confidence}], checks, engine, model,
  // prompt_version, duration_ms, fallback_reason}; confidences are
  // decimal strings "0.00".."1.00".
  const fieldsOf = (d) => (d.extraction && d.extraction.fields) || {};
  const checksOf = (d) => (d.extraction && d.extraction.checks) || [];
  function confidenceOf(d) {
    const out = {};
    for (const c of (d.extraction && d.extraction.confidence) || []) out[c.field] = c.confidence;
    return out;
  }

  async function review(root, ctx) {
    const id = ctx.params.document;
    const box = messageBox("document-message");
    const original = el("section", { class: "doc-original", "aria-labelledby": "original-heading", "data-testid": "document-original" }, [
      el("h2", { id: "original-heading", text: "Original" }),
    ]);
    const main = el("div", { class: "doc-read", "data-testid": "document-read" });
    const progress = el("p", { class: "lead", role: "status", "aria-live": "polite", "data-testid": "document-progress", hidden: true });
    root.append(box, progress, el("div", { class: "doc-review" }, [original, main]),
      el("p", {}, [el("a", { href: vpath(ctx, "/documents"), "data-testid": "documents-back", text: "All documents" })]));

    let res = await ctx.api("GET", dpath(ctx, id));
    if (!ctx.live()) return;
    if (!res.ok) {
      root.replaceChildren(box);
      failed(box, "The document could not be read.", res);
      return;
    }
    ctx.setTitle(res.data.filename || "Document");
    showOriginal(ctx, original, res.data);

    // While the pipeline works on it, say where it is and ask again.
    while (!atRest(res.data.status)) {
      progress.hidden = false;
      progress.dataset.status = res.data.status;
      progress.textContent = statusLabel(res.data.status) + "… The page follows the document until it is read.";
      draw(ctx, main, res.data, box);
      await pause(ctx, pollMs);
      if (!ctx.live()) return;
      const next = await ctx.api("GET", dpath(ctx, id));
      if (!ctx.live()) return;
      if (!next.ok) return failed(box, "The document could not be read.", next);
      res = next;
    }
    progress.hidden = true;
    await draw(ctx, main, res.data, box);
  }

  // showOriginal fetches the original with the session's token (an
  // element's src cannot carry it) and shows it from a Blob URL: an image
  // as an image, a PDF in a frame; every kind can be downloaded.
  async function showOriginal(ctx, section, d) {
    const said = el("p", { class: "hint", "data-testid": "original-state", text: "Loading the original…" });
    section.append(said);
    const r = await Console.raw("GET", dpath(ctx, d.id, "/file"));
    if (!ctx.live()) return;
    if (!r.ok) {
      said.dataset.code = r.error.code;
      said.textContent = "The original could not be loaded: " + sentence(r.error.message);
      return;
    }
    const name = d.filename || r.filename || "document";
    const type = (r.blob.type || "").split(";")[0].trim().toLowerCase();
    const ext = (name.split(".").pop() || "").toLowerCase();
    const kind = type.startsWith("image/") ? type.slice(6) : type === "application/pdf" ? "pdf"
      : ({ pdf: "pdf", png: "png", jpg: "jpeg", jpeg: "jpeg", tif: "tiff", tiff: "tiff" })[ext] || "";
    const blob = r.blob.type ? r.blob : new Blob([r.blob], { type: kind === "pdf" ? "application/pdf" : kind ? "image/" + kind : "application/octet-stream" });
    const url = URL.createObjectURL(blob);
    ctx.signal.addEventListener("abort", () => URL.revokeObjectURL(url), { once: true });
    section.dataset.kind = kind;
    const download = el("a", { href: url, download: name, class: "button-link", "data-reads": "", "data-testid": "original-download", text: "Download the original" });
    if (kind === "png" || kind === "jpeg" || kind === "gif" || kind === "webp") {
      section.append(el("div", { class: "original-frame" }, [el("img", { src: url, alt: "The original document: " + name, "data-testid": "original-image" })]));
    } else if (kind === "pdf") {
      section.append(el("iframe", { src: url, title: "The original document: " + name, class: "original-pdf", "data-testid": "original-pdf" }));
    } else {
      section.append(el("p", { class: "hint", "data-testid": "original-unshown", text: "This browser cannot show this kind of file (" + (kind || type || "unknown").toUpperCase() + "); download it to look at it." }));
    }
    said.remove();
    section.append(el("p", {}, [download]));
  }

  // draw lays out what the appliance read: the document's facts, what it
  // extracted (a form for a role that may correct it, else a read-only
  // list), the checks, how it was read, and approval.
  async function draw(ctx, main, d, box) {
    main.replaceChildren();
    const facts = el("dl", { class: "facts", "data-testid": "document-facts", "data-status": d.status });
    const fact = (k, v, testid) => {
      if (v === undefined || v === null || v === "") return;
      facts.append(el("dt", { text: k }), el("dd", { "data-testid": testid || null }, [v]));
    };
    fact("Status", statusBadge(d.status));
    fact("Type", typeLabel(d.type), "document-type");
    fact("Confidence", d.status !== "failed" && atRest(d.status) ? percent(d.confidence) : "", "document-confidence");
    fact("File", d.filename, "document-filename");
    fact("Uploaded", d.created_at ? Vanta.dateTime(d.created_at) : "");
    if (d.journal_entry_id) {
      fact("Journal entry", el("a", { href: vpath(ctx, "/journal/" + encodeURIComponent(d.journal_entry_id)), "data-testid": "document-entry-link", text: "The draft entry it made" }), "document-entry");
    }
    main.append(facts);
    if (d.status === "failed") {
      const m = el("div", { class: "message error", role: "alert", "data-testid": "document-failed" });
      Vanta.message(m, "error", "The appliance could not read this document.", sentence(d.error || "No reason was given"), "document_failed");
      main.append(m);
    }
    if (atRest(d.status) && d.status !== "failed" && d.extraction) {
      const editable = canCorrect(ctx.role) && reviewable(d.status);
      const form = editable ? await extractionForm(ctx, d, box) : extractionFacts(d);
      if (!ctx.live()) return;
      main.append(form);
    }
    main.append(engineFacts(d), stagesTable(d));
    if (canUpload(ctx.role) && atRest(d.status) && d.status !== "approved") main.append(lifeActions(ctx, d, box));
  }

  // lifeActions: a failed document can be read again (after the cause is
  // fixed: a tool installed, a model server back); one not approved can
  // be deleted, which frees its storage. An approved one stays with its
  // entry.
  function lifeActions(ctx, d, box) {
    const actions = el("div", { class: "actions", "data-testid": "document-actions" });
    if (d.status === "failed") {
      const retry = el("button", { type: "button", "data-testid": "document-retry", text: "Read it again" });
      retry.addEventListener("click", async () => {
        retry.disabled = true;
        const r = await ctx.api("POST", dpath(ctx, d.id, "/retry"));
        retry.disabled = false;
        if (!ctx.live()) return;
        if (!r.ok) return failed(box, "The document was not queued again.", r);
        ctx.navigate(ctx.path); // the page follows it through the pipeline again
      });
      actions.append(retry);
    }
    actions.append(confirmButton("Delete", "Delete this document and its original?", "document-delete", async () => {
      const r = await ctx.api("DELETE", dpath(ctx, d.id));
      if (!ctx.live()) return;
      if (!r.ok) return failed(box, "The document was not deleted.", r);
      ctx.navigate(vpath(ctx, "/documents"));
    }));
    return actions;
  }

  // Marks of a failed check on the fields it names: the message, and an
  // id to point the field's aria-describedby at.
  function failedChecks(d) {
    const byField = new Map();
    checksOf(d).forEach((c, i) => {
      if (c.ok) return;
      for (const k of fieldsOfCheck(c)) {
        if (!byField.has(k)) byField.set(k, []);
        byField.get(k).push("check-" + i);
      }
    });
    return byField;
  }

  function checksList(d) {
    const checks = checksOf(d);
    const ul = el("ul", { class: "checks", "data-testid": "document-checks" });
    checks.forEach((c, i) => {
      ul.append(el("li", { id: "check-" + i, class: c.ok ? "ok" : "failed", "data-testid": "document-check", "data-check": c.name, "data-ok": String(!!c.ok) }, [
        el("strong", { text: (c.ok ? "Passed: " : "Failed: ") + (checkTitles[c.name] || Vanta.capitalise(String(c.name).replace(/_/g, " "))) }),
        c.message ? el("span", { text: " " + sentence(c.message) }) : "",
      ]));
    });
    return el("section", { "aria-labelledby": "checks-heading" }, [el("h2", { id: "checks-heading", text: "Checks" }),
      checks.length ? ul : el("p", { class: "hint", text: "No checks were run." })]);
  }

  // confLabel is a field's label with its confidence, which a low value
  // marks; the label carries it, so a screen reader says it with the field.
  function confLabel(text, c, forId) {
    const p = percent(c);
    const lab = forId ? el("label", { for: forId }, [text]) : el("span", {}, [text]);
    if (p) {
      const low = Number(c) < 0.6;
      lab.append(" ", el("span", { class: "conf" + (low ? " low" : ""), "data-testid": "confidence", "data-confidence": String(c), text: "(" + (low ? "low confidence, " : "confidence ") + p + ")" }));
    }
    return lab;
  }

  // extractionFacts shows what was read to a role that may not change it.
  function extractionFacts(d) {
    const x = fieldsOf(d);
    const conf = confidenceOf(d);
    const marks = failedChecks(d);
    const dl = el("dl", { class: "facts extraction", "data-testid": "extraction-facts" });
    for (const f of headFields.concat(totalFields)) {
      const v = x[f.key];
      dl.append(el("dt", {}, [confLabel(f.label, conf[f.key])]), el("dd", {
        class: (f.amount ? "amount" : "") + (marks.has(f.key) ? " check-failed" : ""), "data-field": f.key, "data-testid": "extraction-" + f.key,
        "aria-describedby": marks.has(f.key) ? marks.get(f.key).join(" ") : null, text: v === undefined || v === null || v === "" ? "—" : String(v),
      }));
    }
    const out = el("section", { "aria-labelledby": "extraction-heading" }, [el("h2", { id: "extraction-heading", text: "What was read" }), dl]);
    out.append(readTable("VAT", "extraction-vat", vatCols, x.vat || []), readTable("Lines", "extraction-lines", lineCols, x.lines || []));
    out.append(checksList(d));
    return out;
  }

  function readTable(title, testid, cols, rows) {
    const body = el("tbody");
    for (const r of rows) body.append(el("tr", { "data-testid": testid + "-row" }, cols.map((c) => td(r[c.key] || "", { class: c.amount ? "amount" : null }))));
    if (!rows.length) body.append(el("tr", {}, [td("None.", { colspan: cols.length })]));
    return el("div", {}, [el("h3", { text: title }), el("div", { class: "scroll" }, [el("table", { class: "grid books", "data-testid": testid }, [
      el("thead", {}, [el("tr", {}, cols.map((c) => el("th", { scope: "col", class: c.amount ? "amount" : null, text: c.label })))]), body,
    ])])]);
  }

  // extractionForm is the reviewer's form: every field editable, the VAT
  // by rate and the lines as rows to add or remove, each field's
  // confidence in its label and the fields of a failed check marked.
  // Save sends the corrections (PATCH); Approve, for a role that may,
  // saves what changed and then makes the draft entry.
  async function extractionForm(ctx, d, box) {
    const x = fieldsOf(d);
    const conf = confidenceOf(d);
    const marks = failedChecks(d);
    const inputs = {};
    const head = el("div", { class: "extraction-head" });
    const mark = (input, key) => {
      const ids = [input.id + "-error"].concat(marks.get(key) || []);
      input.setAttribute("aria-describedby", ids.join(" "));
      if (marks.has(key)) input.classList.add("check-failed");
    };
    const fieldBox = (f) => {
      const id = "x-" + f.key.replace(/_/g, "-");
      const input = el("input", { type: f.type || "text", id, autocomplete: "off", maxlength: f.max ? String(f.max) : null, inputmode: f.amount ? "decimal" : null,
        class: (f.amount ? "amount" : "") + (f.mono ? " mono" : ""), "data-field": f.key, "data-testid": "field-" + f.key });
      input.value = x[f.key] === undefined || x[f.key] === null ? "" : String(x[f.key]);
      inputs[f.key] = input;
      mark(input, f.key);
      return el("div", { class: "field" + (marks.has(f.key) ? " check-failed" : ""), "data-field": f.key }, [
        confLabel(f.label, conf[f.key], id), input, el("p", { class: "field-error", id: id + "-error", "data-testid": "field-" + f.key + "-error" }),
      ]);
    };
    for (const f of headFields) head.append(fieldBox(f));

    const lines = rowsEditor("lines", "Lines", "line", lineCols, x.lines || [], conf.lines);
    const vat = rowsEditor("vat", "VAT by rate", "VAT line", vatCols, x.vat || [], conf.vat);
    if (marks.has("vat")) vat.section.classList.add("check-failed");
    const totals = el("div", { class: "extraction-totals" }, totalFields.map(fieldBox));
    const addsUp = el("p", { class: "balance", role: "status", "aria-live": "polite", "data-testid": "totals-check" });

    const save = el("button", { type: "submit", "data-testid": "extraction-save", text: "Save corrections" });
    const approve = canApprove(ctx.role) ? el("button", { type: "button", class: "primary", "data-testid": "document-approve", text: "Approve into the books" }) : null;
    const accounts = approve ? await accountsOf(ctx) : [];
    if (!ctx.live()) return el("div");
    const debit = approve ? accountPicker("approve-debit", accounts, "Debit account (optional)") : null;
    const credit = approve ? accountPicker("approve-credit", accounts, "Credit account (optional)") : null;
    const approveBox = approve ? el("section", { class: "card-section approve", "aria-labelledby": "approve-heading", "data-testid": "document-approve-section" }, [
      el("h2", { id: "approve-heading", text: "Approve" }),
      el("p", { class: "hint", text: "Approving makes a draft journal entry from these figures, linked to this document; a manager then approves the entry in the journal. Leave the accounts empty for the appliance to choose them from the document’s type." }),
      el("div", { class: "inline-form books-form" }, [debit.wrap, credit.wrap]),
      el("div", { class: "actions" }, [approve]),
    ]) : null;

    const form = el("form", { class: "extraction-form", novalidate: true, "data-testid": "extraction-form", "aria-labelledby": "extraction-heading" }, [
      head, lines.section, vat.section, totals, addsUp, el("div", { class: "actions" }, [save]),
    ]);
    const section = el("section", { "aria-labelledby": "extraction-heading" }, [el("h2", { id: "extraction-heading", text: "What was read" }),
      el("p", { class: "hint", text: "Correct anything the appliance read wrong; your corrections teach it this vendor’s layout." }), form, checksList(d)]);
    if (approveBox) section.append(approveBox);

    let dirty = false;
    const changed = () => { dirty = true; form.dataset.dirty = "true"; totalsCheck(); };
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);

    // totalsCheck adds the lines and VAT as integers and says whether the
    // figures agree, as the appliance's "totals" check does.
    function totalsCheck() {
      const vals = (list, key) => list.rows.map((r) => r.inputs[key].value);
      const lineSum = sum(vals(lines, "amount"), 2);
      const vatSum = sum(vals(vat, "amount"), 2);
      const sub = dec(inputs.subtotal.value);
      const tot = dec(inputs.total.value);
      addsUp.className = "balance";
      delete addsUp.dataset.balanced;
      if (!vatSum || !lineSum) { addsUp.textContent = "An amount is not a number."; addsUp.classList.add("off"); addsUp.dataset.balanced = "false"; return; }
      if (!sub || !tot) { addsUp.textContent = "Enter the subtotal and the total to check them."; return; }
      const scale = Math.max(sub.scale, tot.scale, vatSum.scale, 2);
      const at = (v, s) => v * 10n ** BigInt(scale - s);
      const want = at(sub.u, sub.scale) + at(vatSum.u, vatSum.scale);
      const got = at(tot.u, tot.scale);
      const ok = want === got;
      addsUp.dataset.balanced = String(ok);
      addsUp.classList.add(ok ? "ok" : "off");
      addsUp.textContent = (ok ? "Subtotal " + fmt(at(sub.u, sub.scale), scale) + " + VAT " + fmt(at(vatSum.u, vatSum.scale), scale) + " = total " + fmt(got, scale) + "."
        : "Subtotal " + fmt(at(sub.u, sub.scale), scale) + " + VAT " + fmt(at(vatSum.u, vatSum.scale), scale) + " ≠ total " + fmt(got, scale) + ".")
        + (lines.rows.length ? " Lines add up to " + fmt(lineSum.u, lineSum.scale) + "." : "");
    }
    totalsCheck();

    function body() {
      const out = {};
      for (const [k, i] of Object.entries(inputs)) out[k] = i.classList.contains("amount") ? i.value.trim().replace(/[,\s_]/g, "") : i.value.trim();
      if (out.currency) out.currency = out.currency.toUpperCase();
      if (out.vendor_pin) out.vendor_pin = out.vendor_pin.toUpperCase();
      out.lines = lines.values();
      out.vat = vat.values();
      return out;
    }

    function clearErrors() {
      for (const e of form.querySelectorAll(".field-error")) { e.textContent = ""; delete e.dataset.code; }
      for (const i of form.querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
    }

    // showError puts a refusal next to the field it names ("total",
    // "lines[1].amount", "vat.0.rate"), else in the message box.
    function showError(r, title) {
      const f = r.error.field || "";
      const m = /^(lines|vat)(?:\[(\d+)\]|\.(\d+))(?:\.(\w+))?$/.exec(f);
      let input = inputs[f];
      if (!input && m) {
        const row = (m[1] === "lines" ? lines : vat).rows[+(m[2] || m[3])];
        if (row) input = row.inputs[m[4]] || Object.values(row.inputs)[0];
      }
      if (input) {
        const err = document.getElementById(input.id + "-error") || form.querySelector("#" + CSS.escape(input.getAttribute("aria-describedby").split(" ")[0]));
        if (err) { err.textContent = sentence(r.error.message); err.dataset.code = r.error.code; }
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      failed(box, title, r);
    }

    async function saveNow() {
      const r = await ctx.api("PATCH", dpath(ctx, d.id, "/extraction"), body());
      if (!ctx.live()) return null;
      if (!r.ok) {
        showError(r, "The corrections were not saved.");
        return null;
      }
      dirty = false;
      delete form.dataset.dirty;
      return r.data;
    }

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearErrors();
      Vanta.message(box);
      save.disabled = true;
      if (approve) approve.disabled = true;
      const saved = await saveNow();
      save.disabled = false;
      if (approve) approve.disabled = false;
      if (!saved) return;
      // The appliance checks the corrected figures again: the page shows
      // its new checks and confidences.
      if (saved.id) await draw(ctx, section.parentNode, saved, box);
      if (!ctx.live()) return;
      Vanta.message(box, "success", "Your corrections are saved.", "", "extraction_saved");
    });

    if (approve) {
      approve.addEventListener("click", async () => {
        clearErrors();
        Vanta.message(box);
        approve.disabled = save.disabled = true;
        const done = () => { approve.disabled = save.disabled = false; };
        if (dirty && !(await saveNow())) return done();
        if (!ctx.live()) return;
        const b = {};
        if (debit.select.value) b.debit_account = debit.select.value;
        if (credit.select.value) b.credit_account = credit.select.value;
        const r = await ctx.api("POST", dpath(ctx, d.id, "/approve"), b);
        if (!ctx.live()) return;
        done();
        if (!r.ok) {
          const input = { debit_account: debit.select, credit_account: credit.select }[r.error.field];
          if (input) {
            const err = document.getElementById(input.id + "-error");
            err.textContent = sentence(r.error.message);
            err.dataset.code = r.error.code;
            input.setAttribute("aria-invalid", "true");
            input.focus();
            return;
          }
          return showError(r, "The document was not approved.");
        }
        const entry = r.data && r.data.journal_entry_id;
        // The page is drawn again as approved: read-only, with the link.
        const again = await ctx.api("GET", dpath(ctx, d.id));
        if (!ctx.live()) return;
        const doc = again.ok ? again.data : Object.assign({}, d, { status: "approved", journal_entry_id: entry });
        if (!doc.journal_entry_id) doc.journal_entry_id = entry;
        await draw(ctx, section.parentNode, doc, box);
        if (!ctx.live()) return;
        box.replaceChildren();
        Vanta.message(box, "success", "Approved: a draft journal entry was made.", "", "document_approved");
        box.append(el("a", { href: vpath(ctx, "/journal/" + encodeURIComponent(entry)), "data-testid": "approved-entry-link", text: "Open the draft entry" }));
        box.querySelector("a").focus();
      });
    }
    return section;
  }

  // rowsEditor is a table of rows to edit, add and remove (the lines, the
  // VAT by rate); values() reads the non-empty rows back.
  function rowsEditor(key, title, one, cols, initial, confidence) {
    const body = el("tbody");
    const add = el("button", { type: "button", "data-testid": key + "-add", text: "Add a " + one });
    const headId = key + "-heading";
    const heading = el("h3", { id: headId }, [title]);
    const p = percent(confidence);
    if (p) heading.append(" ", el("span", { class: "conf" + (Number(confidence) < 0.6 ? " low" : ""), "data-testid": "confidence", "data-confidence": String(confidence), text: "(confidence " + p + ")" }));
    const table = el("table", { class: "grid books", "data-testid": key + "-table", "aria-labelledby": headId }, [
      el("thead", {}, [el("tr", {}, cols.map((c) => el("th", { scope: "col", class: c.amount ? "amount" : null, text: c.label })).concat([el("th", { scope: "col", text: "" }, [el("span", { class: "offscreen", text: "Remove" })])]))]), body,
    ]);
    const ed = { rows: [], section: el("div", { class: "rows-editor rows-" + key, "data-testid": key + "-editor" }, [heading, el("div", { class: "scroll" }, [table]), el("div", { class: "actions" }, [add])]) };
    const renumber = () => ed.rows.forEach((r, i) => {
      r.tr.dataset.row = String(i);
      for (const c of cols) r.inputs[c.key].setAttribute("aria-label", c.label + " of " + one + " " + (i + 1));
      r.remove.setAttribute("aria-label", "Remove " + one + " " + (i + 1));
    });
    let seq = 0;
    function row(v) {
      const n = ++seq;
      const inputs = {};
      const err = el("p", { class: "field-error", id: "x-" + key + "-" + n + "-error" });
      const cells = cols.map((c, ci) => {
        const input = el("input", { type: "text", id: "x-" + key + "-" + n + "-" + c.key, autocomplete: "off", inputmode: c.amount ? "decimal" : null, class: c.amount ? "amount" : null,
          "aria-describedby": err.id, "data-testid": key + "-" + c.key });
        input.value = v && v[c.key] !== undefined && v[c.key] !== null ? String(v[c.key]) : "";
        inputs[c.key] = input;
        return el("td", { class: c.amount ? "amount" : null }, ci === 0 ? [input, err] : [input]);
      });
      const remove = el("button", { type: "button", class: "danger", "data-testid": key + "-remove", text: "Remove" });
      const tr = el("tr", { "data-testid": key + "-row" }, cells.concat([el("td", { class: "row-actions" }, [remove])]));
      const r = { tr, inputs, remove };
      remove.addEventListener("click", () => {
        const i = ed.rows.indexOf(r);
        ed.rows.splice(i, 1);
        tr.remove();
        renumber();
        body.dispatchEvent(new Event("input", { bubbles: true }));
        (ed.rows[Math.min(i, ed.rows.length - 1)] || { inputs: { [cols[0].key]: add } }).inputs[cols[0].key].focus();
      });
      ed.rows.push(r);
      body.append(tr);
      renumber();
      return r;
    }
    for (const v of initial) row(v);
    add.addEventListener("click", () => { row(null).inputs[cols[0].key].focus(); });
    ed.values = () => ed.rows.map((r) => {
      const o = {};
      for (const c of cols) o[c.key] = c.amount ? r.inputs[c.key].value.trim().replace(/[,\s_]/g, "") : r.inputs[c.key].value.trim();
      return o;
    }).filter((o) => Object.values(o).some((v) => v !== ""));
    return ed;
  }

  async function accountsOf(ctx) {
    const items = [];
    let cursor = "";
    for (let i = 0; i < 20; i++) {
      const r = await ctx.api("GET", cpath(ctx, "/accounts?limit=1000" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "")));
      if (!r.ok) return items;
      items.push(...(r.data.items || []));
      cursor = r.data.next_cursor || "";
      if (!cursor) break;
    }
    return items.filter((a) => a.active !== false);
  }

  const accountTypes = [["asset", "Assets"], ["liability", "Liabilities"], ["equity", "Equity"], ["income", "Income"], ["expense", "Expenses"]];

  function accountPicker(id, accounts, label) {
    const select = el("select", { id, "aria-describedby": id + "-error", "data-testid": id }, [el("option", { value: "", text: "Let the appliance choose" })]);
    for (const [t, title] of accountTypes) {
      const of = accounts.filter((a) => a.type === t).sort((a, b) => String(a.code).localeCompare(String(b.code), undefined, { numeric: true }));
      if (of.length) select.append(el("optgroup", { label: title }, of.map((a) => el("option", { value: a.code, text: a.code + " " + a.name }))));
    }
    const wrap = el("div", { class: "field" }, [el("label", { for: id, text: label }), select, el("p", { class: "field-error", id: id + "-error", "data-testid": id + "-error" })]);
    return { select, wrap };
  }

  // engineFacts says how the document was read: the engine, the model and
  // why the router fell back, when it did.
  const engineNames = { llm: "Language model", rules: "Rules", review: "A reviewer’s corrections" };
  function engineFacts(d) {
    const x = d.extraction || {};
    const dl = el("dl", { class: "facts", "data-testid": "document-engine" });
    const fact = (k, v, testid) => { if (v !== undefined && v !== null && v !== "") dl.append(el("dt", { text: k }), el("dd", { "data-testid": testid, text: String(v) })); };
    fact("Engine", engineNames[x.engine] || x.engine, "document-engine-name");
    fact("Model", x.model, "document-model");
    fact("Prompt version", x.prompt_version, "document-prompt");
    fact("Why not a model", x.fallback_reason, "document-fallback");
    fact("Took", x.duration_ms !== undefined && x.duration_ms !== null && x.engine !== "review" ? took(Number(x.duration_ms)) : "", "document-engine-took");
    if (!dl.childNodes.length) return el("div");
    return el("section", { "aria-labelledby": "engine-heading" }, [el("h2", { id: "engine-heading", text: "How it was read" }), dl]);
  }

  const took = (ms) => (!isFinite(ms) ? "" : ms < 1000 ? ms + " ms" : (ms / 1000).toFixed(1) + " s");

  // stagesTable shows each stage of the pipeline with its time and, for a
  // failed stage, its error.
  function stagesTable(d) {
    const stages = d.stages || [];
    if (!stages.length) return el("div");
    const body = el("tbody");
    for (const s of stages) {
      const ms = s.duration_ms !== undefined && s.duration_ms !== null ? Number(s.duration_ms)
        : (s.started_at && s.finished_at ? new Date(s.finished_at) - new Date(s.started_at) : NaN);
      body.append(el("tr", { "data-testid": "document-stage", "data-stage": s.name, "data-failed": String(!!s.error) }, [
        td(statusLabel(s.name)), td(s.started_at ? Vanta.dateTime(s.started_at) : ""),
        td(isFinite(ms) ? took(ms) : s.finished_at ? "" : "running", { class: "amount" }),
        td(s.error || "", { class: s.error ? "stage-error" : null }),
      ]));
    }
    return el("section", { "aria-labelledby": "stages-heading" }, [el("h2", { id: "stages-heading", text: "Stages" }),
      el("div", { class: "scroll" }, [el("table", { class: "grid books", "data-testid": "document-stages" }, [
        el("thead", {}, [el("tr", {}, [["Stage"], ["Started"], ["Took", true], ["Error"]].map(([h, a]) => el("th", { scope: "col", class: a ? "amount" : null, text: h })))]), body,
      ])])]);
  }

  // ---- Registration -------------------------------------------------------

  // The documents pages fill the Documents slot of the company's navigation.
  Console.registerView("/console/c/:company/documents", {
    title: "Documents", nav: { group: "company", label: "Documents", order: 60, slot: "documents" }, render: list,
  });
  Console.registerView("/console/c/:company/documents/:document", { title: "Document", render: review });

  return { percent, fieldsOfCheck };
})();
