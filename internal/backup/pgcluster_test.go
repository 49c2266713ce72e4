package backup

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/pgtest"
)

// pgc is the package's cluster, started by TestMain.
var pgc *pgCluster

// pgCluster is a PostgreSQL cluster set up as the appliance sets up its
// own (a unix socket only, scram passwords, WAL archived by pgBackRest
// into an encrypted repository), in one temporary directory.
type pgCluster struct {
	dir      string
	bin      string
	pgdata   string
	socket   string
	password string
	cred     *syscall.Credential
	pgbr     *PGBackRest
	proc     *exec.Cmd
}

// pgAccount is the postgres user when we are root (PostgreSQL refuses to
// run as root), else nil: ourselves.
func pgAccount() (*syscall.Credential, error) {
	if os.Getuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs a postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func startPGCluster() (_ *pgCluster, err error) {
	bin, err := pgtest.BinDir()
	if err != nil {
		return nil, err
	}
	cred, err := pgAccount()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "backuptest-")
	if err != nil {
		return nil, err
	}
	c := &pgCluster{dir: dir, bin: bin, cred: cred, pgdata: filepath.Join(dir, "postgres"),
		socket: filepath.Join(dir, "run"), password: randomHex(16)}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, err
	}
	secrets := filepath.Join(dir, "secrets")
	if err := os.Mkdir(secrets, 0o700); err != nil {
		return nil, err
	}
	for name, v := range map[string]string{"pgbackrest-cipher": randomHex(32), "postgres-superuser": c.password} {
		if err := os.WriteFile(filepath.Join(secrets, name), []byte(v), 0o600); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{c.pgdata, c.socket} {
		if err := c.ownedDir(d); err != nil {
			return nil, err
		}
	}
	c.pgbr = &PGBackRest{
		ConfigPath: filepath.Join(dir, "pgbackrest", "pgbackrest.conf"),
		PGData:     c.pgdata, SocketDir: c.socket, PasswordFile: filepath.Join(secrets, "postgres-superuser"),
		RepoPath: filepath.Join(dir, "backups", "pgbackrest"), CipherPassFile: filepath.Join(secrets, "pgbackrest-cipher"),
		Cred: cred,
	}
	if err := c.pgbr.WriteConfig(); err != nil {
		return nil, err
	}
	if err := c.initdb(); err != nil {
		return nil, err
	}
	if err := c.startArchiving(); err != nil {
		return nil, err
	}
	return c, nil
}

// initdb makes a new cluster at c.pgdata, whose superuser's password
// is c.password.
func (c *pgCluster) initdb() error {
	if err := c.ownedDir(c.pgdata); err != nil {
		return err
	}
	pwfile := filepath.Join(c.socket, "pw")
	if err := os.WriteFile(pwfile, []byte(c.password+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pwfile)
	if err := c.chown(pwfile); err != nil {
		return err
	}
	initdb := exec.Command(filepath.Join(c.bin, "initdb"), "-D", c.pgdata, "-U", "postgres", "--pwfile="+pwfile,
		"--auth=scram-sha-256", "--no-locale", "--encoding=UTF8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v: %s", err, out)
	}
	return nil
}

// startArchiving starts the cluster at c.pgdata archiving into the
// repository, as the appliance's is.
func (c *pgCluster) startArchiving() error {
	return c.start(c.pgdata, c.socket, "-c", "archive_mode=on", "-c", "wal_level=replica",
		"-c", "archive_command="+c.pgbr.ArchiveCommand())
}

func (c *pgCluster) chown(path string) error {
	if c.cred == nil {
		return nil
	}
	return os.Chown(path, int(c.cred.Uid), int(c.cred.Gid))
}

func (c *pgCluster) ownedDir(d string) error {
	if err := os.MkdirAll(d, 0o700); err != nil {
		return err
	}
	return c.chown(d)
}

// start runs postgres on pgdata, listening on socket only, and returns
// once it accepts connections (read-write: after any recovery).
func (c *pgCluster) start(pgdata, socket string, settings ...string) error {
	args := append([]string{"-D", pgdata, "-k", socket, "-c", "listen_addresses=", "-c", "fsync=off"}, settings...)
	proc := exec.Command(filepath.Join(c.bin, "postgres"), args...)
	proc.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Setpgid: true}
	stderr, err := proc.StderrPipe()
	if err != nil {
		return err
	}
	if err := proc.Start(); err != nil {
		return err
	}
	sc := bufio.NewScanner(stderr)
	var log strings.Builder
	ready := false
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "database system is ready to accept connections") {
			ready = true
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	if !ready {
		_ = proc.Process.Kill()
		_ = proc.Wait()
		return fmt.Errorf("postgres on %s did not start:\n%s", pgdata, log.String())
	}
	c.proc = proc
	return nil
}

// stop shuts the running server down (fast: SIGINT) and waits for it.
func (c *pgCluster) stop() {
	if c.proc != nil {
		_ = c.proc.Process.Signal(syscall.SIGINT)
		_ = c.proc.Wait()
		c.proc = nil
	}
}

func (c *pgCluster) close() {
	c.stop()
	_ = os.RemoveAll(c.dir)
}

// connect opens a superuser connection through socket.
func (c *pgCluster) connect(ctx context.Context, socket string) (*pgx.Conn, error) {
	q := url.Values{"host": {socket}, "sslmode": {"disable"}}
	u := url.URL{Scheme: "postgres", User: url.UserPassword("postgres", c.password), Path: "/postgres", RawQuery: q.Encode()}
	return pgx.Connect(ctx, u.String())
}

// switchWAL closes the current WAL segment and waits, by polling
// pg_stat_archiver until a deadline, for the archiver to have pushed it.
func switchWAL(ctx context.Context, conn *pgx.Conn) error {
	var segment string
	if err := conn.QueryRow(ctx, "SELECT pg_walfile_name(pg_switch_wal())").Scan(&segment); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var last, failed *string
		if err := conn.QueryRow(ctx, "SELECT last_archived_wal, last_failed_wal FROM pg_stat_archiver").Scan(&last, &failed); err != nil {
			return err
		}
		if last != nil && *last >= segment {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("segment %s not archived in 30s (last archived %v, last failed %v)", segment, deref(last), deref(failed))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "none"
	}
	return *s
}
