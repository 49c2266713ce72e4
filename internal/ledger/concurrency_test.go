package ledger

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestConcurrentPostsKeepBalances: writers posting at once to the same hot
// accounts (every entry touches receivables and VAT output), with drafts
// approved and keys replayed among them, get no deadlock or serialization
// error, lose no update, and leave gapless numbers and exact balances.
func TestConcurrentPostsKeepBalances(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	const workers, each = 6, 15
	others := []string{"4000", "4100", "5000", "6000"}
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				amount := int64(100*(w+1) + i)
				in := EntryInput{Date: fmt.Sprintf("2026-02-%02d", 1+i%28), Status: StatusPosted,
					IdempotencyKey: fmt.Sprintf("w%d-%d", w, i),
					Lines:          []LineInput{kes("1200", amount+16), kes(others[(w+i)%len(others)], -amount), kes("2200", -16)}}
				if i%5 == 4 {
					in.Status = StatusDraft
				}
				err := e.in(e.a, func(tx pgx.Tx) error {
					got, _, err := Post(ctx, tx, in, tester)
					if err == nil && got.Status == StatusDraft {
						_, err = Approve(ctx, tx, got.ID, tester)
					}
					return err
				})
				if err == nil && i%3 == 0 { // a client's retry
					err = e.in(e.a, func(tx pgx.Tx) error {
						_, replayed, err := Post(ctx, tx, in, tester)
						if err == nil && !replayed {
							err = fmt.Errorf("retry of %s posted again", in.IdempotencyKey)
						}
						return err
					})
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var want int64
	for w := range workers {
		for i := range each {
			want += int64(100*(w+1)+i) + 16
		}
	}
	err := e.in(e.a, func(tx pgx.Tx) error {
		var ar, vat int64
		if err := tx.QueryRow(ctx, `SELECT
				(SELECT b.amount FROM account_balances b JOIN accounts a ON a.id = b.account_id WHERE a.code = '1200'),
				(SELECT b.amount FROM account_balances b JOIN accounts a ON a.id = b.account_id WHERE a.code = '2200')`).Scan(&ar, &vat); err != nil {
			return err
		}
		if ar != want || vat != -16*workers*each {
			t.Errorf("receivables %d, VAT %d; want %d and %d", ar, vat, want, -16*workers*each)
		}
		rep, err := Verify(ctx, tx)
		if err != nil {
			return err
		}
		if !rep.OK || rep.Entries != workers*each {
			t.Errorf("verify = %+v; want ok with %d gapless entries", rep, workers*each)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
