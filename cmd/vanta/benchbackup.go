package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/backup"
)

const benchBackupUsage = `usage: vanta bench backup [--lines 1000000] [--batch 1000] [--json]

a throwaway appliance with one company of --lines journal lines: a full
backup set over the control socket, then a restore of it onto a fresh
data directory and that directory's boot until its services are healthy
(PostgreSQL's recovery included); times and sizes
`

type backupBenchResult struct {
	Version       string  `json:"version"`
	CPUs          int     `json:"cpus"`
	Lines         int     `json:"lines"`
	BuildS        float64 `json:"build_s"`
	BackupS       float64 `json:"backup_s"`
	RestoreS      float64 `json:"restore_s"`      // vanta restore: decrypt, extract, pgbackrest restore
	RestoreBootS  float64 `json:"restore_boot_s"` // the restored appliance's boot to healthy (WAL replay)
	DataBytes     int64   `json:"data_bytes"`     // the data directory, backups left out
	PostgresBytes int64   `json:"postgres_bytes"` // the database as pgBackRest saw it
	PGRepoBytes   int64   `json:"pg_repo_bytes"`  // its backup in the repository (compressed, encrypted)
	SetBytes      int64   `json:"set_bytes"`      // the set's parts plus the repository's share
}

func (r backupBenchResult) print(w io.Writer) {
	mb := func(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
	fmt.Fprintf(w, "vanta %s, %d CPUs, %d journal lines (built in %.1fs)\n", r.Version, r.CPUs, r.Lines, r.BuildS)
	fmt.Fprintf(w, "full backup:        %.1fs  set %s (PostgreSQL %s → repository %s; data directory %s)\n",
		r.BackupS, mb(r.SetBytes), mb(r.PostgresBytes), mb(r.PGRepoBytes), mb(r.DataBytes))
	fmt.Fprintf(w, "restore:            %.1fs  + boot to healthy %.1fs = %.1fs\n", r.RestoreS, r.RestoreBootS, r.RestoreS+r.RestoreBootS)
}

func cmdBenchBackup(args []string) int {
	fset := flag.NewFlagSet("vanta bench backup", flag.ContinueOnError)
	lines := fset.Int("lines", 1_000_000, "journal lines in the backed-up company")
	batch := fset.Int("batch", 1000, "entries per batch while building")
	asJSON := fset.Bool("json", false, "print JSON")
	fset.Usage = func() { fmt.Fprint(os.Stderr, benchBackupUsage) }
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *lines < 2 || *batch < 1 || *batch > 1000 {
		fmt.Fprintln(os.Stderr, "vanta bench backup: --lines must be at least 2, --batch from 1 to 1000")
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	res, err := benchBackup(ctx, *lines, *batch, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vanta bench backup: %v\n", err)
		return exitFailure
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
	} else {
		res.print(os.Stdout)
	}
	return exitOK
}

func benchBackup(ctx context.Context, lines, batch int, progress io.Writer) (backupBenchResult, error) {
	res := backupBenchResult{Version: buildVersion(), CPUs: runtime.NumCPU(), Lines: lines}
	a, err := startBenchAppliance(ctx, progress)
	if err != nil {
		return res, err
	}
	defer a.stop()
	cs, err := a.setUp(ctx, 0, progress)
	if err != nil {
		return res, fmt.Errorf("set up: %w", err)
	}
	build, err := a.fillLines(ctx, cs[0], lines, batch, progress)
	if err != nil {
		return res, err
	}
	res.BuildS = build.Seconds()

	fmt.Fprintln(progress, "full backup")
	t0 := time.Now()
	m, err := benchBackupNow(newCtlClient(a.dir))
	if err != nil {
		return res, err
	}
	res.BackupS = time.Since(t0).Seconds()
	res.SetBytes = m.TotalSize()
	if m.Postgres != nil {
		res.PostgresBytes, res.PGRepoBytes = m.Postgres.Size, m.Postgres.RepoSize
	}
	backups := filepath.Join(a.dir, "backups")
	res.DataBytes = dirBytes(a.dir, backups)
	a.halt()

	fresh, err := os.MkdirTemp("", "vanta-bench-restore-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(fresh)
	if err := os.Chmod(fresh, 0o711); err != nil {
		return res, err
	}
	ids, err := backup.LoadIdentities(backup.IdentityFile(a.dir))
	if err != nil {
		return res, err
	}
	cfg := appliance.Defaults()
	cfg.DataDir = fresh
	pg, uid, gid, err := appliance.RestorePostgres(cfg, backups)
	if err != nil {
		return res, err
	}
	fmt.Fprintln(progress, "restore onto a fresh data directory")
	t1 := time.Now()
	if _, err := backup.Restore(ctx, backup.RestoreOptions{DataDir: fresh, From: backups, SetID: m.ID, Identities: ids, PG: pg, PGUID: uid, PGGID: gid}); err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	res.RestoreS = time.Since(t1).Seconds()
	t2 := time.Now()
	b, err := startBenchApplianceIn(ctx, fresh, []string{"VANTA_BACKUP_DIR=" + backups}, progress)
	if err != nil {
		return res, fmt.Errorf("boot the restored appliance: %w", err)
	}
	res.RestoreBootS = time.Since(t2).Seconds()
	b.stop()
	return res, nil
}

func benchBackupNow(c *ctlClient) (backup.Manifest, error) {
	resp, err := c.do(http.MethodPost, "/v1/backups?kind=full")
	if err != nil {
		return backup.Manifest{}, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Set   *backup.Manifest `json:"set"`
			Error *struct{ Message string }
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return backup.Manifest{}, err
		}
		if line.Error != nil {
			return backup.Manifest{}, errors.New(line.Error.Message)
		}
		if line.Set != nil {
			return *line.Set, nil
		}
	}
	return backup.Manifest{}, fmt.Errorf("backup: the stream ended without a set: %v", sc.Err())
}

// dirBytes sums the regular files under root, skip's tree left out.
func dirBytes(root, skip string) int64 {
	var n int64
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if p == skip {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
