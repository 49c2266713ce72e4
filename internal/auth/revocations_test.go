package auth

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// awaitUserNotice waits until the service has applied a change of user
// that PostgreSQL announced.
func awaitUserNotice(t *testing.T, svc *Service, user uuid.UUID) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := svc.revs.await(ctx, func(r *revocations) bool { return r.users[user] > 0 }); err != nil {
		t.Fatalf("notice for user %s never applied: %v", user, err)
	}
}

func TestSessionIsCachedInRedis(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u := e.user("akinyi@example.co.ke")
	pair := e.login("akinyi@example.co.ke", "")
	if _, err := e.svc.Authenticate(ctx, pair.AccessToken); err != nil {
		t.Fatal(err)
	}
	sess, ok := e.svc.cachedSession(ctx, pair.SessionID)
	if !ok || sess.User != u.ID || sess.Status != StatusActive {
		t.Fatalf("cached session %+v (found %v)", sess, ok)
	}
	key := e.prefix + "auth:session:" + pair.SessionID.String()
	if ttl := redisClient.PTTL(ctx, key).Val(); ttl <= 0 || ttl > AccessTokenTTL {
		t.Errorf("session cached for %v", ttl)
	}
	// A record in Redis that does not carry this process's MAC is not
	// believed: PostgreSQL answers.
	forged := sess
	forged.Status = StatusDisabled
	record, _ := json.Marshal(forged)
	redisClient.Set(ctx, key, append(make([]byte, 32), record...), time.Minute)
	if _, err := e.svc.Authenticate(ctx, pair.AccessToken); err != nil {
		t.Fatalf("a forged record was believed: %v", err)
	}
	// The next request reads Redis, not PostgreSQL: a record this process
	// made that says otherwise is believed...
	e.svc.cacheSession(ctx, pair.SessionID, forged)
	if _, err := e.svc.Authenticate(ctx, pair.AccessToken); !errors.Is(err, ErrUserInactive) {
		t.Fatalf("the cached session was not read: %v", err)
	}
	// ...but only by the process that wrote it: a restarted process reads
	// PostgreSQL again.
	if _, err := e.restart().Authenticate(ctx, pair.AccessToken); err != nil {
		t.Fatalf("a record of another process was trusted: %v", err)
	}
}

// A change made directly in PostgreSQL, by another process or by hand,
// reaches the service by its notice and overrides what Redis holds.
func TestRevocationsMadeElsewhereApply(t *testing.T) {
	user := func(p Principal) []any { return []any{p.UserID} }
	cases := []struct {
		name   string
		sql    string
		args   func(Principal) []any
		want   error
		notice func(r *revocations, p Principal) bool
	}{
		{"disable by hand", "UPDATE auth.users SET status = 'disabled' WHERE id = $1", user,
			ErrUserInactive, func(r *revocations, p Principal) bool { return r.users[p.UserID] > 0 }},
		{"tokens_valid_after moved", "UPDATE auth.users SET tokens_valid_after = tokens_valid_after + interval '1 hour' WHERE id = $1", user,
			ErrTokenStale, func(r *revocations, p Principal) bool { return r.users[p.UserID] > 0 }},
		{"session revoked", "UPDATE auth.refresh_tokens SET revoked_at = now() WHERE family = $1",
			func(p Principal) []any { return []any{p.SessionID} },
			ErrTokenRevoked, func(r *revocations, p Principal) bool { _, ok := r.sessions[p.SessionID]; return ok }},
		{"token revoked", "INSERT INTO auth.revoked_tokens (jti, expires_at) VALUES ($1, $2)",
			func(p Principal) []any { return []any{p.JTI, p.ExpiresAt} },
			ErrTokenRevoked, func(r *revocations, p Principal) bool { _, ok := r.tokens[p.JTI]; return ok }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			e.user("otieno@example.co.ke")
			pair := e.login("otieno@example.co.ke", "")
			p, err := e.svc.Authenticate(ctx, pair.AccessToken) // cached in Redis now
			if err != nil {
				t.Fatal(err)
			}
			conn, err := pgx.Connect(ctx, e.pool.Config().ConnString())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, tc.sql, tc.args(p)...); err != nil {
				t.Fatal(err)
			}
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := e.svc.revs.await(wctx, func(r *revocations) bool { return r.epoch != 0 && tc.notice(r, p) }); err != nil {
				t.Fatalf("notice never applied: %v", err)
			}
			if _, err := e.svc.Authenticate(ctx, pair.AccessToken); !errors.Is(err, tc.want) {
				t.Fatalf("after %s: %v, want %v", tc.name, err, tc.want)
			}
		})
	}
}

// While the service cannot follow PostgreSQL's revocations it refuses
// every token, and what was revoked meanwhile holds once it follows again.
func TestRevocationFailsClosed(t *testing.T) {
	// The first connection goes through; later ones wait for release.
	release := make(chan struct{})
	var dials atomic.Int32
	var o Options
	e := newEnv(t, func(opts *Options) { o = *opts })
	const name = "vanta-revocations-gated"
	o.Listen = func(ctx context.Context) (*pgx.Conn, error) {
		if dials.Add(1) > 1 {
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		cfg := e.pool.Config().ConnConfig.Copy()
		cfg.RuntimeParams["application_name"] = name
		return pgx.ConnectConfig(ctx, cfg)
	}
	ctx := context.Background()
	e.user("chebet@example.co.ke")
	pair := e.login("chebet@example.co.ke", "")
	doomed := e.login("chebet@example.co.ke", "")
	svc, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	dp, err := svc.Authenticate(ctx, doomed.AccessToken)
	if err != nil {
		t.Fatal(err)
	}

	var n int
	if err := e.pool.QueryRow(ctx, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
		name).Scan(&n); err != nil || n != 1 {
		t.Fatalf("terminate the listener: %d %v", n, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := svc.revs.await(wctx, func(r *revocations) bool { return r.epoch == 0 }); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, pair.AccessToken); !errors.Is(err, ErrRevocationUnavailable) {
		t.Fatalf("good token while revocations cannot be followed: %v", err)
	}
	// Revoked while nobody listens.
	if _, err := e.pool.Exec(ctx, "INSERT INTO auth.revoked_tokens (jti, expires_at) VALUES ($1, $2)", dp.JTI, dp.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := svc.revs.await(wctx, func(r *revocations) bool { return r.epoch != 0 }); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, pair.AccessToken); err != nil {
		t.Fatalf("good token after reconnecting: %v", err)
	}
	if _, err := svc.Authenticate(ctx, doomed.AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("token revoked while disconnected: %v", err)
	}
	svc.Close()
	if _, err := svc.Authenticate(ctx, pair.AccessToken); !errors.Is(err, ErrRevocationUnavailable) {
		t.Fatalf("after Close: %v", err)
	}
}

// Redis is a cache: without it PostgreSQL answers, logins included (the
// lockout's state is in PostgreSQL). Without PostgreSQL nothing is let in.
func TestStoresDown(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.user("wafula@example.co.ke")
	pair := e.login("wafula@example.co.ke", "")
	revokedPair := e.login("wafula@example.co.ke", "")
	rp, err := e.svc.Authenticate(ctx, revokedPair.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Logout(ctx, rp); err != nil {
		t.Fatal(err)
	}
	deadRedis := redis.NewClient(&redis.Options{Network: "unix", Addr: redisSocket})
	deadRedis.Close()
	svc := *e.svc
	svc.rdb = deadRedis
	if _, err := svc.Authenticate(ctx, pair.AccessToken); err != nil {
		t.Fatalf("Redis down, good token: %v", err)
	}
	if _, err := svc.Authenticate(ctx, revokedPair.AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("Redis down, revoked token: %v", err)
	}
	// The lockout's state is in PostgreSQL: losing Redis neither stops
	// logins nor resets the count of failures.
	if _, err = svc.Login(ctx, "wafula@example.co.ke", goodPassword, "", "192.0.2.10"); err != nil {
		t.Fatalf("login with Redis down: %v", err)
	}

	// PostgreSQL gone: a session missing from Redis cannot be read.
	clearPrefix(e.prefix)
	e.pool.Close()
	if _, err := e.svc.Authenticate(ctx, pair.AccessToken); !errors.Is(err, ErrRevocationUnavailable) {
		t.Fatalf("PostgreSQL down, session not cached: %v", err)
	}
}

// BenchmarkAuthenticate is the per-request cost of checking an access
// token: signature, revocations and the session cached in Redis.
func BenchmarkAuthenticate(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	if _, err := e.svc.CreateUser(ctx, "bench@example.co.ke", "Bench", goodPassword); err != nil {
		b.Fatal(err)
	}
	pair, err := e.svc.Login(ctx, "bench@example.co.ke", goodPassword, "", "")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.svc.Authenticate(ctx, pair.AccessToken); err != nil {
			b.Fatal(err)
		}
	}
}

// A quiet connection is pinged and stays in use: notices still arrive
// after several heartbeats.
func TestQuietRevocationConnectionIsPinged(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Heartbeat = 5 * time.Millisecond })
	ctx := context.Background()
	u := e.user("cherono@example.co.ke")
	pair := e.login("cherono@example.co.ke", "")
	epoch := func() uint64 {
		e.svc.revs.mu.Lock()
		defer e.svc.revs.mu.Unlock()
		return e.svc.revs.epochs
	}
	before := epoch()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := e.svc.revs.await(wctx, func(r *revocations) bool { return r.pings >= 3 }); err != nil {
		t.Fatalf("no heartbeats: %v", err)
	}
	if after := epoch(); after != before {
		t.Fatalf("the connection was remade %d times across heartbeats", after-before)
	}
	if _, err := e.pool.Exec(ctx, "UPDATE auth.users SET status = 'disabled' WHERE id = $1", u.ID); err != nil {
		t.Fatal(err)
	}
	awaitUserNotice(t, e.svc, u.ID)
	if _, err := e.svc.Authenticate(ctx, pair.AccessToken); !errors.Is(err, ErrUserInactive) {
		t.Fatalf("after heartbeats, a disabled user's token: %v", err)
	}
}
