package reports

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vanta-ledger/vanta/internal/ledger"
)

// benchLines is how many posted lines the report benchmarks read over.
const benchLines = 1_000_000

// BenchmarkReports1M posts a million lines (333,334 sales of three lines:
// receivable, revenue, VAT; over the 365 days of 2025, across four revenue
// and three receivable accounts) with ledger.PostBatch in chunks of 1,000
// entries, then times each report uncached, and the trial balance from
// the cache, after ANALYZE. Run: go test -run '^$' -bench Reports1M -benchtime 50x ./internal/reports
func BenchmarkReports1M(b *testing.B) {
	e := setup(b)
	ctx := context.Background()
	start := time.Now()
	revenue := []string{"4000", "4100", "4200", "4300"}
	receivable := []string{"1200", "1110", "1120"}
	e.in(b, func(tx pgx.Tx) error {
		_, err := ledger.EnsureAccount(ctx, tx, ledger.Account{Code: "4300", Name: "Service income", Type: ledger.TypeIncome})
		return err
	})
	lines := 0
	for i := 0; lines < benchLines; {
		batch := make([]ledger.EntryInput, 0, 1000)
		for ; len(batch) < 1000 && lines < benchLines; i++ {
			net := int64(100+i%9_000) * 100
			vat := net * 16 / 100
			batch = append(batch, ledger.EntryInput{
				Date: time.Date(2025, 1, 1+(i*365/(benchLines/3+1)), 0, 0, 0, 0, time.UTC).Format(dateLayout), Description: "Sale",
				Status: ledger.StatusPosted, Lines: []ledger.LineInput{
					{Account: receivable[i%len(receivable)], Amount: net + vat},
					{Account: revenue[i%len(revenue)], Amount: -net},
					{Account: "2200", Amount: -vat}}})
			lines += 3
		}
		e.post(b, batch)
	}
	b.Logf("posted %d lines in %v", lines, time.Since(start).Round(time.Second))
	// Statistics as autovacuum would have them on books in use (a
	// million fresh rows may be timed before its first pass).
	super, err := pgxpool.New(ctx, e.dsn)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := super.Exec(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	super.Close()
	uncached := Runner{DB: e.app}
	cached := Runner{DB: e.app, Redis: e.redis}
	year := Params{AsOf: ymd("2025-12-31"), From: ymd("2025-01-01"), To: ymd("2025-12-31"), Limit: DefaultLimit}
	for _, bm := range []struct {
		name string
		r    Runner
		fn   Func
		p    Params
	}{
		{"trial-balance", uncached, TrialBalanceReport, year},
		{"profit-and-loss", uncached, ProfitAndLossReport, year},
		{"balance-sheet", uncached, BalanceSheetReport, year},
		{"general-ledger-page", uncached, GeneralLedgerReport, Params{Account: "4000", From: ymd("2025-06-01"), To: ymd("2025-06-30"), Limit: DefaultLimit}},
		{"trial-balance-cached", cached, TrialBalanceReport, year},
	} {
		b.Run(bm.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := bm.r.Run(ctx, e.s, bm.name, bm.p, bm.fn); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
