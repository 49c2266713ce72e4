package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// TokenPair is what a login or refresh hands out. The JSON fields are the
// API's; the rest are for the caller's audit and bookkeeping.
type TokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`

	UserID    uuid.UUID `json:"-"`
	IsGOD     bool      `json:"-"`
	SessionID uuid.UUID `json:"-"` // the refresh-token family
	JTI       string    `json:"-"`
	ExpiresAt time.Time `json:"-"` // of the access token
}

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID    uuid.UUID
	IsGOD     bool
	JTI       string
	SessionID uuid.UUID
	ExpiresAt time.Time
}

// Login checks email, password and, for GOD, company admins and anyone
// enrolled, a TOTP code, and opens a session. Inputs over their bounds
// are refused first (*InputError), before anything is looked up or
// audited. The lockout is consulted next. An unknown email, a wrong
// password, and a right password with a missing or wrong code cost the
// same (an argon2 verification either way) and give the same error,
// ErrInvalidCredentials, and each counts as a failure: the answer is no
// oracle for whether a password was right. A right password that someone
// else chose (an initial one) is ErrPasswordChangeRequired and opens no
// session. Every refusal is an *AttemptError saying why, for the audit
// trail.
// passwordStep is what every check of an account's credentials does
// before the second factor: admit the attempt under the throttle, check
// the password, and refuse an account that is not active or a GOD outside
// its networks. A refusal has been recorded (and counted where it is a
// guess) when it returns.
func (s *Service) passwordStep(ctx context.Context, event, email, password, ip string) (userRow, error) {
	refuse := func(reason string, u userRow, err error, countFailure bool) (userRow, error) {
		return userRow{}, s.refuseAttempt(ctx, event, reason, email, ip, u, err, countFailure)
	}
	if err := s.limiter.Admit(ctx, email, ip); err != nil {
		var lo ErrLockedOut
		if errors.As(err, &lo) {
			return refuse(ReasonLockedOut, userRow{}, lo, false)
		}
		return refuse(ReasonUnavailable, userRow{}, err, false)
	}
	u, ok, err := s.checkPassword(ctx, email, password)
	if err != nil {
		return refuse(ReasonUnavailable, u, err, false)
	}
	switch {
	case u.ID == uuid.Nil:
		return refuse(ReasonUnknownEmail, userRow{}, ErrInvalidCredentials, true)
	case !ok:
		return refuse(ReasonBadPassword, u, ErrInvalidCredentials, true)
	case u.Status != StatusActive:
		return refuse(ReasonDisabled, u, ErrInvalidCredentials, false)
	case u.IsGOD && !s.GODAllowed(ip):
		return refuse(ReasonGODNetwork, u, ErrGODNetwork, false)
	}
	return u, nil
}

func (s *Service) Login(ctx context.Context, email, password, totpCode, ip string) (TokenPair, error) {
	if err := CheckCredentialInput(email, password, totpCode); err != nil {
		return TokenPair{}, err
	}
	email = normalizeEmail(email)
	refuse := func(reason string, u userRow, err error, countFailure bool) (TokenPair, error) {
		return TokenPair{}, s.refuseAttempt(ctx, EvLogin, reason, email, ip, u, err, countFailure)
	}

	u, err := s.passwordStep(ctx, EvLogin, email, password, ip)
	if err != nil {
		return TokenPair{}, err
	}
	if u.mustChange {
		// Before the code is checked, so that it is not consumed: the
		// owner needs it for the change itself.
		return refuse(ReasonMustChange, u, ErrPasswordChangeRequired, false)
	}

	tx, err := s.db.Begin(ctx)
	if err != nil {
		return refuse(ReasonUnavailable, u, fmt.Errorf("auth: begin login: %w", err), false)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	// Refusals from here on give the transaction back before auditing in
	// one of their own.
	refuseTx := func(reason string, err error, countFailure bool) (TokenPair, error) {
		_ = tx.Rollback(ctx)
		return refuse(reason, u, err, countFailure)
	}
	need, reason, err := s.secondFactor(ctx, tx, u, totpCode)
	if err != nil {
		if errors.Is(err, ErrInvalidCredentials) {
			return refuseTx(reason, err, true)
		}
		return refuseTx(ReasonUnavailable, err, false)
	}
	if NeedsRehash(u.hash, s.argon) {
		if h, err := s.hash(ctx, password); err == nil {
			if _, err := tx.Exec(ctx, "UPDATE auth.users SET password_hash = $2 WHERE id = $1", u.ID, h); err != nil {
				return refuseTx(ReasonUnavailable, fmt.Errorf("auth: rehash password: %w", err), false)
			}
		}
	}
	pair, err := s.openSession(ctx, tx, u)
	if err != nil {
		return refuseTx(ReasonUnavailable, err, false)
	}
	if err := s.audit(ctx, tx, Event{Action: EvLogin, Outcome: "ok", UserID: u.ID, Email: email, IP: ip,
		Details: map[string]any{"session": pair.SessionID.String(), "totp": need}}); err != nil {
		return TokenPair{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return TokenPair{}, fmt.Errorf("auth: commit login: %w", err)
	}
	// The session is open; a failure here only leaves old failures
	// counted until they expire, and the client not yet known.
	_ = s.limiter.Succeed(ctx, email, ip)
	return pair, nil
}

// refuseAttempt builds the *AttemptError of a refused login-like attempt
// (login, password change), counts it towards the lockout when asked, and
// audits it. An email with no account is recorded only as a keyed hash.
func (s *Service) refuseAttempt(ctx context.Context, action, reason, email, ip string, u userRow, err error, countFailure bool) error {
	shown := email
	if u.ID == uuid.Nil {
		shown = s.auditEmail(email)
	}
	ae := &AttemptError{Op: strings.TrimPrefix(action, "auth."), Reason: reason, UserID: u.ID, Email: shown, IP: ip, Err: err}
	var errs []error
	details := map[string]any{}
	if countFailure {
		f, ferr := s.limiter.Fail(ctx, email, ip)
		ae.Failures, ae.Engaged = f, s.limiter.Engaged(f)
		errs = append(errs, ferr)
		details["failures_pair"], details["failures_ip"], details["failures_account"] = f.Pair, f.IP, f.Account
	}
	if ae.Engaged {
		details["lockout_engaged"] = true
	}
	var lo ErrLockedOut
	if errors.As(err, &lo) {
		details["retry_after_ms"] = lo.RetryAfter.Milliseconds()
	}
	errs = append(errs, s.auditAlone(ctx, Event{Action: action, Outcome: reason, UserID: u.ID, Email: shown, IP: ip, Details: details}))
	if e := errors.Join(errs...); e != nil {
		return errors.Join(ae, e)
	}
	return ae
}

// checkPassword reads the account of email and verifies password against
// it; with no such account it verifies against a dummy hash, so that both
// cost the same, and returns a zero user.
func (s *Service) checkPassword(ctx context.Context, email, password string) (userRow, bool, error) {
	u, err := scanUser(s.db.QueryRow(ctx, "SELECT "+userColumns+" FROM auth.users WHERE email = $1", email))
	found := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return userRow{}, false, fmt.Errorf("auth: read user: %w", err)
	}
	hash := u.hash
	if !found {
		u, hash = userRow{}, s.dummyHash
	}
	ok, err := s.verify(ctx, password, hash)
	if err != nil && !errors.Is(err, ErrMalformedHash) {
		return u, false, err
	}
	return u, ok && found, nil
}

// secondFactor checks and consumes the TOTP code when the account needs
// one (GOD, anyone enrolled, company admins). A missing or wrong code is
// ErrInvalidCredentials, like a wrong password, with the audit reason.
func (s *Service) secondFactor(ctx context.Context, tx pgx.Tx, u userRow, code string) (bool, string, error) {
	need := u.IsGOD || u.HasTOTP
	if !need {
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM auth.memberships WHERE user_id = $1 AND role = 'admin')", u.ID).Scan(&need); err != nil {
			return false, "", fmt.Errorf("auth: read memberships: %w", err)
		}
	}
	if !need {
		return false, "", nil
	}
	if code == "" {
		return true, ReasonTOTPRequired, ErrInvalidCredentials
	}
	if err := s.ConsumeTOTP(ctx, tx, u.ID, code); err != nil {
		switch {
		case errors.Is(err, ErrTOTPReplayed):
			return true, ReasonTOTPReplayed, ErrInvalidCredentials
		case errors.Is(err, ErrTOTPInvalid), errors.Is(err, ErrTOTPNotEnrolled):
			return true, ReasonBadTOTP, ErrInvalidCredentials
		}
		return true, "", err
	}
	return true, "", nil
}

// openSession starts a refresh-token family for u and signs the first
// access token.
func (s *Service) openSession(ctx context.Context, tx pgx.Tx, u userRow) (TokenPair, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	family := uuid.New()
	refresh, err := s.insertRefresh(ctx, tx, u.ID, family, uuid.Nil, now, now)
	if err != nil {
		return TokenPair{}, err
	}
	return s.pair(u, family, refresh, now)
}

func (s *Service) insertRefresh(ctx context.Context, tx pgx.Tx, userID, family, parent uuid.UUID, started, now time.Time) (string, error) {
	token, hash, err := newRefreshToken()
	if err != nil {
		return "", err
	}
	exp := now.Add(s.refresh)
	if limit := started.Add(s.maxAge); exp.After(limit) {
		exp = limit
	}
	var par *uuid.UUID
	if parent != uuid.Nil {
		par = &parent
	}
	_, err = tx.Exec(ctx, `INSERT INTO auth.refresh_tokens (id, family, user_id, token_hash, parent, session_started_at, issued_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, uuid.New(), family, userID, hash, par, started, now, exp)
	if err != nil {
		return "", fmt.Errorf("auth: store refresh token: %w", err)
	}
	return token, nil
}

func (s *Service) pair(u userRow, family uuid.UUID, refresh string, now time.Time) (TokenPair, error) {
	jti, err := randomID()
	if err != nil {
		return TokenPair{}, err
	}
	exp := now.Add(AccessTokenTTL).Truncate(time.Second)
	access, err := s.signer.issue(accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   u.ID.String(),
			Audience:  jwt.ClaimStrings{Audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        jti,
		},
		God: u.IsGOD,
		TV:  u.tva.Unix(),
		SID: family.String(),
	})
	if err != nil {
		return TokenPair{}, err
	}
	return TokenPair{AccessToken: access, RefreshToken: refresh, TokenType: "Bearer",
		ExpiresIn: int(AccessTokenTTL / time.Second), UserID: u.ID, IsGOD: u.IsGOD, SessionID: family,
		JTI: jti, ExpiresAt: exp}, nil
}

// Refresh trades a refresh token for a new pair. The token is used up and
// its child, in the same family, comes back; a token presented a second
// time means it was copied, so the whole family is revoked and
// ErrRefreshReuse returned. Two requests racing with one token count as
// reuse too: one gets the child, and the family is then revoked. Expired,
// revoked or unknown tokens, and tokens of disabled users, give
// ErrRefreshInvalid. Refusals are *AttemptError.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (TokenPair, error) {
	return s.RefreshFrom(ctx, refreshToken, "")
}

// RefreshFrom is Refresh by a client at ip, which every audit record of
// it (success, refusal, reuse) carries: a copied refresh token used from
// elsewhere is then traceable.
func (s *Service) RefreshFrom(ctx context.Context, refreshToken, ip string) (TokenPair, error) {
	if len(refreshToken) > 200 {
		return TokenPair{}, &InputError{Field: "refresh_token", Message: "is longer than any refresh token"}
	}
	type stored struct {
		id, family, user  uuid.UUID
		started, expires  time.Time
		usedAt, revokedAt *time.Time
		status            Status
		isGOD             bool
		tva               time.Time
		email             string
	}
	var pair TokenPair
	var ae *AttemptError
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var t stored
		err := tx.QueryRow(ctx, `SELECT r.id, r.family, r.user_id, r.session_started_at, r.expires_at, r.used_at, r.revoked_at,
				u.status, u.is_god, u.tokens_valid_after, u.email
			FROM auth.refresh_tokens r JOIN auth.users u ON u.id = r.user_id
			WHERE r.token_hash = $1 FOR UPDATE OF r`, hashToken(refreshToken)).
			Scan(&t.id, &t.family, &t.user, &t.started, &t.expires, &t.usedAt, &t.revokedAt, &t.status, &t.isGOD, &t.tva, &t.email)
		if errors.Is(err, pgx.ErrNoRows) {
			ae = &AttemptError{Op: "refresh", Reason: ReasonRefreshBad, IP: ip, Err: ErrRefreshInvalid}
			return s.audit(ctx, tx, Event{Action: EvRefresh, Outcome: ae.Reason, IP: ip})
		}
		if err != nil {
			return fmt.Errorf("auth: read refresh token: %w", err)
		}
		now := s.now().UTC().Truncate(time.Microsecond)
		refuse := func(reason string, e error) error {
			ae = &AttemptError{Op: "refresh", Reason: reason, UserID: t.user, SessionID: t.family, Email: t.email, IP: ip, Err: e}
			return s.audit(ctx, tx, Event{Action: EvRefresh, Outcome: reason, UserID: t.user, Email: t.email, IP: ip,
				Details: map[string]any{"session": t.family.String()}})
		}
		switch {
		case t.revokedAt != nil:
			return refuse(ReasonRefreshBad, ErrRefreshInvalid)
		case t.usedAt != nil:
			if _, err := tx.Exec(ctx, "UPDATE auth.refresh_tokens SET revoked_at = $2 WHERE family = $1 AND revoked_at IS NULL",
				t.family, now); err != nil {
				return fmt.Errorf("auth: revoke session: %w", err)
			}
			return refuse(ReasonRefreshReuse, ErrRefreshReuse)
		case !now.Before(t.expires):
			return refuse(ReasonRefreshExpiry, ErrRefreshInvalid)
		case t.status != StatusActive:
			return refuse(ReasonDisabled, ErrRefreshInvalid)
		}
		if _, err := tx.Exec(ctx, "UPDATE auth.refresh_tokens SET used_at = $2 WHERE id = $1", t.id, now); err != nil {
			return fmt.Errorf("auth: use refresh token: %w", err)
		}
		child, err := s.insertRefresh(ctx, tx, t.user, t.family, t.id, t.started, now)
		if err != nil {
			return err
		}
		u := userRow{User: User{ID: t.user, Email: t.email, IsGOD: t.isGOD}, tva: t.tva}
		if pair, err = s.pair(u, t.family, child, now); err != nil {
			return err
		}
		return s.audit(ctx, tx, Event{Action: EvRefresh, Outcome: "ok", UserID: t.user, Email: t.email, IP: ip,
			Details: map[string]any{"session": t.family.String()}})
	})
	if err != nil {
		return TokenPair{}, err
	}
	if ae != nil {
		if ae.Reason == ReasonRefreshReuse {
			s.committed("session " + ae.SessionID.String())
		}
		return TokenPair{}, ae
	}
	return pair, nil
}

// Logout revokes the caller's access token at once and ends its session
// (the refresh family).
func (s *Service) Logout(ctx context.Context, p Principal) error {
	now := s.now().UTC()
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := s.revokeJTI(ctx, tx, p.JTI, p.ExpiresAt); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE auth.refresh_tokens SET revoked_at = $3 WHERE family = $1 AND user_id = $2 AND revoked_at IS NULL",
			p.SessionID, p.UserID, now); err != nil {
			return fmt.Errorf("auth: end session: %w", err)
		}
		return s.audit(ctx, tx, Event{Action: EvLogout, Outcome: "ok", UserID: p.UserID,
			Details: map[string]any{"session": p.SessionID.String(), "jti": p.JTI}})
	})
	if err != nil {
		return err
	}
	s.committed(tokenNotice(p.JTI, p.ExpiresAt), "session "+p.SessionID.String())
	return nil
}

// RevokeToken revokes one access token by its id until exp.
func (s *Service) RevokeToken(ctx context.Context, jti string, exp time.Time) error {
	if err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error { return s.revokeJTI(ctx, tx, jti, exp) }); err != nil {
		return err
	}
	s.committed(tokenNotice(jti, exp))
	return nil
}

func (s *Service) revokeJTI(ctx context.Context, tx pgx.Tx, jti string, exp time.Time) error {
	if jti == "" {
		return fmt.Errorf("%w: no token id", ErrInvalidToken)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO auth.revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING", jti, exp); err != nil {
		return fmt.Errorf("auth: revoke token: %w", err)
	}
	return nil
}

func tokenNotice(jti string, exp time.Time) string {
	return fmt.Sprintf("token %s %d", jti, exp.Unix())
}

// committed applies the notices of a change this process has just
// committed, so that it holds from the caller's next request on, not from
// when PostgreSQL's notice comes back.
func (s *Service) committed(notices ...string) {
	for _, n := range notices {
		s.revs.apply(n)
	}
}

// session is what a request needs to know of its session beyond the
// token: the user's state when it was read, and where the revocation feed
// stood then. It is cached in Redis for an access token's lifetime.
type session struct {
	User   uuid.UUID `json:"u"`
	GOD    bool      `json:"g"`
	Status Status    `json:"s"`
	TV     int64     `json:"tv"`
	At     mark      `json:"at"`
}

func (s *Service) sessionKey(id uuid.UUID) string { return s.prefix + "auth:session:" + id.String() }

// cachedSession reads the session from Redis; any failure, and any record
// whose MAC does not hold, is a miss.
func (s *Service) cachedSession(ctx context.Context, id uuid.UUID) (session, bool) {
	b, err := s.rdb.Get(ctx, s.sessionKey(id)).Bytes()
	if err != nil || len(b) < sha256.Size {
		return session{}, false
	}
	if !hmac.Equal(b[:sha256.Size], s.sessionMAC(id, b[sha256.Size:])) {
		return session{}, false
	}
	var sess session
	if json.Unmarshal(b[sha256.Size:], &sess) != nil {
		return session{}, false
	}
	return sess, true
}

// sessionMAC authenticates a cached session record, bound to its session,
// with a key that exists only in this process's memory: whoever can write
// to Redis cannot make a record this process believes, such as one that
// calls a disabled user active.
func (s *Service) sessionMAC(id uuid.UUID, record []byte) []byte {
	m := hmac.New(sha256.New, s.macKey)
	m.Write(id[:])
	m.Write(record)
	return m.Sum(nil)
}

// cacheSession writes the session to Redis, best effort: a lost write
// costs a PostgreSQL read next time.
func (s *Service) cacheSession(ctx context.Context, id uuid.UUID, sess session) {
	record, err := json.Marshal(sess)
	if err != nil {
		return
	}
	_ = s.rdb.Set(ctx, s.sessionKey(id), append(s.sessionMAC(id, record), record...), AccessTokenTTL).Err()
}

// loadSession reads the session from PostgreSQL, the source of truth, and
// caches it.
func (s *Service) loadSession(ctx context.Context, id, user uuid.UUID, at mark) (session, error) {
	sess := session{User: user, At: at}
	var tva time.Time
	var revoked bool
	err := s.db.QueryRow(ctx, `SELECT u.status, u.is_god, u.tokens_valid_after,
			EXISTS (SELECT 1 FROM auth.refresh_tokens f WHERE f.family = $2 AND f.revoked_at IS NOT NULL)
		FROM auth.users u WHERE u.id = $1`, user, id).Scan(&sess.Status, &sess.GOD, &tva, &revoked)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return session{}, fmt.Errorf("%w: unknown user", ErrInvalidToken)
	case err != nil:
		return session{}, fmt.Errorf("%w: %w", ErrRevocationUnavailable, err)
	case revoked:
		// The notice is on its way; PostgreSQL already knows.
		return session{}, ErrTokenRevoked
	}
	sess.TV = tva.Unix()
	s.cacheSession(ctx, id, sess)
	return sess, nil
}

// Authenticate checks an access token for a request: signature, method,
// issuer, audience and expiry; revocation of the token and of its session
// against this process's copy of PostgreSQL's revocations; then the
// user's status, GOD flag and tokens_valid_after from the session cached
// in Redis, or from PostgreSQL when the cached one is missing or older
// than a change of the user. Errors wrap ErrInvalidToken (401), except
// ErrRevocationUnavailable (503): state that cannot be read refuses the
// request.
func (s *Service) Authenticate(ctx context.Context, accessToken string) (Principal, error) {
	c, err := s.signer.parse(accessToken)
	if err != nil {
		return Principal{}, err
	}
	p := Principal{UserID: uuid.MustParse(c.Subject), IsGOD: c.God, JTI: c.ID,
		SessionID: uuid.MustParse(c.SID), ExpiresAt: c.ExpiresAt.Time}
	at, err := s.revs.check(p.JTI, p.SessionID)
	if err != nil {
		return Principal{}, err
	}
	sess, ok := s.cachedSession(ctx, p.SessionID)
	if !ok || sess.User != p.UserID || !s.revs.fresh(p.UserID, sess.At) {
		if sess, err = s.loadSession(ctx, p.SessionID, p.UserID, at); err != nil {
			return Principal{}, err
		}
	}
	switch {
	case sess.TV != c.TV || sess.GOD != c.God:
		return Principal{}, ErrTokenStale
	case sess.Status != StatusActive:
		return Principal{}, ErrUserInactive
	}
	return p, nil
}

// Prune deletes revocations and refresh tokens past their expiry (they
// can no longer be used either way) and returns how many rows went.
func (s *Service) Prune(ctx context.Context) (int64, error) {
	now := s.now()
	var n int64
	for _, q := range []string{
		"DELETE FROM auth.revoked_tokens WHERE expires_at < $1",
		"DELETE FROM auth.refresh_tokens WHERE expires_at < $1",
		"DELETE FROM auth.password_resets WHERE expires_at < $1",
	} {
		tag, err := s.db.Exec(ctx, q, now)
		if err != nil {
			return n, fmt.Errorf("auth: prune: %w", err)
		}
		n += tag.RowsAffected()
	}
	m, err := s.limiter.Prune(ctx)
	return n + m, err
}
