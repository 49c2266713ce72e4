package backup

// Temporary copy of the pgBackRest contract (brief) until h-pg lands; it is
// deleted when pgbackrest.go is merged.

import (
	"context"
	"io"
	"syscall"
	"time"
)

type CommandRunner func(ctx context.Context, name string, args, env []string, cred *syscall.Credential, stdout, stderr io.Writer) error

type Kind string

type PGBackup struct {
	Label            string
	Kind             Kind
	Start, Stop      time.Time
	Size, RepoSize   int64
	WALStart, WALStop string
}

type PGBackRest struct {
	Run CommandRunner
}

func (p *PGBackRest) Backup(ctx context.Context, kind Kind) (PGBackup, error) { return PGBackup{}, nil }
func (p *PGBackRest) Verify(ctx context.Context) error                          { return nil }
func (p *PGBackRest) Restore(ctx context.Context, set string, target time.Time, pgdata string) error {
	return nil
}
func (p *PGBackRest) Expire(ctx context.Context, keepFull int) error { return nil }
