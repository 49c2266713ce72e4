package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vanta-ledger/vanta/internal/money"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// Store is the ledger as the API uses it: each call is one transaction of
// the scope's company. Other domains call the package functions inside
// their own transactions instead.
type Store struct {
	DB *pgxpool.Pool // the runtime role's pool
}

func inTx[T any](ctx context.Context, s Store, sc tenancy.Scope, fn func(tx pgx.Tx) (T, error)) (T, error) {
	var out T
	err := tenancy.InTx(ctx, s.DB, sc, func(tx pgx.Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	if err != nil {
		var zero T
		return zero, dbError(err, "commit")
	}
	return out, nil
}

// TextLine is a line as the API carries it: amounts as decimal strings at
// the currency's scale, a debit or a credit.
type TextLine struct {
	Account    string
	Debit      string
	Credit     string
	Currency   string
	Rate       string
	BaseDebit  string // a foreign line's company-currency amount, when known
	BaseCredit string
	ContactID  uuid.UUID
	TaxCode    string
	Memo       string
}

// TextEntry is an entry as the API carries it.
type TextEntry struct {
	Date, Description, Reference, IdempotencyKey string
	Source                                       Source
	SourceID                                     uuid.UUID // the record it came from (a document); uuid.Nil if none
	Status                                       Status
	Lines                                        []TextLine
}

// scales is every currency's scale and the company currency.
type scales struct {
	of   map[string]int
	base string
}

func loadScales(ctx context.Context, tx pgx.Tx) (scales, error) {
	rows, err := tx.Query(ctx, "SELECT c.code, c.scale, s.currency FROM currencies c CROSS JOIN ledger_settings s")
	if err != nil {
		return scales{}, fmt.Errorf("ledger: currencies: %w", err)
	}
	sc := scales{of: map[string]int{}}
	var code string
	var scale int
	if _, err := pgx.ForEachRow(rows, []any{&code, &scale, &sc.base}, func() error { sc.of[code] = scale; return nil }); err != nil {
		return scales{}, fmt.Errorf("ledger: currencies: %w", err)
	}
	return sc, nil
}

// input turns a TextEntry into an EntryInput, naming the field of a bad
// amount (prefix is "" or "entries[i].").
func (sc scales) input(t TextEntry, prefix string) (EntryInput, error) {
	in := EntryInput{Date: t.Date, Description: t.Description, Reference: t.Reference, IdempotencyKey: t.IdempotencyKey,
		Source: t.Source, SourceID: t.SourceID, Status: t.Status}
	for i, l := range t.Lines {
		f := func(name string) string { return fmt.Sprintf("%slines[%d].%s", prefix, i, name) }
		cur := l.Currency
		if cur == "" {
			cur = sc.base
		}
		scale, ok := sc.of[cur]
		if !ok {
			return in, rule(RuleUnknownCurrency, f("currency"), "%q is not a currency of this company", l.Currency)
		}
		amount, err := signed(l.Debit, l.Credit, scale, f)
		if err != nil {
			return in, err
		}
		li := LineInput{Account: l.Account, Amount: amount, Currency: l.Currency, Rate: l.Rate, ContactID: l.ContactID, TaxCode: l.TaxCode, Memo: l.Memo}
		if l.BaseDebit != "" || l.BaseCredit != "" {
			base, err := signed(l.BaseDebit, l.BaseCredit, sc.of[sc.base], func(n string) string { return f("base_" + n) })
			if err != nil {
				return in, err
			}
			li.Base = &base
		}
		in.Lines = append(in.Lines, li)
	}
	return in, nil
}

// signed is a debit (positive) or a credit (negative) in minor units;
// exactly one of them is given, and it is more than zero.
func signed(debit, credit string, scale int, field func(string) string) (int64, error) {
	switch {
	case debit != "" && credit != "":
		return 0, rule(RuleInvalid, field("debit"), "a line is a debit or a credit, not both")
	case debit == "" && credit == "":
		return 0, rule(RuleZeroAmount, field("debit"), "a line needs a debit or a credit")
	}
	name, s := "debit", debit
	if credit != "" {
		name, s = "credit", credit
	}
	n, err := money.Parse(s, scale)
	if err != nil {
		return 0, rule(RuleInvalid, field(name), "%v", err)
	}
	if n < 0 {
		return 0, rule(RuleInvalid, field(name), "is more than zero: a credit is written as credit, not a negative debit")
	}
	if n == 0 {
		return 0, rule(RuleZeroAmount, field(name), "a line moves money: never 0")
	}
	if name == "credit" {
		n = -n
	}
	return n, nil
}

// Post posts or drafts one entry given as text.
func (s Store) Post(ctx context.Context, sc tenancy.Scope, t TextEntry, by tenancy.Actor) (e Entry, replayed bool, err error) {
	type result struct {
		e        Entry
		replayed bool
	}
	r, err := groupTx(ctx, s, sc, func(tx pgx.Tx) (result, error) {
		es, rep, err := postText(ctx, tx, []TextEntry{t}, by, false)
		if err != nil {
			return result{}, err
		}
		return result{es[0], rep[0]}, nil
	})
	return r.e, r.replayed, err
}

// PostBatch posts every entry or none.
func (s Store) PostBatch(ctx context.Context, sc tenancy.Scope, ts []TextEntry, by tenancy.Actor) ([]Entry, error) {
	if len(ts) > MaxBatch {
		return nil, rule(RuleTooMany, "entries", "%d entries; a batch holds at most %d", len(ts), MaxBatch)
	}
	if len(ts) == 0 {
		return nil, rule(RuleInvalid, "entries", "a batch holds at least one entry")
	}
	return inTx(ctx, s, sc, func(tx pgx.Tx) ([]Entry, error) {
		es, _, err := postText(ctx, tx, ts, by, true)
		return es, err
	})
}

// Get is one entry.
func (s Store) Get(ctx context.Context, sc tenancy.Scope, id uuid.UUID) (Entry, error) {
	return inTx(ctx, s, sc, func(tx pgx.Tx) (Entry, error) { return Get(ctx, tx, id) })
}

// List lists entries.
func (s Store) List(ctx context.Context, sc tenancy.Scope, q EntryQuery) ([]Entry, bool, error) {
	type page struct {
		es   []Entry
		more bool
	}
	p, err := inTx(ctx, s, sc, func(tx pgx.Tx) (page, error) {
		es, more, err := ListEntries(ctx, tx, q)
		return page{es, more}, err
	})
	return p.es, p.more, err
}

// UpdateDraft replaces a draft with t.
func (s Store) UpdateDraft(ctx context.Context, sc tenancy.Scope, id uuid.UUID, t TextEntry, by tenancy.Actor) (Entry, error) {
	return inTx(ctx, s, sc, func(tx pgx.Tx) (Entry, error) {
		scs, err := loadScales(ctx, tx)
		if err != nil {
			return Entry{}, err
		}
		in, err := scs.input(t, "")
		if err != nil {
			return Entry{}, err
		}
		return UpdateDraft(ctx, tx, id, in, by)
	})
}

// DeleteDraft deletes a draft.
func (s Store) DeleteDraft(ctx context.Context, sc tenancy.Scope, id uuid.UUID, by tenancy.Actor) error {
	_, err := inTx(ctx, s, sc, func(tx pgx.Tx) (struct{}, error) { return struct{}{}, DeleteDraft(ctx, tx, id, by) })
	return err
}

// Approve posts a draft.
func (s Store) Approve(ctx context.Context, sc tenancy.Scope, id uuid.UUID, by tenancy.Actor) (Entry, error) {
	return inTx(ctx, s, sc, func(tx pgx.Tx) (Entry, error) {
		if _, err := Approve(ctx, tx, id, by); err != nil {
			return Entry{}, err
		}
		return Get(ctx, tx, id)
	})
}

// Reverse posts the mirror of a posted entry.
func (s Store) Reverse(ctx context.Context, sc tenancy.Scope, id uuid.UUID, date, description string, by tenancy.Actor) (Entry, error) {
	return inTx(ctx, s, sc, func(tx pgx.Tx) (Entry, error) { return Reverse(ctx, tx, id, date, description, by) })
}

// AccountByRole is the account marked with role (RoleBank, RoleAP, …);
// ErrNotFound when the company has none.
func (s Store) AccountByRole(ctx context.Context, sc tenancy.Scope, role string) (Account, error) {
	return inTx(ctx, s, sc, func(tx pgx.Tx) (Account, error) { return AccountByRole(ctx, tx, role) })
}

// Accounts lists the chart.
func (s Store) Accounts(ctx context.Context, sc tenancy.Scope, after string, limit int) ([]Account, bool, error) {
	type page struct {
		as   []Account
		more bool
	}
	p, err := inTx(ctx, s, sc, func(tx pgx.Tx) (page, error) {
		as, more, err := ListAccounts(ctx, tx, after, limit)
		return page{as, more}, err
	})
	return p.as, p.more, err
}

// Account is one account.
func (s Store) Account(ctx context.Context, sc tenancy.Scope, id uuid.UUID) (Account, error) {
	return inTx(ctx, s, sc, func(tx pgx.Tx) (Account, error) { return AccountByID(ctx, tx, id) })
}

// CreateAccount adds an account; parent is a code ("" for none).
func (s Store) CreateAccount(ctx context.Context, sc tenancy.Scope, a Account, parent string, by tenancy.Actor) (Account, error) {
	return inTx(ctx, s, sc, func(tx pgx.Tx) (Account, error) {
		if parent != "" {
			p, err := AccountByCode(ctx, tx, parent)
			if errors.Is(err, ErrNotFound) {
				return Account{}, rule(RuleUnknownAccount, "parent", "no account %q in this company", parent)
			}
			if err != nil {
				return Account{}, err
			}
			a.ParentID = p.ID
		}
		return CreateAccount(ctx, tx, a, by)
	})
}

// UpdateAccount changes an account; parent is a code ("" makes it
// top-level, nil keeps it).
func (s Store) UpdateAccount(ctx context.Context, sc tenancy.Scope, id uuid.UUID, name *string, parent *string, active *bool, by tenancy.Actor) (Account, error) {
	return inTx(ctx, s, sc, func(tx pgx.Tx) (Account, error) {
		p := AccountPatch{Name: name, Active: active}
		if parent != nil {
			pid := uuid.Nil
			if *parent != "" {
				pa, err := AccountByCode(ctx, tx, *parent)
				if errors.Is(err, ErrNotFound) {
					return Account{}, rule(RuleUnknownAccount, "parent", "no account %q in this company", *parent)
				}
				if err != nil {
					return Account{}, err
				}
				pid = pa.ID
			}
			p.Parent = &pid
		}
		return UpdateAccount(ctx, tx, id, p, by)
	})
}

// DeleteAccount deletes an unused account.
func (s Store) DeleteAccount(ctx context.Context, sc tenancy.Scope, id uuid.UUID, by tenancy.Actor) error {
	_, err := inTx(ctx, s, sc, func(tx pgx.Tx) (struct{}, error) { return struct{}{}, DeleteAccount(ctx, tx, id, by) })
	return err
}

// LockDate is the period lock.
func (s Store) LockDate(ctx context.Context, sc tenancy.Scope) (*time.Time, error) {
	return inTx(ctx, s, sc, func(tx pgx.Tx) (*time.Time, error) { return LockDate(ctx, tx) })
}

// SetLockDate moves the period lock.
func (s Store) SetLockDate(ctx context.Context, sc tenancy.Scope, d *time.Time, by tenancy.Actor) error {
	_, err := inTx(ctx, s, sc, func(tx pgx.Tx) (struct{}, error) { return struct{}{}, SetLockDate(ctx, tx, d, by) })
	return err
}

// Verify checks the company's books.
func (s Store) Verify(ctx context.Context, sc tenancy.Scope) (Report, error) {
	return inTx(ctx, s, sc, func(tx pgx.Tx) (Report, error) { return Verify(ctx, tx) })
}
