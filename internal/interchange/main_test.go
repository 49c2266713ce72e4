package interchange

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
// database of its own and provisions the companies it needs.
func TestMain(m *testing.M) {
	var err error
	if testPG, err = bookstest.Start(migrate.Source{Name: "ledger", FS: ledger.Migrations},
		migrate.Source{Name: "interchange", FS: Migrations}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	testPG.Stop()
	os.Exit(code)
}

type env struct {
	db    *bookstest.DB
	super *pgxpool.Pool
	app   *pgxpool.Pool
}

func setup(t testing.TB) *env {
	t.Helper()
	db := testPG.Database(t, 8)
	return &env{db: db, super: db.Super, app: db.App}
}

// company provisions a new company at the head of the company line.
func (e *env) company(t testing.TB) tenancy.Scope {
	t.Helper()
	return testPG.Company(t, e.db)
}

func (e *env) runner(s tenancy.Scope) Runner { return Runner{DB: e.app, Status: e.app, Scope: s} }

var tester = tenancy.Actor{UserID: "11111111-1111-1111-1111-111111111111", Role: "manager", IP: "127.0.0.1"}
