// Package backup (temporary comment until h-pg lands).
package backup

// Temporary copy of the pgBackRest contract (brief) until h-pg lands; it is
// deleted when pgbackrest.go is merged.

import (
	"context"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"
)

type CommandRunner func(ctx context.Context, name string, args, env []string, cred *syscall.Credential, stdout, stderr io.Writer) error

type Kind string

type PGBackup struct {
	Label             string
	Kind              Kind
	Start, Stop       time.Time
	Size, RepoSize    int64
	WALStart, WALStop string
}

type PGBackRest struct {
	Run CommandRunner
}

func (p *PGBackRest) Backup(ctx context.Context, kind Kind) (PGBackup, error) { return PGBackup{}, nil }
func (p *PGBackRest) Verify(ctx context.Context) error                        { return nil }
func (p *PGBackRest) Restore(ctx context.Context, set string, target time.Time, pgdata string) error {
	return nil
}
func (p *PGBackRest) Expire(ctx context.Context, keepFull int) error { return nil }

// Kinds of backup (pgBackRest's): a full copies everything, a diff what
// changed since the last full, an incr since the last backup of any kind.
const (
	KindFull Kind = "full"
	KindDiff Kind = "diff"
	KindIncr Kind = "incr"
)

// ParseKind checks a kind's name.
func ParseKind(s string) (Kind, error) {
	switch k := Kind(strings.ToLower(strings.TrimSpace(s))); k {
	case KindFull, KindDiff, KindIncr:
		return k, nil
	}
	return "", fmt.Errorf("backup kind %q: must be full, diff or incr", s)
}
