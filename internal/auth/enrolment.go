package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

const totpPendingPurpose = "auth.totp.pending"

// ErrNoPendingEnrolment: a confirmation without an enrolment begun.
var ErrNoPendingEnrolment = errors.New("auth: no TOTP enrolment is waiting for confirmation")

// Audit action of a begun enrolment (EvTOTPEnroll marks it confirmed).
const EvTOTPEnrollBegin = "auth.totp.enroll_begin"

// BeginTOTPEnrolment gives the user a new TOTP secret to add to their
// authenticator; it replaces nothing until ConfirmTOTPEnrolment sees a
// code from it, so a secret that was never saved locks nobody out. The
// caller proves the account again: its password and, when it has a
// second factor already, a current code, so that a stolen session alone
// cannot swap the factor. A wrong password counts towards the lockout.
// GOD's factor changes only by break-glass.
func (s *Service) BeginTOTPEnrolment(ctx context.Context, userID uuid.UUID, password, code, ip string) (Enrolment, error) {
	var out Enrolment
	var refusal error
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		u, err := s.userByID(ctx, tx, userID, "FOR UPDATE")
		if err != nil {
			return err
		}
		if u.IsGOD {
			return ErrGODImmutable
		}
		if refusal = s.proveAccount(ctx, tx, u, password, code, ip); refusal != nil {
			return nil // commit nothing but the lockout count
		}
		secret, uri, err := NewTOTP(s.issuer, u.Email)
		if err != nil {
			return err
		}
		enc, err := s.sealer.Seal(totpPendingPurpose, []byte(u.ID.String()), []byte(secret))
		if err != nil {
			return fmt.Errorf("auth: seal pending TOTP secret: %w", err)
		}
		if _, err := tx.Exec(ctx, "UPDATE auth.users SET totp_pending_enc = $2 WHERE id = $1", u.ID, enc); err != nil {
			return fmt.Errorf("auth: store pending TOTP secret: %w", err)
		}
		out = Enrolment{secret, uri}
		return s.audit(ctx, tx, Event{Action: EvTOTPEnrollBegin, Outcome: "ok", UserID: u.ID, Email: u.Email, IP: ip})
	})
	if err != nil {
		return Enrolment{}, err
	}
	return out, refusal
}

// ConfirmTOTPEnrolment makes the pending secret the user's second factor
// once code, from it, checks; the code's time step counts as used.
func (s *Service) ConfirmTOTPEnrolment(ctx context.Context, userID uuid.UUID, code string) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var pending []byte
		var email string
		err := tx.QueryRow(ctx, "SELECT totp_pending_enc, email FROM auth.users WHERE id = $1 FOR UPDATE", userID).Scan(&pending, &email)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrUserNotFound
		}
		if err != nil {
			return fmt.Errorf("auth: read pending TOTP of %s: %w", userID, err)
		}
		if pending == nil {
			return ErrNoPendingEnrolment
		}
		secret, err := s.sealer.Open(totpPendingPurpose, []byte(userID.String()), pending)
		if err != nil {
			return fmt.Errorf("auth: open pending TOTP secret of %s: %w", userID, err)
		}
		defer wipe(secret)
		step, ok := matchTOTP(string(secret), code, s.now())
		if !ok {
			return ErrTOTPInvalid
		}
		enc, err := s.sealTOTP(userID, string(secret))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE auth.users SET totp_secret_enc = $2, totp_pending_enc = NULL, totp_last_step = $3 WHERE id = $1",
			userID, enc, step); err != nil {
			return fmt.Errorf("auth: store TOTP secret: %w", err)
		}
		return s.audit(ctx, tx, Event{Action: EvTOTPEnroll, Outcome: "ok", UserID: userID, Email: email})
	})
}
