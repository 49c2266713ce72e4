package tenancy

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/vanta-ledger/vanta/internal/audit"
	"github.com/vanta-ledger/vanta/internal/docdb"
	"github.com/vanta-ledger/vanta/internal/migrate"
	"github.com/vanta-ledger/vanta/internal/redistest"
	"github.com/vanta-ledger/vanta/internal/seal"
)

var (
	redisSocket string
	mongoURI    string
)

func startRedisAndDocDB() (stop func(), err error) {
	rs, err := redistest.Start(true) // ACL file: company users are created and saved
	if err != nil {
		return nil, err
	}
	redisSocket = rs.Socket
	dir, err := os.MkdirTemp("", "tenancy-docdb-")
	if err != nil {
		rs.Stop()
		return nil, err
	}
	mongoSocket := filepath.Join(dir, "mongodb.sock")
	mongoURI = "mongodb://" + url.PathEscape(mongoSocket)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- docdb.Run(ctx, docdb.Config{Dir: filepath.Join(dir, "docdb"), Socket: mongoSocket}) }()
	return func() {
		cancel()
		<-done
		rs.Stop()
		os.RemoveAll(dir)
	}, nil
}

type fixture struct {
	*env
	prov *Provisioner
	kr   *seal.Keyring
}

func provisioner(t *testing.T) *fixture {
	t.Helper()
	e := setup(t)
	kr, err := seal.NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kr.Destroy)
	mc, err := mongo.Connect(options.Client().ApplyURI(mongoURI))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mc.Disconnect(context.Background()) })
	rc := redis.NewClient(&redis.Options{Network: "unix", Addr: redisSocket})
	t.Cleanup(func() { rc.Close() })
	return &fixture{env: e, kr: kr, prov: &Provisioner{DB: e.super, Mongo: mc, Redis: rc, FilesDir: t.TempDir(), Keys: kr, Migrator: migrator}}
}

func TestCreateCompanyEverywhere(t *testing.T) {
	t.Parallel()
	f := provisioner(t)
	ctx := context.Background()
	by := Actor{UserID: "god", Role: "god", IP: "127.0.0.1"}
	a, err := f.prov.Create(ctx, Company{Name: "Acme Ltd", TaxID: "p051234567z", Email: "books@acme.co.ke"}, by)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.prov.Create(ctx, Company{Name: "Bidii Ltd"}, by)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != StatusActive || a.TaxID != "P051234567Z" || a.Settings.Currency != "KES" || a.Settings.Timezone != "Africa/Nairobi" || a.CreatedAt.IsZero() {
		t.Errorf("created %+v", a)
	}
	sa, sb := Scope{company: a.ID}, Scope{company: b.ID}

	var status string
	var dek []byte
	if err := f.super.QueryRow(ctx, "SELECT status, dek FROM vanta.companies WHERE id = $1", a.ID).Scan(&status, &dek); err != nil || status != StatusActive || len(dek) == 0 {
		t.Errorf("company row: %s %d bytes %v", status, len(dek), err)
	}
	// PostgreSQL: its schema works under its scope.
	if err := InTx(ctx, f.app, sa, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO settings (company_id, key, value) VALUES ($1, 'k', '1')", sa.Company())
		return err
	}); err != nil {
		t.Errorf("company schema: %v", err)
	}
	// MongoDB: its database, collections and indexes.
	names, err := f.prov.Mongo.Database(sa.MongoDatabase()).ListCollectionNames(ctx, bson.D{})
	if err != nil || strings.Join(sortStrings(names), ",") != "analyses,documents,extractions" {
		t.Errorf("mongo collections %v %v", names, err)
	}
	// Files.
	if st, err := os.Stat(filepath.Join(sa.Files(f.prov.FilesDir), "documents")); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("files dir: %v", err)
	}
	// Redis: A's user works inside its prefix and nowhere else.
	pass, err := f.prov.RedisPassword(ctx, sa)
	if err != nil {
		t.Fatal(err)
	}
	ca := redis.NewClient(&redis.Options{Network: "unix", Addr: redisSocket, Username: sa.RedisUser(), Password: pass})
	defer ca.Close()
	if err := ca.Set(ctx, sa.RedisPrefix()+"session", "x", 0).Err(); err != nil {
		t.Errorf("A writes its own key: %v", err)
	}
	for _, key := range []string{sb.RedisPrefix() + "session", "system:config"} {
		if err := ca.Get(ctx, key).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Errorf("A reading %s: %v, want NOPERM", key, err)
		}
	}
	if err := ca.Do(ctx, "ACL", "LIST").Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Errorf("A ran ACL LIST: %v", err)
	}
	// Audit: the system chain holds both creations, each company its own.
	for chain, want := range map[string]int64{"system": 2, a.ID.String(): 1, b.ID.String(): 1} {
		if res, err := audit.Verify(ctx, f.super, chain, nil); err != nil || !res.OK || res.Records != want {
			t.Errorf("audit chain %s: %+v %v", chain, res, err)
		}
	}
}

func TestInvalidCompanyCreatesNothing(t *testing.T) {
	t.Parallel()
	f := provisioner(t)
	ctx := context.Background()
	tests := []struct {
		c     Company
		field string
	}{
		{Company{}, "company_name"},
		{Company{Name: "X", TaxID: "P12345678"}, "tax_id"},
		{Company{Name: "X", TaxID: "B051234567Z"}, "tax_id"},
		{Company{Name: "X", Email: "not-an-email"}, "email"},
		{Company{Name: "X", Phone: "call me"}, "phone"},
		{Company{Name: "X", Settings: Settings{Currency: "shilling"}}, "settings.currency"},
		{Company{Name: "X", Settings: Settings{Timezone: "Mars/Olympus"}}, "settings.timezone"},
		{Company{Name: "X", Settings: Settings{Language: "english"}}, "settings.language"},
		{Company{Name: "X", Settings: Settings{Features: []string{"ledger", "crypto"}}}, "settings.features[1]"},
		{Company{Name: "X", Settings: Settings{Features: []string{"ledger", "ledger"}}}, "settings.features[1]"},
	}
	for _, tc := range tests {
		_, err := f.prov.Create(ctx, tc.c, Actor{})
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("Create(%+v) = %v, want a ValidationError on %s", tc.c, err, tc.field)
		}
	}
	var n int
	if err := f.super.QueryRow(ctx, "SELECT count(*) FROM vanta.companies").Scan(&n); err != nil || n != 0 {
		t.Errorf("%d companies after refused creations (%v)", n, err)
	}
	if res, _ := audit.Verify(ctx, f.super, "system", nil); res.Records != 0 {
		t.Errorf("refused creations were audited as done: %+v", res)
	}
}

func TestResumeFinishesAnInterruptedCreate(t *testing.T) {
	t.Parallel()
	f := provisioner(t)
	ctx := context.Background()
	broken := *f.prov
	broken.Redis = redis.NewClient(&redis.Options{Network: "unix", Addr: filepath.Join(t.TempDir(), "absent.sock"), MaxRetries: -1})
	defer broken.Redis.Close()
	c, err := broken.Create(ctx, Company{Name: "Chui Ltd"}, Actor{})
	if err == nil || c.ID == uuid.Nil {
		t.Fatalf("create with Redis down: %v", err)
	}
	var status string
	if err := f.super.QueryRow(ctx, "SELECT status FROM vanta.companies WHERE id = $1", c.ID).Scan(&status); err != nil || status != StatusProvisioning {
		t.Fatalf("status after the failed step: %q %v", status, err)
	}
	if err := f.prov.Resume(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.super.QueryRow(ctx, "SELECT status FROM vanta.companies WHERE id = $1", c.ID).Scan(&status); err != nil || status != StatusActive {
		t.Errorf("status after Resume: %q %v", status, err)
	}
	users, err := f.prov.Redis.Do(ctx, "ACL", "USERS").StringSlice()
	if err != nil || !strings.Contains(strings.Join(users, ","), Scope{company: c.ID}.RedisUser()) {
		t.Errorf("ACL users after Resume: %v %v", users, err)
	}
	if err := f.prov.Resume(ctx, c.ID); err != nil {
		t.Errorf("Resume of an active company: %v", err)
	}
}

func sortStrings(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func TestUpdateArchivePurge(t *testing.T) {
	t.Parallel()
	f := provisioner(t)
	ctx := context.Background()
	c, err := f.prov.Create(ctx, Company{Name: "Acme Ltd"}, Actor{})
	if err != nil {
		t.Fatal(err)
	}
	s := Scope{company: c.ID}
	name, pin := "Acme Holdings", "P051234567Z"
	got, err := Update(ctx, f.super, s, CompanyPatch{Name: &name, TaxID: &pin}, Actor{UserID: "u1", Role: "admin"})
	if err != nil || got.Name != name || got.TaxID != pin || got.Settings.Currency != "KES" {
		t.Fatalf("update: %+v %v", got, err)
	}
	bad := "P1"
	var ve *ValidationError
	if _, err := Update(ctx, f.super, s, CompanyPatch{TaxID: &bad}, Actor{}); !errors.As(err, &ve) || ve.Field != "tax_id" {
		t.Errorf("bad update: %v", err)
	}
	var stored string
	if err := f.super.QueryRow(ctx, "SELECT tax_id FROM vanta.companies WHERE id = $1", c.ID).Scan(&stored); err != nil || stored != pin {
		t.Errorf("a refused update changed the row: %q %v", stored, err)
	}

	// Purge: the data key goes first, so a ciphertext sealed under it can
	// no longer be opened by anyone.
	var dek []byte
	if err := f.super.QueryRow(ctx, "SELECT dek FROM vanta.companies WHERE id = $1", c.ID).Scan(&dek); err != nil {
		t.Fatal(err)
	}
	key, err := f.kr.DataKey(c.ID.String(), dek)
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := key.Seal("document", "d1", []byte("payroll"))
	key.Destroy()
	if err := f.prov.Archive(ctx, s, true, Actor{UserID: "god"}); err != nil {
		t.Fatal(err)
	}
	var status string
	var gone []byte
	if err := f.super.QueryRow(ctx, "SELECT status, dek FROM vanta.companies WHERE id = $1", c.ID).Scan(&status, &gone); err != nil || status != StatusArchived || gone != nil {
		t.Errorf("after purge: %s, dek %v, %v", status, gone, err)
	}
	if _, err := f.kr.DataKey(c.ID.String(), gone); err == nil {
		t.Error("a data key opened after purge")
	}
	_ = ct // sealed under a key that no longer exists anywhere
	var schemas int
	if err := f.super.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", s.schema()).Scan(&schemas); err != nil || schemas != 0 {
		t.Errorf("schema left after purge: %d %v", schemas, err)
	}
	if users, _ := f.prov.Redis.Do(ctx, "ACL", "USERS").StringSlice(); slices.Contains(users, s.RedisUser()) {
		t.Error("redis user left after purge")
	}
	if _, err := os.Stat(s.Files(f.prov.FilesDir)); !os.IsNotExist(err) {
		t.Errorf("files left after purge: %v", err)
	}
	if res, err := audit.Verify(ctx, f.super, "system", nil); err != nil || !res.OK || res.Records != 2 {
		t.Errorf("system chain after create and purge: %+v %v", res, err)
	}
}

// TestOneActiveCompanyPerKRAPIN: a PIN, however it is spelt, belongs to
// one company that is not archived. Creates racing with one PIN make one
// company; the database, not a check before the insert, decides.
func TestOneActiveCompanyPerKRAPIN(t *testing.T) {
	t.Parallel()
	f := provisioner(t)
	ctx := context.Background()
	spellings := []string{"P051234567X", "p051234567x", " P051 234 567X ", "p 0 5 1 2 3 4 5 6 7 x", "P051234567x", "p051234567X"}
	type result struct {
		c   Company
		err error
	}
	results := make(chan result, len(spellings))
	start := make(chan struct{})
	for i, pin := range spellings {
		go func() {
			<-start
			c, err := f.prov.Create(ctx, Company{Name: fmt.Sprintf("Twin %d", i), TaxID: pin}, Actor{})
			results <- result{c, err}
		}()
	}
	close(start)
	var made []Company
	for range spellings {
		r := <-results
		switch {
		case r.err == nil:
			made = append(made, r.c)
		case !errors.Is(r.err, ErrTaxIDTaken):
			t.Errorf("a twin create failed with %v, want ErrTaxIDTaken", r.err)
		}
	}
	if len(made) != 1 || made[0].TaxID != "P051234567X" {
		t.Fatalf("racing creates with one PIN made %+v", made)
	}
	var rows, schemas int
	if err := f.super.QueryRow(ctx, "SELECT count(*) FROM vanta.companies").Scan(&rows); err != nil || rows != 1 {
		t.Errorf("%d company rows (%v), want 1", rows, err)
	}
	if err := f.super.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'company\\_%'").Scan(&schemas); err != nil || schemas != 3 {
		t.Errorf("%d company schemas (%v), want the fixture's 2 and the one company's", schemas, err)
	}

	// Another company cannot take the PIN by an update either.
	other, err := f.prov.Create(ctx, Company{Name: "Other Ltd"}, Actor{})
	if err != nil {
		t.Fatal(err)
	}
	pin := "p051234567x"
	if _, err := Update(ctx, f.super, Scope{company: other.ID}, CompanyPatch{TaxID: &pin}, Actor{}); !errors.Is(err, ErrTaxIDTaken) {
		t.Errorf("update to a taken PIN: %v", err)
	}
	// Archived, the PIN is free again.
	if err := f.prov.Archive(ctx, Scope{company: made[0].ID}, false, Actor{}); err != nil {
		t.Fatal(err)
	}
	if got, err := Update(ctx, f.super, Scope{company: other.ID}, CompanyPatch{TaxID: &pin}, Actor{}); err != nil || got.TaxID != "P051234567X" {
		t.Errorf("update to an archived company's PIN: %+v %v", got, err)
	}
}

// TestTaxIDMigrationKeepsOldTwins: twins from before the rule do not stop
// the migration; all but the oldest are marked and the rule holds for
// everything new, and for a marked twin once its PIN changes.
func TestTaxIDMigrationKeepsOldTwins(t *testing.T) {
	t.Parallel()
	f := provisioner(t)
	ctx := context.Background()
	if _, err := f.super.Exec(ctx, "DROP INDEX vanta."+taxIDIndex+"; ALTER TABLE vanta.companies DROP COLUMN tax_id_twin"); err != nil {
		t.Fatal(err)
	}
	old, twin := uuid.New(), uuid.New()
	if _, err := f.super.Exec(ctx, `INSERT INTO vanta.companies (id, name, tax_id, status, created_at) VALUES
		($1, 'Old', 'P051234567X', 'active', now() - interval '2 days'), ($2, 'Twin', 'p051 234567x', 'active', now() - interval '1 day')`, old, twin); err != nil {
		t.Fatal(err)
	}
	if _, err := f.super.Exec(ctx, systemMigration(t, 10)); err != nil {
		t.Fatalf("the migration with twins present: %v", err)
	}
	marked := map[uuid.UUID]bool{}
	var pins []string
	rows, _ := f.super.Query(ctx, "SELECT id, tax_id, tax_id_twin FROM vanta.companies ORDER BY created_at")
	for rows.Next() {
		var id uuid.UUID
		var pin string
		var m bool
		if err := rows.Scan(&id, &pin, &m); err != nil {
			t.Fatal(err)
		}
		marked[id] = m
		pins = append(pins, pin)
	}
	if rows.Err() != nil || marked[old] || !marked[twin] || strings.Join(pins, ",") != "P051234567X,P051234567X" {
		t.Fatalf("after the migration: marked %v, pins %v (%v)", marked, pins, rows.Err())
	}
	if _, err := f.prov.Create(ctx, Company{Name: "Third", TaxID: "P051234567X"}, Actor{}); !errors.Is(err, ErrTaxIDTaken) {
		t.Errorf("a new twin after the migration: %v", err)
	}
	// The marked twin keeps its PIN through other changes, and leaves the
	// mark when its PIN changes.
	name := "Twin Renamed"
	if _, err := Update(ctx, f.super, Scope{company: twin}, CompanyPatch{Name: &name}, Actor{}); err != nil {
		t.Errorf("renaming a marked twin: %v", err)
	}
	pin := "P051234567Y"
	if _, err := Update(ctx, f.super, Scope{company: twin}, CompanyPatch{TaxID: &pin}, Actor{}); err != nil {
		t.Fatal(err)
	}
	back := "P051234567X"
	if _, err := Update(ctx, f.super, Scope{company: twin}, CompanyPatch{TaxID: &back}, Actor{}); !errors.Is(err, ErrTaxIDTaken) {
		t.Errorf("a former twin takes the PIN back: %v", err)
	}
}

// systemMigration is the SQL of one of the system line's migrations.
func systemMigration(t *testing.T, version int) string {
	t.Helper()
	for _, m := range migrator.Registry().Line(migrate.System) {
		if m.Version == version {
			return m.SQL
		}
	}
	t.Fatalf("no system migration %d", version)
	return ""
}
