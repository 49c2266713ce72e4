package reports

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// DefaultTTL is how long a cached report lives. Postings never wait for
// it (they change the generation, so the next request misses); it only
// bounds the memory that reports of old generations hold.
const DefaultTTL = 2 * time.Minute

// Cache is the part of a Redis client the report cache uses.
type Cache interface {
	Get(ctx context.Context, key string) *redis.StringCmd
	Set(ctx context.Context, key string, value any, expiration time.Duration) *redis.StatusCmd
}

// Beginner opens transactions (a pgxpool.Pool of the runtime role).
type Beginner interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// Runner runs reports in a company's transaction and caches them in the
// company's Redis key space.
type Runner struct {
	DB    Beginner
	Redis Cache         // nil: no cache
	TTL   time.Duration // 0: DefaultTTL
	// MAC is the key cached reports are signed with (HMAC-SHA256 over
	// the Redis key and the report), kept only in the process's memory:
	// whoever can write to Redis cannot make the API serve a report the
	// books do not hold, nor move one to another company's or
	// generation's key. Nil: entries are not signed (tests only).
	MAC []byte
}

// Output is a report, ready to serve as JSON or CSV.
type Output struct {
	JSON       json.RawMessage `json:"json"`
	Table      Table           `json:"table"`
	Generation int64           `json:"-"` // the ledger generation it shows
	Cached     bool            `json:"-"` // served from the cache
}

// maxAttempts bounds how often Run recomputes a report that postings
// keep overtaking; the last result is served uncached.
const maxAttempts = 3

// Key is the cache key of a report: the company's key space (from the
// scope and nowhere else), the ledger generation, the report's name and
// its canonical parameters.
func Key(s tenancy.Scope, generation int64, report string, p Params) string {
	return s.RedisPrefix() + "reports:" + strconv.FormatInt(generation, 10) + ":" + report + ":" + p.Canonical()
}

// Run answers report name with fn and p, from the cache when the books
// have not changed since it was computed.
//
// The cache needs no invalidation: every posting transaction raises
// ledger_settings.generation, and the key holds the generation. Run reads
// the generation, looks the key up, and on a miss runs fn and reads the
// generation again in the same transaction: equal, no posting committed
// in between, so every statement fn ran saw exactly that generation's
// books and the result is stored under it; different, a posting
// overtook the report (whose statements may each have seen other books
// under READ COMMITTED) and it is computed again.
func (r Runner) Run(ctx context.Context, s tenancy.Scope, name string, p Params, fn Func) (Output, error) {
	var out Output
	err := tenancy.InTx(ctx, r.DB, s, func(tx pgx.Tx) error {
		for attempt := 1; ; attempt++ {
			gen, err := Generation(ctx, tx)
			if err != nil {
				return err
			}
			key := Key(s, gen, name, p)
			if r.Redis != nil {
				raw, err := r.Redis.Get(ctx, key).Bytes()
				// A cache that cannot answer, or answers what this
				// process did not write, is only a miss: the books are
				// in PostgreSQL.
				if body, ok := r.open(key, raw); err == nil && ok && json.Unmarshal(body, &out) == nil {
					out.Generation, out.Cached = gen, true
					return nil
				}
			}
			v, table, err := fn(ctx, tx, p)
			if err != nil {
				return err
			}
			js, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("report %s: encode: %w", name, err)
			}
			out = Output{JSON: js, Table: table, Generation: gen}
			after, err := Generation(ctx, tx)
			if err != nil {
				return err
			}
			if after == gen {
				if r.Redis != nil {
					if raw, err := json.Marshal(out); err == nil {
						// Best effort, as above: a lost write costs one
						// recomputation.
						_ = r.Redis.Set(ctx, key, r.seal(key, raw), r.ttl()).Err()
					}
				}
				return nil
			}
			if attempt == maxAttempts {
				out.Generation = after
				return nil
			}
		}
	})
	if err != nil {
		return Output{}, err
	}
	return out, nil
}

// seal prefixes a cache entry with its MAC.
func (r Runner) seal(key string, body []byte) []byte {
	if r.MAC == nil {
		return body
	}
	return append(r.mac(key, body), body...)
}

// open checks and strips an entry's MAC.
func (r Runner) open(key string, raw []byte) ([]byte, bool) {
	if r.MAC == nil {
		return raw, true
	}
	if len(raw) < sha256.Size {
		return nil, false
	}
	body := raw[sha256.Size:]
	return body, hmac.Equal(raw[:sha256.Size], r.mac(key, body))
}

func (r Runner) mac(key string, body []byte) []byte {
	m := hmac.New(sha256.New, r.MAC)
	m.Write([]byte(key))
	m.Write([]byte{0})
	m.Write(body)
	return m.Sum(nil)
}

func (r Runner) ttl() time.Duration {
	if r.TTL > 0 {
		return r.TTL
	}
	return DefaultTTL
}

// ErrNoLedger is a company whose books are not set up (no
// ledger_settings row): never after its migrations ran.
var ErrNoLedger = errors.New("reports: the company has no ledger settings")

// Generation is the company's ledger generation, raised by every
// transaction that posts or reverses.
func Generation(ctx context.Context, tx pgx.Tx) (int64, error) {
	var g int64
	err := tx.QueryRow(ctx, "SELECT generation FROM ledger_settings").Scan(&g)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrNoLedger
	}
	if err != nil {
		return 0, fmt.Errorf("read ledger generation: %w", err)
	}
	return g, nil
}
