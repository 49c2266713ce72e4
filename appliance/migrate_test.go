package appliance

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vanta-ledger/vanta/internal/migrate"
)

// TestMigrationsAreOneLineEach: every domain's folder is in the registry
// (no version missing below head), and the system line keeps the versions
// installed appliances have recorded.
func TestMigrationsAreOneLineEach(t *testing.T) {
	reg, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range migrate.Lines {
		if g := reg.Gaps(l); len(g) > 0 {
			t.Errorf("%s line: versions %v missing (a domain's folder left out of Migrations?)", l, g)
		}
	}
	if reg.Head(migrate.System) < 11 || reg.Head(migrate.Company) < 1 {
		t.Errorf("heads: system %d, company %d", reg.Head(migrate.System), reg.Head(migrate.Company))
	}
}

// TestExistingApplianceUpgrades: an appliance installed before the
// migration lines (vanta.schema_migrations holding 1..11 with their old
// names, companies provisioned by the old code, no company bookkeeping)
// boots with only the later versions to apply on the system line and every company
// brought to the company line's head with its data intact.
func TestExistingApplianceUpgrades(t *testing.T) {
	ctx := context.Background()
	_, dsn := pg.NewDatabase(t)
	admin, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	reg, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	// The old migrator: its bookkeeping table, every migration of 1..11
	// (the same SQL) in one transaction, its names.
	old := []string{"system schema", "audit log", "runtime grants", "identity", "company settings by admins", "system keys",
		"revocation notices", "invitations", "self-service TOTP enrolment", "one active company per KRA PIN",
		"account security: initial passwords, reset links, login throttle"}
	var script strings.Builder
	script.WriteString("CREATE SCHEMA IF NOT EXISTS vanta;\nCREATE TABLE IF NOT EXISTS vanta.schema_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());\n")
	for _, m := range reg.Line(migrate.System) {
		if m.Version > len(old) {
			break
		}
		script.WriteString(m.SQL + "\n")
		script.WriteString(fmt.Sprintf("INSERT INTO vanta.schema_migrations (version, name) VALUES (%d, '%s');\n", m.Version, old[m.Version-1]))
	}
	if _, err := admin.Exec(ctx, script.String()); err != nil {
		t.Fatal(err)
	}
	// A company as the old Provision made it, with a setting.
	id := uuid.New()
	schema := "company_" + strings.ReplaceAll(id.String(), "-", "")
	for _, stmt := range []string{
		"CREATE ROLE " + schema + " NOLOGIN",
		"GRANT " + schema + " TO vanta_app",
		"CREATE SCHEMA " + schema + " AUTHORIZATION vanta_owner",
		"CREATE TABLE " + schema + ".settings (company_id uuid NOT NULL, key text NOT NULL, value jsonb NOT NULL, PRIMARY KEY (company_id, key))",
		"ALTER TABLE " + schema + ".settings OWNER TO vanta_owner",
		"ALTER TABLE " + schema + ".settings ENABLE ROW LEVEL SECURITY",
		"INSERT INTO vanta.companies (id, name, status) VALUES ('" + id.String() + "', 'Old Ltd', 'active')",
		"INSERT INTO " + schema + ".settings VALUES ('" + id.String() + "', 'kept', '\"yes\"')",
	} {
		if _, err := admin.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}

	var log bytes.Buffer
	a := &Appliance{logger: slog.New(slog.NewJSONHandler(&log, nil))}
	m, err := a.migrateAll(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	// Only what came after 11 (the job queue's steps, 12 on) applies.
	if !strings.Contains(log.String(), fmt.Sprintf(`"line":"system","applied":%d,`, reg.Head(migrate.System)-len(old))) {
		t.Errorf("the system line applied more than the versions after %d on an upgraded appliance:\n%s", len(old), log.String())
	}
	// Every company migration applies to the old company: the first
	// (whose table it already had, IF NOT EXISTS) and each domain's after.
	if !strings.Contains(log.String(), fmt.Sprintf(`"msg":"companies migrated","progress":"1/1","applied":%d`, reg.Head(migrate.Company))) {
		t.Errorf("no progress for the company:\n%s", log.String())
	}
	st, err := m.CompanyStatus(ctx, admin, []uuid.UUID{id})
	if err != nil || !st[id].AtHead {
		t.Fatalf("the old company: %+v %v", st[id], err)
	}
	var kept string
	var forced bool
	if err := admin.QueryRow(ctx, "SELECT value->>0, (SELECT relforcerowsecurity FROM pg_class WHERE oid = $1::regclass) FROM "+schema+".settings WHERE key = 'kept'",
		schema+".settings").Scan(&kept, &forced); err != nil || kept != "yes" || !forced {
		t.Errorf("the old company's setting %q, forced rls %v: %v", kept, forced, err)
	}
	var names []string
	rows, _ := admin.Query(ctx, "SELECT name FROM vanta.schema_migrations ORDER BY version")
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		names = append(names, n)
	}
	if rows.Err() != nil || len(names) != reg.Head(migrate.System) || names[10] != old[10] {
		t.Errorf("schema_migrations after the upgrade: %v %v", names, rows.Err())
	}
}
