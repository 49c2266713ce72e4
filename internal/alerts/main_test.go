package alerts_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/alerts"
	"github.com/vanta-ledger/vanta/internal/pgtest"
	"github.com/vanta-ledger/vanta/internal/pgtest/systemtest"
)

var (
	pg       *pgtest.Server
	migrated *pgtest.Template // the appliance's system line at head
)

// TestMain starts one PostgreSQL cluster for the package; each test takes
// its own database, a copy of the migrated template.
func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	var err error
	if pg, err = pgtest.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer pg.Stop()
	migrated = systemtest.Registry(pg, appliance.Migrations)
	return m.Run()
}

// appDB is a fresh migrated database, reached as the runtime role so that
// a missing grant fails the test.
func appDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	name, _ := migrated.Database(t)
	db, err := pgxpool.New(context.Background(), pg.AppDSN(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// fakeSource gives whatever samples the test set last.
type fakeSource struct {
	mu      sync.Mutex
	samples []alerts.Sample
	err     error
}

func (f *fakeSource) set(s ...alerts.Sample) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.samples, f.err = s, nil
}

// fail makes the source fail, giving only s with its error.
func (f *fakeSource) fail(err error, s ...alerts.Sample) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.samples, f.err = s, err
}

func (f *fakeSource) Samples(context.Context, time.Time) ([]alerts.Sample, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]alerts.Sample(nil), f.samples...), f.err
}

// t0 is the fake clock's start; tests add to it.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func evaluator(t *testing.T, db *pgxpool.Pool, rules []alerts.Rule, src ...alerts.Source) *alerts.Evaluator {
	t.Helper()
	checked, err := alerts.MergeRules(nil, rules)
	if err != nil {
		t.Fatal(err)
	}
	return &alerts.Evaluator{DB: db, Rules: checked, Sources: src}
}

func evaluate(t *testing.T, e *alerts.Evaluator, at time.Time) {
	t.Helper()
	if err := e.Evaluate(context.Background(), at); err != nil {
		t.Fatalf("evaluate at %s: %v", at, err)
	}
}

// all lists every alert, newest first.
func all(t *testing.T, db *pgxpool.Pool, state alerts.State) []alerts.Alert {
	t.Helper()
	out, _, err := alerts.List(context.Background(), db, alerts.Filter{State: state, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// only is the one alert of a rule; the test fails if there are others.
func only(t *testing.T, db *pgxpool.Pool, rule string) (alerts.Alert, bool) {
	t.Helper()
	var found []alerts.Alert
	for _, a := range all(t, db, "") {
		if a.Rule == rule {
			found = append(found, a)
		}
	}
	switch len(found) {
	case 0:
		return alerts.Alert{}, false
	case 1:
		return found[0], true
	}
	t.Fatalf("%d alerts of %s, want at most one: %+v", len(found), rule, found)
	return alerts.Alert{}, false
}

// recorder is a notifier that keeps what it is handed.
type recorder struct {
	channel string
	mu      sync.Mutex
	batches [][]alerts.Alert
	failing bool
}

func (r *recorder) Channel() string { return r.channel }

func (r *recorder) Notify(_ context.Context, a []alerts.Alert) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failing {
		return fmt.Errorf("receiver down")
	}
	r.batches = append(r.batches, a)
	return nil
}

func (r *recorder) take() [][]alerts.Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.batches
	r.batches = nil
	return b
}
