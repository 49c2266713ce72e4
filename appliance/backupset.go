package appliance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/vanta-ledger/vanta/internal/alerts"
	"github.com/vanta-ledger/vanta/internal/backup"
	"github.com/vanta-ledger/vanta/supervisor"
)

// BackupVersion is the vanta version recorded in backup manifests; the
// command sets it at start.
var BackupVersion = "dev"

// backupSets is the appliance's backup machinery: the set service and
// its schedule. It is made in Run, once the data directory is provisioned.
type backupSets struct {
	svc   *backup.Service
	sched *backup.Scheduler
	once  sync.Once
}

// setupBackups makes the backup service; the schedule starts once the
// services are healthy (startBackupSchedule).
func (a *Appliance) setupBackups(reaper *supervisor.Reaper) error {
	sched, err := backup.ParseSchedule(a.cfg.BackupSchedule)
	if err != nil {
		return &FieldError{Source: "config", Field: "backup_schedule", Value: a.cfg.BackupSchedule, Err: err}
	}
	ret, err := backup.ParseRetention(a.cfg.BackupRetention)
	if err != nil {
		return &FieldError{Source: "config", Field: "backup_retention", Value: a.cfg.BackupRetention, Err: err}
	}
	svc := backup.New(backup.Options{
		DataDir:    a.cfg.DataDir,
		Dir:        a.cfg.BackupDir,
		Recipients: a.cfg.BackupRecipientList(),
		Engine:     a.catalog.engine,
		MongoURI:   a.catalog.mongoURI(),
		PG:         a.pgBackRestForSets(),
		Run:        reaperBackupRunner(reaper),
		Version:    BackupVersion,
		Logger:     a.logger,
	})
	a.backups = &backupSets{svc: svc, sched: &backup.Scheduler{Service: svc, Schedule: sched, Retention: ret, Started: time.Now()}}
	return nil
}

// startBackupSchedule runs the schedule until ctx ends; a backup needs
// no keys, so it runs sealed or not.
func (a *Appliance) startBackupSchedule(ctx context.Context) {
	if a.backups == nil {
		return
	}
	a.backups.once.Do(func() { go a.backups.sched.Run(ctx) })
}

// BackupAlertSource gives backup_age_seconds and backup_failed.
func (a *Appliance) BackupAlertSource() alerts.Source {
	if a.backups == nil {
		return alerts.SourceFunc(func(context.Context, time.Time) ([]alerts.Sample, error) { return nil, nil })
	}
	return a.backups.sched.AlertSource()
}

// backupRoutes serves the backups on the control socket:
//
//	POST /v1/backups[?kind=full|diff|incr]  make a set; NDJSON progress, then {"set":…} or {"error":…}
//	GET  /v1/backups                       {"dir","sets":[…]}
//	POST /v1/backups/{id}/verify           the verify report
func (a *Appliance) backupRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/backups", func(w http.ResponseWriter, r *http.Request) {
		if a.backups == nil {
			writeJSON(w, http.StatusConflict, errorBody("not_ready", "backups are not set up yet", ""))
			return
		}
		sets, err := a.backups.svc.List()
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, errorBody("internal", err.Error(), ""))
			return
		}
		if sets == nil {
			sets = []backup.Manifest{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"dir": a.backups.svc.Dir(), "sets": sets})
	})
	mux.HandleFunc("POST /v1/backups", func(w http.ResponseWriter, r *http.Request) {
		kind := backup.KindFull
		if v := r.URL.Query().Get("kind"); v != "" {
			k, err := backup.ParseKind(v)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, errorBody("validation_failed", err.Error(), "kind"))
				return
			}
			kind = k
		}
		if a.backups == nil || a.stores.Load() == nil {
			writeJSON(w, http.StatusConflict, errorBody("not_ready", "the appliance's services are not healthy yet: try again when `vanta ctl status` says so", ""))
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		enc := json.NewEncoder(w)
		var mu sync.Mutex
		line := func(v any) {
			mu.Lock()
			defer mu.Unlock()
			_ = enc.Encode(v)
			flush(w)
		}
		// The backup goes on if the client hangs up: a half-made set
		// helps no one, and the next one would redo the work.
		m, err := a.backups.svc.Create(context.WithoutCancel(r.Context()), kind, func(p backup.Progress) { line(map[string]any{"progress": p}) })
		if err != nil {
			a.logger.Error("backup", "error", err.Error())
			line(errorBody("backup_failed", err.Error(), ""))
			return
		}
		line(map[string]any{"set": m})
	})
	mux.HandleFunc("POST /v1/backups/{id}/verify", func(w http.ResponseWriter, r *http.Request) {
		if a.backups == nil {
			writeJSON(w, http.StatusConflict, errorBody("not_ready", "backups are not set up yet", ""))
			return
		}
		rep, err := a.backups.svc.Verify(r.Context(), r.PathValue("id"))
		switch {
		case errors.Is(err, backup.ErrNoSet):
			writeJSON(w, http.StatusNotFound, errorBody("not_found", err.Error(), "id"))
		case err != nil:
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": map[string]string{"code": "verify_failed", "message": err.Error()}, "report": rep})
		default:
			writeJSON(w, http.StatusOK, rep)
		}
	})
}

// reaperBackupRunner starts the backup tools (pgbackrest, mongodump)
// through the reaper, as cred's account when given; output comes back
// over pipes and ctx's end kills the tool's process group.
func reaperBackupRunner(r *supervisor.Reaper) backup.CommandRunner {
	return func(ctx context.Context, name string, args, env []string, cred *syscall.Credential, stdout, stderr io.Writer) error {
		path, err := exec.LookPath(name)
		if err != nil {
			return err
		}
		return r.Exec(ctx, supervisor.Command{Path: path, Args: append([]string{name}, args...), Env: env, Cred: cred}, stdout, stderr)
	}
}

// pgBackRestForSets is the pgBackRest the sets use: the appliance's own
// cluster's, none for an external PostgreSQL (VANTA_POSTGRES_URL).
func (a *Appliance) pgBackRestForSets() func(context.Context) (*backup.PGBackRest, error) {
	if a.cfg.PostgresURL != "" {
		return nil // an external PostgreSQL is backed up by its own tools
	}
	return a.PGBackRest
}

// LockDataDir takes the data directory's lock for a tool that must run
// with the appliance stopped (vanta restore); a running appliance holds
// it, and the error says to stop it.
func LockDataDir(dataDir string) (unlock func(), err error) {
	if err := os.MkdirAll(dataDir, 0o711); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	unlock, err = lockDataDir(Layout{Root: dataDir}.Path(".lock"))
	if err != nil {
		return nil, fmt.Errorf("the appliance is running on %s: stop it first (docker stop, or stop vanta init), then restore: %w", dataDir, err)
	}
	return unlock, nil
}

// RestorePostgres returns what vanta restore needs for PostgreSQL: a
// pgBackRest configured as the appliance configures it, reading its
// cipher pass from the restored secrets, and the account owning PGDATA.
func RestorePostgres(cfg Config, backupDir string) (func() (*backup.PGBackRest, error), int, int, error) {
	acc, err := serviceAccount("postgres", true)
	if err != nil {
		return nil, 0, 0, err
	}
	cfg.BackupDir = backupDir
	get := func() (*backup.PGBackRest, error) {
		pg, err := PGBackRestFor(cfg)
		if err != nil {
			return nil, err
		}
		// The cipher pass is the restored secret; the configuration is
		// where the appliance keeps it, so the restored cluster's
		// restore_command finds it at the next boot.
		if err := pg.WriteConfig(); err != nil {
			return nil, err
		}
		return pg, nil
	}
	return get, acc.uid, acc.gid, nil
}
