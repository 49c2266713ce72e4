// Package quota enforces per-company allowances that outlive a request:
// AI requests per hour and bytes of stored documents. Counters live in
// Redis under the company's own key prefix, so they hold across API
// replicas and the company's ACL user could read nothing else.
package quota

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// Defaults: the one place they are set (the appliance's configuration,
// the API and these allowances all take them from here).
const (
	DefaultUserPerMinute    = 600  // API requests a minute per user
	DefaultCompanyPerMinute = 3000 // API requests a minute per company
	DefaultAIPerHour        = 1000
	DefaultStorageBytes     = 10 << 30 // 10 GiB
)

// ExceededError says which allowance ran out and when to retry (zero for
// storage, which frees only when documents are deleted).
type ExceededError struct {
	Quota      string
	Limit      int64
	RetryAfter time.Duration
}

func (e *ExceededError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("%s quota of %d used up; retry in %s", e.Quota, e.Limit, e.RetryAfter.Round(time.Second))
	}
	return fmt.Sprintf("%s quota of %d used up", e.Quota, e.Limit)
}

// Limits are one company's allowances; zero means the default.
type Limits struct {
	AIPerHour    int
	StorageBytes int64
}

func (l Limits) withDefaults() Limits {
	if l.AIPerHour == 0 {
		l.AIPerHour = DefaultAIPerHour
	}
	if l.StorageBytes == 0 {
		l.StorageBytes = DefaultStorageBytes
	}
	return l
}

// Quotas checks and counts allowances.
type Quotas struct {
	Redis  *redis.Client
	Limits Limits
}

// AIRequest counts one AI request for the company, or refuses it with an
// *ExceededError carrying Retry-After.
func (q Quotas) AIRequest(ctx context.Context, s tenancy.Scope) error {
	limit := q.Limits.withDefaults().AIPerHour
	res, err := redis_rate.NewLimiter(q.Redis).Allow(ctx, s.RedisPrefix()+"quota:ai", redis_rate.PerHour(limit))
	if err != nil {
		return fmt.Errorf("ai quota of %s: %w", s.Company(), err)
	}
	if res.Allowed == 0 {
		return &ExceededError{Quota: "ai_requests_per_hour", Limit: int64(limit), RetryAfter: res.RetryAfter}
	}
	return nil
}

// reserveScript adds n bytes unless that would pass the limit, atomically.
var reserveScript = redis.NewScript(`
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local n = tonumber(ARGV[1])
if used + n > tonumber(ARGV[2]) then return -1 end
return redis.call('INCRBY', KEYS[1], n)`)

// ReserveStorage claims n bytes for a document about to be stored; call
// ReleaseStorage if the store then fails, or when the document is deleted.
func (q Quotas) ReserveStorage(ctx context.Context, s tenancy.Scope, n int64) error {
	if n < 0 {
		return errors.New("quota: negative size")
	}
	limit := q.Limits.withDefaults().StorageBytes
	used, err := reserveScript.Run(ctx, q.Redis, []string{s.RedisPrefix() + "quota:storage"}, n, limit).Int64()
	if err != nil {
		return fmt.Errorf("storage quota of %s: %w", s.Company(), err)
	}
	if used < 0 {
		return &ExceededError{Quota: "storage_bytes", Limit: limit}
	}
	return nil
}

// ReleaseStorage gives n bytes back.
func (q Quotas) ReleaseStorage(ctx context.Context, s tenancy.Scope, n int64) error {
	return q.Redis.DecrBy(ctx, s.RedisPrefix()+"quota:storage", n).Err()
}

// StorageUsed reports the bytes counted for the company.
func (q Quotas) StorageUsed(ctx context.Context, s tenancy.Scope) (int64, error) {
	v, err := q.Redis.Get(ctx, s.RedisPrefix()+"quota:storage").Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}

// StorageUsedEach reports the bytes counted for each of the companies in
// one round trip (GOD's overview reads every company at once); a company
// that never stored anything has 0.
func (q Quotas) StorageUsedEach(ctx context.Context, companies []uuid.UUID) (map[uuid.UUID]int64, error) {
	out := make(map[uuid.UUID]int64, len(companies))
	if len(companies) == 0 {
		return out, nil
	}
	keys := make([]string, len(companies))
	for i, id := range companies {
		keys[i] = tenancy.RedisPrefixOf(id) + "quota:storage"
	}
	vals, err := q.Redis.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("storage used: %w", err)
	}
	for i, v := range vals {
		var n int64
		if s, ok := v.(string); ok {
			if n, err = strconv.ParseInt(s, 10, 64); err != nil {
				return nil, fmt.Errorf("storage used by %s: %w", companies[i], err)
			}
		}
		out[companies[i]] = n
	}
	return out, nil
}

// StorageLimit is the storage allowance of every company (the configured
// one, or the default).
func (q Quotas) StorageLimit() int64 { return q.Limits.withDefaults().StorageBytes }

// AILimit is the AI requests an hour each company may make.
func (q Quotas) AILimit() int { return q.Limits.withDefaults().AIPerHour }

// AIUsedEach reports, for each company, how many AI requests its hourly
// allowance has counted in the last hour, without charging one (the
// limiter's state read at cost 0). A company that made none has 0.
func (q Quotas) AIUsedEach(ctx context.Context, companies []uuid.UUID) (map[uuid.UUID]int, error) {
	limit := q.Limits.withDefaults().AIPerHour
	lim := redis_rate.NewLimiter(q.Redis)
	out := make(map[uuid.UUID]int, len(companies))
	for _, id := range companies {
		res, err := lim.AllowN(ctx, tenancy.RedisPrefixOf(id)+"quota:ai", redis_rate.PerHour(limit), 0)
		if err != nil {
			return nil, fmt.Errorf("ai quota of %s: %w", id, err)
		}
		out[id] = max(limit-res.Remaining, 0)
	}
	return out, nil
}
