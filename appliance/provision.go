package appliance

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/vanta-ledger/vanta/internal/atomicfile"
	"github.com/vanta-ledger/vanta/internal/backup"
	"github.com/vanta-ledger/vanta/supervisor"
)

// Names inside PostgreSQL. The app role logs in; the owner role owns the
// tables (migrations run as it), so the app role can never ALTER or DROP
// them nor bypass row-level security as their owner.
const (
	pgSuperuser = "postgres"
	pgAppRole   = "vanta_app"
	pgOwnerRole = "vanta_owner"
	pgDatabase  = "vanta"
	redisUser   = "vanta"
)

// account is a Unix user a service runs as; nil fields mean ourselves.
type account struct {
	name string
	uid  int
	gid  int
}

// self reports whether the account is the user we run as.
func (a account) self() bool { return a.uid == os.Getuid() }

func lookupAccount(name string) (account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return account{}, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return account{name: u.Username, uid: uid, gid: gid}, nil
}

func currentAccount() account {
	name := strconv.Itoa(os.Getuid())
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return account{name: name, uid: os.Getuid(), gid: os.Getgid()}
}

// serviceAccount picks the user a service runs as: as root, the service's
// own system user (PostgreSQL refuses to run as root); otherwise ourselves.
func serviceAccount(name string, required bool) (account, error) {
	if os.Getuid() != 0 {
		return currentAccount(), nil
	}
	a, err := lookupAccount(name)
	if err == nil {
		return a, nil
	}
	if required {
		return account{}, fmt.Errorf("system user %q is needed to run it as non-root: %w (scripts/install-deps creates it)", name, err)
	}
	return currentAccount(), nil
}

// Layout is the data directory's shape.
type Layout struct {
	Root string
}

// Path joins elements under the data directory.
func (l Layout) Path(elem ...string) string {
	return filepath.Join(append([]string{l.Root}, elem...)...)
}

// Secret returns the path of a generated credential.
func (l Layout) Secret(name string) string { return l.Path("secrets", name) }

// provisioner performs first-boot and every-boot preparation. Every step
// checks before it acts, so a boot killed half-way is finished by the next.
type provisioner struct {
	cfg      *Config
	layout   Layout
	reaper   *supervisor.Reaper
	logger   *slog.Logger
	pgBin    string
	pgUser   account
	redisAcc account
	pgbr     *backup.PGBackRest // WAL archiving: its config, archive_command
	extra    []func() error     // engine-specific steps, the tools' files
	mongoAcc account            // runs the document store
	// pgSocketShared opens PostgreSQL's socket to other local accounts
	// (pgAdmin's); every role still needs its SCRAM password.
	pgSocketShared bool

	madeSetupToken bool // this boot made the setup token: print it once
}

func (p *provisioner) step(name string, fn func() error) error {
	p.logger.Info("provision", "step", name)
	if err := fn(); err != nil {
		return fmt.Errorf("provision %s: %w", name, err)
	}
	return nil
}

func (p *provisioner) run(ctx context.Context) error {
	steps := []struct {
		name string
		fn   func() error
	}{
		{"layout", p.makeLayout},
		{"secrets", p.makeSecrets},
		{"setup-token", func() (err error) { p.madeSetupToken, err = p.makeSetupToken(); return err }},
		{"tls", p.makeSelfSigned},
		{"postgres-version", p.checkPostgresVersion},
		{"postgres-cluster", func() error { return p.initPostgres(ctx) }},
		{"pgbackrest-config", p.writePGBackRestConfig},
		{"postgres-config", p.writePostgresConfig},
		{"redis-config", p.writeRedisConfig},
	}
	for _, s := range steps {
		if err := p.step(s.name, s.fn); err != nil {
			return err
		}
	}
	for _, fn := range p.extra {
		if err := p.step("engine", fn); err != nil {
			return err
		}
	}
	return nil
}

type dirSpec struct {
	path  string
	mode  os.FileMode
	owner account
}

func (p *provisioner) makeLayout() error {
	me := currentAccount()
	l := p.layout
	dirs := []dirSpec{
		// 0711: service users may pass through to their own directories
		// but list nothing.
		{l.Root, 0o711, me},
		{l.Path("run"), 0o711, me},
		{l.Path("run", "postgres"), p.pgSocketDirMode(), p.pgUser},
		{l.Path("run", "redis"), 0o700, p.redisAcc},
		{l.Path("run", "mongodb"), 0o700, p.mongoAcc},
		{l.Path("redis"), 0o700, p.redisAcc},
		{l.Path("docdb"), 0o700, me},
		{l.Path("mongodb"), 0o700, p.mongoAcc},
		{l.Path("secrets"), 0o700, me},
		{l.Path("log"), 0o700, me},
		{l.Path("models"), 0o700, me},
		{l.Path("seal"), 0o700, me},
		{l.Path("companies"), 0o700, me},
		{l.Path("audit"), 0o700, me},
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d.path, d.mode); err != nil {
			return err
		}
		if err := os.Chmod(d.path, d.mode); err != nil {
			return err
		}
		if !d.owner.self() {
			if err := os.Chown(d.path, d.owner.uid, d.owner.gid); err != nil {
				return err
			}
		}
	}
	// mongod's files made while it ran as another account become its own.
	if err := chownTree(l.Path("mongodb"), p.mongoAcc); err != nil {
		return err
	}
	if err := checkReachable(l.Root, p.pgUser); err != nil {
		return err
	}
	return checkReachable(l.Root, p.mongoAcc)
}

func (p *provisioner) pgSocketDirMode() os.FileMode {
	if p.pgSocketShared {
		return 0o711
	}
	return 0o700
}

// chownTree gives everything under dir to a, if anything there is not
// a's already.
func chownTree(dir string, a account) error {
	if a.self() {
		return nil // the appliance's own: nothing else writes there
	}
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st := info.Sys().(*syscall.Stat_t); int(st.Uid) != a.uid || int(st.Gid) != a.gid {
			return os.Lchown(path, a.uid, a.gid)
		}
		return nil
	})
}

// checkReachable fails with a clear message when a service user could not
// walk down to the data directory (a 0700 parent owned by root, say).
func checkReachable(dir string, a account) error {
	if a.self() || a.uid == 0 {
		return nil
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		sys := st.Sys().(*syscall.Stat_t)
		if int(sys.Uid) != a.uid && st.Mode().Perm()&0o001 == 0 && !(int(sys.Gid) == a.gid && st.Mode().Perm()&0o010 != 0) {
			return fmt.Errorf("user %s (uid %d) cannot reach the data directory: %s is mode %04o; run `chmod o+x %s` or choose another --data",
				a.name, a.uid, d, st.Mode().Perm(), d)
		}
		if d == "/" {
			return nil
		}
	}
}

func (p *provisioner) makeSecrets() error {
	for _, name := range []string{"postgres-superuser", "postgres-app", "redis", pgBackRestCipher, mongoExpressSecret, pgAdminSecret, pgAdminSecretKey} {
		if err := ensureSecret(p.layout.Secret(name)); err != nil {
			return err
		}
	}
	return nil
}

// writeConfigFile writes a generated config unless it already has exactly
// this content, so a warm boot pays for no fsync.
func writeConfigFile(path string, data []byte, owner account) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return err
	}
	if owner.self() {
		return nil
	}
	return os.Chown(path, owner.uid, owner.gid)
}

// ensureSecret writes 32 random bytes, hex-encoded, unless the file
// exists. It writes to a temporary file and renames, so a crash never
// leaves a truncated secret that a later boot would trust.
func ensureSecret(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return err
	}
	return atomicfile.Write(path, []byte(hex.EncodeToString(buf)), 0o600)
}

func readSecret(l Layout, name string) (string, error) {
	b, err := os.ReadFile(l.Secret(name))
	if err != nil {
		return "", fmt.Errorf("read secret %s: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// initPostgres creates the cluster in a scratch directory (initdb, then
// roles and database in single-user mode, so no server ever listens on a
// half-made cluster) and renames it into place only when complete. A boot
// killed half-way leaves only the scratch directory, which the next boot
// discards.
func (p *provisioner) initPostgres(ctx context.Context) error {
	pgdata := p.layout.Path("postgres")
	if _, err := os.Stat(filepath.Join(pgdata, "PG_VERSION")); err == nil {
		return nil
	}
	scratch := p.layout.Path("postgres.initdb")
	if err := os.RemoveAll(scratch); err != nil {
		return err
	}
	// initdb may not create it: the data directory is ours, not postgres's.
	if err := os.Mkdir(scratch, 0o700); err != nil {
		return err
	}
	if err := p.chown(scratch, p.pgUser); err != nil {
		return err
	}
	superPass, err := readSecret(p.layout, "postgres-superuser")
	if err != nil {
		return err
	}
	appPass, err := readSecret(p.layout, "postgres-app")
	if err != nil {
		return err
	}
	// initdb reads the superuser password from a file the postgres user can
	// read: put it in that user's private socket directory, briefly.
	pwfile := p.layout.Path("run", "postgres", "initdb.pw")
	if err := os.WriteFile(pwfile, []byte(superPass+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pwfile)
	if err := p.chown(pwfile, p.pgUser); err != nil {
		return err
	}
	p.logger.Info("provision", "step", "initdb", "dir", scratch)
	if err := p.exec(ctx, "initdb", filepath.Join(p.pgBin, "initdb"), nil,
		"-D", scratch, "-U", pgSuperuser, "--pwfile="+pwfile,
		"--auth-local=scram-sha-256", "--auth-host=scram-sha-256",
		"--encoding=UTF8", "--no-locale", "--data-checksums"); err != nil {
		return err
	}
	bootstrap := strings.Join([]string{
		"CREATE ROLE " + pgOwnerRole + " NOLOGIN",
		"CREATE ROLE " + pgAppRole + " LOGIN NOINHERIT PASSWORD '" + appPass + "'",
		"CREATE DATABASE " + pgDatabase + " OWNER " + pgOwnerRole,
		"REVOKE ALL ON DATABASE " + pgDatabase + " FROM PUBLIC",
		"GRANT CONNECT, TEMPORARY ON DATABASE " + pgDatabase + " TO " + pgAppRole,
		"",
	}, "\n")
	if err := p.exec(ctx, "bootstrap", filepath.Join(p.pgBin, "postgres"), strings.NewReader(bootstrap),
		"--single", "-D", scratch, "-c", "exit_on_error=true", "postgres"); err != nil {
		return err
	}
	conf := filepath.Join(scratch, "postgresql.conf")
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = io.WriteString(f, "\n# Settings owned by vanta init, rewritten at every boot.\ninclude_if_exists = 'vanta.conf'\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(scratch, pgdata); err != nil {
		return err
	}
	return atomicfile.SyncDir(p.layout.Root)
}

func (p *provisioner) writePostgresConfig() error {
	perm := "0700"
	if p.pgSocketShared {
		perm = "0777" // pgAdmin's account connects; the directory lists nothing
	}
	conf := fmt.Sprintf(`listen_addresses = ''
unix_socket_directories = '%s'
unix_socket_permissions = %s
password_encryption = 'scram-sha-256'
logging_collector = off
log_line_prefix = '%%m [%%p] '
wal_level = replica
archive_mode = on
archive_command = %s
`, p.layout.Path("run", "postgres"), perm, backup.QuoteConfValue(p.pgbr.ArchiveCommand()))
	return writeConfigFile(p.layout.Path("postgres", "vanta.conf"), []byte(conf), p.pgUser)
}

func (p *provisioner) writeRedisConfig() error {
	pass, err := readSecret(p.layout, "redis")
	if err != nil {
		return err
	}
	dir := p.layout.Path("redis")
	// The ACL file is created once: later features add per-company users
	// to it with ACL SAVE, and a rewrite would drop them. Only the default
	// user's line is ours to set at every boot (see redisDefaultUser).
	acl := filepath.Join(dir, "users.acl")
	old, err := os.ReadFile(acl)
	switch {
	case errors.Is(err, os.ErrNotExist):
		users := fmt.Sprintf("%s\nuser %s on sanitize-payload #%s ~* &* +@all\n", redisDefaultUser, redisUser, sha256Hex(pass))
		if err := atomicfile.Write(acl, []byte(users), 0o600); err != nil {
			return err
		}
		if err := p.chown(acl, p.redisAcc); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		// Files written before the default user could replay the AOF.
		if fixed := withRedisDefaultUser(old); !bytes.Equal(fixed, old) {
			if err := writeConfigFile(acl, fixed, p.redisAcc); err != nil {
				return fmt.Errorf("redis ACL file: %w", err)
			}
		}
	}
	conf := fmt.Sprintf(`# Written by vanta init at every boot.
port 0
unixsocket %s
unixsocketperm 700
dir %s
daemonize no
logfile ""
aclfile %s
appendonly yes
appendfsync everysec
save 3600 1 300 100 60 10000
shutdown-on-sigterm save
`, p.layout.Path("run", "redis", "redis.sock"), dir, acl)
	return writeConfigFile(filepath.Join(dir, "redis.conf"), []byte(conf), p.redisAcc)
}

// redisDefaultUser is the ACL line of Redis's default user. Redis 7.0
// replays the AOF through a client that is the default user, and EXEC
// checks every queued command against that client's user: with the default
// user allowed nothing, each MULTI/EXEC in the AOF (every Lua script's
// effects, every transaction of a company user) is refused on replay with
// "NOPERM … after processing the command 'exec'" and its writes are lost
// after a crash. So the default user may run everything, yet stays
// disabled ("off") with no password: no connection can ever authenticate
// as it, and unauthenticated connections may run nothing but AUTH/HELLO.
const redisDefaultUser = "user default off resetpass ~* &* +@all"

// withRedisDefaultUser puts redisDefaultUser in place of the default
// user's line of an ACL file, keeping every other user as it is.
func withRedisDefaultUser(acl []byte) []byte {
	lines := strings.Split(strings.TrimRight(string(acl), "\n"), "\n")
	out := []string{redisDefaultUser}
	for _, l := range lines {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "user" && f[1] == "default" {
			continue
		}
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return []byte(strings.Join(out, "\n") + "\n")
}

func (p *provisioner) chown(path string, a account) error {
	if a.self() {
		return nil
	}
	return os.Chown(path, a.uid, a.gid)
}

// exec runs a one-off command through the reaper (which owns every child
// exit), as the postgres user, and returns its output in the error when it
// fails.
func (p *provisioner) exec(ctx context.Context, step, path string, stdin io.Reader, args ...string) error {
	_, err := p.run1(ctx, step, path, stdin, args...)
	return err
}

// output runs a one-off command as exec does and returns its output.
func (p *provisioner) output(ctx context.Context, step, path string, args ...string) (string, error) {
	return p.run1(ctx, step, path, nil, args...)
}

func (p *provisioner) run1(ctx context.Context, step, path string, stdin io.Reader, args ...string) (string, error) {
	var cred *syscall.Credential
	if !p.pgUser.self() {
		cred = &syscall.Credential{Uid: uint32(p.pgUser.uid), Gid: uint32(p.pgUser.gid), Groups: []uint32{}}
	}
	return p.start(ctx, step, supervisor.Command{
		Path: path, Args: append([]string{path}, args...),
		Env:  append(os.Environ(), "LC_ALL=C"),
		Dir:  p.layout.Root,
		Cred: cred,
	}, stdin)
}

// start runs cmd through the reaper, feeding it stdin, and returns its
// output (in the error when it fails).
func (p *provisioner) start(ctx context.Context, step string, cmd supervisor.Command, stdin io.Reader) (string, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return "", err
	}
	var inR *os.File
	if stdin != nil {
		var inW *os.File
		if inR, inW, err = os.Pipe(); err != nil {
			return "", err
		}
		go func() {
			_, _ = io.Copy(inW, stdin)
			inW.Close()
		}()
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, outW
	proc, err := p.reaper.Start(cmd)
	outW.Close()
	if inR != nil {
		inR.Close()
	}
	if err != nil {
		outR.Close()
		return "", err
	}
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(&out, io.LimitReader(outR, 1<<20))
		_, _ = io.Copy(io.Discard, outR)
		outR.Close()
		close(copied)
	}()
	select {
	case <-proc.Done():
	case <-ctx.Done():
		_ = proc.SignalGroup(syscall.SIGKILL)
		<-proc.Done()
	}
	<-copied
	if st := proc.Exit(); !st.Success() {
		return "", fmt.Errorf("%s: %s: %s", step, st, lastLines(out.String(), 8))
	}
	return out.String(), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
