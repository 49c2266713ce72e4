package tenancy

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vanta-ledger/vanta/internal/audit"
	"github.com/vanta-ledger/vanta/internal/migrate"
	"github.com/vanta-ledger/vanta/internal/pgtest"
)

var (
	pg       *pgtest.Server
	migrated *pgtest.Template // the system line of tenancy and audit at head
	migrator *migrate.Migrator
)

const appPassword = pgtest.AppPassword

// TestMain starts the real servers once: PostgreSQL, Redis (with an ACL
// file, as the appliance runs it) and the embedded MongoDB-protocol server.
func TestMain(m *testing.M) {
	var err error
	if pg, err = pgtest.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	reg, err := migrate.NewRegistry(migrate.Source{Name: "tenancy", FS: Migrations}, migrate.Source{Name: "audit", FS: audit.Migrations})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	migrator = migrate.New(reg, Roles, nil)
	migrated = pg.Template(func(ctx context.Context, dsn string) error {
		db, err := pgxpool.New(ctx, dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		_, err = migrator.System(ctx, db)
		return err
	})
	stopOthers, err := startRedisAndDocDB()
	if err != nil {
		pg.Stop()
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	stopOthers()
	pg.Stop()
	os.Exit(code)
}

// env is one database with two companies, A and B, seeded with marker rows,
// plus a row of B's planted in A's table (the bug RLS must contain).
type env struct {
	super *pgxpool.Pool
	app   *pgxpool.Pool // the runtime role, 2 connections
	a, b  Scope
}

func setup(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	db, dsn := migrated.Database(t)
	super, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(super.Close)
	e := &env{super: super}
	err = pgx.BeginFunc(ctx, super, func(tx pgx.Tx) error {
		if e.a, err = Provision(ctx, tx, migrator, uuid.New()); err != nil {
			return err
		}
		e.b, err = Provision(ctx, tx, migrator, uuid.New())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(pg.DSN(AppRole, appPassword, db))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 2
	if e.app, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.app.Close)
	for _, s := range []Scope{e.a, e.b} {
		err := InTx(ctx, e.app, s, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO settings (company_id, key, value) VALUES ($1, 'marker', to_jsonb($2::text))", s.Company(), "marker-of-"+s.Company().String())
			return err
		})
		if err != nil {
			t.Fatalf("seed %s: %v", s.Company(), err)
		}
	}
	if _, err := super.Exec(ctx, "INSERT INTO "+e.a.schema()+".settings (company_id, key, value) VALUES ($1, 'planted', '\"foreign\"')", e.b.Company()); err != nil {
		t.Fatal(err)
	}
	return e
}

// begin is how the suite enters a company; the mutation test swaps it.
type beginFunc func(ctx context.Context, db *pgxpool.Pool, s Scope, fn func(pgx.Tx) error) error

func realBegin(ctx context.Context, db *pgxpool.Pool, s Scope, fn func(pgx.Tx) error) error {
	return InTx(ctx, db, s, fn)
}

// violations runs the isolation suite and returns what it found wrong.
func (e *env) violations(ctx context.Context, begin beginFunc, rounds int) []string {
	var found []string
	report := func(format string, args ...any) { found = append(found, fmt.Sprintf(format, args...)) }

	// Data: each company sees its own rows and only those, on a pool of 2
	// connections reused across companies.
	for i := range rounds {
		s, other := e.a, e.b
		if i%2 == 1 {
			s, other = e.b, e.a
		}
		err := begin(ctx, e.app, s, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, "SELECT company_id, value::text FROM settings")
			if err != nil {
				return err
			}
			own := 0
			for rows.Next() {
				var cid uuid.UUID
				var v string
				if err := rows.Scan(&cid, &v); err != nil {
					return err
				}
				if cid != s.Company() || strings.Contains(v, other.Company().String()) || v == `"foreign"` {
					report("round %d: company %s saw a row of %s: %s", i, s.Company(), cid, v)
				} else {
					own++
				}
			}
			if err := rows.Err(); err != nil {
				return err
			}
			if own != 1 {
				report("round %d: company %s saw %d own rows, want 1", i, s.Company(), own)
			}
			return nil
		})
		if err != nil {
			report("round %d: company %s could not read its own data: %v", i, s.Company(), err)
			break
		}
	}

	// A's role cannot reach B's schema, even with a crafted search_path.
	for _, q := range []string{
		"SELECT count(*) FROM " + e.b.schema() + ".settings",
		"SELECT set_config('search_path', '" + e.b.schema() + "', true); SELECT count(*) FROM settings",
	} {
		err := begin(ctx, e.app, e.a, func(tx pgx.Tx) error {
			var n int
			for _, stmt := range strings.Split(q, "; ") {
				if err := tx.QueryRow(ctx, stmt).Scan(&n); err != nil {
					return err
				}
			}
			if n > 0 {
				report("company A read %d rows of B through %q", n, q)
			}
			return nil
		})
		if err == nil {
			report("company A's role could query B's schema: %q", q)
		}
	}

	// As a company's role but with no company set: nothing.
	err := pgx.BeginFunc(ctx, e.app, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+e.a.role()); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+e.a.schema()+".settings").Scan(&n); err != nil {
			return err
		}
		if n != 0 {
			report("with no company set, %s returned %d rows", e.a.schema(), n)
		}
		return nil
	})
	if err != nil {
		report("no-company read failed unexpectedly: %v", err)
	}

	// Catalog: every company table has RLS enabled and forced, exactly our
	// two policies, and the owner role owns it.
	for _, s := range []Scope{e.a, e.b} {
		var tables []string
		rows, err := e.super.Query(ctx, "SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname = $1", s.schema())
		if err == nil {
			tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		if err != nil || len(tables) == 0 {
			report("tables of %s: %v %v", s.schema(), tables, err)
		}
		for _, table := range tables {
			var enabled, forced bool
			var owner string
			if err := e.super.QueryRow(ctx, `SELECT c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner)
				FROM pg_class c WHERE c.oid = $1::regclass`, table).Scan(&enabled, &forced, &owner); err != nil {
				report("catalog %s: %v", table, err)
				continue
			}
			if !enabled || !forced || owner != OwnerRole {
				report("%s: rls enabled %v, forced %v, owner %s", table, enabled, forced, owner)
			}
			rows, _ := e.super.Query(ctx, `SELECT policyname, permissive, coalesce(qual, '') FROM pg_policies
				WHERE schemaname || '.' || tablename = $1 ORDER BY policyname`, table)
			var policies []string
			for rows.Next() {
				var name, permissive, qual string
				_ = rows.Scan(&name, &permissive, &qual)
				policies = append(policies, name+"/"+permissive)
				if !strings.Contains(qual, "app.company_id") {
					report("%s: policy %s does not test app.company_id: %s", table, name, qual)
				}
			}
			rows.Close()
			if strings.Join(policies, ",") != "tenant/RESTRICTIVE,tenant_rows/PERMISSIVE" {
				report("%s: policies %v", table, policies)
			}
		}
	}
	// Catalog: the runtime role's flags and memberships.
	var super, bypass, inherit bool
	var owned, ownerMember int
	if err := e.super.QueryRow(ctx, `SELECT rolsuper, rolbypassrls, rolinherit,
			(SELECT count(*) FROM pg_class WHERE relowner = r.oid),
			(SELECT count(*) FROM pg_auth_members m JOIN pg_roles o ON o.oid = m.roleid WHERE m.member = r.oid AND o.rolname = $2)
		FROM pg_roles r WHERE rolname = $1`, AppRole, OwnerRole).Scan(&super, &bypass, &inherit, &owned, &ownerMember); err != nil {
		report("runtime role: %v", err)
	} else if super || bypass || inherit || owned > 0 || ownerMember > 0 {
		// NOINHERIT: membership in every company role lets it SET ROLE,
		// never use a company's rights without doing so.
		report("runtime role: superuser %v, bypassrls %v, inherit %v, owns %d relations, member of owner %d", super, bypass, inherit, owned, ownerMember)
	}
	return found
}

func TestIsolationHolds(t *testing.T) {
	t.Parallel()
	e := setup(t)
	// 10,000 transactions alternating companies on 2 pooled connections.
	if v := e.violations(context.Background(), realBegin, 10000); len(v) > 0 {
		t.Fatalf("isolation violated:\n%s", strings.Join(v, "\n"))
	}
}

func TestSuiteCatchesEachMutation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name   string
		mutate func(t *testing.T, e *env) (undo func())
		begin  beginFunc
	}{
		{"RLS disabled", func(t *testing.T, e *env) func() {
			superExec(t, e, "ALTER TABLE "+e.a.schema()+".settings DISABLE ROW LEVEL SECURITY")
			return nil
		}, realBegin},
		{"FORCE dropped", func(t *testing.T, e *env) func() {
			superExec(t, e, "ALTER TABLE "+e.a.schema()+".settings NO FORCE ROW LEVEL SECURITY")
			return nil
		}, realBegin},
		{"permissive USING (true) policy", func(t *testing.T, e *env) func() {
			superExec(t, e, "CREATE POLICY oops ON "+e.a.schema()+".settings FOR SELECT USING (true)")
			return nil
		}, realBegin},
		{"runtime role granted BYPASSRLS", func(t *testing.T, e *env) func() {
			superExec(t, e, "ALTER ROLE "+AppRole+" BYPASSRLS")
			return func() { superExec(t, e, "ALTER ROLE "+AppRole+" NOBYPASSRLS") }
		}, realBegin},
		{"SET LOCAL ROLE skipped", func(t *testing.T, e *env) func() { return nil },
			func(ctx context.Context, db *pgxpool.Pool, s Scope, fn func(pgx.Tx) error) error {
				return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, "SELECT set_config('search_path', $1, true), set_config('app.company_id', $2, true)", s.schema(), s.Company().String()); err != nil {
						return err
					}
					return fn(tx)
				})
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t)
			if undo := tc.mutate(t, e); undo != nil {
				t.Cleanup(undo)
			}
			if v := e.violations(ctx, tc.begin, 20); len(v) == 0 {
				t.Errorf("the suite did not notice: %s", tc.name)
			} else {
				t.Logf("caught: %s", v[0])
			}
		})
	}
}

func superExec(t *testing.T, e *env, sql string) {
	t.Helper()
	if _, err := e.super.Exec(context.Background(), sql); err != nil {
		t.Fatal(err)
	}
}

func TestProvisionIsIdempotentAndScopeless(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, e.super, func(tx pgx.Tx) error {
		_, err := Provision(ctx, tx, migrator, e.a.Company())
		return err
	})
	if err != nil {
		t.Fatalf("second provision: %v", err)
	}
	if v := e.violations(ctx, realBegin, 2); len(v) > 0 {
		t.Errorf("after re-provisioning: %v", v)
	}
	if err := InTx(ctx, e.app, Scope{}, func(pgx.Tx) error { return nil }); err != ErrNoScope {
		t.Errorf("zero scope: %v", err)
	}
}

// TestRuntimeRoleGrants: the system line's grants, checked as the runtime
// role in a transaction rolled back at the end: it reads the companies and
// changes what admins may change, and nothing else (not the data key, not
// the status, no new rows: those are the superuser's, through Provision).
func TestRuntimeRoleGrants(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, dsn := migrated.Database(t)
	super, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(super.Close)
	id := uuid.New()
	if _, err := super.Exec(ctx, "INSERT INTO vanta.companies (id, name, status) VALUES ($1, 'Grants Ltd', 'active')", id); err != nil {
		t.Fatal(err)
	}
	tx := pgtest.Tx(t, super, AppRole)
	for _, c := range []struct {
		sql  string
		want bool
	}{
		{"SELECT name, dek FROM vanta.companies WHERE id = $1", true},
		{"UPDATE vanta.companies SET name = 'Renamed', settings = '{}', tax_id_twin = false WHERE id = $1", true},
		{"UPDATE vanta.companies SET dek = NULL WHERE id = $1", false},
		{"UPDATE vanta.companies SET status = 'archived' WHERE id = $1", false},
		{"INSERT INTO vanta.companies (id, name) VALUES ($1, 'Sneaky')", false},
		{"DELETE FROM vanta.companies WHERE id = $1", false},
		{"SELECT count(*) FROM vanta.schema_migrations WHERE $1::uuid IS NOT NULL", false},
		{"SELECT count(*) FROM vanta.company_migrations WHERE company_id = $1", false},
	} {
		if _, err := tx.Exec(ctx, "SAVEPOINT probe"); err != nil {
			t.Fatal(err)
		}
		_, err := tx.Exec(ctx, c.sql, id)
		if (err == nil) != c.want {
			t.Errorf("as %s: %s: %v", AppRole, c.sql, err)
		}
		if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT probe"); err != nil {
			t.Fatal(err)
		}
	}
}
