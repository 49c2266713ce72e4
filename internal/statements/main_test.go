package statements

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vanta-ledger/vanta/internal/bookstest"
	"github.com/vanta-ledger/vanta/internal/ledger"
	"github.com/vanta-ledger/vanta/internal/migrate"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

var (
	pgOnce sync.Once
	pgErr  error
	testPG *bookstest.Server
)

// TestMain stops the PostgreSQL the import tests started, if they ran:
// the cluster starts on first use, so the pure tests and the fuzz
// target's workers never start one.
func TestMain(m *testing.M) {
	code := m.Run()
	if testPG != nil {
		testPG.Stop()
	}
	os.Exit(code)
}

// company is one provisioned company and a pool of the runtime role.
type company struct {
	app   *pgxpool.Pool
	scope tenancy.Scope
}

func newCompany(t *testing.T) *company {
	t.Helper()
	if pgOnce.Do(func() { testPG, pgErr = bookstest.Start(migrate.Source{Name: "ledger", FS: ledger.Migrations}) }); pgErr != nil {
		t.Fatalf("start PostgreSQL: %v", pgErr)
	}
	db := testPG.Database(t, 4)
	return &company{app: db.App, scope: testPG.Company(t, db)}
}

func (c *company) in(fn func(tx pgx.Tx) error) error {
	return tenancy.InTx(context.Background(), c.app, c.scope, fn)
}

var importer = tenancy.Actor{UserID: "22222222-2222-2222-2222-222222222222", Role: "manager", IP: "127.0.0.1"}
