package imagespec

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The image cannot be built here (no Docker engine), so the final stage's
// package RUN is run as the shell script it is, with every command it
// calls that would change the machine (apt-get, curl, gpg, useradd, …)
// replaced by a stub that records its arguments, and every absolute path
// it names moved under a temporary directory. It shows that the script
// installs packages.list's image scope with Redis pinned, and stops with
// its message when a repository serves the wrong thing.

// harmless are the real commands the script may run: they act only on
// the paths given, all of which are moved under the temporary directory.
var harmless = []string{"awk", "cat", "chmod", "cp", "cut", "grep", "install", "ln", "ls", "mkdir", "mktemp", "rm", "tr"}

// keptPaths are absolute paths that stay as they are: read-only or mere
// strings in the script.
var keptPaths = map[string]bool{"/bin/true": true, "/bin/sh": true, "/dev/null": true, "/nonexistent": true, "/usr/sbin/nologin": true}

type simulation struct {
	root   string // stands for /
	script string
	log    string // the stubs' record
	env    []string
}

func newSimulation(t *testing.T, script string, stubs map[string]string) *simulation {
	t.Helper()
	s := &simulation{root: t.TempDir()}
	bin := filepath.Join(s.root, "stub-bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range harmless {
		p, err := exec.LookPath(name)
		if err != nil {
			t.Fatalf("the simulation needs %s: %v", name, err)
		}
		if err := os.Symlink(p, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range stubs {
		src := "#!/bin/bash\necho \"" + name + " $*\" >> \"$SIM_LOG\"\n" + body + "\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(src), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Move every absolute path under root. The script must name nothing
	// this misses: a path the regexp does not see would be the machine's.
	abs := regexp.MustCompile("(^|[\\s\"'=>(:,;|`])(/[A-Za-z0-9._-][A-Za-z0-9._/-]*)")
	s.script = abs.ReplaceAllStringFunc(script, func(m string) string {
		sub := abs.FindStringSubmatch(m)
		if keptPaths[sub[2]] {
			return m
		}
		return sub[1] + s.root + sub[2]
	})
	for _, p := range abs.FindAllStringSubmatch(s.script, -1) {
		if !keptPaths[p[2]] && !strings.HasPrefix(p[2], s.root) {
			t.Fatalf("the script names %s, which the simulation did not move", p[2])
		}
	}
	if strings.Contains(s.script, "cd /") {
		t.Fatal("the script changes to an absolute directory")
	}
	s.log = filepath.Join(s.root, "stub.log")
	tmp := filepath.Join(s.root, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	s.env = []string{"PATH=" + bin, "SIM_LOG=" + s.log, "TMPDIR=" + tmp, "HOME=" + s.root}
	return s
}

// file writes a file under the simulated root.
func (s *simulation) file(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(s.root, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// run runs the script as docker would (SHELL bash -euo pipefail -c).
func (s *simulation) run(t *testing.T, env ...string) (output, log string, err error) {
	t.Helper()
	cmd := exec.Command("/bin/bash", "-euo", "pipefail", "-c", s.script)
	cmd.Env = append(append([]string{}, s.env...), env...)
	cmd.Dir = s.root
	out, err := cmd.CombinedOutput()
	b, rerr := os.ReadFile(s.log)
	if rerr != nil && !os.IsNotExist(rerr) {
		t.Fatal(rerr)
	}
	return string(out), string(b), err
}

const goodFingerprint = "0123456789ABCDEF0123456789ABCDEF01234567"

func TestPackageRunSimulated(t *testing.T) {
	ins, err := Parse(read(t, dockerfilePath))
	if err != nil {
		t.Fatal(err)
	}
	var script string
	for _, in := range FinalStage(ins) {
		if in.Cmd == "RUN" && strings.Contains(in.Args, "packages.list") {
			script = in.Args
		}
	}
	if script == "" {
		t.Fatal("no RUN of the final stage reads packages.list")
	}
	list := read(t, packagesPath)
	stubs := map[string]string{
		"apt-get":        "",
		"gpgconf":        "",
		"pg_dropcluster": "",
		"useradd":        "",
		"curl":           "echo KEY",
		// --export FINGERPRINT prints a key only for the good fingerprint.
		"gpg":           `cat >/dev/null; if [ "$2" = --export ] && [ "$3" = ` + goodFingerprint + ` ]; then echo KEY; fi`,
		"apt-cache":     `printf ' redis-server | 6:7.4.1-1rl1~jammy1 | r\n redis-server | 6:7.2.7-1rl1~jammy1 | r\n redis-server | 5:6.0.16-1ubuntu1 | u\n'`,
		"pg_lsclusters": `echo "15  main    5432 down postgres /var/lib/postgresql/15/main /var/log/postgresql/postgresql-15-main.log"`,
		"dpkg-query":    `echo "${SIM_MONGO:-8.0.4}"`,
		"redis-server":  `echo "Redis server v=${SIM_REDIS:-7.2.7} sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=1"`,
		"mongodump":     "",
		"id":            `case "$2" in pgadmin) exit 1;; *) echo 100;; esac`,
	}
	args := []string{
		"PGDG_REPO=https://pg.example/apt", "PGDG_KEY_URL=https://pg.example/key", "PGDG_KEY_FINGERPRINT=0123 4567 89ab cdef 0123  4567 89AB CDEF 0123 4567",
		"REDIS_REPO=https://redis.example/deb", "REDIS_KEY_URL=https://redis.example/key", "REDIS_KEY_FINGERPRINT=" + goodFingerprint,
		"MONGODB_REPO=https://mongo.example/apt/ubuntu", "MONGODB_KEY_URL=https://mongo.example/key", "MONGODB_KEY_FINGERPRINT=" + goodFingerprint,
		"PGADMIN_REPO=https://pgadmin.example/apt/", "PGADMIN_KEY_URL=https://pgadmin.example/key", "PGADMIN_KEY_FINGERPRINT=" + goodFingerprint,
		"REDIS_SERIES=7.2", "MONGODB_SERIES=8.0", "DEBIAN_FRONTEND=noninteractive",
	}
	setup := func(t *testing.T) *simulation {
		s := newSimulation(t, script, stubs)
		s.file(t, "tmp/packages.list", list, 0o644)
		s.file(t, "etc/os-release", "ID=ubuntu\nVERSION_CODENAME=jammy\n", 0o644)
		// What the base image has.
		for _, d := range []string{"usr/sbin", "usr/local/bin", "etc/apt/sources.list.d", "var/lib/apt/lists"} {
			if err := os.MkdirAll(filepath.Join(s.root, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range []string{"usr/lib/postgresql/15/bin/postgres", "usr/lib/postgresql/15/bin/initdb", "usr/pgadmin4/venv/bin/python3", "usr/pgadmin4/web/pgAdmin4.py"} {
			s.file(t, f, "", 0o755)
		}
		return s
	}

	t.Run("installs the list with Redis pinned", func(t *testing.T) {
		s := setup(t)
		out, log, err := s.run(t, args...)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		var want []string
		for _, p := range Packages(list, ScopeImage) {
			if p == "redis-server" || p == "redis-tools" {
				p += "=6:7.2.7-1rl1~jammy1"
			}
			want = append(want, p)
		}
		installLine := "apt-get install -y --no-install-recommends " + strings.Join(want, " ")
		lines := strings.Split(strings.TrimSpace(log), "\n")
		if !slices.Contains(lines, installLine) {
			t.Errorf("no %q among what the stubs recorded:\n%s", installLine, log)
		}
		for _, want := range []string{"pg_dropcluster --stop 15 main", "apt-get purge -y --auto-remove curl gnupg",
			"useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin pgadmin"} {
			if !slices.Contains(lines, want) {
				t.Errorf("no %q among what the stubs recorded:\n%s", want, log)
			}
		}
		sources, err := filepath.Glob(filepath.Join(s.root, "etc/apt/sources.list.d/*.list"))
		if err != nil || len(sources) != 4 {
			t.Fatalf("sources lists: %v %v", sources, err)
		}
		pgadmin := read(t, filepath.Join(s.root, "etc/apt/sources.list.d/pgadmin.list"))
		if want := "deb [signed-by=" + s.root + "/etc/apt/keyrings/pgadmin.gpg] https://pgadmin.example/apt/jammy pgadmin4 main\n"; pgadmin != want {
			t.Errorf("pgadmin.list = %q, want %q", pgadmin, want)
		}
		if fi, err := os.Stat(filepath.Join(s.root, "var/lib/vanta")); err != nil || fi.Mode().Perm() != 0o711 {
			t.Errorf("/var/lib/vanta: %v %v, want mode 0711", fi, err)
		}
		if _, err := os.Lstat(filepath.Join(s.root, "usr/local/bin/systemctl")); !os.IsNotExist(err) {
			t.Errorf("the systemctl shim is left behind: %v", err)
		}
	})

	refusals := []struct {
		name string
		env  []string
		say  string
	}{
		{"MongoDB of another series", []string{"SIM_MONGO=7.0.2"}, "mongodb-org-server is 7.0.2, want 8.0.x"},
		{"Redis of another line", []string{"SIM_REDIS=7.4.1"}, "redis-server is not 7.2.x"},
		{"no release of the Redis line", []string{"REDIS_SERIES=7.9"}, "no redis-server 7.9.x in the configured repositories"},
		{"a key without the fingerprint", []string{"PGADMIN_KEY_FINGERPRINT=FFFF456789ABCDEF0123456789ABCDEF01234567"}, "no key with fingerprint FFFF456789ABCDEF0123456789ABCDEF01234567"},
		{"a short key id", []string{"REDIS_KEY_FINGERPRINT=ABCDEF01"}, "redis: fingerprint must be 40 hex digits"},
		{"a missing build arg", []string{"PGADMIN_REPO="}, "build arg PGADMIN_REPO is required"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			s := setup(t)
			out, log, err := s.run(t, append(append([]string{}, args...), tt.env...)...)
			if err == nil || !strings.Contains(out, tt.say) {
				t.Errorf("err %v, output %q: want a failure saying %q", err, out, tt.say)
			}
			if strings.Contains(log, "apt-get purge") {
				t.Errorf("the script went on after the failure:\n%s", log)
			}
		})
	}
	t.Run("a list without PostgreSQL", func(t *testing.T) {
		s := setup(t)
		s.file(t, "tmp/packages.list", strings.Replace(list, "\npostgresql-15\n", "\n", 1), 0o644)
		if out, _, err := s.run(t, args...); err == nil || !strings.Contains(out, "packages.list names no postgresql-<major> package") {
			t.Errorf("err %v, output %q", err, out)
		}
	})
	t.Run("pgAdmin not where the catalog looks", func(t *testing.T) {
		s := setup(t)
		if err := os.Remove(filepath.Join(s.root, "usr/pgadmin4/web/pgAdmin4.py")); err != nil {
			t.Fatal(err)
		}
		if out, _, err := s.run(t, args...); err == nil || !strings.Contains(out, "pgAdmin4.py, where vanta init looks for pgAdmin") {
			t.Errorf("err %v, output %q", err, out)
		}
	})
}
