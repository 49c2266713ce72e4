package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"mime/multipart"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/auth"
	"github.com/vanta-ledger/vanta/internal/extract/extracttest"
)

// Documents through the real binary: intake, the pipeline on the job
// queue, review and approval into the books, bad files, a restart and a
// reseal mid-job, and other companies kept out.

// docRig is an unsealed appliance with GOD, company A and its manager
// (who may upload, approve documents and approve entries), and company B
// with its admin.
type docRig struct {
	in      *instance
	data    string
	env     []string
	shares  []string
	god     string
	a, b    company
	manager string // A's manager's access token
	bAdmin  string // B's admin's access token
	email   string
	pass    string
}

func newDocRig(t *testing.T, env ...string) *docRig {
	t.Helper()
	return newDocRigPrepared(t, nil, env...)
}

// newDocRigPrepared is newDocRig with prepare run on the data directory
// before the first boot (models to put in $DATA/models).
func newDocRigPrepared(t *testing.T, prepare func(data string), env ...string) *docRig {
	t.Helper()
	env = append([]string{"VANTA_QUOTA_USER_RPM=1000000", "VANTA_QUOTA_COMPANY_RPM=1000000"}, env...)
	r := &docRig{data: dataDir(t), env: env, email: "manager@docs.test", pass: "tall trees by the river two"}
	if prepare != nil {
		prepare(r.data)
	}
	r.in = bootWith(t, r.data, env)
	in := r.in
	in.waitReady()
	r.shares = in.initSeal(2, 2)
	in.unseal(r.shares)
	var god struct {
		TOTP struct{ Secret string } `json:"totp"`
	}
	in.mustCall("POST", "/api/v1/sys/setup/god", "", map[string]string{"email": "god@docs.test", "name": "Creator", "password": "correct horse battery staple"}, 201, &god)
	r.god = in.login("god@docs.test", "correct horse battery staple", god.TOTP.Secret).AccessToken
	in.mustCall("POST", "/api/v1/companies", r.god, map[string]any{"company_name": "Vanta Test Company Ltd", "tax_id": "P051234567Z"}, 201, &r.a)
	in.mustCall("POST", "/api/v1/companies", r.god, map[string]any{"company_name": "Bidii Traders", "tax_id": "P059999999B"}, 201, &r.b)
	in.mustCall("POST", "/api/v1/companies/"+r.a.ID+"/users", r.god,
		map[string]string{"email": r.email, "name": "Manager", "role": string(auth.RoleManager), "password": initialPassword(r.pass)}, 201, nil)
	r.manager = in.setOwnPassword(r.email, initialPassword(r.pass), r.pass, "").AccessToken
	var bAdmin struct {
		TOTP struct{ Secret string } `json:"totp"`
	}
	in.mustCall("POST", "/api/v1/companies/"+r.b.ID+"/users", r.god,
		map[string]string{"email": "admin@bidii.test", "name": "Admin of Bidii", "role": "admin", "password": initialPassword("seven lanterns over the lake")}, 201, &bAdmin)
	r.bAdmin = in.setOwnPassword("admin@bidii.test", initialPassword("seven lanterns over the lake"), "seven lanterns over the lake", bAdmin.TOTP.Secret).AccessToken
	return r
}

func (r *docRig) path(cid, p string) string { return "/api/v1/companies/" + cid + p }

// reboot stops the appliance (SIGTERM) and boots it again on the same
// data, unsealed, with the manager signed in again.
func (r *docRig) reboot(t *testing.T) {
	t.Helper()
	r.in.stop()
	r.in = bootWith(t, r.data, r.env)
	r.in.waitReady()
	r.in.unseal(r.shares)
	r.manager = r.in.login(r.email, r.pass, "").AccessToken
}

// uploadFile posts content as multipart field "file" named name.
func (in *instance) uploadFile(token, path, name string, content []byte) (int, []byte) {
	in.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		in.t.Fatal(err)
	}
	_, _ = fw.Write(content)
	_ = mw.Close()
	req := in.request("POST", path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return in.do(req)
}

type docStarted struct {
	DocumentID string `json:"document_id"`
	JobID      string `json:"job_id"`
	Duplicate  bool   `json:"duplicate"`
}

// upload posts a document that must be accepted (202) and returns its ids.
func (r *docRig) upload(t *testing.T, token, cid, name string, content []byte) docStarted {
	t.Helper()
	code, body := r.in.uploadFile(token, r.path(cid, "/documents"), name, content)
	if code != 202 {
		t.Fatalf("upload %s: %d %s", name, code, body)
	}
	var st docStarted
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	if _, err := uuid.Parse(st.DocumentID); err != nil {
		t.Fatalf("document_id %q: %v", st.DocumentID, err)
	}
	if _, err := uuid.Parse(st.JobID); err != nil {
		t.Fatalf("job_id %q: %v", st.JobID, err)
	}
	return st
}

type docAnswer struct {
	ID         string  `json:"id"`
	Status     string  `json:"status"`
	Type       string  `json:"type"`
	Confidence string  `json:"confidence"`
	Error      *string `json:"error"`
	Stages     []struct {
		Name       string     `json:"name"`
		StartedAt  *time.Time `json:"started_at"`
		FinishedAt *time.Time `json:"finished_at"`
		DurationMS *int64     `json:"duration_ms"`
		Error      string     `json:"error"`
	} `json:"stages"`
	Extraction *struct {
		Class          string            `json:"class"`
		Fields         map[string]any    `json:"fields"`
		Confidence     []json.RawMessage `json:"confidence"`
		Checks         []struct{ Name string }
		Engine         string `json:"engine"`
		Model          string `json:"model"`
		PromptVersion  string `json:"prompt_version"`
		FallbackReason string `json:"fallback_reason"`
	} `json:"extraction"`
	JournalEntryID *string `json:"journal_entry_id"`
}

// settled is a status the pipeline leaves a document in.
func settled(status string) bool {
	return status == "done" || status == "needs_review" || status == "failed"
}

// waitDocument polls the document until until says so; reaching the
// guard fails the test with the last answer.
func (r *docRig) waitDocument(t *testing.T, token, cid, id string, until func(docAnswer) bool) docAnswer {
	t.Helper()
	deadline := time.Now().Add(3 * guard)
	var last docAnswer
	var lastBody []byte
	for time.Now().Before(deadline) {
		code, body := r.in.call("GET", r.path(cid, "/documents/"+id), token, nil)
		if code == 200 {
			last, lastBody = docAnswer{}, body
			if err := json.Unmarshal(body, &last); err != nil {
				t.Fatalf("document %s: %v in %s", id, err, body)
			}
			if until(last) {
				return last
			}
		} else if code != 503 { // sealed or restarting: ask again
			t.Fatalf("GET document %s: %d %s", id, code, body)
		}
		select {
		case <-r.in.exited:
			t.Fatalf("vanta init exited while waiting for document %s", id)
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Fatalf("document %s did not get there; last answer %s", id, lastBody)
	return last
}

// checkStagesTimed says every finished stage has its times.
func checkStagesTimed(t *testing.T, d docAnswer, want ...string) {
	t.Helper()
	seen := map[string]bool{}
	for _, st := range d.Stages {
		seen[st.Name] = true
		if st.StartedAt == nil || st.FinishedAt == nil || st.DurationMS == nil || *st.DurationMS < 0 || st.FinishedAt.Before(*st.StartedAt) {
			t.Errorf("stage %s of %s is not timed: %+v", st.Name, d.ID, st)
		}
	}
	for _, name := range want {
		if !seen[name] {
			t.Errorf("document %s has no stage %s: %+v", d.ID, name, d.Stages)
		}
	}
}

// TestDocumentsEndToEnd is acceptance 1: a PDF with a text layer and a
// scan the test renders go through text, classification and extraction;
// a reviewer corrects one, approves both into draft entries; the ledger's
// approval posts one and the trial balance shows its amount.
func TestDocumentsEndToEnd(t *testing.T) {
	r := newDocRig(t)
	in, a := r.in, r.a.ID
	invoice := extracttest.InvoiceVariant(1)
	receipt := extracttest.InvoiceVariant(2)
	pdf := extracttest.PDF(invoice.Lines)
	scan := extracttest.Scan(t, receipt.Lines)

	pdfDoc := r.upload(t, r.manager, a, "invoice.pdf", pdf)
	scanDoc := r.upload(t, r.manager, a, "scan.png", scan)

	// The same content again is the same document, not stored twice.
	code, body := in.uploadFile(r.manager, r.path(a, "/documents"), "copy.pdf", pdf)
	var dup docStarted
	if code != 200 || json.Unmarshal(body, &dup) != nil || !dup.Duplicate || dup.DocumentID != pdfDoc.DocumentID || dup.JobID != pdfDoc.JobID {
		t.Errorf("duplicate upload: %d %s", code, body)
	}

	// The reviewer sees the original as it was sent.
	req := in.request("GET", r.path(a, "/documents/"+pdfDoc.DocumentID+"/file"), nil)
	req.Header.Set("Authorization", "Bearer "+r.manager)
	resp, err := in.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, pdf) || resp.Header.Get("Content-Type") != "application/pdf" {
		t.Errorf("file: %d %s, %d bytes, same %v", resp.StatusCode, resp.Header.Get("Content-Type"), len(got), bytes.Equal(got, pdf))
	}

	for _, tc := range []struct {
		name   string
		doc    docStarted
		sample extracttest.Sample
	}{{"text-layer PDF", pdfDoc, invoice}, {"scanned PNG", scanDoc, receipt}} {
		d := r.waitDocument(t, r.manager, a, tc.doc.DocumentID, func(d docAnswer) bool { return settled(d.Status) })
		if d.Status == "failed" || d.Extraction == nil {
			t.Fatalf("%s: %+v (error %v)", tc.name, d, deref(d.Error))
		}
		checkStagesTimed(t, d, "ocr", "classify", "extract")
		if d.Extraction.Engine != "rules" || d.Type == "" {
			t.Errorf("%s: engine %q type %q", tc.name, d.Extraction.Engine, d.Type)
		}
		t.Logf("%s: %s, type %s (%s), fields %v", tc.name, d.Status, d.Type, d.Confidence, d.Extraction.Fields)
	}

	// Search finds a document by a word of its text.
	var list struct {
		Items []docAnswer
	}
	in.mustCall("GET", r.path(a, "/documents?q=toner&limit=10"), r.manager, nil, 200, &list)
	if len(list.Items) != 2 {
		t.Errorf("search for toner: %d items", len(list.Items))
	}
	in.mustCall("GET", r.path(a, "/documents?q=zanzibar"), r.manager, nil, 200, &list)
	if len(list.Items) != 0 {
		t.Errorf("search for a word in no document: %d items", len(list.Items))
	}

	// The reviewer corrects the scan's fields; an unknown field is refused.
	if code, body := in.call("PATCH", r.path(a, "/documents/"+scanDoc.DocumentID+"/extraction"), r.manager, map[string]any{"totl": "1.00"}); code != 400 || errorField(body) != "totl" {
		t.Errorf("PATCH with an unknown field: %d %s", code, body)
	}
	fields := map[string]any{
		"vendor_name": receipt.VendorName, "vendor_pin": receipt.VendorPIN, "customer": receipt.Customer,
		"document_number": receipt.DocumentNumber, "issue_date": receipt.IssueDate, "due_date": receipt.DueDate,
		"currency": "KES", "subtotal": receipt.Subtotal, "vat": []map[string]string{{"rate": receipt.VATRate, "amount": receipt.VATAmount}},
		"total": receipt.Total, "lines": []map[string]string{}, "payment_method": receipt.PaymentMethod,
	}
	var corrected docAnswer
	in.mustCall("PATCH", r.path(a, "/documents/"+scanDoc.DocumentID+"/extraction"), r.manager, fields, 200, &corrected)
	if corrected.Extraction == nil || corrected.Extraction.Fields["total"] != receipt.Total {
		t.Fatalf("corrected: %+v", corrected.Extraction)
	}

	// Approval makes a draft entry that names the document; the ledger's
	// approval posts it and the trial balance carries the total.
	var appr struct {
		JournalEntryID string `json:"journal_entry_id"`
	}
	in.mustCall("POST", r.path(a, "/documents/"+scanDoc.DocumentID+"/approve"), r.manager, nil, 201, &appr)
	var entry struct {
		Status   string
		Source   string
		SourceID string `json:"source_id"`
		Lines    []struct {
			Debit, Credit string
		}
	}
	in.mustCall("GET", r.path(a, "/journal-entries/"+appr.JournalEntryID), r.manager, nil, 200, &entry)
	if entry.Status != "draft" || entry.Source != "document" || entry.SourceID != scanDoc.DocumentID {
		t.Errorf("entry of the document: %+v", entry)
	}
	d := r.waitDocument(t, r.manager, a, scanDoc.DocumentID, func(docAnswer) bool { return true })
	if d.Status != "approved" || d.JournalEntryID == nil || *d.JournalEntryID != appr.JournalEntryID {
		t.Errorf("approved document: status %s entry %v", d.Status, d.JournalEntryID)
	}
	if code, body := in.call("POST", r.path(a, "/documents/"+scanDoc.DocumentID+"/approve"), r.manager, nil); code != 409 {
		t.Errorf("second approval: %d %s", code, body)
	}
	if code, body := in.call("DELETE", r.path(a, "/documents/"+scanDoc.DocumentID), r.manager, nil); code != 409 || errorCode(body) != "invalid_status" {
		t.Errorf("delete an approved document: %d %s", code, body)
	}
	in.mustCall("POST", r.path(a, "/journal-entries/"+appr.JournalEntryID+"/approve"), r.manager, nil, 200, nil)
	tb := trialBalances(in, r.manager, r.path(a, ""))
	total, _ := new(big.Rat).SetString(receipt.Total)
	found := false
	for _, row := range tb {
		for _, v := range row {
			if q, _ := new(big.Rat).SetString(v); q != nil && q.Abs(q).Cmp(total) == 0 {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("trial balance has no %s: %v", receipt.Total, tb)
	}
}

// TestDocumentsBadFiles is acceptance 5: each bad file is a clear 4xx at
// upload or a failed document with a clear reason, and a good document
// still goes through afterwards (the queue is healthy).
func TestDocumentsBadFiles(t *testing.T) {
	r := newDocRig(t, "VANTA_DOCUMENT_MAX_BYTES=2097152")
	in, a := r.in, r.a.ID
	encrypted, _ := extracttest.EncryptedPDF(extracttest.Invoice().Lines)
	for _, tc := range []struct {
		name    string
		content []byte
		status  int
		code    string
	}{
		{"zero bytes", nil, 400, "validation_failed"},
		{"wrong type", []byte("Date,Amount\n2026-03-14,100.00\n"), 415, "unsupported_media_type"},
		{"zip bomb renamed .pdf", extracttest.ZipBomb(), 415, "unsupported_media_type"},
		{"oversized", append([]byte("%PDF-1.4\n"), make([]byte, 3<<20)...), 413, "too_large"},
	} {
		code, body := in.uploadFile(r.manager, r.path(a, "/documents"), "bad.pdf", tc.content)
		if code != tc.status || errorCode(body) != tc.code || errorField(body) != "file" {
			t.Errorf("%s: %d %s, want %d %s on field file", tc.name, code, body, tc.status, tc.code)
		}
	}
	if code, body := in.call("POST", r.path(a, "/documents"), r.manager, map[string]string{"file": "x"}); code != 400 || errorField(body) != "file" {
		t.Errorf("JSON instead of a form: %d %s", code, body)
	}

	// Files that pass the door fail in the pipeline, each with its reason.
	for _, tc := range []struct {
		name    string
		content []byte
		reason  string
	}{
		{"corrupt PDF", extracttest.CorruptPDF(), "corrupt PDF"},
		{"encrypted PDF", encrypted, "encrypted PDF"},
		{"10,000-page PDF", extracttest.ManyPagesPDF(10000), "too many pages"},
	} {
		st := r.upload(t, r.manager, a, tc.name+".pdf", tc.content)
		d := r.waitDocument(t, r.manager, a, st.DocumentID, func(d docAnswer) bool { return settled(d.Status) })
		if d.Status != "failed" || d.Error == nil || !strings.Contains(*d.Error, tc.reason) {
			t.Errorf("%s: status %s error %v, want failed with %q", tc.name, d.Status, d.Error, tc.reason)
		}
		if code, body := in.call("POST", r.path(a, "/documents/"+st.DocumentID+"/approve"), r.manager, nil); code != 409 {
			t.Errorf("approve the %s: %d %s", tc.name, code, body)
		}
		// Retried, a bad file fails again for the same reason.
		// The document fails a moment before its job ends: until then a
		// retry is 409.
		for deadline := time.Now().Add(guard); ; {
			code, body := in.call("POST", r.path(a, "/documents/"+st.DocumentID+"/retry"), r.manager, nil)
			if code == 202 {
				break
			}
			if code != 409 || time.Now().After(deadline) {
				t.Fatalf("retry the %s: %d %s", tc.name, code, body)
			}
			time.Sleep(50 * time.Millisecond) // polling a real process with a deadline
		}
		d = r.waitDocument(t, r.manager, a, st.DocumentID, func(d docAnswer) bool { return d.Status == "failed" })
		if d.Error == nil || !strings.Contains(*d.Error, tc.reason) {
			t.Errorf("%s retried: error %s", tc.name, deref(d.Error))
		}
	}
	good := r.upload(t, r.manager, a, "good.pdf", extracttest.PDF(extracttest.InvoiceVariant(3).Lines))
	d := r.waitDocument(t, r.manager, a, good.DocumentID, func(d docAnswer) bool { return settled(d.Status) })
	if d.Status == "failed" {
		t.Errorf("a good document after the bad ones failed: %s", deref(d.Error))
	}
	if code, body := in.call("POST", r.path(a, "/documents/"+good.DocumentID+"/retry"), r.manager, nil); code != 409 || errorCode(body) != "invalid_status" {
		t.Errorf("retry a document that did not fail: %d %s", code, body)
	}
}

// TestDocumentsQuotas: the storage allowance refuses the upload that does
// not fit (413) and the AI allowance the one past it (429 with
// Retry-After), each with a clear message.
func TestDocumentsQuotas(t *testing.T) {
	// Storage is claimed a MiB at a time while a file streams in: 3 MiB
	// hold the small documents and refuse a 4 MiB one part-way.
	// Each upload counts one AI request before anything is stored, the
	// refused one too: three are the big one, one and two.
	r := newDocRig(t, "VANTA_QUOTA_AI_PER_HOUR=3", "VANTA_QUOTA_STORAGE_BYTES=3145728")
	in, a := r.in, r.a.ID
	big := append([]byte("%PDF-1.4\n"), make([]byte, 4<<20)...)
	code, body := in.uploadFile(r.manager, r.path(a, "/documents"), "big.pdf", big)
	if code != 413 || errorCode(body) != "quota_exceeded" || !strings.Contains(string(body), "storage_bytes") {
		t.Errorf("over the storage allowance: %d %s", code, body)
	}
	one := extracttest.PDF(extracttest.InvoiceVariant(6).Lines)
	first := r.upload(t, r.manager, a, "one.pdf", one)
	r.upload(t, r.manager, a, "two.pdf", extracttest.PDF(extracttest.InvoiceVariant(7).Lines))
	req := func() (int, []byte) {
		return in.uploadFile(r.manager, r.path(a, "/documents"), "three.pdf", extracttest.PDF(extracttest.InvoiceVariant(8).Lines))
	}
	code, body = req()
	if code != 429 || errorCode(body) != "quota_exceeded" || !strings.Contains(string(body), "ai_requests_per_hour") {
		t.Errorf("past the AI allowance: %d %s", code, body)
	}
	var quota struct {
		Storage struct{ Used, Limit int64 } `json:"storage_bytes"`
	}
	in.mustCall("GET", r.path(a, "/quota"), r.manager, nil, 200, &quota)
	if quota.Storage.Used <= 0 || quota.Storage.Used > 1<<20 || quota.Storage.Limit != 3145728 {
		t.Errorf("storage after two small documents and a refused big one: %+v", quota.Storage)
	}
	// Deleting a document gives its bytes back and forgets its content.
	in.mustCall("DELETE", r.path(a, "/documents/"+first.DocumentID), r.manager, nil, 204, nil)
	if code, body := in.call("GET", r.path(a, "/documents/"+first.DocumentID), r.manager, nil); code != 404 {
		t.Errorf("GET a deleted document: %d %s", code, body)
	}
	var after struct {
		Storage struct{ Used, Limit int64 } `json:"storage_bytes"`
	}
	in.mustCall("GET", r.path(a, "/quota"), r.manager, nil, 200, &after)
	if after.Storage.Used != quota.Storage.Used-int64(len(one)) {
		t.Errorf("storage used %d after deleting %d bytes of %d", after.Storage.Used, len(one), quota.Storage.Used)
	}
	// Company B's allowance is its own.
	r.upload(t, r.bAdmin, r.b.ID, "b.pdf", extracttest.PDF(extracttest.InvoiceVariant(9).Lines))
}

// TestDocumentsRestartAndResealMidJob is acceptance 6: documents queued
// or in flight when the appliance stops, or when it is sealed, are all
// processed after it comes back and is unsealed.
func TestDocumentsRestartAndResealMidJob(t *testing.T) {
	r := newDocRig(t, "VANTA_DOCUMENT_WORKERS=1")
	a := r.a.ID
	uploadScans := func(prefix string, first int) []string {
		var ids []string
		for i := range 4 {
			ids = append(ids, r.upload(t, r.manager, a, fmt.Sprintf("%s-%d.png", prefix, i), extracttest.Scan(t, extracttest.InvoiceVariant(first+i).Lines)).DocumentID)
		}
		// One worker OCRs a scan at a time: the last is still waiting.
		if d := r.waitDocument(t, r.manager, a, ids[len(ids)-1], func(docAnswer) bool { return true }); settled(d.Status) {
			t.Fatalf("the last document settled already (%s): the test proves nothing", d.Status)
		}
		return ids
	}
	allSettle := func(when string, ids []string) {
		t.Helper()
		for _, id := range ids {
			d := r.waitDocument(t, r.manager, a, id, func(d docAnswer) bool { return settled(d.Status) })
			if d.Status == "failed" {
				t.Errorf("document %s failed after %s: %s (stages %+v)", id, when, deref(d.Error), d.Stages)
			}
		}
	}

	// Sealed mid-job: nothing runs or answers while sealed; after the
	// unseal every document finishes.
	ids := uploadScans("sealed", 20)
	r.in.mustCall("POST", "/api/v1/sys/seal", r.god, map[string]any{}, 200, nil)
	if code, _ := r.in.call("GET", r.path(a, "/documents/"+ids[0]), r.manager, nil); code != 503 {
		t.Errorf("GET a document while sealed: %d", code)
	}
	r.in.unseal(r.shares)
	r.manager = r.in.login(r.email, r.pass, "").AccessToken
	allSettle("the reseal", ids)

	// Stopped mid-job (SIGTERM): after the next boot and unseal every
	// document finishes.
	ids = uploadScans("restart", 40)
	r.reboot(t)
	allSettle("the restart", ids)
}

// usedModel says the extraction came from the model server: the LLM's
// answer, or (random weights) its answer refused by the schema check with
// the model named in the reason.
func usedModel(d docAnswer, program string) bool {
	x := d.Extraction
	return x != nil && (x.Engine == "llm" && x.Model != "" && x.PromptVersion != "" ||
		x.Engine == "rules" && strings.Contains(x.FallbackReason, program+": answer breaks the schema"))
}

// TestDocumentsLLMServerKilledMidJob is acceptance 3 through the
// appliance: with the test bed's llama-server supervised as
// llama-<model>, documents are extracted by it; killed while a document
// is being extracted, that document falls back to rules with the reason,
// and the supervisor starts the server again.
func TestDocumentsLLMServerKilledMidJob(t *testing.T) {
	wrapper := llamaTestbed(t)
	const program = "llama-llama-2-tiny-random"
	r := newDocRigPrepared(t, func(data string) { copyModel(t, data) }, "VANTA_LLAMA_SERVER="+wrapper, "VANTA_DOCUMENT_WORKERS=1")
	a := r.a.ID
	llama := ctlService(t, r.data, program)
	if llama.State != "healthy" || llama.PID == 0 {
		t.Fatalf("%s in ctl status: %+v", program, llama)
	}
	var ready struct {
		Services []struct{ Name, State string }
	}
	if code, body := r.in.get("/readyz"); code != 200 || json.Unmarshal(body, &ready) != nil || !strings.Contains(string(body), program) {
		t.Errorf("/readyz does not show %s: %d %s", program, code, body)
	}

	first := r.upload(t, r.manager, a, "first.pdf", extracttest.PDF(extracttest.InvoiceVariant(70).Lines))
	d := r.waitDocument(t, r.manager, a, first.DocumentID, func(d docAnswer) bool { return settled(d.Status) })
	if !usedModel(d, program) {
		t.Fatalf("the first document was not extracted by the model server: %+v", d.Extraction)
	}
	t.Logf("first document: engine %s model %s reason %q", d.Extraction.Engine, d.Extraction.Model, d.Extraction.FallbackReason)

	// Kill the model server while a document is in its extract stage.
	var killed docStarted
	for attempt := 0; attempt < 5 && killed.DocumentID == ""; attempt++ {
		lines := append(extracttest.InvoiceVariant(80+attempt).Lines, strings.Repeat("Notes: goods remain the property of the vendor until paid in full. ", 20))
		st := r.upload(t, r.manager, a, "second.pdf", extracttest.PDF(lines))
		d := r.waitDocument(t, r.manager, a, st.DocumentID, func(d docAnswer) bool { return d.Status == "extract" || settled(d.Status) })
		if d.Status != "extract" {
			t.Logf("attempt %d: the document went past extract before it was seen (%s)", attempt, d.Status)
			continue
		}
		if err := syscall.Kill(llama.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		killed = st
	}
	if killed.DocumentID == "" {
		t.Fatal("never saw a document in its extract stage")
	}
	d = r.waitDocument(t, r.manager, a, killed.DocumentID, func(d docAnswer) bool { return settled(d.Status) })
	if d.Extraction == nil || d.Extraction.Engine != "rules" || !strings.Contains(d.Extraction.FallbackReason, program) ||
		!strings.Contains(d.Extraction.FallbackReason, "fell back to rules") {
		t.Errorf("document extracted while the server died: %+v", d.Extraction)
	} else {
		t.Logf("fallback reason: %q", d.Extraction.FallbackReason)
	}

	// The supervisor starts it again, and the next document uses it.
	deadline := time.Now().Add(guard)
	for {
		now := ctlService(t, r.data, program)
		if now.State == "healthy" && now.PID != 0 && now.PID != llama.PID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not restarted: %+v", program, now)
		}
		time.Sleep(100 * time.Millisecond) // polling a real process with a deadline
	}
	later := r.upload(t, r.manager, a, "later.pdf", extracttest.PDF(extracttest.InvoiceVariant(90).Lines))
	deadline = time.Now().Add(guard)
	for {
		d = r.waitDocument(t, r.manager, a, later.DocumentID, func(d docAnswer) bool { return settled(d.Status) })
		if usedModel(d, program) {
			break
		}
		// The router trusts a /health answer for two seconds: a document
		// right after the restart may still see the server as down.
		if time.Now().After(deadline) {
			t.Fatalf("after the restart the model server is not used: %+v", d.Extraction)
		}
		later = r.upload(t, r.manager, a, "later.pdf", extracttest.PDF(append(extracttest.InvoiceVariant(91).Lines, uuid.NewString())))
	}
}

// TestDocumentsIsolation is acceptance 4 through the API: company B's
// admin cannot read, download, correct or approve A's document by its
// id, under A's path or under B's own (404, as a missing one).
func TestDocumentsIsolation(t *testing.T) {
	r := newDocRig(t)
	in := r.in
	st := r.upload(t, r.manager, r.a.ID, "invoice.pdf", extracttest.PDF(extracttest.InvoiceVariant(60).Lines))
	missing := uuid.NewString()
	for _, cid := range []string{r.a.ID, r.b.ID} {
		for _, id := range []string{st.DocumentID, missing} {
			for _, p := range []struct {
				method, path string
				body         any
			}{
				{"GET", "/documents/" + id, nil},
				{"GET", "/documents/" + id + "/file", nil},
				{"PATCH", "/documents/" + id + "/extraction", map[string]string{"total": "1.00"}},
				{"POST", "/documents/" + id + "/approve", map[string]string{}},
				{"DELETE", "/documents/" + id, nil},
			} {
				code, body := in.call(p.method, r.path(cid, p.path), r.bAdmin, p.body)
				if code != 404 || bytes.Contains(body, []byte(st.DocumentID)) {
					t.Errorf("B's admin %s %s under %s: %d %s", p.method, p.path, cid, code, body)
				}
			}
		}
	}
	var list struct{ Items []docAnswer }
	in.mustCall("GET", r.path(r.b.ID, "/documents"), r.bAdmin, nil, 200, &list)
	if len(list.Items) != 0 {
		t.Errorf("B lists %d documents", len(list.Items))
	}
	// A's own member reads it.
	in.mustCall("GET", r.path(r.a.ID, "/documents/"+st.DocumentID), r.manager, nil, 200, nil)
}

// The isolation suite's probes of the document routes: each probe that
// may pass the gate gets a document of its own.
func init() {
	isolationParams[":docid"] = isolationParam{func(in *instance, god, companyID string, i int) string {
		lines := append(extracttest.InvoiceVariant(i).Lines, "probe "+uuid.NewString())
		code, body := in.uploadFile(god, "/api/v1/companies/"+companyID+"/documents", "probe.pdf", extracttest.PDF(lines))
		var st docStarted
		if code != http.StatusAccepted || json.Unmarshal(body, &st) != nil {
			in.t.Fatalf("probe document: %d %s", code, body)
		}
		return st.DocumentID
	}}
	isolationBodies["PATCH /documents/:docid/extraction"] = func(int) any { return map[string]string{"total": "1.00"} }
	isolationBodies["POST /documents/:docid/approve"] = func(int) any { return map[string]string{} }
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
