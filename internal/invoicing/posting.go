package invoicing

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/ledger"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// controlRoles are the accounts a document of kind posts to besides its
// lines': the receivable or payable, and the VAT account.
func controlRoles(kind string) (control, vat string) {
	if kind == KindBill {
		return "ap", "vat_input"
	}
	return "ar", "vat_output"
}

// entryLines lays out a document's entry. An invoice debits receivables
// with the total and credits each line's income account with its net and
// VAT output with its VAT; a bill mirrors it (expense and VAT input debit,
// payables credit). sign -1 is the mirror of that: a credit note, or the
// reversal of a void. Lines are summed per account and tax code, and a
// zero line (a zero-rated line's VAT) is left out: the ledger posts none.
func entryLines(ctx context.Context, tx pgx.Tx, d *doc, docKind string, sign int64) ([]ledger.LineInput, error) {
	controlRole, vatRole := controlRoles(docKind)
	control, err := roleAccount(ctx, tx, controlRole)
	if err != nil {
		return nil, err
	}
	vat, err := roleAccount(ctx, tx, vatRole)
	if err != nil {
		return nil, err
	}
	s := side(docKind) * sign
	currency, rate := "", ""
	if d.rate != nil {
		currency, rate = d.currency, *d.rate
	}
	mk := func(account string, amount int64, taxCode string, contact uuid.UUID, memo string) ledger.LineInput {
		return ledger.LineInput{Account: account, Amount: amount, Currency: currency, Rate: rate, ContactID: contact, TaxCode: taxCode, Memo: memo}
	}
	out := []ledger.LineInput{mk(control, s*d.total, "", d.contactID, "")}
	type key struct{ account, tax string }
	var order []key
	nets := map[key]int64{}
	taxes := map[string]int64{}
	var taxOrder []string
	for _, l := range d.lines {
		k := key{l.account, l.taxCode}
		if _, ok := nets[k]; !ok {
			order = append(order, k)
		}
		nets[k] += l.net
		if _, ok := taxes[l.taxCode]; !ok {
			taxOrder = append(taxOrder, l.taxCode)
		}
		taxes[l.taxCode] += l.tax
	}
	for _, k := range order {
		if nets[k] != 0 {
			out = append(out, mk(k.account, -s*nets[k], k.tax, uuid.Nil, ""))
		}
	}
	for _, code := range taxOrder {
		if taxes[code] != 0 {
			out = append(out, mk(vat, -s*taxes[code], code, uuid.Nil, "VAT "+code))
		}
	}
	return out, nil
}

func sourceOf(docKind string) ledger.Source {
	if docKind == KindBill {
		return ledger.SourceBill
	}
	return ledger.SourceInvoice
}

// settle sets a document's status from what was paid and credited.
func settle(d *doc) {
	switch done := d.paid + d.credited; {
	case done >= d.total:
		d.status = StatusPaid
	case done > 0:
		d.status = StatusPartiallyPaid
	default:
		d.status = StatusIssued
	}
}

// Issue numbers a draft and posts its entry, in one transaction: the
// next number of its prefix and year, and the ledger entry dated the
// issue date. A refused posting (a locked period, an inactive account)
// leaves the draft and the counter as they were.
func (s Store) Issue(ctx context.Context, sc tenancy.Scope, kind string, id uuid.UUID, by tenancy.Actor) (Document, error) {
	var out Document
	err := s.inTx(ctx, sc, func(tx pgx.Tx) error {
		d, err := getDoc(ctx, tx, id, true, kind)
		if err != nil {
			return err
		}
		if d.status != StatusDraft {
			return &StateError{Status: d.status, Problem: fmt.Sprintf("only a draft can be issued; this %s is %s", kind, d.status)}
		}
		if d.total == 0 {
			return invalid("lines", "the total is zero: there is nothing to issue")
		}
		number, err := nextNumber(ctx, tx, prefixOf(kind), d.issue.Year())
		if err != nil {
			return err
		}
		d.number = &number
		lines, err := entryLines(ctx, tx, d, kind, 1)
		if err != nil {
			return err
		}
		e, _, err := ledger.Post(ctx, tx, ledger.EntryInput{Date: d.issue.Format(dateLayout), Description: describe(kind, number, d.reference),
			Reference: number, IdempotencyKey: "invoicing:" + id.String() + ":issue", Source: sourceOf(kind), SourceID: id,
			Status: ledger.StatusPosted, Lines: lines}, by)
		if err != nil {
			return fmt.Errorf("post %s %s: %w", kind, number, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE invoices SET status = $2, number = $3, entry_id = $4, issued_by = $5, issued_at = now() WHERE id = $1`,
			id, StatusIssued, number, e.ID, by.UserID); err != nil {
			return fmt.Errorf("issue %s %s: %w", kind, number, err)
		}
		if d, err = getDoc(ctx, tx, id, false, kind); err != nil {
			return err
		}
		out = d.view()
		return nil
	})
	return out, err
}

func describe(kind, number, reference string) string {
	name := map[string]string{KindInvoice: "Invoice", KindBill: "Bill", KindCreditNote: "Credit note"}[kind]
	if reference != "" {
		return name + " " + number + " (" + reference + ")"
	}
	return name + " " + number
}

// Void cancels an issued document on which nothing was paid or credited:
// its entry's mirror is posted, dated in.Date (default: the issue date).
func (s Store) Void(ctx context.Context, sc tenancy.Scope, kind string, id uuid.UUID, in VoidInput, by tenancy.Actor) (Document, error) {
	var out Document
	err := s.inTx(ctx, sc, func(tx pgx.Tx) error {
		d, err := getDoc(ctx, tx, id, true, kind)
		if err != nil {
			return err
		}
		if d.status != StatusIssued || d.paid != 0 || d.credited != 0 {
			return &StateError{Status: d.status, Problem: fmt.Sprintf("only an issued %s with nothing paid or credited can be voided; this one is %s (credit it instead)", kind, d.status)}
		}
		date := d.issue
		if in.Date != "" {
			if date, err = parseDate("date", in.Date); err != nil {
				return err
			}
			if date.Before(d.issue) {
				return invalid("date", "is before the issue date %s", d.issue.Format(dateLayout))
			}
		}
		if len(in.Reason) > 500 {
			return invalid("reason", "must be at most 500 characters")
		}
		lines, err := entryLines(ctx, tx, d, kind, -1)
		if err != nil {
			return err
		}
		desc := "Void of " + describe(kind, *d.number, "")
		if in.Reason != "" {
			desc += ": " + in.Reason
		}
		e, _, err := ledger.Post(ctx, tx, ledger.EntryInput{Date: date.Format(dateLayout), Description: desc, Reference: *d.number,
			IdempotencyKey: "invoicing:" + id.String() + ":void", Source: ledger.SourceReversal, SourceID: id,
			Status: ledger.StatusPosted, Lines: lines}, by)
		if err != nil {
			return fmt.Errorf("void %s %s: %w", kind, *d.number, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE invoices SET status = $2, void_entry_id = $3, voided_at = $4 WHERE id = $1`,
			id, StatusVoid, e.ID, date); err != nil {
			return fmt.Errorf("void %s: %w", id, err)
		}
		if d, err = getDoc(ctx, tx, id, false, kind); err != nil {
			return err
		}
		out = d.view()
		return nil
	})
	return out, err
}

// CreditNote issues a credit note against an issued invoice or bill (of
// kind) and posts it; it takes at most the balance due off the parent.
func (s Store) CreditNote(ctx context.Context, sc tenancy.Scope, kind string, parentID uuid.UUID, in CreditNoteInput, by tenancy.Actor) (Document, error) {
	var out Document
	err := s.inTx(ctx, sc, func(tx pgx.Tx) error {
		parent, err := getDoc(ctx, tx, parentID, true, kind)
		if err != nil {
			return err
		}
		if parent.status != StatusIssued && parent.status != StatusPartiallyPaid {
			return &StateError{Status: parent.status, Problem: fmt.Sprintf("a credit note needs an issued %s with a balance due; this one is %s", kind, parent.status)}
		}
		date := in.Date
		if date == "" {
			date = time.Now().UTC().Format(dateLayout)
		}
		if d, err := parseDate("date", date); err != nil {
			return err
		} else if d.Before(parent.issue) {
			return invalid("date", "is before the %s's issue date %s", kind, parent.issue.Format(dateLayout))
		}
		d, err := prepare(ctx, tx, KindCreditNote, DocumentInput{IssueDate: date, Reference: *parent.number, Notes: in.Reason, Lines: in.Lines}, parent)
		if err != nil {
			return err
		}
		if d.total == 0 {
			return invalid("lines", "the credit is zero")
		}
		if d.total > parent.balance() {
			return invalid("lines", "the credit (%s) is more than the balance due (%s)", fmtAmount(d.total, d.scale), fmtAmount(parent.balance(), d.scale))
		}
		d.id, d.createdBy, d.creditOf = uuid.New(), by.UserID, &parent.id
		number, err := nextNumber(ctx, tx, prefixOf(KindCreditNote), d.issue.Year())
		if err != nil {
			return err
		}
		lines, err := entryLines(ctx, tx, d, kind, -1)
		if err != nil {
			return err
		}
		e, _, err := ledger.Post(ctx, tx, ledger.EntryInput{Date: date, Description: describe(KindCreditNote, number, *parent.number),
			Reference: number, IdempotencyKey: "invoicing:" + d.id.String() + ":issue", Source: sourceOf(kind), SourceID: d.id,
			Status: ledger.StatusPosted, Lines: lines}, by)
		if err != nil {
			return fmt.Errorf("post credit note %s: %w", number, err)
		}
		if err := insertDoc(ctx, tx, d); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE invoices SET status = $2, number = $3, entry_id = $4, issued_by = $5, issued_at = now() WHERE id = $1`,
			d.id, StatusIssued, number, e.ID, by.UserID); err != nil {
			return fmt.Errorf("issue credit note %s: %w", number, err)
		}
		parent.credited += d.total
		settle(parent)
		if _, err := tx.Exec(ctx, `UPDATE invoices SET credited = $2, status = $3 WHERE id = $1`, parent.id, parent.credited, parent.status); err != nil {
			return fmt.Errorf("credit %s: %w", *parent.number, err)
		}
		if d, err = getDoc(ctx, tx, d.id, false, KindCreditNote); err != nil {
			return err
		}
		out = d.view()
		return nil
	})
	return out, err
}
