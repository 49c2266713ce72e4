package invoicing

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vanta-ledger/vanta/internal/audit"
	"github.com/vanta-ledger/vanta/internal/ledger"
	"github.com/vanta-ledger/vanta/internal/migrate"
	"github.com/vanta-ledger/vanta/internal/pgtest"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

var (
	pg       *pgtest.Server
	migrated *pgtest.Template
	migrator *migrate.Migrator
)

// TestMain starts one PostgreSQL for the package; each test takes a
// database of its own with two companies provisioned by the real
// migrator (tenancy, ledger and invoicing lines).
func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	var err error
	if pg, err = pgtest.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer pg.Stop()
	reg, err := migrate.NewRegistry(migrate.Source{Name: "tenancy", FS: tenancy.Migrations},
		migrate.Source{Name: "audit", FS: audit.Migrations}, migrate.Source{Name: "ledger", FS: ledger.Migrations},
		migrate.Source{Name: "invoicing", FS: Migrations})
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

type env struct {
	super *pgxpool.Pool
	app   *pgxpool.Pool
	a, b  tenancy.Scope
	store Store
}

func setup(t testing.TB, conns int32) *env {
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
	cfg.MaxConns = conns
	if e.app, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.app.Close)
	e.store = Store{DB: e.app}
	return e
}

var clerk = tenancy.Actor{UserID: "22222222-2222-2222-2222-222222222222", Role: "manager", IP: "127.0.0.1"}
