package documents

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/extract"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// ApproveInput lets the reviewer choose the accounts; "" = the account
// with the role (expenses, and bank for a receipt or ap for an invoice).
type ApproveInput struct {
	DebitAccount  string `json:"debit_account"`
	CreditAccount string `json:"credit_account"`
	Description   string `json:"description"`
}

// Correct stores reviewed fields as a new extraction version.
func (s Store) Correct(ctx context.Context, sc tenancy.Scope, id uuid.UUID, f extract.Fields, by tenancy.Actor) (Document, error) {
	return Document{}, errors.New("documents: correct not built yet")
}

// Approve makes the document's draft journal entry.
func (s Store) Approve(ctx context.Context, sc tenancy.Scope, id uuid.UUID, in ApproveInput, by tenancy.Actor) (uuid.UUID, error) {
	return uuid.Nil, errors.New("documents: approve not built yet")
}
