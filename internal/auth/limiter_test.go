package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func newTestLimiter(t *testing.T) (*Limiter, *clock) {
	e := newEnv(t)
	return e.svc.Limiter(), e.clock
}

func lockedFor(t *testing.T, err error) time.Duration {
	t.Helper()
	var lo ErrLockedOut
	if !errors.As(err, &lo) {
		t.Fatalf("not locked out: %v", err)
	}
	return lo.RetryAfter
}

func TestLimiterDelays(t *testing.T) {
	t.Parallel()
	l := NewLimiter(nil, nil)
	for n, want := range map[int64]time.Duration{
		0: 0, 4: 0, 5: time.Second, 6: 2 * time.Second, 7: 4 * time.Second, 14: 512 * time.Second,
		15: 15 * time.Minute, 16: 15 * time.Minute, 1000: 15 * time.Minute,
	} {
		if got := l.Delay(n); got != want {
			t.Errorf("delay after %d failures: %v, want %v", n, got, want)
		}
	}
	// The ceiling slows and never locks for long.
	if got := l.delay(10_000, l.AccountCeiling, l.CeilingCap); got != time.Minute {
		t.Errorf("ceiling delay %v", got)
	}
}

func TestLimiterLocksOutExponentially(t *testing.T) {
	t.Parallel()
	l, c := newTestLimiter(t)
	ctx := context.Background()
	const email, ip = "Mwangi@Example.co.ke", "198.51.100.7"
	for i := 1; i <= 5; i++ {
		if err := l.Admit(ctx, email, ip); err != nil {
			t.Fatalf("attempt %d refused: %v", i, err)
		}
		f, err := l.Fail(ctx, email, ip)
		if err != nil {
			t.Fatal(err)
		}
		if f.Pair != int64(i) || f.IP != int64(i) || f.Account != int64(i) {
			t.Fatalf("after %d failures: %+v", i, f)
		}
		if l.Engaged(f) != (i == 5) {
			t.Errorf("engaged after %d failures: %v", i, l.Engaged(f))
		}
	}
	// Each further attempt waits 1 s, 2 s, 4 s, … after the last failure.
	for i, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		if got := lockedFor(t, l.Admit(ctx, email, ip)); got != wait {
			t.Fatalf("round %d: retry after %v, want %v", i, got, wait)
		}
		c.Advance(wait - time.Millisecond)
		if got := lockedFor(t, l.Admit(ctx, email, ip)); got != time.Millisecond {
			t.Fatalf("round %d, just before: retry after %v", i, got)
		}
		c.Advance(time.Millisecond)
		if err := l.Admit(ctx, email, ip); err != nil {
			t.Fatalf("round %d: not admitted after the delay: %v", i, err)
		}
		if _, err := l.Fail(ctx, email, ip); err != nil {
			t.Fatal(err)
		}
	}
	if l.PairKey(email, ip) != l.PairKey("  mwangi@example.CO.KE ", ip) {
		t.Error("key depends on case or spaces")
	}
	// The stored state: 9 failures, the next attempt 16 s on, the row
	// expiring a window after that; the email is not in the key.
	var n int64
	var until, exp time.Time
	if err := l.db.QueryRow(ctx, "SELECT failures, until, expires_at FROM auth.login_failures WHERE key = $1", l.PairKey(email, ip)).
		Scan(&n, &until, &exp); err != nil {
		t.Fatal(err)
	}
	if want := c.Now().Add(16 * time.Second); n != 9 || !until.Equal(want) || !exp.Equal(want.Add(l.Window)) {
		t.Fatalf("stored %d until %v expires %v, want 9, %v", n, until, exp, want)
	}

	// A success from elsewhere forgets that client's failures only.
	if err := l.Succeed(ctx, email, "203.0.113.9"); err != nil {
		t.Fatal(err)
	}
	lockedFor(t, l.Admit(ctx, email, ip))
	// Past the window the state is gone.
	c.Advance(16*time.Second + l.Window + time.Millisecond)
	if err := l.Admit(ctx, email, ip); err != nil {
		t.Fatalf("still locked after the window: %v", err)
	}
}

// Hole 7: five wrong passwords from anywhere used to lock the real owner
// out for up to 15 minutes. The attacker's address is held; the owner's
// address, which signed in before, is not.
func TestLimiterAttackerCannotLockOutOwner(t *testing.T) {
	t.Parallel()
	l, _ := newTestLimiter(t)
	ctx := context.Background()
	const owner, ownerIP, attackerIP = "god@vanta.example", "192.0.2.10", "198.51.100.66"
	if err := l.Succeed(ctx, owner, ownerIP); err != nil { // the owner signed in before
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := l.Admit(ctx, owner, attackerIP); err == nil {
			if _, err := l.Fail(ctx, owner, attackerIP); err != nil {
				t.Fatal(err)
			}
		}
	}
	lockedFor(t, l.Admit(ctx, owner, attackerIP))
	if err := l.Admit(ctx, owner, ownerIP); err != nil {
		t.Fatalf("owner from a known address locked out by an attacker elsewhere: %v", err)
	}
	// A new address of the owner's is not held by the attacker's pair
	// either (the ceiling is far away).
	if err := l.Admit(ctx, owner, "203.0.113.20"); err != nil {
		t.Fatalf("owner from a new address locked out: %v", err)
	}
}

// Hole 7: behind an office's proxy, one person failing does not lock a
// colleague's sign-in from the same address.
func TestLimiterOfficeAddressIsShared(t *testing.T) {
	t.Parallel()
	l, _ := newTestLimiter(t)
	ctx := context.Background()
	const office = "192.0.2.99"
	for i := 0; i < 10; i++ {
		if err := l.Admit(ctx, "forgetful@example.co.ke", office); err == nil {
			if _, err := l.Fail(ctx, "forgetful@example.co.ke", office); err != nil {
				t.Fatal(err)
			}
		}
	}
	lockedFor(t, l.Admit(ctx, "forgetful@example.co.ke", office))
	if err := l.Admit(ctx, "colleague@example.co.ke", office); err != nil {
		t.Fatalf("colleague locked out by another account's failures: %v", err)
	}
}

// Hole 7: the brute-force ceiling holds against guesses spread over many
// addresses, each below its own threshold; the owner's known address is
// not held by it.
func TestLimiterCeilingHoldsAcrossAddresses(t *testing.T) {
	t.Parallel()
	l, _ := newTestLimiter(t)
	l.AccountCeiling = 20
	ctx := context.Background()
	const victim, ownerIP = "victim@example.co.ke", "192.0.2.10"
	if err := l.Succeed(ctx, victim, ownerIP); err != nil {
		t.Fatal(err)
	}
	var f Failures
	for i := 0; i < 20; i++ {
		ip := fmt.Sprintf("198.51.100.%d", i+1) // a distinct client each
		if err := l.Admit(ctx, victim, ip); err != nil {
			t.Fatalf("guess %d refused before the ceiling: %v", i, err)
		}
		var err error
		if f, err = l.Fail(ctx, victim, ip); err != nil {
			t.Fatal(err)
		}
	}
	if f.Account != 20 || !l.Engaged(f) {
		t.Fatalf("ceiling count %+v", f)
	}
	wait := lockedFor(t, l.Admit(ctx, victim, "203.0.113.200"))
	if wait > l.CeilingCap {
		t.Errorf("the ceiling locks for %v, more than its cap", wait)
	}
	if err := l.Admit(ctx, victim, ownerIP); err != nil {
		t.Fatalf("owner's known address held by the ceiling: %v", err)
	}
}

// The state is in PostgreSQL: a new limiter (another process, or after
// Redis lost everything) sees the same counts.
func TestLimiterStateSurvivesRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for range 5 {
		if _, err := e.svc.Limiter().Fail(ctx, "target@example.com", "198.51.100.1"); err != nil {
			t.Fatal(err)
		}
	}
	clearPrefix(e.prefix) // Redis lost everything
	lockedFor(t, e.restart().Limiter().Admit(ctx, "target@example.com", "198.51.100.1"))
}

func TestLimiterAdmitsOneConcurrentGuessPerDelay(t *testing.T) {
	t.Parallel()
	l, c := newTestLimiter(t)
	ctx := context.Background()
	for range 5 {
		if _, err := l.Fail(ctx, "target@example.com", "198.51.100.2"); err != nil {
			t.Fatal(err)
		}
	}
	c.Advance(time.Second)
	const n = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted := 0
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := l.Admit(ctx, "target@example.com", "198.51.100.2")
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				admitted++
			} else if lockedFor(t, err) <= 0 {
				t.Error("locked out with no wait")
			}
		}()
	}
	wg.Wait()
	if admitted != 1 {
		t.Fatalf("%d of %d concurrent attempts admitted past the threshold, want 1", admitted, n)
	}
}

func TestLimiterClients(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"}, // one /64
		{"::ffff:192.0.2.1", "192.0.2.1"},           // mapped IPv4
	} {
		if ClientOf(tc.a) != ClientOf(tc.b) {
			t.Errorf("%s and %s counted apart: %s vs %s", tc.a, tc.b, ClientOf(tc.a), ClientOf(tc.b))
		}
	}
	if ClientOf("2001:db8:1:2::1") == ClientOf("2001:db8:1:3::1") {
		t.Error("different /64s counted together")
	}
	if k := ClientOf("bad ip\n"); k != "bad_ip_" {
		t.Errorf("unparsable address %q", k)
	}
}
