package auth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/vanta-ledger/vanta/internal/migrate"
	"github.com/vanta-ledger/vanta/internal/pgtest"
	"github.com/vanta-ledger/vanta/internal/pgtest/systemtest"
	"github.com/vanta-ledger/vanta/internal/redistest"
	"github.com/vanta-ledger/vanta/internal/seal"
)

// The seal's root keyring is what wraps our secrets in the appliance.
var _ Sealer = (*seal.Keyring)(nil)

var (
	pg          *pgtest.Server
	migrated    *pgtest.Template // the auth migrations at head
	redisSocket string
	redisClient *redis.Client
)

// TestMain starts one PostgreSQL cluster and one redis-server for the
// package; each test takes its own database and Redis key prefix.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if pg, err = pgtest.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer pg.Stop()
	migrated = systemtest.Template(pg, migrate.Source{Name: "auth", FS: Migrations})
	rs, err := redistest.Start(false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer rs.Stop()
	redisSocket = rs.Socket
	redisClient = redis.NewClient(&redis.Options{Network: "unix", Addr: redisSocket})
	defer redisClient.Close()
	return m.Run()
}

// testSealer is AES-256-GCM with the purpose and aad bound in, the shape
// of the keyring's Seal and Open.
type testSealer struct{ aead cipher.AEAD }

func newTestSealer(t testing.TB) *testSealer {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return &testSealer{aead: aead}
}

func sealAAD(purpose string, aad []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(purpose)))
	return append(append(b, purpose...), aad...)
}

func (s *testSealer) Seal(purpose string, aad, plaintext []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plaintext, sealAAD(purpose, aad)), nil
}

func (s *testSealer) Open(purpose string, aad, ct []byte) ([]byte, error) {
	if len(ct) < s.aead.NonceSize() {
		return nil, errors.New("short ciphertext")
	}
	return s.aead.Open(nil, ct[:s.aead.NonceSize()], ct[s.aead.NonceSize():], sealAAD(purpose, aad))
}

// clock is a settable clock that starts at the real time, so that the
// absolute expiries written to Redis are never in Redis's past.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now().Truncate(time.Millisecond)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// cheap argon2 parameters: the tests exercise the flows, not the cost.
var fastArgon = Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// env is one test's world: its own database, Redis prefix, clock, sealer
// and service, with every audit event captured.
type env struct {
	t      testing.TB
	pool   *pgxpool.Pool
	clock  *clock
	sealer *testSealer
	prefix string
	opts   Options
	svc    *Service

	mu     sync.Mutex
	events []Event
}

func newEnv(t testing.TB, tweak ...func(*Options)) *env {
	t.Helper()
	ctx := context.Background()
	// The service runs as the runtime role, as in the appliance: a
	// migration that forgets a GRANT fails here.
	db, _ := migrated.Database(t)
	cfg, err := pgxpool.ParseConfig(pg.AppDSN(db))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 40
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	e := &env{t: t, pool: pool, clock: newClock(), sealer: newTestSealer(t), prefix: "test:" + t.Name() + ":"}
	t.Cleanup(func() { clearPrefix(e.prefix) })
	o := Options{DB: pool, Redis: redisClient, RedisPrefix: e.prefix, Sealer: e.sealer, Now: e.clock.Now, Argon2: fastArgon,
		Audit: func(_ context.Context, _ pgx.Tx, ev Event) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.events = append(e.events, ev)
			return nil
		}}
	for _, f := range tweak {
		f(&o)
	}
	e.opts = o
	if e.svc, err = New(ctx, o); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.svc.Close)
	return e
}

// restart is another process on the same stores: a new service with the
// same options.
func (e *env) restart() *Service {
	e.t.Helper()
	svc, err := New(context.Background(), e.opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(svc.Close)
	return svc
}

func clearPrefix(prefix string) {
	ctx := context.Background()
	keys, _ := redisClient.Keys(ctx, prefix+"*").Result()
	if len(keys) > 0 {
		redisClient.Del(ctx, keys...)
	}
}

// lastEvent is the newest audit event with action.
func (e *env) lastEvent(action string) (Event, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.events) - 1; i >= 0; i-- {
		if e.events[i].Action == action {
			return e.events[i], true
		}
	}
	return Event{}, false
}

const goodPassword = "Mvua ya Machi inanyesha 7"

// user creates an active user with a password that passes the policy.
func (e *env) user(email string) User {
	e.t.Helper()
	u, err := e.svc.CreateUser(context.Background(), email, "Wanjiku Test", goodPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// god creates GOD and returns it with its TOTP secret.
func (e *env) god() (User, string) {
	e.t.Helper()
	u, secret, _, err := e.svc.CreateGOD(context.Background(), "god@vanta.example", "Amina Otieno", goodPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	return u, secret
}

func (e *env) code(secret string) string {
	e.t.Helper()
	c, err := TOTPCode(secret, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) login(email, totp string) TokenPair {
	e.t.Helper()
	p, err := e.svc.Login(context.Background(), email, goodPassword, totp, "192.0.2.10")
	if err != nil {
		e.t.Fatalf("login %s: %v", email, err)
	}
	return p
}

// raceWinners runs attempt n times at once and returns how many succeeded;
// every failure must be the expected loser error.
func raceWinners(t *testing.T, n int, loser error, attempt func(i int) error) int {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = attempt(i)
		}()
	}
	close(start)
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, loser):
			t.Errorf("unexpected error: %v", err)
		}
	}
	return won
}
