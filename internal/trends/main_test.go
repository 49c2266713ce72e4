package trends

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vanta-ledger/vanta/internal/migrate"
	"github.com/vanta-ledger/vanta/internal/pgtest"
	"github.com/vanta-ledger/vanta/internal/pgtest/systemtest"
	"github.com/vanta-ledger/vanta/internal/redistest"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

var (
	pg          *pgtest.Server
	migrated    *pgtest.Template // tenancy's system schema and the history tables
	redisSocket string
)

// TestMain starts one PostgreSQL cluster for the package; each test takes
// its own database, copied from a migrated template.
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
	migrated = systemtest.Template(pg, migrate.Source{Name: "tenancy", FS: tenancy.Migrations}, migrate.Source{Name: "trends", FS: Migrations})
	rs, err := redistest.Start(false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer rs.Stop()
	redisSocket = rs.Socket
	return m.Run()
}

// appDB is a fresh migrated database for one test, connected as the
// runtime role (so a missing grant fails the test).
func appDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	_, app, _ := newDB(t)
	return app
}

// newDB is a fresh migrated database, as the runtime role and as the
// superuser (to set up what the runtime role may not write).
func newDB(t *testing.T) (name string, app, super *pgxpool.Pool) {
	t.Helper()
	name, dsn := migrated.Database(t)
	pool := func(dsn string) *pgxpool.Pool {
		db, err := pgxpool.New(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		return db
	}
	return name, pool(pg.AppDSN(name)), pool(dsn)
}

// opener gives db to a recorder or advisor.
func opener(db *pgxpool.Pool) Opener {
	return func(context.Context) (*pgxpool.Pool, error) { return db, nil }
}
