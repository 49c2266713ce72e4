package ledger

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vanta-ledger/vanta/internal/bookstest"
	"github.com/vanta-ledger/vanta/internal/migrate"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

var testPG *bookstest.Server

// TestMain starts one PostgreSQL for the package; each test takes a
// database of its own, with companies provisioned by the real migrator.
func TestMain(m *testing.M) {
	var err error
	if testPG, err = bookstest.Start(migrate.Source{Name: "ledger", FS: Migrations}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	testPG.Stop()
	os.Exit(code)
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
	db := testPG.Database(t, 8)
	return &env{super: db.Super, app: db.App, a: testPG.Company(t, db), b: testPG.Company(t, db)}
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
