package statements

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/ledger"
)

func (c *company) importFile(t *testing.T, data []byte, o Options) (Result, error) {
	t.Helper()
	var res Result
	err := c.in(func(tx pgx.Tx) error {
		var err error
		res, err = Import(context.Background(), tx, bytes.NewReader(data), o, importer)
		return err
	})
	return res, err
}

// books is what the company's journal holds, read back from the tables.
type books struct {
	entries, drafts, statement int
	unbalanced                 int   // entries whose lines do not sum to zero
	balances                   int64 // rows of account_balances with a nonzero amount
	keys                       map[string]bool
}

func (c *company) books(t *testing.T) books {
	t.Helper()
	ctx := context.Background()
	b := books{keys: map[string]bool{}}
	err := c.in(func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE status = 'draft'), count(*) FILTER (WHERE source = 'statement')
			FROM journal_entries`).Scan(&b.entries, &b.drafts, &b.statement); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT entry_id FROM journal_lines GROUP BY entry_id
			HAVING sum(amount) <> 0 OR sum(base_amount) <> 0 OR count(*) < 2) u`).Scan(&b.unbalanced); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM account_balances WHERE amount <> 0`).Scan(&b.balances); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT idempotency_key FROM journal_entries WHERE idempotency_key IS NOT NULL`)
		if err != nil {
			return err
		}
		keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
		for _, k := range keys {
			b.keys[k] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestImportPostsDraftsOnce imports the M-Pesa and the bank statement of
// testdata into a company on real PostgreSQL through ledger.PostBatch:
// one balanced draft per transaction against suspense, on the accounts
// with roles mpesa and bank, moving no balance while drafts; importing
// the same statements again adds nothing and returns the same entries.
func TestImportPostsDraftsOnce(t *testing.T) {
	c := newCompany(t)
	mpesa, err := os.ReadFile("testdata/mpesa.csv")
	if err != nil {
		t.Fatal(err)
	}
	bank, err := os.ReadFile("testdata/bank.csv")
	if err != nil {
		t.Fatal(err)
	}
	first, err := c.importFile(t, mpesa, mustOptions(t, "mpesa", "", "", ""))
	if err != nil {
		t.Fatal(err)
	}
	if first.Rows != 7 || first.Created != 7 || first.Existing != 0 || len(first.Entries) != 7 || len(first.Warnings) != 0 {
		t.Fatalf("first import: rows %d created %d existing %d entries %d warnings %v",
			first.Rows, first.Created, first.Existing, len(first.Entries), first.Warnings)
	}
	for _, e := range first.Entries {
		if e.Status != ledger.StatusDraft || e.Source != ledger.SourceStatement || len(e.Lines) != 2 ||
			e.Lines[0].AccountCode != "1110" || e.Lines[1].AccountCode != "1900" {
			t.Fatalf("draft %+v", e)
		}
	}
	if _, err := c.importFile(t, bank, mustOptions(t, "bank", "", "", "")); err != nil {
		t.Fatal(err)
	}
	before := c.books(t)
	if before.entries != 13 || before.drafts != 13 || before.statement != 13 || before.unbalanced != 0 || before.balances != 0 {
		t.Fatalf("after importing both: %+v", before)
	}
	for _, k := range []string{"statement:1110:TC14AB1XQ2", "statement:1100:FT26061ABC12"} {
		if !before.keys[k] {
			t.Errorf("no entry with key %q", k)
		}
	}

	again, err := c.importFile(t, mpesa, mustOptions(t, "mpesa", "", "", ""))
	if err != nil {
		t.Fatal(err)
	}
	if again.Created != 0 || again.Existing != 7 {
		t.Errorf("second import: created %d existing %d, want 0 and 7", again.Created, again.Existing)
	}
	for i := range again.Entries {
		if again.Entries[i].ID != first.Entries[i].ID {
			t.Errorf("entry %d: second import returned %s, first made %s", i, again.Entries[i].ID, first.Entries[i].ID)
		}
	}
	if _, err := c.importFile(t, bank, mustOptions(t, "bank", "", "", "")); err != nil {
		t.Fatal(err)
	}
	if after := c.books(t); after.entries != before.entries || len(after.keys) != len(before.keys) {
		t.Errorf("re-importing added entries: %d → %d", before.entries, after.entries)
	}
}

// TestImportOverlappingStatement: a later statement that repeats part of
// an earlier one (in another order and at other lines) adds only its new
// rows.
func TestImportOverlappingStatement(t *testing.T) {
	c := newCompany(t)
	head := "Receipt No.,Completion Time,Details,Transaction Status,Paid In,Withdrawn,Balance\n"
	march := head +
		"RA2,2026-03-02 09:00:00,Pay Bill to 888880,Completed,,-200.00,800.00\n" +
		"RA1,2026-03-01 09:00:00,Customer Payment from 254700000001,Completed,\"1,000.00\",,\"1,000.00\"\n"
	overlap := "MPESA FULL STATEMENT\nStatement Period:,02 Mar 2026 - 03 Mar 2026\n\n" + head +
		"RA3,2026-03-03 10:00:00,Customer Payment from 254700000002,Completed,50.00,,850.00\n" +
		"RA2,2026-03-02 09:00:00,Pay Bill to 888880,Completed,,-200.00,800.00\n"
	o := mustOptions(t, "mpesa", "", "", "")
	if res, err := c.importFile(t, []byte(march), o); err != nil || res.Created != 2 {
		t.Fatalf("march: %+v, %v", res, err)
	}
	res, err := c.importFile(t, []byte(overlap), o)
	if err != nil || res.Created != 1 || res.Existing != 1 {
		t.Fatalf("overlap: created %d existing %d, %v; want 1 and 1", res.Created, res.Existing, err)
	}
	if b := c.books(t); b.entries != 3 || b.unbalanced != 0 {
		t.Errorf("books: %+v", b)
	}
}

// TestImportRefusalNamesTheLine: a malformed file, or a row the ledger
// refuses (here: a dollar account for a shilling statement), fails the
// import naming the line; a wrong account code is the account option's
// error; nothing is posted.
func TestImportRefusalNamesTheLine(t *testing.T) {
	c := newCompany(t)
	good := "Date,Description,Amount,Reference\n2026-03-01,a,10.00,R1\n2026-03-02,b,-5.00,R2\n"
	bad := "Date,Description,Amount,Reference\n2026-03-01,a,10.00,R1\n2026-03-02,b,ten,R2\n"
	o := mustOptions(t, "bank", "", "", "")
	_, err := c.importFile(t, []byte(bad), o)
	var le *LineError
	if !errors.As(err, &le) || le.Line != 3 || le.Field != FieldAmount {
		t.Fatalf("malformed file: %v, want line 3 amount", err)
	}
	for _, code := range []string{"1199", "4000"} { // no such account; an income account
		_, err = c.importFile(t, []byte(good), mustOptions(t, "bank", "", code, ""))
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Field != "account" {
			t.Fatalf("account %s: %v, want an OptionError on account", code, err)
		}
	}
	// A dollar account takes no shillings: the ledger refuses the first
	// row's entry, and the error names that row's line and keeps the rule.
	if err := c.in(func(tx pgx.Tx) error {
		_, err := ledger.EnsureAccount(context.Background(), tx, ledger.Account{Code: "1185", Name: "Bank USD", Type: "asset", Currency: "USD"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_, err = c.importFile(t, []byte(good), mustOptions(t, "bank", "", "1185", ""))
	var re *ledger.RuleError
	if !errors.As(err, &le) || le.Line != 2 || !errors.As(err, &re) || re.Rule != ledger.RuleAccountCurrency {
		t.Fatalf("USD account: %v, want line 2 with rule account_currency", err)
	}
	if b := c.books(t); b.entries != 0 {
		t.Errorf("refused imports left %d entries", b.entries)
	}
}

// TestImportLongStatement: a statement longer than one ledger batch is
// posted in several within the one transaction; a re-import adds none.
func TestImportLongStatement(t *testing.T) {
	c := newCompany(t)
	n := ledger.MaxBatch*2 + 3
	var sb strings.Builder
	sb.WriteString("Date,Description,Amount,Reference\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "2026-03-%02d,Till payment %d,%d.%02d,R%06d\n", 1+i%28, i, 1+i%500, i%100, i)
	}
	o := mustOptions(t, "bank", "", "", "")
	first, err := c.importFile(t, []byte(sb.String()), o)
	if err != nil || first.Created != n || len(first.Entries) != n {
		t.Fatalf("first import: created %d entries %d, %v; want %d", first.Created, len(first.Entries), err, n)
	}
	again, err := c.importFile(t, []byte(sb.String()), o)
	if err != nil || again.Created != 0 || again.Existing != n {
		t.Fatalf("second import: created %d existing %d, %v", again.Created, again.Existing, err)
	}
	if b := c.books(t); b.entries != n || b.unbalanced != 0 {
		t.Errorf("books: %d entries, %d unbalanced", b.entries, b.unbalanced)
	}
}
