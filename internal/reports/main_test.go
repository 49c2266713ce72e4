package reports

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/vanta-ledger/vanta/internal/bookstest"
	"github.com/vanta-ledger/vanta/internal/ledger"
	"github.com/vanta-ledger/vanta/internal/migrate"
	"github.com/vanta-ledger/vanta/internal/redistest"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

var (
	testPG *bookstest.Server
	rds    *redistest.Server
)

// TestMain starts one PostgreSQL and one Redis for the package; each test
// takes a database of its own with a company provisioned by the real
// migrator (the ledger's migration included), and keeps apart in Redis by
// its company's key space.
func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	var err error
	if testPG, err = bookstest.Start(migrate.Source{Name: "ledger", FS: ledger.Migrations}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer testPG.Stop()
	if rds, err = redistest.Start(false); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer rds.Stop()
	return m.Run()
}

// env is a database with one company at the head of the company line, a
// pool of the runtime role and a Redis client.
type env struct {
	dsn   string // the superuser's, for ANALYZE after a bulk load
	app   *pgxpool.Pool
	redis *redis.Client
	s     tenancy.Scope
}

func setup(t testing.TB) *env {
	t.Helper()
	db := testPG.Database(t, 4)
	e := &env{dsn: db.DSN, app: db.App, s: testPG.Company(t, db)}
	e.redis = redis.NewClient(&redis.Options{Network: "unix", Addr: rds.Socket})
	t.Cleanup(func() { _ = e.redis.Close() })
	return e
}

var tester = tenancy.Actor{UserID: "22222222-2222-2222-2222-222222222222", Role: "manager", IP: "127.0.0.1"}

// in runs fn in a transaction of the company, as the runtime role.
func (e *env) in(t testing.TB, fn func(tx pgx.Tx) error) {
	t.Helper()
	if err := tenancy.InTx(context.Background(), e.app, e.s, fn); err != nil {
		t.Fatal(err)
	}
}

// post posts entries with ledger.PostBatch in one transaction.
func (e *env) post(t testing.TB, entries []ledger.EntryInput) {
	t.Helper()
	e.in(t, func(tx pgx.Tx) error {
		_, err := ledger.PostBatch(context.Background(), tx, entries, tester)
		return err
	})
}

// report runs a report Func in the company's transaction.
func (e *env) report(t testing.TB, fn Func, p Params) any {
	t.Helper()
	var v any
	e.in(t, func(tx pgx.Tx) error {
		var err error
		v, _, err = fn(context.Background(), tx, p)
		return err
	})
	return v
}
