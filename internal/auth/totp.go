package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP settings every authenticator app understands: 30-second steps, six
// digits, HMAC-SHA1. A code is accepted one step either side of now, for
// clocks that drift and people who type slowly.
const (
	totpPeriod = 30
	totpSkew   = 1
	totpDigits = otp.DigitsSix
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}

// TOTP errors. A replayed code is also ErrTOTPInvalid, so callers that do
// not care why need test only one.
var (
	ErrTOTPInvalid     = errors.New("auth: TOTP code is not valid")
	ErrTOTPReplayed    = fmt.Errorf("%w: already used", ErrTOTPInvalid)
	ErrTOTPNotEnrolled = errors.New("auth: no TOTP secret enrolled")
)

// NewTOTP makes a fresh secret (160 random bits, base32) and the otpauth
// URI that enrols it in an authenticator app (shown as a QR code).
func NewTOTP(issuer, account string) (secret, uri string, err error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: account, Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", "", fmt.Errorf("auth: new TOTP secret: %w", err)
	}
	return key.Secret(), key.URL(), nil
}

// totpStep is the time step containing t.
func totpStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// TOTPCode is the code for secret at time t (for tests and enrolment
// checks).
func TOTPCode(secret string, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, t, totpOpts)
}

// matchTOTP returns the time step whose code is code, looking one step
// either side of now and preferring the newest, or false. Every candidate
// is computed and compared in constant time.
func matchTOTP(secret, code string, now time.Time) (int64, bool) {
	if len(code) != totpDigits.Length() {
		return 0, false
	}
	cur := totpStep(now)
	var found int64
	ok := false
	for step := cur - totpSkew; step <= cur+totpSkew; step++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), totpOpts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			found, ok = step, true
		}
	}
	return found, ok
}

// VerifyTOTP checks code against secret at now, with one step of skew
// either way, without replay protection (ConsumeTOTP adds that).
func VerifyTOTP(secret, code string, now time.Time) bool {
	_, ok := matchTOTP(secret, code, now)
	return ok
}

const totpPurpose = "auth.totp"

// sealTOTP wraps a TOTP secret for storage, bound to its user.
func (s *Service) sealTOTP(userID uuid.UUID, secret string) ([]byte, error) {
	ct, err := s.sealer.Seal(totpPurpose, []byte(userID.String()), []byte(secret))
	if err != nil {
		return nil, fmt.Errorf("auth: seal TOTP secret: %w", err)
	}
	return ct, nil
}

// ConsumeTOTP accepts code for the user once: the code must match a time
// step later than the last one accepted, and that step is recorded with a
// conditional UPDATE, so of several requests racing with one code exactly
// one wins, and a code seen once never works again. Run it in the
// transaction that acts on the login, so that a rollback gives the step
// back.
func (s *Service) ConsumeTOTP(ctx context.Context, q Querier, userID uuid.UUID, code string) error {
	var enc []byte
	var last int64
	err := q.QueryRow(ctx, "SELECT totp_secret_enc, totp_last_step FROM auth.users WHERE id = $1", userID).Scan(&enc, &last)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrUserNotFound
	}
	if err != nil {
		return fmt.Errorf("auth: read TOTP state of %s: %w", userID, err)
	}
	if enc == nil {
		return ErrTOTPNotEnrolled
	}
	secret, err := s.sealer.Open(totpPurpose, []byte(userID.String()), enc)
	if err != nil {
		return fmt.Errorf("auth: open TOTP secret of %s: %w", userID, err)
	}
	defer wipe(secret)
	step, ok := matchTOTP(string(secret), code, s.now())
	if !ok {
		return ErrTOTPInvalid
	}
	if step <= last {
		return ErrTOTPReplayed
	}
	tag, err := q.Exec(ctx, "UPDATE auth.users SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2", userID, step)
	if err != nil {
		return fmt.Errorf("auth: record TOTP step of %s: %w", userID, err)
	}
	if tag.RowsAffected() != 1 {
		return ErrTOTPReplayed
	}
	return nil
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
