// Package auth is who people are and what they may do: users and their
// company memberships, argon2id passwords under a policy, TOTP second
// factors that cannot be replayed, short-lived Ed25519-signed access
// tokens with rotating refresh tokens, revocation, login lockout, and the
// role matrix. It knows nothing of HTTP; the API layer turns its errors
// into statuses.
//
// Revocations are stored in PostgreSQL, the source of truth, and announced
// by triggers with NOTIFY in the transaction that makes them; each process
// follows them on a connection of its own and checks every request against
// that copy, and while it cannot follow, it refuses every token. Sessions
// (the user's state a request needs) are cached in Redis, which may lose
// writes: a lost or stale entry costs a PostgreSQL read, never a wrong
// answer. The JWT signing key and the TOTP secrets are stored wrapped by
// the seal's root keyring, so a copy of the database alone forges no token
// and yields no second factor.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"
)

// Sealer wraps and unwraps small secrets, bound to a purpose and extra
// authenticated data. The seal's root keyring (*seal.Keyring) is one.
type Sealer interface {
	Seal(purpose string, aad, plaintext []byte) ([]byte, error)
	Open(purpose string, aad, ciphertext []byte) ([]byte, error)
}

// Querier is a connection, pool or transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// DB is what the service runs on: a *pgxpool.Pool in the appliance.
type DB interface {
	Querier
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Event is one thing the service did or refused, for the audit trail.
// Outcome is "ok" or the reason it was refused (the Reason constants).
type Event struct {
	Action    string
	Outcome   string
	UserID    uuid.UUID // the user acted on or logging in, when known
	Email     string
	IP        string
	CompanyID uuid.UUID // membership changes
	Role      Role
	Details   map[string]any
}

// Audit actions.
const (
	EvGODCreate        = "auth.god.create"
	EvGODReset         = "auth.god.reset"
	EvUserCreate       = "auth.user.create"
	EvUserDisable      = "auth.user.disable"
	EvUserEnable       = "auth.user.enable"
	EvTOTPEnroll       = "auth.totp.enroll"
	EvLogin            = "auth.login"
	EvRefresh          = "auth.refresh"
	EvLogout           = "auth.logout"
	EvSessionsRevoke   = "auth.sessions.revoke"
	EvMembershipSet    = "auth.membership.set"
	EvMembershipRemove = "auth.membership.remove"
	EvPasswordChange   = "auth.password.change"
	EvResetIssue       = "auth.password.reset_issue"
	EvResetUse         = "auth.password.reset"
	EvSessionsEndAll   = "auth.sessions.end_all"
)

// AuditFunc records an event inside tx, the transaction that makes the
// change it describes (for refusals that change nothing, a transaction of
// its own). An error from it rolls the change back: nothing happens
// unrecorded. The actor of an administrative change is the caller's to
// know; it can travel in ctx.
type AuditFunc func(ctx context.Context, tx pgx.Tx, e Event) error

// Options configure a Service. DB, Redis and Sealer are required.
type Options struct {
	DB          DB
	Redis       redis.UniversalClient
	RedisPrefix string // before every key, e.g. for tests
	Sealer      Sealer
	Now         func() time.Time // default time.Now

	Argon2        Argon2Params  // default DefaultArgon2
	TOTPIssuer    string        // default "Vanta Ledger"
	RefreshTTL    time.Duration // idle lifetime of a refresh token; default 7 days
	SessionMaxAge time.Duration // a session's absolute lifetime; default 30 days
	// GODAllow limits where GOD may log in from; empty allows anywhere.
	GODAllow []netip.Prefix
	// MaxConcurrentHashes bounds simultaneous argon2 computations (19 MiB
	// each); default 2 × GOMAXPROCS.
	MaxConcurrentHashes int
	Audit               AuditFunc
	// Listen dials the dedicated connection that follows revocations;
	// default: one like DB's, when DB is a *pgxpool.Pool.
	Listen func(context.Context) (*pgx.Conn, error)
	// Heartbeat is how long the revocation connection may stay quiet
	// before it is pinged; default 15 s.
	Heartbeat time.Duration
}

// Service is the identity domain.
type Service struct {
	db        DB
	rdb       redis.UniversalClient
	prefix    string
	sealer    Sealer
	now       func() time.Time
	argon     Argon2Params
	issuer    string
	refresh   time.Duration
	maxAge    time.Duration
	godAllow  []netip.Prefix
	auditFn   AuditFunc
	hashSlots chan struct{}
	signer    *signer
	limiter   *Limiter
	dummyHash string
	// hashes counts password verifications: every credential check costs
	// exactly one, known account or not, so that timing tells nothing.
	hashes   *atomic.Int64 // shared by copies of the service
	revs     *revocations
	macKey   []byte // of cached sessions; never leaves this process
	emailKey []byte // keys the hash of unknown emails in the audit trail
}

// New returns a service ready to use; the auth migrations must have run. It
// loads the JWT signing key, creating and storing it on first use.
func New(ctx context.Context, o Options) (*Service, error) {
	if o.DB == nil || o.Redis == nil || o.Sealer == nil {
		return nil, errors.New("auth: DB, Redis and Sealer are required")
	}
	s := &Service{hashes: new(atomic.Int64), db: o.DB, rdb: o.Redis, prefix: o.RedisPrefix, sealer: o.Sealer, now: o.Now,
		argon: o.Argon2, issuer: o.TOTPIssuer, refresh: o.RefreshTTL, maxAge: o.SessionMaxAge,
		godAllow: o.GODAllow, auditFn: o.Audit}
	if s.now == nil {
		s.now = time.Now
	}
	if s.argon == (Argon2Params{}) {
		s.argon = DefaultArgon2
	}
	if s.issuer == "" {
		s.issuer = "Vanta Ledger"
	}
	if s.refresh <= 0 {
		s.refresh = 7 * 24 * time.Hour
	}
	if s.maxAge <= 0 {
		s.maxAge = 30 * 24 * time.Hour
	}
	n := o.MaxConcurrentHashes
	if n <= 0 {
		n = 2 * runtime.GOMAXPROCS(0)
	}
	s.hashSlots = make(chan struct{}, n)
	s.limiter = NewLimiter(o.DB, s.now)
	var err error
	if s.signer, err = loadSigner(ctx, o.DB, o.Sealer, s.now); err != nil {
		return nil, err
	}
	// Derived from the sealed signing key: stable across restarts, so the
	// same unknown email hashes alike, and unavailable while sealed.
	ek := sha256.Sum256(append([]byte("vanta auth: audit email key\x00"), s.signer.priv.Seed()...))
	s.emailKey = ek[:]
	// Unknown emails are checked against this, so that they cost what a
	// wrong password costs.
	if s.dummyHash, err = HashPassword("vanta: no such user", s.argon); err != nil {
		return nil, err
	}
	listen := o.Listen
	if listen == nil {
		if listen, err = listenerFor(o.DB); err != nil {
			return nil, err
		}
	}
	s.macKey = make([]byte, 32)
	if _, err := rand.Read(s.macKey); err != nil {
		return nil, fmt.Errorf("auth: session MAC key: %w", err)
	}
	s.revs = newRevocations(listen, s.now)
	if o.Heartbeat > 0 {
		s.revs.heartbeat = o.Heartbeat
	}
	if err := s.revs.start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Close stops following revocations; the service refuses every token
// afterwards. It does not close DB or Redis, which are the caller's.
func (s *Service) Close() { s.revs.close() }

// Limiter is the service's login limiter (its settings may be tuned).
func (s *Service) Limiter() *Limiter { return s.limiter }

// Errors of the identity domain.
var (
	ErrGODExists          = errors.New("auth: a GOD account already exists")
	ErrGODImmutable       = errors.New("auth: the GOD account can only be changed through break-glass")
	ErrEmailTaken         = errors.New("auth: a user with this email exists")
	ErrInvalidEmail       = errors.New("auth: invalid email address")
	ErrInvalidName        = errors.New("auth: name must be 1 to 200 characters")
	ErrUserNotFound       = errors.New("auth: no such user")
	ErrNotMember          = errors.New("auth: not a member of the company")
	ErrInvalidCredentials = errors.New("auth: invalid email or password")
	ErrTOTPRequired       = errors.New("auth: a TOTP code is required")
	ErrGODNetwork         = errors.New("auth: GOD may not sign in from this address")
	ErrRefreshInvalid     = errors.New("auth: invalid refresh token")
	// ErrPasswordChangeRequired: the password was right but someone else
	// chose it; its owner must set their own (ChangePassword) first.
	ErrPasswordChangeRequired = errors.New("auth: this password was set by someone else; set your own at POST /api/v1/auth/password")
	ErrRefreshReuse           = fmt.Errorf("%w: already used; the session has been revoked", ErrRefreshInvalid)
	// ErrRevocationUnavailable means revocation state could not be read:
	// the caller must refuse the request (503), not let it through.
	ErrRevocationUnavailable = errors.New("auth: revocation state unavailable")
)

// Reasons a login or refresh was refused, as AttemptError.Reason and
// Event.Outcome.
const (
	ReasonLockedOut     = "locked_out"
	ReasonUnavailable   = "unavailable"
	ReasonUnknownEmail  = "unknown_email"
	ReasonBadPassword   = "bad_password"
	ReasonDisabled      = "disabled"
	ReasonGODNetwork    = "god_network"
	ReasonTOTPRequired  = "totp_required"
	ReasonBadTOTP       = "bad_totp"
	ReasonTOTPReplayed  = "totp_replayed"
	ReasonRefreshReuse  = "refresh_reuse"
	ReasonRefreshBad    = "refresh_invalid"
	ReasonRefreshExpiry = "refresh_expired"
	ReasonMustChange    = "password_change_required"
	ReasonInvalidInput  = "invalid_input"
)

// AttemptError is a refused login or refresh, with what the caller needs
// to audit it. Err is what may be shown (ErrInvalidCredentials for a wrong
// password and an unknown email alike; ErrLockedOut with its wait), except
// with Reason "unavailable", where Err is an internal failure (a 503, the
// login refused rather than let through unchecked). Reason is for the
// audit trail only.
type AttemptError struct {
	Op        string // "login" or "refresh"
	Reason    string
	UserID    uuid.UUID // when known
	SessionID uuid.UUID // refresh: the family
	Email     string
	IP        string
	Failures  Failures // login failures counted so far
	Engaged   bool     // this failure started the lockout delays (a security event)
	Err       error
}

func (e *AttemptError) Error() string { return e.Err.Error() }
func (e *AttemptError) Unwrap() error { return e.Err }

// Status of a user.
type Status string

const (
	StatusActive   Status = "active"
	StatusDisabled Status = "disabled"
)

// User is an account.
type User struct {
	ID        uuid.UUID `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	IsGOD     bool      `json:"is_god"`
	Status    Status    `json:"status"`
	HasTOTP   bool      `json:"totp_enrolled"`
	CreatedAt time.Time `json:"created_at"`
}

// userRow is a user with what only this package reads.
type userRow struct {
	User
	hash string
	tva  time.Time
	// mustChange: the password was chosen by someone else (an admin
	// creating the member) and proves nothing about its owner.
	mustChange bool
}

const userColumns = "id, email, name, password_hash, totp_secret_enc IS NOT NULL, is_god, status, tokens_valid_after, created_at, password_must_change"

func scanUser(row pgx.Row) (userRow, error) {
	var u userRow
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.hash, &u.HasTOTP, &u.IsGOD, &u.Status, &u.tva, &u.CreatedAt, &u.mustChange)
	return u, err
}

func (s *Service) userByID(ctx context.Context, q Querier, id uuid.UUID, lock string) (userRow, error) {
	u, err := scanUser(q.QueryRow(ctx, "SELECT "+userColumns+" FROM auth.users WHERE id = $1 "+lock, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return u, ErrUserNotFound
	}
	if err != nil {
		return u, fmt.Errorf("auth: read user %s: %w", id, err)
	}
	return u, nil
}

// User returns the user with this id.
func (s *Service) User(ctx context.Context, id uuid.UUID) (User, error) {
	u, err := s.userByID(ctx, s.db, id, "")
	return u.User, err
}

// UserByEmail returns the user with this email.
func (s *Service) UserByEmail(ctx context.Context, email string) (User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, "SELECT "+userColumns+" FROM auth.users WHERE email = $1", normalizeEmail(email)))
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, ErrUserNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("auth: read user by email: %w", err)
	}
	return u.User, nil
}

func normalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// checkEmail accepts local@domain with no spaces or control characters;
// proving that the address receives mail is not this package's job.
func checkEmail(email string) error {
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") || len(email) > 254 || !utf8.ValidString(email) ||
		strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || !strings.Contains(domain, ".") {
		return ErrInvalidEmail
	}
	for _, r := range email {
		if r <= ' ' || r == 0x7f || r == '<' || r == '>' || r == ',' || r == ';' {
			return ErrInvalidEmail
		}
	}
	return nil
}

func checkName(name string) error {
	if n := utf8.RuneCountInString(name); n == 0 || n > 200 || !utf8.ValidString(name) {
		return ErrInvalidName
	}
	for _, r := range name {
		if r < ' ' || r == 0x7f {
			return ErrInvalidName
		}
	}
	return nil
}

// hash and verify take a slot first: each argon2 run holds 19 MiB.
func (s *Service) acquire(ctx context.Context) error {
	select {
	case s.hashSlots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Service) release() { <-s.hashSlots }

func (s *Service) hash(ctx context.Context, pw string) (string, error) {
	if err := s.acquire(ctx); err != nil {
		return "", err
	}
	defer s.release()
	return HashPassword(pw, s.argon)
}

func (s *Service) verify(ctx context.Context, pw, encoded string) (bool, error) {
	if err := s.acquire(ctx); err != nil {
		return false, err
	}
	defer s.release()
	s.hashes.Add(1)
	return VerifyPassword(pw, encoded)
}

func (s *Service) audit(ctx context.Context, tx pgx.Tx, e Event) error {
	if s.auditFn == nil {
		return nil
	}
	if err := s.auditFn(ctx, tx, e); err != nil {
		return fmt.Errorf("auth: audit %s: %w", e.Action, err)
	}
	return nil
}

// auditAlone records an event that changed nothing, in its own transaction.
func (s *Service) auditAlone(ctx context.Context, e Event) error {
	if s.auditFn == nil {
		return nil
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error { return s.audit(ctx, tx, e) })
}

// newAccount checks and prepares a user row.
func (s *Service) newAccount(ctx context.Context, email, name, password string) (userRow, error) {
	email, name = normalizeEmail(email), strings.TrimSpace(name)
	if err := checkEmail(email); err != nil {
		return userRow{}, err
	}
	if err := checkName(name); err != nil {
		return userRow{}, err
	}
	if err := CheckPasswordPolicy(password, email, name); err != nil {
		return userRow{}, err
	}
	h, err := s.hash(ctx, password)
	if err != nil {
		return userRow{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	return userRow{User: User{ID: uuid.New(), Email: email, Name: name, Status: StatusActive, CreatedAt: now},
		hash: h, tva: now.Truncate(time.Second)}, nil
}

func insertUser(ctx context.Context, tx pgx.Tx, u userRow, totpEnc []byte) error {
	_, err := tx.Exec(ctx, `INSERT INTO auth.users (id, email, name, password_hash, totp_secret_enc, is_god, status, tokens_valid_after, created_at, password_must_change)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, u.ID, u.Email, u.Name, u.hash, totpEnc, u.IsGOD, u.Status, u.tva, u.CreatedAt, u.mustChange)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		switch pe.ConstraintName {
		case "users_one_god":
			return ErrGODExists
		case "users_email_key":
			return ErrEmailTaken
		}
	}
	if err != nil {
		return fmt.Errorf("auth: insert user: %w", err)
	}
	return nil
}

// CreateGOD creates the one GOD account, enrolled in TOTP, and returns
// the TOTP secret and otpauth URI to show once. It fails with ErrGODExists
// when there is one already.
func (s *Service) CreateGOD(ctx context.Context, email, name, password string) (User, string, string, error) {
	var exists bool
	if err := s.db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM auth.users WHERE is_god)").Scan(&exists); err != nil {
		return User{}, "", "", fmt.Errorf("auth: look for GOD: %w", err)
	}
	if exists {
		return User{}, "", "", ErrGODExists
	}
	u, err := s.newAccount(ctx, email, name, password)
	if err != nil {
		return User{}, "", "", err
	}
	u.IsGOD, u.HasTOTP = true, true
	secret, uri, err := NewTOTP(s.issuer, u.Email)
	if err != nil {
		return User{}, "", "", err
	}
	enc, err := s.sealTOTP(u.ID, secret)
	if err != nil {
		return User{}, "", "", err
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := insertUser(ctx, tx, u, enc); err != nil {
			return err
		}
		return s.audit(ctx, tx, Event{Action: EvGODCreate, Outcome: "ok", UserID: u.ID, Email: u.Email})
	})
	if err != nil {
		return User{}, "", "", err
	}
	return u.User, secret, uri, nil
}

// CreateUser creates an active user without a second factor; EnrollTOTP
// adds one (required before the user may be made an admin).
func (s *Service) CreateUser(ctx context.Context, email, name, password string) (User, error) {
	u, err := s.newAccount(ctx, email, name, password)
	if err != nil {
		return User{}, err
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := insertUser(ctx, tx, u, nil); err != nil {
			return err
		}
		return s.audit(ctx, tx, Event{Action: EvUserCreate, Outcome: "ok", UserID: u.ID, Email: u.Email})
	})
	if err != nil {
		return User{}, err
	}
	return u.User, nil
}

// Enrolment is a TOTP secret and its otpauth URI, shown to its owner once.
type Enrolment struct {
	Secret, URI string
}

// CreateMember creates a user who belongs to companyID with role, all in
// one transaction with its audit events: the account, a TOTP enrolment
// when the role requires one (admins), and the membership. A refusal at
// any step leaves nothing behind.
func (s *Service) CreateMember(ctx context.Context, companyID uuid.UUID, email, name, password string, role Role) (User, *Enrolment, error) {
	if _, err := ParseRole(string(role)); err != nil || role == RoleGOD {
		return User{}, nil, fmt.Errorf("auth: %q is not a company role", role)
	}
	u, err := s.newAccount(ctx, email, name, password)
	if err != nil {
		return User{}, nil, err
	}
	// The admin chose this password: it is an initial one, which opens
	// nothing until its owner replaces it (ChangePassword).
	u.mustChange = true
	var enrolment *Enrolment
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var existing uuid.UUID
		err := tx.QueryRow(ctx, "SELECT id FROM auth.users WHERE email = $1 FOR UPDATE", u.Email).Scan(&existing)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("auth: look for account: %w", err)
		}
		if err == nil {
			// The email has an account (perhaps in another company):
			// answer as for a fresh one, so that one company learns
			// nothing of another's people, but join nobody on the admin's
			// say-so: the person finds an invitation when they sign in.
			inv, err := s.inviteInTx(ctx, tx, companyID, u.Email, role, actorID(ctx), "")
			if err != nil {
				return err
			}
			u.ID = inv.ID
			if role == RoleAdmin {
				// A fresh admin's answer carries a TOTP enrolment; this one
				// carries one of the same shape that opens nothing.
				secret, uri, err := NewTOTP(s.issuer, u.Email)
				if err != nil {
					return err
				}
				enrolment = &Enrolment{secret, uri}
			}
			return nil
		}
		if err := insertUser(ctx, tx, u, nil); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, Event{Action: EvUserCreate, Outcome: "ok", UserID: u.ID, Email: u.Email, CompanyID: companyID}); err != nil {
			return err
		}
		if role == RoleAdmin {
			secret, uri, err := s.enrolTOTP(ctx, tx, &u)
			if err != nil {
				return err
			}
			enrolment = &Enrolment{secret, uri}
		}
		return s.setMembership(ctx, tx, u, companyID, role)
	})
	if err != nil {
		return User{}, nil, err
	}
	return u.User, enrolment, nil
}

// EnrollTOTP gives the user a new TOTP secret, replacing any old one, and
// returns it with its otpauth URI to show once. GOD's second factor is
// changed only through ResetGOD.
func (s *Service) EnrollTOTP(ctx context.Context, userID uuid.UUID) (secret, uri string, err error) {
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		u, err := s.userByID(ctx, tx, userID, "FOR UPDATE")
		if err != nil {
			return err
		}
		secret, uri, err = s.enrolTOTP(ctx, tx, &u)
		return err
	})
	if err != nil {
		return "", "", err
	}
	return secret, uri, nil
}

// enrolTOTP is EnrollTOTP inside tx, for a user read (or made) in it.
func (s *Service) enrolTOTP(ctx context.Context, tx pgx.Tx, u *userRow) (secret, uri string, err error) {
	if u.IsGOD {
		return "", "", ErrGODImmutable
	}
	if secret, uri, err = NewTOTP(s.issuer, u.Email); err != nil {
		return "", "", err
	}
	enc, err := s.sealTOTP(u.ID, secret)
	if err != nil {
		return "", "", err
	}
	if _, err := tx.Exec(ctx, "UPDATE auth.users SET totp_secret_enc = $2, totp_last_step = 0 WHERE id = $1", u.ID, enc); err != nil {
		return "", "", fmt.Errorf("auth: store TOTP secret: %w", err)
	}
	u.HasTOTP = true
	return secret, uri, s.audit(ctx, tx, Event{Action: EvTOTPEnroll, Outcome: "ok", UserID: u.ID, Email: u.Email})
}

// ResetGOD is break-glass: it gives GOD a new password and a new TOTP
// secret, and ends every GOD session. Only the seal's break-glass path
// (proof of the master secret) may call it.
func (s *Service) ResetGOD(ctx context.Context, password string) (User, string, string, error) {
	var u userRow
	var secret, uri string
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRow(ctx, "SELECT "+userColumns+" FROM auth.users WHERE is_god FOR UPDATE"))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrUserNotFound
		}
		if err != nil {
			return fmt.Errorf("auth: read GOD: %w", err)
		}
		if err := CheckPasswordPolicy(password, u.Email, u.Name); err != nil {
			return err
		}
		h, err := s.hash(ctx, password)
		if err != nil {
			return err
		}
		if secret, uri, err = NewTOTP(s.issuer, u.Email); err != nil {
			return err
		}
		enc, err := s.sealTOTP(u.ID, secret)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE auth.users SET password_hash = $2, totp_secret_enc = $3, totp_last_step = 0, status = 'active' WHERE id = $1",
			u.ID, h, enc); err != nil {
			return fmt.Errorf("auth: reset GOD: %w", err)
		}
		if err := s.revokeAll(ctx, tx, u.ID); err != nil {
			return err
		}
		return s.audit(ctx, tx, Event{Action: EvGODReset, Outcome: "ok", UserID: u.ID, Email: u.Email})
	})
	if err != nil {
		return User{}, "", "", err
	}
	s.committed("user " + u.ID.String())
	u.Status, u.HasTOTP = StatusActive, true
	return u.User, secret, uri, nil
}

// changeUser runs fn, a change to the user's security state, in a
// transaction, and once it commits makes this process re-read the user.
func (s *Service) changeUser(ctx context.Context, userID uuid.UUID, fn func(pgx.Tx) error) error {
	if err := pgx.BeginFunc(ctx, s.db, fn); err != nil {
		return err
	}
	s.committed("user " + userID.String())
	return nil
}

// revokeAll invalidates every access token of the user (by moving
// tokens_valid_after past them) and revokes every refresh token. The new
// value is whole seconds, at least a second past the old one, so that the
// tv claim (unix seconds) tells old tokens from new exactly.
func (s *Service) revokeAll(ctx context.Context, tx pgx.Tx, userID uuid.UUID) error {
	now := s.now().UTC()
	if _, err := tx.Exec(ctx, `UPDATE auth.users SET tokens_valid_after = greatest($2::timestamptz, tokens_valid_after + interval '1 second')
		WHERE id = $1`, userID, now.Truncate(time.Second)); err != nil {
		return fmt.Errorf("auth: invalidate tokens of %s: %w", userID, err)
	}
	if _, err := tx.Exec(ctx, "UPDATE auth.refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
		userID, now); err != nil {
		return fmt.Errorf("auth: revoke sessions of %s: %w", userID, err)
	}
	return nil
}

// RevokeAllSessions ends every session of the user at once: access tokens
// already issued fail Authenticate and refresh tokens are revoked.
func (s *Service) RevokeAllSessions(ctx context.Context, userID uuid.UUID) error {
	return s.changeUser(ctx, userID, func(tx pgx.Tx) error {
		if _, err := s.userByID(ctx, tx, userID, "FOR UPDATE"); err != nil {
			return err
		}
		if err := s.revokeAll(ctx, tx, userID); err != nil {
			return err
		}
		return s.audit(ctx, tx, Event{Action: EvSessionsRevoke, Outcome: "ok", UserID: userID})
	})
}

// DisableUser stops the user from signing in and ends their sessions.
// GOD cannot be disabled.
func (s *Service) DisableUser(ctx context.Context, userID uuid.UUID) error {
	return s.setStatus(ctx, userID, StatusDisabled)
}

// EnableUser lets a disabled user sign in again (old tokens stay dead).
func (s *Service) EnableUser(ctx context.Context, userID uuid.UUID) error {
	return s.setStatus(ctx, userID, StatusActive)
}

func (s *Service) setStatus(ctx context.Context, userID uuid.UUID, st Status) error {
	return s.changeUser(ctx, userID, func(tx pgx.Tx) error {
		u, err := s.userByID(ctx, tx, userID, "FOR UPDATE")
		if err != nil {
			return err
		}
		if u.IsGOD {
			return ErrGODImmutable
		}
		if _, err := tx.Exec(ctx, "UPDATE auth.users SET status = $2 WHERE id = $1", userID, st); err != nil {
			return fmt.Errorf("auth: set status of %s: %w", userID, err)
		}
		ev := EvUserEnable
		if st == StatusDisabled {
			ev = EvUserDisable
			if err := s.revokeAll(ctx, tx, userID); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, Event{Action: ev, Outcome: "ok", UserID: userID, Email: u.Email})
	})
}

// GODAllowed reports whether GOD may act from ip (Options.GODAllow).
func (s *Service) GODAllowed(ip string) bool {
	if len(s.godAllow) == 0 {
		return true
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range s.godAllow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

type actorKey struct{}

// Actor is who makes a change: the audit record of an administrative
// change names them, beside the user the change is about.
type Actor struct {
	UserID uuid.UUID
	Role   Role // in the company acted on, or RoleGOD
	IP     string
}

func actorID(ctx context.Context) uuid.UUID {
	a, _ := ActorOf(ctx)
	return a.UserID
}

// WithActor returns ctx carrying the actor of the changes made under it.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorOf returns the actor ctx carries, if any.
func ActorOf(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}
