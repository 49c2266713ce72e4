package appliance

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPostgresMajorVersion(t *testing.T) {
	for _, tc := range []struct{ out, want string }{
		{"postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", "15"},
		{"postgres (PostgreSQL) 16.4", "16"},
		{"postgres (PostgreSQL) 17beta1", "17"},
		{"postgres (PostgreSQL) 9.6.24", "9.6"},
	} {
		if got, err := parsePostgresVersion(tc.out); err != nil || got != tc.want {
			t.Errorf("parsePostgresVersion(%q) = %q, %v; want %q", tc.out, got, err, tc.want)
		}
	}
	if _, err := parsePostgresVersion("bash: postgres: command not found"); err == nil {
		t.Error("no version parsed as one")
	}
	for dir, want := range map[string]string{
		"/usr/lib/postgresql/15/bin": "15", "/usr/lib/postgresql/9.6/bin": "9.6",
		"/usr/local/pgsql/bin": "", "/usr/lib/postgresql/latest/bin": "", "/opt/15/bin": "",
	} {
		if got := majorFromBinDir(dir); got != want {
			t.Errorf("majorFromBinDir(%s) = %q, want %q", dir, got, want)
		}
	}
}

// A data directory made by another major version is refused at boot,
// before anything starts, naming both versions and the documented way.
func TestBootRefusesAnotherPostgresMajor(t *testing.T) {
	pgBin, err := FindPostgresBin("")
	if err != nil {
		t.Fatal(err)
	}
	p := &provisioner{pgBin: pgBin, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	binMajor, err := p.serverMajor()
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range []string{"14", "99"} { // older and newer than ours
		if data == binMajor {
			t.Fatalf("the test's versions include the server's own %s", binMajor)
		}
		p.layout = Layout{Root: t.TempDir()}
		if err := os.MkdirAll(p.layout.Path("postgres"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p.layout.Path("postgres", "PG_VERSION"), []byte(data+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		err := p.checkPostgresVersion()
		var ve *PostgresVersionError
		if !errors.As(err, &ve) || ve.DataVersion != data || ve.BinVersion != binMajor {
			t.Fatalf("PG_VERSION %s: err %v, want a PostgresVersionError %s vs %s", data, err, data, binMajor)
		}
		for _, want := range []string{"PostgreSQL " + data, "PostgreSQL " + binMajor, "docs/OPERATIONS.md", "pg_upgrade", "vanta backup now"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("message %q lacks %q", err, want)
			}
		}
	}
	// Its own version, or no cluster yet, passes.
	if err := os.WriteFile(p.layout.Path("postgres", "PG_VERSION"), []byte(binMajor+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.checkPostgresVersion(); err != nil {
		t.Fatal(err)
	}
	p.layout = Layout{Root: filepath.Join(t.TempDir(), "fresh")}
	if err := p.checkPostgresVersion(); err != nil {
		t.Fatal(err)
	}
}
