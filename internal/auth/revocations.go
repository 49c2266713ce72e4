package auth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// NoticeChannel is the PostgreSQL channel on which every revocation is
// announced, by triggers (migrations/system/0007_revocation_notices.sql),
// in the transaction that makes it.
const NoticeChannel = "vanta_auth_revocations"

// revocations is this process's copy of every revocation that can still
// matter: access tokens until they expire, sessions for one access-token
// lifetime after they end (no newer token can exist), and, for users, the
// position of their last change. It follows PostgreSQL: on every
// (re)connection it LISTENs first and then loads the tables, so nothing
// committed is missed, and while it is not connected it knows nothing and
// says so (ErrRevocationUnavailable): a request is never let through on
// state that may be stale.
//
// Positions order the notices this process applied. A session record
// cached in Redis remembers the position at which it was read from
// PostgreSQL; a later change of its user makes it stale. Epochs number the
// connections: a record from an earlier one (notices may have been missed
// in between) is stale too. A record from another process fails its MAC
// (Service.sessionMAC) before it gets here.
type revocations struct {
	dial      func(context.Context) (*pgx.Conn, error)
	now       func() time.Time
	heartbeat time.Duration

	mu       sync.Mutex
	epoch    uint64 // 0 while not following
	epochs   uint64
	pos      uint64
	tokens   map[string]time.Time    // jti → expiry
	sessions map[uuid.UUID]time.Time // family → until
	users    map[uuid.UUID]uint64    // user → position of the last change
	changed  chan struct{}           // closed and replaced on every change
	pings    int                     // heartbeats answered, for tests

	stop context.CancelFunc
	done chan struct{}
}

func newRevocations(dial func(context.Context) (*pgx.Conn, error), now func() time.Time) *revocations {
	return &revocations{dial: dial, now: now, heartbeat: 15 * time.Second, changed: make(chan struct{})}
}

// start follows PostgreSQL in the background and returns once the first
// load is done, or with the error of the first connection.
func (r *revocations) start(ctx context.Context) error {
	conn, err := r.connect(ctx)
	if err != nil {
		return err
	}
	bg, stop := context.WithCancel(context.Background())
	r.stop, r.done = stop, make(chan struct{})
	go r.run(bg, conn)
	return nil
}

// close stops following; every check fails from then on.
func (r *revocations) close() {
	if r.stop != nil {
		r.stop()
		<-r.done
	}
}

func (r *revocations) run(ctx context.Context, conn *pgx.Conn) {
	defer close(r.done)
	backoff := 20 * time.Millisecond
	for {
		if conn != nil {
			backoff = 20 * time.Millisecond
			r.follow(ctx, conn)
			_ = conn.Close(context.Background())
		}
		r.lose()
		if ctx.Err() != nil {
			return
		}
		// Reconnection is paced, not a synchronisation: nothing waits on it
		// but the requests it refuses meanwhile.
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
		conn, _ = r.connect(ctx)
	}
}

// connect opens a connection, listens, loads the tables and starts a new
// epoch.
func (r *revocations) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := r.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: revocations: connect: %w", err)
	}
	if err := r.load(ctx, conn); err != nil {
		_ = conn.Close(context.Background())
		return nil, fmt.Errorf("auth: revocations: %w", err)
	}
	return conn, nil
}

func (r *revocations) load(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.Exec(ctx, "LISTEN "+NoticeChannel); err != nil {
		return err
	}
	now := r.now()
	tokens := map[string]time.Time{}
	rows, err := conn.Query(ctx, "SELECT jti, expires_at FROM auth.revoked_tokens WHERE expires_at > $1", now)
	if err != nil {
		return err
	}
	var jti string
	var exp time.Time
	if _, err := pgx.ForEachRow(rows, []any{&jti, &exp}, func() error { tokens[jti] = exp; return nil }); err != nil {
		return err
	}
	sessions := map[uuid.UUID]time.Time{}
	rows, err = conn.Query(ctx, `SELECT family, max(revoked_at) FROM auth.refresh_tokens
		WHERE revoked_at > $1 GROUP BY family`, now.Add(-AccessTokenTTL))
	if err != nil {
		return err
	}
	var family uuid.UUID
	var at time.Time
	if _, err := pgx.ForEachRow(rows, []any{&family, &at}, func() error {
		sessions[family] = at.Add(AccessTokenTTL)
		return nil
	}); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.epochs++
	r.epoch, r.pos = r.epochs, 0
	r.tokens, r.sessions, r.users = tokens, sessions, map[uuid.UUID]uint64{}
	r.signal()
	return nil
}

// pingPatience is the least time a heartbeat's ping is given to answer.
const pingPatience = 5 * time.Second

// follow applies notices until the connection fails or ctx ends. A
// connection that stays quiet is pinged every heartbeat: one that died
// without a word (a peer gone from the network) would otherwise leave
// this copy believed while notices go astray.
func (r *revocations) follow(ctx context.Context, conn *pgx.Conn) {
	for {
		wctx, cancel := context.WithTimeout(ctx, r.heartbeat)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			r.apply(n.Payload)
			continue
		case ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded):
			return
		}
		// The answer may take longer than a short heartbeat on a busy
		// machine; a live connection is not one that answers fast.
		pctx, cancel := context.WithTimeout(ctx, max(r.heartbeat, pingPatience))
		err = conn.Ping(pctx)
		cancel()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.pings++
		r.signal()
		r.mu.Unlock()
	}
}

// lose forgets everything: until the next load, nothing can be checked.
func (r *revocations) lose() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.epoch = 0
	r.tokens, r.sessions, r.users = nil, nil, nil
	r.signal()
}

func (r *revocations) signal() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// apply takes one notice, from PostgreSQL or from this process right after
// it committed the change (so that its own revocations hold at once, not
// when the notice comes back). Applying one twice is harmless.
func (r *revocations) apply(notice string) {
	kind, rest, _ := strings.Cut(notice, " ")
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.epoch == 0 {
		return // the next load reads it from the tables
	}
	r.pos++
	switch kind {
	case "token":
		jti, exp, _ := strings.Cut(rest, " ")
		secs, err := strconv.ParseInt(exp, 10, 64)
		if err != nil {
			secs = now.Add(AccessTokenTTL).Unix() // the longest a token lives
		}
		r.tokens[jti] = time.Unix(secs, 0)
	case "session":
		if id, err := uuid.Parse(rest); err == nil {
			r.sessions[id] = now.Add(AccessTokenTTL)
		}
	case "user":
		if id, err := uuid.Parse(rest); err == nil {
			r.users[id] = r.pos
		}
	}
	if r.pos%1024 == 0 {
		r.prune(now)
	}
	r.signal()
}

func (r *revocations) prune(now time.Time) {
	for k, until := range r.tokens {
		if !now.Before(until) {
			delete(r.tokens, k)
		}
	}
	for k, until := range r.sessions {
		if !now.Before(until) {
			delete(r.sessions, k)
		}
	}
}

// mark is where a reader stood: the epoch and position before it read
// PostgreSQL.
type mark struct {
	Epoch uint64 `json:"e"`
	Pos   uint64 `json:"p"`
}

// check refuses a revoked token or session and returns the current mark.
func (r *revocations) check(jti string, session uuid.UUID) (mark, error) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.epoch == 0 {
		return mark{}, fmt.Errorf("%w: not following PostgreSQL", ErrRevocationUnavailable)
	}
	if until, ok := r.tokens[jti]; ok && now.Before(until) {
		return mark{}, ErrTokenRevoked
	}
	if until, ok := r.sessions[session]; ok && now.Before(until) {
		return mark{}, ErrTokenRevoked
	}
	return mark{Epoch: r.epoch, Pos: r.pos}, nil
}

// fresh reports whether what was read about user at m still holds.
func (r *revocations) fresh(user uuid.UUID, m mark) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return m.Epoch == r.epoch && r.epoch != 0 && r.users[user] <= m.Pos
}

// await blocks until cond, called with the lock held, holds or ctx ends.
func (r *revocations) await(ctx context.Context, cond func(*revocations) bool) error {
	for {
		r.mu.Lock()
		ok, ch := cond(r), r.changed
		r.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

var errNoListener = errors.New("auth: Options.Listen is required when DB is not a *pgxpool.Pool")

// listenerFor dials dedicated connections like the pool's.
func listenerFor(db DB) (func(context.Context) (*pgx.Conn, error), error) {
	p, ok := db.(interface{ Config() *pgxpool.Config })
	if !ok {
		return nil, errNoListener
	}
	return func(ctx context.Context) (*pgx.Conn, error) {
		cfg := p.Config().ConnConfig.Copy()
		cfg.RuntimeParams["application_name"] = ListenerName
		return pgx.ConnectConfig(ctx, cfg)
	}, nil
}

// ListenerName is the application_name of the connection that follows
// revocations, for pg_stat_activity.
const ListenerName = "vanta-revocations"
