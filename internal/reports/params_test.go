package reports

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestParseParams(t *testing.T) {
	today := time.Date(2026, 5, 17, 15, 4, 0, 0, time.UTC)
	p, err := ParseParams(url.Values{}, today)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.AsOf.Format(dateLayout); got != "2026-05-17" {
		t.Errorf("default as_of %s, want today", got)
	}
	if p.From.Format(dateLayout) != "2026-01-01" || p.To.Format(dateLayout) != "2026-05-17" {
		t.Errorf("default period %s..%s, want the year to date", p.From, p.To)
	}
	if p.Limit != DefaultLimit {
		t.Errorf("default limit %d", p.Limit)
	}
	p, err = ParseParams(url.Values{"to": {"2025-03-31"}, "account": {" 1100 "}, "all": {"true"}, "limit": {"5"}}, today)
	if err != nil {
		t.Fatal(err)
	}
	if p.From.Format(dateLayout) != "2025-01-01" || p.Account != "1100" || !p.All || p.Limit != 5 {
		t.Errorf("parsed %+v", p)
	}

	bad := []struct {
		q     url.Values
		field string
	}{
		{url.Values{"as_of": {"2026-02-30"}}, "as_of"},
		{url.Values{"as_of": {"yesterday"}}, "as_of"},
		{url.Values{"from": {"2026/01/01"}}, "from"},
		{url.Values{"to": {"31-01-2026"}}, "to"},
		{url.Values{"from": {"2026-02-01"}, "to": {"2026-01-31"}}, "from"},
		{url.Values{"all": {"maybe"}}, "all"},
		{url.Values{"limit": {"0"}}, "limit"},
		{url.Values{"limit": {"10001"}}, "limit"},
		{url.Values{"cursor": {"not-a-cursor"}}, "cursor"},
	}
	for _, b := range bad {
		_, err := ParseParams(b.q, today)
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Field != b.field {
			t.Errorf("%v: error %v, want a ParamError naming %s", b.q, err, b.field)
		}
	}
}

// TestCanonicalParams: the same report asked two ways has one cache key,
// and a different one another.
func TestCanonicalParams(t *testing.T) {
	today := time.Date(2026, 5, 17, 0, 0, 0, 0, time.UTC)
	a, _ := ParseParams(url.Values{}, today)
	b, _ := ParseParams(url.Values{"as_of": {"2026-05-17"}, "all": {"false"}}, today)
	if a.Canonical() != b.Canonical() {
		t.Errorf("defaults %q and explicit %q differ", a.Canonical(), b.Canonical())
	}
	c, _ := ParseParams(url.Values{"as_of": {"2026-05-16"}}, today)
	if a.Canonical() == c.Canonical() {
		t.Errorf("different days share the key %q", a.Canonical())
	}
}

func TestCursorRoundTrips(t *testing.T) {
	c := glCursor{date: time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC), number: 1234, lineNo: 3}
	got, err := decodeCursor(c.encode())
	if err != nil || got != c {
		t.Fatalf("decode(encode(%+v)) = %+v, %v", c, got, err)
	}
}

// TestAdapters: a domain's typed report on a day or over a period gets
// the parsed dates as the strings it takes, and its result as it is.
func TestAdapters(t *testing.T) {
	p, err := ParseParams(url.Values{"as_of": {"2026-03-31"}, "from": {"2026-01-01"}, "to": {"2026-03-31"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	type aged struct{ AsOf string }
	onDay := AsOf(func(_ context.Context, _ pgx.Tx, asOf string) (aged, Table, error) {
		return aged{asOf}, Table{Columns: []string{"as_of"}}, nil
	})
	v, tb, err := onDay(context.Background(), nil, p)
	if err != nil || v.(aged).AsOf != "2026-03-31" || tb.Columns[0] != "as_of" {
		t.Errorf("AsOf: %v %v %v", v, tb, err)
	}
	over := Period(func(_ context.Context, _ pgx.Tx, from, to string) (string, Table, error) {
		return from + ".." + to, Table{}, nil
	})
	if v, _, err := over(context.Background(), nil, p); err != nil || v != "2026-01-01..2026-03-31" {
		t.Errorf("Period: %v %v", v, err)
	}
	failing := Period(func(context.Context, pgx.Tx, string, string) (string, Table, error) {
		return "partial", Table{}, &ParamError{Field: "to", Message: "no"}
	})
	if v, _, err := failing(context.Background(), nil, p); v != nil || err == nil {
		t.Errorf("a failing report gave %v, %v", v, err)
	}
}
