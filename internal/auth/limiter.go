package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrLockedOut means too many logins failed for the account or from the
// address: the next attempt must wait RetryAfter.
type ErrLockedOut struct {
	RetryAfter time.Duration
}

func (e ErrLockedOut) Error() string {
	return fmt.Sprintf("auth: too many failed logins; retry after %s", e.RetryAfter.Round(time.Second))
}

// Limiter slows password guessing, per account and per client address.
// The first Threshold failures cost nothing; after that each attempt must
// wait Base, then twice that, and so on up to Cap, counted from the later
// of the last failure and the last admitted attempt. A failure is
// remembered for Window after its delay ends; a successful login forgets
// the account's failures (but not the address's, so one good account does
// not clear a guesser's address).
//
// State lives in Redis, one hash per key with fields n (failures) and
// until (unix ms before which no attempt is admitted), each key with an
// absolute expiry. Admitting an attempt past the threshold reserves the
// next delay at once, so concurrent guesses are admitted one per delay,
// not all together.
type Limiter struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time

	Threshold int
	Base      time.Duration
	Cap       time.Duration
	Window    time.Duration
}

// NewLimiter returns a limiter with the defaults: 5 failures, then 1 s
// doubling to 15 min, remembered for 15 min. Keys are prefix+"auth:fail:…".
func NewLimiter(rdb redis.UniversalClient, prefix string, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{rdb: rdb, prefix: prefix, now: now,
		Threshold: 5, Base: time.Second, Cap: 15 * time.Minute, Window: 15 * time.Minute}
}

// Delay is the wait imposed after n failures.
func (l *Limiter) Delay(n int64) time.Duration {
	if n < int64(l.Threshold) {
		return 0
	}
	e := n - int64(l.Threshold)
	if e >= 62 || l.Base > l.Cap>>e {
		return l.Cap
	}
	return l.Base << e
}

// AccountKey and IPKey are the Redis keys for an account and an address.
// The email is hashed so that keys do not list who is being attacked.
// IPv6 addresses count per /64, which is what one subscriber gets.
func (l *Limiter) AccountKey(email string) string {
	h := sha256.Sum256([]byte(normalizeEmail(email)))
	return l.prefix + "auth:fail:acct:" + hex.EncodeToString(h[:])
}

func (l *Limiter) IPKey(ip string) string {
	if a, err := netip.ParseAddr(ip); err == nil {
		a = a.Unmap()
		if a.Is6() {
			p, _ := a.Prefix(64)
			ip = p.String()
		} else {
			ip = a.String()
		}
	} else {
		ip = strings.Map(func(r rune) rune {
			if r <= ' ' || r > '~' {
				return '_'
			}
			return r
		}, ip)
	}
	return l.prefix + "auth:fail:ip:" + ip
}

func (l *Limiter) keys(email, ip string) []string {
	keys := []string{l.AccountKey(email)}
	if ip != "" {
		keys = append(keys, l.IPKey(ip))
	}
	return keys
}

// delayLua computes the delay after n failures; ARGV[2..4] are threshold,
// base ms and cap ms.
const delayLua = `
local function delay(n)
	local th, base, cap = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
	if n < th then return 0 end
	local e = n - th
	if e > 40 then return cap end
	local d = base * (2 ^ e)
	if d > cap then return cap end
	return d
end
`

// admitScript: refuse while until is in the future; past the threshold,
// reserve the next delay for this attempt.
var admitScript = redis.NewScript(delayLua + `
local now, window = tonumber(ARGV[1]), tonumber(ARGV[5])
local st = redis.call('HMGET', KEYS[1], 'n', 'until')
local n = tonumber(st[1]) or 0
local u = tonumber(st[2]) or 0
if u > now then return u - now end
if n >= tonumber(ARGV[2]) then
	u = now + delay(n)
	redis.call('HSET', KEYS[1], 'until', u)
	redis.call('PEXPIREAT', KEYS[1], u + window)
end
return 0
`)

// failScript: count a failure; past the threshold, push until out by the
// new delay.
var failScript = redis.NewScript(delayLua + `
local now, window = tonumber(ARGV[1]), tonumber(ARGV[5])
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
local u = tonumber(redis.call('HGET', KEYS[1], 'until')) or 0
local d = delay(n)
if d > 0 and now + d > u then
	u = now + d
	redis.call('HSET', KEYS[1], 'until', u)
end
local base = now
if u > base then base = u end
redis.call('PEXPIREAT', KEYS[1], base + window)
return n
`)

func (l *Limiter) args() []any {
	return []any{l.now().UnixMilli(), l.Threshold, l.Base.Milliseconds(), l.Cap.Milliseconds(), l.Window.Milliseconds()}
}

// Admit returns ErrLockedOut when the account or the address must still
// wait, and nil when this attempt may proceed. A Redis failure is returned
// as an error: the caller refuses the login rather than let guessing run
// unchecked.
func (l *Limiter) Admit(ctx context.Context, email, ip string) error {
	var wait int64
	for _, k := range l.keys(email, ip) {
		ms, err := admitScript.Run(ctx, l.rdb, []string{k}, l.args()...).Int64()
		if err != nil {
			return fmt.Errorf("auth: lockout state: %w", err)
		}
		wait = max(wait, ms)
	}
	if wait > 0 {
		return ErrLockedOut{RetryAfter: time.Duration(wait) * time.Millisecond}
	}
	return nil
}

// Failures are the counts after a failed attempt was recorded.
type Failures struct {
	Account int64
	IP      int64
}

// Engaged reports whether this failure is the one that started the
// delays for the account or the address (a security event).
func (f Failures) Engaged(threshold int) bool {
	return f.Account == int64(threshold) || f.IP == int64(threshold)
}

// Fail records a failed attempt for the account and the address.
func (l *Limiter) Fail(ctx context.Context, email, ip string) (Failures, error) {
	var f Failures
	for i, k := range l.keys(email, ip) {
		n, err := failScript.Run(ctx, l.rdb, []string{k}, l.args()...).Int64()
		if err != nil {
			return f, fmt.Errorf("auth: record failed login: %w", err)
		}
		if i == 0 {
			f.Account = n
		} else {
			f.IP = n
		}
	}
	return f, nil
}

// Succeed forgets the account's failures.
func (l *Limiter) Succeed(ctx context.Context, email string) error {
	if err := l.rdb.Del(ctx, l.AccountKey(email)).Err(); err != nil {
		return fmt.Errorf("auth: reset failed logins: %w", err)
	}
	return nil
}
