package transfer

import (
	"fmt"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/vanta-ledger/vanta/internal/audit"
	"github.com/vanta-ledger/vanta/internal/auth"
	"github.com/vanta-ledger/vanta/internal/bookstest"
	"github.com/vanta-ledger/vanta/internal/docdbtest"
	"github.com/vanta-ledger/vanta/internal/ledger"
	"github.com/vanta-ledger/vanta/internal/migrate"
	"github.com/vanta-ledger/vanta/internal/redistest"
	"github.com/vanta-ledger/vanta/internal/seal"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

var (
	testPG       *bookstest.Server
	testDocDB    *docdbtest.Server
	testRedis    *redis.Client
	testMigrator *migrate.Migrator
)

// sources are the migrations of the test databases: the register, the
// audit log, identities (members), the key table and the books.
var sources = []migrate.Source{{Name: "auth", FS: auth.Migrations}, {Name: "seal", FS: seal.Migrations}, {Name: "ledger", FS: ledger.Migrations}}

// TestMain starts the real services once: PostgreSQL, the embedded docdb
// and Redis. Each test has its own database and companies.
func TestMain(m *testing.M) {
	code, err := runMain(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(code)
}

func runMain(m *testing.M) (int, error) {
	var err error
	if testPG, err = bookstest.Start(sources...); err != nil {
		return 0, err
	}
	defer testPG.Stop()
	reg, err := migrate.NewRegistry(append([]migrate.Source{{Name: "tenancy", FS: tenancy.Migrations}, {Name: "audit", FS: audit.Migrations}}, sources...)...)
	if err != nil {
		return 0, err
	}
	testMigrator = migrate.New(reg, tenancy.Roles, nil)
	if testDocDB, err = docdbtest.Start(); err != nil {
		return 0, err
	}
	defer testDocDB.Stop()
	rs, err := redistest.Start(true)
	if err != nil {
		return 0, err
	}
	defer rs.Stop()
	testRedis = redis.NewClient(&redis.Options{Network: "unix", Addr: rs.Socket})
	defer testRedis.Close()
	return m.Run(), nil
}
