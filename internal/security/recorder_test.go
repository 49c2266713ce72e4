package security

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/seal"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// With no database and a full queue, recording neither blocks nor fails:
// the event is dropped and counted. A nil recorder does nothing.
func TestRecorderNeverBlocks(t *testing.T) {
	r := NewRecorder(Config{QueueSize: 2}, func() DB { return nil }, nil, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 10 {
			r.LoginFailed(uuid.Nil, "192.0.2.1", "bad_password")
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("recording blocked on a full queue")
	}
	if r.Dropped() != 8 {
		t.Fatalf("dropped %d, want 8", r.Dropped())
	}
	var none *Recorder
	none.LoginFailed(uuid.Nil, "", "")
	none.GODRequest(uuid.New(), "")
	none.SealEvent("seal.unseal", map[string]any{"outcome": "malformed share"})
	if err := none.Flush(context.Background()); err != nil || none.Dropped() != 0 {
		t.Fatal("nil recorder")
	}
}

// Through the recorder: sign-in failures become brute force with the
// configured rule and the recorder's clock; wrong shares are unseal
// failures and accepted ones are not; GOD's repeated requests from one
// address are one write; a chain verified again and again is written once.
func TestRecorderEndToEnd(t *testing.T) {
	app, _ := testDB(t)
	clock := &fakeClock{now: t0}
	r := NewRecorder(Config{BruteForce: BruteForceRule{Failures: 4, Window: time.Minute}}, func() DB { return app }, clock.Now, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)

	victim := uuid.New()
	for range 4 {
		r.LoginFailed(victim, "198.51.100.23", "bad_password")
		clock.Advance(time.Second)
	}
	r.Lockout(victim, "198.51.100.23", map[string]any{"failures_pair": 5})
	r.SealEvent("seal.unseal", map[string]any{"ip": "192.0.2.5", "outcome": "malformed share"})
	r.SealEvent("seal.unseal", map[string]any{"ip": "192.0.2.5", "outcome": (&seal.ShareError{Kind: seal.ShareUnknown}).Error()})
	r.SealEvent("seal.unseal", map[string]any{"ip": "192.0.2.5", "outcome": "accepted"})
	r.SealEvent("seal.unseal", map[string]any{"ip": "192.0.2.5", "outcome": (&seal.ShareError{Kind: seal.ShareDuplicate, Slot: 1}).Error()})
	god := uuid.New()
	for range 5 {
		r.GODRequest(god, "192.0.2.10")
	}
	r.GODRequest(god, "203.0.113.4")
	for range 3 {
		r.AuditVerified("system", true, "")
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := r.Store()
	if err != nil {
		t.Fatal(err)
	}
	count := func(k Kind) int {
		evs, _, err := st.List(ctx, Filter{Kind: k})
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	for k, want := range map[Kind]int{LoginFailed: 4, BruteForce: 2, Lockout: 1, UnsealFailed: 2, GODNewAddress: 1} {
		if got := count(k); got != want {
			t.Errorf("%s: %d events, want %d", k, got, want)
		}
	}
	var seenRows, verifyRows int
	if err := app.QueryRow(ctx, "SELECT (SELECT count(*) FROM security.god_addresses), (SELECT count(*) FROM security.audit_verify)").Scan(&seenRows, &verifyRows); err != nil {
		t.Fatal(err)
	}
	if seenRows != 2 || verifyRows != 1 {
		t.Errorf("GOD addresses %d, verify states %d", seenRows, verifyRows)
	}
	ss, err := r.AlertSource().Samples(ctx, clock.Now())
	if err != nil || len(ss) == 0 {
		t.Fatalf("alert samples %v (%v)", ss, err)
	}
}
