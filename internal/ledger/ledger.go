// Package ledger keeps a company's books: currencies, the chart of
// accounts, journal entries and the balances their posting maintains. It
// holds the domain and its SQL, never HTTP. Every function runs inside a
// transaction the caller opened with tenancy.InTx, so that invoicing,
// imports and statements post in the same transaction as their own rows.
//
// The rules of the books (at least two lines, debits equal credits per
// currency and in the company currency, nothing on or before the lock
// date, accounts active and of the company, posted entries immutable,
// idempotency keys unique) are checked here first, for a message naming
// the field, and enforced again by the database (migrations/company/
// 0002_ledger.sql), so that no writer can get round them. Posted entries
// form a hash chain per company; Verify recomputes it and every balance.
package ledger

import (
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
)

// Migrations are the ledger's SQL migrations, migrations/company/*.sql.
//
//go:embed migrations
var Migrations embed.FS

// Source is where an entry came from.
type Source string

// Sources of entries.
const (
	SourceManual    Source = "manual"
	SourceInvoice   Source = "invoice"
	SourceBill      Source = "bill"
	SourcePayment   Source = "payment"
	SourceDocument  Source = "document"
	SourceImport    Source = "import"
	SourceReversal  Source = "reversal"
	SourceStatement Source = "statement"
)

// Sources lists every source, for validation and documentation.
var Sources = []Source{SourceManual, SourceInvoice, SourceBill, SourcePayment, SourceDocument, SourceImport, SourceReversal, SourceStatement}

// Status is a draft (editable, touches no balance) or posted (immutable).
type Status string

// Statuses of entries.
const (
	StatusDraft  Status = "draft"
	StatusPosted Status = "posted"
)

// Account types.
const (
	TypeAsset     = "asset"
	TypeLiability = "liability"
	TypeEquity    = "equity"
	TypeIncome    = "income"
	TypeExpense   = "expense"
)

// Types lists the account types.
var Types = []string{TypeAsset, TypeLiability, TypeEquity, TypeIncome, TypeExpense}

// Roles of the accounts other domains post to; the template seeds one
// account with each.
const (
	RoleBank             = "bank"
	RoleMpesa            = "mpesa"
	RoleAR               = "ar"
	RoleAP               = "ap"
	RoleVATOutput        = "vat_output"
	RoleVATInput         = "vat_input"
	RoleWHTVATReceivable = "wht_vat_receivable"
	RoleRevenue          = "revenue"
	RoleCostOfSales      = "cost_of_sales"
	RoleExpenses         = "expenses"
	RoleRetainedEarnings = "retained_earnings"
	RoleSuspense         = "suspense"
	RoleFX               = "fx"
	RoleConversion       = "conversion"
	RoleCustomerAdvances = "customer_advances"
	RoleVendorAdvances   = "vendor_advances"
)

// Account is one account of the chart.
type Account struct {
	ID         uuid.UUID
	Code       string
	Name       string
	Type       string
	ParentID   uuid.UUID // uuid.Nil: a top-level account
	ParentCode string    // read only: the parent's code
	Currency   string    // "": any currency
	Active     bool
	Role       string // "": none
	CreatedAt  time.Time
}

// LineInput is one line of an entry to post.
type LineInput struct {
	Account   string    // account code
	Amount    int64     // minor units of Currency: debit > 0, credit < 0
	Currency  string    // "" = the company currency
	Rate      string    // decimal; needed for a foreign currency unless Base is set
	Base      *int64    // company-currency amount when the caller knows it (a cost)
	ContactID uuid.UUID // uuid.Nil if none
	TaxCode   string
	Memo      string
}

// EntryInput is an entry to post or to keep as a draft.
type EntryInput struct {
	Date, Description, Reference, IdempotencyKey string // Date "YYYY-MM-DD"
	Source                                       Source
	SourceID                                     uuid.UUID
	Status                                       Status
	Lines                                        []LineInput

	reverses uuid.UUID // set by Reverse alone
}

// Line is a stored line.
type Line struct {
	LineNo      int
	AccountID   uuid.UUID
	AccountCode string
	Amount      int64
	Currency    string
	Scale       int    // the currency's minor-unit digits
	Rate        string // "" for the company currency
	Base        int64  // company currency, at BaseScale
	BaseScale   int    // the company currency's minor-unit digits
	ContactID   uuid.UUID
	TaxCode     string
	Memo        string
}

// Entry is a stored journal entry.
type Entry struct {
	ID             uuid.UUID
	Number         int64 // 0 while a draft
	Date           string
	Description    string
	Reference      string
	Source         Source
	SourceID       uuid.UUID
	Status         Status
	IdempotencyKey string
	Lines          []Line
	ReversesID     uuid.UUID
	ReversedByID   uuid.UUID
	CreatedBy      string
	CreatedAt      time.Time
	ApprovedBy     string
	ApprovedAt     *time.Time
	PostedBy       string
	PostedAt       *time.Time
	ReversedBy     string
	ReversedAt     *time.Time
	Hash           []byte
}

// RuleError is an entry or request the books refuse, naming the rule
// broken and the field at fault.
type RuleError struct {
	Rule    string // e.g. "unbalanced", "period_locked"
	Field   string // e.g. "lines[2].account"
	Message string
}

func (e *RuleError) Error() string {
	if e.Field == "" {
		return "ledger: " + e.Rule + ": " + e.Message
	}
	return "ledger: " + e.Rule + ": " + e.Field + ": " + e.Message
}

// Rules the ledger names.
const (
	RuleOneLine             = "one_line"
	RuleUnbalanced          = "unbalanced"
	RuleUnbalancedBase      = "unbalanced_base"
	RulePeriodLocked        = "period_locked"
	RuleInactiveAccount     = "inactive_account"
	RuleUnknownAccount      = "unknown_account"
	RuleUnknownCurrency     = "unknown_currency"
	RuleAccountCurrency     = "account_currency"
	RuleZeroAmount          = "zero_amount"
	RuleMissingRate         = "missing_rate"
	RuleInvalid             = "invalid"
	RuleNotDraft            = "not_draft"
	RuleImmutable           = "immutable"
	RuleIdempotencyConflict = "idempotency_conflict"
	RuleAlreadyReversed     = "already_reversed"
	RuleNotPosted           = "not_posted"
	RuleAccountInUse        = "account_in_use"
	RuleDuplicateCode       = "duplicate_code"
	RuleTooMany             = "too_many"
)

// Conflict reports whether the rule is about the state of what exists
// (HTTP 409) rather than the request itself (400).
func (e *RuleError) Conflict() bool {
	switch e.Rule {
	case RuleNotDraft, RuleImmutable, RuleIdempotencyConflict, RuleAlreadyReversed, RuleNotPosted, RuleAccountInUse, RuleDuplicateCode:
		return true
	}
	return false
}

// ErrNotFound is an account or entry that does not exist in the company.
var ErrNotFound = errors.New("ledger: not found")

func rule(r, field, format string, args ...any) *RuleError {
	return &RuleError{Rule: r, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ruleSQLState is what the database's own checks raise (ledger_rule in
// the migration): CONSTRAINT names the rule, COLUMN the field.
const ruleSQLState = "VL001"

// constraintRules name the rule behind each named constraint.
var constraintRules = map[string]struct{ rule, field string }{
	"journal_entries_idempotency_key": {RuleIdempotencyConflict, "idempotency_key"},
	"journal_lines_zero_amount":       {RuleZeroAmount, "lines.amount"},
	"journal_lines_account":           {RuleUnknownAccount, "lines.account"},
	"journal_lines_currency":          {RuleUnknownCurrency, "lines.currency"},
	"accounts_code":                   {RuleDuplicateCode, "code"},
	"accounts_role":                   {RuleDuplicateCode, "role"},
	"accounts_currency":               {RuleUnknownCurrency, "currency"},
	"accounts_parent":                 {RuleUnknownAccount, "parent"},
	"account_balances_account":        {RuleAccountInUse, "id"},
	"account_daily_account":           {RuleAccountInUse, "id"},
}

// dbError turns the database's refusal of a rule into a *RuleError;
// anything else is wrapped with what was being done.
func dbError(err error, doing string) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if pe.Code == ruleSQLState {
			return &RuleError{Rule: pe.ConstraintName, Field: pe.ColumnName, Message: pe.Message}
		}
		if r, ok := constraintRules[pe.ConstraintName]; ok && (pe.Code == "23505" || pe.Code == "23503" || pe.Code == "23514") {
			return &RuleError{Rule: r.rule, Field: r.field, Message: "refused by the database: " + pe.Message}
		}
	}
	var re *RuleError
	if errors.As(err, &re) {
		return err
	}
	return fmt.Errorf("ledger: %s: %w", doing, err)
}
