// Package invoicing keeps a company's receivables and payables: contacts
// (customers and vendors with their KRA PIN), tax codes (Kenyan VAT rates
// and their eTIMS letters, as data with effective dates), invoices, bills,
// credit notes and payments. Issuing, paying and voiding post their
// journal entries through the ledger (ledger.Post) in the same
// transaction as the document changes, so a document is never issued
// without its entry nor an entry posted for a document left in draft.
//
// Amounts are integer minor units of the document's currency. A line's
// net is quantity × unit price and its VAT net × rate, each rounded to the
// minor unit half to even; a document's VAT is the sum of its lines'.
// Numbers (INV-2026-000001, BILL-…, CN-…) are gapless per company, prefix
// and year: a counter row bumped in the issuing transaction.
package invoicing

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// ErrNotFound is a contact, tax code, document or payment this company
// does not have.
var ErrNotFound = errors.New("invoicing: not found")

// ValidationError names the request field at fault.
type ValidationError struct {
	Field   string
	Problem string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Problem }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// StateError refuses an action the document's status does not allow
// (issuing an issued invoice, voiding a paid one).
type StateError struct {
	Status  string
	Problem string
}

func (e *StateError) Error() string { return e.Problem }

// Beginner opens transactions; a *pgxpool.Pool of the runtime role.
type Beginner interface {
	BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error)
}

// Store is the invoicing domain over the appliance's runtime pool. Every
// method works inside one tenancy.InTx transaction of the scope's company.
type Store struct {
	DB Beginner
}

func (s Store) inTx(ctx context.Context, sc tenancy.Scope, fn func(pgx.Tx) error) error {
	return tenancy.InTx(ctx, s.DB, sc, fn)
}

// Document kinds and statuses.
const (
	KindInvoice    = "invoice"
	KindBill       = "bill"
	KindCreditNote = "credit_note"

	StatusDraft         = "draft"
	StatusIssued        = "issued"
	StatusPartiallyPaid = "partially_paid"
	StatusPaid          = "paid"
	StatusVoid          = "void"
)

const dateLayout = "2006-01-02"
