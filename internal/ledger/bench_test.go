package ledger

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// BenchmarkPost is one posted entry of three lines per transaction, as the
// runtime role: go test -run '^$' -bench . ./internal/ledger
func BenchmarkPost(b *testing.B) {
	ctx := context.Background()
	e := setup(b)
	in := EntryInput{Date: "2026-03-01", Status: StatusPosted, Lines: []LineInput{kes("1200", 116000), kes("4000", -100000), kes("2200", -16000)}}
	b.ResetTimer()
	for b.Loop() {
		if err := e.in(e.a, func(tx pgx.Tx) error { _, _, err := Post(ctx, tx, in, tester); return err }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPostBatch is 1,000 entries of three lines in one transaction;
// entries/s is the batch rate.
func BenchmarkPostBatch(b *testing.B) {
	ctx := context.Background()
	e := setup(b)
	batch := make([]EntryInput, 1000)
	for i := range batch {
		batch[i] = EntryInput{Date: "2026-03-01", Status: StatusPosted, Lines: []LineInput{kes("1200", 116000), kes("4000", -100000), kes("2200", -16000)}}
	}
	b.ResetTimer()
	for b.Loop() {
		if err := e.in(e.a, func(tx pgx.Tx) error { _, err := PostBatch(ctx, tx, batch, tester); return err }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "entries/s")
}
