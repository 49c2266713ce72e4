package reports

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/money"
)

// Account types of the chart (accounts.type).
const (
	TypeAsset     = "asset"
	TypeLiability = "liability"
	TypeEquity    = "equity"
	TypeIncome    = "income"
	TypeExpense   = "expense"
)

// Amount is an amount in one currency or commodity.
type Amount struct {
	Currency string `json:"currency"`
	Amount   string `json:"amount"`
}

// books is what every report needs besides its sums: the company
// currency, the scale of every currency, the chart of accounts.
type books struct {
	currency string
	scale    int
	scales   map[string]int
	accounts map[uuid.UUID]account
}

type account struct {
	id              uuid.UUID
	code, name, typ string
}

// sum is one account's posted total in one currency: native minor units
// and the company-currency amount recorded with the lines.
type sum struct {
	account  uuid.UUID
	currency string
	amount   int64
	base     int64
}

func loadBooks(ctx context.Context, tx pgx.Tx) (*books, error) {
	b := &books{scales: map[string]int{}, accounts: map[uuid.UUID]account{}}
	if err := tx.QueryRow(ctx, "SELECT currency FROM ledger_settings").Scan(&b.currency); err != nil {
		return nil, fmt.Errorf("read company currency: %w", err)
	}
	rows, err := tx.Query(ctx, "SELECT code, scale FROM currencies")
	if err != nil {
		return nil, fmt.Errorf("read currencies: %w", err)
	}
	var code string
	var scale int16
	if _, err := pgx.ForEachRow(rows, []any{&code, &scale}, func() error {
		b.scales[code] = int(scale)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read currencies: %w", err)
	}
	sc, ok := b.scales[b.currency]
	if !ok {
		return nil, fmt.Errorf("company currency %s has no scale", b.currency)
	}
	b.scale = sc
	rows, err = tx.Query(ctx, "SELECT id, code, name, type FROM accounts")
	if err != nil {
		return nil, fmt.Errorf("read accounts: %w", err)
	}
	var a account
	if _, err := pgx.ForEachRow(rows, []any{&a.id, &a.code, &a.name, &a.typ}, func() error {
		b.accounts[a.id] = a
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read accounts: %w", err)
	}
	return b, nil
}

// base formats a company-currency amount.
func (b *books) base(minor int64) string { return money.Format(minor, b.scale) }

// native formats an amount in its own currency; a currency without a
// recorded scale (never, since lines reference currencies) shows units.
func (b *books) native(minor int64, currency string) string {
	return money.Format(minor, b.scales[currency])
}

// sums adds up account_daily: per account and currency, the posted
// amounts of the days from..to (from zero: since the beginning). It
// reads at most accounts × currencies × days rows, never the lines, so
// a report over a million lines costs what a year of days costs.
//
// Since the beginning, it reads from whichever end of the books is
// nearer: a day closer to the newest posting than to the oldest is the
// running totals (account_balances, kept in the same transactions as
// account_daily) less the days after it, so that a balance sheet of last
// month does not grow with years of history.
func sums(ctx context.Context, tx pgx.Tx, from, to time.Time, types ...string) ([]sum, error) {
	var typesArg any
	if len(types) > 0 {
		typesArg = types
	}
	query, args := `SELECT d.account_id, d.currency, sum(d.amount)::bigint, sum(d.base_amount)::bigint
		FROM account_daily d
		WHERE d.day <= $1 AND ($2::date IS NULL OR d.day >= $2::date)
		  AND ($3::text[] IS NULL OR d.account_id IN (SELECT id FROM accounts WHERE type = ANY($3::text[])))
		GROUP BY d.account_id, d.currency`, []any{to, nil, typesArg}
	if !from.IsZero() {
		args[1] = from
	} else {
		var first, last *time.Time
		if err := tx.QueryRow(ctx, "SELECT min(day), max(day) FROM account_daily").Scan(&first, &last); err != nil {
			return nil, fmt.Errorf("sum account days: span: %w", err)
		}
		if first == nil {
			return nil, nil // nothing posted
		}
		if last.Sub(to) < to.Sub(*first) {
			// An account is listed only if it has a day on or before
			// to: one with postings only after it nets to nothing here
			// but has no place in the report.
			query = `SELECT x.account_id, x.currency, sum(x.amount)::bigint, sum(x.base)::bigint
				FROM (SELECT account_id, currency, amount, base_amount AS base FROM account_balances
				      UNION ALL
				      SELECT account_id, currency, -amount, -base_amount FROM account_daily WHERE day > $1) x
				WHERE ($2::text[] IS NULL OR x.account_id IN (SELECT id FROM accounts WHERE type = ANY($2::text[])))
				GROUP BY x.account_id, x.currency
				HAVING EXISTS (SELECT 1 FROM account_daily d
				               WHERE d.account_id = x.account_id AND d.currency = x.currency AND d.day <= $1)`
			args = []any{to, typesArg}
		}
	}
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sum account days: %w", err)
	}
	var out []sum
	var s sum
	if _, err := pgx.ForEachRow(rows, []any{&s.account, &s.currency, &s.amount, &s.base}, func() error {
		out = append(out, s)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("sum account days: %w", err)
	}
	return out, nil
}

// accountTotal is one account's sums in all its currencies.
type accountTotal struct {
	account
	base     int64
	balances []sum // by currency
}

// byAccount groups sums per account, ordered by account code (and
// currencies by code), so that reports come out the same every time.
func (b *books) byAccount(ss []sum) ([]*accountTotal, error) {
	m := map[uuid.UUID]*accountTotal{}
	for _, s := range ss {
		t := m[s.account]
		if t == nil {
			a, ok := b.accounts[s.account]
			if !ok {
				return nil, fmt.Errorf("posted account %s is not in the chart", s.account)
			}
			t = &accountTotal{account: a}
			m[s.account] = t
		}
		t.base += s.base
		t.balances = append(t.balances, s)
	}
	out := make([]*accountTotal, 0, len(m))
	for _, t := range m {
		sort.Slice(t.balances, func(i, j int) bool { return t.balances[i].currency < t.balances[j].currency })
		out = append(out, t)
	}
	sortByCode(out)
	return out, nil
}

func sortByCode(ts []*accountTotal) {
	sort.Slice(ts, func(i, j int) bool { return ts[i].code < ts[j].code })
}

// creditNormal reports whether an account type's balance is shown with
// credits positive (liabilities, equity, income).
func creditNormal(typ string) bool {
	return typ == TypeLiability || typ == TypeEquity || typ == TypeIncome
}
