package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/auth"
	secevents "github.com/vanta-ledger/vanta/internal/security"
)

// Security events (internal/security): the API records them through
// Deps.Security, which never waits for the database, and GOD reads them
// at /sys/security-events (a company's admins, their company's own).

// securityEvent is one event as the API answers it.
type securityEvent struct {
	ID        int64          `json:"id"`
	Time      time.Time      `json:"time"`
	Kind      string         `json:"kind"`
	CompanyID *uuid.UUID     `json:"company_id"`
	UserID    *uuid.UUID     `json:"user_id"`
	IP        string         `json:"ip"`
	Details   map[string]any `json:"details"`
}

// securityCount is the events of one kind of one company (null: the
// appliance's own).
type securityCount struct {
	CompanyID *uuid.UUID `json:"company_id"`
	Kind      string     `json:"kind"`
	Count     int64      `json:"count"`
	Last24h   int64      `json:"last_24h"`
	LastTime  time.Time  `json:"last_time"`
}

type securitySummary struct {
	Items []securityCount `json:"items"`
}

func nullableID(n uuid.NullUUID) *uuid.UUID {
	if !n.Valid {
		return nil
	}
	id := n.UUID
	return &id
}

// securityEventsParams are the sys listing's filters, for the document.
var securityEventsParams = []queryParam{
	{name: "kind", description: "only events of this kind", schema: gin.H{"type": "string", "enum": securityKinds()}},
	{name: "company_id", description: "only events of this company", schema: gin.H{"type": "string", "format": "uuid"}},
}

func securityKinds() []string {
	out := make([]string, len(secevents.Kinds))
	for i, k := range secevents.Kinds {
		out[i] = string(k)
	}
	return out
}

// securityFilter reads ?kind=, ?limit= and ?cursor=.
func securityFilter(c *gin.Context) (secevents.Filter, error) {
	limit, cursor, err := page(c)
	if err != nil {
		return secevents.Filter{}, err
	}
	before, err := secevents.ParseCursor(cursor)
	if err != nil {
		return secevents.Filter{}, err
	}
	f := secevents.Filter{Kind: secevents.Kind(c.Query("kind")), Limit: limit, Before: before}
	if f.Kind != "" && !f.Kind.Valid() {
		return f, secevents.ErrUnknownKind
	}
	return f, nil
}

func (s *server) securityStore() (secevents.Store, error) {
	if s.Security == nil {
		return secevents.Store{}, errStarting
	}
	return s.Security.Store()
}

func answerEvents(c *gin.Context, evs []secevents.Event, next int64) {
	items := make([]securityEvent, len(evs))
	for i, e := range evs {
		items[i] = securityEvent{ID: e.ID, Time: e.Time, Kind: string(e.Kind), CompanyID: nullableID(e.CompanyID), UserID: nullableID(e.UserID), IP: e.IP, Details: e.Details}
	}
	cursor := ""
	if next > 0 {
		cursor = nextCursor(strconv.FormatInt(next, 10))
	}
	c.JSON(http.StatusOK, listPage[securityEvent]{Items: items, NextCursor: cursor})
}

// listSecurityEvents is GOD's listing of every event.
func (s *server) listSecurityEvents(c *gin.Context) error {
	f, err := securityFilter(c)
	if err != nil {
		return err
	}
	if v := c.Query("company_id"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			return badRequest("validation_failed", "company_id must be a company's id (a UUID)", "company_id")
		}
		f.Company = uuid.NullUUID{UUID: id, Valid: true}
	}
	st, err := s.securityStore()
	if err != nil {
		return err
	}
	evs, next, err := st.List(c.Request.Context(), f)
	if err != nil {
		return err
	}
	answerEvents(c, evs, next)
	return nil
}

// securitySummary counts the events kept per company and kind.
func (s *server) securitySummary(c *gin.Context) error {
	st, err := s.securityStore()
	if err != nil {
		return err
	}
	counts, err := st.Summary(c.Request.Context(), time.Now())
	if err != nil {
		return err
	}
	out := securitySummary{Items: make([]securityCount, len(counts))}
	for i, n := range counts {
		out.Items[i] = securityCount{CompanyID: nullableID(n.CompanyID), Kind: string(n.Kind), Count: n.Count, Last24h: n.Last24h, LastTime: n.Last}
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// listCompanySecurityEvents is a company's own events, for its admins.
func (s *server) listCompanySecurityEvents(c *gin.Context) error {
	f, err := securityFilter(c)
	if err != nil {
		return err
	}
	st, err := s.securityStore()
	if err != nil {
		return err
	}
	evs, next, err := st.ListCompany(c.Request.Context(), scope(c), f)
	if err != nil {
		return err
	}
	answerEvents(c, evs, next)
	return nil
}

// Refusal reasons of a sign-in that count as a failed attempt: a wrong
// secret, or an attempt while held. A right password sent without its
// code (totp_required) is how a sign-in form learns to ask for one.
var failedSignIn = map[string]bool{
	auth.ReasonBadPassword: true, auth.ReasonUnknownEmail: true, auth.ReasonBadTOTP: true,
	auth.ReasonTOTPReplayed: true, auth.ReasonLockedOut: true,
}

// noteSignIn records a refused sign-in (login or password change) as a
// security event, and the lockout it engaged.
func (s *server) noteSignIn(c *gin.Context, err error) {
	var ae *auth.AttemptError
	if !errors.As(err, &ae) {
		return
	}
	if failedSignIn[ae.Reason] {
		s.Security.LoginFailed(ae.UserID, ip(c), ae.Reason)
	}
	if ae.Engaged {
		s.logger.Warn("security", "event", "lockout", "ip", ip(c), "failures", ae.Failures)
		s.Security.Lockout(ae.UserID, ip(c), map[string]any{"op": ae.Op,
			"failures_pair": ae.Failures.Pair, "failures_ip": ae.Failures.IP, "failures_account": ae.Failures.Account})
	}
}
