package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// accountColumns are what scanAccount reads, in its order.
const accountColumns = `id, code, name, type, coalesce(parent_id, '00000000-0000-0000-0000-000000000000'::uuid),
	coalesce((SELECT p.code FROM accounts p WHERE p.id = accounts.parent_id), ''), coalesce(currency, ''), active, coalesce(role, ''), created_at`

func scanAccount(r pgx.Row) (Account, error) {
	var a Account
	err := r.Scan(&a.ID, &a.Code, &a.Name, &a.Type, &a.ParentID, &a.ParentCode, &a.Currency, &a.Active, &a.Role, &a.CreatedAt)
	return a, err
}

// AccountByRole is the account marked with role (RoleAR, RoleBank, …);
// ErrNotFound when the company has none.
func AccountByRole(ctx context.Context, tx pgx.Tx, role string) (Account, error) {
	a, err := scanAccount(tx.QueryRow(ctx, "SELECT "+accountColumns+" FROM accounts WHERE role = $1", role))
	if errors.Is(err, pgx.ErrNoRows) {
		return Account{}, fmt.Errorf("account with role %q: %w", role, ErrNotFound)
	}
	if err != nil {
		return Account{}, fmt.Errorf("ledger: account with role %q: %w", role, err)
	}
	return a, nil
}

// AccountByCode is the account with code; ErrNotFound when none.
func AccountByCode(ctx context.Context, tx pgx.Tx, code string) (Account, error) {
	a, err := scanAccount(tx.QueryRow(ctx, "SELECT "+accountColumns+" FROM accounts WHERE code = $1", code))
	if errors.Is(err, pgx.ErrNoRows) {
		return Account{}, fmt.Errorf("account %q: %w", code, ErrNotFound)
	}
	if err != nil {
		return Account{}, fmt.Errorf("ledger: account %q: %w", code, err)
	}
	return a, nil
}

// EnsureAccount returns the account with a.Code, creating it from a
// (name, type, parent, currency, role) when missing; an existing account
// is returned as it is. An import calls it for every account it meets.
func EnsureAccount(ctx context.Context, tx pgx.Tx, a Account) (Account, error) {
	if err := checkAccount(a); err != nil {
		return Account{}, err
	}
	_, err := tx.Exec(ctx, `INSERT INTO accounts (company_id, code, name, type, parent_id, currency, active, role)
		VALUES (current_setting('app.company_id')::uuid, $1, $2, $3, $4, $5, true, $6) ON CONFLICT (company_id, code) DO NOTHING`,
		a.Code, a.Name, a.Type, nullableID(a.ParentID), nullable(a.Currency), nullable(a.Role))
	if err != nil {
		return Account{}, dbError(err, "ensure account "+a.Code)
	}
	return AccountByCode(ctx, tx, a.Code)
}

// checkAccount checks what the client gives of an account.
func checkAccount(a Account) error {
	switch {
	case a.Code == "" || len(a.Code) > 200:
		return rule(RuleInvalid, "code", "must be 1 to 200 characters")
	case a.Name == "" || len(a.Name) > 200:
		return rule(RuleInvalid, "name", "must be 1 to 200 characters")
	case !contains(Types, a.Type):
		return rule(RuleInvalid, "type", "%q is not one of %v", a.Type, Types)
	case len(a.Role) > 50:
		return rule(RuleInvalid, "role", "must be at most 50 characters")
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func nullableID(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

// EnsureCurrency adds a currency (or an import's commodity) with its
// scale when the company does not have it; an existing one keeps its
// scale.
func EnsureCurrency(ctx context.Context, tx pgx.Tx, code string, scale int) error {
	if code == "" || len(code) > 64 {
		return rule(RuleInvalid, "currency", "a currency code is 1 to 64 characters")
	}
	if scale < 0 || scale > 18 {
		return rule(RuleInvalid, "scale", "a currency's scale is 0 to 18 digits, not %d", scale)
	}
	_, err := tx.Exec(ctx, `INSERT INTO currencies (company_id, code, scale) VALUES (current_setting('app.company_id')::uuid, $1, $2)
		ON CONFLICT (company_id, code) DO NOTHING`, code, scale)
	return dbError(err, "ensure currency "+code)
}

// Currency is one currency of the company.
type Currency struct {
	Code  string
	Scale int
	Name  string
}

// Currencies lists the company's currencies by code.
func Currencies(ctx context.Context, tx pgx.Tx) ([]Currency, error) {
	rows, err := tx.Query(ctx, "SELECT code, scale, name FROM currencies ORDER BY code")
	if err != nil {
		return nil, fmt.Errorf("ledger: currencies: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Currency, error) {
		var c Currency
		return c, r.Scan(&c.Code, &c.Scale, &c.Name)
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: currencies: %w", err)
	}
	return out, nil
}

// CompanyCurrency is the currency the company reports in, and its scale.
func CompanyCurrency(ctx context.Context, tx pgx.Tx) (code string, scale int, err error) {
	err = tx.QueryRow(ctx, "SELECT s.currency, c.scale FROM ledger_settings s JOIN currencies c ON c.code = s.currency").Scan(&code, &scale)
	if err != nil {
		return "", 0, fmt.Errorf("ledger: company currency: %w", err)
	}
	return code, scale, nil
}

// Generation is the company's posting generation: it goes up in every
// transaction that posts or reverses, so a report cached under it is
// never stale.
func Generation(ctx context.Context, tx pgx.Tx) (int64, error) {
	var g int64
	if err := tx.QueryRow(ctx, "SELECT generation FROM ledger_settings").Scan(&g); err != nil {
		return 0, fmt.Errorf("ledger: generation: %w", err)
	}
	return g, nil
}
