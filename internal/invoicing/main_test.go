package invoicing

import (
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vanta-ledger/vanta/internal/bookstest"
	"github.com/vanta-ledger/vanta/internal/ledger"
	"github.com/vanta-ledger/vanta/internal/migrate"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

var testPG *bookstest.Server

// TestMain starts one PostgreSQL for the package; each test takes a
// database of its own with two companies provisioned by the real
// migrator (tenancy, ledger and invoicing lines).
func TestMain(m *testing.M) {
	var err error
	if testPG, err = bookstest.Start(migrate.Source{Name: "ledger", FS: ledger.Migrations},
		migrate.Source{Name: "invoicing", FS: Migrations}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	testPG.Stop()
	os.Exit(code)
}

type env struct {
	super *pgxpool.Pool
	app   *pgxpool.Pool
	a, b  tenancy.Scope
	store Store
}

func setup(t testing.TB, conns int32) *env {
	t.Helper()
	db := testPG.Database(t, conns)
	return &env{super: db.Super, app: db.App, a: testPG.Company(t, db), b: testPG.Company(t, db), store: Store{DB: db.App}}
}

var clerk = tenancy.Actor{UserID: "22222222-2222-2222-2222-222222222222", Role: "manager", IP: "127.0.0.1"}
