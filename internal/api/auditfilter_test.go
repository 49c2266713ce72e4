package api

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/vanta-ledger/vanta/internal/audit"
)

// TestAuditFilter: the audit listings' query parameters become the
// store's filter (a date is its whole UTC day, to includes the instant it
// names), and every bad value is a 400 validation_failed naming its
// parameter.
func TestAuditFilter(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	good := []struct {
		query string
		want  audit.Filter
	}{
		{"", audit.Filter{}},
		{"actor=user/1&action=company.&outcome=denied", audit.Filter{Actor: "user/1", Action: "company.", Outcome: "denied"}},
		{"outcome=bad_password", audit.Filter{Outcome: "bad_password"}},
		{"from=2026-03-01&to=2026-03-31", audit.Filter{From: at("2026-03-01T00:00:00Z"), Until: at("2026-04-01T00:00:00Z")}},
		{"from=2026-03-01&to=2026-03-01", audit.Filter{From: at("2026-03-01T00:00:00Z"), Until: at("2026-03-02T00:00:00Z")}},
		{"from=2026-03-01T09:00:00%2B03:00&to=2026-03-01T06:00:00Z", audit.Filter{From: at("2026-03-01T06:00:00Z"), Until: at("2026-03-01T06:00:00.000001Z")}},
		{"to=2026-03-31T23:59:59.999999999Z", audit.Filter{Until: at("2026-04-01T00:00:00Z")}},
	}
	for _, tc := range good {
		f, err := auditFilter(testContext("/?" + tc.query))
		if err != nil || !f.From.Equal(tc.want.From) || !f.Until.Equal(tc.want.Until) ||
			f.Actor != tc.want.Actor || f.Action != tc.want.Action || f.Outcome != tc.want.Outcome {
			t.Errorf("%q: %+v, %v; want %+v", tc.query, f, err, tc.want)
		}
	}
	bad := []struct{ query, field string }{
		{"actor=" + strings.Repeat("a", maxAuditFilterLen+1), "actor"},
		{"actor=user%00/1", "actor"},
		{"actor=%ff", "actor"},
		{"action=" + strings.Repeat("a", maxAuditFilterLen+1), "action"},
		{"action=company.%00", "action"},
		{"outcome=refused", "outcome"},
		{"outcome=OK", "outcome"},
		{"from=yesterday", "from"},
		{"from=2026-02-30", "from"},
		{"from=2026-03-01T25:00:00Z", "from"},
		{"to=2026-03-01T09:00:00", "to"}, // an instant needs its offset
		{"to=1772323200", "to"},
		{"from=2026-03-02&to=2026-03-01", "to"},
		{"from=2026-03-01T10:00:00Z&to=2026-03-01T09:59:59Z", "to"},
	}
	for _, tc := range bad {
		_, err := auditFilter(testContext("/?" + tc.query))
		var ae *apiError
		if !errors.As(err, &ae) || ae.status != 400 || ae.code != "validation_failed" || ae.field != tc.field {
			t.Errorf("%q: %v, want a 400 validation_failed naming %s", tc.query, err, tc.field)
		}
	}
}

func testContext(target string) *gin.Context {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest("GET", target, nil)
	return c
}
