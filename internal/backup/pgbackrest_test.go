package backup

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPGBackRestPointInTime is the whole life of the repository on a real
// cluster: stanza, full, diff and incr backups, verify, a restore to a
// moment between two sets of rows into a fresh data directory, and
// expiry. One test, since each step needs the ones before it.
func TestPGBackRestPointInTime(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := pgc.pgbr
	for range 2 { // idempotent: every boot calls it
		if err := p.EnsureStanza(ctx); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgc.connect(ctx, pgc.socket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	marker := "plaintext-marker-" + randomHex(8)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec("CREATE TABLE rows (v text PRIMARY KEY)")
	exec("INSERT INTO rows VALUES ($1)", marker)

	full, err := p.Backup(ctx, "full")
	if err != nil {
		t.Fatal(err)
	}
	exec("INSERT INTO rows VALUES ('r1')")
	diff, err := p.Backup(ctx, "diff")
	if err != nil {
		t.Fatal(err)
	}
	exec("INSERT INTO rows VALUES ('r2')")
	incr, err := p.Backup(ctx, "incr")
	if err != nil {
		t.Fatal(err)
	}
	exec("INSERT INTO rows VALUES ('r3')")
	var target time.Time
	if err := conn.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&target); err != nil {
		t.Fatal(err)
	}
	exec("INSERT INTO rows VALUES ('r4')")
	exec("INSERT INTO rows VALUES ('r5')")
	if err := switchWAL(ctx, conn); err != nil {
		t.Fatal(err)
	}

	t.Run("listed with their kinds", func(t *testing.T) {
		list, err := p.Backups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range list {
			got = append(got, string(b.Kind)+" "+b.Label)
			if b.Start.IsZero() || b.Stop.Before(b.Start) || b.Size <= 0 || b.RepoSize <= 0 || b.WALStart == "" || b.WALStop < b.WALStart {
				t.Errorf("backup %+v: missing or inconsistent fields", b)
			}
		}
		want := []string{"full " + full.Label, "diff " + diff.Label, "incr " + incr.Label}
		if !slices.Equal(got, want) {
			t.Fatalf("Backups() = %q, want %q", got, want)
		}
		if full.Kind != "full" || diff.Kind != "diff" || incr.Kind != "incr" {
			t.Fatalf("Backup returned kinds %s %s %s", full.Kind, diff.Kind, incr.Kind)
		}
		if diff.Prior != full.Label || incr.Prior != diff.Label {
			t.Fatalf("priors: diff %q (want %q), incr %q (want %q)", diff.Prior, full.Label, incr.Prior, diff.Label)
		}
	})
	t.Run("verify", func(t *testing.T) {
		if err := p.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("repository is encrypted", func(t *testing.T) {
		// The grep finds the value where it is in the clear, so finding
		// nothing in the repository means something.
		if n := filesContaining(t, pgc.pgdata, marker); n == 0 {
			t.Fatalf("the marker is not in the cluster's own files: the grep proves nothing")
		}
		if n := filesContaining(t, p.RepoPath, marker); n != 0 {
			t.Fatalf("%d files of the repository hold the plaintext %q", n, marker)
		}
		if n := filesContaining(t, p.RepoPath, "r4"); n != 0 && filesContaining(t, p.RepoPath, "PostgreSQL") != 0 {
			t.Fatalf("the repository holds plain PostgreSQL files")
		}
	})

	pgc.stop()
	t.Run("restore to a time between", func(t *testing.T) {
		restored := filepath.Join(pgc.dir, "restored")
		if err := p.Restore(ctx, "", target, restored); err != nil {
			t.Fatal(err)
		}
		socket := filepath.Join(pgc.dir, "run-restored")
		if err := pgc.ownedDir(socket); err != nil {
			t.Fatal(err)
		}
		// It must not archive into the stanza as if it were the original.
		if err := pgc.start(restored, socket, "-c", "archive_mode=off"); err != nil {
			t.Fatal(err)
		}
		defer pgc.stop()
		rc, err := pgc.connect(ctx, socket)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close(context.WithoutCancel(ctx))
		rows, err := rc.Query(ctx, "SELECT v FROM rows ORDER BY v")
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{marker, "r1", "r2", "r3"}; !slices.Equal(got, want) {
			t.Fatalf("restored rows %q, want %q", got, want)
		}
		var inRecovery bool
		if err := rc.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil || inRecovery {
			t.Fatalf("restored cluster still in recovery (%v): not promoted", err)
		}
	})
	t.Run("refuses a time before every backup", func(t *testing.T) {
		err := p.Restore(ctx, "", full.Start.Add(-time.Hour), filepath.Join(pgc.dir, "never"))
		if !errors.Is(err, ErrNoBackup) {
			t.Fatalf("err %v, want ErrNoBackup", err)
		}
	})
	t.Run("expire keeps the newest full", func(t *testing.T) {
		if err := p.Expire(ctx, 0); err == nil {
			t.Fatal("Expire(0) would drop every backup; it must refuse")
		}
		if err := pgc.startArchiving(); err != nil {
			t.Fatal(err)
		}
		full2, err := p.Backup(ctx, "full")
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Expire(ctx, 1); err != nil {
			t.Fatal(err)
		}
		list, err := p.Backups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].Label != full2.Label {
			t.Fatalf("after expire: %+v, want only %s", list, full2.Label)
		}
	})
	t.Run("a new cluster at the same path upgrades the stanza", func(t *testing.T) {
		// As after pg_upgrade: another system identifier at pg1-path.
		pgc.stop()
		if err := os.Rename(pgc.pgdata, pgc.pgdata+".old"); err != nil {
			t.Fatal(err)
		}
		if err := pgc.initdb(); err != nil {
			t.Fatal(err)
		}
		if err := pgc.startArchiving(); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := p.EnsureStanza(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if list, err := p.Backups(ctx); err != nil || len(list) != 1 {
			t.Fatalf("the old cluster's backup is no longer listed: %+v %v", list, err)
		}
	})
	t.Run("verify finds a damaged file", func(t *testing.T) {
		var victim string
		_ = filepath.WalkDir(filepath.Join(p.RepoPath, "backup"), func(path string, d fs.DirEntry, err error) error {
			if err == nil && victim == "" && d.Type().IsRegular() && strings.Contains(path, "pg_data") {
				if st, _ := d.Info(); st != nil && st.Size() > 64 {
					victim = path
				}
			}
			return err
		})
		if victim == "" {
			t.Fatal("no backup file to damage")
		}
		b, err := os.ReadFile(victim)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(victim, b, 0o600); err != nil {
			t.Fatal(err)
		}
		err = p.Verify(ctx)
		rel, _ := filepath.Rel(filepath.Join(p.RepoPath, "backup", "vanta"), victim)
		label, _, _ := strings.Cut(rel, "/")
		if !errors.Is(err, ErrVerifyFailed) || !strings.Contains(err.Error(), label) {
			t.Fatalf("verify with %s damaged: %v, want ErrVerifyFailed naming %s", victim, err, label)
		}
	})
}

// filesContaining counts the regular files under dir that hold s.
func filesContaining(t *testing.T, dir, s string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(s)) {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestArchiveCommandQuoting(t *testing.T) {
	p := &PGBackRest{Bin: "/usr/bin/pgbackrest", ConfigPath: "/var/lib/it's here/pgbackrest.conf"}
	got := p.ArchiveCommand()
	want := `/usr/bin/pgbackrest --config='/var/lib/it'\''s here/pgbackrest.conf' --stanza=vanta archive-push %p`
	if got != want {
		t.Fatalf("ArchiveCommand() = %s\nwant %s", got, want)
	}
	if q := QuoteConfValue("a'b %p"); q != "'a''b %p'" {
		t.Fatalf("QuoteConfValue = %s", q)
	}
}

func TestParseInfo(t *testing.T) {
	out := []byte(`[{"name":"other","backup":[{"label":"x","type":"full"}]},
	{"name":"vanta","status":{"code":0,"message":"ok"},"backup":[
	 {"label":"20261202-010203F_20261202-010300I","type":"incr","prior":"20261202-010203F","error":false,
	  "archive":{"start":"000000010000000000000006","stop":"000000010000000000000006"},
	  "info":{"size":300,"repository":{"size":30}},"timestamp":{"start":1764637380,"stop":1764637382}},
	 {"label":"20261202-010203F","type":"full","prior":null,"error":false,
	  "archive":{"start":"000000010000000000000003","stop":"000000010000000000000003"},
	  "info":{"size":200,"repository":{"size":20}},"timestamp":{"start":1764637323,"stop":1764637325}},
	 {"label":"bad","type":"full","error":true,"timestamp":{"start":1,"stop":2}}]}]`)
	list, err := parseInfo(out, "vanta")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Label != "20261202-010203F" || list[1].Kind != "incr" || list[1].Prior != list[0].Label ||
		list[0].Size != 200 || list[0].RepoSize != 20 || !list[0].Stop.Equal(time.Unix(1764637325, 0)) {
		t.Fatalf("parseInfo: %+v", list)
	}
	if _, err := parseInfo([]byte("not json"), "vanta"); err == nil {
		t.Fatal("bad JSON parsed")
	}
	// A target inside a backup's run picks that backup; before any, none.
	if b, ok := pickBackup(list, "", time.Unix(1764637390, 0)); !ok || b.Kind != "incr" {
		t.Fatalf("pickBackup at the end: %+v %v", b, ok)
	}
	// Within the second the incr stopped in, it may not have ended yet:
	// the full is the sure one.
	if b, ok := pickBackup(list, "", time.Unix(1764637382, 500e6)); !ok || b.Kind != "full" {
		t.Fatalf("pickBackup in the incr's last second: %+v %v", b, ok)
	}
	if b, ok := pickBackup(list, list[0].Label, time.Time{}); !ok || b.Label != list[0].Label {
		t.Fatalf("pickBackup by label: %+v %v", b, ok)
	}
	if _, ok := pickBackup(list, "", time.Unix(1764637324, 0)); ok {
		t.Fatal("pickBackup before every backup finished found one")
	}
}

// The configuration carries the cipher, is the PostgreSQL account's
// alone, and is not written without a pass.
func TestWriteConfig(t *testing.T) {
	p := *pgc.pgbr
	raw, err := os.ReadFile(p.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	pass, err := os.ReadFile(p.CipherPassFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"repo1-cipher-type=aes-256-cbc\n", "repo1-cipher-pass=" + string(pass) + "\n",
		"repo1-path=" + p.RepoPath + "\n", "[vanta]\npg1-path=" + p.PGData + "\n"} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("config lacks %q:\n%s", want, raw)
		}
	}
	st, err := os.Stat(p.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("config mode %04o, want 0600", st.Mode().Perm())
	}
	if p.Cred != nil && st.Sys().(*syscall.Stat_t).Uid != p.Cred.Uid {
		t.Errorf("config owned by uid %d, want the PostgreSQL account's %d", st.Sys().(*syscall.Stat_t).Uid, p.Cred.Uid)
	}
	p.CipherPassFile = filepath.Join(t.TempDir(), "missing")
	p.ConfigPath = filepath.Join(t.TempDir(), "pgbackrest.conf")
	if err := p.WriteConfig(); err == nil {
		t.Fatal("config written without a cipher pass")
	}
	if _, err := os.Stat(p.ConfigPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a config was left behind: %v", err)
	}
}
