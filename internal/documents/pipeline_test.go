package documents

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/vanta-ledger/vanta/internal/extract"
	"github.com/vanta-ledger/vanta/internal/extract/extracttest"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// fakeText is a TextReader that knows texts by a marker in the file: the
// pipeline's orchestration is under test, not OCR. It fails the first
// failFirst calls with err.
type fakeText struct {
	mu        sync.Mutex
	texts     map[string]string // marker → text
	calls     int
	failFirst int
	err       error
}

func (f *fakeText) read(_ context.Context, path string, kind extract.Kind, _ extract.Limits) (extract.Text, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.failFirst {
		return extract.Text{}, f.err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return extract.Text{}, err
	}
	if kind != extract.KindPDF {
		return extract.Text{}, errors.New("fakeText: not a pdf")
	}
	for m, text := range f.texts {
		if bytes.Contains(data, []byte(m)) {
			var words []extract.Word
			for _, w := range strings.Fields(text) {
				words = append(words, extract.Word{Text: w, Confidence: 96})
			}
			return extract.Text{Method: extract.MethodPDFText, Pages: []extract.Page{{Number: 1, Text: text, Words: words}}}, nil
		}
	}
	return extract.Text{}, errors.New("fakeText: unknown file")
}

// fakeExtractor returns a fixed extraction (or fails the first failFirst
// calls) and records its inputs.
type fakeExtractor struct {
	mu        sync.Mutex
	x         extract.Extraction
	inputs    []extract.Input
	failFirst int
	err       error
}

func (f *fakeExtractor) Extract(_ context.Context, _ tenancy.Scope, in extract.Input) (extract.Extraction, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, in)
	if len(f.inputs) <= f.failFirst {
		return extract.Extraction{}, f.err
	}
	return f.x, nil
}

// goodReceipt is an extraction every check passes, fully confident.
func goodReceipt() extract.Extraction {
	return extract.Extraction{
		Class: extract.ClassReceipt, ClassConfidence: 0.9, Engine: "rules",
		Fields: extract.Fields{VendorName: "Java House", DocumentNumber: "R-77", IssueDate: "2026-03-14", Currency: "KES",
			Subtotal: "100.00", VAT: []extract.VATLine{{Rate: "16", Amount: "16.00"}}, Total: "116.00"},
		Confidence: map[string]float64{"vendor_name": 0.9, "issue_date": 0.95, "total": 0.99},
		Checks:     []extract.Check{{Name: "totals", OK: true}},
	}
}

func intake(t *testing.T, e *env, sc tenancy.Scope, marker string) Document {
	t.Helper()
	d, err := e.store.Intake(context.Background(), sc, bytes.NewReader(pdfLike(3000, marker)), marker+".pdf", tester)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func get(t *testing.T, e *env, sc tenancy.Scope, id uuid.UUID) Document {
	t.Helper()
	d, err := e.store.Get(context.Background(), sc, id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func stageOf(d Document, name string) Stage {
	for _, s := range d.Stages {
		if s.Name == name {
			return s
		}
	}
	return Stage{}
}

func TestPipelineOutcomes(t *testing.T) {
	low := goodReceipt()
	low.Confidence["total"] = 0.3
	failedCheck := goodReceipt()
	failedCheck.Checks = []extract.Check{{Name: "totals", OK: false, Message: "does not add up"}}
	noTotal := goodReceipt()
	noTotal.Fields.Total = ""
	cases := []struct {
		name string
		x    extract.Extraction
		want Status
	}{
		{"confident and checked", goodReceipt(), StatusDone},
		{"a key field unsure", low, StatusNeedsReview},
		{"a failed check", failedCheck, StatusNeedsReview},
		{"no total", noTotal, StatusNeedsReview},
	}
	e := setup(t)
	ctx := context.Background()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			marker := "doc-" + strings.ReplaceAll(c.name, " ", "-")
			text := &fakeText{texts: map[string]string{marker: "CASH SALE RECEIPT Java House total 116.00 thanks"}}
			p := Pipeline{Store: e.store, Text: text.read, Extractor: &fakeExtractor{x: c.x}, Temp: t.TempDir()}
			d := intake(t, e, e.a, marker)
			if err := p.Process(ctx, e.a, d.ID); err != nil {
				t.Fatal(err)
			}
			got := get(t, e, e.a, d.ID)
			if got.Status != c.want {
				t.Fatalf("status %s, want %s", got.Status, c.want)
			}
			for _, name := range []string{StageOCR, StageClassify, StageExtract} {
				st := stageOf(got, name)
				if st.Started.IsZero() || st.Finished.Before(st.Started) || st.Error != "" {
					t.Fatalf("stage %s = %+v", name, st)
				}
			}
			if got.Extraction == nil || got.Extraction.Fields.Total != c.x.Fields.Total || got.Type != extract.ClassReceipt {
				t.Fatalf("extraction %+v, type %s", got.Extraction, got.Type)
			}
			// The plaintext copy is gone, and the text is stored sealed.
			if left, _ := os.ReadDir(p.Temp); len(left) != 0 {
				t.Fatalf("left plaintext copies: %v", left)
			}
			var raw bson.Raw
			if err := testDocDB.Client.Database(e.a.MongoDatabase()).Collection(collAnalyses).
				FindOne(ctx, bson.D{{Key: "_id", Value: d.ID.String()}}).Decode(&raw); err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(raw, []byte("Java")) {
				t.Fatal("OCR text stored in the clear")
			}
			var xraw bson.Raw
			if err := testDocDB.Client.Database(e.a.MongoDatabase()).Collection(collExtractions).
				FindOne(ctx, bson.D{{Key: "document_id", Value: d.ID.String()}}).Decode(&xraw); err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(xraw, []byte("Java")) || bytes.Contains(xraw, []byte("116.00")) {
				t.Fatal("extraction stored in the clear")
			}
			// Done is done: processing again changes nothing.
			if err := p.Process(ctx, e.a, d.ID); err != nil || text.calls != 1 {
				t.Fatalf("second Process: %v, %d reads", err, text.calls)
			}
		})
	}
}

// A retried job resumes at the first unfinished stage; a transient error
// leaves the document at its stage with the error shown.
func TestPipelineRetryResumes(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	transient := errors.New("llama-server went away")
	cases := []struct {
		name      string
		textFails int
		xFails    int
		stuckAt   Status
		reads     int // text reads after the retry
		extracts  int
	}{
		{"ocr fails once", 1, 0, StatusOCR, 2, 1},
		{"extract fails once", 0, 1, StatusExtract, 1, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			marker := "retry-" + strings.ReplaceAll(c.name, " ", "-")
			text := &fakeText{texts: map[string]string{marker: "RECEIPT Java House 116.00"}, failFirst: c.textFails, err: transient}
			x := &fakeExtractor{x: goodReceipt(), failFirst: c.xFails, err: transient}
			p := Pipeline{Store: e.store, Text: text.read, Extractor: x, Temp: t.TempDir()}
			d := intake(t, e, e.a, marker)
			err := p.Process(ctx, e.a, d.ID)
			if !errors.Is(err, transient) || IsPermanent(err) {
				t.Fatalf("first attempt: %v, want the transient error, not permanent", err)
			}
			mid := get(t, e, e.a, d.ID)
			if mid.Status != c.stuckAt || !strings.Contains(stageOf(mid, string(c.stuckAt)).Error, "went away") {
				t.Fatalf("after the failure: status %s, stages %+v", mid.Status, mid.Stages)
			}
			if err := p.Process(ctx, e.a, d.ID); err != nil {
				t.Fatal(err)
			}
			got := get(t, e, e.a, d.ID)
			if got.Status != StatusDone || stageOf(got, string(c.stuckAt)).Error != "" {
				t.Fatalf("after the retry: %s %+v", got.Status, got.Stages)
			}
			if text.calls != c.reads || len(x.inputs) != c.extracts {
				t.Fatalf("%d reads and %d extractions, want %d and %d", text.calls, len(x.inputs), c.reads, c.extracts)
			}
			if x.inputs[len(x.inputs)-1].Text != "RECEIPT Java House 116.00" {
				t.Fatalf("extractor got text %q after resuming", x.inputs[len(x.inputs)-1].Text)
			}
		})
	}
}

// A bad file fails the document for good, with its reason, and the error
// tells the queue not to retry.
func TestPipelineBadFileIsPermanent(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	cases := []struct {
		name   string
		err    error
		reason string
	}{
		{"encrypted", &extract.BadFileError{Reason: "encrypted PDF"}, "encrypted PDF"},
		{"too many pages", &extract.BadFileError{Reason: "too many pages: 10000 (limit 200)"}, "too many pages: 10000 (limit 200)"},
		{"unsupported", extract.ErrUnsupportedType, "unsupported file type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := &fakeText{failFirst: 100, err: c.err}
			p := Pipeline{Store: e.store, Text: text.read, Extractor: &fakeExtractor{x: goodReceipt()}}
			d := intake(t, e, e.a, "bad-"+c.name)
			err := p.Process(ctx, e.a, d.ID)
			var perm interface{ Permanent() bool }
			if !IsPermanent(err) || !errors.As(err, &perm) || !perm.Permanent() || !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want a permanent error wrapping the cause", err)
			}
			got := get(t, e, e.a, d.ID)
			if got.Status != StatusFailed || got.Error != c.reason || stageOf(got, StageOCR).Error == "" {
				t.Fatalf("document %s %q %+v", got.Status, got.Error, got.Stages)
			}
			if err := p.Process(ctx, e.a, d.ID); err != nil || text.calls != 1 {
				t.Fatalf("a failed document was processed again: %v, %d reads", err, text.calls)
			}
		})
	}
}

// Fail marks a document whose job ran out of attempts; a finished one
// keeps its status.
func TestStoreFail(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	d := intake(t, e, e.a, "fail-me")
	if err := e.store.Fail(ctx, e.a, d.ID, "gave up after 5 attempts"); err != nil {
		t.Fatal(err)
	}
	if got := get(t, e, e.a, d.ID); got.Status != StatusFailed || got.Error != "gave up after 5 attempts" {
		t.Fatalf("%s %q", got.Status, got.Error)
	}
	if err := e.store.Fail(ctx, e.b, d.ID, "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("company B fails A's document: %v", err)
	}
}

// The real readers and rules on documents the test renders: a PDF with a
// text layer and a scanned image, through to a draft entry the ledger
// posts.
func TestPipelineRealDocuments(t *testing.T) {
	inv := extracttest.Invoice()
	cases := []struct {
		name string
		file []byte
	}{
		{"pdf with a text layer", extracttest.PDF(inv.Lines)},
		{"scanned png", extracttest.Scan(t, inv.Lines)},
	}
	e := setup(t)
	ctx := context.Background()
	p := Pipeline{Store: e.store, Text: extract.ReadText, Extractor: RulesExtractor{Engine: extract.Rules()}, Temp: t.TempDir()}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc := []tenancy.Scope{e.a, e.b}[i] // the same invoice is a duplicate within one company
			d, err := e.store.Intake(ctx, sc, bytes.NewReader(c.file), "invoice", tester)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Process(ctx, sc, d.ID); err != nil {
				t.Fatal(err)
			}
			got := get(t, e, sc, d.ID)
			if got.Status != StatusDone && got.Status != StatusNeedsReview || got.Extraction == nil {
				t.Fatalf("status %s, extraction %v, error %q", got.Status, got.Extraction, got.Error)
			}
			f := got.Extraction.Fields
			if got.Type != extract.ClassInvoice || f.Total != inv.Total || f.IssueDate != inv.IssueDate || f.DocumentNumber != inv.DocumentNumber {
				t.Fatalf("type %s, fields %+v", got.Type, f)
			}
			docs, _, err := e.store.List(ctx, sc, Filter{Q: "toner cartridge"})
			if err != nil || len(docs) != 1 || docs[0].ID != d.ID {
				t.Fatalf("search: %v, %v", docs, err)
			}
			entry, err := e.store.Approve(ctx, sc, d.ID, ApproveInput{}, tester)
			if err != nil {
				t.Fatal(err)
			}
			posted, err := e.store.Ledger.Approve(ctx, sc, entry, tester)
			if err != nil {
				t.Fatal(err)
			}
			if posted.Status != "posted" || posted.SourceID != d.ID || posted.Reference != inv.DocumentNumber || posted.Date != inv.IssueDate {
				t.Fatalf("entry %+v", posted)
			}
		})
	}
}

// The real readers' bad files fail their document for good with the
// reader's reason; a zip bomb renamed .pdf never gets past intake.
func TestPipelineRealBadFiles(t *testing.T) {
	encrypted, _ := extracttest.EncryptedPDF([]string{"secret invoice"})
	cases := []struct {
		name   string
		file   []byte
		reason string // a part of the document's error
	}{
		{"encrypted pdf", encrypted, "encrypted"},
		{"corrupt pdf", extracttest.CorruptPDF(), "corrupt"},
		{"10,000 pages", extracttest.ManyPagesPDF(10000), "too many pages"},
		{"png bomb", extracttest.PNGBomb(100000, 100000), "image"},
	}
	e := setup(t)
	ctx := context.Background()
	p := Pipeline{Store: e.store, Temp: t.TempDir()} // ReadText and the rules engine
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := e.store.Intake(ctx, e.a, bytes.NewReader(c.file), c.name, tester)
			if err != nil {
				t.Fatal(err)
			}
			err = p.Process(ctx, e.a, d.ID)
			var bad *extract.BadFileError
			if !IsPermanent(err) || !errors.As(err, &bad) {
				t.Fatalf("err = %v, want a permanent bad file", err)
			}
			got := get(t, e, e.a, d.ID)
			if got.Status != StatusFailed || !strings.Contains(strings.ToLower(got.Error), c.reason) {
				t.Fatalf("document %s with error %q, want failed naming %q", got.Status, got.Error, c.reason)
			}
		})
	}
	t.Run("zip bomb renamed .pdf", func(t *testing.T) {
		var te *UnsupportedTypeError
		if _, err := e.store.Intake(ctx, e.a, bytes.NewReader(extracttest.ZipBomb()), "invoice.pdf", tester); !errors.As(err, &te) {
			t.Fatalf("err = %v, want *UnsupportedTypeError", err)
		}
	})
}
