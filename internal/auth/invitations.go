package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// InvitationTTL is how long an invitation can be accepted.
const InvitationTTL = 7 * 24 * time.Hour

// invitationPrefix marks invitation tokens, so that one pasted in the
// wrong place is recognisable.
const invitationPrefix = "vinv_"

// Invitation asks someone, by email, to join a company with a role. It
// says nothing of whether that email has an account: whoever accepts
// proves it, with the token and, for an existing account, its password.
type Invitation struct {
	ID         uuid.UUID  `json:"id"`
	CompanyID  uuid.UUID  `json:"company_id"`
	Email      string     `json:"email"`
	Role       Role       `json:"role"`
	Status     string     `json:"status"` // pending, accepted, revoked, expired
	InvitedBy  uuid.UUID  `json:"invited_by"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	AcceptedAt *time.Time `json:"accepted_at,omitempty"`
}

// Invitation errors.
var (
	ErrInvitationInvalid  = errors.New("auth: the invitation is unknown, used, revoked or expired")
	ErrInvitationNotFound = errors.New("auth: no such invitation")
	ErrAlreadyMember      = errors.New("auth: already a member of the company")
)

// Audit actions of invitations.
const (
	EvInvite           = "auth.invitation.create"
	EvInvitationRevoke = "auth.invitation.revoke"
	EvInvitationAccept = "auth.invitation.accept"
)

// Invite invites email into companyID with role and returns the
// invitation with its token, shown once (only its hash is kept). A pending
// invitation of the same email to the same company is replaced.
func (s *Service) Invite(ctx context.Context, companyID uuid.UUID, email string, role Role, invitedBy uuid.UUID) (Invitation, string, error) {
	if r, err := ParseRole(string(role)); err != nil || r == RoleGOD {
		return Invitation{}, "", fmt.Errorf("auth: %q is not a company role", role)
	}
	email = normalizeEmail(email)
	if err := checkEmail(email); err != nil {
		return Invitation{}, "", err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return Invitation{}, "", fmt.Errorf("auth: invitation token: %w", err)
	}
	token := invitationPrefix + base64.RawURLEncoding.EncodeToString(raw)
	var inv Invitation
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var err error
		inv, err = s.inviteInTx(ctx, tx, companyID, email, role, invitedBy, token)
		return err
	})
	if err != nil {
		return Invitation{}, "", err
	}
	return inv, token, nil
}

// inviteInTx stores an invitation inside tx. With no token (one made by
// member creation for an email that has an account) it can be accepted
// only by the account signed in (AcceptInvitationAsUser): its stored hash
// is of random bytes nobody holds.
func (s *Service) inviteInTx(ctx context.Context, tx pgx.Tx, companyID uuid.UUID, email string, role Role, invitedBy uuid.UUID, token string) (Invitation, error) {
	if token == "" {
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return Invitation{}, fmt.Errorf("auth: invitation token: %w", err)
		}
		token = string(raw)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	inv := Invitation{ID: uuid.New(), CompanyID: companyID, Email: email, Role: role, Status: "pending",
		InvitedBy: invitedBy, CreatedAt: now, ExpiresAt: now.Add(InvitationTTL)}
	var member bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM auth.memberships m JOIN auth.users u ON u.id = m.user_id
		WHERE u.email = $1 AND m.company_id = $2)`, email, companyID).Scan(&member); err != nil {
		return Invitation{}, fmt.Errorf("auth: look for member: %w", err)
	}
	if member {
		return Invitation{}, ErrAlreadyMember
	}
	if _, err := tx.Exec(ctx, `UPDATE auth.invitations SET revoked_at = $3
		WHERE company_id = $1 AND email = $2 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $3`, companyID, email, now); err != nil {
		return Invitation{}, fmt.Errorf("auth: replace invitation: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO auth.invitations (id, company_id, email, role, token_hash, invited_by, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, inv.ID, companyID, email, role, hashToken(token), invitedBy, now, inv.ExpiresAt); err != nil {
		return Invitation{}, fmt.Errorf("auth: store invitation: %w", err)
	}
	return inv, s.audit(ctx, tx, Event{Action: EvInvite, Outcome: "ok", Email: email, CompanyID: companyID, Role: role,
		Details: map[string]any{"invitation": inv.ID.String()}})
}

// PendingInvitations are the invitations addressed to the user's email
// that can still be accepted, newest first: how a person learns of an
// invitation made for an account they already have.
func (s *Service) PendingInvitations(ctx context.Context, userID uuid.UUID) ([]Invitation, error) {
	rows, err := s.db.Query(ctx, "SELECT "+invitationColumns+` FROM auth.invitations i
		WHERE email = (SELECT email FROM auth.users WHERE id = $2) AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $1
		ORDER BY created_at DESC, id`, s.now(), userID)
	if err != nil {
		return nil, fmt.Errorf("auth: invitations for %s: %w", userID, err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Invitation, error) { return scanInvitation(r) })
	if err != nil {
		return nil, fmt.Errorf("auth: invitations for %s: %w", userID, err)
	}
	return list, nil
}

// AcceptInvitationAsUser redeems a pending invitation addressed to the
// signed-in user's email. The session is the proof: a session exists only
// after a login with the owner's own password (an initial one opens none).
func (s *Service) AcceptInvitationAsUser(ctx context.Context, userID, invitationID uuid.UUID, ip string) (Acceptance, error) {
	var out Acceptance
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		now := s.now().UTC().Truncate(time.Microsecond)
		u, err := s.userByID(ctx, tx, userID, "FOR UPDATE")
		if err != nil {
			return err
		}
		if u.mustChange {
			return ErrPasswordChangeRequired
		}
		var inv Invitation
		err = tx.QueryRow(ctx, `SELECT company_id, role FROM auth.invitations
			WHERE id = $1 AND email = $2 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $3 FOR UPDATE`,
			invitationID, u.Email, now).Scan(&inv.CompanyID, &inv.Role)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrInvitationInvalid
		}
		if err != nil {
			return fmt.Errorf("auth: read invitation: %w", err)
		}
		inv.ID = invitationID
		return s.join(ctx, tx, u, inv, now, ip, &out, map[string]any{"signed_in": true})
	})
	if err != nil {
		return Acceptance{}, err
	}
	s.committed("user " + userID.String())
	return out, nil
}

const invitationColumns = `id, company_id, email, role, invited_by, created_at, expires_at, accepted_at,
	CASE WHEN accepted_at IS NOT NULL THEN 'accepted' WHEN revoked_at IS NOT NULL THEN 'revoked'
	     WHEN expires_at <= $1 THEN 'expired' ELSE 'pending' END`

func scanInvitation(row pgx.Row) (Invitation, error) {
	var inv Invitation
	err := row.Scan(&inv.ID, &inv.CompanyID, &inv.Email, &inv.Role, &inv.InvitedBy, &inv.CreatedAt, &inv.ExpiresAt, &inv.AcceptedAt, &inv.Status)
	return inv, err
}

// Invitations lists the company's invitations, newest first.
func (s *Service) Invitations(ctx context.Context, companyID uuid.UUID) ([]Invitation, error) {
	rows, err := s.db.Query(ctx, "SELECT "+invitationColumns+" FROM auth.invitations WHERE company_id = $2 ORDER BY created_at DESC, id",
		s.now(), companyID)
	if err != nil {
		return nil, fmt.Errorf("auth: invitations of %s: %w", companyID, err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Invitation, error) { return scanInvitation(r) })
	if err != nil {
		return nil, fmt.Errorf("auth: invitations of %s: %w", companyID, err)
	}
	return list, nil
}

// RevokeInvitation withdraws a pending invitation of the company; one of
// another company is ErrInvitationNotFound, as if it did not exist.
func (s *Service) RevokeInvitation(ctx context.Context, companyID, id uuid.UUID) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var email string
		err := tx.QueryRow(ctx, `UPDATE auth.invitations SET revoked_at = $3
			WHERE id = $1 AND company_id = $2 AND accepted_at IS NULL AND revoked_at IS NULL RETURNING email`,
			id, companyID, s.now().UTC()).Scan(&email)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrInvitationNotFound
		}
		if err != nil {
			return fmt.Errorf("auth: revoke invitation: %w", err)
		}
		return s.audit(ctx, tx, Event{Action: EvInvitationRevoke, Outcome: "ok", Email: email, CompanyID: companyID,
			Details: map[string]any{"invitation": id.String()}})
	})
}

// Acceptance is what accepting an invitation gives: the account, the
// membership and, when the role needs a second factor the account lacked,
// its new TOTP enrolment (shown once).
type Acceptance struct {
	User      User
	CompanyID uuid.UUID
	Role      Role
	TOTP      *Enrolment
	Created   bool // a new account was made
}

// Accept is the answer to an invitation: the token, and either a name and
// password for a new account, or the existing account's password (and
// TOTP code, if it has a second factor).
type Accept struct {
	Token, Name, Password, TOTP, IP string
}

// AcceptInvitation redeems an invitation, once. For an email without an
// account it makes one (the password under the policy); for an existing
// account it asks that account's password and second factor, so that a
// leaked token alone joins nobody to anything. Failures of an existing
// account's password count towards its lockout.
func (s *Service) AcceptInvitation(ctx context.Context, a Accept) (Acceptance, error) {
	if err := CheckCredentialInput("", a.Password, a.TOTP); err != nil {
		return Acceptance{}, err
	}
	if len(a.Token) > 200 || !strings.HasPrefix(a.Token, invitationPrefix) {
		return Acceptance{}, ErrInvitationInvalid
	}
	var out Acceptance
	var refusal error
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		now := s.now().UTC().Truncate(time.Microsecond)
		var inv Invitation
		var id uuid.UUID
		err := tx.QueryRow(ctx, `SELECT id, company_id, email, role FROM auth.invitations
			WHERE token_hash = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2 FOR UPDATE`,
			hashToken(a.Token), now).Scan(&id, &inv.CompanyID, &inv.Email, &inv.Role)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrInvitationInvalid
		}
		if err != nil {
			return fmt.Errorf("auth: read invitation: %w", err)
		}
		u, err := scanUser(tx.QueryRow(ctx, "SELECT "+userColumns+" FROM auth.users WHERE email = $1 FOR UPDATE", inv.Email))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if u, err = s.newAccount(ctx, inv.Email, a.Name, a.Password); err != nil {
				return err
			}
			if err := insertUser(ctx, tx, u, nil); err != nil {
				return err
			}
			out.Created = true
			if err := s.audit(ctx, tx, Event{Action: EvUserCreate, Outcome: "ok", UserID: u.ID, Email: u.Email, CompanyID: inv.CompanyID}); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("auth: read user: %w", err)
		default:
			if refusal = s.proveAccount(ctx, tx, u, a.Password, a.TOTP, a.IP); refusal != nil {
				return nil // commit nothing but the TOTP step; answer after
			}
		}
		inv.ID = id
		return s.join(ctx, tx, u, inv, now, a.IP, &out, map[string]any{"new_account": out.Created})
	})
	if err != nil {
		return Acceptance{}, err
	}
	if refusal != nil {
		return Acceptance{}, refusal
	}
	return out, nil
}

// join makes u a member of the invitation's company, in tx: an admin
// without a second factor gets one enrolled, the invitation is marked
// accepted, and the acceptance is audited with details.
func (s *Service) join(ctx context.Context, tx pgx.Tx, u userRow, inv Invitation, now time.Time, ip string, out *Acceptance, details map[string]any) error {
	if inv.Role == RoleAdmin && !u.HasTOTP && !u.IsGOD {
		secret, uri, err := s.enrolTOTP(ctx, tx, &u)
		if err != nil {
			return err
		}
		out.TOTP = &Enrolment{secret, uri}
	}
	if err := s.setMembership(ctx, tx, u, inv.CompanyID, inv.Role); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "UPDATE auth.invitations SET accepted_at = $2, accepted_by = $3 WHERE id = $1", inv.ID, now, u.ID); err != nil {
		return fmt.Errorf("auth: mark invitation %s accepted: %w", inv.ID, err)
	}
	out.User, out.CompanyID, out.Role = u.User, inv.CompanyID, inv.Role
	details["invitation"] = inv.ID.String()
	return s.audit(ctx, tx, Event{Action: EvInvitationAccept, Outcome: "ok", UserID: u.ID, Email: u.Email, IP: ip,
		CompanyID: inv.CompanyID, Role: inv.Role, Details: details})
}

// proveAccount checks an existing account's password and, when it has
// one, its second factor (consuming the code), under the login lockout:
// for acts that need the account proven again beyond a session.
func (s *Service) proveAccount(ctx context.Context, tx pgx.Tx, u userRow, password, code, ip string) error {
	if err := s.limiter.Admit(ctx, u.Email, ip); err != nil {
		return err
	}
	if u.Status != StatusActive {
		return ErrInvalidCredentials
	}
	ok, err := s.verify(ctx, password, u.hash)
	if err != nil {
		return err
	}
	if !ok {
		_, _ = s.limiter.Fail(ctx, u.Email, ip)
		return ErrInvalidCredentials
	}
	if u.mustChange {
		// Someone else chose this password (an admin of another
		// company, say): it proves nothing about who is answering.
		return ErrPasswordChangeRequired
	}
	if u.HasTOTP {
		// A missing or wrong code answers like a wrong password: no
		// oracle for whether the password was right.
		if code == "" {
			_, _ = s.limiter.Fail(ctx, u.Email, ip)
			return ErrInvalidCredentials
		}
		if err := s.ConsumeTOTP(ctx, tx, u.ID, code); err != nil {
			_, _ = s.limiter.Fail(ctx, u.Email, ip)
			if errors.Is(err, ErrTOTPInvalid) || errors.Is(err, ErrTOTPReplayed) || errors.Is(err, ErrTOTPNotEnrolled) {
				return ErrInvalidCredentials
			}
			return err
		}
	}
	_ = s.limiter.Succeed(ctx, u.Email, ip)
	return nil
}
