package interchange

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
		migrate.Source{Name: "audit", FS: audit.Migrations}, migrate.Source{Name: "ledger", FS: ledger.Migrations},
		migrate.Source{Name: "interchange", FS: Migrations})
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
	cfg, err := pgxpool.ParseConfig(pg.AppDSN(db))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 8
	app, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	return &env{super: super, app: app}
}

// company provisions a new company at the head of the company line.
func (e *env) company(t testing.TB) tenancy.Scope {
	t.Helper()
	ctx := context.Background()
	var s tenancy.Scope
	err := pgx.BeginFunc(ctx, e.super, func(tx pgx.Tx) error {
		var err error
		s, err = tenancy.Provision(ctx, tx, migrator, uuid.New())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *env) runner(s tenancy.Scope) Runner { return Runner{DB: e.app, Status: e.app, Scope: s} }

var tester = tenancy.Actor{UserID: "11111111-1111-1111-1111-111111111111", Role: "manager", IP: "127.0.0.1"}
