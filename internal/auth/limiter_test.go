package auth

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"
)

func newTestLimiter(t *testing.T) (*Limiter, *clock) {
	c := newClock()
	prefix := "test:" + t.Name() + ":"
	t.Cleanup(func() { clearPrefix(prefix) })
	return NewLimiter(redisClient, prefix, c.Now), c
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
	l, _ := newTestLimiter(t)
	for n, want := range map[int64]time.Duration{
		0: 0, 4: 0, 5: time.Second, 6: 2 * time.Second, 7: 4 * time.Second, 14: 512 * time.Second,
		15: 15 * time.Minute, 16: 15 * time.Minute, 1000: 15 * time.Minute,
	} {
		if got := l.Delay(n); got != want {
			t.Errorf("delay after %d failures: %v, want %v", n, got, want)
		}
	}
}

func TestLimiterLocksOutExponentially(t *testing.T) {
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
		if f.Account != int64(i) || f.IP != int64(i) {
			t.Fatalf("after %d failures: %+v", i, f)
		}
		if f.Engaged(5) != (i == 5) {
			t.Errorf("engaged after %d failures: %v", i, f.Engaged(5))
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

	// The stored state: 9 failures, next attempt at now + 16 s, the key
	// expiring a window after that. The email is not in the key.
	key := l.AccountKey(email)
	if key != l.AccountKey("  mwangi@example.CO.KE ") {
		t.Error("account key depends on case or spaces")
	}
	st, err := redisClient.HGetAll(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	until := c.Now().Add(16 * time.Second).UnixMilli()
	if st["n"] != "9" || st["until"] != strconv.FormatInt(until, 10) {
		t.Fatalf("stored state %v, want n=9 until=%d", st, until)
	}
	exp, err := redisClient.PExpireTime(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Duration(until)*time.Millisecond + l.Window; exp != want {
		t.Errorf("key expires at %v, want %v", exp, want)
	}

	// A success forgets the account's failures but not the address's.
	if err := l.Succeed(ctx, email); err != nil {
		t.Fatal(err)
	}
	if err := l.Admit(ctx, email, "203.0.113.9"); err != nil {
		t.Fatalf("account still locked after a success: %v", err)
	}
	lockedFor(t, l.Admit(ctx, "someone-else@example.co.ke", ip))

	// When the key's time is up, Redis forgets it: set the expiry into
	// the past instead of waiting.
	if err := redisClient.PExpireAt(ctx, l.IPKey(ip), time.Now().Add(-time.Second)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := l.Admit(ctx, "someone-else@example.co.ke", ip); err != nil {
		t.Fatalf("address still locked after its key expired: %v", err)
	}
}

func TestLimiterFewFailuresExpireAfterWindow(t *testing.T) {
	l, c := newTestLimiter(t)
	ctx := context.Background()
	if _, err := l.Fail(ctx, "a@example.com", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	exp, err := redisClient.PExpireTime(ctx, l.IPKey("192.0.2.1")).Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Duration(c.Now().UnixMilli())*time.Millisecond + l.Window; exp != want {
		t.Errorf("expiry %v, want %v", exp, want)
	}
}

func TestLimiterAdmitsOneConcurrentGuessPerDelay(t *testing.T) {
	l, c := newTestLimiter(t)
	ctx := context.Background()
	for range 5 {
		if _, err := l.Fail(ctx, "target@example.com", ""); err != nil {
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
			err := l.Admit(ctx, "target@example.com", "")
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

func TestLimiterIPKeys(t *testing.T) {
	l, _ := newTestLimiter(t)
	for _, tc := range []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"}, // one /64
		{"::ffff:192.0.2.1", "192.0.2.1"},           // mapped IPv4
	} {
		if l.IPKey(tc.a) != l.IPKey(tc.b) {
			t.Errorf("%s and %s counted apart: %s vs %s", tc.a, tc.b, l.IPKey(tc.a), l.IPKey(tc.b))
		}
	}
	if l.IPKey("2001:db8:1:2::1") == l.IPKey("2001:db8:1:3::1") {
		t.Error("different /64s counted together")
	}
	if k := l.IPKey("bad ip\n"); k != l.prefix+"auth:fail:ip:bad_ip_" {
		t.Errorf("unparsable address key %q", k)
	}
}
