package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/vanta-ledger/vanta/internal/auth"
	"github.com/vanta-ledger/vanta/internal/extract/extracttest"
)

// Browser tests of the console's documents pages
// (assets/console-documents.js) in strict tabs, against the real binary
// and its real pipeline: an admin uploads an invoice through the file
// chooser and a scan by dropping it, meets the duplicate and the refused
// file with the appliance's own words, watches both get read, finds the
// invoice by a word in it, then reviews it beside its original, corrects
// a field, approves it with accounts of their choice and follows the link
// to the draft entry; a viewer reads the list and the review and meets no
// control that would change anything.

// webDocsFile writes content into dir as name and returns its path.
func webDocsFile(t *testing.T, dir, name string, content []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// dropFiles drops files from the computer on the element sel, as a person
// dragging them from a file manager does.
func (p *pagesTab) dropFiles(sel string, files ...string) {
	p.t.Helper()
	xy := eval[[]float64](p.tab, fmt.Sprintf(`(() => { const e = document.querySelector(%s); e.scrollIntoView({ block: "center" });
		const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()`, jsString(sel)))
	data := &input.DragData{Items: []*input.DragDataItem{}, Files: files, DragOperationsMask: 1}
	for _, ty := range []input.DispatchDragEventType{input.DispatchDragEventTypeDragEnter, input.DispatchDragEventTypeDragOver, input.DispatchDragEventTypeDrop} {
		if _, err := chromedp.Call(p.ctx, input.DispatchDragEvent, input.DispatchDragEventParams{Type: ty, X: xy[0], Y: xy[1], Data: data}); err != nil {
			p.t.Fatalf("%s: %s on %s: %v", p.name, ty, sel, err)
		}
	}
}

// uploaded waits for the upload of the file named name to end in state
// (accepted, duplicate or refused) and returns its line's document id.
func (p *pagesTab) uploaded(name, state string) string {
	p.t.Helper()
	sel := fmt.Sprintf(`li[data-testid="upload"][data-name=%q][data-state=%q]`, name, state)
	p.waitShown(sel)
	return eval[string](p.tab, fmt.Sprintf(`document.querySelector(%s).dataset.document || ""`, jsString(sel)))
}

// webDocsAtRest is a status the pipeline leaves a document in.
var webDocsAtRest = []string{"done", "needs_review", "failed", "approved"}

// webDocsGet reads a document from the API.
func webDocsGet(t *testing.T, in *instance, cid, token, id string) docAnswer {
	t.Helper()
	var d docAnswer
	in.mustCall("GET", "/api/v1/companies/"+cid+"/documents/"+id, token, nil, 200, &d)
	return d
}

// webDocsSettle waits, asking the API, until the pipeline has left the
// document at rest; the guard bounds the wait.
func webDocsSettle(t *testing.T, in *instance, cid, token, id string) docAnswer {
	t.Helper()
	deadline := time.Now().Add(3 * guard)
	for {
		d := webDocsGet(t, in, cid, token, id)
		if slices.Contains(webDocsAtRest, d.Status) {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("document %s is still %s", id, d.Status)
		}
		select {
		case <-in.exited:
			t.Fatalf("vanta init exited while document %s was %s", id, d.Status)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// atRestIn is a JavaScript condition: the element sel shows a status at rest.
func atRestIn(sel string) string {
	return fmt.Sprintf(`(() => { const e = document.querySelector(%s); return !!e && %s.includes(e.dataset.status); })()`, jsString(sel), jsList(webDocsAtRest))
}

func jsList(s []string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestConsoleDocumentsUploadReviewApprove(t *testing.T) {
	w := newWorld(t)
	in := w.in
	cid := w.a.ID
	admin := w.byRole[auth.RoleAdmin].AccessToken
	api := "/api/v1/companies/" + cid
	dir := t.TempDir()
	invoice := extracttest.Invoice()
	pdf := extracttest.PDF(invoice.Lines)
	invoicePath := webDocsFile(t, dir, "invoice-0042.pdf", pdf)
	scanPath := webDocsFile(t, dir, "till-scan.png", extracttest.Scan(t, extracttest.InvoiceVariant(7).Lines))
	// Named .pdf, but the appliance reads the type from the content.
	notesPath := webDocsFile(t, dir, "notes.pdf", []byte("Notes from the meeting, not a PDF at all.\n"))
	codes := newTOTPBook(t)
	codes.after(w.adminTOTP, time.Now())

	// Uploads: a browser of its own, whose guard covers the pipeline's
	// work on both files.
	p := newPagesTab(t, in, browser(t), "admin", false)
	p.signInAs("admin@acme.test", passwordOf(auth.RoleAdmin), codes.code(w.adminTOTP))
	p.navTo("documents")
	p.waitText("#view-title", "Documents")
	p.waitShown(`[data-testid="documents-empty"]`)
	p.accessible("documents")
	p.extraScreenshot("documents-empty.png")
	// The keyboard reaches the file chooser first, then Upload.
	p.tabTo(`[data-testid="document-file"]`, 5)
	p.tabTo(`[data-testid="document-upload"]`, 3)

	// Upload with nothing chosen: said next to the chooser, nothing sent.
	eval[bool](p.tab, `(performance.clearResourceTimings(), true)`)
	p.do("upload nothing", chromedp.Click(chromedp.CSS(`[data-testid="document-upload"]`)))
	p.waitText(`[data-testid="document-file-error"]`, "Choose a file")
	if asked := p.apiRequests(); len(asked) != 0 {
		t.Errorf("uploading nothing sent %v", asked)
	}

	// The invoice through the file chooser: its progress bar ends full
	// and its line links to the document.
	p.do("choose the invoice", chromedp.SetUploadFiles(chromedp.CSS(`[data-testid="document-file"]`), []string{invoicePath}))
	p.do("upload it", chromedp.Click(chromedp.CSS(`[data-testid="document-upload"]`)))
	invoiceID := p.uploaded("invoice-0042.pdf", "accepted")
	if invoiceID == "" {
		t.Fatal("the accepted upload names no document")
	}
	bar := eval[[]float64](p.tab, `(() => { const b = document.querySelector('li[data-name="invoice-0042.pdf"] progress'); return [b.value, b.max]; })()`)
	if bar[0] != bar[1] || bar[1] < float64(len(pdf)) {
		t.Errorf("the invoice's progress bar ends at %v of %v (the file is %d bytes)", bar[0], bar[1], len(pdf))
	}
	p.waitShown(fmt.Sprintf(`li[data-name="invoice-0042.pdf"] a[data-testid="upload-link"][href="/console/c/%s/documents/%s"]`, cid, invoiceID))
	// The list shows it at once, and follows it through the pipeline
	// without a reload.
	row := fmt.Sprintf(`tr[data-testid="document"][data-id=%q]`, invoiceID)
	p.waitShown(row)
	p.waitFor("the invoice to be read", atRestIn(row), textOf(row))

	// The scan, dropped on the upload area.
	p.dropFiles(`[data-testid="document-drop"]`, scanPath)
	scanID := p.uploaded("till-scan.png", "accepted")
	scanRow := fmt.Sprintf(`tr[data-testid="document"][data-id=%q]`, scanID)
	p.waitShown(scanRow)

	// The same invoice again: a duplicate, pointing at the first.
	p.do("choose the invoice again", chromedp.SetUploadFiles(chromedp.CSS(`[data-testid="document-file"]`), []string{invoicePath}))
	p.do("upload it again", chromedp.Click(chromedp.CSS(`[data-testid="document-upload"]`)))
	if again := p.uploaded("invoice-0042.pdf", "duplicate"); again != invoiceID {
		t.Errorf("the duplicate points at %q, the first upload is %q", again, invoiceID)
	}
	p.waitText(`li[data-name="invoice-0042.pdf"][data-state="duplicate"]`, "Already uploaded")

	// A file that is no document: refused, in the appliance's words.
	p.allow(415, api+"/documents")
	p.do("choose the notes", chromedp.SetUploadFiles(chromedp.CSS(`[data-testid="document-file"]`), []string{notesPath}))
	p.do("upload them", chromedp.Click(chromedp.CSS(`[data-testid="document-upload"]`)))
	p.uploaded("notes.pdf", "refused")
	code, body := in.uploadFile(admin, api+"/documents", "notes.pdf", []byte("Notes from the meeting, not a PDF at all.\n"))
	var refusal struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(body, &refusal); err != nil || code != 415 {
		t.Fatalf("the API on the notes: %d %s", code, body)
	}
	p.waitShown(fmt.Sprintf(`li[data-name="notes.pdf"][data-state="refused"][data-code=%q]`, refusal.Error.Code))
	p.waitText(`li[data-name="notes.pdf"][data-state="refused"]`, strings.TrimSuffix(refusal.Error.Message[1:], "."))
	p.disallow()
	p.accessible("documents after uploads")
	p.extraScreenshot("documents-uploads.png")
	var list struct{ Items []struct{ ID string } }
	in.mustCall("GET", api+"/documents", admin, nil, 200, &list)
	if len(list.Items) != 2 {
		t.Errorf("after two uploads, a duplicate and a refusal the API lists %+v", list.Items)
	}

	// Both get read, and the list says so as it happens.
	p.waitFor("the scan to be read", atRestIn(scanRow), textOf(scanRow))
	read := webDocsGet(t, in, cid, admin, invoiceID)
	if got := eval[string](p.tab, fmt.Sprintf(`document.querySelector(%s).dataset.status`, jsString(row))); got != read.Status {
		t.Errorf("the list shows the invoice %s, the API %s", got, read.Status)
	}
	if read.Status != "done" && read.Status != "needs_review" {
		t.Fatalf("the invoice was not read: %+v", read)
	}

	// The filters: by status, and by a word of the document's text.
	p.open("/console/c/" + cid + "/documents?status=failed")
	if p.value(`[data-testid="documents-filter-status"]`) != "failed" {
		t.Error("the status filter does not show the status asked for")
	}
	if eval[bool](p.tab, atRestIn(row)) {
		t.Error("the invoice is listed among the failed documents")
	}
	p.navTo("documents")
	p.do("search for the invoice's number", chromedp.SendKeys(chromedp.CSS(`[data-testid="documents-filter-q"]`), "0042"))
	p.click("search", `[data-testid="documents-search"]`)
	p.waitShown(`[data-testid="documents-count"][data-filters="q=0042"]`)
	if ids := eval[[]string](p.tab, `[...document.querySelectorAll('tr[data-testid="document"]')].map(r => r.dataset.id)`); fmt.Sprint(ids) != fmt.Sprint([]string{invoiceID}) {
		t.Errorf("searching 0042 lists %v, want only the invoice %s", ids, invoiceID)
	}
	p.open("/console/c/" + cid + "/documents?q=giraffe")
	p.waitText(`[data-testid="documents-empty"]`, "No document matches")
	p.accessible("documents search")
	p.clean()

	// Review: a new browser (and guard); the admin signs in again.
	code2 := codes.code(w.adminTOTP)
	r := newPagesTab(t, in, browser(t), "admin review", false)
	r.signInAs("admin@acme.test", passwordOf(auth.RoleAdmin), code2)

	// The scan's original is an image, shown.
	r.open("/console/c/" + cid + "/documents/" + scanID)
	r.waitShown(`[data-testid="document-facts"]`)
	r.waitFor("the scan's image to load", `(() => { const i = document.querySelector('[data-testid="original-image"]'); return !!i && i.complete && i.naturalWidth > 0; })()`,
		`document.querySelector('[data-testid="document-original"]').innerText`)

	// The invoice: its original (a PDF, in a frame) beside what was read.
	r.open("/console/c/" + cid + "/documents/" + invoiceID)
	r.waitText("#view-title", "invoice-0042.pdf")
	r.waitShown(`[data-testid="document-original"][data-kind="pdf"] iframe[data-testid="original-pdf"]`)
	r.waitShown(`[data-testid="original-download"][download="invoice-0042.pdf"]`)
	r.waitShown(fmt.Sprintf(`[data-testid="document-facts"][data-status=%q]`, read.Status))
	r.waitShown(`[data-testid="extraction-form"]`)
	r.accessible("review")
	r.extraScreenshot("documents-review.png")
	fields := read.Extraction.Fields
	for _, f := range []string{"vendor_name", "vendor_pin", "document_number", "issue_date", "currency", "subtotal", "total"} {
		want, _ := fields[f].(string)
		if got := r.value(`[data-testid="field-` + f + `"]`); got != want {
			t.Errorf("the form shows %s = %q, the API %q", f, got, want)
		}
	}
	if want := engineLabel(read.Extraction.Engine); r.text(`[data-testid="document-engine-name"]`) != want {
		t.Errorf("the engine is shown as %q, want %q", r.text(`[data-testid="document-engine-name"]`), want)
	}
	if read.Extraction.FallbackReason != "" {
		r.waitText(`[data-testid="document-fallback"]`, read.Extraction.FallbackReason)
	}
	for _, st := range read.Stages {
		r.waitShown(fmt.Sprintf(`tr[data-testid="document-stage"][data-stage=%q]`, st.Name))
	}
	// Every check the appliance ran is listed; a failed one marks the
	// fields it is about.
	if n := eval[int](r.tab, `document.querySelectorAll('li[data-testid="document-check"]').length`); n != len(read.Extraction.Checks) {
		t.Errorf("%d checks listed, the API has %d", n, len(read.Extraction.Checks))
	}
	r.waitShown(`[data-testid="totals-check"]`)

	// A correction refused by the appliance shows next to its field.
	r.allow(400, api+"/documents/"+invoiceID+"/extraction")
	r.do("mistype the total", chromedp.Evaluate[chromedp.Void](`(() => { const i = document.querySelector('[data-testid="field-total"]'); i.value = "eight thousand"; i.dispatchEvent(new Event("input", { bubbles: true })); })()`))
	r.click("save it", `[data-testid="extraction-save"]`)
	r.waitShown(`[data-testid="field-total-error"][data-code="validation_failed"]`)
	if got := eval[string](r.tab, `document.querySelector('[data-testid="field-total"]').getAttribute("aria-invalid")`); got != "true" {
		t.Errorf("the refused total is not marked invalid (%q)", got)
	}
	r.disallow()

	// The correction: the vendor's name as the books should show it.
	const vendor = "Nairobi Office Supplies Limited"
	r.do("correct the vendor and the total", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const set = (sel, v) => { const i = document.querySelector(sel); i.value = v; i.dispatchEvent(new Event("input", { bubbles: true })); };
		set('[data-testid="field-vendor_name"]', %s);
		set('[data-testid="field-total"]', %s);
	})()`, jsString(vendor), jsString(invoice.Total))))
	r.click("save the corrections", `[data-testid="extraction-save"]`)
	r.waitShown(`[data-testid="document-message"][data-code="extraction_saved"]`)
	corrected := webDocsGet(t, in, cid, admin, invoiceID)
	if got, _ := corrected.Extraction.Fields["vendor_name"].(string); got != vendor {
		t.Fatalf("after saving the API has vendor_name %q", got)
	}
	r.waitShown(fmt.Sprintf(`[data-testid="document-facts"][data-status=%q]`, corrected.Status))
	if got := r.value(`[data-testid="field-vendor_name"]`); got != vendor {
		t.Errorf("after saving the form shows vendor %q", got)
	}

	// Approval with the accounts the admin chooses: Inventory against
	// Accounts payable.
	r.do("choose the accounts", chromedp.SetValue(chromedp.CSS(`[data-testid="approve-debit"]`), "1400"),
		chromedp.SetValue(chromedp.CSS(`[data-testid="approve-credit"]`), "2100"))
	r.click("approve it", `[data-testid="document-approve"]`)
	r.waitShown(`[data-testid="document-message"][data-code="document_approved"] a[data-testid="approved-entry-link"]`)
	approved := webDocsGet(t, in, cid, admin, invoiceID)
	if approved.Status != "approved" || approved.JournalEntryID == nil {
		t.Fatalf("after approving in the console the API has %+v", approved)
	}
	entryPath := "/console/c/" + cid + "/journal/" + *approved.JournalEntryID
	if got := eval[string](r.tab, `document.querySelector('[data-testid="approved-entry-link"]').getAttribute("href")`); got != entryPath {
		t.Errorf("the approval links to %q, want %q", got, entryPath)
	}
	r.waitShown(`[data-testid="document-facts"][data-status="approved"] [data-testid="document-entry-link"]`)
	if eval[bool](r.tab, `!!document.querySelector('[data-testid="extraction-form"], [data-testid="document-approve"]')`) {
		t.Error("an approved document still offers to be corrected or approved")
	}
	r.accessible("approved document")
	r.click("follow the link to the draft entry", `[data-testid="approved-entry-link"]`)
	r.atPath(entryPath)
	r.waitShown(`[data-testid="entry-facts"][data-status="draft"]`)
	r.waitText(`[data-testid="entry-source"]`, "document")
	r.extraScreenshot("documents-entry.png")
	var entry booksEntry
	in.mustCall("GET", api+"/journal-entries/"+*approved.JournalEntryID, admin, nil, 200, &entry)
	var debit, credit string
	for _, l := range entry.Lines {
		if l.Account == "1400" {
			debit = l.Debit
		}
		if l.Account == "2100" {
			credit = l.Credit
		}
	}
	if entry.Status != "draft" || debit != invoice.Subtotal || credit != invoice.Total {
		t.Errorf("the draft entry %+v: want 1400 debited %s and 2100 credited %s", entry, invoice.Subtotal, invoice.Total)
	}
	r.clean()

	// A PDF that cannot be read fails in the pipeline, with its reason.
	code, body = in.uploadFile(admin, api+"/documents", "torn.pdf", extracttest.CorruptPDF())
	var torn docStarted
	if err := json.Unmarshal(body, &torn); err != nil || code != 202 {
		t.Fatalf("upload the corrupt PDF: %d %s", code, body)
	}
	failed := webDocsSettle(t, in, cid, admin, torn.DocumentID)
	if failed.Status != "failed" || failed.Error == nil {
		t.Fatalf("the corrupt PDF: %+v", failed)
	}

	// A viewer reads the list and the review, and meets no control that
	// would change anything.
	v := newPagesTab(t, in, browser(t), "viewer", false)
	v.signInAs("viewer@acme.test", passwordOf(auth.RoleViewer), "")
	v.navTo("documents")
	v.waitShown(fmt.Sprintf(`tr[data-testid="document"][data-id=%q][data-status="approved"]`, invoiceID))
	v.waitShown(scanRow)
	v.accessible("documents as a viewer")
	if c := v.controls(); len(c) != 0 {
		t.Errorf("the documents list shows a viewer controls: %q", c)
	}
	v.click("open the invoice", row+` [data-testid="document-link"]`)
	v.waitShown(`[data-testid="extraction-facts"]`)
	v.waitText(`[data-testid="extraction-vendor_name"]`, vendor)
	v.waitShown(`[data-testid="document-entry-link"]`)
	v.waitShown(`[data-testid="original-download"]`)
	v.accessible("review as a viewer")
	if c := v.controls(); len(c) != 0 {
		t.Errorf("the review shows a viewer controls: %q", c)
	}
	v.open("/console/c/" + cid + "/documents/" + scanID)
	v.waitShown(`[data-testid="document-facts"]`)
	if c := v.controls(); len(c) != 0 {
		t.Errorf("the scan's review shows a viewer controls: %q", c)
	}
	// The failed one: its badge and reason in the list, and on its page.
	v.navTo("documents")
	tornRow := fmt.Sprintf(`tr[data-testid="document"][data-id=%q][data-status="failed"]`, torn.DocumentID)
	v.waitText(tornRow+` [data-testid="document-error"]`, *failed.Error)
	v.click("open the failed one", tornRow+` [data-testid="document-link"]`)
	v.waitShown(`[data-testid="document-failed"][data-code="document_failed"]`)
	v.waitText(`[data-testid="document-failed"]`, (*failed.Error)[1:])
	for _, st := range failed.Stages {
		if st.Error != "" {
			v.waitText(fmt.Sprintf(`tr[data-testid="document-stage"][data-stage=%q][data-failed="true"]`, st.Name), st.Error)
		}
	}
	v.accessible("a failed document")
	if c := v.controls(); len(c) != 0 {
		t.Errorf("a failed document shows a viewer controls: %q", c)
	}
	v.clean()

	// A user (documents.upload) reads the failed one again, which fails
	// again for the same reason, then deletes it; correcting and approving
	// are not theirs.
	u := newPagesTab(t, in, browser(t), "user", false)
	u.signInAs("user@acme.test", passwordOf(auth.RoleUser), "")
	u.open("/console/c/" + cid + "/documents/" + torn.DocumentID)
	u.waitShown(`[data-testid="document-facts"][data-status="failed"]`)
	if eval[bool](u.tab, `!!document.querySelector('[data-testid="extraction-form"], [data-testid="document-approve"]')`) {
		t.Error("a user is offered to correct or approve")
	}
	eval[bool](u.tab, `(performance.clearResourceTimings(), true)`)
	u.do("read it again", chromedp.Click(chromedp.CSS(`[data-testid="document-retry"]`)))
	retried := api + "/documents/" + torn.DocumentID + "/retry"
	u.waitFor("the retry to be sent", fmt.Sprintf(`performance.getEntriesByType("resource").some(e => new URL(e.name).pathname === %s)`, jsString(retried)), `location.pathname`)
	if again := webDocsSettle(t, in, cid, admin, torn.DocumentID); again.Status != "failed" {
		t.Errorf("the corrupt PDF read again: %+v", again)
	}
	u.waitShown(`[data-testid="document-facts"][data-status="failed"]`)
	u.waitShown(`[data-testid="document-retry"]`)
	u.do("delete it", chromedp.Click(chromedp.CSS(`[data-testid="document-delete"]`)))
	u.click("confirm", `[data-testid="document-delete-yes"]`)
	u.atPath("/console/c/" + cid + "/documents")
	u.settled()
	if eval[bool](u.tab, fmt.Sprintf(`!!document.querySelector('tr[data-testid="document"][data-id=%q]')`, torn.DocumentID)) {
		t.Error("the deleted document is still listed")
	}
	if code, body := in.call("GET", api+"/documents/"+torn.DocumentID, admin, nil); code != 404 {
		t.Errorf("the deleted document: %d %s", code, body)
	}
	// An approved one offers no delete.
	u.open("/console/c/" + cid + "/documents/" + invoiceID)
	u.waitShown(`[data-testid="document-facts"][data-status="approved"]`)
	if c := u.controls(); len(c) != 0 {
		t.Errorf("an approved document shows a user controls: %q", c)
	}
	u.clean()
}

// engineLabel is how the review names an extraction's engine.
func engineLabel(engine string) string {
	switch engine {
	case "llm":
		return "Language model"
	case "rules":
		return "Rules"
	case "review":
		return "A reviewer’s corrections"
	}
	return engine
}

// seedDocuments gives both companies of w a document for the console
// crawl, read by the pipeline: A's an invoice, B's named and written with
// B's marker, which no page of A may show. It returns A's document's id.
func seedDocuments(t *testing.T, w *world) string {
	t.Helper()
	var inA string
	for _, c := range []struct{ id, token, name string }{
		{w.a.ID, w.byRole[auth.RoleAdmin].AccessToken, "acme-invoice.pdf"},
		{w.b.ID, w.bAdmin.AccessToken, strings.ReplaceAll(w.markersB[1], " ", "-") + ".pdf"},
	} {
		lines := extracttest.Invoice().Lines
		if c.id == w.b.ID {
			lines = append([]string{w.markersB[1]}, lines...)
		}
		code, body := w.in.uploadFile(c.token, "/api/v1/companies/"+c.id+"/documents", c.name, extracttest.PDF(lines))
		if code != 202 {
			t.Fatalf("seed %s: %d %s", c.name, code, body)
		}
		var st docStarted
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatal(err)
		}
		webDocsSettle(t, w.in, c.id, c.token, st.DocumentID)
		if c.id == w.a.ID {
			inA = st.DocumentID
		}
	}
	return inA
}
