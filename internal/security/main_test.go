package security

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vanta-ledger/vanta/internal/migrate"
	"github.com/vanta-ledger/vanta/internal/pgtest"
	"github.com/vanta-ledger/vanta/internal/pgtest/systemtest"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

var (
	pg       *pgtest.Server
	migrated *pgtest.Template // the system line of tenancy and security
)

// TestMain starts one PostgreSQL cluster for the package; each test takes
// its own database.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if pg, err = pgtest.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer pg.Stop()
	migrated = systemtest.Template(pg, migrate.Source{Name: "tenancy", FS: tenancy.Migrations}, migrate.Source{Name: "security", FS: Migrations})
	return m.Run()
}

// testDB is a fresh migrated database, reached as the runtime role (so a
// missing grant fails here), and the owner's pool for test fixtures.
func testDB(t *testing.T) (app, owner *pgxpool.Pool) {
	t.Helper()
	name, dsn := migrated.Database(t)
	ctx := context.Background()
	app, err := pgxpool.New(ctx, pg.AppDSN(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	owner, err = pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(owner.Close)
	return app, owner
}
