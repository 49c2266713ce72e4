package ledger

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vanta-ledger/vanta/internal/audit"
	"github.com/vanta-ledger/vanta/internal/migrate"
	"github.com/vanta-ledger/vanta/internal/pgtest"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

var (
	pg       *pgtest.Server
	migrated *pgtest.Template // the system line of tenancy and audit at head
	migrator *migrate.Migrator
)

// TestMain starts one PostgreSQL for the package; each test takes a
// database of its own, with companies provisioned by the real migrator.
func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	var err error
	if pg, err = pgtest.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer pg.Stop()
	reg, err := migrate.NewRegistry(migrate.Source{Name: "tenancy", FS: tenancy.Migrations},
		migrate.Source{Name: "audit", FS: audit.Migrations}, migrate.Source{Name: "ledger", FS: Migrations})
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

// env is a database with two companies, A and B, each at the head of the
// company line, and a pool of the runtime role.
type env struct {
	super *pgxpool.Pool
	app   *pgxpool.Pool
	a, b  tenancy.Scope
}

func setup(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	db, dsn := migrated.Database(t)
	super, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(super.Close)
	e := &env{super: super}
	err = pgx.BeginFunc(ctx, super, func(tx pgx.Tx) error {
		if e.a, err = tenancy.Provision(ctx, tx, migrator, uuid.New()); err != nil {
			return err
		}
		e.b, err = tenancy.Provision(ctx, tx, migrator, uuid.New())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(pg.AppDSN(db))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 8
	if e.app, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.app.Close)
	return e
}

// in runs fn in a transaction of the company, as the runtime role.
func (e *env) in(s tenancy.Scope, fn func(tx pgx.Tx) error) error {
	return tenancy.InTx(context.Background(), e.app, s, fn)
}

// schema is the company's schema name, for superuser tampering.
func schema(s tenancy.Scope) string {
	return tenancy.MigrationTarget(s.Company()).Schema
}

var tester = tenancy.Actor{UserID: "11111111-1111-1111-1111-111111111111", Role: "manager", IP: "127.0.0.1"}
