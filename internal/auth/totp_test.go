package auth

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestNewTOTPAndSkew(t *testing.T) {
	t.Parallel()
	secret, uri, err := NewTOTP("Vanta Ledger", "amina@example.co.ke")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" {
		t.Fatalf("uri %q: %v", uri, err)
	}
	q := u.Query()
	if q.Get("secret") != secret || q.Get("issuer") != "Vanta Ledger" || q.Get("digits") != "6" || q.Get("period") != "30" {
		t.Errorf("uri query %v", q)
	}
	if len(secret) < 32 {
		t.Errorf("secret %q shorter than 160 bits", secret)
	}
	now := time.Date(2026, 3, 1, 8, 0, 15, 0, time.UTC)
	for _, tc := range []struct {
		offset time.Duration
		ok     bool
	}{
		{0, true}, {-30 * time.Second, true}, {30 * time.Second, true},
		{-60 * time.Second, false}, {60 * time.Second, false},
	} {
		code, _ := TOTPCode(secret, now.Add(tc.offset))
		if got := VerifyTOTP(secret, code, now); got != tc.ok {
			t.Errorf("code from %v away: accepted=%v, want %v", tc.offset, got, tc.ok)
		}
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		if VerifyTOTP(secret, bad, now) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestTOTPCannotBeReplayed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	god, secret := e.god()
	code := e.code(secret)
	if err := e.svc.ConsumeTOTP(ctx, e.pool, god.ID, code); err != nil {
		t.Fatalf("first use: %v", err)
	}
	err := e.svc.ConsumeTOTP(ctx, e.pool, god.ID, code)
	if !errors.Is(err, ErrTOTPReplayed) || !errors.Is(err, ErrTOTPInvalid) {
		t.Fatalf("second use: %v", err)
	}
	// Still refused when the clock moves on while the code remains
	// within the skew window.
	e.clock.Advance(30 * time.Second)
	if err := e.svc.ConsumeTOTP(ctx, e.pool, god.ID, code); !errors.Is(err, ErrTOTPReplayed) {
		t.Fatalf("old code in the skew window: %v", err)
	}
	// The next step's code works once.
	if err := e.svc.ConsumeTOTP(ctx, e.pool, god.ID, e.code(secret)); err != nil {
		t.Fatalf("next step: %v", err)
	}
	// A code from an earlier step than the last accepted one is refused
	// even if it was never used.
	e.clock.Advance(30 * time.Second)
	earlier, _ := TOTPCode(secret, e.clock.Now().Add(-60*time.Second))
	if err := e.svc.ConsumeTOTP(ctx, e.pool, god.ID, earlier); !errors.Is(err, ErrTOTPInvalid) {
		t.Fatalf("earlier step: %v", err)
	}
	cur := []byte(e.code(secret))
	cur[5] = '0' + (cur[5]-'0'+1)%10
	if err := e.svc.ConsumeTOTP(ctx, e.pool, god.ID, string(cur)); !errors.Is(err, ErrTOTPInvalid) {
		t.Fatalf("wrong code: %v", err)
	}
}

func TestTOTPConcurrentUseWinsOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	god, secret := e.god()
	code := e.code(secret)
	const n = 10
	// Every request reads the last step before any of them writes: the
	// worst interleaving, where only the conditional UPDATE stands
	// between one code and ten logins.
	barrier := &writeBarrier{Querier: e.pool, n: n, all: make(chan struct{})}
	won := raceWinners(t, n, ErrTOTPReplayed, func(i int) error {
		return e.svc.ConsumeTOTP(ctx, barrier, god.ID, code)
	})
	if won != 1 {
		t.Fatalf("%d of %d concurrent uses of one code succeeded, want exactly 1", won, n)
	}
}

// writeBarrier is the real database with every Exec held until n callers
// have reached one.
type writeBarrier struct {
	Querier
	n       int32
	arrived atomic.Int32
	all     chan struct{}
}

func (b *writeBarrier) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if b.arrived.Add(1) == b.n {
		close(b.all)
	}
	<-b.all
	return b.Querier.Exec(ctx, sql, args...)
}

func TestTOTPSecretIsSealed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	god, secret := e.god()
	var enc []byte
	if err := e.pool.QueryRow(ctx, "SELECT totp_secret_enc FROM auth.users WHERE id = $1", god.ID).Scan(&enc); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(enc), secret) {
		t.Fatal("TOTP secret stored in the clear")
	}
	// Bound to its user: copied onto another user, it does not open.
	other := e.user("juma@example.co.ke")
	if _, err := e.pool.Exec(ctx, "UPDATE auth.users SET totp_secret_enc = $1 WHERE id = $2", enc, other.ID); err != nil {
		t.Fatal(err)
	}
	err := e.svc.ConsumeTOTP(ctx, e.pool, other.ID, e.code(secret))
	if err == nil || errors.Is(err, ErrTOTPInvalid) {
		t.Fatalf("secret copied to another user: %v", err)
	}
}
