package reports

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/vanta-ledger/vanta/internal/audit"
	"github.com/vanta-ledger/vanta/internal/ledger"
	"github.com/vanta-ledger/vanta/internal/migrate"
	"github.com/vanta-ledger/vanta/internal/pgtest"
	"github.com/vanta-ledger/vanta/internal/redistest"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

var (
	pg       *pgtest.Server
	rds      *redistest.Server
	migrated *pgtest.Template // the system line of tenancy and audit at head
	migrator *migrate.Migrator
)

// TestMain starts one PostgreSQL and one Redis for the package; each test
// takes a database of its own with a company provisioned by the real
// migrator (the ledger's migration included), and keeps apart in Redis by
// its company's key space.
func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	var err error
	if pg, err = pgtest.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer pg.Stop()
	if rds, err = redistest.Start(false); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer rds.Stop()
	reg, err := migrate.NewRegistry(migrate.Source{Name: "tenancy", FS: tenancy.Migrations},
		migrate.Source{Name: "audit", FS: audit.Migrations}, migrate.Source{Name: "ledger", FS: ledger.Migrations})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	migrator = migrate.New(reg, tenancy.Roles, nil)
	migrated = pg.Template(func(ctx context.Context, dsn string) error {
		db, err := pgxpool.New(ctx, dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		_, err = migrator.System(ctx, db)
		return err
	})
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
	ctx := context.Background()
	db, dsn := migrated.Database(t)
	super, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close()
	e := &env{dsn: dsn}
	err = pgx.BeginFunc(ctx, super, func(tx pgx.Tx) error {
		e.s, err = tenancy.Provision(ctx, tx, migrator, uuid.New())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(pg.AppDSN(db))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 4
	if e.app, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.app.Close)
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
