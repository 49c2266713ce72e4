package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Membership is a user's role in one company.
type Membership struct {
	CompanyID uuid.UUID `json:"company_id"`
	Role      Role      `json:"role"`
}

// Member is a user as seen from one company.
type Member struct {
	User
	Role Role `json:"role"`
}

// SetMembership gives the user role in the company, replacing any role
// they had there. An admin must have a second factor enrolled first
// (ErrTOTPNotEnrolled), since admins are required to use one.
func (s *Service) SetMembership(ctx context.Context, userID, companyID uuid.UUID, role Role) error {
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	if companyID == uuid.Nil {
		return errors.New("auth: membership needs a company")
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		u, err := s.userByID(ctx, tx, userID, "FOR SHARE")
		if err != nil {
			return err
		}
		return s.setMembership(ctx, tx, u, companyID, role)
	})
}

// setMembership is SetMembership inside tx, for a user read in it.
func (s *Service) setMembership(ctx context.Context, tx pgx.Tx, u userRow, companyID uuid.UUID, role Role) error {
	if role == RoleAdmin && !u.HasTOTP && !u.IsGOD {
		return fmt.Errorf("%w: an admin must enrol TOTP first", ErrTOTPNotEnrolled)
	}
	var prev *string
	err := tx.QueryRow(ctx, "SELECT role FROM auth.memberships WHERE user_id = $1 AND company_id = $2 FOR UPDATE", u.ID, companyID).Scan(&prev)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("auth: read membership: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO auth.memberships (user_id, company_id, role) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, company_id) DO UPDATE SET role = EXCLUDED.role`, u.ID, companyID, role); err != nil {
		return fmt.Errorf("auth: set membership: %w", err)
	}
	details := map[string]any{}
	if prev != nil {
		details["previous_role"] = *prev
	}
	return s.audit(ctx, tx, Event{Action: EvMembershipSet, Outcome: "ok", UserID: u.ID, Email: u.Email,
		CompanyID: companyID, Role: role, Details: details})
}

// RemoveMembership takes the user out of the company (ErrNotMember if
// they were not in it).
func (s *Service) RemoveMembership(ctx context.Context, userID, companyID uuid.UUID) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var prev Role
		err := tx.QueryRow(ctx, "DELETE FROM auth.memberships WHERE user_id = $1 AND company_id = $2 RETURNING role", userID, companyID).Scan(&prev)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotMember
		}
		if err != nil {
			return fmt.Errorf("auth: remove membership: %w", err)
		}
		return s.audit(ctx, tx, Event{Action: EvMembershipRemove, Outcome: "ok", UserID: userID, CompanyID: companyID, Role: prev})
	})
}

// Memberships lists the user's companies and roles.
func (s *Service) Memberships(ctx context.Context, userID uuid.UUID) ([]Membership, error) {
	rows, err := s.db.Query(ctx, "SELECT company_id, role FROM auth.memberships WHERE user_id = $1 ORDER BY company_id", userID)
	if err != nil {
		return nil, fmt.Errorf("auth: memberships of %s: %w", userID, err)
	}
	ms, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Membership, error) {
		var m Membership
		return m, r.Scan(&m.CompanyID, &m.Role)
	})
	if err != nil {
		return nil, fmt.Errorf("auth: memberships of %s: %w", userID, err)
	}
	return ms, nil
}

// Members lists the users of a company with their roles.
func (s *Service) Members(ctx context.Context, companyID uuid.UUID) ([]Member, error) {
	rows, err := s.db.Query(ctx, `SELECT u.id, u.email, u.name, u.totp_secret_enc IS NOT NULL, u.is_god, u.status, u.created_at, m.role
		FROM auth.memberships m JOIN auth.users u ON u.id = m.user_id WHERE m.company_id = $1 ORDER BY u.email`, companyID)
	if err != nil {
		return nil, fmt.Errorf("auth: members of %s: %w", companyID, err)
	}
	ms, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Member, error) {
		var m Member
		return m, r.Scan(&m.ID, &m.Email, &m.Name, &m.HasTOTP, &m.IsGOD, &m.Status, &m.CreatedAt, &m.Role)
	})
	if err != nil {
		return nil, fmt.Errorf("auth: members of %s: %w", companyID, err)
	}
	return ms, nil
}

// RoleIn is the user's role in the company: RoleGOD for GOD in every
// company, the membership's role otherwise, or ErrNotMember.
func (s *Service) RoleIn(ctx context.Context, userID, companyID uuid.UUID) (Role, error) {
	var isGOD bool
	var role *Role
	err := s.db.QueryRow(ctx, `SELECT u.is_god, m.role FROM auth.users u
		LEFT JOIN auth.memberships m ON m.user_id = u.id AND m.company_id = $2 WHERE u.id = $1`, userID, companyID).Scan(&isGOD, &role)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", ErrUserNotFound
	case err != nil:
		return "", fmt.Errorf("auth: role of %s in %s: %w", userID, companyID, err)
	case isGOD:
		return RoleGOD, nil
	case role == nil:
		return "", ErrNotMember
	}
	return *role, nil
}

// MemberCounts is how many people belong to each of the companies, in
// one query (GOD's overview asks it for every company at once). A company
// without members maps to 0. It needs no Service: it reads no secret.
func MemberCounts(ctx context.Context, db rowsQuerier, companies []uuid.UUID) (map[uuid.UUID]int, error) {
	out := make(map[uuid.UUID]int, len(companies))
	for _, id := range companies {
		out[id] = 0
	}
	if len(companies) == 0 {
		return out, nil
	}
	rows, err := db.Query(ctx, "SELECT company_id, count(*) FROM auth.memberships WHERE company_id = ANY($1) GROUP BY company_id", companies)
	if err != nil {
		return nil, fmt.Errorf("auth: member counts: %w", err)
	}
	var id uuid.UUID
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&id, &n}, func() error {
		out[id] = n
		return nil
	}); err != nil {
		return nil, fmt.Errorf("auth: member counts: %w", err)
	}
	return out, nil
}

// rowsQuerier is what MemberCounts reads through: a pool or a transaction.
type rowsQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}
