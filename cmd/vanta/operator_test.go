package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// ctlService reports one service through `vanta ctl status --json`, which
// needs no token once a GOD exists (the control socket is root's alone).
func ctlService(t *testing.T, data, name string) appliance.ServiceReport {
	t.Helper()
	out, err := exec.Command(vantaBin, "ctl", "status", "--json", "--data", data).Output()
	if err != nil {
		t.Fatalf("ctl status --json: %v", err)
	}
	var rep appliance.ServicesReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("ctl status --json: %v\n%s", err, out)
	}
	for _, s := range rep.Services {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no service %s in %s", name, out)
	return appliance.ServiceReport{}
}

// TestRedisReplaysTransactionsAfterKill kills Redis after a company's
// user wrote inside MULTI/EXEC and the appliance's user ran a Lua script
// (whose effects the AOF records as MULTI/EXEC too): the restarted Redis
// must replay both, not refuse them with NOPERM and lose the writes.
func TestRedisReplaysTransactionsAfterKill(t *testing.T) {
	w := newWorld(t)
	in := w.in
	ctx := context.Background()
	admin := redisClient(t, w.data)

	// Connect as company A's own ACL user, with its rules as tenancy
	// provisioning made them; only a password of ours is added.
	scope := tenancy.NewScopeForTest(uuid.MustParse(w.a.ID))
	if err := admin.Do(ctx, "ACL", "SETUSER", scope.RedisUser(), ">test-only-password").Err(); err != nil {
		t.Fatal(err)
	}
	company := redis.NewClient(&redis.Options{Network: "unix", Addr: filepath.Join(w.data, "run", "redis", "redis.sock"),
		Username: scope.RedisUser(), Password: "test-only-password", MaxRetries: -1})
	t.Cleanup(func() { company.Close() })
	prefix := scope.RedisPrefix()
	if _, err := company.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, prefix+"replay", "kept", 0)
		p.IncrBy(ctx, prefix+"counter", 7)
		return nil
	}); err != nil {
		t.Fatalf("company MULTI/EXEC: %v", err)
	}
	if err := admin.Eval(ctx, "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('INCR', KEYS[2])", []string{"probe:script", "probe:script-n"}, "ran").Err(); err != nil {
		t.Fatalf("script: %v", err)
	}

	before := ctlService(t, w.data, "redis")
	if err := syscall.Kill(before.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	in.waitLine("redis healthy again", func(l map[string]any) bool {
		return stateLine("redis", "healthy")(l) && l["from"] == "starting"
	})

	admin = redisClient(t, w.data)
	for key, want := range map[string]string{prefix + "replay": "kept", prefix + "counter": "7", "probe:script": "ran", "probe:script-n": "1"} {
		if got, err := admin.Get(ctx, key).Result(); err != nil || got != want {
			t.Errorf("%s after kill -9: %q, %v; want %q", key, got, err, want)
		}
	}
	in.mu.Lock()
	for _, l := range in.lines {
		if line, _ := l["line"].(string); l["program"] == "redis" && (strings.Contains(line, "NOPERM") || strings.Contains(line, "CRITICAL")) {
			t.Errorf("redis logged: %s", line)
		}
	}
	in.mu.Unlock()

	// Allowing the default user everything must not let anyone use it:
	// it is off and has no password.
	anon := redis.NewClient(&redis.Options{Network: "unix", Addr: filepath.Join(w.data, "run", "redis", "redis.sock"), MaxRetries: -1})
	t.Cleanup(func() { anon.Close() })
	if err := anon.Get(ctx, prefix+"replay").Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("unauthenticated GET: %v", err)
	}
	asDefault := redis.NewClient(&redis.Options{Network: "unix", Addr: filepath.Join(w.data, "run", "redis", "redis.sock"), Username: "default", Password: "", MaxRetries: -1})
	t.Cleanup(func() { asDefault.Close() })
	if err := asDefault.Do(ctx, "AUTH", "default", "").Err(); err == nil {
		t.Error("AUTH as the default user succeeded")
	}
}

// vanta runs the binary and returns its stdout, stderr and exit code.
func vanta(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(vantaBin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("vanta %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// ctlSealState is `vanta ctl status --json`'s seal.
func ctlSealState(t *testing.T, data string) (state string, progress, threshold int) {
	t.Helper()
	out, stderr, code := vanta(t, "ctl", "status", "--json", "--data", data)
	var rep struct {
		Services []appliance.ServiceReport `json:"services"`
		Seal     struct {
			State     string `json:"state"`
			Progress  int    `json:"progress"`
			Threshold int    `json:"threshold"`
			Sealed    *bool  `json:"sealed"`
		} `json:"seal"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Services) == 0 || rep.Seal.Sealed == nil {
		t.Fatalf("ctl status --json: exit %d %s\n%s", code, stderr, out)
	}
	return rep.Seal.State, rep.Seal.Progress, rep.Seal.Threshold
}

// TestCtlStatusShowsTheSealAndOperatorSealsOverTheSocket: the operator on
// the box sees the seal in `ctl status`, HEALTHCHECK's --check fails while
// sealed, and `operator seal` works without GOD's token through the 0600
// control socket, audited as the operator.
func TestCtlStatusShowsTheSealAndOperatorSealsOverTheSocket(t *testing.T) {
	data := dataDir(t)
	in := boot(t, data)
	in.waitReady()

	if state, _, _ := ctlSealState(t, data); state != "uninitialized" {
		t.Errorf("fresh appliance: seal %q", state)
	}
	if _, stderr, code := vanta(t, "ctl", "status", "--check", "--data", data); code != exitFailure || !strings.Contains(stderr, "uninitialized") {
		t.Errorf("--check uninitialized: exit %d %q", code, stderr)
	}
	if _, stderr, code := vanta(t, "operator", "seal", "--data", data); code == 0 || !strings.Contains(stderr, "not initialized") {
		t.Errorf("operator seal before init: exit %d %q", code, stderr)
	}

	shares := in.initSeal(3, 2)
	// The ceremony ends unsealed: its last confirmation rebuilt the secret.
	if state, _, threshold := ctlSealState(t, data); state != "unsealed" || threshold != 2 {
		t.Errorf("after init: %s, threshold %d", state, threshold)
	}
	if _, stderr, code := vanta(t, "ctl", "status", "--check", "--data", data); code != 0 {
		t.Errorf("--check after the ceremony: exit %d %q", code, stderr)
	}
	// The operator on the box seals it through the socket.
	if out, stderr, code := vanta(t, "operator", "seal", "--data", data); code != 0 {
		t.Fatalf("operator seal before a GOD exists: exit %d %s %s", code, out, stderr)
	}
	if state, progress, threshold := ctlSealState(t, data); state != "sealed" || progress != 0 || threshold != 2 {
		t.Errorf("after operator seal: %s %d/%d", state, progress, threshold)
	}
	in.unseal(shares[:1])
	if out, _, code := vanta(t, "ctl", "status", "--data", data); code != 0 || !strings.Contains(out, "Seal: sealed (1/2 shares entered") || !strings.Contains(out, "postgres") {
		t.Errorf("ctl status while unsealing: exit %d\n%s", code, out)
	}
	if _, stderr, code := vanta(t, "ctl", "status", "--check", "--data", data); code != exitFailure || !strings.Contains(stderr, "sealed (1/2") {
		t.Errorf("--check while sealed: exit %d %q", code, stderr)
	}
	// The image's HEALTHCHECK looks at services only.
	if _, stderr, code := vanta(t, "ctl", "status", "--check", "--allow-sealed", "--data", data); code != 0 {
		t.Errorf("--check --allow-sealed while sealed: exit %d %q", code, stderr)
	}
	in.unseal(shares[1:2])
	if state, _, _ := ctlSealState(t, data); state != "unsealed" {
		t.Errorf("after unseal: %s", state)
	}
	if _, stderr, code := vanta(t, "ctl", "status", "--check", "--data", data); code != 0 {
		t.Errorf("--check unsealed and healthy: exit %d %q", code, stderr)
	}

	// Once a GOD exists the API's seal route wants GOD's token; the socket
	// does not.
	in.mustCall("POST", "/api/v1/sys/setup/god", "", map[string]string{"email": "god@vanta.test", "name": "Creator", "password": "correct horse battery staple"}, 201, nil)
	if code, body := in.call("POST", "/api/v1/sys/seal", "", nil); code != 401 {
		t.Errorf("API seal without a token: %d %s", code, body)
	}
	out, stderr, code := vanta(t, "operator", "seal", "--data", data)
	if code != 0 || !strings.Contains(out, "State:       sealed") {
		t.Fatalf("operator seal: exit %d %s %s", code, out, stderr)
	}
	if state, _, _ := ctlSealState(t, data); state != "sealed" || !in.sealStatus().Sealed {
		t.Errorf("after operator seal: ctl says %s, seal-status %+v", state, in.sealStatus())
	}
	var actor, role string
	if err := pgConnect(t, data).QueryRow(context.Background(),
		"SELECT actor, role FROM audit.records WHERE chain = 'system' AND action = 'seal.sealed' ORDER BY seq DESC LIMIT 1").Scan(&actor, &role); err != nil {
		t.Fatal(err)
	}
	if actor != appliance.ControlSocketActor || role != "operator" {
		t.Errorf("seal audited as %q/%q", actor, role)
	}
}

// TestOperatorHelpListsOnlyItsFlags: each subcommand's -h names its own
// flags, a flag of another subcommand is refused, and the API's field
// names come back as the flags that set them.
func TestOperatorHelpListsOnlyItsFlags(t *testing.T) {
	for _, tc := range []struct {
		sub       []string
		want, not []string
	}{
		{[]string{"init"}, []string{"-shares", "-threshold", "-custodian", "-reissue", "-addr"}, []string{"-reset"}},
		{[]string{"unseal"}, []string{"-reset", "-addr"}, []string{"-shares", "-reissue", "-custodian"}},
		{[]string{"seal"}, []string{"-data"}, []string{"-addr", "-shares", "-reset"}},
		{[]string{"rekey", "start"}, []string{"-shares", "-custodian"}, []string{"-reissue", "-reset"}},
		{[]string{"seal-status"}, []string{"-addr", "-json"}, []string{"-shares", "-reset"}},
	} {
		_, stderr, code := vanta(t, append(append([]string{"operator"}, tc.sub...), "-h")...)
		if code != 0 {
			t.Errorf("%v -h: exit %d", tc.sub, code)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, "  "+w+" ") && !strings.Contains(stderr, "  "+w+"\n") {
				t.Errorf("%v -h lacks %s:\n%s", tc.sub, w, stderr)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(stderr, "  "+n) {
				t.Errorf("%v -h lists %s:\n%s", tc.sub, n, stderr)
			}
		}
	}
	if _, stderr, code := vanta(t, "operator", "confirm", "--shares", "3"); code != exitUsage || !strings.Contains(stderr, "-shares") {
		t.Errorf("confirm --shares: exit %d %q", code, stderr)
	}
	for field, want := range map[string]string{
		"threshold": "--threshold", "shares": "--shares", "custodians": "--custodian",
		"custodians[2].name": "--custodian (the 3rd)", "custodians[0].age_recipient": "--custodian (the 1st)", "share": "the share on standard input",
	} {
		e := &apiCallError{Status: 400, Code: "validation_failed", Message: "bad", Field: field, Flag: flagOfField(field)}
		if got := e.Error(); !strings.HasPrefix(got, want+": bad") || strings.Contains(got, "field") {
			t.Errorf("field %s: %q, want it to name %s", field, got, want)
		}
	}
}

// TestIdleDocDBLogsNoDeadlineNoise: the embedded document store, idle
// under its health checks and with clients that connect and hang up (as
// probes and pools do), must not log FerretDB's "Failed to set deadline
// … use of closed network connection" on each disconnect.
func TestIdleDocDBLogsNoDeadlineNoise(t *testing.T) {
	data := dataDir(t)
	in := boot(t, data)
	in.waitReady()
	sock := filepath.Join(data, "run", "mongodb", "mongodb.sock")
	// Each disconnect ran the race that logs it about half the time.
	for i := 0; i < 40; i++ {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		conn.Close()
	}
	// Idle through three health-check intervals (5s each once healthy):
	// the time passing is what is tested, not a wait for something.
	select {
	case <-time.After(3 * 5 * time.Second):
	case <-in.exited:
		t.Fatalf("vanta init exited: %v", in.err)
	}
	if err := mongoClient(t, data).Ping(context.Background(), nil); err != nil {
		t.Fatalf("docdb after idling: %v", err)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	seen := 0
	for _, l := range in.lines {
		if l["program"] != "mongodb" {
			continue
		}
		seen++
		if line, _ := l["line"].(string); strings.Contains(line, "Failed to set deadline") {
			t.Errorf("docdb logged: %s", line)
		}
	}
	t.Logf("%d docdb log lines", seen)
}

// TestListenFlagOutOfRange: a port past 65535 given as a flag is refused
// as usage, naming the flag, before the data directory exists (it used to
// pass validation, provision everything and exit 1 at net.Listen).
func TestListenFlagOutOfRange(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cmd := exec.Command(vantaBin, "init", "--data", data, "--listen", ":99999")
	cmd.Env = append(os.Environ(), "VANTA_CONFIG=/dev/null")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitUsage || !strings.Contains(string(out), "--listen") || !strings.Contains(string(out), ":99999") {
		t.Errorf("exit %v, output %s; want exit %d naming --listen", err, out, exitUsage)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("data directory made: %v", err)
	}
}
