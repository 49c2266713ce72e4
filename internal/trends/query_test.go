package trends

import (
	"errors"
	"net/url"
	"testing"
	"time"
)

// TestParseQuery: defaults, and each wrong parameter named.
func TestParseQuery(t *testing.T) {
	now := t0
	q, err := ParseQuery(url.Values{"series": {"disk_used_percent"}, "label": {"path=/var/lib/vanta"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if q.Step != StepMinute || !q.To.Equal(now) || !q.From.Equal(now.Add(-24*time.Hour)) || q.Labels["path"] != "/var/lib/vanta" {
		t.Errorf("defaults: %+v", q)
	}
	q, err = ParseQuery(url.Values{"series": {"host_cpu_percent"}, "step": {"hour"}, "to": {"2026-02-01T00:00:00+03:00"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	to := time.Date(2026, 1, 31, 21, 0, 0, 0, time.UTC)
	if q.Step != StepHour || !q.To.Equal(to) || !q.From.Equal(to.Add(-7*24*time.Hour)) || q.Labels != nil {
		t.Errorf("hours: %+v", q)
	}
	for _, c := range []struct {
		name  string
		q     url.Values
		field string
	}{
		{"no series", url.Values{}, "series"},
		{"a series that is no name", url.Values{"series": {"DROP TABLE"}}, "series"},
		{"a step of days", url.Values{"series": {"x"}, "step": {"day"}}, "step"},
		{"a from that is no time", url.Values{"series": {"x"}, "from": {"yesterday"}}, "from"},
		{"a to that is no time", url.Values{"series": {"x"}, "to": {"2026-13-01T00:00:00Z"}}, "to"},
		{"from after to", url.Values{"series": {"x"}, "from": {"2026-03-02T00:00:00Z"}, "to": {"2026-03-01T00:00:00Z"}}, "from"},
		{"a label without a value", url.Values{"series": {"x"}, "label": {"path"}}, "label"},
		{"a label name that is no name", url.Values{"series": {"x"}, "label": {"Path=/"}}, "label"},
		{"a label twice", url.Values{"series": {"x"}, "label": {"path=/a", "path=/b"}}, "label"},
	} {
		_, err := ParseQuery(c.q, now)
		pe, ok := errors.AsType[*ParamError](err)
		if !ok || pe.Field != c.field {
			t.Errorf("%s: %v, want a ParamError naming %s", c.name, err, c.field)
		}
	}
}
