package appliance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/vanta-ledger/vanta/internal/backup"
)

// pgBackRestCipher is the secret (under $DATA/secrets) that encrypts the
// pgBackRest repository; a restore puts the backed-up one back first.
const pgBackRestCipher = "pgbackrest-cipher"

// PGBackRestFor is the appliance's pgBackRest for a validated
// configuration, running or not (vanta restore uses it with the
// appliance stopped): its configuration in $DATA/pgbackrest, the
// repository in <backup dir>/pgbackrest, run as PostgreSQL's account.
func PGBackRestFor(cfg Config) (*backup.PGBackRest, error) {
	bin, err := exec.LookPath("pgbackrest")
	if err != nil {
		return nil, fmt.Errorf("pgbackrest not found (scripts/install-deps installs it): %w", err)
	}
	pgUser, err := serviceAccount("postgres", true)
	if err != nil {
		return nil, err
	}
	return newPGBackRest(cfg, Layout{Root: cfg.DataDir}, bin, pgUser), nil
}

func newPGBackRest(cfg Config, l Layout, bin string, pgUser account) *backup.PGBackRest {
	backupDir := cfg.BackupDir
	if backupDir == "" {
		backupDir = l.Path("backups")
	}
	return &backup.PGBackRest{
		Bin:        bin,
		ConfigPath: l.Path("pgbackrest", "pgbackrest.conf"),
		Stanza:     backup.DefaultStanza,
		PGData:     l.Path("postgres"), SocketDir: l.Path("run", "postgres"),
		PGUser: pgSuperuser, PasswordFile: l.Secret("postgres-superuser"),
		RepoPath:       filepath.Join(backupDir, "pgbackrest"),
		CipherPassFile: l.Secret(pgBackRestCipher),
		Cred:           pgUser.cred(),
	}
}

// cred is the credential to start a process as the account; nil when it
// is ourselves.
func (a account) cred() *syscall.Credential {
	if a.self() {
		return nil
	}
	return &syscall.Credential{Uid: uint32(a.uid), Gid: uint32(a.gid), Groups: []uint32{}}
}

// writePGBackRestConfig writes pgBackRest's configuration before
// PostgreSQL starts: its archive_command reads it.
func (p *provisioner) writePGBackRestConfig() error {
	if err := p.pgbr.WriteConfig(); err != nil {
		return err
	}
	return checkReachable(p.pgbr.RepoPath, p.pgUser)
}

// pgStanza is the outcome of the boot's stanza-create.
type pgStanza struct {
	mu   sync.Mutex
	done bool
	err  error
}

// ErrPGBackRestExternal: the appliance does not back up a PostgreSQL it
// does not run (VANTA_POSTGRES_URL); that server's own tools do.
var ErrPGBackRestExternal = errors.New("PostgreSQL is external (VANTA_POSTGRES_URL): back it up with its own tools")

// ensureStanza creates the pgBackRest stanza once PostgreSQL is healthy.
// A failure is logged, not fatal: the appliance runs without backups,
// and PGBackRest tries again and reports it.
func (a *Appliance) ensureStanza(ctx context.Context) {
	if a.cfg.PostgresURL != "" {
		return
	}
	err := a.pgbr.EnsureStanza(ctx)
	a.stanza.mu.Lock()
	a.stanza.done, a.stanza.err = err == nil, err
	a.stanza.mu.Unlock()
	if err != nil {
		a.logger.Error("pgbackrest stanza", "error", err.Error(), "repository", a.pgbr.RepoPath)
		return
	}
	a.logger.Info("pgbackrest stanza ready", "repository", a.pgbr.RepoPath)
}

// PGBackRest is the appliance's pgBackRest, for backups while it runs.
// When the boot could not create the stanza (or has not yet), it tries
// again now, and returns why that failed.
func (a *Appliance) PGBackRest(ctx context.Context) (*backup.PGBackRest, error) {
	if a.cfg.PostgresURL != "" {
		return nil, ErrPGBackRestExternal
	}
	a.stanza.mu.Lock()
	defer a.stanza.mu.Unlock()
	if !a.stanza.done {
		if err := a.pgbr.EnsureStanza(ctx); err != nil {
			a.stanza.err = err
			return nil, fmt.Errorf("pgbackrest stanza: %w", err)
		}
		a.stanza.done, a.stanza.err = true, nil
	}
	return a.pgbr, nil
}

// PostgresVersionError is a data directory made by another PostgreSQL
// major version than the server binary the appliance runs.
type PostgresVersionError struct {
	DataDir     string // the PostgreSQL data directory
	DataVersion string // its PG_VERSION
	BinVersion  string // the server binary's major version
	BinDir      string
}

func (e *PostgresVersionError) Error() string {
	return fmt.Sprintf("PostgreSQL data directory %s was made by PostgreSQL %s, but this appliance runs PostgreSQL %s (%s); "+
		"it will not start on a layout it does not know. Upgrade the data directory first, as docs/OPERATIONS.md "+
		"\"Upgrading PostgreSQL\" says: `vanta backup now`, stop the appliance, run pg_upgrade with both versions' binaries, start; "+
		"or point VANTA_POSTGRES_BIN at PostgreSQL %s's binaries",
		e.DataDir, e.DataVersion, e.BinVersion, e.BinDir, e.DataVersion)
}

// checkPostgresVersion refuses a data directory of another major version
// than the server binary; a directory not made yet is fine.
func (p *provisioner) checkPostgresVersion() error {
	pgdata := p.layout.Path("postgres")
	raw, err := os.ReadFile(filepath.Join(pgdata, "PG_VERSION"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	bin, err := p.serverMajor()
	if err != nil {
		return err
	}
	data := strings.TrimSpace(string(raw))
	if data != bin {
		return &PostgresVersionError{DataDir: pgdata, DataVersion: data, BinVersion: bin, BinDir: p.pgBin}
	}
	return nil
}

// serverMajor is the server binary's major version: from Debian's layout
// (/usr/lib/postgresql/15/bin), else from `postgres --version`.
func (p *provisioner) serverMajor() (string, error) {
	if v := majorFromBinDir(p.pgBin); v != "" {
		return v, nil
	}
	out, err := p.output(context.Background(), "postgres-version", filepath.Join(p.pgBin, "postgres"), "--version")
	if err != nil {
		return "", err
	}
	return parsePostgresVersion(out)
}

func majorFromBinDir(dir string) string {
	if filepath.Base(dir) != "bin" || filepath.Base(filepath.Dir(filepath.Dir(dir))) != "postgresql" {
		return ""
	}
	v := filepath.Base(filepath.Dir(dir))
	if regexp.MustCompile(`^([1-9][0-9]+|[0-9]\.[0-9])$`).MatchString(v) {
		return v
	}
	return ""
}

var postgresVersion = regexp.MustCompile(`\(PostgreSQL\) ([0-9]+)(?:\.([0-9]+))?`)

// parsePostgresVersion reads the major version from `postgres --version`
// ("postgres (PostgreSQL) 15.18 (Debian …)"): 10 and later have one
// number, 9.6 and earlier two.
func parsePostgresVersion(out string) (string, error) {
	m := postgresVersion.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("postgres --version said %q: no version in it", strings.TrimSpace(out))
	}
	major, _ := strconv.Atoi(m[1])
	if major < 10 && m[2] != "" {
		return m[1] + "." + m[2], nil
	}
	return m[1], nil
}
