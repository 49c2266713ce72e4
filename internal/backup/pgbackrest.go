package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vanta-ledger/vanta/internal/atomicfile"
)

// CommandRunner runs one external tool (pgbackrest, and the backup set's
// other tools) to completion: name is the program (a path or a name
// looked up in PATH), env the whole environment, cred the account to run
// as (nil: ours). It writes the tool's output to stdout and stderr and
// kills the tool when ctx ends; an error means the tool failed or could
// not start. vanta init passes one that starts the tool through its
// reaper (PID 1 reaps every child: os/exec's Wait would lose the exit
// status); nil means os/exec, for the CLI and tests.
type CommandRunner func(ctx context.Context, name string, args, env []string, cred *syscall.Credential, stdout, stderr io.Writer) error

// Kind is a pgBackRest backup type: "full" (a copy of everything),
// "diff" (the changes since the last full) or "incr" (the changes since
// the last backup of any kind).
type Kind string

func (k Kind) valid() bool { return k == "full" || k == "diff" || k == "incr" }

// DefaultStanza is the appliance's pgBackRest stanza name.
const DefaultStanza = "vanta"

// PGBackRest runs pgBackRest for one PostgreSQL cluster and one
// repository. The repository is encrypted (aes-256-cbc) with the pass in
// CipherPassFile, which WriteConfig copies into the configuration file:
// PostgreSQL's archive_command reads nothing else. The configuration and
// the log, lock and spool directories belong to the account in Cred,
// which every command runs as (PostgreSQL's: pgBackRest must read the
// cluster's files and PostgreSQL runs archive-push itself).
type PGBackRest struct {
	Bin        string // pgbackrest; a path, or a name in PATH ("pgbackrest" when empty)
	ConfigPath string // the configuration file WriteConfig writes
	Stanza     string // DefaultStanza

	PGData       string // the cluster's data directory (pg1-path)
	SocketDir    string // PostgreSQL's unix socket directory (pg1-socket-path)
	Port         int    // PostgreSQL's port (0: 5432)
	PGUser       string // superuser pgBackRest connects as ("postgres" when empty)
	PasswordFile string // that user's password, if the socket asks for one

	RepoPath       string // <backup dir>/pgbackrest
	CipherPassFile string // $DATA/secrets/pgbackrest-cipher
	// StateDir holds pgBackRest's log, lock and spool directories
	// (defaults to the configuration file's directory).
	StateDir string
	// ProcessMax is how many processes a backup or restore uses (0: 2).
	ProcessMax int

	Cred *syscall.Credential // the PostgreSQL account; nil: ours
	Run  CommandRunner       // nil: os/exec (CLI and tests)
}

// PGBackup is one backup in the repository, as `pgbackrest info` lists it.
type PGBackup struct {
	Label    string    `json:"label"`
	Kind     Kind      `json:"kind"`
	Start    time.Time `json:"start"`
	Stop     time.Time `json:"stop"`
	Size     int64     `json:"size"`      // the database's size at the backup
	RepoSize int64     `json:"repo_size"` // what it takes in the repository (compressed)
	WALStart string    `json:"wal_start"`
	WALStop  string    `json:"wal_stop"`
	// Prior is the backup this one depends on (empty for a full).
	Prior string `json:"prior,omitempty"`
}

// CommandError is a pgBackRest command that failed; Output is the end of
// what it wrote on stderr (its error messages).
type CommandError struct {
	Command string // stanza-create, backup, info, verify, restore, expire
	Output  string
	Err     error
}

func (e *CommandError) Error() string {
	if e.Output == "" {
		return fmt.Sprintf("pgbackrest %s: %v", e.Command, e.Err)
	}
	return fmt.Sprintf("pgbackrest %s: %v: %s", e.Command, e.Err, e.Output)
}

func (e *CommandError) Unwrap() error { return e.Err }

// ErrNoBackup is returned by Restore when the repository has no backup to
// restore from (none at all, or none before the target time).
var ErrNoBackup = errors.New("no backup to restore from")

func (p *PGBackRest) bin() string {
	if p.Bin == "" {
		return "pgbackrest"
	}
	return p.Bin
}

func (p *PGBackRest) stanza() string {
	if p.Stanza == "" {
		return DefaultStanza
	}
	return p.Stanza
}

func (p *PGBackRest) stateDir() string {
	if p.StateDir == "" {
		return filepath.Dir(p.ConfigPath)
	}
	return p.StateDir
}

// stateDirs are the directories pgBackRest writes besides the repository.
func (p *PGBackRest) stateDirs() (logDir, lockDir, spoolDir string) {
	d := p.stateDir()
	return filepath.Join(d, "log"), filepath.Join(d, "lock"), filepath.Join(d, "spool")
}

// WriteConfig writes the configuration file (mode 0600, owned by Cred's
// account) and makes the repository, log, lock and spool directories
// that account's. It reads the cipher pass from CipherPassFile, which
// must exist. It rewrites the file only when its content changes, so it
// is cheap at every boot, and must run before PostgreSQL starts (its
// archive_command reads the file).
func (p *PGBackRest) WriteConfig() error {
	if p.ConfigPath == "" || p.PGData == "" || p.RepoPath == "" || p.CipherPassFile == "" {
		return errors.New("pgbackrest config: ConfigPath, PGData, RepoPath and CipherPassFile are required")
	}
	raw, err := os.ReadFile(p.CipherPassFile)
	if err != nil {
		return fmt.Errorf("pgbackrest config: cipher pass: %w", err)
	}
	pass := strings.TrimSpace(string(raw))
	if len(pass) < 20 || strings.ContainsAny(pass, "\n\r") {
		return fmt.Errorf("pgbackrest config: cipher pass in %s is too short or not one line", p.CipherPassFile)
	}
	logDir, lockDir, spoolDir := p.stateDirs()
	for _, d := range []string{filepath.Dir(p.ConfigPath), p.stateDir(), logDir, lockDir, spoolDir, p.RepoPath} {
		if err := p.ownedDir(d); err != nil {
			return fmt.Errorf("pgbackrest config: %w", err)
		}
	}
	port := p.Port
	if port == 0 {
		port = 5432
	}
	user := p.PGUser
	if user == "" {
		user = "postgres"
	}
	procs := p.ProcessMax
	if procs <= 0 {
		procs = 2
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by vanta at every boot: edits are lost.\n[global]\n")
	fmt.Fprintf(&b, "repo1-path=%s\n", p.RepoPath)
	fmt.Fprintf(&b, "repo1-cipher-type=aes-256-cbc\n")
	fmt.Fprintf(&b, "repo1-cipher-pass=%s\n", pass)
	// The schedule expires backups itself (Expire); this only keeps
	// pgBackRest from warning at every backup.
	fmt.Fprintf(&b, "repo1-retention-full-type=count\nrepo1-retention-full=9999\n")
	fmt.Fprintf(&b, "compress-type=lz4\nprocess-max=%d\nstart-fast=y\n", procs)
	fmt.Fprintf(&b, "log-path=%s\nlock-path=%s\nspool-path=%s\n", logDir, lockDir, spoolDir)
	fmt.Fprintf(&b, "log-level-console=off\nlog-level-stderr=warn\nlog-level-file=info\n")
	fmt.Fprintf(&b, "\n[%s]\n", p.stanza())
	fmt.Fprintf(&b, "pg1-path=%s\n", p.PGData)
	if p.SocketDir != "" {
		fmt.Fprintf(&b, "pg1-socket-path=%s\n", p.SocketDir)
	}
	fmt.Fprintf(&b, "pg1-port=%d\npg1-user=%s\n", port, user)
	data := []byte(b.String())
	if old, err := os.ReadFile(p.ConfigPath); err == nil && bytes.Equal(old, data) {
		return p.chown(p.ConfigPath)
	}
	if err := atomicfile.Write(p.ConfigPath, data, 0o600); err != nil {
		return fmt.Errorf("pgbackrest config: %w", err)
	}
	if err := p.chown(p.ConfigPath); err != nil {
		return fmt.Errorf("pgbackrest config: %w", err)
	}
	return nil
}

// ownedDir makes dir (0700, Cred's account). Missing parents are made
// 0711 and left to their maker's account, so the account can pass
// through them yet list nothing.
func (p *PGBackRest) ownedDir(dir string) error {
	var missing []string
	for d := filepath.Dir(dir); d != filepath.Dir(d); d = filepath.Dir(d) {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			break
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		// Chmod too: the umask (vanta init's is 077) would take the x bits.
		if err := os.Mkdir(missing[i], 0o711); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		if err := os.Chmod(missing[i], 0o711); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return p.chown(dir)
}

func (p *PGBackRest) chown(path string) error {
	if p.Cred == nil || int(p.Cred.Uid) == os.Getuid() {
		return nil
	}
	return os.Chown(path, int(p.Cred.Uid), int(p.Cred.Gid))
}

// ArchiveCommand is PostgreSQL's archive_command: pgbackrest archive-push
// with this configuration, as a shell command (quote it for
// postgresql.conf with QuoteConfValue).
func (p *PGBackRest) ArchiveCommand() string {
	return shellQuote(p.bin()) + " --config=" + shellQuote(p.ConfigPath) + " --stanza=" + shellQuote(p.stanza()) + " archive-push %p"
}

// QuoteConfValue quotes a string as a postgresql.conf value.
func QuoteConfValue(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// shellQuote quotes s for sh when it holds anything but safe characters.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-=+:,@", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// EnsureStanza creates the stanza (the repository's record of this
// cluster) when it is missing and checks it when it is there; PostgreSQL
// must be running. It is safe to call at every boot. A stanza made for
// another cluster at this path (before a pg_upgrade: another version and
// system identifier) is upgraded, so new backups follow the new cluster
// while the old ones stay listed and restorable.
func (p *PGBackRest) EnsureStanza(ctx context.Context) error {
	_, err := p.command(ctx, "stanza-create")
	var ce *CommandError
	if errors.As(err, &ce) && strings.Contains(ce.Output, "[028]") { // info files exist but do not match the database
		_, err = p.command(ctx, "stanza-upgrade")
	}
	return err
}

// Backup takes a backup of the kind given and returns it. A diff or incr
// with no full before it is taken as a full by pgBackRest (Kind says
// so).
func (p *PGBackRest) Backup(ctx context.Context, kind Kind) (PGBackup, error) {
	if !kind.valid() {
		return PGBackup{}, fmt.Errorf("pgbackrest backup: kind %q: want full, diff or incr", kind)
	}
	before, err := p.Backups(ctx)
	if err != nil {
		return PGBackup{}, err
	}
	seen := map[string]bool{}
	for _, b := range before {
		seen[b.Label] = true
	}
	if _, err := p.command(ctx, "backup", "--type="+string(kind)); err != nil {
		return PGBackup{}, err
	}
	after, err := p.Backups(ctx)
	if err != nil {
		return PGBackup{}, err
	}
	for i := len(after) - 1; i >= 0; i-- {
		if !seen[after[i].Label] {
			return after[i], nil
		}
	}
	return PGBackup{}, &CommandError{Command: "backup", Err: errors.New("finished, yet info lists no new backup")}
}

// infoStanza is the part of `pgbackrest info --output=json` we read.
type infoStanza struct {
	Name   string `json:"name"`
	Status struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"status"`
	Backup []struct {
		Label   string  `json:"label"`
		Type    string  `json:"type"`
		Prior   *string `json:"prior"`
		Error   bool    `json:"error"`
		Archive struct {
			Start string `json:"start"`
			Stop  string `json:"stop"`
		} `json:"archive"`
		Info struct {
			Size       int64 `json:"size"`
			Repository struct {
				Size int64 `json:"size"`
			} `json:"repository"`
		} `json:"info"`
		Timestamp struct {
			Start int64 `json:"start"`
			Stop  int64 `json:"stop"`
		} `json:"timestamp"`
	} `json:"backup"`
}

// Backups lists the repository's backups, oldest first. A stanza not yet
// created lists none.
func (p *PGBackRest) Backups(ctx context.Context) ([]PGBackup, error) {
	out, err := p.command(ctx, "info", "--output=json")
	if err != nil {
		return nil, err
	}
	return parseInfo(out, p.stanza())
}

func parseInfo(out []byte, stanza string) ([]PGBackup, error) {
	var stanzas []infoStanza
	if err := json.Unmarshal(out, &stanzas); err != nil {
		return nil, &CommandError{Command: "info", Err: fmt.Errorf("decode its JSON: %w", err)}
	}
	var list []PGBackup
	for _, s := range stanzas {
		if s.Name != stanza {
			continue
		}
		for _, b := range s.Backup {
			if b.Error {
				continue // a backup with page checksum errors is listed, not trusted
			}
			pb := PGBackup{
				Label: b.Label, Kind: Kind(b.Type),
				Start: time.Unix(b.Timestamp.Start, 0).UTC(), Stop: time.Unix(b.Timestamp.Stop, 0).UTC(),
				Size: b.Info.Size, RepoSize: b.Info.Repository.Size,
				WALStart: b.Archive.Start, WALStop: b.Archive.Stop,
			}
			if b.Prior != nil {
				pb.Prior = *b.Prior
			}
			list = append(list, pb)
		}
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].Start.Before(list[j].Start) })
	return list, nil
}

// ErrVerifyFailed is a repository whose files do not all match their
// checksums (Verify's error wraps it, with pgBackRest's report).
var ErrVerifyFailed = errors.New("pgbackrest verify found damaged or missing files")

// Verify checks every file of the repository (backups and archived WAL)
// against its checksum; an error names what is wrong. pgBackRest 2.45
// exits 0 whatever it finds, so its report (--verbose: a line per
// backup) is read: any "status: error" or "status: invalid" line fails.
func (p *PGBackRest) Verify(ctx context.Context) error {
	out, err := p.command(ctx, "verify", "--output=text", "--verbose")
	if err != nil {
		return err
	}
	report := strings.TrimSpace(string(out))
	if !strings.Contains(report, "status: ") {
		return &CommandError{Command: "verify", Output: report, Err: errors.New("no status in its report")}
	}
	if strings.Contains(report, "status: error") || strings.Contains(report, "status: invalid") {
		return fmt.Errorf("%w:\n%s", ErrVerifyFailed, report)
	}
	return nil
}

// Restore restores the cluster into pgdata (its files are replaced in
// place where they differ: a delta restore; a missing or empty directory
// is filled). With a zero target it recovers to the end of the archived
// WAL; otherwise to target (PostgreSQL's recovery_target_time) and then
// promotes. set picks a backup by label; empty: the newest one that
// finished by target. A target not after the chosen backup's stop time
// (Backups' Stop, whole seconds) restores to the backup's consistent
// point: the end of that backup. PostgreSQL must not be running on pgdata. The cluster recovers
// when it next starts.
func (p *PGBackRest) Restore(ctx context.Context, set string, target time.Time, pgdata string) error {
	if pgdata == "" {
		return errors.New("pgbackrest restore: no data directory")
	}
	if _, err := os.Stat(filepath.Join(pgdata, "postmaster.pid")); err == nil {
		return fmt.Errorf("pgbackrest restore: %s has a postmaster.pid: stop PostgreSQL first", pgdata)
	}
	backups, err := p.Backups(ctx)
	if err != nil {
		return err
	}
	from, ok := pickBackup(backups, set, target)
	if !ok {
		switch {
		case set != "":
			return fmt.Errorf("pgbackrest restore: backup %q: %w", set, ErrNoBackup)
		case !target.IsZero():
			return fmt.Errorf("pgbackrest restore: none finished before %s: %w", target.UTC().Format(time.RFC3339), ErrNoBackup)
		default:
			return fmt.Errorf("pgbackrest restore: %w", ErrNoBackup)
		}
	}
	if err := os.MkdirAll(pgdata, 0o700); err != nil {
		return fmt.Errorf("pgbackrest restore: %w", err)
	}
	if err := p.chown(pgdata); err != nil {
		return fmt.Errorf("pgbackrest restore: %w", err)
	}
	args := []string{"--pg1-path=" + pgdata, "--delta",
		"--recovery-option=restore_command=" + p.restoreCommand(pgdata)}
	args = append(args, "--set="+from.Label)
	switch {
	case target.IsZero():
		// The end of the archive: pgBackRest's default type.
	case !target.After(from.Stop):
		// Not after the backup's end (as info gives it, in whole
		// seconds): its consistent point is the nearest moment there is.
		args = append(args, "--type=immediate", "--target-action=promote")
	default:
		args = append(args, "--type=time", "--target="+target.UTC().Format("2006-01-02 15:04:05.999999-07"), "--target-action=promote")
	}
	_, err = p.command(ctx, "restore", args...)
	return err
}

// pickBackup finds the backup labelled set or, with no set, the newest
// one that finished by target (any, with a zero target). info's times are
// whole seconds, so a backup stopped in the same second as target is
// taken only when no earlier one is there.
func pickBackup(backups []PGBackup, set string, target time.Time) (PGBackup, bool) {
	var sure, near PGBackup
	haveSure, haveNear := false, false
	for _, b := range backups { // oldest first: the last match is the newest
		switch {
		case set != "":
			if b.Label == set {
				return b, true
			}
		case target.IsZero() || !b.Stop.Add(time.Second).After(target):
			sure, haveSure = b, true
		case !b.Stop.After(target):
			near, haveNear = b, true
		}
	}
	if haveSure {
		return sure, true
	}
	return near, haveNear
}

// restoreCommand fetches archived WAL for a cluster restored into
// pgdata, with this configuration (not the default /etc/pgbackrest.conf)
// and that directory (pgBackRest checks it is PostgreSQL's own).
func (p *PGBackRest) restoreCommand(pgdata string) string {
	return shellQuote(p.bin()) + " --config=" + shellQuote(p.ConfigPath) + " --stanza=" + shellQuote(p.stanza()) +
		" --pg1-path=" + shellQuote(pgdata) + ` archive-get %f "%p"`
}

// Expire removes the backups beyond the newest keepFull full ones (and
// the differentials and incrementals that depend on them), and the WAL
// only they needed.
func (p *PGBackRest) Expire(ctx context.Context, keepFull int) error {
	if keepFull < 1 {
		return fmt.Errorf("pgbackrest expire: keep at least one full backup, not %d", keepFull)
	}
	_, err := p.command(ctx, "expire", "--repo1-retention-full="+strconv.Itoa(keepFull))
	return err
}

// command runs one pgBackRest command and returns its stdout.
func (p *PGBackRest) command(ctx context.Context, cmd string, args ...string) ([]byte, error) {
	if p.ConfigPath == "" {
		return nil, &CommandError{Command: cmd, Err: errors.New("no configuration file")}
	}
	argv := append([]string{"--config=" + p.ConfigPath, "--stanza=" + p.stanza()}, args...)
	argv = append(argv, cmd)
	env := p.env()
	if p.PasswordFile != "" && cmd != "archive-get" {
		pw, err := os.ReadFile(p.PasswordFile)
		if err != nil {
			return nil, &CommandError{Command: cmd, Err: fmt.Errorf("read the PostgreSQL password: %w", err)}
		}
		env = append(env, "PGPASSWORD="+strings.TrimSpace(string(pw)))
	}
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: 8 << 10}
	run := p.Run
	if run == nil {
		run = ExecRunner
	}
	if err := run(ctx, p.bin(), argv, env, p.Cred, &stdout, stderr); err != nil {
		return nil, &CommandError{Command: cmd, Output: strings.TrimSpace(stderr.String()), Err: err}
	}
	return stdout.Bytes(), nil
}

// env is ours without libpq's variables (a PGHOST of the operator's shell
// must not send pgBackRest elsewhere) and with a HOME the account owns.
func (p *PGBackRest) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") || k == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+p.stateDir())
}

// ExecRunner runs a tool with os/exec; for the CLI and tests, never
// inside vanta init.
func ExecRunner(ctx context.Context, name string, args, env []string, cred *syscall.Credential, stdout, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(name), err)
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.buf = append(t.buf, b...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(b), nil
}

func (t *tailBuffer) String() string { return string(t.buf) }
