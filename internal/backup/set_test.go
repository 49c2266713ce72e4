package backup

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"
)

// TestSetRoundTrip makes a set of a data directory (an SQLite document
// store written to while it is copied, company files, the seal), checks
// that no plaintext is in the backup directory, verifies it, catches a
// tampered part, and restores it onto a fresh data directory.
func TestSetRoundTrip(t *testing.T) {
	ctx := context.Background()
	data, bdir := t.TempDir(), t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"docdb", "companies/c1", "seal", "audit", "secrets"} {
		must(os.MkdirAll(filepath.Join(data, d), 0o700))
	}
	const secretText = "Invoice for Kestrel Holdings, plaintext marker 7f3a"
	must(os.WriteFile(filepath.Join(data, "companies/c1/doc.txt"), []byte(secretText), 0o600))
	must(os.WriteFile(filepath.Join(data, "seal/keyring"), []byte("keyring-material-9c1d"), 0o600))
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "docdb", "vanta.sqlite")+"?_pragma=journal_mode(wal)")
	must(err)
	defer db.Close()
	_, err = db.Exec("CREATE TABLE docs (body TEXT)")
	must(err)
	_, err = db.Exec("INSERT INTO docs VALUES (?)", "document row marker 4b2e")
	must(err)

	now := ts("2026-12-02T01:00:00Z")
	svc := New(Options{DataDir: data, Dir: bdir, Engine: "docdb", Version: "test", Now: func() time.Time { return now }})
	var steps []Progress
	m, err := svc.Create(ctx, KindFull, func(p Progress) { steps = append(steps, p) })
	must(err)
	if len(m.Parts) != 5 || steps[len(steps)-1].Phase != "done" || m.Postgres != nil {
		t.Fatalf("set %+v, progress %+v", m, steps)
	}
	// The document store's copy is a consistent database, not the WAL-mode
	// file as it was.
	_, err = db.Exec("INSERT INTO docs VALUES (?)", "written after the set")
	must(err)

	// No plaintext anywhere in the backup directory.
	must(filepath.Walk(bdir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		for _, s := range []string{secretText, "keyring-material-9c1d", "document row marker 4b2e"} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds plaintext %q", p, s)
			}
		}
		return err
	}))

	if m2, err := ReadManifest(filepath.Join(bdir, "sets", m.ID)); err != nil || m2.ID != m.ID || len(m2.Recipients) != 1 {
		t.Fatalf("manifest read back: %+v, %v", m2, err)
	}
	rep, err := svc.Verify(ctx, m.ID)
	if err != nil || !rep.Decrypted || rep.Parts != 5 {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
	samples, _ := (&Scheduler{Service: svc}).AlertSource().Samples(ctx, now)
	if len(samples) != 1 || samples[0].Series != "backup_failed" || samples[0].Value != 0 {
		t.Fatalf("samples after a good backup: %+v", samples)
	}

	ids, err := LoadIdentities(IdentityFile(data))
	must(err)
	fresh := filepath.Join(t.TempDir(), "data")
	got, err := Restore(ctx, RestoreOptions{DataDir: fresh, From: bdir, To: now.Add(time.Hour), Identities: ids})
	must(err)
	if got.ID != m.ID {
		t.Fatalf("restored %s, want %s", got.ID, m.ID)
	}
	if b, _ := os.ReadFile(filepath.Join(fresh, "companies/c1/doc.txt")); string(b) != secretText {
		t.Fatalf("company file after restore: %q", b)
	}
	rdb, err := sql.Open("sqlite", "file:"+filepath.Join(fresh, "docdb", "vanta.sqlite"))
	must(err)
	defer rdb.Close()
	var n int
	must(rdb.QueryRow("SELECT count(*) FROM docs").Scan(&n))
	if n != 1 {
		t.Fatalf("document store after restore has %d rows, want the 1 in the set", n)
	}
	if _, err := os.Stat(filepath.Join(fresh, ".restore")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("staging left behind: %v", err)
	}
	if _, err := Restore(ctx, RestoreOptions{DataDir: fresh, From: bdir, To: now.Add(-time.Hour), Identities: ids}); !errors.Is(err, ErrNoSet) {
		t.Fatalf("restore to before any set: %v", err)
	}
	other, _ := age.GenerateX25519Identity()
	if _, err := Restore(ctx, RestoreOptions{DataDir: t.TempDir(), From: bdir, Identities: []age.Identity{other}}); err == nil {
		t.Fatal("a stranger's identity opened the set")
	}

	// A flipped byte fails verify, and the alert source says nothing of it
	// (verify is not a backup attempt).
	part := filepath.Join(bdir, "sets", m.ID, m.Parts[1].File)
	b, _ := os.ReadFile(part)
	b[len(b)/2] ^= 1
	must(os.WriteFile(part, b, 0o600))
	if _, err := svc.Verify(ctx, m.ID); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("verify of a tampered set: %v", err)
	}

	// A failed attempt raises backup_failed; with a schedule on, the age
	// is counted from the newest set.
	bad := New(Options{DataDir: data, Dir: "/proc/no-such-dir", Now: func() time.Time { return now }})
	bad.record(m, nil)
	if _, err := bad.Create(ctx, KindFull, nil); err == nil {
		t.Fatal("backup into /proc succeeded")
	}
	sc := &Scheduler{Service: bad, Schedule: Schedule{{Kind: KindFull, Period: Daily}}}
	samples, _ = sc.AlertSource().Samples(ctx, m.Time.Add(90*time.Second))
	if len(samples) != 2 || samples[0].Value != 1 || samples[1].Series != "backup_age_seconds" || samples[1].Value != 90 {
		t.Fatalf("samples after a failure: %+v", samples)
	}
}
