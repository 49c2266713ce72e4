package interchange

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/journal"
	"github.com/vanta-ledger/vanta/internal/ledger"
	"github.com/vanta-ledger/vanta/internal/money"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// importSync runs an import to its end, as the CLI does.
func importSync(t testing.TB, r Runner, format string, data []byte) (Import, error) {
	t.Helper()
	var readyErr error
	im, err := r.Run(context.Background(), Request{Format: format, Data: data, By: tester},
		func(_ uuid.UUID, err error) { readyErr = err }, nil)
	if readyErr != nil {
		t.Fatalf("import did not start: %v", readyErr)
	}
	return im, err
}

// balances are the company's posted balances: account → currency →
// decimal text, zeros left out (hledger leaves them out too).
func balances(t testing.TB, e *env, s tenancy.Scope) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	err := tenancy.InTx(context.Background(), e.app, s, func(tx pgx.Tx) error {
		rows, err := tx.Query(context.Background(), `SELECT a.code, b.currency, b.amount, c.scale FROM account_balances b
			JOIN accounts a ON a.id = b.account_id JOIN currencies c ON c.code = b.currency WHERE b.amount <> 0`)
		if err != nil {
			return err
		}
		var code, cur string
		var amount int64
		var scale int
		_, err = pgx.ForEachRow(rows, []any{&code, &cur, &amount, &scale}, func() error {
			if out[code] == nil {
				out[code] = map[string]string{}
			}
			out[code][cur] = ratText(new(big.Rat).SetFrac(big.NewInt(amount), pow10(scale)))
			return nil
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func ratText(r *big.Rat) string { return r.RatString() }

// hledgerBalances runs `hledger balance` on a file and reads its CSV the
// same way: account → commodity → exact value.
func hledgerBalances(t testing.TB, file string, extra ...string) map[string]map[string]string {
	t.Helper()
	args := append([]string{"-f", file, "balance", "-O", "csv", "--layout=bare"}, extra...)
	out, err := exec.Command("hledger", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("hledger %v: %v\n%s", args, err, out)
	}
	recs, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	res := map[string]map[string]string{}
	for _, r := range recs[1:] {
		if r[0] == "total" {
			continue
		}
		v := r[2]
		if strings.Contains(v, ",") && !strings.Contains(v, ".") {
			v = strings.Replace(v, ",", ".", 1) // a commodity written with a decimal comma
		}
		q, ok := new(big.Rat).SetString(v)
		if !ok {
			t.Fatalf("hledger balance %q of %s is not a number", r[2], r[0])
		}
		if q.Sign() == 0 {
			continue
		}
		if res[r[0]] == nil {
			res[r[0]] = map[string]string{}
		}
		res[r[0]][r[1]] = ratText(q)
	}
	return res
}

func show(m map[string]map[string]string) string {
	var lines []string
	for a, cs := range m {
		for c, v := range cs {
			lines = append(lines, fmt.Sprintf("%s %s %s", a, c, v))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func needHledger(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("hledger"); err != nil {
		t.Fatalf("these tests check against hledger (scripts/install-deps installs it): %v", err)
	}
}

func export(t testing.TB, e *env, s tenancy.Scope, csvFormat bool) string {
	t.Helper()
	var b bytes.Buffer
	err := tenancy.InTx(context.Background(), e.app, s, func(tx pgx.Tx) error {
		if csvFormat {
			return ExportCSV(context.Background(), tx, &b)
		}
		return ExportJournal(context.Background(), tx, &b)
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestImportMatchesHledgerAndRoundTrips imports a journal written for
// this test (several commodities, @ and @@ costs, P prices, assertions,
// account declarations, comments): every account's balance in every
// commodity equals hledger's on the same file, and the conversion
// account holds what hledger's --infer-equity puts on equity:conversion.
// The export passes hledger check, hledger balances it as the books
// stand, and export → import into another company → export gives the
// same text.
func TestImportMatchesHledgerAndRoundTrips(t *testing.T) {
	needHledger(t)
	e := setup(t)
	a, b := e.company(t), e.company(t)
	src, err := os.ReadFile("testdata/books.journal")
	if err != nil {
		t.Fatal(err)
	}
	im, err := importSync(t, e.runner(a), FormatJournal, src)
	if err != nil || im.Status != StatusDone || im.Entries != 9 || im.Done != 9 || im.Total != 9 {
		t.Fatalf("import = %+v, %v", im, err)
	}
	ours := balances(t, e, a)
	conv := ours["3900"]
	delete(ours, "3900")
	want := hledgerBalances(t, "testdata/books.journal")
	if show(ours) != show(want) {
		t.Errorf("balances after import:\n%s\nhledger balance:\n%s", show(ours), show(want))
	}
	inferred := hledgerBalances(t, "testdata/books.journal", "--infer-equity")
	sum := map[string]*big.Rat{}
	for acct, cs := range inferred {
		if strings.HasPrefix(acct, "equity:conversion:") {
			for c, v := range cs {
				q, _ := new(big.Rat).SetString(v)
				if sum[c] == nil {
					sum[c] = new(big.Rat)
				}
				sum[c].Add(sum[c], q)
			}
		}
	}
	wantConv := map[string]string{}
	for c, q := range sum {
		if q.Sign() != 0 {
			wantConv[c] = ratText(q)
		}
	}
	if show(map[string]map[string]string{"conv": conv}) != show(map[string]map[string]string{"conv": wantConv}) {
		t.Errorf("conversion account %v, hledger --infer-equity %v", conv, wantConv)
	}

	// The export: hledger checks it and balances it as the books stand.
	text := export(t, e, a, false)
	file := filepath.Join(t.TempDir(), "export.journal")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("hledger", "-f", file, "check").CombinedOutput(); err != nil {
		t.Fatalf("hledger check on the export: %v\n%s\n%s", err, out, text)
	}
	if got, want := show(hledgerBalances(t, file)), show(balances(t, e, a)); got != want {
		t.Errorf("hledger balance of the export:\n%s\nour balances:\n%s", got, want)
	}

	// Round trip through another company.
	if im, err := importSync(t, e.runner(b), FormatJournal, []byte(text)); err != nil || im.Status != StatusDone {
		t.Fatalf("import of the export = %+v, %v", im, err)
	}
	if again := export(t, e, b, false); again != text {
		t.Errorf("export → import → export changed the text:\n%s\n---\n%s", text, again)
	}
	if c := export(t, e, a, true); !strings.HasPrefix(c, "number,date,description") || strings.Count(c, "\n") < 20 {
		t.Errorf("CSV export:\n%s", c)
	}
}

// TestRefusedImportChangesNothing: a failing assertion and an include are
// refused naming their lines, and the books are as they were.
func TestRefusedImportChangesNothing(t *testing.T) {
	e := setup(t)
	a := e.company(t)
	good := "2026-01-01 x\n    assets:cash  KES 10.00\n    equity:opening\n"
	cases := []struct {
		src  string
		line int
		want string
	}{
		{good + "2026-01-02 y\n    assets:cash  KES 5.00 = KES 14.00\n    income:sales\n", 5, "balance assertion failed"},
		{good + "include more.journal\n", 4, "include"},
		{good + "2026-01-02 y\n    assets:cash  1.00 XYZ\n    income:sales\n", 5, "no way to a rate"},
		{good + "2026-01-02 y\n    stuff:cash  KES 1.00\n    income:sales\n", 5, "type of account stuff is unknown"},
	}
	gen := func() int64 {
		var g int64
		if err := tenancy.InTx(context.Background(), e.app, a, func(tx pgx.Tx) error {
			var err error
			g, err = ledger.Generation(context.Background(), tx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return g
	}
	before := gen()
	for _, c := range cases {
		im, err := importSync(t, e.runner(a), FormatJournal, []byte(c.src))
		if err == nil || im.Status != StatusFailed || len(im.Errors) != 1 || im.Errors[0].Line != c.line || !strings.Contains(im.Errors[0].Message, c.want) {
			t.Errorf("%q: import = %+v, %v; want failed at line %d with %q", c.src, im, err, c.line, c.want)
		}
	}
	if g := gen(); g != before {
		t.Errorf("generation went from %d to %d", before, g)
	}
	if bal := balances(t, e, a); len(bal) != 0 {
		t.Errorf("refused imports left balances: %v", bal)
	}
	var n int
	_ = tenancy.InTx(context.Background(), e.app, a, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), "SELECT count(*) FROM accounts WHERE code LIKE 'assets%'").Scan(&n)
	})
	if n != 0 {
		t.Errorf("refused imports left %d accounts", n)
	}
	list, _, err := e.runner(a).List(context.Background(), 10, "")
	if err != nil || len(list) != len(cases) {
		t.Errorf("List = %d imports, %v", len(list), err)
	}
}

// TestAbandonedImportIsMarkedFailed: a row left running with nobody
// holding its lock (the process died) reads as failed.
func TestAbandonedImportIsMarkedFailed(t *testing.T) {
	e := setup(t)
	a := e.company(t)
	id := uuid.New()
	if err := tenancy.InTx(context.Background(), e.app, a, func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), `INSERT INTO imports (company_id, id, format, status, created_by)
			VALUES (current_setting('app.company_id')::uuid, $1, 'journal', 'running', 'x')`, id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	im, err := e.runner(a).Get(context.Background(), id)
	if err != nil || im.Status != StatusFailed || len(im.Errors) != 1 || !strings.Contains(im.Errors[0].Message, "stopped") {
		t.Fatalf("abandoned import = %+v, %v", im, err)
	}
}

// bigJournal is n transactions over a few accounts and two currencies.
func bigJournal(n int) []byte {
	var b strings.Builder
	b.WriteString("P 2026-01-01 USD 129.50 KES\n")
	for i := range n {
		day := 1 + i%28
		fmt.Fprintf(&b, "\n2026-%02d-%02d * (R%d) Sale %d\n    assets:bank:kes  KES %s\n    income:sales\n", 1+i%12, day, i, i, money.Format(int64(1000+i), 2))
		if i%10 == 0 {
			fmt.Fprintf(&b, "\n2026-%02d-%02d Dollars %d\n    assets:bank:usd  10.00 USD @ KES 130.00\n    assets:bank:kes\n", 1+i%12, day, i)
		}
	}
	return []byte(b.String())
}

// BenchmarkImport10000 imports 10,000 transactions (and 1,000 exchanges)
// into a new company per iteration: docs/BENCHMARKS.md, "Interchange".
func BenchmarkImport10000(b *testing.B) {
	e := setup(b)
	src := bigJournal(10000)
	for b.Loop() {
		b.StopTimer()
		s := e.company(b)
		b.StartTimer()
		if im, err := importSync(b, e.runner(s), FormatJournal, src); err != nil || im.Entries != 11000 {
			b.Fatalf("import = %+v, %v", im, err)
		}
	}
}

// BenchmarkPlan10000 is the import's work outside the database: parse,
// book (assertions, elided amounts) and turn 10,000 transactions (and
// 1,000 exchanges) into entries.
func BenchmarkPlan10000(b *testing.B) {
	src := bigJournal(10000)
	bk := books{currency: "KES", scale: 2, scales: map[string]int{"KES": 2, "USD": 2}, accounts: map[string]string{}, conversion: "3900"}
	for b.Loop() {
		j, err := journal.Parse(src)
		if err != nil {
			b.Fatal(err)
		}
		booked, err := journal.Book(j)
		if err != nil {
			b.Fatal(err)
		}
		if p, err := makePlan(j, booked, bk); err != nil || len(p.entries) != 11000 {
			b.Fatalf("plan: %v", err)
		}
	}
}
