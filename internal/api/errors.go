package api

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

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
	var ve *tenancy.ValidationError
	if errors.As(err, &ve) {
		return &apiError{http.StatusBadRequest, "validation_failed", ve.Error(), ve.Field, 0}
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
		{appliance.ErrSetupTokenRequired, http.StatusUnauthorized, "setup_token_required"},
	} {
		if errors.Is(err, m.err) {
			return &apiError{m.status, m.code, m.err.Error(), "", 0}
		}
	}
	return &apiError{http.StatusInternalServerError, "internal", "internal error", "", 0}
}

// fail writes err as the API's error shape; unexpected errors are logged
// with the request, never shown to the client.
func (s *server) fail(c *gin.Context, err error) {
	ae := statusOf(err)
	if ae.status >= 500 && ae.code == "internal" {
		s.logger.Error("request failed", "method", c.Request.Method, "path", c.FullPath(), "error", err.Error())
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
