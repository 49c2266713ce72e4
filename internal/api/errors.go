package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/auth"
	"github.com/vanta-ledger/vanta/internal/documents"
	"github.com/vanta-ledger/vanta/internal/interchange"
	"github.com/vanta-ledger/vanta/internal/invoicing"
	"github.com/vanta-ledger/vanta/internal/ledger"
	"github.com/vanta-ledger/vanta/internal/quota"
	"github.com/vanta-ledger/vanta/internal/reports"
	"github.com/vanta-ledger/vanta/internal/seal"
	secevents "github.com/vanta-ledger/vanta/internal/security"
	"github.com/vanta-ledger/vanta/internal/statements"
	"github.com/vanta-ledger/vanta/internal/tenancy"
	"github.com/vanta-ledger/vanta/internal/trends"
)

// This file is the one place where errors become HTTP answers. Handlers
// return errors (handle adapts them to gin); domain packages return typed
// or sentinel errors and know nothing of HTTP; statusOf maps them with
// one table; fail writes the answer, logs what the client must not see,
// and records refusals in the audit chains.

// apiError is an error whose message users may see: the status, code and
// message of API.md's error shape (what Tailscale's vizerror is to its
// handlers). Anything else a handler returns is mapped by statusOf, and
// an error it does not know is a 500 whose text only the log sees.
type apiError struct {
	status     int
	code       string
	message    string
	field      string
	retryAfter time.Duration // sent as Retry-After when set
}

func (e *apiError) Error() string { return e.message }

func badRequest(code, message, field string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, message: message, field: field}
}

func forbidden(message string) *apiError {
	return &apiError{status: http.StatusForbidden, code: "forbidden", message: message}
}

func notFound(message, field string) *apiError {
	return &apiError{status: http.StatusNotFound, code: "not_found", message: message, field: field}
}

// errAnswered is returned by a handler (or a gate it calls) that has
// written its answer already; fail leaves the response alone.
var errAnswered = errors.New("answered")

// handle adapts a handler that returns an error to gin: a nil error means
// the handler answered; any other goes to fail.
func (s *server) handle(h func(c *gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			s.fail(c, err)
		}
	}
}

// sentinel maps one sentinel error. The message is the error's own text
// (without its package's prefix) and hint, when set, adds where to go.
type sentinel struct {
	err     error
	status  int
	code    string
	field   string
	message string // replaces the error's text when set
	hint    string
}

// sentinels is the mapping of every sentinel error of the domain
// packages, in one table: API.md's status and code for each.
var sentinels = []sentinel{
	// identity (internal/auth)
	{err: auth.ErrGODExists, status: http.StatusConflict, code: "god_exists"},
	{err: auth.ErrEmailTaken, status: http.StatusConflict, code: "email_taken", field: "email",
		hint: "; invite them instead (POST /api/v1/companies/{cid}/invitations)"},
	{err: auth.ErrInvalidEmail, status: http.StatusBadRequest, code: "validation_failed", field: "email"},
	{err: auth.ErrInvalidName, status: http.StatusBadRequest, code: "validation_failed", field: "name"},
	{err: auth.ErrTOTPRequired, status: http.StatusUnauthorized, code: "totp_required", field: "totp"},
	{err: auth.ErrTOTPInvalid, status: http.StatusUnauthorized, code: "invalid_totp", field: "totp"},
	{err: auth.ErrTOTPReplayed, status: http.StatusUnauthorized, code: "invalid_totp", field: "totp"},
	{err: auth.ErrInvalidCredentials, status: http.StatusUnauthorized, code: "invalid_credentials"},
	{err: auth.ErrPasswordChangeRequired, status: http.StatusForbidden, code: "password_change_required", field: "password"},
	{err: auth.ErrResetInvalid, status: http.StatusBadRequest, code: "invalid_reset_token", field: "token"},
	{err: auth.ErrResetNeedsGOD, status: http.StatusForbidden, code: "forbidden"},
	{err: auth.ErrGODNetwork, status: http.StatusForbidden, code: "forbidden_network"},
	{err: auth.ErrRefreshInvalid, status: http.StatusUnauthorized, code: "invalid_refresh_token", field: "refresh_token"},
	{err: auth.ErrInvalidToken, status: http.StatusUnauthorized, code: "invalid_token"},
	{err: auth.ErrRevocationUnavailable, status: http.StatusServiceUnavailable, code: "unavailable"},
	{err: auth.ErrUserNotFound, status: http.StatusNotFound, code: "not_found"},
	{err: auth.ErrNotMember, status: http.StatusNotFound, code: "not_found"},
	{err: auth.ErrTOTPNotEnrolled, status: http.StatusConflict, code: "totp_not_enrolled",
		hint: "; the user enrols one at POST /api/v1/me/totp"},
	{err: auth.ErrNoPendingEnrolment, status: http.StatusConflict, code: "no_pending_enrolment"},
	{err: auth.ErrInvitationInvalid, status: http.StatusBadRequest, code: "invalid_invitation", field: "token"},
	{err: auth.ErrInvitationNotFound, status: http.StatusNotFound, code: "not_found"},
	{err: auth.ErrAlreadyMember, status: http.StatusConflict, code: "already_member", field: "email"},
	{err: auth.ErrGODImmutable, status: http.StatusForbidden, code: "forbidden"},
	// the appliance
	{err: errStarting, status: http.StatusServiceUnavailable, code: "starting"},
	{err: appliance.ErrSetupTokenRequired, status: http.StatusUnauthorized, code: "setup_token_required"},
	// companies (internal/tenancy)
	{err: tenancy.ErrCompanyNotFound, status: http.StatusNotFound, code: "not_found", message: "no such company"},
	{err: tenancy.ErrTaxIDTaken, status: http.StatusConflict, code: "tax_id_taken", field: "tax_id",
		message: "another company already has this KRA PIN"},
	// security events (internal/security)
	{err: secevents.ErrUnknownKind, status: http.StatusBadRequest, code: "validation_failed", field: "kind",
		message: "kind must be one of login_failed, brute_force, lockout, cross_company_probe, unseal_failed, god_new_address, audit_verify_failed"},
	{err: secevents.ErrBadCursor, status: http.StatusBadRequest, code: "validation_failed", field: "cursor", message: "cursor is not one this API gave out"},
	{err: secevents.ErrNotOpen, status: http.StatusServiceUnavailable, code: "starting"},
	// the seal (internal/seal)
	{err: seal.ErrSealed, status: http.StatusServiceUnavailable, code: "sealed"},
	{err: seal.ErrNotInitialized, status: http.StatusConflict, code: "not_initialized"},
	{err: seal.ErrAlreadyInitialized, status: http.StatusConflict, code: "already_initialized"},
	{err: seal.ErrInitPending, status: http.StatusConflict, code: "confirmation_pending"},
	{err: seal.ErrNothingPending, status: http.StatusConflict, code: "nothing_pending"},
	{err: seal.ErrAlreadyUnsealed, status: http.StatusConflict, code: "already_unsealed"},
	{err: seal.ErrNoRekey, status: http.StatusConflict, code: "no_rekey"},
	{err: seal.ErrRekeyInProgress, status: http.StatusConflict, code: "rekey_in_progress"},
	{err: seal.ErrStaleNonce, status: http.StatusConflict, code: "stale_nonce"},
	{err: seal.ErrTokenInvalid, status: http.StatusUnauthorized, code: "invalid_token"},
	{err: seal.ErrCeremonyProof, status: http.StatusForbidden, code: "ceremony_proof_required"},
	{err: seal.ErrResetProof, status: http.StatusForbidden, code: "reset_not_allowed"},
	{err: seal.ErrRekeyNeedsGOD, status: http.StatusForbidden, code: "forbidden"},
	// the books (internal/ledger)
	{err: ledger.ErrNotFound, status: http.StatusNotFound, code: "not_found", message: "no such account or journal entry"},
	// invoicing (internal/invoicing): another company's contact, tax code,
	// document or payment is not found, as a missing one is.
	{err: invoicing.ErrNotFound, status: http.StatusNotFound, code: "not_found", message: "no such object"},
	// interchange (internal/interchange)
	{err: interchange.ErrNotFound, status: http.StatusNotFound, code: "not_found", message: "no such import"},
	{err: interchange.ErrStopping, status: http.StatusServiceUnavailable, code: "unavailable"},
	// documents (internal/documents): another company's document is not
	// found, as a missing one is.
	{err: documents.ErrNotFound, status: http.StatusNotFound, code: "not_found", message: "no such document"},
	// the metric history (internal/trends)
	{err: trends.ErrSeriesNotFound, status: http.StatusNotFound, code: "not_found", field: "series", message: "no such series with these labels",
		hint: "; GET /api/v1/sys/metrics/series lists them"},
}

// typedStatus maps the domain packages' typed errors, which carry the
// field or the retry time themselves.
func typedStatus(err error) *apiError {
	var locked auth.ErrLockedOut
	if errors.As(err, &locked) {
		return &apiError{status: http.StatusTooManyRequests, code: "locked_out", message: err.Error(), retryAfter: locked.RetryAfter}
	}
	var np *auth.NewPasswordError
	if errors.As(err, &np) {
		return &apiError{status: http.StatusBadRequest, code: "weak_password", message: np.Error(), field: "new_password"}
	}
	var ie *auth.InputError
	if errors.As(err, &ie) {
		return &apiError{status: http.StatusBadRequest, code: "validation_failed", message: strings.TrimPrefix(ie.Error(), "auth: "), field: ie.Field}
	}
	var pe *auth.PolicyError
	if errors.As(err, &pe) {
		return &apiError{status: http.StatusBadRequest, code: "weak_password", message: pe.Error(), field: "password"}
	}
	var tu *appliance.ToolUnavailableError
	if errors.As(err, &tu) {
		return &apiError{status: http.StatusServiceUnavailable, code: "tool_unavailable", retryAfter: 5 * time.Second,
			message: "the management tool " + tu.Tool + " is unavailable: " + tu.Reason}
	}
	if ae := uploadStatus(err); ae != nil {
		return ae
	}
	if ae := ledgerStatus(err); ae != nil {
		return ae
	}
	if ae := interchangeStatus(err); ae != nil {
		return ae
	}
	if ae := documentsStatus(err); ae != nil {
		return ae
	}
	var ve *tenancy.ValidationError
	if errors.As(err, &ve) {
		return &apiError{status: http.StatusBadRequest, code: "validation_failed", message: ve.Error(), field: ve.Field}
	}
	var tpe *trends.ParamError
	if errors.As(err, &tpe) {
		return &apiError{status: http.StatusBadRequest, code: "validation_failed", message: tpe.Message, field: tpe.Field}
	}
	var rpe *reports.ParamError
	if errors.As(err, &rpe) {
		return &apiError{status: http.StatusBadRequest, code: "validation_failed", message: rpe.Message, field: rpe.Field}
	}
	var fe *seal.FieldError
	if errors.As(err, &fe) {
		return &apiError{status: http.StatusBadRequest, code: "validation_failed", message: fe.Problem, field: fe.Field}
	}
	var se *seal.ShareError
	if errors.As(err, &se) {
		switch se.Kind {
		case seal.ShareMalformed:
			return &apiError{status: http.StatusBadRequest, code: "malformed_share", message: se.Error(), field: "share"}
		case seal.ShareUnknown:
			return &apiError{status: http.StatusBadRequest, code: "unknown_share", message: se.Error(), field: "share"}
		case seal.ShareDuplicate:
			return &apiError{status: http.StatusConflict, code: "duplicate_share", message: se.Error(), field: "share"}
		case seal.ShareWrongKey:
			return &apiError{status: http.StatusBadRequest, code: "wrong_key", message: se.Error(), field: "share"}
		}
	}
	var ive *invoicing.ValidationError
	if errors.As(err, &ive) {
		return &apiError{status: http.StatusBadRequest, code: "validation_failed", message: ive.Error(), field: ive.Field}
	}
	var ise *invoicing.StateError
	if errors.As(err, &ise) {
		return &apiError{status: http.StatusConflict, code: "invalid_status", message: ise.Error()}
	}
	var qe *quota.ExceededError
	if errors.As(err, &qe) {
		// An allowance that refills (AI requests an hour) is 429 with the
		// time it refills; stored bytes free only when documents are
		// deleted, so the upload that does not fit is 413.
		if qe.RetryAfter > 0 {
			return &apiError{status: http.StatusTooManyRequests, code: "quota_exceeded", message: qe.Error(), retryAfter: qe.RetryAfter}
		}
		return &apiError{status: http.StatusRequestEntityTooLarge, code: "quota_exceeded", message: qe.Error()}
	}
	// statements: a statement row that cannot be read names its line, the
	// field being the uploaded file (its options are interchangeStatus's).
	var sle *statements.LineError
	if errors.As(err, &sle) {
		return &apiError{status: http.StatusBadRequest, code: "validation_failed", message: sle.Error(), field: "file"}
	}
	return nil
}

// statusOf is the one mapping of errors to HTTP: an apiError as it is, a
// typed or sentinel error of a domain package by its table, a data store
// that cannot answer as 503, anything else as a 500.
func statusOf(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	if ae := typedStatus(err); ae != nil {
		return ae
	}
	for _, m := range sentinels {
		if errors.Is(err, m.err) {
			msg := m.message
			if msg == "" {
				msg = strings.TrimPrefix(m.err.Error(), "auth: ")
			}
			return &apiError{status: m.status, code: m.code, message: msg + m.hint, field: m.field}
		}
	}
	if storeUnavailable(err) {
		return &apiError{status: http.StatusServiceUnavailable, code: "unavailable",
			message: "a data store is restarting or unreachable: retry shortly", retryAfter: unavailableRetry}
	}
	return &apiError{status: http.StatusInternalServerError, code: "internal", message: "internal error"}
}

// unavailableRetry is the Retry-After of a store that is down: the
// supervisor restarts a crashed PostgreSQL or Redis within a few seconds.
const unavailableRetry = 2 * time.Second

// storeUnavailable says whether err means a data store could not be
// reached or is not accepting work yet (crashed, restarting, recovering),
// rather than that the request was wrong or the code is: a state the
// client should retry, 503, never a 500.
func storeUnavailable(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe):
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			pe.Code == "57P01", // admin_shutdown: the server is stopping
			pe.Code == "57P02", // crash_shutdown: another backend crashed
			pe.Code == "57P03", // cannot_connect_now: starting up, in recovery
			pe.Code == "53300": // too_many_connections
			return true
		}
		return false // any other server answer is about the query
	case errors.As(err, &ce), pgconn.SafeToRetry(err), pgconn.Timeout(err), errors.As(err, &ne):
		return true
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ENOENT), // a unix socket not made yet
		errors.Is(err, redis.ErrClosed):
		return true
	}
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		return strings.HasPrefix(msg, "LOADING ") || strings.HasPrefix(msg, "MASTERDOWN ") || strings.HasPrefix(msg, "TRYAGAIN ")
	}
	// pgx reports a connection lost mid-query without a typed error.
	msg := err.Error()
	for _, m := range []string{"conn closed", "the database system is starting up", "the database system is in recovery mode",
		"the database system is shutting down", "server closed the connection unexpectedly", "closed pool"} {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// fail answers err in the API's error shape. It is the only writer of
// error answers: unexpected errors are logged with the request and never
// shown to the client, an unavailable store is logged as a warning, an
// authenticated caller's refusals are recorded in an audit chain, and the
// code is kept for auditRequests' log line.
func (s *server) fail(c *gin.Context, err error) {
	if errors.Is(err, errAnswered) {
		return
	}
	ae := statusOf(err)
	switch {
	case ae.status >= 500 && ae.code == "internal":
		s.logger.Error("request failed", "method", c.Request.Method, "path", c.FullPath(), "error", err.Error())
	case ae.code == "unavailable":
		s.logger.Warn("store unavailable", "method", c.Request.Method, "path", c.FullPath(), "error", err.Error())
	case ae.status >= 400 && ae.status < 500:
		s.recordRefusal(c, ae)
	}
	c.Set(ctxErrorCode, ae.code)
	if ae.retryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(ae.retryAfter.Seconds()))))
	}
	writeError(c, ae.status, ae.code, ae.message, ae.field, ruleOf(err, ae))
}

const ctxErrorCode = "vanta.error_code"

// ruleOf is the ledger's rule behind a refusal (error.rule), "" for any
// other error.
func ruleOf(err error, ae *apiError) string {
	var re *ledger.RuleError
	if ae.status < 500 && errors.As(err, &re) {
		return re.Rule
	}
	return ""
}

// auditRequests logs every state-changing request: who (client IP), what
// (route), and how it ended, never the body, which may hold a share.
func (s *server) auditRequests(c *gin.Context) {
	c.Next()
	if c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead {
		return
	}
	code, _ := c.Get(ctxErrorCode)
	s.logger.Info("audit", slog.String("action", c.Request.Method+" "+c.FullPath()), slog.String("ip", ip(c)),
		slog.Int("status", c.Writer.Status()), slog.Any("error", code))
}
