package api

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/vanta-ledger/vanta/internal/audit"
	"github.com/vanta-ledger/vanta/internal/auth"
)

// auditOutcomes is every outcome a record can carry: "ok", "denied" (a
// refused request, see recordDenial) and the reasons the identity service
// records for a refused sign-in or refresh. A filter on another value
// could only ever answer nothing, so it is refused as a typo would be.
var auditOutcomes = []string{
	"ok", "denied",
	auth.ReasonLockedOut, auth.ReasonUnavailable, auth.ReasonUnknownEmail, auth.ReasonBadPassword,
	auth.ReasonDisabled, auth.ReasonGODNetwork, auth.ReasonTOTPRequired, auth.ReasonBadTOTP,
	auth.ReasonTOTPReplayed, auth.ReasonRefreshReuse, auth.ReasonRefreshBad, auth.ReasonRefreshExpiry,
	auth.ReasonMustChange, auth.ReasonInvalidInput,
}

// maxAuditFilterLen bounds actor and action: longer than any stored value
// (an actor is "user/<uuid>", an action a few dotted words), short enough
// that a filter costs nothing to compare.
const maxAuditFilterLen = 200

// auditFilterParams are the query parameters of the audit listings, for
// the OpenAPI document; auditFilter reads them.
var auditFilterParams = []queryParam{
	{name: "actor", description: "only records by this user, given as user/<id> or <id> (records name it either way)",
		schema: gin.H{"type": "string", "maxLength": maxAuditFilterLen}},
	{name: "action", description: "only records of this action; a value ending in a dot is a prefix (company. matches company.create and company.update)",
		schema: gin.H{"type": "string", "maxLength": maxAuditFilterLen}},
	{name: "outcome", description: "only records with this outcome",
		schema: gin.H{"type": "string", "enum": auditOutcomes}},
	{name: "from", description: "only records at or after this instant (RFC 3339) or the start of this day (YYYY-MM-DD, UTC)",
		schema: gin.H{"type": "string", "examples": []string{"2026-03-01", "2026-03-01T09:00:00+03:00"}}},
	{name: "to", description: "only records at or before this instant (RFC 3339) or the end of this day (YYYY-MM-DD, UTC); not before from",
		schema: gin.H{"type": "string", "examples": []string{"2026-03-31", "2026-03-31T18:00:00+03:00"}}},
}

// auditFilterNote tells how the filters and the cursor go together.
const auditFilterNote = "The filters combine: a record is listed when it passes every one given. next_cursor is a position in the chain; " +
	"send it with the same filters to continue the same listing (with other filters it continues from that position under those)."

// auditFilter reads the filters of an audit listing. Each bad value is a
// 400 naming its parameter, before anything is read.
func auditFilter(c *gin.Context) (audit.Filter, error) {
	var f audit.Filter
	for _, p := range []struct {
		name string
		to   *string
	}{{"actor", &f.Actor}, {"action", &f.Action}} {
		v := c.Query(p.name)
		if len(v) > maxAuditFilterLen || !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			return audit.Filter{}, badRequest("validation_failed",
				fmt.Sprintf("%s must be text of at most %d bytes without NUL", p.name, maxAuditFilterLen), p.name)
		}
		*p.to = v
	}
	if v := c.Query("outcome"); v != "" {
		if !slices.Contains(auditOutcomes, v) {
			return audit.Filter{}, badRequest("validation_failed", "outcome must be one of "+strings.Join(auditOutcomes, ", "), "outcome")
		}
		f.Outcome = v
	}
	var err error
	if f.From, err = auditTime(c, "from", false); err != nil {
		return audit.Filter{}, err
	}
	if f.Until, err = auditTime(c, "to", true); err != nil {
		return audit.Filter{}, err
	}
	if !f.From.IsZero() && !f.Until.IsZero() && !f.From.Before(f.Until) {
		return audit.Filter{}, badRequest("validation_failed", "to must not be before from", "to")
	}
	return f, nil
}

// auditTime reads from or to: an RFC 3339 instant, or a date meaning its
// UTC day. The store's range is [From, Until), so to, which includes what
// it names, becomes the instant after it: the next day for a date, the
// next microsecond (the precision records are stored with) for an instant.
func auditTime(c *gin.Context, name string, end bool) (time.Time, error) {
	v := c.Query(name)
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.Parse(time.DateOnly, v); err == nil {
		if end {
			d = d.AddDate(0, 0, 1)
		}
		return d, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil || t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, badRequest("validation_failed", name+" must be an RFC 3339 time (2026-03-01T09:00:00Z) or a date (2026-03-01)", name)
	}
	t = t.UTC().Truncate(time.Microsecond)
	if end {
		t = t.Add(time.Microsecond)
	}
	return t, nil
}
