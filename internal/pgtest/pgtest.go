// Package pgtest runs a throwaway PostgreSQL cluster for a test package:
// the real server from the machine's PostgreSQL install, on a unix socket in
// a temporary directory, started once in TestMain. Each test takes its own
// database from it: a migrated copy of a template the package builds once
// (Template), so a test costs a file copy rather than a migration, and
// where it can, a transaction rolled back at its end, as the runtime role
// (Tx), so that a missing GRANT fails a unit test.
package pgtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Server is a running throwaway cluster.
type Server struct {
	dir      string
	socket   string
	password string
	proc     *exec.Cmd
}

// Superuser is the cluster's superuser name.
const Superuser = "postgres"

// Start creates and starts a cluster; call Stop when done. Durability is
// traded for speed (fsync off): the cluster dies with the test.
func Start() (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, socket: filepath.Join(dir, "run")}
	cred, uid, gid, err := runAs()
	if err != nil {
		return nil, err
	}
	pass := make([]byte, 16)
	_, _ = rand.Read(pass)
	s.password = hex.EncodeToString(pass)
	pgdata := filepath.Join(dir, "data")
	pwfile := filepath.Join(dir, "pw")
	for _, d := range []string{pgdata, s.socket} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(pwfile, []byte(s.password+"\n"), 0o600); err != nil {
		return nil, err
	}
	if cred != nil {
		_ = os.Chmod(dir, 0o711)
		for _, p := range []string{pgdata, s.socket, pwfile} {
			if err := os.Chown(p, uid, gid); err != nil {
				return nil, err
			}
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", pgdata, "-U", Superuser, "--pwfile="+pwfile,
		"--auth=scram-sha-256", "--no-locale", "--encoding=UTF8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	_ = os.Remove(pwfile)
	s.proc = exec.Command(filepath.Join(bin, "postgres"), "-D", pgdata, "-k", s.socket,
		"-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200")
	s.proc.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	stderr, err := s.proc.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := s.proc.Start(); err != nil {
		return nil, err
	}
	// The server says when it accepts connections; read its log to there.
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
		s.Stop()
		return nil, fmt.Errorf("postgres did not start:\n%s", log.String())
	}
	if err := s.createRoles(); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// The appliance's roles, made as its first boot makes them: the owner of
// every table, and the runtime role, which logs in, is NOINHERIT and owns
// nothing. Roles belong to the cluster, so every database has them.
const (
	OwnerRole   = "vanta_owner"
	AppRole     = "vanta_app"
	AppPassword = "app-password-for-tests"
)

func (s *Server) createRoles() error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.SuperuserDSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE ROLE "+OwnerRole+" NOLOGIN; CREATE ROLE "+AppRole+" LOGIN NOINHERIT PASSWORD '"+AppPassword+"'")
	if err != nil {
		return fmt.Errorf("pgtest: roles: %w", err)
	}
	return nil
}

// AppDSN connects to db as the runtime role.
func (s *Server) AppDSN(db string) string { return s.DSN(AppRole, AppPassword, db) }

// Stop shuts the cluster down fast and removes its files.
func (s *Server) Stop() {
	if s.proc != nil && s.proc.Process != nil {
		_ = s.proc.Process.Signal(syscall.SIGINT)
		_ = s.proc.Wait()
	}
	_ = os.RemoveAll(s.dir)
}

// DSN returns a connection string for user on database db.
func (s *Server) DSN(user, password, db string) string {
	q := url.Values{"host": {s.socket}, "sslmode": {"disable"}}
	return (&url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Path: "/" + db, RawQuery: q.Encode()}).String()
}

// SuperuserDSN connects as the superuser to db.
func (s *Server) SuperuserDSN(db string) string { return s.DSN(Superuser, s.password, db) }

// NewDatabase creates an empty database for one test and drops it
// afterwards. It returns the superuser DSN of that database.
func (s *Server) NewDatabase(t testing.TB) (name, dsn string) {
	t.Helper()
	return s.newDatabase(t, "")
}

func (s *Server) newDatabase(t testing.TB, template string) (name, dsn string) {
	t.Helper()
	ctx := context.Background()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name = "t_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, s.SuperuserDSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	create := "CREATE DATABASE " + name
	if template != "" {
		create += " TEMPLATE " + template
	}
	if _, err := conn.Exec(ctx, create); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, s.SuperuserDSN("postgres"))
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return name, s.SuperuserDSN(name)
}

// binDir finds initdb and postgres: PATH first, then the newest
// /usr/lib/postgresql/*/bin.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(real), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		a, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		b, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return a > b
	})
	if len(dirs) == 0 {
		return "", errors.New("pgtest: no PostgreSQL server binaries (run scripts/install-deps)")
	}
	return dirs[0], nil
}

// runAs returns the postgres user's credential when we are root, since
// PostgreSQL refuses to run as root.
func runAs() (*syscall.Credential, int, int, error) {
	if os.Getuid() != 0 {
		return nil, 0, 0, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, 0, 0, fmt.Errorf("pgtest: running as root needs a postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, uid, gid, nil
}

// Template is a database migrated once for a package; each test's
// database is a copy of it (CREATE DATABASE … TEMPLATE), which is a file
// copy instead of running every migration again.
type Template struct {
	s     *Server
	build func(ctx context.Context, dsn string) error
	once  sync.Once
	name  string
	err   error
}

// Template returns a template that build fills on first use, through the
// superuser DSN it is given. build must close every connection it opens:
// PostgreSQL copies a template only while nobody is connected to it.
func (s *Server) Template(build func(ctx context.Context, dsn string) error) *Template {
	return &Template{s: s, build: build}
}

// Database makes a copy of the template for one test and drops it
// afterwards; it returns the copy's name and superuser DSN.
func (tp *Template) Database(t testing.TB) (name, dsn string) {
	t.Helper()
	tp.once.Do(func() {
		ctx := context.Background()
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		tp.name = "template_" + hex.EncodeToString(b)
		conn, err := pgx.Connect(ctx, tp.s.SuperuserDSN("postgres"))
		if err != nil {
			tp.err = err
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+tp.name); err != nil {
			tp.err = err
			return
		}
		if err := tp.build(ctx, tp.s.SuperuserDSN(tp.name)); err != nil {
			tp.err = fmt.Errorf("pgtest: build the template: %w", err)
		}
	})
	if tp.err != nil {
		t.Fatal(tp.err)
	}
	return tp.s.newDatabase(t, tp.name)
}

// Beginner is a pool or a connection.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Tx begins a transaction for one test and rolls it back when the test
// ends, so the test leaves nothing behind and needs no database of its
// own. With a role, the transaction runs as that role (SET LOCAL ROLE, so
// it ends with the transaction): pass AppRole on a superuser connection
// and every statement is checked against the runtime role's grants.
func Tx(t testing.TB, db Beginner, role string) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.WithoutCancel(ctx)) })
	if role != "" {
		if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+pgx.Identifier{role}.Sanitize()); err != nil {
			t.Fatal(err)
		}
	}
	return tx
}

// BinDir is the directory of the PostgreSQL server binaries the tests
// run (initdb, postgres), for a package that starts its own cluster.
func BinDir() (string, error) { return binDir() }
