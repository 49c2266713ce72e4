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
	"github.com/vanta-ledger/vanta/internal/seal"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// apiError is an error already shaped for a response.
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

// statusOf is the one place that maps domain errors to HTTP.
func statusOf(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	if ae := authStatus(err); ae != nil {
		return ae
	}
	if ae := uploadStatus(err); ae != nil {
		return ae
	}
	var ve *tenancy.ValidationError
	if errors.As(err, &ve) {
		return &apiError{http.StatusBadRequest, "validation_failed", ve.Error(), ve.Field, 0}
	}
	if errors.Is(err, tenancy.ErrTaxIDTaken) {
		return &apiError{http.StatusConflict, "tax_id_taken", "another company already has this KRA PIN", "tax_id", 0}
	}
	var fe *seal.FieldError
	if errors.As(err, &fe) {
		return &apiError{http.StatusBadRequest, "validation_failed", fe.Problem, fe.Field, 0}
	}
	var se *seal.ShareError
	if errors.As(err, &se) {
		switch se.Kind {
		case seal.ShareMalformed:
			return &apiError{http.StatusBadRequest, "malformed_share", se.Error(), "share", 0}
		case seal.ShareUnknown:
			return &apiError{http.StatusBadRequest, "unknown_share", se.Error(), "share", 0}
		case seal.ShareDuplicate:
			return &apiError{http.StatusConflict, "duplicate_share", se.Error(), "share", 0}
		case seal.ShareWrongKey:
			return &apiError{http.StatusBadRequest, "wrong_key", se.Error(), "share", 0}
		}
	}
	for _, m := range []struct {
		err    error
		status int
		code   string
	}{
		{seal.ErrSealed, http.StatusServiceUnavailable, "sealed"},
		{seal.ErrNotInitialized, http.StatusConflict, "not_initialized"},
		{seal.ErrAlreadyInitialized, http.StatusConflict, "already_initialized"},
		{seal.ErrInitPending, http.StatusConflict, "confirmation_pending"},
		{seal.ErrNothingPending, http.StatusConflict, "nothing_pending"},
		{seal.ErrAlreadyUnsealed, http.StatusConflict, "already_unsealed"},
		{seal.ErrNoRekey, http.StatusConflict, "no_rekey"},
		{seal.ErrRekeyInProgress, http.StatusConflict, "rekey_in_progress"},
		{seal.ErrStaleNonce, http.StatusConflict, "stale_nonce"},
		{seal.ErrTokenInvalid, http.StatusUnauthorized, "invalid_token"},
		{seal.ErrCeremonyProof, http.StatusForbidden, "ceremony_proof_required"},
		{seal.ErrResetProof, http.StatusForbidden, "reset_not_allowed"},
		{seal.ErrRekeyNeedsGOD, http.StatusForbidden, "forbidden"},
		{appliance.ErrSetupTokenRequired, http.StatusUnauthorized, "setup_token_required"},
	} {
		if errors.Is(err, m.err) {
			return &apiError{m.status, m.code, m.err.Error(), "", 0}
		}
	}
	if storeUnavailable(err) {
		return &apiError{http.StatusServiceUnavailable, "unavailable", "a data store is restarting or unreachable: retry shortly", "", unavailableRetry}
	}
	return &apiError{http.StatusInternalServerError, "internal", "internal error", "", 0}
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

// fail writes err as the API's error shape; unexpected errors are logged
// with the request, never shown to the client.
func (s *server) fail(c *gin.Context, err error) {
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
	writeError(c, ae.status, ae.code, ae.message, ae.field)
}

const ctxErrorCode = "vanta.error_code"

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
