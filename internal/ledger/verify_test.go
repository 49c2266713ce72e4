package ledger

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/audit"
)

// books3 posts three entries, approves a draft and reverses one, in
// company A: six posted entries, every path that numbers and chains.
func books3(t *testing.T, e *env) (ids []uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	err := e.in(e.a, func(tx pgx.Tx) error {
		for i, in := range []EntryInput{
			{Date: "2026-01-05", Description: "capital", Status: StatusPosted, Lines: []LineInput{kes("1100", 5_000_000), kes("3000", -5_000_000)}},
			{Date: "2026-01-06", Description: "sale", Status: StatusPosted, Lines: []LineInput{kes("1200", 116_000), kes("4000", -100_000), kes("2200", -16_000)}},
			{Date: "2026-01-07", Description: "dollar receipt", Status: StatusPosted, Lines: []LineInput{
				{Account: "1100", Amount: 10_000, Currency: "USD", Rate: "129.45"}, {Account: "4000", Amount: -10_000, Currency: "USD", Rate: "129.45"}}},
		} {
			got, _, err := Post(ctx, tx, in, tester)
			if err != nil {
				return fmt.Errorf("entry %d: %w", i, err)
			}
			ids = append(ids, got.ID)
		}
		d, _, err := Post(ctx, tx, EntryInput{Date: "2026-01-08", Description: "rent", Lines: []LineInput{kes("6200", 40_000), kes("1110", -40_000)}}, tester)
		if err != nil {
			return err
		}
		approver := tester
		approver.UserID = "22222222-2222-2222-2222-222222222222"
		a, err := Approve(ctx, tx, d.ID, approver)
		if err != nil {
			return fmt.Errorf("approve: %w", err)
		}
		if a.Number != 4 || a.ApprovedBy != approver.UserID || a.CreatedBy != tester.UserID {
			t.Errorf("approved = %+v", a)
		}
		if _, err := Approve(ctx, tx, d.ID, approver); !isRule(err, RuleNotDraft) {
			t.Errorf("approve twice = %v, want not_draft", err)
		}
		ids = append(ids, d.ID)
		r, err := Reverse(ctx, tx, ids[1], "2026-01-09", "", tester)
		if err != nil {
			return fmt.Errorf("reverse: %w", err)
		}
		if r.Number != 5 || r.ReversesID != ids[1] || r.Lines[0].Amount != -116_000 {
			t.Errorf("reversal = %+v", r)
		}
		if _, err := Reverse(ctx, tx, ids[1], "2026-01-09", "", tester); !isRule(err, RuleAlreadyReversed) {
			t.Errorf("reverse twice = %v, want already_reversed", err)
		}
		orig, err := Get(ctx, tx, ids[1])
		if err != nil || orig.ReversedByID != r.ID || orig.ReversedBy != tester.UserID {
			t.Errorf("original after reversal = %+v, %v", orig, err)
		}
		ids = append(ids, r.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func isRule(err error, r string) bool {
	var re *RuleError
	return errors.As(err, &re) && re.Rule == r
}

func verify(t *testing.T, e *env) Report {
	t.Helper()
	var rep Report
	if err := e.in(e.a, func(tx pgx.Tx) error {
		var err error
		rep, err = Verify(context.Background(), tx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return rep
}

// tamper runs SQL in company A's schema as the superuser with triggers
// off, as someone at psql with the keys to the database would.
func tamper(t *testing.T, e *env, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, e.super, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "SELECT set_config('search_path', $1, true)", schema(e.a)); err != nil {
			return err
		}
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func hasProblem(rep Report, number int64, words string) bool {
	for _, p := range rep.Problems {
		if (number == 0 || p.Number == number) && strings.Contains(p.Problem, words) {
			return true
		}
	}
	return false
}

// TestVerifyNamesTampering is acceptance 7: a posted line's amount, an
// entry's description, or the newest entry deleted, each changed in SQL
// by a superuser past the triggers, is named by Verify; an untouched
// ledger verifies.
func TestVerifyNamesTampering(t *testing.T) {
	e := setup(t)
	books3(t, e)
	if rep := verify(t, e); !rep.OK || rep.Entries != 5 || rep.Head != 5 {
		t.Fatalf("untouched books: %+v", rep)
	}

	t.Run("line amount", func(t *testing.T) {
		tamper(t, e, "UPDATE journal_lines SET amount = 126000, base_amount = 126000 WHERE line_no = 1 AND entry_id = (SELECT id FROM journal_entries WHERE number = 2)")
		rep := verify(t, e)
		if rep.OK || !hasProblem(rep, 2, "do not match its hash") || !hasProblem(rep, 0, "balance of account 1200 in KES is 0.00") {
			t.Errorf("verify after changing a line of entry 2: %+v", rep)
		}
		tamper(t, e, "UPDATE journal_lines SET amount = 116000, base_amount = 116000 WHERE line_no = 1 AND entry_id = (SELECT id FROM journal_entries WHERE number = 2)")
		if rep := verify(t, e); !rep.OK {
			t.Fatalf("restored: %+v", rep)
		}
	})
	t.Run("description", func(t *testing.T) {
		tamper(t, e, "UPDATE journal_entries SET description = 'capital injection' WHERE number = 1")
		rep := verify(t, e)
		if rep.OK || len(rep.Problems) != 1 || rep.Problems[0].Number != 1 || !hasProblem(rep, 1, "do not match its hash") {
			t.Errorf("verify after changing entry 1's description: %+v", rep)
		}
		tamper(t, e, "UPDATE journal_entries SET description = 'capital' WHERE number = 1")
	})
	t.Run("newest deleted", func(t *testing.T) {
		tamper(t, e, "UPDATE journal_entries SET reversed_by_id = NULL WHERE reversed_by_id = (SELECT id FROM journal_entries WHERE number = 5)",
			"DELETE FROM journal_lines WHERE entry_id = (SELECT id FROM journal_entries WHERE number = 5)",
			"DELETE FROM journal_entries WHERE number = 5")
		rep := verify(t, e)
		if rep.OK || !hasProblem(rep, 5, "newest entries deleted") {
			t.Errorf("verify after deleting entry 5: %+v", rep)
		}
		// The head in the books rewound too: the audit chain (itself
		// checkpointed outside the database) anchored entry 5.
		tamper(t, e, "UPDATE ledger_settings SET last_number = 4, head_hash = (SELECT hash FROM journal_entries WHERE number = 4)")
		rep = verify(t, e)
		if rep.OK || !hasProblem(rep, 5, "the audit chain anchored entry 5") {
			t.Errorf("verify after deleting entry 5 and rewinding the head: %+v", rep)
		}
	})
}

// TestPostingsAnchorTheHead: every hundredth posted entry anchors the
// books' head in the audit chain, and nothing between.
func TestPostingsAnchorTheHead(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	var batch []EntryInput
	for range 150 {
		batch = append(batch, EntryInput{Date: "2026-02-01", Status: StatusPosted, Lines: []LineInput{kes("1100", 100), kes("3000", -100)}})
	}
	err := e.in(e.a, func(tx pgx.Tx) error {
		if _, err := PostBatch(ctx, tx, batch[:99], tester); err != nil {
			return err
		}
		if n, _, err := lastAnchor(ctx, tx); err != nil || n != 0 {
			t.Errorf("anchor after 99 entries = %d, %v; want none", n, err)
		}
		if _, err := PostBatch(ctx, tx, batch[99:], tester); err != nil {
			return err
		}
		n, h, err := lastAnchor(ctx, tx)
		if err != nil || n != 150 || len(h) != 64 {
			t.Errorf("anchor after 150 entries = %d %q, %v; want the head, 150", n, h, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep := verify(t, e); !rep.OK || rep.Entries != 150 {
		t.Errorf("verify = %+v", rep)
	}
}

// TestLedgerWritesAreAudited: approve, reverse, the period lock and the
// chart's changes append the company's audit chain in their transaction,
// and the chain verifies.
func TestLedgerWritesAreAudited(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	books3(t, e)
	err := e.in(e.a, func(tx pgx.Tx) error {
		lock := time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
		if err := SetLockDate(ctx, tx, &lock, tester); err != nil {
			return err
		}
		if _, _, err := Post(ctx, tx, EntryInput{Date: "2026-01-31", Status: StatusPosted, Lines: []LineInput{kes("1100", 1), kes("3000", -1)}}, tester); !isRule(err, RulePeriodLocked) {
			t.Errorf("post on the lock date = %v, want period_locked", err)
		}
		a, err := CreateAccount(ctx, tx, Account{Code: "1130", Name: "Petty cash", Type: TypeAsset}, tester)
		if err != nil {
			return err
		}
		if _, err := CreateAccount(ctx, tx, Account{Code: "1130", Name: "Again", Type: TypeAsset}, tester); !isRule(err, RuleDuplicateCode) {
			t.Errorf("code twice = %v, want duplicate_code", err)
		}
		off := false
		if _, err := UpdateAccount(ctx, tx, a.ID, AccountPatch{Active: &off}, tester); err != nil {
			return err
		}
		bank, _ := AccountByCode(ctx, tx, "1100")
		if err := DeleteAccount(ctx, tx, bank.ID, tester); !isRule(err, RuleAccountInUse) {
			t.Errorf("delete bank = %v, want account_in_use", err)
		}
		return DeleteAccount(ctx, tx, a.ID, tester)
	})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := e.super.Query(ctx, "SELECT action FROM audit.records WHERE chain = $1 ORDER BY seq", e.a.Company().String())
	if err != nil {
		t.Fatal(err)
	}
	actions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := "ledger.entry.approve ledger.entry.reverse ledger.period_lock ledger.account.create ledger.account.update ledger.account.delete"
	if strings.Join(actions, " ") != want {
		t.Errorf("audit chain = %v, want %s", actions, want)
	}
	if res, err := audit.Verify(ctx, e.super, e.a.Company().String(), nil); err != nil || !res.OK {
		t.Errorf("audit chain verifies: %+v, %v", res, err)
	}
}
