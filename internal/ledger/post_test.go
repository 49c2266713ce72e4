package ledger

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
)

func kes(account string, amount int64) LineInput { return LineInput{Account: account, Amount: amount} }

// TestPostAndContract covers the contract other domains code against:
// the seeded chart and currencies, a posted entry with its number, hash
// and balances, a draft that touches no balance, an idempotent replay,
// and the lookups.
func TestPostAndContract(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	err := e.in(e.a, func(tx pgx.Tx) error {
		code, scale, err := CompanyCurrency(ctx, tx)
		if err != nil || code != "KES" || scale != 2 {
			t.Errorf("CompanyCurrency = %q, %d, %v; want KES 2", code, scale, err)
		}
		for _, role := range []string{RoleBank, RoleMpesa, RoleAR, RoleAP, RoleVATOutput, RoleVATInput, RoleWHTVATReceivable, RoleRevenue,
			RoleCostOfSales, RoleExpenses, RoleRetainedEarnings, RoleSuspense, RoleFX, RoleConversion, RoleCustomerAdvances, RoleVendorAdvances} {
			if a, err := AccountByRole(ctx, tx, role); err != nil || !a.Active {
				t.Errorf("AccountByRole(%s) = %+v, %v", role, a, err)
			}
		}
		if _, err := AccountByRole(ctx, tx, "no_such_role"); !errors.Is(err, ErrNotFound) {
			t.Errorf("AccountByRole(no_such_role) = %v, want ErrNotFound", err)
		}
		g0, err := Generation(ctx, tx)
		if err != nil {
			return err
		}
		in := EntryInput{Date: "2026-03-01", Description: "cash sale", Status: StatusPosted, IdempotencyKey: "sale-1",
			Lines: []LineInput{kes("1110", 116000), kes("4000", -100000), kes("2200", -16000)}}
		got, replayed, err := Post(ctx, tx, in, tester)
		if err != nil {
			return err
		}
		if replayed || got.Number != 1 || len(got.Hash) != 32 || got.PostedBy != tester.UserID {
			t.Errorf("Post = %+v, replayed %v", got, replayed)
		}
		again, replayed, err := Post(ctx, tx, in, tester)
		if err != nil || !replayed || again.ID != got.ID || again.Number != 1 {
			t.Errorf("replay = %+v, %v, %v; want the first entry, replayed", again, replayed, err)
		}
		other := in
		other.Description = "another body"
		var re *RuleError
		if _, _, err := Post(ctx, tx, other, tester); !errors.As(err, &re) || re.Rule != RuleIdempotencyConflict {
			t.Errorf("same key, other body = %v, want idempotency_conflict", err)
		}
		draft := EntryInput{Date: "2026-03-02", Lines: []LineInput{kes("6000", 500), kes("1100", -500)}}
		d, _, err := Post(ctx, tx, draft, tester)
		if err != nil || d.Status != StatusDraft || d.Number != 0 {
			t.Errorf("draft = %+v, %v", d, err)
		}
		if g1, _ := Generation(ctx, tx); g1 != g0+1 {
			t.Errorf("generation %d after posting in one transaction, was %d; want one more", g1, g0)
		}
		var mpesa, sales, expenses int64
		if err := tx.QueryRow(ctx, `SELECT
				coalesce((SELECT amount FROM account_balances b JOIN accounts a ON a.id = b.account_id WHERE a.code = '1110'), 0),
				coalesce((SELECT amount FROM account_balances b JOIN accounts a ON a.id = b.account_id WHERE a.code = '4000'), 0),
				coalesce((SELECT amount FROM account_balances b JOIN accounts a ON a.id = b.account_id WHERE a.code = '6000'), 0)`).Scan(&mpesa, &sales, &expenses); err != nil {
			return err
		}
		if mpesa != 116000 || sales != -100000 || expenses != 0 {
			t.Errorf("balances M-Pesa %d, sales %d, expenses %d; want 116000, -100000 and 0 (a draft moves nothing)", mpesa, sales, expenses)
		}
		cur, err := Get(ctx, tx, got.ID)
		if err != nil || len(cur.Lines) != 3 || cur.Lines[0].AccountCode != "1110" || string(cur.Hash) != string(got.Hash) {
			t.Errorf("Get = %+v, %v", cur, err)
		}
		if a, err := EnsureAccount(ctx, tx, Account{Code: "Assets:Bank:Equity", Name: "Equity Bank", Type: TypeAsset}); err != nil || a.Code != "Assets:Bank:Equity" || !a.Active {
			t.Errorf("EnsureAccount = %+v, %v", a, err)
		}
		if err := EnsureCurrency(ctx, tx, "AAPL", 0); err != nil {
			t.Errorf("EnsureCurrency = %v", err)
		}
		batch, err := PostBatch(ctx, tx, []EntryInput{
			{Date: "2026-03-03", Status: StatusPosted, IdempotencyKey: "b-1", Lines: []LineInput{kes("1100", 100), kes("3000", -100)}},
			in,
			{Date: "2026-03-03", Status: StatusPosted, IdempotencyKey: "b-1", Lines: []LineInput{kes("1100", 100), kes("3000", -100)}},
		}, tester)
		if err != nil || len(batch) != 3 || batch[0].Number != 2 || batch[1].ID != got.ID || batch[2].ID != batch[0].ID {
			t.Errorf("PostBatch = %+v, %v; want number 2, the replayed sale, then number 2 again", batch, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The next transaction that posts moves it again, by one.
	err = e.in(e.a, func(tx pgx.Tx) error {
		g0, err := Generation(ctx, tx)
		if err != nil {
			return err
		}
		for range 2 {
			if _, _, err := Post(ctx, tx, EntryInput{Date: "2026-03-04", Status: StatusPosted, Lines: []LineInput{kes("1100", 1), kes("3000", -1)}}, tester); err != nil {
				return err
			}
		}
		if g1, _ := Generation(ctx, tx); g1 != g0+1 {
			t.Errorf("generation %d after two posts in one transaction, was %d", g1, g0)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
