package invoicing

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/money"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// DocumentLine is a document line as the API shows it; amounts are decimal
// strings at the document currency's scale.
type DocumentLine struct {
	LineNo      int    `json:"line_no"`
	Description string `json:"description"`
	Quantity    string `json:"quantity"`
	UnitPrice   string `json:"unit_price"`
	Account     string `json:"account"`
	TaxCode     string `json:"tax_code"`
	TaxRate     string `json:"tax_rate"`
	ETIMSLetter string `json:"etims_letter"`
	Net         string `json:"net"`
	Tax         string `json:"tax"`
	Total       string `json:"total"`
}

// Document is an invoice, a bill or a credit note.
type Document struct {
	ID          uuid.UUID      `json:"id"`
	Kind        string         `json:"kind"`
	Number      string         `json:"number"` // "" while a draft
	ContactID   uuid.UUID      `json:"contact_id"`
	CreditOf    *uuid.UUID     `json:"credit_of"`
	Currency    string         `json:"currency"`
	Rate        string         `json:"rate"` // "" in the company currency
	IssueDate   string         `json:"issue_date"`
	DueDate     string         `json:"due_date"`
	Reference   string         `json:"reference"`
	Notes       string         `json:"notes"`
	Status      string         `json:"status"`
	Lines       []DocumentLine `json:"lines"`
	Subtotal    string         `json:"subtotal"`
	TaxTotal    string         `json:"tax_total"`
	Total       string         `json:"total"`
	Paid        string         `json:"paid"`
	Credited    string         `json:"credited"`
	BalanceDue  string         `json:"balance_due"`
	EntryID     *uuid.UUID     `json:"entry_id"`
	VoidEntryID *uuid.UUID     `json:"void_entry_id"`
	VoidDate    string         `json:"void_date"`
	CreatedBy   string         `json:"created_by"`
	CreatedAt   time.Time      `json:"created_at"`
	IssuedAt    *time.Time     `json:"issued_at"`
}

// LineInput is a line of a draft: quantity (up to 4 decimals), unit
// price (decimal at the currency's scale, before VAT), a tax code in force
// on the issue date, and the income or expense account's code (default:
// the revenue account for an invoice, general expenses for a bill).
type LineInput struct {
	Description string `json:"description"`
	Quantity    string `json:"quantity"`
	UnitPrice   string `json:"unit_price"`
	TaxCode     string `json:"tax_code"`
	Account     string `json:"account"`
}

// DocumentInput makes a draft invoice or bill. Currency defaults to the
// contact's, else the company's; a foreign currency needs rate (company
// currency per unit). DueDate defaults to the issue date plus the
// contact's payment terms.
type DocumentInput struct {
	ContactID string      `json:"contact_id"`
	Currency  string      `json:"currency"`
	Rate      string      `json:"rate"`
	IssueDate string      `json:"issue_date"`
	DueDate   string      `json:"due_date"`
	Reference string      `json:"reference"`
	Notes     string      `json:"notes"`
	Lines     []LineInput `json:"lines"`
}

// DocumentPatch changes a draft; nil fields are kept, lines are replaced
// as a whole.
type DocumentPatch struct {
	ContactID *string      `json:"contact_id"`
	Currency  *string      `json:"currency"`
	Rate      *string      `json:"rate"`
	IssueDate *string      `json:"issue_date"`
	DueDate   *string      `json:"due_date"`
	Reference *string      `json:"reference"`
	Notes     *string      `json:"notes"`
	Lines     *[]LineInput `json:"lines"`
}

// CreditNoteInput credits an issued invoice or bill: lines as a draft's
// (the parent's contact, currency and rate), dated Date (default: today).
type CreditNoteInput struct {
	Date   string      `json:"date"`
	Reason string      `json:"reason"`
	Lines  []LineInput `json:"lines"`
}

// VoidInput voids an issued document nothing was paid or credited on;
// the reversal is dated Date (default: the issue date, so the period it
// was issued in no longer shows it).
type VoidInput struct {
	Date   string `json:"date"`
	Reason string `json:"reason"`
}

// doc is a document in minor units.
type doc struct {
	id          uuid.UUID
	kind        string
	number      *string
	contactID   uuid.UUID
	creditOf    *uuid.UUID
	currency    string
	scale       int
	rate        *string
	issue, due  time.Time
	reference   string
	notes       string
	status      string
	subtotal    int64
	taxTotal    int64
	total       int64
	paid        int64
	credited    int64
	entryID     *uuid.UUID
	voidEntryID *uuid.UUID
	voidedAt    *time.Time
	createdBy   string
	createdAt   time.Time
	issuedAt    *time.Time
	lines       []line
}

type line struct {
	description string
	qty         int64 // ten-thousandths
	unitPrice   int64
	account     string
	taxCode     string
	taxRate     string
	letter      string
	net, tax    int64
}

func (d *doc) balance() int64 { return d.total - d.paid - d.credited }

func (d *doc) view() Document {
	f := func(v int64) string { return money.Format(v, d.scale) }
	out := Document{ID: d.id, Kind: d.kind, ContactID: d.contactID, CreditOf: d.creditOf, Currency: d.currency,
		IssueDate: d.issue.Format(dateLayout), DueDate: d.due.Format(dateLayout), Reference: d.reference, Notes: d.notes,
		Status: d.status, Subtotal: f(d.subtotal), TaxTotal: f(d.taxTotal), Total: f(d.total), Paid: f(d.paid),
		Credited: f(d.credited), BalanceDue: f(d.balance()), EntryID: d.entryID, VoidEntryID: d.voidEntryID,
		CreatedBy: d.createdBy, CreatedAt: d.createdAt, IssuedAt: d.issuedAt, Lines: []DocumentLine{}}
	if d.status == StatusDraft || d.status == StatusVoid || d.kind == KindCreditNote {
		out.BalanceDue = f(0)
	}
	if d.number != nil {
		out.Number = *d.number
	}
	if d.rate != nil {
		out.Rate = *d.rate
	}
	if d.voidedAt != nil {
		out.VoidDate = d.voidedAt.Format(dateLayout)
	}
	for i, l := range d.lines {
		out.Lines = append(out.Lines, DocumentLine{LineNo: i + 1, Description: l.description, Quantity: trimQuantity(l.qty),
			UnitPrice: f(l.unitPrice), Account: l.account, TaxCode: l.taxCode, TaxRate: l.taxRate, ETIMSLetter: l.letter,
			Net: f(l.net), Tax: f(l.tax), Total: f(l.net + l.tax)})
	}
	return out
}

// trimQuantity writes a quantity without trailing zeros: "3", "2.5".
func trimQuantity(q int64) string {
	s := money.Format(q, QuantityScale)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// input turns a draft back into what would make it, for a patch.
func (d *doc) input() DocumentInput {
	in := DocumentInput{ContactID: d.contactID.String(), Currency: d.currency, IssueDate: d.issue.Format(dateLayout),
		DueDate: d.due.Format(dateLayout), Reference: d.reference, Notes: d.notes}
	if d.rate != nil {
		in.Rate = *d.rate
	}
	for _, l := range d.lines {
		in.Lines = append(in.Lines, LineInput{Description: l.description, Quantity: trimQuantity(l.qty),
			UnitPrice: money.Format(l.unitPrice, d.scale), TaxCode: l.taxCode, Account: l.account})
	}
	return in
}

const docColumns = `d.id, d.kind, d.number, d.contact_id, d.credit_of, d.currency, cu.scale, d.rate::text, d.issue_date, d.due_date,
	d.reference, d.notes, d.status, d.subtotal, d.tax_total, d.total, d.paid, d.credited, d.entry_id, d.void_entry_id,
	d.voided_at, d.created_by, d.created_at, d.issued_at`

const docFrom = ` FROM invoices d JOIN currencies cu ON cu.code = d.currency `

func scanDoc(row pgx.Row) (*doc, error) {
	d := &doc{}
	err := row.Scan(&d.id, &d.kind, &d.number, &d.contactID, &d.creditOf, &d.currency, &d.scale, &d.rate, &d.issue, &d.due,
		&d.reference, &d.notes, &d.status, &d.subtotal, &d.taxTotal, &d.total, &d.paid, &d.credited, &d.entryID, &d.voidEntryID,
		&d.voidedAt, &d.createdBy, &d.createdAt, &d.issuedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return d, err
}

func loadLines(ctx context.Context, tx pgx.Tx, d *doc) error {
	rows, err := tx.Query(ctx, `SELECT description, (quantity * 10000)::bigint, unit_price, account, tax_code, trim_scale(tax_rate)::text,
		coalesce(etims_letter, ''), net, tax FROM invoice_lines WHERE invoice_id = $1 ORDER BY line_no`, d.id)
	if err != nil {
		return fmt.Errorf("lines of %s: %w", d.id, err)
	}
	defer rows.Close()
	d.lines = nil
	for rows.Next() {
		var l line
		if err := rows.Scan(&l.description, &l.qty, &l.unitPrice, &l.account, &l.taxCode, &l.taxRate, &l.letter, &l.net, &l.tax); err != nil {
			return fmt.Errorf("lines of %s: %w", d.id, err)
		}
		d.lines = append(d.lines, l)
	}
	return rows.Err()
}

// getDoc reads a document of one of kinds, with its lines; lock takes
// its row for the rest of the transaction.
func getDoc(ctx context.Context, tx pgx.Tx, id uuid.UUID, lock bool, kinds ...string) (*doc, error) {
	q := `SELECT ` + docColumns + docFrom + ` WHERE d.id = $1 AND d.kind = ANY($2)`
	if lock {
		q += ` FOR UPDATE OF d`
	}
	d, err := scanDoc(tx.QueryRow(ctx, q, id, kinds))
	if err != nil {
		return nil, err
	}
	return d, loadLines(ctx, tx, d)
}

// companyCurrency is the books' currency (the ledger's settings row).
func companyCurrency(ctx context.Context, tx pgx.Tx) (string, error) {
	var c string
	if err := tx.QueryRow(ctx, `SELECT currency FROM ledger_settings`).Scan(&c); err != nil {
		return "", fmt.Errorf("company currency: %w", err)
	}
	return c, nil
}

// roleAccount is the code of the account marked with role.
func roleAccount(ctx context.Context, tx pgx.Tx, role string) (string, error) {
	var code string
	err := tx.QueryRow(ctx, `SELECT code FROM accounts WHERE role = $1`, role).Scan(&code)
	if err != nil {
		return "", fmt.Errorf("the %s account: %w", role, err)
	}
	return code, nil
}

// contactFor checks that the contact exists, is active and may be on a
// document of kind (a customer on invoices, a vendor on bills).
func contactFor(ctx context.Context, tx pgx.Tx, kind, id string) (Contact, error) {
	cid, err := uuid.Parse(strings.TrimSpace(id))
	if err != nil {
		return Contact{}, invalid("contact_id", "is not a contact id")
	}
	c, err := scanContact(tx.QueryRow(ctx, `SELECT `+contactColumns+` FROM contacts WHERE id = $1`, cid))
	if errors.Is(err, ErrNotFound) {
		return Contact{}, invalid("contact_id", "no such contact")
	}
	if err != nil {
		return Contact{}, fmt.Errorf("contact %s: %w", cid, err)
	}
	switch {
	case !c.Active:
		return Contact{}, invalid("contact_id", "the contact is inactive")
	case kind == KindInvoice && c.Kind == "vendor":
		return Contact{}, invalid("contact_id", "%s is a vendor; invoices go to customers", c.Name)
	case kind == KindBill && c.Kind == "customer":
		return Contact{}, invalid("contact_id", "%s is a customer; bills come from vendors", c.Name)
	}
	return c, nil
}

// side is +1 for the receivables side (invoices) and -1 for payables
// (bills): the sign of the control account's line when issued.
func side(kind string) int64 {
	if kind == KindBill {
		return -1
	}
	return 1
}

// prepare validates an input into a document of kind with its lines
// worked out. parent is the credited document of a credit note.
func prepare(ctx context.Context, tx pgx.Tx, kind string, in DocumentInput, parent *doc) (*doc, error) {
	d := &doc{kind: kind, reference: strings.TrimSpace(in.Reference), notes: strings.TrimSpace(in.Notes), status: StatusDraft}
	home, err := companyCurrency(ctx, tx)
	if err != nil {
		return nil, err
	}
	docKind, terms := kind, 0
	if parent != nil {
		docKind = parent.kind
		d.contactID, d.currency, d.rate, d.scale = parent.contactID, parent.currency, parent.rate, parent.scale
	} else {
		c, err := contactFor(ctx, tx, kind, in.ContactID)
		if err != nil {
			return nil, err
		}
		d.contactID = c.ID
		d.currency = strings.ToUpper(strings.TrimSpace(in.Currency))
		if d.currency == "" {
			d.currency = c.Currency
		}
		if d.currency == "" {
			d.currency = home
		}
		if d.scale, err = checkCurrency(ctx, tx, "currency", d.currency); err != nil {
			return nil, err
		}
		rate := strings.TrimSpace(in.Rate)
		switch {
		case d.currency == home && rate != "":
			return nil, invalid("rate", "a document in the company currency (%s) has no rate", home)
		case d.currency != home && rate == "":
			return nil, invalid("rate", "a document in %s needs the rate (%s per unit)", d.currency, home)
		case d.currency != home:
			if _, err := money.ParseRate(rate); err != nil {
				return nil, invalid("rate", "%v", err)
			}
			d.rate = &rate
		}
		terms = c.PaymentTermsDays
	}
	if d.issue, err = parseDate("issue_date", strings.TrimSpace(in.IssueDate)); err != nil {
		return nil, err
	}
	if in.DueDate != "" {
		if d.due, err = parseDate("due_date", strings.TrimSpace(in.DueDate)); err != nil {
			return nil, err
		}
		if d.due.Before(d.issue) {
			return nil, invalid("due_date", "is before the issue date")
		}
	} else {
		d.due = d.issue.AddDate(0, 0, terms)
	}
	switch {
	case len(d.reference) > 200:
		return nil, invalid("reference", "must be at most 200 characters")
	case len(d.notes) > 2000:
		return nil, invalid("notes", "must be at most 2000 characters")
	case len(in.Lines) == 0:
		return nil, invalid("lines", "a document needs at least one line")
	case len(in.Lines) > 500:
		return nil, invalid("lines", "at most 500 lines")
	}
	defaultRole := "revenue"
	if docKind == KindBill {
		defaultRole = "expenses"
	}
	for i, li := range in.Lines {
		field := func(name string) string { return fmt.Sprintf("lines[%d].%s", i, name) }
		l := line{description: strings.TrimSpace(li.Description), account: strings.TrimSpace(li.Account)}
		if len(l.description) > 500 {
			return nil, invalid(field("description"), "must be at most 500 characters")
		}
		if l.qty, err = ParseQuantity(strings.TrimSpace(li.Quantity)); err != nil {
			return nil, invalid(field("quantity"), "must be a number more than 0 with at most 4 decimals")
		}
		if l.unitPrice, err = money.Parse(strings.TrimSpace(li.UnitPrice), d.scale); err != nil || l.unitPrice < 0 {
			return nil, invalid(field("unit_price"), "must be a decimal of 0 or more with at most %d decimals (%s)", d.scale, d.currency)
		}
		t, rate, err := taxOn(ctx, tx, field("tax_code"), li.TaxCode, d.issue)
		if err != nil {
			return nil, err
		}
		l.taxCode, l.taxRate, l.letter = t.Code, t.Rate, t.ETIMSLetter
		if l.account == "" {
			if l.account, err = roleAccount(ctx, tx, defaultRole); err != nil {
				return nil, err
			}
		} else if err := checkLineAccount(ctx, tx, field("account"), l.account, docKind); err != nil {
			return nil, err
		}
		if l.net, l.tax, err = LineAmounts(l.qty, l.unitPrice, rate); err != nil {
			return nil, invalid(field("unit_price"), "%v", err)
		}
		d.subtotal += l.net
		d.taxTotal += l.tax
		d.lines = append(d.lines, l)
	}
	d.total = d.subtotal + d.taxTotal
	if d.total < 0 || d.subtotal < 0 {
		return nil, invalid("lines", "the total is out of range")
	}
	return d, nil
}

// checkLineAccount refuses an account a line cannot post to: unknown,
// inactive, or one of the control and tax accounts the document posts to
// itself.
func checkLineAccount(ctx context.Context, tx pgx.Tx, field, code, kind string) error {
	var typ string
	var active bool
	var role *string
	err := tx.QueryRow(ctx, `SELECT type, active, role FROM accounts WHERE code = $1`, code).Scan(&typ, &active, &role)
	if errors.Is(err, pgx.ErrNoRows) {
		return invalid(field, "no account %s in the chart", truncate(code, 40))
	}
	if err != nil {
		return fmt.Errorf("account %s: %w", code, err)
	}
	if !active {
		return invalid(field, "account %s is inactive", code)
	}
	if role != nil {
		switch *role {
		case "ar", "ap", "vat_output", "vat_input", "wht_vat_receivable", "customer_advances", "vendor_advances":
			return invalid(field, "account %s is the %s account, which the document posts to itself", code, *role)
		}
	}
	return nil
}

func insertDoc(ctx context.Context, tx pgx.Tx, d *doc) error {
	_, err := tx.Exec(ctx, `INSERT INTO invoices (company_id, id, kind, contact_id, credit_of, currency, rate, issue_date, due_date,
		reference, notes, status, subtotal, tax_total, total, created_by)
		VALUES (current_setting('app.company_id')::uuid, $1, $2, $3, $4, $5, $6::numeric, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		d.id, d.kind, d.contactID, d.creditOf, d.currency, d.rate, d.issue, d.due, d.reference, d.notes, d.status,
		d.subtotal, d.taxTotal, d.total, d.createdBy)
	if err != nil {
		return fmt.Errorf("save %s: %w", d.kind, err)
	}
	return insertLines(ctx, tx, d)
}

func insertLines(ctx context.Context, tx pgx.Tx, d *doc) error {
	if _, err := tx.Exec(ctx, `DELETE FROM invoice_lines WHERE invoice_id = $1`, d.id); err != nil {
		return fmt.Errorf("replace lines: %w", err)
	}
	rows := make([][]any, 0, len(d.lines))
	for i, l := range d.lines {
		rows = append(rows, []any{d.id, i + 1, l.description, money.Format(l.qty, QuantityScale), l.unitPrice, l.account, l.taxCode, l.taxRate, nullable(l.letter), l.net, l.tax})
	}
	for _, r := range rows {
		if _, err := tx.Exec(ctx, `INSERT INTO invoice_lines (company_id, invoice_id, line_no, description, quantity, unit_price, account, tax_code, tax_rate, etims_letter, net, tax)
			VALUES (current_setting('app.company_id')::uuid, $1, $2, $3, $4::numeric, $5, $6, $7, $8::numeric, $9, $10, $11)`, r...); err != nil {
			return fmt.Errorf("save line: %w", err)
		}
	}
	return nil
}

// CreateDraft saves a draft invoice (kind "invoice") or bill ("bill").
func (s Store) CreateDraft(ctx context.Context, sc tenancy.Scope, kind string, in DocumentInput, by tenancy.Actor) (Document, error) {
	var out Document
	err := s.inTx(ctx, sc, func(tx pgx.Tx) error {
		d, err := prepare(ctx, tx, kind, in, nil)
		if err != nil {
			return err
		}
		d.id, d.createdBy = uuid.New(), by.UserID
		if err := insertDoc(ctx, tx, d); err != nil {
			return err
		}
		d, err = getDoc(ctx, tx, d.id, false, kind)
		if err != nil {
			return err
		}
		out = d.view()
		return nil
	})
	return out, err
}

// UpdateDraft changes a draft; an issued document is refused.
func (s Store) UpdateDraft(ctx context.Context, sc tenancy.Scope, kind string, id uuid.UUID, p DocumentPatch) (Document, error) {
	var out Document
	err := s.inTx(ctx, sc, func(tx pgx.Tx) error {
		cur, err := getDoc(ctx, tx, id, true, kind)
		if err != nil {
			return err
		}
		if cur.status != StatusDraft {
			return &StateError{Status: cur.status, Problem: fmt.Sprintf("only a draft can be changed; this %s is %s", kind, cur.status)}
		}
		in := cur.input()
		for _, f := range []struct {
			src *string
			dst *string
		}{{p.ContactID, &in.ContactID}, {p.Currency, &in.Currency}, {p.Rate, &in.Rate}, {p.IssueDate, &in.IssueDate},
			{p.DueDate, &in.DueDate}, {p.Reference, &in.Reference}, {p.Notes, &in.Notes}} {
			if f.src != nil {
				*f.dst = *f.src
			}
		}
		if p.Currency != nil && p.Rate == nil {
			in.Rate = "" // a new currency needs its own rate
		}
		if p.Lines != nil {
			in.Lines = *p.Lines
		}
		d, err := prepare(ctx, tx, kind, in, nil)
		if err != nil {
			return err
		}
		d.id = id
		if _, err := tx.Exec(ctx, `UPDATE invoices SET contact_id = $2, currency = $3, rate = $4::numeric, issue_date = $5, due_date = $6,
			reference = $7, notes = $8, subtotal = $9, tax_total = $10, total = $11 WHERE id = $1`,
			id, d.contactID, d.currency, d.rate, d.issue, d.due, d.reference, d.notes, d.subtotal, d.taxTotal, d.total); err != nil {
			return fmt.Errorf("update %s %s: %w", kind, id, err)
		}
		if err := insertLines(ctx, tx, d); err != nil {
			return err
		}
		if d, err = getDoc(ctx, tx, id, false, kind); err != nil {
			return err
		}
		out = d.view()
		return nil
	})
	return out, err
}

// Get reads a document; kinds says which (an invoice route reads
// invoices and their credit notes).
func (s Store) Get(ctx context.Context, sc tenancy.Scope, id uuid.UUID, kinds ...string) (Document, error) {
	var out Document
	err := s.inTx(ctx, sc, func(tx pgx.Tx) error {
		d, err := getDoc(ctx, tx, id, false, kinds...)
		if err != nil {
			return err
		}
		out = d.view()
		return nil
	})
	return out, err
}

// DocumentFilter narrows a listing.
type DocumentFilter struct {
	Status    string
	ContactID string
	Cursor    string
	Limit     int
}

// List lists documents of kinds, newest first, with their lines.
func (s Store) List(ctx context.Context, sc tenancy.Scope, f DocumentFilter, kinds ...string) (items []Document, next string, err error) {
	switch f.Status {
	case "", StatusDraft, StatusIssued, StatusPartiallyPaid, StatusPaid, StatusVoid:
	default:
		return nil, "", invalid("status", "must be draft, issued, partially_paid, paid or void")
	}
	var contact *uuid.UUID
	if f.ContactID != "" {
		c, err := uuid.Parse(f.ContactID)
		if err != nil {
			return nil, "", invalid("contact_id", "is not a contact id")
		}
		contact = &c
	}
	cursor, err := parseCursor(f.Cursor)
	if err != nil {
		return nil, "", err
	}
	err = s.inTx(ctx, sc, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+docColumns+docFrom+` WHERE d.kind = ANY($1) AND ($2 = '' OR d.status = $2)
			AND ($3::uuid IS NULL OR d.contact_id = $3)
			AND ($4::uuid IS NULL OR (d.created_at, d.id) < (SELECT created_at, id FROM invoices WHERE id = $4))
			ORDER BY d.created_at DESC, d.id DESC LIMIT $5`, kinds, f.Status, contact, cursor, f.Limit+1)
		if err != nil {
			return fmt.Errorf("list documents: %w", err)
		}
		var docs []*doc
		for rows.Next() {
			d, err := scanDoc(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("list documents: %w", err)
			}
			docs = append(docs, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("list documents: %w", err)
		}
		if len(docs) > f.Limit {
			docs = docs[:f.Limit]
			next = docs[len(docs)-1].id.String()
		}
		for _, d := range docs {
			if err := loadLines(ctx, tx, d); err != nil {
				return err
			}
			items = append(items, d.view())
		}
		return nil
	})
	return items, next, err
}

// nextNumber takes the next number of prefix in year: the counter row is
// bumped (or made) in the caller's transaction and stays locked until it
// ends, so issuers of one prefix and year queue there, and a rollback
// gives the number back.
func nextNumber(ctx context.Context, tx pgx.Tx, prefix string, year int) (string, error) {
	var n int64
	err := tx.QueryRow(ctx, `INSERT INTO document_counters (company_id, prefix, year, last)
		VALUES (current_setting('app.company_id')::uuid, $1, $2, 1)
		ON CONFLICT (company_id, prefix, year) DO UPDATE SET last = document_counters.last + 1
		RETURNING last`, prefix, year).Scan(&n)
	if err != nil {
		return "", fmt.Errorf("number %s %d: %w", prefix, year, err)
	}
	return DocumentNumber(prefix, year, n), nil
}

func prefixOf(kind string) string {
	switch kind {
	case KindBill:
		return "BILL"
	case KindCreditNote:
		return "CN"
	}
	return "INV"
}

// rateOf is a document's rate as a number (nil in the company currency).
func rateOf(r *string) (*big.Rat, error) {
	if r == nil {
		return nil, nil
	}
	return money.ParseRate(*r)
}
