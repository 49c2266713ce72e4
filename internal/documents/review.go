package documents

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/vanta-ledger/vanta/internal/extract"
	"github.com/vanta-ledger/vanta/internal/ledger"
	"github.com/vanta-ledger/vanta/internal/money"
	"github.com/vanta-ledger/vanta/internal/seal"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

const (
	purposeTemplate   = "document-template"
	purposeVendor     = "document-vendor"
	purposeCorrection = "document-correction"
	maxTemplates      = 1000 // the engine tries them in turn; a company has far fewer vendors
)

// EngineReview is the engine of an extraction a reviewer corrected.
const EngineReview = "review"

// templateRecord is a learned vendor template, sealed; its id is the keyed
// hash of the vendor's folded name, so a new correction for the same
// vendor replaces it.
type templateRecord struct {
	ID        string    `bson:"_id"`
	Sealed    []byte    `bson:"sealed"` // extract.Template as JSON
	UpdatedAt time.Time `bson:"updated_at"`
}

// correctionRecord keeps a reviewer's correction beside what the engine
// said: the training data for templates and for judging the engines.
type correctionRecord struct {
	ID              string    `bson:"_id"` // document id "/" corrected version
	DocumentID      string    `bson:"document_id"`
	OriginalVersion int       `bson:"original_version"`
	Engine          string    `bson:"engine"` // the original's
	Sealed          []byte    `bson:"sealed"` // correctionPair as JSON
	CreatedAt       time.Time `bson:"created_at"`
	CreatedBy       string    `bson:"created_by"`
}

type correctionPair struct {
	Original  extract.Fields `json:"original"`
	Corrected extract.Fields `json:"corrected"`
}

// templates are the company's learned vendor templates.
func (s Store) templates(ctx context.Context, db *mongo.Database, key *seal.DataKey) ([]extract.Template, error) {
	cur, err := db.Collection(collTemplates).Find(ctx, bson.D{}, options.Find().SetLimit(maxTemplates))
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	var recs []templateRecord
	if err := cur.All(ctx, &recs); err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	out := make([]extract.Template, 0, len(recs))
	for _, r := range recs {
		plain, err := key.Open(purposeTemplate, r.ID, r.Sealed)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", r.ID, err)
		}
		var t extract.Template
		if err := json.Unmarshal(plain, &t); err != nil {
			return nil, fmt.Errorf("template %s: %w", r.ID, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// Templates are the company's learned vendor templates.
func (s Store) Templates(ctx context.Context, sc tenancy.Scope) ([]extract.Template, error) {
	db, err := s.db(sc)
	if err != nil {
		return nil, err
	}
	key, err := s.Keys.DataKey(ctx, sc)
	if err != nil {
		return nil, err
	}
	defer key.Destroy()
	return s.templates(ctx, db, key)
}

var (
	decimalRE  = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
)

// ValidateFields checks reviewed fields: amounts are exact decimals
// ("1053.52", no separators), dates ISO (YYYY-MM-DD, real days), the KRA
// PIN well formed, the currency an ISO 4217 code. Empty means unknown and
// passes. The first fault is a *FieldError naming the JSON field.
func ValidateFields(f extract.Fields) error {
	amount := func(name, v string) error {
		if v != "" && !decimalRE.MatchString(v) {
			return &FieldError{Field: name, Message: fmt.Sprintf("%q is not an exact decimal like 1053.52", v)}
		}
		return nil
	}
	date := func(name, v string) error {
		if v == "" {
			return nil
		}
		if t, err := time.Parse(time.DateOnly, v); err != nil || t.Format(time.DateOnly) != v {
			return &FieldError{Field: name, Message: fmt.Sprintf("%q is not a date YYYY-MM-DD", v)}
		}
		return nil
	}
	checks := []error{
		amount(extract.FieldSubtotal, f.Subtotal), amount(extract.FieldTotal, f.Total),
		date(extract.FieldIssueDate, f.IssueDate), date(extract.FieldDueDate, f.DueDate),
	}
	if f.VendorPIN != "" && !extract.ValidKRAPIN(f.VendorPIN) {
		checks = append(checks, &FieldError{Field: extract.FieldVendorPIN, Message: fmt.Sprintf("%q is not a KRA PIN (A123456789Z)", f.VendorPIN)})
	}
	if f.Currency != "" && !currencyRE.MatchString(f.Currency) {
		checks = append(checks, &FieldError{Field: extract.FieldCurrency, Message: fmt.Sprintf("%q is not an ISO 4217 code like KES", f.Currency)})
	}
	for i, v := range f.VAT {
		checks = append(checks, amount(fmt.Sprintf("vat[%d].rate", i), v.Rate), amount(fmt.Sprintf("vat[%d].amount", i), v.Amount))
	}
	for i, l := range f.Lines {
		checks = append(checks, amount(fmt.Sprintf("lines[%d].quantity", i), l.Quantity),
			amount(fmt.Sprintf("lines[%d].unit_price", i), l.UnitPrice), amount(fmt.Sprintf("lines[%d].amount", i), l.Amount))
	}
	if f.DueDate != "" && f.IssueDate != "" && f.DueDate < f.IssueDate {
		checks = append(checks, &FieldError{Field: extract.FieldDueDate, Message: "is before the issue date"})
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	return nil
}

// Correct stores a reviewer's fields as a new extraction version (engine
// "review", every given field at confidence 1, the checks run again for
// the reviewer to see), keeps the pair (engine's, reviewer's) as training
// data, learns the vendor's template for the next documents of that
// vendor, and makes the document done. Only a document that is done or in
// review can be corrected (*StateError).
func (s Store) Correct(ctx context.Context, sc tenancy.Scope, id uuid.UUID, f extract.Fields, by tenancy.Actor) (Document, error) {
	if err := ValidateFields(f); err != nil {
		return Document{}, err
	}
	db, err := s.db(sc)
	if err != nil {
		return Document{}, err
	}
	r, err := s.load(ctx, db, id)
	if err != nil {
		return Document{}, err
	}
	if st := Status(r.Status); st != StatusDone && st != StatusNeedsReview {
		return Document{}, &StateError{Status: st, Action: "correct"}
	}
	key, err := s.Keys.DataKey(ctx, sc)
	if err != nil {
		return Document{}, fmt.Errorf("correct document %s: %w", id, err)
	}
	defer key.Destroy()
	orig, err := s.extraction(ctx, db, key, id, r.ExtractionVersion)
	if err != nil {
		return Document{}, err
	}
	text, err := s.text(ctx, db, key, r.ID)
	if err != nil {
		return Document{}, err
	}
	x := extract.Extraction{Class: orig.Class, ClassConfidence: orig.ClassConfidence, Fields: f, Engine: EngineReview,
		Confidence: map[string]float64{}}
	extract.ApplyChecks(text.String(), &x)
	for _, name := range extract.FieldNames {
		if fieldSet(f, name) {
			x.Confidence[name] = 1 // a person said so
		}
	}
	version := r.ExtractionVersion + 1
	if err := s.saveExtraction(ctx, db, key, id, version, x, by.UserID); err != nil {
		return Document{}, err
	}

	pair, _ := json.Marshal(correctionPair{Original: orig.Fields, Corrected: f})
	cid := extractionID(id, version)
	sealed, err := key.Seal(purposeCorrection, cid, pair)
	if err != nil {
		return Document{}, err
	}
	cr := correctionRecord{ID: cid, DocumentID: r.ID, OriginalVersion: r.ExtractionVersion, Engine: orig.Engine, Sealed: sealed,
		CreatedAt: now(), CreatedBy: by.UserID}
	if _, err := db.Collection(collCorrections).ReplaceOne(ctx, bson.D{{Key: "_id", Value: cid}}, cr, options.Replace().SetUpsert(true)); err != nil {
		return Document{}, fmt.Errorf("correct document %s: training pair: %w", id, err)
	}

	if t, ok := extract.LearnTemplate(text.String(), f); ok {
		if err := s.saveTemplate(ctx, db, key, t); err != nil {
			return Document{}, err
		}
	}

	// Only if nobody approved or corrected it meanwhile.
	res, err := db.Collection(collDocuments).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: r.ID}, {Key: "extraction_version", Value: r.ExtractionVersion},
			{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{string(StatusDone), string(StatusNeedsReview)}}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "extraction_version", Value: version}, {Key: "status", Value: string(StatusDone)},
			{Key: "confidence", Value: 1.0}, {Key: "class", Value: string(x.Class)}, {Key: "updated_at", Value: now()}}}})
	if err != nil {
		return Document{}, fmt.Errorf("correct document %s: %w", id, err)
	}
	if res.MatchedCount == 0 {
		cur, err := s.load(ctx, db, id)
		if err != nil {
			return Document{}, err
		}
		return Document{}, &StateError{Status: Status(cur.Status), Action: "correct"}
	}
	r, err = s.load(ctx, db, id)
	if err != nil {
		return Document{}, err
	}
	return s.open(ctx, db, key, r)
}

func (s Store) saveTemplate(ctx context.Context, db *mongo.Database, key *seal.DataKey, t extract.Template) error {
	tid, err := templateID(key, t.Vendor)
	if err != nil {
		return err
	}
	plain, err := json.Marshal(t)
	if err != nil {
		return err
	}
	sealed, err := key.Seal(purposeTemplate, tid, plain)
	if err != nil {
		return err
	}
	if _, err := db.Collection(collTemplates).ReplaceOne(ctx, bson.D{{Key: "_id", Value: tid}},
		templateRecord{ID: tid, Sealed: sealed, UpdatedAt: now()}, options.Replace().SetUpsert(true)); err != nil {
		return fmt.Errorf("store template: %w", err)
	}
	return nil
}

func fieldSet(f extract.Fields, name string) bool {
	switch name {
	case extract.FieldVendorName:
		return f.VendorName != ""
	case extract.FieldVendorPIN:
		return f.VendorPIN != ""
	case extract.FieldCustomer:
		return f.Customer != ""
	case extract.FieldDocumentNumber:
		return f.DocumentNumber != ""
	case extract.FieldIssueDate:
		return f.IssueDate != ""
	case extract.FieldDueDate:
		return f.DueDate != ""
	case extract.FieldCurrency:
		return f.Currency != ""
	case extract.FieldSubtotal:
		return f.Subtotal != ""
	case extract.FieldVAT:
		return len(f.VAT) > 0
	case extract.FieldTotal:
		return f.Total != ""
	case extract.FieldLines:
		return len(f.Lines) > 0
	case extract.FieldPaymentMethod:
		return f.PaymentMethod != ""
	}
	return false
}

// ApproveInput lets the reviewer choose the accounts ("" = the account
// with the role: expenses to debit; bank for a receipt, ap for an invoice
// to credit), the entry's description, and the rate of a foreign-currency
// document.
type ApproveInput struct {
	DebitAccount  string `json:"debit_account"`
	CreditAccount string `json:"credit_account"`
	Description   string `json:"description"`
	Rate          string `json:"rate"`
}

// Approve drafts the document's journal entry in the ledger and links the
// two: the entry's source is "document" with the document's id, and the
// document keeps the entry's id and turns approved. The ledger's own
// approval posts the entry. A receipt (paid) debits expenses with the
// subtotal and VAT input with the VAT and credits bank with the total; an
// invoice or bill (owed) credits accounts payable instead; a credit note
// is the mirror of an invoice. Only a done or in-review document with a
// total and an issue date can be approved (*StateError, *FieldError).
// Approving again after a crash between the two stores finds the same
// entry (the ledger's idempotency key is the document's).
func (s Store) Approve(ctx context.Context, sc tenancy.Scope, id uuid.UUID, in ApproveInput, by tenancy.Actor) (uuid.UUID, error) {
	db, err := s.db(sc)
	if err != nil {
		return uuid.Nil, err
	}
	r, err := s.load(ctx, db, id)
	if err != nil {
		return uuid.Nil, err
	}
	if st := Status(r.Status); st != StatusDone && st != StatusNeedsReview {
		return uuid.Nil, &StateError{Status: st, Action: "approve"}
	}
	key, err := s.Keys.DataKey(ctx, sc)
	if err != nil {
		return uuid.Nil, fmt.Errorf("approve document %s: %w", id, err)
	}
	defer key.Destroy()
	x, err := s.extraction(ctx, db, key, id, r.ExtractionVersion)
	if err != nil {
		return uuid.Nil, err
	}
	t, err := s.draft(ctx, sc, id, x, in)
	if err != nil {
		return uuid.Nil, err
	}
	e, _, err := s.Ledger.Post(ctx, sc, t, by)
	if err != nil {
		return uuid.Nil, fmt.Errorf("approve document %s: %w", id, err)
	}
	res, err := db.Collection(collDocuments).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: r.ID}, {Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{string(StatusDone), string(StatusNeedsReview)}}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: string(StatusApproved)}, {Key: "journal_entry_id", Value: e.ID.String()},
			{Key: "updated_at", Value: now()}}}})
	if err != nil {
		return uuid.Nil, fmt.Errorf("approve document %s: %w", id, err)
	}
	if res.MatchedCount == 0 {
		cur, err := s.load(ctx, db, id)
		if err != nil {
			return uuid.Nil, err
		}
		return uuid.Nil, &StateError{Status: Status(cur.Status), Action: "approve"}
	}
	return e.ID, nil
}

// draft is the document's entry as the ledger takes it.
func (s Store) draft(ctx context.Context, sc tenancy.Scope, id uuid.UUID, x extract.Extraction, in ApproveInput) (ledger.TextEntry, error) {
	f := x.Fields
	if err := ValidateFields(f); err != nil {
		return ledger.TextEntry{}, err
	}
	if f.Total == "" {
		return ledger.TextEntry{}, &FieldError{Field: extract.FieldTotal, Message: "is missing: correct the extraction first"}
	}
	if f.IssueDate == "" {
		return ledger.TextEntry{}, &FieldError{Field: extract.FieldIssueDate, Message: "is missing: correct the extraction first"}
	}
	// Amounts at the largest scale any of them is written in, as integers.
	scale := 0
	all := []string{f.Total, f.Subtotal}
	for _, v := range f.VAT {
		all = append(all, v.Amount)
	}
	for _, a := range all {
		if _, frac, ok := strings.Cut(a, "."); ok {
			scale = max(scale, len(frac))
		}
	}
	parse := func(field, v string) (int64, error) {
		if v == "" {
			return 0, nil
		}
		n, err := money.Parse(v, scale)
		if err != nil {
			return 0, &FieldError{Field: field, Message: err.Error()}
		}
		if n < 0 {
			return 0, &FieldError{Field: field, Message: "is negative"}
		}
		return n, nil
	}
	total, err := parse(extract.FieldTotal, f.Total)
	if err != nil {
		return ledger.TextEntry{}, err
	}
	var vat int64
	for i, v := range f.VAT {
		n, err := parse(fmt.Sprintf("vat[%d].amount", i), v.Amount)
		if err != nil {
			return ledger.TextEntry{}, err
		}
		vat += n
	}
	net := total - vat
	if f.Subtotal != "" {
		sub, err := parse(extract.FieldSubtotal, f.Subtotal)
		if err != nil {
			return ledger.TextEntry{}, err
		}
		if sub+vat != total {
			return ledger.TextEntry{}, &FieldError{Field: extract.FieldTotal,
				Message: fmt.Sprintf("subtotal %s + VAT %s is not the total %s", f.Subtotal, money.Format(vat, scale), f.Total)}
		}
		net = sub
	}
	if total == 0 {
		return ledger.TextEntry{}, &FieldError{Field: extract.FieldTotal, Message: "is zero"}
	}

	account := func(code, role string) (string, error) {
		if code != "" {
			return code, nil
		}
		a, err := s.Ledger.AccountByRole(ctx, sc, role)
		if err != nil {
			return "", fmt.Errorf("approve document %s: %w", id, err)
		}
		return a.Code, nil
	}
	creditRole := ledger.RoleBank
	if x.Class == extract.ClassInvoice || x.Class == extract.ClassCreditNote {
		creditRole = ledger.RoleAP
	}
	debit, err := account(in.DebitAccount, ledger.RoleExpenses)
	if err != nil {
		return ledger.TextEntry{}, err
	}
	credit, err := account(in.CreditAccount, creditRole)
	if err != nil {
		return ledger.TextEntry{}, err
	}
	var vatAccount string
	if vat > 0 {
		if vatAccount, err = account("", ledger.RoleVATInput); err != nil {
			return ledger.TextEntry{}, err
		}
	}
	line := func(acct string, n int64, isDebit bool) ledger.TextLine {
		l := ledger.TextLine{Account: acct, Currency: f.Currency, Rate: in.Rate}
		if isDebit {
			l.Debit = money.Format(n, scale)
		} else {
			l.Credit = money.Format(n, scale)
		}
		return l
	}
	// A credit note gives back what an invoice took: every side turns.
	dr := x.Class != extract.ClassCreditNote
	var lines []ledger.TextLine
	if net > 0 {
		lines = append(lines, line(debit, net, dr))
	}
	if vat > 0 {
		lines = append(lines, line(vatAccount, vat, dr))
	}
	lines = append(lines, line(credit, total, !dr))

	desc := in.Description
	if desc == "" {
		desc = strings.TrimSpace(strings.Join(strings.Fields(string(x.Class)+" "+f.VendorName+" "+f.DocumentNumber), " "))
	}
	return ledger.TextEntry{
		Date: f.IssueDate, Description: desc, Reference: f.DocumentNumber,
		IdempotencyKey: "document:" + id.String(),
		Source:         ledger.SourceDocument, SourceID: id, Status: ledger.StatusDraft, Lines: lines,
	}, nil
}
