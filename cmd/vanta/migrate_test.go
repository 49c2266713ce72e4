package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/auth"
)

// The migration tests need a company migration that the shipped binary
// does not have. A binary built with the vantatest tag reads extra ones
// from a directory named by appliance.TestCompanyMigrationsEnv; the binary
// every other test runs (and every shipped one) has no such hook.
var (
	hookBinOnce sync.Once
	hookBin     string
	hookBinErr  error
)

// useHookBinary makes boot() run the vantatest build for this test. The
// cmd/vanta tests run one at a time (none calls t.Parallel), so swapping
// the binary is safe.
func useHookBinary(t *testing.T) {
	t.Helper()
	hookBinOnce.Do(func() {
		hookBin = filepath.Join(filepath.Dir(vantaBin), "vanta-vantatest")
		build := exec.Command("go", "build", "-tags", "vantatest", "-o", hookBin, ".")
		out, err := build.CombinedOutput()
		if err != nil {
			hookBinErr = fmt.Errorf("build with -tags vantatest: %v\n%s", err, out)
		}
	})
	if hookBinErr != nil {
		t.Fatal(hookBinErr)
	}
	shipped := vantaBin
	vantaBin = hookBin
	t.Cleanup(func() { vantaBin = shipped })
}

// migrateStatus runs `vanta migrate status --json` against the data dir.
func migrateStatus(t *testing.T, data string, env ...string) appliance.MigrationReport {
	t.Helper()
	cmd := exec.Command(vantaBin, "migrate", "status", "--json", "--data", data)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("vanta migrate status: %v\n%s", err, stderr.String())
	}
	var rep appliance.MigrationReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("migrate status --json: %v\n%s", err, out)
	}
	return rep
}

// TestCompanyMigrationAfterCompaniesExist is acceptance 1: companies exist,
// a company migration is added, the appliance boots again, and every
// company has it (its table secured like every company table);
// `vanta migrate status --json` shows the system line and every company at
// head before and after; a company created afterwards starts at the new
// head; a company left provisioning is finished after the unseal.
func TestCompanyMigrationAfterCompaniesExist(t *testing.T) {
	useHookBinary(t)
	data := dataDir(t)
	in := boot(t, data)
	in.waitReady()
	shares := in.initSeal(2, 2)
	var god struct {
		TOTP struct{ Secret string }
	}
	const pass = "correct horse battery staple"
	in.mustCall("POST", "/api/v1/sys/setup/god", "", map[string]string{"email": "god@vanta.test", "name": "Creator", "password": pass}, 201, &god)
	tk := in.login("god@vanta.test", pass, god.TOTP.Secret)
	var made []company
	for i := range 3 {
		var c company
		in.mustCall("POST", "/api/v1/companies", tk.AccessToken, map[string]any{"company_name": fmt.Sprintf("Kampuni %d Ltd", i)}, 201, &c)
		made = append(made, c)
	}

	rep := migrateStatus(t, data)
	if !rep.AllAtHead || !rep.System.AtHead || rep.System.Version != rep.System.Head || len(rep.Companies) != 3 {
		t.Fatalf("status after creating companies: %+v", rep)
	}
	head := rep.Companies[0].Head
	if out, err := exec.Command(vantaBin, "migrate", "status", "--data", data).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "3 companies; all at head: yes") || !strings.Contains(string(out), "Kampuni 2 Ltd") {
		t.Errorf("the human table: %v\n%s", err, out)
	}
	for _, c := range rep.Companies {
		if !c.AtHead || c.Version != head || c.Status != "active" {
			t.Errorf("company %s: %+v", c.ID, c)
		}
	}

	// One company is left half-made, as by a crash after its PostgreSQL
	// part: boot migrates it, the unseal finishes it.
	pgc := pgConnect(t, data)
	if _, err := pgc.Exec(t.Context(), "UPDATE vanta.companies SET status = 'provisioning' WHERE id = $1", made[2].ID); err != nil {
		t.Fatal(err)
	}
	in.stop()

	if cmd := exec.Command(vantaBin, "migrate", "status", "--data", data); true {
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "PostgreSQL is not running") {
			t.Errorf("status with the appliance stopped: %v\n%s", err, out)
		}
	}
	if out, err := exec.Command(vantaBin, "migrate", "status", "--data", t.TempDir()).CombinedOutput(); err == nil || !strings.Contains(string(out), "--data") {
		t.Errorf("status on an empty directory: %v\n%s", err, out)
	}

	// A new company migration, written like any domain's.
	extra := t.TempDir()
	dir := filepath.Join(extra, "migrations", "company")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	next := head + 1
	sql := "CREATE TABLE test_notes (company_id uuid NOT NULL, body text NOT NULL);\n"
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%04d_test_notes.sql", next)), []byte(sql), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{appliance.TestCompanyMigrationsEnv + "=" + extra}
	in = bootWith(t, data, env)
	progress := in.waitLine("companies migrated", msg("companies migrated"))
	for progress["progress"] != "3/3" {
		progress = in.waitLine("companies migrated 3/3", msg("companies migrated"))
	}
	if progress["applied"] != float64(3) {
		t.Errorf("boot applied %v company migrations, want 3", progress["applied"])
	}
	in.waitReady()

	rep = migrateStatus(t, data, env...)
	if !rep.AllAtHead || len(rep.Companies) != 3 {
		t.Fatalf("status after the boot: %+v", rep)
	}
	for _, c := range rep.Companies {
		if c.Version != next || c.Head != next || !c.AtHead {
			t.Errorf("company %s after the boot: %+v", c.ID, c)
		}
	}
	pgc = pgConnect(t, data)
	for _, c := range made {
		var forced bool
		var owner string
		schema := "company_" + strings.ReplaceAll(c.ID, "-", "")
		if err := pgc.QueryRow(t.Context(), "SELECT relforcerowsecurity, pg_get_userbyid(relowner) FROM pg_class WHERE oid = $1::regclass",
			schema+".test_notes").Scan(&forced, &owner); err != nil || !forced || owner != "vanta_owner" {
			t.Errorf("%s.test_notes: forced rls %v, owner %s, %v", schema, forced, owner, err)
		}
	}

	// Unsealing finishes the company left provisioning.
	in.unseal(shares)
	resumed := in.waitLine("company provisioning resumed", msg("company provisioning resumed"))
	if resumed["company"] != made[2].ID || resumed["error"] != nil {
		t.Errorf("resumed %v", resumed)
	}
	var status string
	if err := pgc.QueryRow(t.Context(), "SELECT status FROM vanta.companies WHERE id = $1", made[2].ID).Scan(&status); err != nil || status != "active" {
		t.Errorf("the half-made company is %q after the unseal (%v)", status, err)
	}

	// A company created now starts at the new head.
	body := map[string]string{"email": "god@vanta.test", "password": pass}
	code, err := auth.TOTPCode(god.TOTP.Secret, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	body["totp"] = code
	in.mustCall("POST", "/api/v1/auth/login", "", body, 200, &tk)
	var late company
	in.mustCall("POST", "/api/v1/companies", tk.AccessToken, map[string]any{"company_name": "Baadaye Ltd"}, 201, &late)
	rep = migrateStatus(t, data, env...)
	if !rep.AllAtHead || len(rep.Companies) != 4 || rep.Companies[3].ID.String() != late.ID || rep.Companies[3].Version != next {
		t.Errorf("status with a company made after the migration: %+v", rep)
	}
}
