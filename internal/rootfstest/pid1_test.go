//go:build rootfs

package rootfstest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/auth"
	"github.com/vanta-ledger/vanta/internal/imagespec"
)

const (
	// guard bounds every wait: reaching it fails the test, it never paces it.
	guard = 120 * time.Second
	// defaultStopTimeout is VANTA_STOP_TIMEOUT's default, the budget
	// unless the image's environment sets another.
	defaultStopTimeout = 10 * time.Second
	// imageConf is where rootfs/ puts the image's ENV, EXPOSE and VOLUME.
	imageConf = "/etc/vanta/image.conf"
)

// enterRoot runs as PID 1 of the new namespaces, before it becomes vanta
// init: it mounts what a container runtime gives a container (proc of the
// new PID namespace, /dev, a private /dev/shm, a read-only /sys, a /tmp)
// inside the root, then chroots into it and execs vanta init, which keeps
// PID 1. The mounts belong to the private mount namespace and vanish with
// it. The network is the host's.
const enterRoot = `set -e
root="$1"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o nosuid,nodev,mode=1777 shm "$root/dev/shm"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmp "$root/tmp"
exec chroot "$root" /usr/local/bin/vanta init
`

// pid1 is one `vanta init` running as PID 1 of its own PID and mount
// namespaces, chrooted into the root filesystem.
type pid1 struct {
	t      *testing.T
	root   string        // the root filesystem, on the host
	data   string        // VANTA_DATA seen from the host
	budget time.Duration // VANTA_STOP_TIMEOUT
	addr   string
	env    []string
	cmd    *exec.Cmd // unshare, the namespaces' parent on the host
	pid    int       // vanta init's pid on the host
	pidNS  string    // its PID namespace, as /proc/PID/ns/pid names it

	exited chan struct{}
	err    error // after exited

	mu      sync.Mutex
	partial []byte           // of vanta init's stdout, up to the next newline
	lines   []map[string]any // its JSON log lines
	more    chan struct{}    // closed and replaced when a line arrives
	cursor  int

	client *http.Client // trusts exactly the appliance's certificate
}

// rootFS is the root filesystem scripts/rootfs-test prepared.
func rootFS(t *testing.T) string {
	t.Helper()
	root := os.Getenv("VANTA_ROOTFS")
	if root == "" {
		t.Fatal("VANTA_ROOTFS is not set: run scripts/rootfs-test, which builds the root filesystem and sets it")
	}
	if _, err := os.Stat(filepath.Join(root, "usr/local/bin/vanta")); err != nil {
		t.Fatalf("VANTA_ROOTFS=%s holds no vanta binary: %v", root, err)
	}
	if os.Geteuid() != 0 {
		t.Fatal("the rootfs test needs root (namespaces, mounts, chroot)")
	}
	return root
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// boot starts vanta init as PID 1 of new PID and mount namespaces, as
// `docker run` starts the image: its environment is the image's, from
// image.conf in the root, but for the API's address, a free loopback port
// of the host's network; its config file is the shipped one.
func boot(t *testing.T, root string) *pid1 {
	t.Helper()
	spec, err := imagespec.Load(filepath.Join(root, imageConf))
	if err != nil {
		t.Fatalf("the image's environment: %v", err)
	}
	data := spec.Env["VANTA_DATA"]
	if !filepath.IsAbs(data) {
		t.Fatalf("%s sets no absolute VANTA_DATA (%q)", imageConf, data)
	}
	p := &pid1{t: t, root: root, data: filepath.Join(root, data), budget: defaultStopTimeout, addr: freeAddr(t),
		exited: make(chan struct{}), more: make(chan struct{})}
	if v, ok := spec.Env["VANTA_STOP_TIMEOUT"]; ok {
		if p.budget, err = time.ParseDuration(v); err != nil {
			t.Fatalf("%s: VANTA_STOP_TIMEOUT=%s: %v", imageConf, v, err)
		}
	}
	// What docker adds to the image's ENV, then the image's ENV, then the
	// listener (a later word wins).
	p.env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"},
		spec.Environ()...)
	p.env = append(p.env, "VANTA_LISTEN="+p.addr)
	// --kill-child: should this test die, the kernel kills PID 1 and with
	// it the whole namespace.
	p.cmd = exec.Command("unshare", "--pid", "--fork", "--kill-child", "--mount", "--propagation", "private",
		"--", "/bin/sh", "-c", enterRoot, "vanta-rootfs", root)
	p.cmd.Env = p.env
	// A writer, not a pipe: Wait returns only once every line is read.
	p.cmd.Stdout = p
	p.cmd.Stderr = os.Stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("unshare: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			p.mu.Lock()
			from := max(0, len(p.lines)-40)
			for _, l := range p.lines[from:] {
				t.Logf("vanta init logged: %v", l)
			}
			p.mu.Unlock()
		}
		select {
		case <-p.exited:
			return
		default:
		}
		if p.pid != 0 {
			_ = syscall.Kill(p.pid, syscall.SIGTERM)
		}
		select {
		case <-p.exited:
		case <-time.After(guard):
			_ = p.cmd.Process.Kill() // --kill-child takes the namespace with it
			<-p.exited
		}
	})
	p.pid = p.findInit()
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", p.pid))
	if err != nil {
		t.Fatalf("PID namespace of vanta init: %v", err)
	}
	self, _ := os.Readlink("/proc/self/ns/pid")
	if ns == self {
		t.Fatalf("vanta init runs in the test's own PID namespace %s", ns)
	}
	p.pidNS = ns
	if in := nsPID(p.pid); in != 1 {
		t.Fatalf("vanta init is pid %d inside its namespace, want 1", in)
	}
	return p
}

// findInit waits until unshare's child has become vanta init and returns
// its host pid.
func (p *pid1) findInit() int {
	p.t.Helper()
	deadline := time.Now().Add(guard)
	for {
		for _, pid := range allPIDs() {
			if ppidOf(pid) != p.cmd.Process.Pid {
				continue
			}
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if string(cmdline) == "/usr/local/bin/vanta\x00init\x00" {
				return pid
			}
		}
		select {
		case <-p.exited:
			p.t.Fatalf("unshare exited (%v) before vanta init started", p.err)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatal("vanta init did not start in the namespace")
		}
		time.Sleep(20 * time.Millisecond) // polling a real condition, with a deadline
	}
}

// Write takes vanta init's stdout and keeps its JSON log lines.
func (p *pid1) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			return len(b), nil
		}
		var m map[string]any
		if json.Unmarshal(p.partial[:i], &m) == nil {
			p.lines = append(p.lines, m)
			close(p.more)
			p.more = make(chan struct{})
		}
		p.partial = append([]byte(nil), p.partial[i+1:]...)
	}
}

// stoppedAt is the index of the log line, after from, where program went
// to state stopped; -1 if none did.
func (p *pid1) stoppedAt(program string, from int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := from; i < len(p.lines); i++ {
		if l := p.lines[i]; l["msg"] == "state" && l["program"] == program && l["to"] == "stopped" {
			return i
		}
	}
	return -1
}

// waitLine waits for a JSON log line, after the last one it matched, whose
// msg is m.
func (p *pid1) waitLine(m string) map[string]any {
	p.t.Helper()
	deadline := time.After(guard)
	for {
		p.mu.Lock()
		lines, more := p.lines, p.more
		p.mu.Unlock()
		for ; p.cursor < len(lines); p.cursor++ {
			if lines[p.cursor]["msg"] == m {
				p.cursor++
				return lines[p.cursor-1]
			}
		}
		select {
		case <-more:
		case <-p.exited:
			p.t.Fatalf("vanta init exited (%v) before logging %q", p.err, m)
		case <-deadline:
			p.t.Fatalf("no %q log line within %s", m, guard)
		}
	}
}

// waitReady waits for the "services healthy" line and makes the client that
// trusts the certificate made at first boot.
func (p *pid1) waitReady() {
	p.t.Helper()
	p.waitLine("services healthy")
	b, err := os.ReadFile(appliance.SelfSignedCert(p.data))
	if err != nil {
		p.t.Fatalf("the appliance's certificate: %v", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		p.t.Fatal("the certificate file holds no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		p.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	p.client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// call sends a JSON request over HTTPS, with token as the bearer when set
// and the first-boot setup token while it exists, and decodes a 2xx answer
// into out.
func (p *pid1) call(method, path, token string, body, out any) (int, []byte) {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			p.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "https://"+p.addr+path, rd)
	if err != nil {
		p.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if tok, err := appliance.ReadSetupToken(p.data); err == nil && tok != "" {
		req.Header.Set(appliance.SetupTokenHeader, tok)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			p.t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
	return resp.StatusCode, data
}

func (p *pid1) mustCall(method, path, token string, body any, want int, out any) {
	p.t.Helper()
	if code, data := p.call(method, path, token, body, out); code != want {
		p.t.Fatalf("%s %s: %d %s, want %d", method, path, code, data, want)
	}
}

// inside runs a command inside the appliance's namespaces (mount, PID and
// its root), as `docker exec` would, with the image's environment.
func (p *pid1) inside(args ...string) *exec.Cmd {
	cmd := exec.Command("nsenter", append([]string{"--target", strconv.Itoa(p.pid), "--mount", "--pid", "--root", "--wd", "--"}, args...)...)
	cmd.Env = p.env
	return cmd
}

// ctlStatus is `vanta ctl status --json` run inside the namespaces.
func (p *pid1) ctlStatus() appliance.ServicesReport {
	p.t.Helper()
	cmd := p.inside("/usr/local/bin/vanta", "ctl", "status", "--json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		p.t.Fatalf("vanta ctl status --json inside the namespace: %v %s", err, stderr.Bytes())
	}
	var rep appliance.ServicesReport
	if err := json.Unmarshal(out, &rep); err != nil {
		p.t.Fatalf("ctl status --json: %v in %s", err, out)
	}
	return rep
}

// stop sends SIGTERM to PID 1, as `docker stop` does, and returns how long
// it took to exit and its exit code.
func (p *pid1) stop() (time.Duration, int) {
	p.t.Helper()
	begin := time.Now()
	if err := syscall.Kill(p.pid, syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(guard):
		p.t.Fatalf("vanta init did not exit within %s of SIGTERM", guard)
	}
	took := time.Since(begin)
	var exit *exec.ExitError
	switch {
	case p.err == nil:
		return took, 0
	case errors.As(p.err, &exit):
		// unshare exits with its child's code (or dies by its signal: -1).
		return took, exit.ExitCode()
	default:
		p.t.Fatalf("waiting for unshare: %v", p.err)
		return took, -1
	}
}

// processesIn lists the host pids of the live processes in a PID namespace.
func processesIn(ns string) map[int]string {
	out := map[int]string{}
	for _, pid := range allPIDs() {
		if link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err == nil && link == ns {
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			out[pid] = strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return out
}

func allPIDs() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// stat returns the fields of /proc/PID/stat after the command name: state
// is [0], ppid [1], start time [19]; nil once the process is gone.
func stat(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
}

func ppidOf(pid int) int {
	f := stat(pid)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// nsPID is the pid a host process has in its own (innermost) namespace.
func nsPID(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(rest)
			n, _ := strconv.Atoi(f[len(f)-1])
			return n
		}
	}
	return 0
}

// zombieChildrenOf lists the zombie processes whose parent is ppid.
func zombieChildrenOf(ppid int) []int {
	var zombies []int
	for _, pid := range allPIDs() {
		if f := stat(pid); len(f) > 1 && f[0] == "Z" && f[1] == strconv.Itoa(ppid) {
			zombies = append(zombies, pid)
		}
	}
	return zombies
}

// TestPID1InRootFS boots the appliance as PID 1 in the root filesystem
// once, stops it with SIGTERM, and boots it again.
func TestPID1InRootFS(t *testing.T) {
	root := rootFS(t)
	const (
		godEmail    = "god@rootfs.test"
		godPassword = "correct horse battery staple"
	)
	var shares []string
	var totpSecret string

	p := boot(t, root)
	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, f) {
			t.FailNow() // each step stands on the one before
		}
	}

	step("boots, seals, serves", func(t *testing.T) {
		p.t = t
		p.waitReady()
		var res struct {
			Shares []struct{ Share string } `json:"shares"`
		}
		p.mustCall("POST", "/api/v1/sys/init", "", map[string]any{"shares": 3, "threshold": 2}, 200, &res)
		if len(res.Shares) != 3 {
			t.Fatalf("init gave %d shares, want 3", len(res.Shares))
		}
		for _, s := range res.Shares {
			shares = append(shares, s.Share)
			p.mustCall("POST", "/api/v1/sys/init/confirm", "", map[string]string{"share": s.Share}, 200, nil)
		}
		var god struct {
			TOTP struct{ Secret string } `json:"totp"`
		}
		p.mustCall("POST", "/api/v1/sys/setup/god", "", map[string]string{"email": godEmail, "name": "Creator", "password": godPassword}, 201, &god)
		totpSecret = god.TOTP.Secret
		token := p.login(godEmail, godPassword, totpSecret, time.Now())
		p.mustCall("POST", "/api/v1/companies", token, map[string]any{"company_name": "Rootfs Ltd", "tax_id": "P051234567Z"}, 201, nil)
		var ready appliance.Readiness
		if code, body := p.call("GET", "/readyz", "", nil, &ready); code != http.StatusOK || ready.Status != appliance.StatusReady {
			t.Fatalf("readyz %d %s", code, body)
		}
	})

	step("ctl status inside the namespace", func(t *testing.T) {
		p.t = t
		want := []struct{ name, state, reason string }{
			{"postgres", "healthy", ""},
			{"redis", "healthy", ""},
			{"mongodb", "healthy", ""},
			{"llama", "disabled", "no models in " + strings.TrimPrefix(p.data, p.root) + "/models"},
			{"pgadmin", "disabled", "not installed: pgAdmin 4 ships in the image only (Debian 12 has no package)"},
			{"mongo-express", "healthy", ""},
		}
		// Mongo Express is not critical: it may still be starting when
		// the critical services are healthy.
		var rep appliance.ServicesReport
		var problems []string
		for deadline := time.Now().Add(guard); ; {
			rep, problems = p.ctlStatus(), nil
			if len(rep.Services) != len(want) {
				problems = append(problems, fmt.Sprintf("%d services, want %d", len(rep.Services), len(want)))
			}
			for i, w := range want {
				if i >= len(rep.Services) {
					break
				}
				s := rep.Services[i]
				if s.Name != w.name || s.State != w.state || (w.reason != "" && s.Reason != w.reason) {
					problems = append(problems, fmt.Sprintf("service %d is %s %s (%q), want %s %s (%q)", i, s.Name, s.State, s.Reason, w.name, w.state, w.reason))
				}
				if s.State == "healthy" && s.PID == 0 {
					problems = append(problems, s.Name+" is healthy without a pid")
				}
			}
			if len(problems) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond) // polling a real condition, with a deadline
		}
		for _, pr := range problems {
			t.Error(pr)
		}
		if len(problems) > 0 {
			t.Logf("ctl status: %+v", rep.Services)
		}
	})

	step("PID 1 reaps a double-fork orphan", func(t *testing.T) {
		p.t = t
		// sh starts sleep and exits at once: sleep, its grandchild of
		// nsenter, is orphaned and re-parented to the namespace's PID 1.
		out, err := p.inside("/bin/sh", "-c", "sleep 600 </dev/null >/dev/null 2>&1 & echo $!").Output()
		if err != nil {
			t.Fatalf("orphan maker: %v", err)
		}
		inner, err := strconv.Atoi(strings.TrimSpace(string(out)))
		if err != nil {
			t.Fatalf("orphan maker printed %q", out)
		}
		orphan := 0
		for pid := range processesIn(p.pidNS) {
			if nsPID(pid) == inner {
				orphan = pid
			}
		}
		if orphan == 0 {
			t.Fatalf("no process %d in the namespace", inner)
		}
		f := stat(orphan)
		if f == nil {
			t.Fatalf("orphan %d gone before the test could end it", orphan)
		}
		started := f[19]
		if got := ppidOf(orphan); got != p.pid {
			t.Fatalf("orphan %d has parent %d, want PID 1 (host pid %d)", orphan, got, p.pid)
		}
		// Its exit makes it a zombie child of PID 1 until PID 1 reaps it.
		if err := syscall.Kill(orphan, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; {
			f := stat(orphan)
			if f == nil || f[19] != started {
				break // reaped (and perhaps the pid reused)
			}
			if time.Now().After(deadline) {
				t.Fatalf("orphan %d still in state %s 10s after it exited: PID 1 did not reap it", orphan, f[0])
			}
			time.Sleep(20 * time.Millisecond) // polling a real condition, with a deadline
		}
		for deadline := time.Now().Add(10 * time.Second); ; {
			z := zombieChildrenOf(p.pid)
			if len(z) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("zombie children of PID 1: %v", z)
			}
			time.Sleep(20 * time.Millisecond) // polling a real condition, with a deadline
		}
	})

	var pgLogFrom int64
	step("SIGTERM stops everything within the budget", func(t *testing.T) {
		p.t = t
		before := processesIn(p.pidNS)
		var running []string
		for _, s := range p.ctlStatus().Services {
			if s.State == "healthy" {
				running = append(running, s.Name)
			}
		}
		p.mu.Lock()
		from := len(p.lines)
		p.mu.Unlock()
		took, code := p.stop()
		t.Logf("SIGTERM to PID 1: exited %d after %s (%d processes in the namespace before)", code, took.Round(time.Millisecond), len(before))
		if code != 0 {
			t.Errorf("vanta init exited %d, want 0 (every service stopped within its grace)", code)
		}
		if took > p.budget {
			t.Errorf("shutdown took %s, over VANTA_STOP_TIMEOUT=%s", took, p.budget)
		}
		if left := processesIn(p.pidNS); len(left) > 0 {
			t.Errorf("processes of the namespace left: %v", left)
		}
		// The kernel kills whatever is left when PID 1 exits; so that
		// nothing was, every running service stopped on request before
		// it, PostgreSQL last.
		pg := p.stoppedAt("postgres", from)
		for _, name := range running {
			at := p.stoppedAt(name, from)
			switch {
			case at < 0:
				t.Errorf("%s was running and never logged its stop", name)
			case name != "postgres" && at > pg:
				t.Errorf("%s stopped after PostgreSQL", name)
			}
		}
		if fi, err := os.Stat(filepath.Join(p.data, "log", "postgres.log")); err == nil {
			pgLogFrom = fi.Size()
		}
	})

	step("reboot: no crash recovery, data kept", func(t *testing.T) {
		again := boot(t, root)
		again.waitReady()
		var ready appliance.Readiness
		if code, body := again.call("GET", "/readyz", "", nil, &ready); code != http.StatusServiceUnavailable || !strings.Contains(string(body), appliance.StatusSealed) {
			t.Errorf("readyz before unseal: %d %s", code, body)
		}
		for _, s := range shares[1:] {
			again.mustCall("POST", "/api/v1/sys/unseal", "", map[string]string{"share": s}, 200, nil)
		}
		if code, body := again.call("GET", "/readyz", "", nil, &ready); code != http.StatusOK || ready.Status != appliance.StatusReady {
			t.Errorf("readyz after unseal: %d %s", code, body)
		}
		// The next step's code: the first boot's login spent this one's.
		token := again.login(godEmail, godPassword, totpSecret, time.Now().Add(30*time.Second))
		if code, body := again.call("GET", "/api/v1/companies", token, nil, nil); code != http.StatusOK || !strings.Contains(string(body), "Rootfs Ltd") {
			t.Errorf("companies after reboot: %d %s", code, body)
		}

		b, err := os.ReadFile(filepath.Join(again.data, "log", "postgres.log"))
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(b)) >= pgLogFrom {
			b = b[pgLogFrom:] // this boot's part
		}
		pgLog := string(b)
		if !strings.Contains(pgLog, "database system was shut down at") {
			t.Errorf("this boot's PostgreSQL log lacks the clean-shutdown line:\n%s", pgLog)
		}
		for _, bad := range []string{"not properly shut down", "automatic recovery", "redo starts"} {
			if strings.Contains(pgLog, bad) {
				t.Errorf("this boot's PostgreSQL log says %q:\n%s", bad, pgLog)
			}
		}

		took, code := again.stop()
		t.Logf("second SIGTERM: exited %d after %s", code, took.Round(time.Millisecond))
		if code != 0 || took > again.budget {
			t.Errorf("second stop: exit %d after %s", code, took)
		}
	})
}

// login signs GOD in with the authenticator code of the time step at, and
// returns the access token.
func (p *pid1) login(email, password, totpSecret string, at time.Time) string {
	p.t.Helper()
	code, err := auth.TOTPCode(totpSecret, at)
	if err != nil {
		p.t.Fatal(err)
	}
	var tk struct {
		AccessToken string `json:"access_token"`
	}
	p.mustCall("POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": password, "totp": code}, 200, &tk)
	if tk.AccessToken == "" {
		p.t.Fatal("login gave no access token")
	}
	return tk.AccessToken
}
