package documents

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/vanta-ledger/vanta/internal/docdbtest"
	"github.com/vanta-ledger/vanta/internal/extract"
	"github.com/vanta-ledger/vanta/internal/extract/extracttest"
	"github.com/vanta-ledger/vanta/internal/ledger"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// processed is a document taken through the pipeline with extraction x.
func processed(t *testing.T, e *env, sc tenancy.Scope, marker string, x extract.Extraction) Document {
	t.Helper()
	text := &fakeText{texts: map[string]string{marker: "RECEIPT " + marker}}
	d := intake(t, e, sc, marker)
	if err := (Pipeline{Store: e.store, Text: text.read, Extractor: &fakeExtractor{x: x}}).Process(context.Background(), sc, d.ID); err != nil {
		t.Fatal(err)
	}
	return get(t, e, sc, d.ID)
}

type line struct {
	code   string
	amount int64 // minor units, debit > 0
}

func TestApproveDraftsTheEntry(t *testing.T) {
	with := func(mod func(*extract.Extraction)) extract.Extraction {
		x := goodReceipt()
		mod(&x)
		return x
	}
	cases := []struct {
		name  string
		x     extract.Extraction
		in    ApproveInput
		lines []line
	}{
		{"receipt: paid from the bank", goodReceipt(), ApproveInput{}, []line{{"6000", 10000}, {"1300", 1600}, {"1100", -11600}}},
		{"invoice: owed to the vendor", with(func(x *extract.Extraction) { x.Class = extract.ClassInvoice }), ApproveInput{},
			[]line{{"6000", 10000}, {"1300", 1600}, {"2100", -11600}}},
		{"credit note: the mirror", with(func(x *extract.Extraction) { x.Class = extract.ClassCreditNote }), ApproveInput{},
			[]line{{"6000", -10000}, {"1300", -1600}, {"2100", 11600}}},
		{"no VAT, no subtotal", with(func(x *extract.Extraction) { x.Fields.VAT, x.Fields.Subtotal = nil, "" }), ApproveInput{},
			[]line{{"6000", 11600}, {"1100", -11600}}},
		{"VAT without subtotal", with(func(x *extract.Extraction) { x.Fields.Subtotal = "" }), ApproveInput{},
			[]line{{"6000", 10000}, {"1300", 1600}, {"1100", -11600}}},
		{"the reviewer's accounts", goodReceipt(), ApproveInput{DebitAccount: "6200", CreditAccount: "1110", Description: "March rent"},
			[]line{{"6200", 10000}, {"1300", 1600}, {"1110", -11600}}},
	}
	e := setup(t)
	ctx := context.Background()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := processed(t, e, e.a, "approve-"+strings.ReplaceAll(c.name, " ", "-"), c.x)
			id, err := e.store.Approve(ctx, e.a, d.ID, c.in, tester)
			if err != nil {
				t.Fatal(err)
			}
			entry, err := e.store.Ledger.Get(ctx, e.a, id)
			if err != nil {
				t.Fatal(err)
			}
			if entry.Status != ledger.StatusDraft || entry.Source != ledger.SourceDocument || entry.SourceID != d.ID ||
				entry.Reference != "R-77" || entry.Date != "2026-03-14" {
				t.Fatalf("entry %+v", entry)
			}
			if c.in.Description != "" && entry.Description != c.in.Description {
				t.Fatalf("description %q", entry.Description)
			}
			var got []line
			for _, l := range entry.Lines {
				got = append(got, line{l.AccountCode, l.Amount})
			}
			if !slices.Equal(got, c.lines) {
				t.Fatalf("lines %v, want %v", got, c.lines)
			}
			doc := get(t, e, e.a, d.ID)
			if doc.Status != StatusApproved || doc.JournalEntryID == nil || *doc.JournalEntryID != id {
				t.Fatalf("document %s, entry %v", doc.Status, doc.JournalEntryID)
			}
			// Once is enough; the ledger's approval posts the draft.
			var se *StateError
			if _, err := e.store.Approve(ctx, e.a, d.ID, c.in, tester); !errors.As(err, &se) || se.Status != StatusApproved {
				t.Fatalf("second approval: %v", err)
			}
			posted, err := e.store.Ledger.Approve(ctx, e.a, id, tester)
			if err != nil || posted.Status != ledger.StatusPosted {
				t.Fatalf("ledger approval: %v %v", posted.Status, err)
			}
		})
	}
}

// A crash after the ledger drafted the entry but before the document
// recorded it: approving again finds the same entry, not a second one.
func TestApproveAfterACrashFindsTheSameEntry(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	d := processed(t, e, e.a, "crash", goodReceipt())
	x := *get(t, e, e.a, d.ID).Extraction
	draft, err := e.store.draft(ctx, e.a, d.ID, x, ApproveInput{})
	if err != nil {
		t.Fatal(err)
	}
	first, _, err := e.store.Ledger.Post(ctx, e.a, draft, tester) // the ledger half of an Approve that died
	if err != nil {
		t.Fatal(err)
	}
	id, err := e.store.Approve(ctx, e.a, d.ID, ApproveInput{}, tester)
	if err != nil || id != first.ID {
		t.Fatalf("approve: %v %v, want the entry %v", id, err, first.ID)
	}
}

func TestApproveRefusals(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	noTotal := goodReceipt()
	noTotal.Fields.Total = ""
	noDate := goodReceipt()
	noDate.Fields.IssueDate = ""
	unbalanced := goodReceipt()
	unbalanced.Fields.Subtotal = "99.00"
	queued := intake(t, e, e.a, "never-processed")
	failed := intake(t, e, e.a, "failed")
	if err := e.store.Fail(ctx, e.a, failed.ID, "bad"); err != nil {
		t.Fatal(err)
	}
	inB := processed(t, e, e.b, "company-b", goodReceipt())
	cases := []struct {
		name  string
		id    func() uuid.UUID
		check func(error) bool
	}{
		{"no total", func() uuid.UUID { return processed(t, e, e.a, "no-total", noTotal).ID }, fieldErr("total")},
		{"no issue date", func() uuid.UUID { return processed(t, e, e.a, "no-date", noDate).ID }, fieldErr("issue_date")},
		{"subtotal and VAT do not make the total", func() uuid.UUID { return processed(t, e, e.a, "unbalanced", unbalanced).ID }, fieldErr("total")},
		{"not processed yet", func() uuid.UUID { return queued.ID }, stateErr(StatusQueued)},
		{"failed", func() uuid.UUID { return failed.ID }, stateErr(StatusFailed)},
		{"another company's", func() uuid.UUID { return inB.ID }, func(err error) bool { return errors.Is(err, ErrNotFound) }},
		{"an unknown account", func() uuid.UUID { return processed(t, e, e.a, "acct", goodReceipt()).ID }, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := c.id()
			in := ApproveInput{}
			if c.check == nil {
				in.DebitAccount = "9999"
			}
			_, err := e.store.Approve(ctx, e.a, id, in, tester)
			if err == nil || c.check != nil && !c.check(err) {
				t.Fatalf("err = %v", err)
			}
			if c.check == nil {
				var re *ledger.RuleError
				if !errors.As(err, &re) {
					t.Fatalf("err = %v, want the ledger's rule error", err)
				}
			}
			if got, err := e.store.Get(ctx, e.a, id); err == nil && got.Status == StatusApproved {
				t.Fatal("approved anyway")
			}
		})
	}
	entries, _, err := e.store.Ledger.List(ctx, e.a, ledger.EntryQuery{})
	if err != nil || len(entries) != 0 {
		t.Fatalf("refusals left %d entries (%v)", len(entries), err)
	}
}

func fieldErr(field string) func(error) bool {
	return func(err error) bool {
		var fe *FieldError
		return errors.As(err, &fe) && fe.Field == field
	}
}

func stateErr(st Status) func(error) bool {
	return func(err error) bool {
		var se *StateError
		return errors.As(err, &se) && se.Status == st
	}
}

// recording wraps an extractor and keeps what it was given.
type recording struct {
	Extractor
	inputs []extract.Input
}

func (r *recording) Extract(ctx context.Context, sc tenancy.Scope, in extract.Input) (extract.Extraction, error) {
	r.inputs = append(r.inputs, in)
	return r.Extractor.Extract(ctx, sc, in)
}

func TestCorrectLearnsATemplate(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	inv := extracttest.Invoice()
	body := strings.Join(inv.Lines, "\n")
	text := &fakeText{texts: map[string]string{"first-invoice": body, "second-invoice": body + "\nsecond copy"}}
	rec := &recording{Extractor: RulesExtractor{Engine: extract.Rules()}}
	p := Pipeline{Store: e.store, Text: text.read, Extractor: rec}
	d := intake(t, e, e.a, "first-invoice")
	if err := p.Process(ctx, e.a, d.ID); err != nil {
		t.Fatal(err)
	}
	corrected := extract.Fields{VendorName: inv.VendorName, VendorPIN: inv.VendorPIN, Customer: inv.Customer,
		DocumentNumber: inv.DocumentNumber, IssueDate: inv.IssueDate, DueDate: inv.DueDate, Currency: inv.Currency,
		Subtotal: inv.Subtotal, VAT: []extract.VATLine{{Rate: inv.VATRate, Amount: inv.VATAmount}}, Total: inv.Total}
	got, err := e.store.Correct(ctx, e.a, d.ID, corrected, tester)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusDone || got.Extraction == nil || got.Extraction.Engine != EngineReview ||
		got.Extraction.Fields.Total != inv.Total || got.Extraction.Confidence[extract.FieldTotal] != 1 || got.Confidence != 1 {
		t.Fatalf("corrected document %s %+v", got.Status, got.Extraction)
	}
	for _, c := range got.Extraction.Checks {
		if !c.OK {
			t.Fatalf("check %s fails on the reviewer's fields: %s", c.Name, c.Message)
		}
	}
	db := testDocDB.Client.Database(e.a.MongoDatabase())
	if n := docdbtest.Count(t, db, collExtractions, bson.D{{Key: "document_id", Value: d.ID.String()}}); n != 2 {
		t.Fatalf("%d extraction versions, want the engine's and the reviewer's", n)
	}
	var pair bson.Raw
	if err := db.Collection(collCorrections).FindOne(ctx, bson.D{{Key: "document_id", Value: d.ID.String()}}).Decode(&pair); err != nil {
		t.Fatalf("no training pair: %v", err)
	}
	if bytes.Contains(pair, []byte("NAIROBI")) {
		t.Fatal("training pair stored in the clear")
	}
	templates, err := e.store.Templates(ctx, e.a)
	if err != nil || len(templates) != 1 || templates[0].Vendor != inv.VendorName {
		t.Fatalf("templates %+v, %v", templates, err)
	}
	if bt, err := e.store.Templates(ctx, e.b); err != nil || len(bt) != 0 {
		t.Fatalf("company B has A's templates: %v %v", bt, err)
	}

	// The vendor's next document is extracted with the template.
	d2 := intake(t, e, e.a, "second-invoice")
	if err := p.Process(ctx, e.a, d2.ID); err != nil {
		t.Fatal(err)
	}
	last := rec.inputs[len(rec.inputs)-1]
	if len(last.Templates) != 1 || last.Templates[0].Vendor != inv.VendorName {
		t.Fatalf("second document extracted with templates %+v", last.Templates)
	}
	if x := get(t, e, e.a, d2.ID).Extraction; x.Fields.VendorName != inv.VendorName || x.Fields.Total != inv.Total {
		t.Fatalf("second document's fields %+v", x.Fields)
	}
}

func TestCorrectRefusals(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	d := processed(t, e, e.a, "to-correct", goodReceipt())
	ok := goodReceipt().Fields
	with := func(mod func(*extract.Fields)) extract.Fields {
		f := ok
		f.VAT = slices.Clone(ok.VAT)
		mod(&f)
		return f
	}
	cases := []struct {
		name  string
		f     extract.Fields
		field string
	}{
		{"thousands separator", with(func(f *extract.Fields) { f.Total = "1,053.52" }), "total"},
		{"comma decimal", with(func(f *extract.Fields) { f.Subtotal = "1053,52" }), "subtotal"},
		{"day-first date", with(func(f *extract.Fields) { f.IssueDate = "14/03/2026" }), "issue_date"},
		{"no such day", with(func(f *extract.Fields) { f.DueDate = "2026-02-30" }), "due_date"},
		{"due before issue", with(func(f *extract.Fields) { f.DueDate = "2026-03-01" }), "due_date"},
		{"bad KRA PIN", with(func(f *extract.Fields) { f.VendorPIN = "P05123" }), "vendor_pin"},
		{"bad currency", with(func(f *extract.Fields) { f.Currency = "shillings" }), "currency"},
		{"bad VAT amount", with(func(f *extract.Fields) { f.VAT[0].Amount = "16%" }), "vat[0].amount"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.store.Correct(ctx, e.a, d.ID, c.f, tester)
			if !fieldErr(c.field)(err) {
				t.Fatalf("err = %v, want a field error on %s", err, c.field)
			}
		})
	}
	if got := get(t, e, e.a, d.ID); got.Extraction.Engine != "rules" {
		t.Fatalf("a refused correction was stored: %+v", got.Extraction)
	}
	if _, err := e.store.Correct(ctx, e.b, d.ID, ok, tester); !errors.Is(err, ErrNotFound) {
		t.Fatalf("company B corrects A's document: %v", err)
	}
	if _, err := e.store.Approve(ctx, e.a, d.ID, ApproveInput{}, tester); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Correct(ctx, e.a, d.ID, ok, tester); !stateErr(StatusApproved)(err) {
		t.Fatalf("correcting an approved document: %v", err)
	}
}
