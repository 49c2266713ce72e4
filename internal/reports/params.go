package reports

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Func is a report: it reads the books inside the company's transaction
// and returns the value its JSON answer is made of and the same report
// laid out for CSV. Every report, these and the invoicing domain's aged
// and VAT reports, has this shape so that one wrapper (Runner.Run and the
// API's report handler) caches and serves them all.
type Func func(ctx context.Context, tx pgx.Tx, p Params) (any, Table, error)

// Limits of the general ledger's pages.
const (
	DefaultLimit = 1000
	MaxLimit     = 10000
)

const dateLayout = "2006-01-02"

// Params are the query parameters reports take, parsed and checked once;
// each report reads the ones it needs. Dates are days (UTC midnight).
type Params struct {
	AsOf    time.Time // as_of: the last day counted; default today
	From    time.Time // from: first day of a period; default 1 January of To's year
	To      time.Time // to: last day of a period; default today
	Account string    // account: an account code (general ledger)
	All     bool      // all: list accounts without postings too
	Limit   int       // limit: lines per page (general ledger)
	Cursor  string    // cursor: where the previous page ended
}

// ParamError is a query parameter that cannot be used: the API answers
// 400 naming Field.
type ParamError struct {
	Field   string
	Message string
}

func (e *ParamError) Error() string { return e.Field + ": " + e.Message }

func paramError(field, format string, args ...any) *ParamError {
	return &ParamError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// ParseParams reads a report's query parameters; today gives the default
// dates. Parameters reports do not know are left to the caller (format).
func ParseParams(q url.Values, today time.Time) (Params, error) {
	today = day(today)
	p := Params{AsOf: today, To: today, Limit: DefaultLimit}
	date := func(field string, into *time.Time) error {
		v := q.Get(field)
		if v == "" {
			return nil
		}
		d, err := time.Parse(dateLayout, v)
		if err != nil {
			return paramError(field, "%q is not a date (YYYY-MM-DD)", v)
		}
		*into = d
		return nil
	}
	for _, f := range []struct {
		name string
		into *time.Time
	}{{"as_of", &p.AsOf}, {"to", &p.To}, {"from", &p.From}} {
		if err := date(f.name, f.into); err != nil {
			return Params{}, err
		}
	}
	if p.From.IsZero() {
		p.From = time.Date(p.To.Year(), time.January, 1, 0, 0, 0, 0, time.UTC)
	}
	if p.From.After(p.To) {
		return Params{}, paramError("from", "%s is after to (%s)", p.From.Format(dateLayout), p.To.Format(dateLayout))
	}
	p.Account = strings.TrimSpace(q.Get("account"))
	if len(p.Account) > 200 {
		return Params{}, paramError("account", "too long")
	}
	if v := q.Get("all"); v != "" {
		all, err := strconv.ParseBool(v)
		if err != nil {
			return Params{}, paramError("all", "%q is not true or false", v)
		}
		p.All = all
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			return Params{}, paramError("limit", "must be a whole number from 1 to %d", MaxLimit)
		}
		p.Limit = n
	}
	p.Cursor = q.Get("cursor")
	if p.Cursor != "" {
		if _, err := decodeCursor(p.Cursor); err != nil {
			return Params{}, err
		}
	}
	return p, nil
}

// Canonical is the parameters as a stable string, the last part of a
// report's cache key: two requests that mean the same report share it.
func (p Params) Canonical() string {
	v := url.Values{}
	v.Set("as_of", p.AsOf.Format(dateLayout))
	v.Set("from", p.From.Format(dateLayout))
	v.Set("to", p.To.Format(dateLayout))
	v.Set("account", p.Account)
	v.Set("all", strconv.FormatBool(p.All))
	v.Set("limit", strconv.Itoa(p.Limit))
	v.Set("cursor", p.Cursor)
	return v.Encode() // sorted by key
}

func day(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}
