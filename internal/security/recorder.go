package security

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/alerts"
	"github.com/vanta-ledger/vanta/internal/seal"
)

// Config is the detectors' settings; zero fields take the defaults.
type Config struct {
	BruteForce BruteForceRule
	// GODNewAfter: an address GOD has not acted from for this long is new
	// again (default 30 days).
	GODNewAfter time.Duration
	// Retention is how long events are kept (default 90 days).
	Retention time.Duration
	// QueueSize bounds the events waiting to be written (default 1024).
	QueueSize int
}

// Defaults of Config.
const (
	DefaultGODNewAfter = 30 * 24 * time.Hour
	DefaultRetention   = 90 * 24 * time.Hour
	DefaultQueueSize   = 1024
)

func (c Config) withDefaults() Config {
	if c.BruteForce.Failures <= 0 {
		c.BruteForce.Failures = DefaultBruteForce.Failures
	}
	if c.BruteForce.Window <= 0 {
		c.BruteForce.Window = DefaultBruteForce.Window
	}
	if c.GODNewAfter <= 0 {
		c.GODNewAfter = DefaultGODNewAfter
	}
	if c.Retention <= 0 {
		c.Retention = DefaultRetention
	}
	if c.QueueSize <= 0 {
		c.QueueSize = DefaultQueueSize
	}
	return c
}

// Recorder takes security events from the request path and writes them
// in the background. Every method is safe on a nil *Recorder (it does
// nothing), and none waits for the database: an event goes into a
// bounded queue, or, when the queue is full, is dropped and counted
// (Dropped) with a warning in the log. One goroutine (Run) writes them in
// order and runs the detectors.
type Recorder struct {
	cfg    Config
	db     func() DB // nil (or returning nil) until the database is open
	now    func() time.Time
	logger *slog.Logger

	queue   chan job
	dropped atomic.Int64

	mu sync.Mutex
	// godSeen remembers, per GOD and address, when it was last sent to
	// the store, so that GOD's every request is not a write: at most one
	// an hour per address.
	godSeen map[string]time.Time
	// verified is the last outcome written per audit chain: the
	// checkpointer verifies every 10 s, and only a change is written.
	verified map[string]bool
}

type job func(ctx context.Context, st Store) error

// NewRecorder returns a recorder writing through db (called for each
// event; nil while the database is not open: the event waits). now is the
// clock (nil: time.Now); logger may be nil.
func NewRecorder(cfg Config, db func() DB, now func() time.Time, logger *slog.Logger) *Recorder {
	cfg = cfg.withDefaults()
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Recorder{cfg: cfg, db: db, now: now, logger: logger, queue: make(chan job, cfg.QueueSize),
		godSeen: map[string]time.Time{}, verified: map[string]bool{}}
}

// Config is the recorder's settings, defaults filled in.
func (r *Recorder) Config() Config { return r.cfg }

// Dropped is how many events were dropped because the queue was full.
func (r *Recorder) Dropped() int64 {
	if r == nil {
		return 0
	}
	return r.dropped.Load()
}

func (r *Recorder) enqueue(what string, j job) {
	if r == nil {
		return
	}
	select {
	case r.queue <- j:
	default:
		if n := r.dropped.Add(1); n == 1 || n%100 == 0 {
			r.logger.Warn("security event dropped: the queue is full", "event", what, "dropped", n)
		}
	}
}

// dbWait is how often Run looks for the database while it is not open.
const dbWait = 500 * time.Millisecond

// Run writes queued events until ctx ends, and prunes events past the
// retention once an hour.
func (r *Recorder) Run(ctx context.Context) {
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-prune.C:
			if db := r.db(); db != nil {
				pctx, cancel := context.WithTimeout(ctx, time.Minute)
				if _, err := (Store{db}).Prune(pctx, r.now().Add(-r.cfg.Retention)); err != nil {
					r.logger.Error("security events prune", "error", err.Error())
				}
				cancel()
			}
		case j := <-r.queue:
			db := r.waitDB(ctx)
			if db == nil {
				return
			}
			jctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := j(jctx, Store{db}); err != nil && ctx.Err() == nil {
				r.logger.Error("security event", "error", err.Error())
			}
			cancel()
		}
	}
}

// waitDB returns the database once it is open, or nil when ctx ends.
func (r *Recorder) waitDB(ctx context.Context) DB {
	for {
		if db := r.db(); db != nil {
			return db
		}
		t := time.NewTimer(dbWait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Flush returns once every event queued before it was written (or ctx
// ends): for tests and for an orderly stop.
func (r *Recorder) Flush(ctx context.Context) error {
	if r == nil {
		return nil
	}
	done := make(chan struct{})
	select {
	case r.queue <- func(context.Context, Store) error { close(done); return nil }:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func userID(id uuid.UUID) uuid.NullUUID { return uuid.NullUUID{UUID: id, Valid: id != uuid.Nil} }

// LoginFailed records a refused sign-in of the account user (uuid.Nil:
// no such account) from ip, for reason (the auth package's refusal
// reason); the brute-force rule runs on it. The attempted email is never
// recorded: it may be a password typed in the wrong field.
func (r *Recorder) LoginFailed(user uuid.UUID, ip, reason string) {
	if r == nil {
		return
	}
	e := Event{Time: r.now(), Kind: LoginFailed, UserID: userID(user), IP: ip, Details: map[string]any{"reason": reason}}
	rule := r.cfg.BruteForce
	r.enqueue(string(LoginFailed), func(ctx context.Context, st Store) error {
		found, err := st.RecordLoginFailure(ctx, e, rule)
		for _, bf := range found {
			r.logger.Warn("security", "event", string(BruteForce), "ip", bf.IP, "by", bf.Details["by"])
		}
		return err
	})
}

// Lockout records that failed sign-ins engaged the login delays for the
// account user from ip.
func (r *Recorder) Lockout(user uuid.UUID, ip string, failures map[string]any) {
	if r == nil {
		return
	}
	r.insert(Event{Time: r.now(), Kind: Lockout, UserID: userID(user), IP: ip, Details: failures})
}

// CrossCompanyProbe records that user asked from ip for company, which
// they are not a member of, on route (the route's template, never the
// raw path).
func (r *Recorder) CrossCompanyProbe(user, company uuid.UUID, ip, route string) {
	if r == nil {
		return
	}
	r.insert(Event{Time: r.now(), Kind: CrossCompanyProbe, CompanyID: uuid.NullUUID{UUID: company, Valid: true},
		UserID: userID(user), IP: ip, Details: map[string]any{"route": route, "requested_company": company.String()}})
}

// GODRequest notes that GOD (user) acted from ip; an address GOD has not
// used within the configured days raises god_new_address.
func (r *Recorder) GODRequest(user uuid.UUID, ip string) {
	if r == nil || user == uuid.Nil {
		return
	}
	now := r.now()
	key := user.String() + "|" + ip
	r.mu.Lock()
	last, ok := r.godSeen[key]
	if ok && now.Sub(last) < time.Hour && !now.Before(last) {
		r.mu.Unlock()
		return
	}
	if len(r.godSeen) >= 4096 {
		clear(r.godSeen) // bounded; forgetting only costs a write
	}
	r.godSeen[key] = now
	r.mu.Unlock()
	newAfter := r.cfg.GODNewAfter
	r.enqueue(string(GODNewAddress), func(ctx context.Context, st Store) error {
		isNew, err := st.NoteGODAddress(ctx, user, ip, now, newAfter)
		if isNew {
			r.logger.Warn("security", "event", string(GODNewAddress), "ip", ip, "user", user.String())
		}
		return err
	})
}

// AuditVerified records the outcome of verifying an audit chain; a chain
// that starts failing raises audit_verify_failed once.
func (r *Recorder) AuditVerified(chain string, ok bool, reason string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	last, known := r.verified[chain]
	if known && last == ok {
		r.mu.Unlock()
		return
	}
	if len(r.verified) >= 100000 {
		clear(r.verified)
	}
	r.verified[chain] = ok
	r.mu.Unlock()
	now := r.now()
	r.enqueue(string(AuditVerifyFailed), func(ctx context.Context, st Store) error {
		raised, err := st.RecordAuditVerify(ctx, chain, ok, reason, now)
		if err != nil {
			// Written again at the next verification.
			r.mu.Lock()
			delete(r.verified, chain)
			r.mu.Unlock()
		}
		if raised {
			r.logger.Warn("security", "event", string(AuditVerifyFailed), "chain", chain)
		}
		return err
	})
}

// Share refusals the seal reports as a "seal.unseal" event's outcome.
var unsealRefusals = map[string]string{
	"malformed share": "malformed",
	(&seal.ShareError{Kind: seal.ShareUnknown}).Error():  "unknown",
	(&seal.ShareError{Kind: seal.ShareWrongKey}).Error(): "wrong_key",
	"wrong key": "wrong_key",
}

// SealEvent takes every seal event (the seal service's audit hook, which
// sees every unseal attempt, whoever makes it) and
// records unseal_failed for a share that was refused as wrong: malformed,
// matching no custodian, or combining to a key that opens nothing. A
// duplicate or a stale round is not a wrong share.
func (r *Recorder) SealEvent(action string, details map[string]any) {
	if r == nil || action != "seal.unseal" {
		return
	}
	outcome, _ := details["outcome"].(string)
	why, ok := unsealRefusals[outcome]
	if !ok {
		return
	}
	ip, _ := details["ip"].(string)
	d := map[string]any{"refused": why}
	if by, _ := details["actor"].(string); by != "" {
		d["actor"] = by
	}
	r.insert(Event{Time: r.now(), Kind: UnsealFailed, IP: ip, Details: d})
}

func (r *Recorder) insert(e Event) {
	r.enqueue(string(e.Kind), func(ctx context.Context, st Store) error { return st.Insert(ctx, e) })
}

// ErrNotOpen means the database is not open yet.
var ErrNotOpen = errors.New("security: the database is not open yet")

// Store is the store over the open database, or ErrNotOpen.
func (r *Recorder) Store() (Store, error) {
	if r == nil || r.db == nil {
		return Store{}, ErrNotOpen
	}
	db := r.db()
	if db == nil {
		return Store{}, ErrNotOpen
	}
	return Store{db}, nil
}

// AlertSource gives the alert evaluator security_events_recent and
// audit_verify_failed (see Store.Samples).
func (r *Recorder) AlertSource() alerts.Source {
	return NewAlertSource(func() DB {
		if r == nil || r.db == nil {
			return nil
		}
		return r.db()
	})
}
