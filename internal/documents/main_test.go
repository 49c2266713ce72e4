package documents

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/vanta-ledger/vanta/internal/bookstest"
	"github.com/vanta-ledger/vanta/internal/docdbtest"
	"github.com/vanta-ledger/vanta/internal/ledger"
	"github.com/vanta-ledger/vanta/internal/migrate"
	"github.com/vanta-ledger/vanta/internal/quota"
	"github.com/vanta-ledger/vanta/internal/redistest"
	"github.com/vanta-ledger/vanta/internal/seal"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

var (
	testPG    *bookstest.Server
	testDocDB *docdbtest.Server
	testRedis *redis.Client
)

// TestMain starts the real services once: PostgreSQL with the ledger's
// migrations, the embedded docdb and Redis (storage quota). Each test has
// its own PostgreSQL database, its own companies (so its own MongoDB
// databases and Redis key prefixes) and its own files directory.
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
	if testPG, err = bookstest.Start(migrate.Source{Name: "ledger", FS: ledger.Migrations}); err != nil {
		return 0, err
	}
	defer testPG.Stop()
	if testDocDB, err = docdbtest.Start(); err != nil {
		return 0, err
	}
	defer testDocDB.Stop()
	rs, err := redistest.Start(false)
	if err != nil {
		return 0, err
	}
	defer rs.Stop()
	testRedis = redis.NewClient(&redis.Options{Network: "unix", Addr: rs.Socket})
	defer testRedis.Close()
	return m.Run(), nil
}

// env is one test's world: two companies A and B with data keys wrapped
// by a real keyring in vanta.companies, provisioned document collections,
// and a Store as the appliance makes it.
type env struct {
	store  Store
	kr     *seal.Keyring
	db     *bookstest.DB
	a, b   tenancy.Scope
	quotas quota.Quotas
}

var tester = tenancy.Actor{UserID: "11111111-1111-1111-1111-111111111111", Role: "manager", IP: "127.0.0.1"}

func setup(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	kr, err := seal.NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kr.Destroy)
	db := testPG.Database(t, 8)
	e := &env{kr: kr, db: db, a: testPG.Company(t, db), b: testPG.Company(t, db),
		quotas: quota.Quotas{Redis: testRedis}}
	for _, sc := range []tenancy.Scope{e.a, e.b} {
		dek, err := kr.NewDataKey(sc.Company().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Super.Exec(ctx, "INSERT INTO vanta.companies (id, name, status, dek) VALUES ($1, $2, 'active', $3)",
			sc.Company(), "Company "+sc.Company().String()[:8], dek); err != nil {
			t.Fatal(err)
		}
		testDocDB.DropOnCleanup(t, sc.MongoDatabase())
		if err := docdbtest.Collections(ctx, testDocDB.Client.Database(sc.MongoDatabase()), "documents", "analyses", "extractions"); err != nil {
			t.Fatal(err)
		}
	}
	e.store = Store{
		Mongo:  testDocDB.Client,
		Files:  t.TempDir(),
		Keys:   CompanyKeys{DB: db.App, Root: kr},
		Ledger: ledger.Store{DB: db.App},
		Quota:  e.quotas,
	}
	return e
}
