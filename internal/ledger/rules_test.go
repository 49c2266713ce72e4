package ledger

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// TestDatabaseEnforcesRules writes to the tables directly, as the
// company's role, past every check in Go: the database itself refuses
// each broken rule, naming it, and the refusal maps to a RuleError.
func TestDatabaseEnforcesRules(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	var bAccount uuid.UUID
	if err := e.in(e.b, func(tx pgx.Tx) error {
		a, err := AccountByCode(ctx, tx, "1100")
		bAccount = a.ID
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// raw posts an entry with lines (account code or uuid, amount,
	// currency, base) straight into the tables.
	type rl struct {
		account  string
		amount   int64
		currency string
		base     int64
	}
	n := int64(100)
	var rawEntry func(tx pgx.Tx, status, date string, lines ...rl) error
	raw := func(tx pgx.Tx, date string, lines ...rl) error { return rawEntry(tx, "posted", date, lines...) }
	rawEntry = func(tx pgx.Tx, status, date string, lines ...rl) error {
		n++
		id := uuid.New()
		// As a posting writes: the lines, then their entry.
		for i, l := range lines {
			acct := l.account
			if _, err := uuid.Parse(acct); err != nil {
				if err := tx.QueryRow(ctx, "SELECT id::text FROM accounts WHERE code = $1", l.account).Scan(&acct); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, `INSERT INTO journal_lines (company_id, entry_id, line_no, account_id, amount, currency, base_amount, date, posted)
				VALUES (current_setting('app.company_id')::uuid, $1, $2, $3, $4, $5, $6, $7, true)`, id, i+1, acct, l.amount, l.currency, l.base, date); err != nil {
				return err
			}
		}
		number, hash, postedAt := &n, []byte{0}, "now()"
		if status != "posted" {
			number, hash, postedAt = nil, nil, "NULL"
		}
		if _, err := tx.Exec(ctx, `INSERT INTO journal_entries (company_id, id, number, date, source, status, created_by, created_at, posted_at, hash)
			VALUES (current_setting('app.company_id')::uuid, $1, $2, $3, 'manual', $4, 'test', now(), `+postedAt+`, $5)`, id, number, date, status, hash); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "SET CONSTRAINTS ALL IMMEDIATE")
		return err
	}
	cases := []struct {
		name string
		rule string
		do   func(tx pgx.Tx) error
	}{
		{"one line", RuleOneLine, func(tx pgx.Tx) error { return raw(tx, "2026-03-01", rl{"1100", 100, "KES", 100}) }},
		{"no line", RuleOneLine, func(tx pgx.Tx) error { return raw(tx, "2026-03-01") }},
		{"unbalanced", RuleUnbalanced, func(tx pgx.Tx) error {
			return raw(tx, "2026-03-01", rl{"1100", 100, "KES", 100}, rl{"4000", -90, "KES", -90})
		}},
		{"unbalanced per currency", RuleUnbalanced, func(tx pgx.Tx) error {
			return raw(tx, "2026-03-01", rl{"1100", 100, "KES", 100}, rl{"4000", -100, "USD", -100})
		}},
		{"unbalanced base", RuleUnbalancedBase, func(tx pgx.Tx) error {
			return raw(tx, "2026-03-01", rl{"1100", 100, "USD", 12900}, rl{"4000", -100, "USD", -12800})
		}},
		{"zero amount", RuleZeroAmount, func(tx pgx.Tx) error {
			return raw(tx, "2026-03-01", rl{"1100", 0, "KES", 0}, rl{"4000", 0, "KES", 0})
		}},
		{"other company's account", RuleUnknownAccount, func(tx pgx.Tx) error {
			return raw(tx, "2026-03-01", rl{bAccount.String(), 100, "KES", 100}, rl{"4000", -100, "KES", -100})
		}},
		{"inactive account", RuleInactiveAccount, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "UPDATE accounts SET active = false WHERE code = '1120'"); err != nil {
				return err
			}
			return raw(tx, "2026-03-01", rl{"1120", 100, "KES", 100}, rl{"4000", -100, "KES", -100})
		}},
		{"locked period", RulePeriodLocked, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "UPDATE ledger_settings SET lock_date = '2026-03-31'"); err != nil {
				return err
			}
			return raw(tx, "2026-03-31", rl{"1100", 100, "KES", 100}, rl{"4000", -100, "KES", -100})
		}},
		{"posted lines under a draft", "line_mismatch", func(tx pgx.Tx) error {
			return rawEntry(tx, "draft", "2026-03-01", rl{"1100", 100, "KES", 100}, rl{"4000", -100, "KES", -100})
		}},
		{"unknown currency", RuleUnknownCurrency, func(tx pgx.Tx) error {
			return raw(tx, "2026-03-01", rl{"1100", 100, "XXX", 100}, rl{"4000", -100, "XXX", -100})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := e.in(e.a, c.do)
			var re *RuleError
			if !errors.As(dbError(err, "raw"), &re) || re.Rule != c.rule {
				t.Fatalf("database answered %v; want rule %s", err, c.rule)
			}
		})
	}

	// A good entry passes the same path; then it is immutable.
	var id uuid.UUID
	if err := e.in(e.a, func(tx pgx.Tx) error {
		if err := raw(tx, "2026-03-01", rl{"1100", 100, "KES", 100}, rl{"4000", -100, "KES", -100}); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "SELECT id FROM journal_entries WHERE number = $1", n).Scan(&id)
	}); err != nil {
		t.Fatalf("a balanced entry: %v", err)
	}
	for _, stmt := range []string{
		"UPDATE journal_lines SET amount = 200 WHERE entry_id = $1 AND line_no = 1",
		"DELETE FROM journal_lines WHERE entry_id = $1",
		"UPDATE journal_entries SET description = 'changed' WHERE id = $1",
		"UPDATE journal_entries SET date = '2026-03-02' WHERE id = $1",
		"DELETE FROM journal_entries WHERE id = $1",
		"INSERT INTO journal_lines (company_id, entry_id, line_no, account_id, amount, currency, base_amount, date, posted) SELECT company_id, entry_id, 9, account_id, amount, currency, base_amount, date, false FROM journal_lines WHERE entry_id = $1 AND line_no = 1",
		// A balanced pair of posted lines added to a posted entry.
		"INSERT INTO journal_lines (company_id, entry_id, line_no, account_id, amount, currency, base_amount, date, posted) SELECT company_id, entry_id, line_no + 10, account_id, -amount, currency, -base_amount, date, true FROM journal_lines WHERE entry_id = $1",
	} {
		err := e.in(e.a, func(tx pgx.Tx) error { _, err := tx.Exec(ctx, stmt, id); return err })
		var re *RuleError
		if !errors.As(dbError(err, "raw"), &re) || re.Rule != RuleImmutable {
			t.Errorf("%s: %v; want rule immutable", stmt, err)
		}
	}
	for _, stmt := range []string{"TRUNCATE journal_lines", "TRUNCATE journal_entries CASCADE"} {
		_, err := e.super.Exec(ctx, fmt.Sprintf("SET search_path = %s; %s", schema(e.a), stmt))
		var re *RuleError
		if !errors.As(dbError(err, "raw"), &re) || re.Rule != RuleImmutable {
			t.Errorf("%s as superuser: %v; want rule immutable", stmt, err)
		}
	}
	// The reversal link alone may be set, once.
	if err := e.in(e.a, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "UPDATE journal_entries SET reversed_by_id = id, reversed_by = 'test', reversed_at = now() WHERE id = $1", id)
		return err
	}); err != nil {
		t.Errorf("setting the reversal link: %v", err)
	}
	// An idempotency key is unique per company.
	err := e.in(e.a, func(tx pgx.Tx) error {
		for range 2 {
			if _, err := tx.Exec(ctx, `INSERT INTO journal_entries (company_id, date, source, status, created_by, created_at, idempotency_key)
				VALUES (current_setting('app.company_id')::uuid, '2026-03-01', 'manual', 'draft', 'test', now(), 'k')`); err != nil {
				return err
			}
		}
		return nil
	})
	var re *RuleError
	if !errors.As(dbError(err, "raw"), &re) || re.Rule != RuleIdempotencyConflict {
		t.Errorf("a key twice: %v; want idempotency_conflict", err)
	}
}
