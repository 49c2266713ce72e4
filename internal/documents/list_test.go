package documents

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/uuid"
)

func TestListSearchAndPaging(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	texts := map[string]string{
		"doc-mombasa": "Receipt from Mombasa Cement Ltd, total 1,053.52",
		"doc-nairobi": "Invoice: Nairobi Office Supplies, toner and paper",
		"doc-both":    "Delivery note Mombasa to Nairobi, paper",
	}
	text := &fakeText{texts: texts}
	p := Pipeline{Store: e.store, Text: text.read, Extractor: &fakeExtractor{x: goodReceipt()}}
	ids := map[string]uuid.UUID{}
	for _, m := range []string{"doc-mombasa", "doc-nairobi", "doc-both"} {
		d := intake(t, e, e.a, m)
		ids[m] = d.ID
		if err := p.Process(ctx, e.a, d.ID); err != nil {
			t.Fatal(err)
		}
	}
	queued := intake(t, e, e.a, "doc-unprocessed")
	// Company B has a document with the same words: A never sees it, and B
	// never sees A's.
	bText := &fakeText{texts: map[string]string{"doc-b": "Mombasa Nairobi paper"}}
	bDoc := intake(t, e, e.b, "doc-b")
	if err := (Pipeline{Store: e.store, Text: bText.read, Extractor: &fakeExtractor{x: goodReceipt()}}).Process(ctx, e.b, bDoc.ID); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		sc   func() Filter
		want []uuid.UUID
	}{
		{"one word", func() Filter { return Filter{Q: "mombasa"} }, []uuid.UUID{ids["doc-both"], ids["doc-mombasa"]}},
		{"case and punctuation folded", func() Filter { return Filter{Q: "CEMENT,"} }, []uuid.UUID{ids["doc-mombasa"]}},
		{"every word must match", func() Filter { return Filter{Q: "nairobi paper mombasa"} }, []uuid.UUID{ids["doc-both"]}},
		{"a word of an amount", func() Filter { return Filter{Q: "1,053.52"} }, []uuid.UUID{ids["doc-mombasa"]}},
		{"no match", func() Filter { return Filter{Q: "kisumu"} }, nil},
		{"by status", func() Filter { return Filter{Status: StatusQueued} }, []uuid.UUID{queued.ID}},
		{"status and words", func() Filter { return Filter{Status: StatusDone, Q: "paper"} }, []uuid.UUID{ids["doc-both"], ids["doc-nairobi"]}},
		{"all, newest first", func() Filter { return Filter{} }, []uuid.UUID{queued.ID, ids["doc-both"], ids["doc-nairobi"], ids["doc-mombasa"]}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			docs, next, err := e.store.List(ctx, e.a, c.sc())
			if err != nil {
				t.Fatal(err)
			}
			var got []uuid.UUID
			for _, d := range docs {
				got = append(got, d.ID)
				if d.ID == bDoc.ID {
					t.Fatal("company A lists B's document")
				}
			}
			if !slices.Equal(got, c.want) || next != "" {
				t.Fatalf("got %v (next %q), want %v", got, next, c.want)
			}
		})
	}
	if docs, _, err := e.store.List(ctx, e.b, Filter{Q: "cement"}); err != nil || len(docs) != 0 {
		t.Fatalf("company B finds A's words: %v %v", docs, err)
	}

	t.Run("pages", func(t *testing.T) {
		var all []uuid.UUID
		cursor := ""
		for page := 0; ; page++ {
			docs, next, err := e.store.List(ctx, e.a, Filter{Limit: 3, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range docs {
				all = append(all, d.ID)
			}
			if next == "" {
				break
			}
			if page > 5 {
				t.Fatal("paging does not end")
			}
			cursor = next
		}
		want := []uuid.UUID{queued.ID, ids["doc-both"], ids["doc-nairobi"], ids["doc-mombasa"]}
		if !slices.Equal(all, want) {
			t.Fatalf("pages gave %v, want %v", all, want)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		for _, f := range []Filter{{Cursor: "not-a-cursor"}, {Cursor: "bm9wZQ"}} {
			if _, _, err := e.store.List(ctx, e.a, f); !errors.Is(err, ErrBadCursor) {
				t.Fatalf("cursor %q: %v", f.Cursor, err)
			}
		}
		var fe *FieldError
		if _, _, err := e.store.List(ctx, e.a, Filter{Status: "shredded"}); !errors.As(err, &fe) || fe.Field != "status" {
			t.Fatalf("bad status: %v", err)
		}
	})
}

// Limits: default 50, at most 1000.
func TestListLimits(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	for i := 0; i < DefaultLimit+1; i++ {
		intake(t, e, e.a, fmt.Sprintf("limit-%d", i))
	}
	docs, next, err := e.store.List(ctx, e.a, Filter{})
	if err != nil || len(docs) != DefaultLimit || next == "" {
		t.Fatalf("default page: %d documents, next %q, %v", len(docs), next, err)
	}
	docs, next, err = e.store.List(ctx, e.a, Filter{Limit: MaxLimit + 5})
	if err != nil || len(docs) != DefaultLimit+1 || next != "" {
		t.Fatalf("large limit: %d documents, next %q, %v", len(docs), next, err)
	}
}
