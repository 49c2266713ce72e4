package invoicing

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// must is for setup steps that cannot fail in a sound build; a failure
// panics, which fails the test with the error and its stack.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestGaplessNumbersUnderConcurrency: 32 goroutines issue invoices of one
// company at once against real PostgreSQL, and some issues are made to
// fail after taking their number (a period lock the ledger refuses): the
// numbers of the issued invoices are exactly 1..N, no gap and no twin,
// and every issued invoice's entry is posted with its number as reference.
func TestGaplessNumbersUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	e := setup(t, 40)
	c := must(e.store.CreateContact(ctx, e.a, ContactInput{Kind: "customer", Name: "Duka La Mama", KRAPIN: "p051 234 567x"}))
	if c.KRAPIN != "P051234567X" {
		t.Errorf("KRA PIN stored as %q", c.KRAPIN)
	}
	const workers, each = 32, 4
	type job struct {
		id   string
		fail bool
	}
	var jobs []job
	for i := range workers * each {
		// Every fifth draft is dated into a locked period: its issue takes
		// a number, then the ledger refuses the posting and the whole
		// transaction, number included, rolls back.
		date := "2026-03-10"
		if i%5 == 4 {
			date = "2025-12-31"
		}
		d := must(e.store.CreateDraft(ctx, e.a, KindInvoice, DocumentInput{ContactID: c.ID.String(), IssueDate: date,
			Lines: []LineInput{{Description: "Sugar 1kg", Quantity: "2", UnitPrice: "150.00", TaxCode: "VAT16"}}}, clerk))
		jobs = append(jobs, job{d.ID.String(), i%5 == 4})
	}
	if err := tenancyExec(ctx, e, `UPDATE ledger_settings SET lock_date = '2026-01-31'`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var numbers []string
	errs := make(chan error, len(jobs))
	next := make(chan job)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				d, err := e.store.Issue(ctx, e.a, KindInvoice, mustUUID(j.id), clerk)
				switch {
				case j.fail && err == nil:
					errs <- fmt.Errorf("%s in a locked period was issued as %s", j.id, d.Number)
				case !j.fail && err != nil:
					errs <- fmt.Errorf("issue %s: %w", j.id, err)
				case err == nil:
					mu.Lock()
					numbers = append(numbers, d.Number)
					mu.Unlock()
				}
			}
		}()
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	sort.Strings(numbers)
	want := len(jobs) - len(jobs)/5
	if len(numbers) != want {
		t.Fatalf("%d invoices issued, want %d", len(numbers), want)
	}
	for i, n := range numbers {
		if w := DocumentNumber("INV", 2026, int64(i+1)); n != w {
			t.Fatalf("number %d is %s, want %s (gap or twin): %v", i+1, n, w, numbers)
		}
	}
	// Every issued invoice has its posted entry, referenced by number.
	err := e.store.inTx(ctx, e.a, func(tx pgx.Tx) error {
		var issued, posted int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM invoices WHERE status = 'issued'`).Scan(&issued); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM invoices d JOIN journal_entries j ON j.id = d.entry_id
			WHERE j.status = 'posted' AND j.reference = d.number AND j.source = 'invoice' AND j.source_id = d.id`).Scan(&posted); err != nil {
			return err
		}
		if issued != want || posted != want {
			t.Errorf("%d issued, %d with their posted entry; want %d", issued, posted, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
