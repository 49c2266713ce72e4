package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestGroupCommitSharesTransactions posts from many goroutines at once
// through one GroupCommit, valid entries mixed with refused ones and a
// key sent twice: every valid post gets its own entry and number, every
// refused one its own rule, the replay the first entry; a function that
// fails after its write fails only its own post and leaves nothing; the
// numbers are 1..N (so no refused or failed post left a row) and Verify
// passes.
func TestGroupCommitSharesTransactions(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	var g GroupCommit
	const workers, each = 16, 20
	type result struct {
		entry    Entry
		replayed bool
		err      error
		bad      bool
		hookFail bool
	}
	errHook := errors.New("hook refused")
	var mu sync.Mutex
	var results []result
	hooked := map[string]int{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				in := EntryInput{Date: "2026-03-01", Status: StatusPosted, Lines: []LineInput{kes("1200", 1000), kes("4000", -1000)}}
				bad := i%7 == 3
				if bad {
					in.Lines[1].Amount = -999 // unbalanced: refused in Go
				}
				if w < 2 && i == 0 {
					in.IdempotencyKey = "twice" // the same request from two workers
				}
				hookFail := w == 3 && i == 5
				var entry Entry
				var replayed bool
				err := g.InTx(ctx, e.app, e.a, func(tx pgx.Tx) error {
					var err error
					if entry, replayed, err = Post(ctx, tx, in, tester); err != nil {
						return err
					}
					if hookFail {
						return errHook // after a write: the group must not commit it
					}
					if !replayed {
						mu.Lock()
						hooked[entry.ID.String()]++
						mu.Unlock()
					}
					return nil
				})
				mu.Lock()
				results = append(results, result{entry, replayed, err, bad, hookFail})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var numbers []int64
	replays := 0
	for _, r := range results {
		var re *RuleError
		switch {
		case r.bad:
			if !errors.As(r.err, &re) || re.Rule != RuleUnbalanced {
				t.Errorf("unbalanced post: %v, want rule unbalanced", r.err)
			}
		case r.hookFail:
			if !errors.Is(r.err, errHook) {
				t.Errorf("post whose hook fails: %v", r.err)
			}
		case r.err != nil:
			t.Errorf("valid post: %v", r.err)
		case r.replayed:
			replays++
		default:
			numbers = append(numbers, r.entry.Number)
			if hooked[r.entry.ID.String()] != 1 {
				t.Errorf("entry %d: after-hook ran %d times", r.entry.Number, hooked[r.entry.ID.String()])
			}
		}
	}
	if replays != 1 {
		t.Errorf("%d replays of the key sent twice, want 1", replays)
	}
	slices.Sort(numbers)
	for i, n := range numbers {
		if n != int64(i+1) {
			t.Fatalf("numbers %v are not 1..%d", numbers, len(numbers))
		}
	}
	err := e.in(e.a, func(tx pgx.Tx) error {
		rep, err := Verify(ctx, tx)
		if err != nil {
			return err
		}
		if !rep.OK || rep.Head != int64(len(numbers)) {
			return fmt.Errorf("verify: %+v", rep)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
