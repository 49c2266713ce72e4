package documents

import (
	"context"
	"testing"
)

// TestCountByStatus counts one company's documents by status, every
// status present, and nothing of another company's.
func TestCountByStatus(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	text := &fakeText{texts: map[string]string{"doc-done": "Receipt from Mombasa Cement Ltd, total 1,053.52"}}
	p := Pipeline{Store: e.store, Text: text.read, Extractor: &fakeExtractor{x: goodReceipt()}}
	done := intake(t, e, e.a, "doc-done")
	if err := p.Process(ctx, e.a, done.ID); err != nil {
		t.Fatal(err)
	}
	intake(t, e, e.a, "doc-waiting")
	processed, err := e.store.Get(ctx, e.a, done.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[Status]int64{StatusQueued: 1, processed.Status: 1}
	got, err := e.store.CountByStatus(ctx, e.a)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range Statuses {
		if got[st] != want[st] {
			t.Errorf("A %s: %d, want %d", st, got[st], want[st])
		}
	}
	if len(got) != len(Statuses) {
		t.Errorf("A: %d statuses, want all %d", len(got), len(Statuses))
	}
	b, err := e.store.CountByStatus(ctx, e.b)
	if err != nil {
		t.Fatal(err)
	}
	for st, n := range b {
		if n != 0 {
			t.Errorf("B %s: %d, want 0", st, n)
		}
	}
}
