package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrLockedOut means too many logins failed for the account from this
// client (or from an unknown client, for the account overall): the next
// attempt must wait RetryAfter.
type ErrLockedOut struct {
	RetryAfter time.Duration
}

func (e ErrLockedOut) Error() string {
	return fmt.Sprintf("auth: too many failed logins; retry after %s", e.RetryAfter.Round(time.Second))
}

// Limiter slows password guessing without letting a guesser lock the
// owner out. It keeps three counters, each with the same shape (the first
// threshold failures cost nothing; after that each attempt waits a delay
// that doubles from Base up to a cap, counted from the later of the last
// failure and the last admitted attempt; a failure is remembered for
// Window after its delay ends):
//
//   - per (account, client): Threshold (5) failures, capped at Cap
//     (15 min). This is the lockout a guesser meets, and it holds only the
//     client that failed: the owner elsewhere is not touched by it.
//   - per client over every account: ClientThreshold (50), capped at Cap.
//     It stops one address spraying many accounts, and is high enough that
//     one person failing behind an office's proxy does not slow colleagues.
//   - per account over every client: AccountCeiling (100), capped at
//     CeilingCap (1 min): the brute-force ceiling against guessing spread
//     over many addresses. It slows rather than locks.
//
// A known client is exempt from the last two: one from which this account
// logged in successfully within KnownFor. Clients are addresses (IPv6 per
// /64, what one subscriber gets); a device cookie was not chosen because
// the API's clients are scripts as well as browsers, and an address that
// proved the password before is evidence a guesser elsewhere cannot fake.
// A guesser behind the owner's own address is not told apart; they meet
// the per-(account, client) lockout like the owner would.
//
// State lives in PostgreSQL (auth.login_failures, auth.known_clients),
// the same store as the accounts: a Redis crash, restart or lost AOF does
// not reset the counts. Admitting an attempt past a threshold reserves
// the next delay in the same row-locked transaction, so concurrent guesses
// are admitted one per delay, not all together.
type Limiter struct {
	db  DB
	now func() time.Time

	Threshold       int
	ClientThreshold int
	AccountCeiling  int
	Base            time.Duration
	Cap             time.Duration
	CeilingCap      time.Duration
	Window          time.Duration
	KnownFor        time.Duration
}

// NewLimiter returns a limiter with the defaults above, its state in db
// (the auth schema's tables).
func NewLimiter(db DB, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{db: db, now: now,
		Threshold: 5, ClientThreshold: 50, AccountCeiling: 100,
		Base: time.Second, Cap: 15 * time.Minute, CeilingCap: time.Minute,
		Window: 15 * time.Minute, KnownFor: 90 * 24 * time.Hour}
}

// counter is one throttled key with its threshold and cap.
type counter struct {
	key       string
	threshold int
	cap       time.Duration
}

func (l *Limiter) delay(n int64, threshold int, cap time.Duration) time.Duration {
	if n < int64(threshold) {
		return 0
	}
	e := n - int64(threshold)
	if e >= 62 || l.Base > cap>>e {
		return cap
	}
	return l.Base << e
}

// Delay is the wait imposed after n failures of one account from one
// client.
func (l *Limiter) Delay(n int64) time.Duration { return l.delay(n, l.Threshold, l.Cap) }

// accountID is the email as the throttle stores it: hashed, so that its
// tables do not list who is being attacked.
func accountID(email string) string {
	h := sha256.Sum256([]byte(normalizeEmail(email)))
	return hex.EncodeToString(h[:16])
}

// ClientOf is the client an address counts as: IPv6 per /64, anything
// unparsable with its control characters masked.
func ClientOf(ip string) string {
	if a, err := netip.ParseAddr(ip); err == nil {
		a = a.Unmap()
		if a.Is6() {
			p, _ := a.Prefix(64)
			return p.String()
		}
		return a.String()
	}
	if len(ip) > 64 {
		ip = ip[:64]
	}
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r > '~' {
			return '_'
		}
		return r
	}, ip)
}

// PairKey, ClientKey and AccountKey name the counters.
func (l *Limiter) PairKey(email, ip string) string {
	return "pair:" + accountID(email) + ":" + ClientOf(ip)
}
func (l *Limiter) ClientKey(ip string) string     { return "client:" + ClientOf(ip) }
func (l *Limiter) AccountKey(email string) string { return "account:" + accountID(email) }

// Known reports whether the account logged in successfully from this
// client within KnownFor.
func (l *Limiter) Known(ctx context.Context, email, ip string) (bool, error) {
	var known bool
	err := l.db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM auth.known_clients WHERE account = $1 AND client = $2 AND last_ok > $3)",
		accountID(email), ClientOf(ip), l.now().Add(-l.KnownFor)).Scan(&known)
	if err != nil {
		return false, fmt.Errorf("auth: known clients: %w", err)
	}
	return known, nil
}

// counters are what an attempt on email from ip is held to: all three for
// an unknown client, only its own pair for a known one.
func (l *Limiter) counters(email, ip string, known bool) []counter {
	cs := []counter{{l.PairKey(email, ip), l.Threshold, l.Cap}}
	if !known {
		cs = append(cs, counter{l.ClientKey(ip), l.ClientThreshold, l.Cap},
			counter{l.AccountKey(email), l.AccountCeiling, l.CeilingCap})
	}
	return cs
}

// Admit returns ErrLockedOut when this attempt must still wait, and nil
// when it may proceed. A database failure is returned as an error: the
// caller refuses the login rather than let guessing run unchecked.
func (l *Limiter) Admit(ctx context.Context, email, ip string) error {
	known, err := l.Known(ctx, email, ip)
	if err != nil {
		return err
	}
	now := l.now().UTC()
	var wait time.Duration
	err = pgx.BeginFunc(ctx, l.db, func(tx pgx.Tx) error {
		type reservation struct {
			key string
			d   time.Duration
		}
		var reserve []reservation
		for _, c := range l.counters(email, ip, known) {
			var n int64
			var until time.Time
			err := tx.QueryRow(ctx, "SELECT failures, until FROM auth.login_failures WHERE key = $1 AND expires_at > $2 FOR UPDATE",
				c.key, now).Scan(&n, &until)
			if errors.Is(err, pgx.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			if until.After(now) {
				wait = max(wait, until.Sub(now))
			} else if d := l.delay(n, c.threshold, c.cap); d > 0 {
				reserve = append(reserve, reservation{c.key, d})
			}
		}
		if wait > 0 {
			return nil // refused: reserve nothing
		}
		// Admitted past a threshold: this attempt takes the next slot.
		for _, r := range reserve {
			if _, err := tx.Exec(ctx, "UPDATE auth.login_failures SET until = $2, expires_at = $3 WHERE key = $1",
				r.key, now.Add(r.d), now.Add(r.d+l.Window)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("auth: lockout state: %w", err)
	}
	if wait > 0 {
		return ErrLockedOut{RetryAfter: wait}
	}
	return nil
}

// Failures are the counts after a failed attempt was recorded.
type Failures struct {
	Pair    int64 // this account from this client
	IP      int64 // this client over every account
	Account int64 // this account over every client
}

// Engaged reports whether this failure is the one that started the
// delays of a counter (a security event).
func (l *Limiter) Engaged(f Failures) bool {
	return f.Pair == int64(l.Threshold) || f.IP == int64(l.ClientThreshold) || f.Account == int64(l.AccountCeiling)
}

// Fail records a failed attempt on email from ip in every counter (a
// known client's failures count towards the ceiling too, though it is not
// held to it).
func (l *Limiter) Fail(ctx context.Context, email, ip string) (Failures, error) {
	now := l.now().UTC()
	var f Failures
	err := pgx.BeginFunc(ctx, l.db, func(tx pgx.Tx) error {
		for i, c := range l.counters(email, ip, false) {
			var n int64
			var until time.Time
			err := tx.QueryRow(ctx, `INSERT INTO auth.login_failures AS f (key, failures, until, expires_at) VALUES ($1, 1, $2, $3)
				ON CONFLICT (key) DO UPDATE SET
					failures = CASE WHEN f.expires_at > $2 THEN f.failures + 1 ELSE 1 END,
					until = CASE WHEN f.expires_at > $2 THEN f.until ELSE $2 END
				RETURNING failures, until`, c.key, now, now.Add(l.Window)).Scan(&n, &until)
			if err != nil {
				return err
			}
			if d := l.delay(n, c.threshold, c.cap); d > 0 && now.Add(d).After(until) {
				until = now.Add(d)
			}
			if until.Before(now) {
				until = now
			}
			if _, err := tx.Exec(ctx, "UPDATE auth.login_failures SET until = $2, expires_at = $3 WHERE key = $1",
				c.key, until, until.Add(l.Window)); err != nil {
				return err
			}
			switch i {
			case 0:
				f.Pair = n
			case 1:
				f.IP = n
			case 2:
				f.Account = n
			}
		}
		return nil
	})
	if err != nil {
		return f, fmt.Errorf("auth: record failed login: %w", err)
	}
	return f, nil
}

// Succeed forgets the failures of this account from this client and
// remembers the client as known. The client's count over other accounts
// and the account's ceiling stay: one good login does not clear a
// guesser's record.
func (l *Limiter) Succeed(ctx context.Context, email, ip string) error {
	now := l.now().UTC()
	err := pgx.BeginFunc(ctx, l.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM auth.login_failures WHERE key = $1", l.PairKey(email, ip)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO auth.known_clients (account, client, last_ok) VALUES ($1, $2, $3)
			ON CONFLICT (account, client) DO UPDATE SET last_ok = excluded.last_ok`, accountID(email), ClientOf(ip), now)
		return err
	})
	if err != nil {
		return fmt.Errorf("auth: reset failed logins: %w", err)
	}
	return nil
}

// Prune deletes throttle state that no longer holds anything back.
func (l *Limiter) Prune(ctx context.Context) (int64, error) {
	now := l.now()
	var n int64
	for _, q := range []struct {
		sql string
		arg time.Time
	}{
		{"DELETE FROM auth.login_failures WHERE expires_at < $1", now},
		{"DELETE FROM auth.known_clients WHERE last_ok < $1", now.Add(-l.KnownFor)},
	} {
		tag, err := l.db.Exec(ctx, q.sql, q.arg)
		if err != nil {
			return n, fmt.Errorf("auth: prune login throttle: %w", err)
		}
		n += tag.RowsAffected()
	}
	return n, nil
}
