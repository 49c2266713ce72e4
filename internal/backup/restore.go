package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"
)

// RestoreOptions say what to restore where. The appliance must be stopped:
// the caller holds the data directory's lock.
type RestoreOptions struct {
	DataDir    string
	From       string    // the backup directory
	SetID      string    // a set by id; or
	To         time.Time // the newest set complete at or before To, and PostgreSQL to To
	Identities []age.Identity
	// PG returns the pgBackRest to restore PostgreSQL with, once the
	// set's secrets (the repository's cipher pass) are in place; nil
	// skips PostgreSQL.
	PG       func() (*PGBackRest, error)
	PGUID    int // owner of the new PostgreSQL data directory
	PGGID    int
	Progress func(Progress)
}

// Restore puts a set back: every part is checked against the manifest,
// decrypted into a staging directory beside the data, and swapped in
// for the old tree; then pgBackRest restores PostgreSQL (to To, or to
// the end of the set's backup). The old trees are removed only after
// everything is in place.
func Restore(ctx context.Context, o RestoreOptions) (Manifest, error) {
	progress := o.Progress
	if progress == nil {
		progress = func(Progress) {}
	}
	sets, err := ListSets(o.From)
	if err != nil {
		return Manifest{}, err
	}
	m, err := Pick(sets, o.SetID, o.To)
	if err != nil {
		return m, err
	}
	setDir := filepath.Join(o.From, "sets", m.ID)
	steps := len(m.Parts) + 3
	step := 1
	progress(Progress{Phase: "verify", Step: step, Steps: steps})
	if _, err := VerifySet(ctx, setDir, m, nil); err != nil {
		return m, err
	}
	if len(o.Identities) == 0 {
		return m, errors.New("no identity to decrypt the set: pass --identity FILE (the backup identity or the key of a configured recipient)")
	}
	if err := os.MkdirAll(o.DataDir, 0o711); err != nil {
		return m, fmt.Errorf("data directory: %w", err)
	}
	stage := filepath.Join(o.DataDir, ".restore")
	if err := os.RemoveAll(stage); err != nil {
		return m, fmt.Errorf("restore staging: %w", err)
	}
	newDir, oldDir := filepath.Join(stage, "new"), filepath.Join(stage, "old")
	for _, d := range []string{newDir, oldDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return m, fmt.Errorf("restore staging: %w", err)
		}
	}
	for _, p := range m.Parts {
		step++
		progress(Progress{Phase: "restore", Part: p.Name, Step: step, Steps: steps, Bytes: p.Plain})
		if err := extractPart(setDir, newDir, p, o.Identities); err != nil {
			return m, fmt.Errorf("restore part %s: %w", p.Name, err)
		}
	}
	// Every part decrypted: now swap the trees in.
	for _, p := range m.Parts {
		name := p.Name
		target := name
		if name == "docstore" {
			if p.Format == "archive" {
				target = filepath.Join("mongodb", "restore.archive")
				if err := os.MkdirAll(filepath.Join(o.DataDir, "mongodb"), 0o700); err != nil {
					return m, err
				}
				if err := os.Rename(filepath.Join(newDir, name), filepath.Join(o.DataDir, target)); err != nil {
					return m, fmt.Errorf("restore %s: %w", name, err)
				}
				continue
			}
			target = "docdb"
		}
		if err := swapIn(filepath.Join(newDir, name), filepath.Join(o.DataDir, target), filepath.Join(oldDir, target)); err != nil {
			return m, fmt.Errorf("restore %s: %w", name, err)
		}
	}
	step++
	progress(Progress{Phase: "postgres", Part: "postgres", Step: step, Steps: steps})
	if m.Postgres != nil && o.PG != nil {
		pg, err := o.PG()
		if err != nil {
			return m, err
		}
		if pg == nil {
			return m, errors.New("postgres restore: no pgBackRest configured")
		}
		pgdata := filepath.Join(o.DataDir, "postgres")
		if _, err := os.Stat(pgdata); err == nil {
			if err := os.Rename(pgdata, filepath.Join(oldDir, "postgres")); err != nil {
				return m, fmt.Errorf("move the old PostgreSQL data aside: %w", err)
			}
		}
		if err := os.Mkdir(pgdata, 0o700); err != nil {
			return m, fmt.Errorf("postgres data directory: %w", err)
		}
		if err := os.Chown(pgdata, o.PGUID, o.PGGID); err != nil {
			return m, fmt.Errorf("postgres data directory: %w", err)
		}
		target := o.To
		if target.IsZero() {
			target = m.Postgres.Stop
		}
		if err := pg.Restore(ctx, m.Postgres.Label, target, pgdata); err != nil {
			return m, fmt.Errorf("postgres restore: %w (the data directory's previous trees are kept in %s until the next restore)", err, oldDir)
		}
		if err := noHotStandby(pgdata); err != nil {
			return m, fmt.Errorf("postgres restore: %w", err)
		}
	}
	if err := os.RemoveAll(stage); err != nil {
		return m, fmt.Errorf("remove the old data: %w", err)
	}
	progress(Progress{Phase: "done", Step: steps, Steps: steps})
	return m, nil
}

func extractPart(setDir, newDir string, p Part, ids []age.Identity) error {
	r, err := openPart(filepath.Join(setDir, p.File), ids)
	if err != nil {
		return err
	}
	defer r.Close()
	dst := filepath.Join(newDir, p.Name)
	if p.Format == "archive" {
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(f, r)
		return err
	}
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	return untar(r, dst)
}

// swapIn moves the data's tree aside (to old) and the restored one in.
func swapIn(restored, target, old string) error {
	if err := os.MkdirAll(filepath.Dir(old), 0o700); err != nil {
		return err
	}
	if err := os.Rename(target, old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.Rename(restored, target)
}

// noHotStandby keeps the restored cluster closed to connections until its
// recovery is over: a hot standby would answer the appliance's health
// check and its migrations would meet a read-only database.
func noHotStandby(pgdata string) error {
	f, err := os.OpenFile(filepath.Join(pgdata, "postgresql.auto.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString("\n# vanta restore: no connections until recovery ends\nhot_standby = 'off'\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
