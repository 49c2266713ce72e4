package migrate

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vanta-ledger/vanta/internal/pgtest"
)

var pg *pgtest.Server

func TestMain(m *testing.M) {
	var err error
	if pg, err = pgtest.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

var roles = Roles{Owner: pgtest.OwnerRole, App: pgtest.AppRole}

func file(sql string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(sql)} }

// registry is a small system line and a company line of two steps.
func registry(t *testing.T) *Registry {
	t.Helper()
	r, err := NewRegistry(
		Source{Name: "one", FS: fstest.MapFS{
			"migrations/system/0001_things.sql":  file("CREATE SCHEMA IF NOT EXISTS vanta; CREATE TABLE vanta.things (id int PRIMARY KEY);"),
			"migrations/company/0001_notes.sql":  file("CREATE TABLE notes (company_id uuid NOT NULL, body text NOT NULL);"),
			"migrations/company/0002_serial.sql": file("CREATE TABLE counters (id serial PRIMARY KEY, company_id uuid NOT NULL);"),
		}},
		Source{Name: "two", FS: fstest.MapFS{
			"migrations/system/0002_more.sql": file("ALTER TABLE vanta.things ADD COLUMN name text;"),
		}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func database(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	name, dsn := pg.NewDatabase(t)
	db, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db, name
}

func target(id uuid.UUID) Target {
	n := "company_" + strings.ReplaceAll(id.String(), "-", "")
	return Target{Company: id, Schema: n, Role: n}
}

// TestRegistryRefusesDuplicateVersions: two domains cannot both claim a
// version of a line; the error names both files. The same version in the
// other line is fine.
func TestRegistryRefusesDuplicateVersions(t *testing.T) {
	a := Source{Name: "ledger", FS: fstest.MapFS{"migrations/company/0002_accounts.sql": file("SELECT 1")}}
	b := Source{Name: "documents", FS: fstest.MapFS{"migrations/company/0002_files.sql": file("SELECT 1")}}
	_, err := NewRegistry(a, b)
	if err == nil || !strings.Contains(err.Error(), "ledger:migrations/company/0002_accounts.sql") || !strings.Contains(err.Error(), "documents:migrations/company/0002_files.sql") {
		t.Fatalf("duplicate company versions: %v", err)
	}
	c := Source{Name: "documents", FS: fstest.MapFS{"migrations/system/0002_files.sql": file("SELECT 1")}}
	r, err := NewRegistry(a, c)
	if err != nil || r.Head(Company) != 2 || r.Head(System) != 2 {
		t.Fatalf("one version in each line: %v", err)
	}
	if _, err := r.With(Migration{Line: Company, Version: 2, Name: "again", Source: "test"}); err == nil {
		t.Error("With accepted a duplicate version")
	}
	for _, bad := range []string{"2_x.sql", "0003_Capital.sql", "0003_x.up.sql", "0000_zero.sql"} {
		if _, err := NewRegistry(Source{Name: "bad", FS: fstest.MapFS{"migrations/system/" + bad: file("SELECT 1")}}); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if g := r.Gaps(Company); len(g) != 1 || g[0] != 1 {
		t.Errorf("gaps %v, want [1]", g)
	}
}

// TestSystemRunsOnceUnderTheLock: two processes migrating one database at
// once apply each migration exactly once; a third run applies nothing.
func TestSystemRunsOnceUnderTheLock(t *testing.T) {
	db, _ := database(t)
	ctx := context.Background()
	m := New(registry(t), roles, nil)
	var wg sync.WaitGroup
	applied := make([]int, 4)
	errs := make([]error, 4)
	for i := range applied {
		wg.Add(1)
		go func() {
			defer wg.Done()
			applied[i], errs[i] = m.System(ctx, db)
		}()
	}
	wg.Wait()
	total := 0
	for i := range applied {
		if errs[i] != nil {
			t.Fatalf("run %d: %v", i, errs[i])
		}
		total += applied[i]
	}
	if total != 2 {
		t.Errorf("applied %v in all, want 2", applied)
	}
	if n, err := m.System(ctx, db); err != nil || n != 0 {
		t.Errorf("again: %d %v", n, err)
	}
	st, err := m.SystemStatus(ctx, db)
	if err != nil || !st.AtHead || st.Version != 2 || st.Head != 2 {
		t.Errorf("status %+v %v", st, err)
	}
}

// TestCompanyStepsAreSecured: every table a company migration makes is
// owned by the owner, under forced row-level security with both policies,
// closed to PUBLIC and open to the company's role, which the runtime role
// reaches only by SET ROLE; the runtime role sees the company's rows and no
// other company's.
func TestCompanyStepsAreSecured(t *testing.T) {
	db, _ := database(t)
	ctx := context.Background()
	m := New(registry(t), roles, nil)
	if _, err := m.System(ctx, db); err != nil {
		t.Fatal(err)
	}
	a, b := target(uuid.New()), target(uuid.New())
	if err := m.Companies(ctx, db, []Target{a, b}, nil); err != nil {
		t.Fatal(err)
	}
	for _, tg := range []Target{a, b} {
		rows, err := db.Query(ctx, `SELECT c.relname, c.relrowsecurity AND c.relforcerowsecurity, pg_get_userbyid(c.relowner),
				(SELECT string_agg(policyname || '/' || permissive, ',' ORDER BY policyname) FROM pg_policies p WHERE p.schemaname = $1 AND p.tablename = c.relname),
				has_table_privilege('public', c.oid, 'SELECT'), has_table_privilege($2, c.oid, 'SELECT,INSERT,UPDATE,DELETE')
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY 1`, tg.Schema, tg.Role)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		var name, owner, policies string
		var rls, public, role bool
		if _, err := pgx.ForEachRow(rows, []any{&name, &rls, &owner, &policies, &public, &role}, func() error {
			got = append(got, name)
			if !rls || owner != pgtest.OwnerRole || policies != "tenant/RESTRICTIVE,tenant_rows/PERMISSIVE" || public || !role {
				t.Errorf("%s.%s: rls %v owner %s policies %s public %v role %v", tg.Schema, name, rls, owner, policies, public, role)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, ",") != "counters,notes" {
			t.Errorf("tables of %s: %v", tg.Schema, got)
		}
	}
	// As the runtime role, in a transaction rolled back at the end.
	tx := pgtest.Tx(t, db, pgtest.AppRole)
	for _, tg := range []Target{a, b} {
		if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+tg.Role); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "SELECT set_config('app.company_id', $1, true)", tg.Company.String()); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"notes (company_id, body) VALUES ($1, 'mine')", "counters (company_id) VALUES ($1)"} {
			if _, err := tx.Exec(ctx, "INSERT INTO "+tg.Schema+"."+table, tg.Company); err != nil {
				t.Fatalf("the company role writes %s: %v", table, err)
			}
		}
		if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+pgtest.AppRole); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.Exec(ctx, "SAVEPOINT s"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT count(*) FROM "+a.Schema+".notes"); err == nil {
		t.Error("the runtime role reads a company table without becoming the company")
	}
	if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT s; SET LOCAL ROLE "+a.Role); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT set_config('app.company_id', $1, true)", b.Company.String()); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+a.Schema+".notes").Scan(&n); err != nil || n != 0 {
		t.Errorf("company A's role with B's id set sees %d rows of A (%v)", n, err)
	}
}

// TestNewCompanyMigrationReachesEveryCompany: a company migration added
// after companies exist is applied to each of them, once, and recorded.
func TestNewCompanyMigrationReachesEveryCompany(t *testing.T) {
	db, _ := database(t)
	ctx := context.Background()
	m := New(registry(t), roles, nil)
	if _, err := m.System(ctx, db); err != nil {
		t.Fatal(err)
	}
	companies := []Target{target(uuid.New()), target(uuid.New()), target(uuid.New())}
	if err := m.Companies(ctx, db, companies, nil); err != nil {
		t.Fatal(err)
	}
	reg, err := m.Registry().With(Migration{Line: Company, Version: 3, Name: "tags", Source: "test",
		SQL: "CREATE TABLE tags (company_id uuid NOT NULL, tag text)"})
	if err != nil {
		t.Fatal(err)
	}
	m3 := New(reg, roles, nil)
	var seen []int
	if err := m3.Companies(ctx, db, companies, func(done, applied int) { seen = append(seen, applied) }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seen) != "[1 2 3]" {
		t.Errorf("progress %v, want one migration per company", seen)
	}
	ids := []uuid.UUID{companies[0].Company, companies[1].Company, companies[2].Company}
	states, err := m3.CompanyStatus(ctx, db, ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if s := states[id]; !s.AtHead || s.Version != 3 || s.Head != 3 {
			t.Errorf("%s: %+v", id, s)
		}
		var rls bool
		if err := db.QueryRow(ctx, "SELECT relforcerowsecurity FROM pg_class WHERE oid = $1::regclass", target(id).Schema+".tags").Scan(&rls); err != nil || !rls {
			t.Errorf("%s.tags: forced rls %v %v", id, rls, err)
		}
	}
	if err := m3.Companies(ctx, db, companies, func(_, applied int) {
		if applied != 0 {
			t.Errorf("second run applied %d", applied)
		}
	}); err != nil {
		t.Fatal(err)
	}
}

// TestCompanyTableWithoutCompanyIDIsRefused: a table whose rows cannot be
// tied to the company fails its migration, which leaves nothing behind.
func TestCompanyTableWithoutCompanyIDIsRefused(t *testing.T) {
	db, _ := database(t)
	ctx := context.Background()
	reg, err := registry(t).With(Migration{Line: Company, Version: 3, Name: "loose", Source: "test", SQL: "CREATE TABLE loose (id int)"})
	if err != nil {
		t.Fatal(err)
	}
	m := New(reg, roles, nil)
	if _, err := m.System(ctx, db); err != nil {
		t.Fatal(err)
	}
	c := target(uuid.New())
	_, err = m.Company(ctx, db, c)
	if err == nil || !strings.Contains(err.Error(), "loose has no company_id") {
		t.Fatalf("a table without company_id: %v", err)
	}
	st, err := m.CompanyStatus(ctx, db, []uuid.UUID{c.Company})
	if err != nil || st[c.Company].Version != 2 || st[c.Company].AtHead {
		t.Errorf("after the refusal: %+v %v", st[c.Company], err)
	}
	var exists bool
	if err := db.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", c.Schema+".loose").Scan(&exists); err != nil || exists {
		t.Errorf("the refused table exists: %v %v", exists, err)
	}
}

// TestTargetNamesArePlainIdentifiers: the names go into SQL; anything but
// a plain identifier is refused before any SQL runs.
func TestTargetNamesArePlainIdentifiers(t *testing.T) {
	m := New(registry(t), roles, nil)
	for _, tg := range []Target{
		{Company: uuid.New(), Schema: "x; DROP SCHEMA vanta", Role: "x"},
		{Company: uuid.New(), Schema: "x", Role: `"x"`},
		{Schema: "x", Role: "x"},
	} {
		if _, err := m.CompanyTx(context.Background(), nil, tg); err == nil {
			t.Errorf("%+v accepted", tg)
		}
	}
	if err := (Target{Company: uuid.New(), Schema: "company_ab", Role: "company_ab"}).check(); err != nil {
		t.Error(err)
	}
}

// TestGoStepsJoinTheLine: a domain's Go step is a version of the line
// like a file: it runs once, in its migration's transaction (a failing
// step leaves neither its changes nor its bookkeeping row), and a step
// that does nothing is refused.
func TestGoStepsJoinTheLine(t *testing.T) {
	ctx := context.Background()
	calls := 0
	step := func(fail bool) Migration {
		return Migration{Line: System, Version: 2, Name: "library schema", Go: func(ctx context.Context, tx pgx.Tx) error {
			calls++
			if _, err := tx.Exec(ctx, "CREATE TABLE vanta.from_go (id int)"); err != nil {
				return err
			}
			if fail {
				return fmt.Errorf("the library refused")
			}
			return nil
		}}
	}
	files := fstest.MapFS{"migrations/system/0001_things.sql": file("CREATE SCHEMA IF NOT EXISTS vanta; CREATE TABLE vanta.things (id int PRIMARY KEY);")}
	tests := []struct {
		name    string
		fail    bool
		wantErr bool
		table   bool
	}{
		{"applies once", false, false, true},
		{"failure rolls back", true, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls = 0
			db, _ := database(t)
			reg, err := NewRegistry(Source{Name: "one", FS: files}, Source{Name: "lib", Steps: []Migration{step(tc.fail)}})
			if err != nil {
				t.Fatal(err)
			}
			if g := reg.Gaps(System); len(g) != 0 || reg.Head(System) != 2 {
				t.Fatalf("gaps %v head %d", g, reg.Head(System))
			}
			m := New(reg, roles, nil)
			_, err = m.System(ctx, db)
			if (err != nil) != tc.wantErr {
				t.Fatalf("System: %v", err)
			}
			if tc.wantErr && !strings.Contains(err.Error(), "lib:go step 0002") {
				t.Errorf("the error does not name the step: %v", err)
			}
			var table, recorded bool
			if err := db.QueryRow(ctx, "SELECT to_regclass('vanta.from_go') IS NOT NULL, EXISTS (SELECT 1 FROM vanta.schema_migrations WHERE version = 2)").Scan(&table, &recorded); err != nil {
				t.Fatal(err)
			}
			if table != tc.table || recorded != tc.table {
				t.Errorf("table %v, recorded %v, want %v", table, recorded, tc.table)
			}
			if !tc.wantErr {
				if n, err := m.System(ctx, db); err != nil || n != 0 || calls != 1 {
					t.Errorf("again: applied %d, %v, step ran %d times", n, err, calls)
				}
			}
		})
	}
	if _, err := NewRegistry(Source{Name: "lib", Steps: []Migration{{Line: System, Version: 1, Name: "empty"}}}); err == nil {
		t.Error("a step with neither SQL nor Go was accepted")
	}
}
