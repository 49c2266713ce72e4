package ledger

import (
	"context"
	"testing"
)

// TestPostedCount counts posted entries, not drafts, per company.
func TestPostedCount(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	st := Store{DB: e.app}
	lines := []TextLine{{Account: "1100", Debit: "1.00"}, {Account: "3000", Credit: "1.00"}}
	for _, status := range []Status{StatusPosted, StatusPosted, StatusDraft} {
		if _, _, err := st.Post(ctx, e.a, TextEntry{Date: "2026-04-02", Status: status, Lines: lines}, tester); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		n    int64
		got  func() (int64, error)
	}{
		{"A", 2, func() (int64, error) { return st.PostedCount(ctx, e.a) }},
		{"B", 0, func() (int64, error) { return st.PostedCount(ctx, e.b) }},
	} {
		n, err := c.got()
		if err != nil || n != c.n {
			t.Errorf("%s: %d, %v; want %d", c.name, n, err, c.n)
		}
	}
}
