package trends

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// ParamError is a history query parameter that is missing or wrong; Field
// names it.
type ParamError struct {
	Field   string
	Message string
}

func (e *ParamError) Error() string { return e.Field + ": " + e.Message }

// Query is one history request.
type Query struct {
	Series string
	Labels map[string]string
	Step   Step
	From   time.Time
	To     time.Time
}

// Default ranges when from is left out: the last day of minutes, the last
// week of hours.
const (
	defaultMinuteRange = 24 * time.Hour
	defaultHourRange   = 7 * 24 * time.Hour
)

// ParseQuery reads a history request's parameters: series (required),
// label (repeated, name=value), step (minute or hour, default minute),
// from and to (RFC 3339; default: to now, from a day of minutes or a week
// of hours before to). now gives the defaults.
func ParseQuery(q url.Values, now time.Time) (Query, error) {
	out := Query{Series: q.Get("series"), Step: StepMinute, To: now.UTC()}
	if out.Series == "" {
		return out, &ParamError{Field: "series", Message: "required (GET /api/v1/sys/metrics/series lists them)"}
	}
	if !nameRE.MatchString(out.Series) {
		return out, &ParamError{Field: "series", Message: fmt.Sprintf("%q is not a series name (snake_case)", out.Series)}
	}
	for _, l := range q["label"] {
		name, value, ok := strings.Cut(l, "=")
		if !ok || !nameRE.MatchString(name) {
			return out, &ParamError{Field: "label", Message: fmt.Sprintf("%q is not name=value with a snake_case name", l)}
		}
		if out.Labels == nil {
			out.Labels = map[string]string{}
		}
		if _, dup := out.Labels[name]; dup {
			return out, &ParamError{Field: "label", Message: fmt.Sprintf("label %s given twice", name)}
		}
		out.Labels[name] = value
	}
	if _, err := SeriesKey(out.Series, out.Labels); err != nil {
		msg := err.Error()
		if ise, ok := errors.AsType[*InvalidSeriesError](err); ok {
			msg = ise.Reason
		}
		return out, &ParamError{Field: "label", Message: msg}
	}
	switch s := Step(q.Get("step")); s {
	case "":
	case StepMinute, StepHour:
		out.Step = s
	default:
		return out, &ParamError{Field: "step", Message: fmt.Sprintf("%q is not minute or hour", s)}
	}
	parse := func(field string, into *time.Time) error {
		v := q.Get(field)
		if v == "" {
			return nil
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return &ParamError{Field: field, Message: fmt.Sprintf("%q is not an RFC 3339 time (2026-01-31T12:00:00Z)", v)}
		}
		*into = t.UTC()
		return nil
	}
	if err := parse("to", &out.To); err != nil {
		return out, err
	}
	out.From = out.To.Add(-defaultMinuteRange)
	if out.Step == StepHour {
		out.From = out.To.Add(-defaultHourRange)
	}
	if err := parse("from", &out.From); err != nil {
		return out, err
	}
	if out.From.After(out.To) {
		return out, &ParamError{Field: "from", Message: "is after to"}
	}
	return out, nil
}

// Run answers the query from the store.
func (s Store) Run(ctx context.Context, q Query) ([]Point, error) {
	return s.History(ctx, q.Series, q.Labels, q.Step, q.From, q.To)
}
