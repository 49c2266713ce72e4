package statements

import (
	"context"
	"os"
	"sync"
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
	pgOnce   sync.Once
	pgErr    error
	pg       *pgtest.Server
	migrated *pgtest.Template // the system line at head
	migrator *migrate.Migrator
)

// TestMain stops the PostgreSQL the import tests started, if they ran:
// the cluster starts on first use, so the pure tests and the fuzz
// target's workers never start one.
func TestMain(m *testing.M) {
	code := m.Run()
	if pg != nil {
		pg.Stop()
	}
	os.Exit(code)
}

func startPG() error {
	var err error
	if pg, err = pgtest.Start(); err != nil {
		return err
	}
	reg, err := migrate.NewRegistry(migrate.Source{Name: "tenancy", FS: tenancy.Migrations},
		migrate.Source{Name: "audit", FS: audit.Migrations}, migrate.Source{Name: "ledger", FS: ledger.Migrations})
	if err != nil {
		return err
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
	return nil
}

// company is one provisioned company and a pool of the runtime role.
type company struct {
	app   *pgxpool.Pool
	scope tenancy.Scope
}

func newCompany(t *testing.T) *company {
	t.Helper()
	if pgOnce.Do(func() { pgErr = startPG() }); pgErr != nil {
		t.Fatalf("start PostgreSQL: %v", pgErr)
	}
	ctx := context.Background()
	db, dsn := migrated.Database(t)
	super, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(super.Close)
	c := &company{}
	if err := pgx.BeginFunc(ctx, super, func(tx pgx.Tx) error {
		c.scope, err = tenancy.Provision(ctx, tx, migrator, uuid.New())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if c.app, err = pgxpool.New(ctx, pg.AppDSN(db)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.app.Close)
	return c
}

func (c *company) in(fn func(tx pgx.Tx) error) error {
	return tenancy.InTx(context.Background(), c.app, c.scope, fn)
}

var importer = tenancy.Actor{UserID: "22222222-2222-2222-2222-222222222222", Role: "manager", IP: "127.0.0.1"}
