package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/auth"
	"github.com/vanta-ledger/vanta/internal/documents"
	"github.com/vanta-ledger/vanta/internal/extract"
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

// TestErrorMapping drives the one mapping: every typed and sentinel error
// of the domain packages to the status, code and field API.md promises.
// Wrapped errors map like the error they wrap, since handlers add
// context on the way up.
func TestErrorMapping(t *testing.T) {
	tests := []struct {
		err    error
		status int
		code   string
		field  string
	}{
		{auth.ErrLockedOut{RetryAfter: time.Minute}, 429, "locked_out", ""},
		{&auth.NewPasswordError{Policy: &auth.PolicyError{Rule: "length", Message: "too short"}}, 400, "weak_password", "new_password"},
		{&auth.InputError{Field: "name", Message: "too long"}, 400, "validation_failed", "name"},
		{&auth.PolicyError{Rule: "length", Message: "too short"}, 400, "weak_password", "password"},
		{&tenancy.ValidationError{Field: "tax_id", Problem: "bad"}, 400, "validation_failed", "tax_id"},
		{&seal.FieldError{Field: "threshold", Problem: "too big"}, 400, "validation_failed", "threshold"},
		{&reports.ParamError{Field: "as_of", Message: "not a date"}, 400, "validation_failed", "as_of"},
		{&seal.ShareError{Kind: seal.ShareMalformed, Problem: "not base32"}, 400, "malformed_share", "share"},
		{&seal.ShareError{Kind: seal.ShareUnknown}, 400, "unknown_share", "share"},
		{&seal.ShareError{Kind: seal.ShareDuplicate}, 409, "duplicate_share", "share"},
		{&seal.ShareError{Kind: seal.ShareWrongKey}, 400, "wrong_key", "share"},
		{&quota.ExceededError{Quota: "ai_requests_per_hour", Limit: 1000, RetryAfter: 90 * time.Second}, 429, "quota_exceeded", ""},
		{&quota.ExceededError{Quota: "storage_bytes", Limit: 10 << 30}, 413, "quota_exceeded", ""},
		{fmt.Errorf("import: %w", &statements.LineError{Line: 14, Field: "paid_in", Message: "not an amount"}), 400, "validation_failed", "file"},
		{auth.ErrGODExists, 409, "god_exists", ""},
		{auth.ErrEmailTaken, 409, "email_taken", "email"},
		{auth.ErrInvalidEmail, 400, "validation_failed", "email"},
		{auth.ErrInvalidName, 400, "validation_failed", "name"},
		{auth.ErrTOTPRequired, 401, "totp_required", "totp"},
		{auth.ErrTOTPInvalid, 401, "invalid_totp", "totp"},
		{auth.ErrTOTPReplayed, 401, "invalid_totp", "totp"},
		{auth.ErrInvalidCredentials, 401, "invalid_credentials", ""},
		{&auth.AttemptError{Op: "login", Err: auth.ErrInvalidCredentials}, 401, "invalid_credentials", ""},
		{auth.ErrPasswordChangeRequired, 403, "password_change_required", "password"},
		{auth.ErrResetInvalid, 400, "invalid_reset_token", "token"},
		{auth.ErrResetNeedsGOD, 403, "forbidden", ""},
		{auth.ErrGODNetwork, 403, "forbidden_network", ""},
		{auth.ErrRefreshInvalid, 401, "invalid_refresh_token", "refresh_token"},
		{auth.ErrInvalidToken, 401, "invalid_token", ""},
		{auth.ErrRevocationUnavailable, 503, "unavailable", ""},
		{auth.ErrUserNotFound, 404, "not_found", ""},
		{auth.ErrNotMember, 404, "not_found", ""},
		{auth.ErrTOTPNotEnrolled, 409, "totp_not_enrolled", ""},
		{auth.ErrNoPendingEnrolment, 409, "no_pending_enrolment", ""},
		{auth.ErrInvitationInvalid, 400, "invalid_invitation", "token"},
		{auth.ErrInvitationNotFound, 404, "not_found", ""},
		{auth.ErrAlreadyMember, 409, "already_member", "email"},
		{auth.ErrGODImmutable, 403, "forbidden", ""},
		{errStarting, 503, "starting", ""},
		{appliance.ErrSetupTokenRequired, 401, "setup_token_required", ""},
		{tenancy.ErrCompanyNotFound, 404, "not_found", ""},
		{tenancy.ErrTaxIDTaken, 409, "tax_id_taken", "tax_id"},
		{seal.ErrSealed, 503, "sealed", ""},
		{seal.ErrNotInitialized, 409, "not_initialized", ""},
		{seal.ErrAlreadyInitialized, 409, "already_initialized", ""},
		{seal.ErrInitPending, 409, "confirmation_pending", ""},
		{seal.ErrNothingPending, 409, "nothing_pending", ""},
		{seal.ErrAlreadyUnsealed, 409, "already_unsealed", ""},
		{seal.ErrNoRekey, 409, "no_rekey", ""},
		{seal.ErrRekeyInProgress, 409, "rekey_in_progress", ""},
		{seal.ErrStaleNonce, 409, "stale_nonce", ""},
		{seal.ErrTokenInvalid, 401, "invalid_token", ""},
		{seal.ErrCeremonyProof, 403, "ceremony_proof_required", ""},
		{seal.ErrResetProof, 403, "reset_not_allowed", ""},
		{seal.ErrRekeyNeedsGOD, 403, "forbidden", ""},
		{ledger.ErrNotFound, 404, "not_found", ""},
		{&ledger.RuleError{Rule: ledger.RuleUnbalanced, Field: "lines", Message: "debits 1.00 ≠ credits 0.90 in KES"}, 400, "validation_failed", "lines"},
		{&ledger.RuleError{Rule: ledger.RulePeriodLocked, Field: "date", Message: "locked"}, 400, "validation_failed", "date"},
		{&ledger.RuleError{Rule: ledger.RuleNotDraft, Field: "id", Message: "posted"}, 409, "not_draft", "id"},
		{&ledger.RuleError{Rule: ledger.RuleAccountInUse, Field: "id", Message: "has lines"}, 409, "account_in_use", "id"},
		{&ledger.RuleError{Rule: ledger.RuleIdempotencyConflict, Field: "idempotency_key", Message: "other body"}, 409, "idempotency_conflict", "idempotency_key"},
		{&invoicing.ValidationError{Field: "lines[0].quantity", Problem: "must be more than 0"}, 400, "validation_failed", "lines[0].quantity"},
		{&invoicing.StateError{Status: "paid", Problem: "only a draft can be issued"}, 409, "invalid_status", ""},
		{invoicing.ErrNotFound, 404, "not_found", ""},
		{interchange.ErrNotFound, 404, "not_found", ""},
		{interchange.ErrStopping, 503, "unavailable", ""},
		{&interchange.FormatError{Field: "format", Message: "neither journal nor csv"}, 400, "validation_failed", "format"},
		{&statements.OptionError{Field: "preset", Message: "not a preset"}, 400, "validation_failed", "preset"},
		// documents
		{documents.ErrNotFound, 404, "not_found", ""},
		{documents.ErrEmpty, 400, "validation_failed", "file"},
		{&documents.UnsupportedTypeError{Filename: "a.pdf"}, 415, "unsupported_media_type", "file"},
		{&documents.TooLargeError{Limit: 10}, 413, "too_large", "file"},
		{&documents.StateError{Status: documents.StatusFailed, Action: "approve"}, 409, "invalid_status", ""},
		{&documents.FieldError{Field: "vat[0].amount", Message: "not a decimal"}, 400, "validation_failed", "vat[0].amount"},
		{&extract.BadFileError{Reason: "encrypted PDF"}, 400, "bad_file", "file"},
		{&quota.ExceededError{Quota: "storage_bytes", Limit: 10}, 413, "quota_exceeded", ""},
		{&quota.ExceededError{Quota: "ai_requests_per_hour", Limit: 10, RetryAfter: time.Minute}, 429, "quota_exceeded", ""},
		{documents.ErrBadCursor, 400, "validation_failed", "cursor"},
		{trends.ErrSeriesNotFound, 404, "not_found", "series"},
		{&trends.ParamError{Field: "step", Message: "\"day\" is not minute or hour"}, 400, "validation_failed", "step"},
		{secevents.ErrUnknownKind, 400, "validation_failed", "kind"},
		{secevents.ErrBadCursor, 400, "validation_failed", "cursor"},
		{secevents.ErrNotOpen, 503, "starting", ""},
		{badRequest("invalid_json", "x", "body"), 400, "invalid_json", "body"},
		{errors.New("something nobody expected"), 500, "internal", ""},
	}
	for _, tt := range tests {
		for _, err := range []error{tt.err, fmt.Errorf("with context: %w", tt.err)} {
			ae := statusOf(err)
			if ae.status != tt.status || ae.code != tt.code || ae.field != tt.field {
				t.Errorf("%T %q → %d %s field %q; want %d %s field %q", tt.err, err, ae.status, ae.code, ae.field, tt.status, tt.code, tt.field)
			}
			if ae.message == "" {
				t.Errorf("%q → no message", err)
			}
		}
	}
	// Every sentinel in the table has a row above: a sentinel added to the
	// mapping without a test shows up here.
	for _, m := range sentinels {
		found := false
		for _, tt := range tests {
			if tt.err == m.err {
				found = true
			}
		}
		if !found {
			t.Errorf("sentinel %q is mapped but not tested here", m.err)
		}
	}
	// An internal error's text never reaches the client.
	if ae := statusOf(errors.New("pq: password authentication failed for user vanta_app")); strings.Contains(ae.message, "vanta_app") {
		t.Errorf("internal error leaked: %q", ae.message)
	}
}

// TestQuotaExceededAnswer runs a handler that returns a quota error
// through the adapter: 429 with Retry-After naming the quota, not a 500.
func TestQuotaExceededAnswer(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	s := &server{logger: slog.New(slog.DiscardHandler), Deps: Deps{Appliance: stubAppliance{}}}
	r := gin.New()
	r.GET("/ai", s.handle(func(c *gin.Context) error {
		return fmt.Errorf("classify: %w", &quota.ExceededError{Quota: "ai_requests_per_hour", Limit: 1000, RetryAfter: 1500 * time.Millisecond})
	}))
	r.GET("/store", s.handle(func(c *gin.Context) error {
		return &quota.ExceededError{Quota: "storage_bytes", Limit: 100}
	}))
	for _, tt := range []struct {
		path       string
		status     int
		retryAfter string
		quota      string
	}{{"/ai", 429, "2", "ai_requests_per_hour"}, {"/store", 413, "", "storage_bytes"}} {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
		var body errorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: %v: %q", tt.path, err, rec.Body.String())
		}
		if rec.Code != tt.status || body.Error.Code != "quota_exceeded" || !strings.Contains(body.Error.Message, tt.quota) ||
			rec.Header().Get("Retry-After") != tt.retryAfter {
			t.Errorf("%s → %d %+v Retry-After %q; want %d quota_exceeded naming %s, Retry-After %q", tt.path, rec.Code, body.Error,
				rec.Header().Get("Retry-After"), tt.status, tt.quota, tt.retryAfter)
		}
	}
}

// TestOneErrorWriter keeps fail the only writer of error answers: a
// handler that wrote one itself would skip the log and the audit record.
func TestOneErrorWriter(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			fn, ok := n.(*ast.FuncDecl)
			if !ok {
				return true
			}
			ast.Inspect(fn, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				if id, ok := call.Fun.(*ast.Ident); ok && id.Name == "writeError" && fn.Name.Name != "fail" {
					t.Errorf("%s: %s calls writeError; return an error (or call s.fail) instead", fset.Position(call.Pos()), fn.Name.Name)
				}
				return true
			})
			return false
		})
	}
}
