package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Bounds of what a login-like request may carry, checked before anything
// is looked up or written to the audit trail: an unauthenticated caller
// must not be able to make the system chain store 60 KB per attempt.
const (
	MaxEmailInput    = 254 // RFC 5321's limit on a path
	MaxPasswordInput = 1024
	MaxTOTPInput     = 10
)

// InputError is a request field over its bounds (400 naming Field).
type InputError struct {
	Field, Message string
}

func (e *InputError) Error() string { return "auth: " + e.Field + " " + e.Message }

// NewPasswordError is a new password that breaks the policy (400 naming
// new_password, not password, which is the current one).
type NewPasswordError struct{ Policy *PolicyError }

func (e *NewPasswordError) Error() string { return "new " + e.Policy.Error() }

// CheckCredentialInput checks the bounds of a login's fields.
func CheckCredentialInput(email, password, totp string) error {
	switch {
	case len(email) > MaxEmailInput || !utf8.ValidString(email) || strings.ContainsRune(email, 0):
		return &InputError{"email", fmt.Sprintf("must be valid text of at most %d bytes", MaxEmailInput)}
	case len(password) > MaxPasswordInput:
		return &InputError{"password", fmt.Sprintf("must be at most %d bytes", MaxPasswordInput)}
	case len(totp) > MaxTOTPInput:
		return &InputError{"totp", fmt.Sprintf("must be at most %d characters", MaxTOTPInput)}
	}
	return nil
}

// auditEmail is how an email with no account appears in the audit trail:
// a keyed hash, of bounded size, so that the trail neither stores what
// strangers type nor lets a reader of it test guesses (the key is derived
// from the sealed signing key, so it needs the unsealed appliance). The
// same email gives the same value, so repeated attempts can be grouped.
func (s *Service) auditEmail(email string) string {
	m := hmac.New(sha256.New, s.emailKey)
	m.Write([]byte(normalizeEmail(email)))
	return "unknown:" + hex.EncodeToString(m.Sum(nil)[:16])
}

// ErrResetInvalid: the reset token is unknown, used or expired.
var ErrResetInvalid = errors.New("auth: the password reset link is unknown, used or expired")

// ErrResetNeedsGOD: the user belongs to a company the acting admin does
// not administer, so only GOD may reset their password (a company admin
// holding the link could otherwise take over their other memberships).
var ErrResetNeedsGOD = errors.New("auth: this person is also a member elsewhere; only GOD can reset their password")

// ResetTTL is how long a reset link may be used.
const ResetTTL = 24 * time.Hour

// resetPrefix marks reset tokens, so that one pasted in the wrong place
// is recognisable.
const resetPrefix = "vpr_"

// PasswordChange is a self-service change: the account's email, its
// current password (initial or not), the new one, and a TOTP code when
// the account has a second factor.
type PasswordChange struct {
	Email, Password, NewPassword, TOTP, IP string
}

// ChangePassword sets the owner's own password and ends every session
// of the account (tokens_valid_after moves, refresh tokens are revoked);
// it answers with a new session, as a login does. It is how an initial
// password (one an admin chose) is replaced, and it works for every
// account. It is refused like a login (the same lockout, the same
// ErrInvalidCredentials for an unknown email, a wrong password or a
// missing or wrong code); the new password's policy is checked before the
// current one, with what the caller sent, so that a weak new password
// says nothing about the current one.
func (s *Service) ChangePassword(ctx context.Context, r PasswordChange) (TokenPair, error) {
	if err := CheckCredentialInput(r.Email, r.Password, r.TOTP); err != nil {
		return TokenPair{}, err
	}
	if len(r.NewPassword) > MaxPasswordInput {
		return TokenPair{}, &InputError{"new_password", fmt.Sprintf("must be at most %d bytes", MaxPasswordInput)}
	}
	email := normalizeEmail(r.Email)
	if err := checkNewPassword(r.NewPassword, email, ""); err != nil {
		return TokenPair{}, err
	}
	u, err := s.passwordStep(ctx, EvPasswordChange, email, r.Password, r.IP)
	if err != nil {
		return TokenPair{}, err
	}
	var pair TokenPair
	var refusal error
	err = s.changeUser(ctx, u.ID, func(tx pgx.Tx) error {
		if _, reason, err := s.secondFactor(ctx, tx, u, r.TOTP); err != nil {
			if errors.Is(err, ErrInvalidCredentials) {
				refusal = s.refuseAttempt(ctx, EvPasswordChange, reason, email, r.IP, u, err, true)
			}
			return err
		}
		if err := checkNewPassword(r.NewPassword, u.Email, u.Name); err != nil {
			return err
		}
		if same, err := s.verify(ctx, r.NewPassword, u.hash); err != nil {
			return err
		} else if same {
			return &NewPasswordError{&PolicyError{Rule: "reused", Message: "must differ from the current one"}}
		}
		if err := s.setPassword(ctx, tx, &u, r.NewPassword); err != nil {
			return err
		}
		var err error
		if pair, err = s.openSession(ctx, tx, u); err != nil {
			return err
		}
		return s.audit(ctx, tx, Event{Action: EvPasswordChange, Outcome: "ok", UserID: u.ID, Email: u.Email, IP: r.IP,
			Details: map[string]any{"session": pair.SessionID.String(), "was_initial": u.mustChange}})
	})
	if refusal != nil {
		return TokenPair{}, refusal
	}
	if err != nil {
		return TokenPair{}, err
	}
	_ = s.limiter.Succeed(ctx, email, r.IP)
	return pair, nil
}

func checkNewPassword(pw, email, name string) error {
	if err := CheckPasswordPolicy(pw, email, name); err != nil {
		var pe *PolicyError
		if errors.As(err, &pe) {
			return &NewPasswordError{pe}
		}
		return err
	}
	return nil
}

// setPassword stores a password the owner chose (so no longer initial)
// and ends every session of the account, inside tx; u's tva is updated
// for a session opened after it.
func (s *Service) setPassword(ctx context.Context, tx pgx.Tx, u *userRow, pw string) error {
	h, err := s.hash(ctx, pw)
	if err != nil {
		return err
	}
	if err := s.revokeAll(ctx, tx, u.ID); err != nil {
		return err
	}
	if err := tx.QueryRow(ctx, `UPDATE auth.users SET password_hash = $2, password_must_change = false WHERE id = $1
		RETURNING tokens_valid_after`, u.ID, h).Scan(&u.tva); err != nil {
		return fmt.Errorf("auth: set password of %s: %w", u.ID, err)
	}
	// Outstanding reset links are for a password that is gone.
	if _, err := tx.Exec(ctx, "UPDATE auth.password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL", u.ID, s.now().UTC()); err != nil {
		return fmt.Errorf("auth: retire reset links of %s: %w", u.ID, err)
	}
	return nil
}

// PasswordReset is a reset link made for a user, shown once.
type PasswordReset struct {
	Token     string
	ExpiresAt time.Time
}

// CreatePasswordReset makes a single-use link, valid for ResetTTL, with
// which userID sets a new password; only its hash is kept, and it replaces
// the user's earlier links. The actor in ctx must be GOD, or an admin of
// companyID, which the user must belong to, and of every other company the
// user belongs to (ErrResetNeedsGOD otherwise). GOD's own password is
// reset only through break-glass.
func (s *Service) CreatePasswordReset(ctx context.Context, companyID, userID uuid.UUID) (PasswordReset, error) {
	actor, ok := ActorOf(ctx)
	if !ok {
		return PasswordReset{}, errors.New("auth: a password reset needs an actor")
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return PasswordReset{}, fmt.Errorf("auth: reset token: %w", err)
	}
	token := resetPrefix + base64.RawURLEncoding.EncodeToString(raw)
	now := s.now().UTC().Truncate(time.Microsecond)
	out := PasswordReset{Token: token, ExpiresAt: now.Add(ResetTTL)}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		u, err := s.userByID(ctx, tx, userID, "FOR UPDATE")
		if err != nil {
			return err
		}
		if u.IsGOD {
			return ErrGODImmutable
		}
		var member bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM auth.memberships WHERE user_id = $1 AND company_id = $2)",
			userID, companyID).Scan(&member); err != nil {
			return fmt.Errorf("auth: read membership: %w", err)
		}
		if !member {
			return ErrNotMember
		}
		if actor.Role != RoleGOD {
			var elsewhere bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM auth.memberships m WHERE m.user_id = $1 AND NOT EXISTS (
					SELECT 1 FROM auth.memberships a WHERE a.user_id = $2 AND a.company_id = m.company_id AND a.role = 'admin'))`,
				userID, actor.UserID).Scan(&elsewhere); err != nil {
				return fmt.Errorf("auth: read memberships: %w", err)
			}
			if elsewhere {
				return ErrResetNeedsGOD
			}
		}
		if _, err := tx.Exec(ctx, "UPDATE auth.password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL", userID, now); err != nil {
			return fmt.Errorf("auth: replace reset links: %w", err)
		}
		id := uuid.New()
		if _, err := tx.Exec(ctx, `INSERT INTO auth.password_resets (id, user_id, token_hash, created_by, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, id, userID, hashToken(token), actor.UserID, now, out.ExpiresAt); err != nil {
			return fmt.Errorf("auth: store reset link: %w", err)
		}
		return s.audit(ctx, tx, Event{Action: EvResetIssue, Outcome: "ok", UserID: userID, Email: u.Email, CompanyID: companyID,
			Details: map[string]any{"reset": id.String(), "expires_at": out.ExpiresAt.Format(time.RFC3339)}})
	})
	if err != nil {
		return PasswordReset{}, err
	}
	return out, nil
}

// ResetPassword spends a reset link: the account gets newPassword (its
// owner's own, so no longer initial) and every session of it ends. A new
// password that breaks the policy leaves the link unspent. The account's
// second factor is untouched: signing in still needs it.
func (s *Service) ResetPassword(ctx context.Context, token, newPassword, ip string) (User, error) {
	if len(token) > 200 || !strings.HasPrefix(token, resetPrefix) {
		return User{}, ErrResetInvalid
	}
	if len(newPassword) > MaxPasswordInput {
		return User{}, &InputError{"new_password", fmt.Sprintf("must be at most %d bytes", MaxPasswordInput)}
	}
	var u userRow
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		now := s.now().UTC()
		var id uuid.UUID
		err := tx.QueryRow(ctx, `SELECT id, user_id FROM auth.password_resets
			WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 FOR UPDATE`, hashToken(token), now).Scan(&id, &u.ID)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrResetInvalid
		}
		if err != nil {
			return fmt.Errorf("auth: read reset link: %w", err)
		}
		if u, err = s.userByID(ctx, tx, u.ID, "FOR UPDATE"); err != nil {
			return err
		}
		if err := checkNewPassword(newPassword, u.Email, u.Name); err != nil {
			return err
		}
		if err := s.setPassword(ctx, tx, &u, newPassword); err != nil { // also spends this link
			return err
		}
		return s.audit(ctx, tx, Event{Action: EvResetUse, Outcome: "ok", UserID: u.ID, Email: u.Email, IP: ip,
			Details: map[string]any{"reset": id.String()}})
	})
	if err != nil {
		return User{}, err
	}
	s.committed("user " + u.ID.String())
	return u.User, nil
}

// EndAllSessions ends every session of every account: access tokens
// already issued fail Authenticate (tokens_valid_after moves past them)
// and refresh tokens are revoked. The appliance calls it when it makes
// the identity service after an unseal, so that sealing ends what was
// issued before it: a token copied before a seal opens nothing after the
// next unseal.
func (s *Service) EndAllSessions(ctx context.Context, reason string) error {
	now := s.now().UTC()
	var users []uuid.UUID
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE auth.users SET tokens_valid_after = greatest($1::timestamptz, tokens_valid_after + interval '1 second')
			RETURNING id`, now.Truncate(time.Second))
		if err != nil {
			return fmt.Errorf("auth: end all sessions: %w", err)
		}
		if users, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID]); err != nil {
			return fmt.Errorf("auth: end all sessions: %w", err)
		}
		if _, err := tx.Exec(ctx, "UPDATE auth.refresh_tokens SET revoked_at = $1 WHERE revoked_at IS NULL", now); err != nil {
			return fmt.Errorf("auth: revoke every refresh token: %w", err)
		}
		return s.audit(ctx, tx, Event{Action: EvSessionsEndAll, Outcome: "ok",
			Details: map[string]any{"reason": reason, "users": len(users)}})
	})
	if err != nil {
		return err
	}
	notices := make([]string, len(users))
	for i, id := range users {
		notices[i] = "user " + id.String()
	}
	s.committed(notices...)
	return nil
}
