package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"image/png"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/pquerna/otp"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/audit"
	"github.com/vanta-ledger/vanta/internal/auth"
	"github.com/vanta-ledger/vanta/internal/background"
	"github.com/vanta-ledger/vanta/internal/seal"
)

// errStarting is returned while the data services are not open yet, or
// the identity service of this unsealing is not up yet.
var errStarting = errors.New("the appliance is starting: its databases or services are not ready yet")

// identityWait bounds how long a request waits for the identity service
// of an unsealing that just happened: it starts in the background, in
// well under this.
const identityWait = 10 * time.Second

// identity returns the auth service bound to the current keyring. The
// background runner makes it once per unsealing (identityMaker); a
// request that comes before it is up waits for it, a little.
func (s *server) identity(ctx context.Context) (*auth.Service, *appliance.Stores, error) {
	st := s.Appliance.Stores()
	if st == nil {
		return nil, nil, errStarting
	}
	var timeout <-chan time.Time
	for {
		kr, err := s.Seal.Keyring()
		if err != nil {
			return nil, nil, err
		}
		s.idMu.Lock()
		id, idKeyring, changed := s.id, s.idKeyring, s.idChanged
		failed := s.idErr
		if s.idErrKeyring != kr {
			failed = nil // from an earlier unsealing
		}
		s.idMu.Unlock()
		if id != nil && idKeyring == kr {
			return id, st, nil
		}
		if failed != nil {
			// Its last start failed (PostgreSQL refusing, say): answer
			// with why, and let the runner try again, rather than wait.
			return nil, nil, failed
		}
		if timeout == nil {
			t := time.NewTimer(identityWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-changed:
		case <-timeout:
			return nil, nil, errStarting
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// setIdentity publishes the identity service (nil: none) and wakes the
// requests waiting for one. A failure to start stays recorded when the
// runner stops the service that failed (nil): it is what requests answer.
func (s *server) setIdentity(id *auth.Service, kr *seal.Keyring) {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	s.id, s.idKeyring = id, kr
	if id != nil {
		s.idErr, s.idErrKeyring = nil, nil
	}
	close(s.idChanged)
	s.idChanged = make(chan struct{})
}

// identityFailed records why the identity service of keyring kr did not
// start, for the requests waiting for it, and wakes them.
func (s *server) identityFailed(kr *seal.Keyring, err error) {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	s.idErr, s.idErrKeyring = err, kr
	close(s.idChanged)
	s.idChanged = make(chan struct{})
}

// identityMaker is the background service that makes the auth service
// for each unsealing: its signing key is wrapped by the keyring, so a
// sealed appliance has none.
type identityMaker struct{ s *server }

func (identityMaker) Name() string { return "identity" }

func (i identityMaker) Start(ctx context.Context) error {
	s := i.s
	st := s.Appliance.Stores()
	if st == nil {
		return errStarting
	}
	kr, err := s.Seal.Keyring()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	svc, err := auth.New(ctx, auth.Options{
		DB: st.App, Redis: st.Redis, RedisPrefix: "auth:", Sealer: kr,
		GODAllow: s.GODAllow, Audit: auditAuthEvent,
	})
	if err != nil {
		s.identityFailed(kr, err)
		return err
	}
	// A new keyring means the appliance was unsealed: sessions from
	// before the seal end here, so that a token copied before sealing
	// opens nothing afterwards. Until this succeeds no service is kept,
	// and the runner tries again.
	if err := svc.EndAllSessions(ctx, "unsealed"); err != nil {
		svc.Close()
		s.identityFailed(kr, err)
		return err
	}
	s.setIdentity(svc, kr)
	return nil
}

// Stop lets go of the service of the keyring that is gone.
func (i identityMaker) Stop() {
	s := i.s
	s.idMu.Lock()
	id := s.id
	s.idMu.Unlock()
	s.setIdentity(nil, nil)
	if id != nil {
		id.Close()
	}
}

// backgroundServices are the API's services that run while unsealed, in
// start order: the ones after identity use it.
func (s *server) backgroundServices() []background.Service {
	return []background.Service{
		identityMaker{s},
		&audit.Checkpointer{Logger: s.logger, Verified: s.Security.AuditVerified, Open: func(ctx context.Context) (audit.Querier, audit.Checkpoints, error) {
			st := s.Appliance.Stores()
			if st == nil {
				return nil, audit.Checkpoints{}, errStarting
			}
			cps, err := s.checkpoints(ctx)
			return st.App, cps, err
		}},
		&auth.SessionPruner{Logger: s.logger, Service: func() (*auth.Service, error) {
			s.idMu.Lock()
			defer s.idMu.Unlock()
			if s.id == nil {
				return nil, errStarting
			}
			return s.id, nil
		}},
		// interchange: imports run while the appliance is unsealed.
		&s.imports,
		// documents: the job queue's workers run while unsealed.
		&documentsService{s: s},
	}
}

// checkpoints returns the store of audit checkpoints. Their MAC key is
// made once and kept sealed by the root keyring in vanta.keys.
func (s *server) checkpoints(ctx context.Context) (audit.Checkpoints, error) {
	d, err := s.domain()
	if err != nil {
		return audit.Checkpoints{}, err
	}
	kr, err := s.Seal.Keyring()
	if err != nil {
		return audit.Checkpoints{}, err
	}
	key, err := d.keys.Key(ctx, kr, "audit-mac")
	if err != nil {
		return audit.Checkpoints{}, err
	}
	return audit.Checkpoints{Dir: d.stores.Audit, Key: key}, nil
}

// auditAuthEvent writes identity events into the audit chains, in the
// transaction of the change.
var auditAuthEvent auth.AuditFunc = auth.RecordInAuditChain

// identityService is the identity service for a handler that returns
// its error.
func (s *server) identityService(c *gin.Context) (*auth.Service, error) {
	id, _, err := s.identity(c.Request.Context())
	return id, err
}

const ctxPrincipal = "vanta.principal"

// authenticate requires a valid access token and puts its principal in
// the context.
func (s *server) authenticate(c *gin.Context) {
	if s.resolvePrincipal(c) {
		c.Next()
	}
}

var (
	errUnauthenticated = &apiError{status: http.StatusUnauthorized, code: "unauthenticated", message: "send Authorization: Bearer <access_token>"}
	errGODNetwork      = &apiError{status: http.StatusForbidden, code: "forbidden_network", message: "GOD may not act from this address"}
)

// resolvePrincipal checks the bearer token, GOD's networks and the user's
// quota; on failure it has answered and returns false.
func (s *server) resolvePrincipal(c *gin.Context) bool {
	id, _, err := s.identity(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return false
	}
	token, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok || token == "" {
		c.Header("WWW-Authenticate", `Bearer realm="vanta"`)
		s.fail(c, errUnauthenticated)
		return false
	}
	p, err := id.Authenticate(c.Request.Context(), token)
	if err != nil {
		c.Header("WWW-Authenticate", `Bearer realm="vanta", error="invalid_token"`)
		s.fail(c, err)
		return false
	}
	if p.IsGOD && !id.GODAllowed(ip(c)) {
		s.logger.Warn("security", "event", "god_token_outside_allowlist", "ip", ip(c), "user", p.UserID.String())
		c.Set(ctxPrincipal, p)
		c.Set(ctxRole, auth.RoleGOD)
		c.Set(ctxWanted, "god_network")
		s.fail(c, errGODNetwork)
		return false
	}
	if s.overQuota(c, "quota:user:"+p.UserID.String(), s.Quotas.UserPerMinute) {
		return false
	}
	c.Set(ctxPrincipal, p)
	actor := auth.Actor{UserID: p.UserID, IP: ip(c)}
	if p.IsGOD {
		actor.Role = auth.RoleGOD
		s.Security.GODRequest(p.UserID, ip(c)) // an address not seen lately is an event
	}
	c.Request = c.Request.WithContext(auth.WithActor(c.Request.Context(), actor))
	return true
}

func principal(c *gin.Context) auth.Principal {
	p, _ := c.Get(ctxPrincipal)
	pr, _ := p.(auth.Principal)
	return pr
}

// identityHandler decodes a body of type Req, finds the identity service,
// and answers status with what fn returns, or the error.
func identityHandler[Req any](s *server, status int, fn func(c *gin.Context, id *auth.Service, req Req) (any, error)) gin.HandlerFunc {
	return s.handle(func(c *gin.Context) error {
		var req Req
		if err := decode(c, &req); err != nil {
			return err
		}
		id, err := s.identityService(c)
		if err != nil {
			return err
		}
		out, err := fn(c, id, req)
		if err != nil {
			return err
		}
		c.JSON(status, out)
		return nil
	})
}

type godSetupRequest struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Password string `json:"password"`
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	TOTP     string `json:"totp"`
}

type acceptInvitationRequest struct {
	Token    string `json:"token"`
	Name     string `json:"name"`     // for a new account
	Password string `json:"password"` // the new account's, or the existing account's
	TOTP     string `json:"totp"`     // the existing account's, when it has one
}

type totpBeginRequest struct {
	Password string `json:"password"`
	TOTP     string `json:"totp"` // a current code, when replacing a factor
}

type totpConfirmRequest struct {
	Code string `json:"code"`
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

type passwordChangeRequest struct {
	Email       string `json:"email"`
	Password    string `json:"password"` // the current one (initial or not)
	NewPassword string `json:"new_password"`
	TOTP        string `json:"totp"`
}

type passwordResetRequest struct {
	Token       string `json:"token"`
	NewPassword string `json:"new_password"`
}

type godResetRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

func (s *server) identityRoutes(v1 *gin.RouterGroup) {
	limited := v1.Group("", s.limit(s.loginLimiter))
	limited.POST("/sys/setup/god", s.requireSetupToken, identityHandler(s, http.StatusCreated, func(c *gin.Context, id *auth.Service, req godSetupRequest) (any, error) {
		u, secret, uri, err := id.CreateGOD(c.Request.Context(), req.Email, req.Name, req.Password)
		if err != nil {
			return nil, err
		}
		if s.SetupGate != nil {
			s.SetupGate.Spend() // GOD's own credentials guard the appliance from now on
		}
		return gin.H{"user": u, "totp": totpEnrolment(secret, uri)}, nil
	}))
	limited.POST("/auth/login", identityHandler(s, http.StatusOK, func(c *gin.Context, id *auth.Service, req loginRequest) (any, error) {
		pair, err := id.Login(c.Request.Context(), req.Email, req.Password, req.TOTP, ip(c))
		s.noteSignIn(c, err)
		return pair, err
	}))
	limited.POST("/auth/refresh", identityHandler(s, http.StatusOK, func(c *gin.Context, id *auth.Service, req refreshRequest) (any, error) {
		return id.RefreshFrom(c.Request.Context(), req.RefreshToken, ip(c))
	}))
	// The owner sets their own password: required before an initial one
	// (chosen by an admin) opens anything; ends every other session.
	limited.POST("/auth/password", identityHandler(s, http.StatusOK, func(c *gin.Context, id *auth.Service, req passwordChangeRequest) (any, error) {
		pair, err := id.ChangePassword(c.Request.Context(), auth.PasswordChange{Email: req.Email, Password: req.Password,
			NewPassword: req.NewPassword, TOTP: req.TOTP, IP: ip(c)})
		s.noteSignIn(c, err)
		return pair, err
	}))
	// A reset link made by an admin or GOD: single use, expiring.
	limited.POST("/auth/password/reset", identityHandler(s, http.StatusOK, func(c *gin.Context, id *auth.Service, req passwordResetRequest) (any, error) {
		u, err := id.ResetPassword(c.Request.Context(), req.Token, req.NewPassword, ip(c))
		if err != nil {
			return nil, err
		}
		return gin.H{"email": u.Email, "password_changed": true}, nil
	}))
	// Accepting an invitation: the token reaches its invitee out of band
	// (the appliance sends no mail); limited like login, since an existing
	// account's password is checked here.
	limited.POST("/auth/invitations/accept", identityHandler(s, http.StatusCreated, func(c *gin.Context, id *auth.Service, req acceptInvitationRequest) (any, error) {
		a, err := id.AcceptInvitation(c.Request.Context(), auth.Accept{Token: req.Token, Name: req.Name,
			Password: req.Password, TOTP: req.TOTP, IP: ip(c)})
		if err != nil {
			return nil, err
		}
		out := gin.H{"user": a.User, "company_id": a.CompanyID, "role": a.Role, "new_account": a.Created}
		if a.TOTP != nil {
			out["totp"] = totpEnrolment(a.TOTP.Secret, a.TOTP.URI)
		}
		return out, nil
	}))
	// Break-glass: a token bought with the threshold of shares resets
	// GOD's password and second factor, and ends every GOD session.
	limited.POST("/sys/break-glass/reset-god", identityHandler(s, http.StatusOK, func(c *gin.Context, id *auth.Service, req godResetRequest) (any, error) {
		if err := auth.CheckPasswordPolicy(req.Password, "", ""); err != nil {
			return nil, err // refuse before the token is spent
		}
		if err := s.Seal.UseBreakGlass(sealCtx(c), req.Token); err != nil {
			return nil, err
		}
		u, secret, uri, err := id.ResetGOD(c.Request.Context(), req.Password)
		if err != nil {
			return nil, err
		}
		s.logger.Warn("security", "event", "god_reset_by_break_glass", "ip", ip(c), "user", u.ID.String())
		return gin.H{"user": u, "totp": totpEnrolment(secret, uri)}, nil
	}))
	authed := v1.Group("", s.authenticate)
	authed.POST("/auth/logout", s.handle(func(c *gin.Context) error {
		id, err := s.identityService(c)
		if err != nil {
			return err
		}
		if err := id.Logout(c.Request.Context(), principal(c)); err != nil {
			return err
		}
		c.Status(http.StatusNoContent)
		return nil
	}))
	// Self-service second factor: begin (the password again, and a
	// current code when replacing one), then confirm with a first code.
	authed.POST("/me/totp", identityHandler(s, http.StatusCreated, func(c *gin.Context, id *auth.Service, req totpBeginRequest) (any, error) {
		en, err := id.BeginTOTPEnrolment(c.Request.Context(), principal(c).UserID, req.Password, req.TOTP, ip(c))
		if err != nil {
			return nil, err
		}
		return gin.H{"totp": totpEnrolment(en.Secret, en.URI)}, nil
	}))
	authed.POST("/me/totp/confirm", identityHandler(s, http.StatusOK, func(c *gin.Context, id *auth.Service, req totpConfirmRequest) (any, error) {
		if err := id.ConfirmTOTPEnrolment(c.Request.Context(), principal(c).UserID, req.Code); err != nil {
			return nil, err
		}
		return gin.H{"enrolled": true}, nil
	}))
	authed.GET("/me", s.handle(s.me))
	// Accepting, while signed in, an invitation addressed to one's own
	// email (how an admin's "create member" reaches a person who already
	// has an account: it never joins them on the admin's say-so).
	authed.POST("/me/invitations/:iid/accept", s.handle(s.acceptOwnInvitation))
}

// me is the signed-in person: their account, memberships and pending
// invitations.
func (s *server) me(c *gin.Context) error {
	ctx := c.Request.Context()
	id, err := s.identityService(c)
	if err != nil {
		return err
	}
	p := principal(c)
	u, err := id.User(ctx, p.UserID)
	if err != nil {
		return err
	}
	ms, err := id.Memberships(ctx, p.UserID)
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []auth.Membership{}
	}
	invs, err := id.PendingInvitations(ctx, p.UserID)
	if err != nil {
		return err
	}
	d, err := s.domain()
	if err != nil {
		return err
	}
	ids := make([]uuid.UUID, len(invs))
	for i, inv := range invs {
		ids[i] = inv.CompanyID
	}
	names, err := d.companies.NamesIfNotArchived(ctx, ids)
	if err != nil {
		return err
	}
	pending := []pendingInvitation{}
	for _, inv := range invs {
		// An invitation into an archived company is left out, as its
		// page calls it invalid: its name is never shown.
		if name, ok := names[inv.CompanyID]; ok {
			pending = append(pending, pendingInvitation{ID: inv.ID, CompanyID: inv.CompanyID, CompanyName: name, Role: inv.Role, ExpiresAt: inv.ExpiresAt})
		}
	}
	c.JSON(http.StatusOK, gin.H{"id": u.ID, "email": u.Email, "name": u.Name, "is_god": u.IsGOD, "memberships": ms,
		"invitations": pending, "totp_enrolled": u.HasTOTP})
	return nil
}

func (s *server) acceptOwnInvitation(c *gin.Context) error {
	id, err := s.identityService(c)
	if err != nil {
		return err
	}
	iid, err := uuid.Parse(c.Param("iid"))
	if err != nil {
		return auth.ErrInvitationInvalid
	}
	a, err := id.AcceptInvitationAsUser(c.Request.Context(), principal(c).UserID, iid, ip(c))
	if err != nil {
		return err
	}
	out := gin.H{"user": a.User, "company_id": a.CompanyID, "role": a.Role, "new_account": false}
	if a.TOTP != nil {
		out["totp"] = totpEnrolment(a.TOTP.Secret, a.TOTP.URI)
	}
	c.JSON(http.StatusCreated, out)
	return nil
}

// godOnceAccountsExist guards the appliance's own operations (service
// status, seal, rotate, rekey without shares): open while no GOD exists
// (first boot), GOD-only after. When GOD's token cannot be checked (sealed,
// or the identity service cannot be built because PostgreSQL is down) or
// whether a GOD exists cannot be read, it fails closed with 503: falling
// open there would hand these routes to anyone who can take the database
// away for a moment.
func (s *server) godOnceAccountsExist(c *gin.Context) {
	if _, ok := s.godGate(c); ok {
		c.Next()
	}
}

const ctxSealOrigin = "vanta.seal_origin"

// godGate decides whether the caller may use a GOD-only route and returns
// the origin the seal service is told; on false it has answered.
func (s *server) godGate(c *gin.Context) (seal.Origin, bool) {
	o := seal.Origin{IP: ip(c)}
	if s.Seal == nil {
		o.Trusted = true
		c.Set(ctxSealOrigin, o)
		return o, true
	}
	exists, err := s.godExists(c.Request.Context())
	if err != nil {
		if !s.Seal.Status().Initialized {
			// No GOD can exist before the seal was ever opened.
			exists = false
		} else {
			s.logger.Warn("security", "event", "god_check_unavailable", "ip", ip(c), "path", c.FullPath(), "error", err.Error())
			s.fail(c, errGODUnknown)
			c.Abort()
			return o, false
		}
	}
	if !exists {
		o.Trusted = true
		c.Set(ctxSealOrigin, o)
		return o, true
	}
	if _, _, err := s.identity(c.Request.Context()); err != nil {
		reason := errTokenUncheckable
		if errors.Is(err, seal.ErrSealed) {
			reason = errTokenWhileSealed
		}
		s.fail(c, reason)
		c.Abort()
		return o, false
	}
	if !s.resolvePrincipal(c) {
		c.Abort()
		return o, false
	}
	p := principal(c)
	if !p.IsGOD {
		s.fail(c, forbidden("only GOD may do this")) // recorded, like every refusal
		c.Abort()
		return o, false
	}
	o.UserID, o.Trusted = p.UserID.String(), true
	c.Set(ctxSealOrigin, o)
	return o, true
}

// Fail-closed answers of godGate: 503 with Retry-After, never open.
var (
	errGODUnknown = &apiError{status: http.StatusServiceUnavailable, code: "unavailable", retryAfter: 5 * time.Second,
		message: "cannot tell whether a GOD exists (the database is unavailable); GOD-only routes are closed until it is back"}
	errTokenUncheckable = &apiError{status: http.StatusServiceUnavailable, code: "unavailable", retryAfter: 5 * time.Second,
		message: "GOD's token cannot be checked right now (the identity service is unavailable); GOD-only routes are closed until it is back"}
	errTokenWhileSealed = &apiError{status: http.StatusServiceUnavailable, code: "unavailable", retryAfter: 30 * time.Second,
		message: "GOD's token cannot be checked while sealed; custodians unseal first (seal-status and unseal stay open)"}
)

// godExists reads whether a GOD account exists. PostgreSQL is open while
// sealed, so this works then too. Once true it stays true in memory: GODs
// are never deleted, and a database outage must not reopen the routes.
func (s *server) godExists(ctx context.Context) (bool, error) {
	if s.godSeen.Load() {
		return true, nil
	}
	st := s.Appliance.Stores()
	if st == nil {
		return false, errStarting
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	exists, err := auth.GODExists(ctx, st.App)
	if err != nil {
		return false, err
	}
	if exists {
		s.godSeen.Store(true)
	}
	return exists, nil
}

// sealCtx is the request's context carrying the seal origin: the client's
// IP, and what godGate established if it ran.
func sealCtx(c *gin.Context) context.Context {
	o := seal.Origin{IP: ip(c)}
	if v, ok := c.Get(ctxSealOrigin); ok {
		o = v.(seal.Origin)
	}
	return seal.WithOrigin(c.Request.Context(), o)
}

// totpEnrolment is what a user needs to add their account to an
// authenticator app: the secret, its otpauth URI, and the URI as a QR code
// (a PNG data URI, drawn here so the page needs no script for it).
func totpEnrolment(secret, uri string) gin.H {
	out := gin.H{"secret": secret, "uri": uri}
	key, err := otp.NewKeyFromURL(uri)
	if err != nil {
		return out
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return out
	}
	var buf bytes.Buffer
	if png.Encode(&buf, img) == nil {
		out["qr_png"] = "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
	}
	return out
}
