package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// One reaper per test binary: two would steal each other's children.
var (
	testReaper *Reaper
	orphans    = make(chan int, 64)
)

func TestMain(m *testing.M) {
	r, err := NewReaper(func(pid int, _ ExitStatus) {
		select {
		case orphans <- pid:
		default:
		}
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testReaper = r
	go r.Run(context.Background())
	os.Exit(m.Run())
}

// guard bounds every wait in these tests; reaching it is a failure, never
// a way to synchronise.
const guard = 20 * time.Second

type harness struct {
	t      *testing.T
	sup    *Supervisor
	events <-chan Event
	seen   []Event
	runErr chan error
	cancel context.CancelFunc
	out    *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, logs LogConfig, progs ...Program) *harness {
	t.Helper()
	out := &syncBuffer{}
	sup, err := New(Config{Programs: progs, Reaper: testReaper, Output: out, Logs: logs})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	events, unsubscribe := sup.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, sup: sup, events: events, runErr: make(chan error, 1), cancel: cancel, out: out}
	go func() { h.runErr <- sup.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.runErr:
		case <-time.After(guard):
			t.Errorf("Run did not return after cancel")
		}
		unsubscribe()
	})
	return h
}

// stop cancels Run and returns its error.
func (h *harness) stop() error {
	h.cancel()
	select {
	case err := <-h.runErr:
		h.runErr <- err // for Cleanup
		return err
	case <-time.After(guard):
		h.t.Fatalf("Run did not return")
		return nil
	}
}

// waitFor reads events until the named program enters state.
func (h *harness) waitFor(name string, state State) Status {
	h.t.Helper()
	deadline := time.After(guard)
	for {
		for _, st := range h.sup.Status() {
			if st.Name == name && st.State == state {
				return st
			}
		}
		select {
		case ev := <-h.events:
			h.seen = append(h.seen, ev)
		case <-deadline:
			h.t.Fatalf("%s never reached %s; status %+v", name, state, h.status(name))
		}
	}
}

// drain collects the events already delivered.
func (h *harness) drain() []Event {
	for {
		select {
		case ev := <-h.events:
			h.seen = append(h.seen, ev)
		default:
			return h.seen
		}
	}
}

func (h *harness) status(name string) Status {
	for _, st := range h.sup.Status() {
		if st.Name == name {
			return st
		}
	}
	h.t.Fatalf("no program %s", name)
	return Status{}
}

func fast(b Backoff) Backoff {
	if b.Initial == 0 {
		b.Initial = 5 * time.Millisecond
	}
	if b.Max == 0 {
		b.Max = 20 * time.Millisecond
	}
	return b
}

func TestConfigValidation(t *testing.T) {
	ok := func(name string, deps ...string) Program {
		return Program{Name: name, Command: "sleep", Args: []string{"1"}, DependsOn: deps}
	}
	tests := []struct {
		name    string
		progs   []Program
		program string // named in the error
		field   string
	}{
		{"cycle", []Program{ok("a", "c"), ok("b", "a"), ok("c", "b")}, "a", "depends_on"},
		{"unknown dependency", []Program{ok("a", "ghost")}, "a", "depends_on"},
		{"self dependency", []Program{ok("a", "a")}, "a", "depends_on"},
		{"missing binary", []Program{{Name: "a", Command: "/nonexistent/vanta-test-binary"}}, "a", "command"},
		{"missing command", []Program{{Name: "a"}}, "a", "command"},
		{"duplicate name", []Program{ok("a"), ok("a")}, "a", "name"},
		{"bad name", []Program{ok("has space")}, "has space", "name"},
		{"negative grace", []Program{{Name: "a", Command: "sleep", StopGrace: -time.Second}}, "a", "stop_grace"},
		{"max below initial", []Program{{Name: "a", Command: "sleep", Backoff: Backoff{Initial: time.Second, Max: time.Millisecond}}}, "a", "backoff.max"},
		{"timeout above interval", []Program{{Name: "a", Command: "sleep", Health: &HealthCheck{TCP: "127.0.0.1:1", Interval: time.Second, Timeout: 2 * time.Second}}}, "a", "health.timeout"},
		{"two check kinds", []Program{{Name: "a", Command: "sleep", Health: &HealthCheck{TCP: "127.0.0.1:1", HTTP: "http://127.0.0.1:1/"}}}, "a", "health"},
		{"missing check binary", []Program{{Name: "a", Command: "sleep", Health: &HealthCheck{Exec: []string{"/nonexistent/probe"}}}}, "a", "health.exec"},
		{"bad restart", []Program{{Name: "a", Command: "sleep", Restart: "sometimes"}}, "a", "restart"},
		{"unknown user", []Program{{Name: "a", Command: "sleep", User: "vanta-no-such-user"}}, "a", "user"},
		{"stop order cycle", []Program{ok("db"), {Name: "app", Command: "sleep", DependsOn: []string{"db"}, StopAfter: []string{"db"}}}, "", "stop_after"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Config{Programs: tc.progs, Reaper: testReaper, Output: io.Discard})
			if err == nil {
				t.Fatal("New accepted an invalid config")
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *ConfigError", err)
			}
			if (tc.program != "" && ce.Program != tc.program) || ce.Field != tc.field {
				t.Errorf("error names program %q field %q, want %q %q (%v)", ce.Program, ce.Field, tc.program, tc.field, err)
			}
		})
	}
}

func TestDisabledProgramNeedsNoBinary(t *testing.T) {
	h := start(t, LogConfig{},
		Program{Name: "llama", Command: "/nonexistent/llama-server", Disabled: "not installed"},
		Program{Name: "ui", Command: "sleep", Args: []string{"60"}, DependsOn: []string{"llama"}},
	)
	st := h.waitFor("llama", StateDisabled)
	if st.Reason != "not installed" {
		t.Errorf("reason %q", st.Reason)
	}
	h.waitFor("ui", StateStopped)
	deadline := time.After(guard)
	for !strings.Contains(h.status("ui").Reason, "dependency llama is disabled: not installed") {
		select {
		case <-h.events:
		case <-deadline:
			t.Fatalf("ui reason %q", h.status("ui").Reason)
		}
	}
}

func TestStartsInDependencyOrder(t *testing.T) {
	var dbUp atomic.Bool
	dbHealth := &HealthCheck{Func: func(context.Context) error {
		if !dbUp.Load() {
			return errors.New("not yet")
		}
		return nil
	}, StartInterval: time.Millisecond, StartPeriod: time.Hour}
	h := start(t, LogConfig{},
		Program{Name: "app", Command: "sleep", Args: []string{"60"}, DependsOn: []string{"db"}, MinUptime: time.Millisecond},
		Program{Name: "db", Command: "sleep", Args: []string{"60"}, Health: dbHealth},
	)
	h.waitFor("db", StateStarting)
	if st := h.status("app"); st.PID != 0 || !strings.Contains(st.Reason, "waiting for dependency db") {
		t.Fatalf("app started before db was healthy: %+v", st)
	}
	dbUp.Store(true)
	h.waitFor("app", StateHealthy)
	var dbHealthyAt, appStartAt int = -1, -1
	for i, ev := range h.drain() {
		if ev.Program == "db" && ev.To == StateHealthy && dbHealthyAt < 0 {
			dbHealthyAt = i
		}
		if ev.Program == "app" && ev.To == StateStarting && appStartAt < 0 {
			appStartAt = i
		}
	}
	if dbHealthyAt < 0 || appStartAt < dbHealthyAt {
		t.Errorf("app started at event %d, db healthy at %d", appStartAt, dbHealthyAt)
	}
}

func TestCrashingProgramGoesFatalAndDependentNeverStarts(t *testing.T) {
	h := start(t, LogConfig{},
		Program{Name: "broken", Command: "sh", Args: []string{"-c", "echo boom >&2; exit 3"}, Backoff: fast(Backoff{Retries: 3})},
		Program{Name: "after", Command: "sleep", Args: []string{"60"}, DependsOn: []string{"broken"}},
	)
	st := h.waitFor("broken", StateFatal)
	if !strings.Contains(st.Reason, "4 failed starts in a row; last: exited with exit status 3") {
		t.Errorf("fatal reason %q", st.Reason)
	}
	if st.Restarts != 3 || st.LastExit == nil || st.LastExit.Code != 3 {
		t.Errorf("restarts %d, last exit %v", st.Restarts, st.LastExit)
	}
	backoffs := 0
	for _, ev := range h.drain() {
		if ev.Program == "broken" && ev.To == StateBackoff {
			backoffs++
		}
		if ev.Program == "after" && ev.To == StateStarting {
			t.Errorf("dependent started: %+v", ev)
		}
	}
	if backoffs != 3 {
		t.Errorf("%d backoffs, want 3", backoffs)
	}
	deadline := time.After(guard)
	for !strings.Contains(h.status("after").Reason, "dependency broken is fatal") {
		select {
		case <-h.events:
		case <-deadline:
			t.Fatalf("after's reason %q", h.status("after").Reason)
		}
	}
	if err := h.stop(); err != nil {
		t.Errorf("non-critical fatal made Run fail: %v", err)
	}
	if !strings.Contains(h.out.String(), `"line":"boom"`) {
		t.Errorf("stderr not in JSON output:\n%s", h.out.String())
	}
}

func TestCriticalFatalStopsEverything(t *testing.T) {
	h := start(t, LogConfig{},
		Program{Name: "core", Command: "false", Critical: true, Backoff: fast(Backoff{Retries: 1})},
		Program{Name: "side", Command: "sleep", Args: []string{"60"}, MinUptime: time.Millisecond},
	)
	var err error
	select {
	case err = <-h.runErr:
		h.runErr <- err
	case <-time.After(guard):
		t.Fatal("Run kept going after a critical program was fatal")
	}
	var fe *FatalError
	if !errors.As(err, &fe) || fe.Program != "core" {
		t.Fatalf("Run returned %v, want *FatalError for core", err)
	}
	if st := h.status("side"); st.State != StateStopped || st.PID != 0 {
		t.Errorf("side left %+v", st)
	}
}

func TestIgnoredTermIsKilledAfterGrace(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready")
	h := start(t, LogConfig{},
		Program{
			Name: "stubborn", Command: "sh",
			Args:       []string{"-c", `trap "" TERM; touch "$0"; while :; do sleep 1; done`, ready},
			Health:     &HealthCheck{Exec: []string{"test", "-e", ready}, StartInterval: 5 * time.Millisecond, Interval: time.Second, Timeout: time.Second, StartPeriod: time.Hour},
			StopGrace:  300 * time.Millisecond,
			StopSignal: syscall.SIGTERM,
		},
	)
	st := h.waitFor("stubborn", StateHealthy)
	pid := st.PID
	begin := time.Now()
	var stopErr *StopError
	if err := h.stop(); !errors.As(err, &stopErr) || stopErr.Killed[0] != "stubborn" {
		t.Fatalf("Run returned %v, want a StopError naming stubborn", err)
	}
	if took := time.Since(begin); took < 300*time.Millisecond {
		t.Errorf("stopped after %s, before its grace period", took)
	}
	last := h.status("stubborn").LastExit
	if last == nil || last.Signal != syscall.SIGKILL {
		t.Errorf("last exit %v, want SIGKILL", last)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); !os.IsNotExist(err) {
		t.Errorf("process %d still in /proc: %v", pid, err)
	}
}

func TestOrphanOfDoubleForkIsReaped(t *testing.T) {
	// The subshell forks a sleeper and exits at once, so the sleeper is
	// re-parented to us, the subreaper, and must be reaped when it ends.
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "orphan.pid")
	h := start(t, LogConfig{},
		Program{Name: "forker", Command: "sh", Args: []string{"-c", `(sleep 0.2 & echo $! > "$0.tmp"; mv "$0.tmp" "$0"); exec sleep 60`, pidFile},
			Health: &HealthCheck{Exec: []string{"test", "-e", pidFile}, StartInterval: 5 * time.Millisecond, Interval: time.Second, Timeout: time.Second, StartPeriod: time.Hour}},
	)
	h.waitFor("forker", StateHealthy)
	want, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("orphan pid file: %v", err)
	}
	deadline := time.After(guard)
	for {
		select {
		case pid := <-orphans:
			if strings.TrimSpace(string(want)) != fmt.Sprint(pid) {
				continue // some other test's straggler
			}
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); !os.IsNotExist(err) {
				t.Errorf("orphan %d still in /proc after reaping", pid)
			}
			return
		case <-deadline:
			t.Fatal("orphan never reaped")
		}
	}
}

func TestKilledProgramIsRestarted(t *testing.T) {
	h := start(t, LogConfig{},
		Program{Name: "svc", Command: "sleep", Args: []string{"60"}, MinUptime: time.Millisecond, Backoff: fast(Backoff{})},
	)
	first := h.waitFor("svc", StateHealthy)
	if err := syscall.Kill(first.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.waitFor("svc", StateBackoff)
	second := h.waitFor("svc", StateHealthy)
	if second.Restarts != 1 || second.PID == first.PID {
		t.Errorf("after kill: restarts %d, pid %d (was %d)", second.Restarts, second.PID, first.PID)
	}
	if second.LastExit == nil || second.LastExit.Signal != syscall.SIGKILL {
		t.Errorf("last exit %v", second.LastExit)
	}
}

func TestManualRestart(t *testing.T) {
	h := start(t, LogConfig{},
		Program{Name: "svc", Command: "sleep", Args: []string{"60"}, MinUptime: time.Millisecond},
	)
	first := h.waitFor("svc", StateHealthy)
	if err := h.sup.Restart("svc"); err != nil {
		t.Fatal(err)
	}
	h.waitFor("svc", StateStopping)
	second := h.waitFor("svc", StateHealthy)
	if second.PID == first.PID || second.Restarts != 1 {
		t.Errorf("restart: pid %d→%d, restarts %d", first.PID, second.PID, second.Restarts)
	}
	if err := h.sup.Restart("nope"); err == nil {
		t.Error("restart of an unknown program succeeded")
	}
}

func TestStopsInReverseOrder(t *testing.T) {
	h := start(t, LogConfig{},
		Program{Name: "db", Command: "sleep", Args: []string{"60"}, MinUptime: time.Millisecond},
		Program{Name: "cache", Command: "sleep", Args: []string{"60"}, MinUptime: time.Millisecond, StopAfter: []string{"web"}},
		Program{Name: "web", Command: "sleep", Args: []string{"60"}, MinUptime: time.Millisecond, DependsOn: []string{"db"}},
	)
	h.waitFor("web", StateHealthy)
	h.waitFor("cache", StateHealthy)
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	stoppedAt := map[string]int{}
	stoppingAt := map[string]int{}
	for i, ev := range h.drain() {
		switch ev.To {
		case StateStopped:
			stoppedAt[ev.Program] = i
		case StateStopping:
			stoppingAt[ev.Program] = i
		}
	}
	if !(stoppedAt["web"] < stoppingAt["db"]) {
		t.Errorf("db began stopping (event %d) before web stopped (event %d)", stoppingAt["db"], stoppedAt["web"])
	}
	if !(stoppedAt["web"] < stoppingAt["cache"]) {
		t.Errorf("cache (StopAfter web) began stopping at %d, web stopped at %d", stoppingAt["cache"], stoppedAt["web"])
	}
}

func TestHealthTransitions(t *testing.T) {
	var failing atomic.Bool
	probe := make(chan struct{}, 1000)
	h := start(t, LogConfig{},
		Program{Name: "svc", Command: "sleep", Args: []string{"60"}, Health: &HealthCheck{
			Func: func(context.Context) error {
				probe <- struct{}{}
				if failing.Load() {
					return errors.New("probe says no")
				}
				return nil
			},
			Interval: time.Millisecond, StartInterval: time.Millisecond, Timeout: time.Millisecond, FailureThreshold: 2,
		}},
	)
	h.waitFor("svc", StateHealthy)
	failing.Store(true)
	st := h.waitFor("svc", StateUnhealthy)
	if st.Reason != "health check: probe says no" {
		t.Errorf("reason %q", st.Reason)
	}
	failing.Store(false)
	if st := h.waitFor("svc", StateHealthy); st.Restarts != 0 {
		t.Errorf("unhealthy spell restarted the program: %+v", st)
	}
}

func TestStartBudgetExceeded(t *testing.T) {
	h := start(t, LogConfig{},
		Program{Name: "slow", Command: "sleep", Args: []string{"60"}, Backoff: fast(Backoff{Retries: 1}), Health: &HealthCheck{
			Func:     func(context.Context) error { return errors.New("still loading") },
			Interval: time.Millisecond, StartInterval: time.Millisecond, Timeout: time.Millisecond,
			StartPeriod: 20 * time.Millisecond, FailureThreshold: 2,
		}},
	)
	st := h.waitFor("slow", StateFatal)
	if !strings.Contains(st.Reason, "not healthy within its start budget (20ms): still loading") {
		t.Errorf("reason %q", st.Reason)
	}
}

func TestRestartPolicies(t *testing.T) {
	tests := []struct {
		policy RestartPolicy
		script string
		want   State
	}{
		{RestartNever, "exit 0", StateExited},
		{RestartNever, "exit 1", StateExited},
		{RestartOnFailure, "exit 0", StateExited},
		{RestartOnFailure, "exit 1", StateFatal},
		{RestartAlways, "exit 0", StateFatal},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%s", tc.policy, tc.script), func(t *testing.T) {
			h := start(t, LogConfig{},
				Program{Name: "job", Command: "sh", Args: []string{"-c", tc.script}, Restart: tc.policy, Backoff: fast(Backoff{Retries: 1})},
			)
			h.waitFor("job", tc.want)
		})
	}
}

func TestLogsTailFileAndRotation(t *testing.T) {
	dir := t.TempDir()
	h := start(t, LogConfig{Dir: dir, MaxBytes: 400, MaxFiles: 2, TailLines: 5},
		Program{Name: "talker", Command: "sh", Args: []string{"-c", `for i in $(seq 1 40); do echo "line $i"; done; exec sleep 60`}, MinUptime: time.Millisecond},
	)
	h.waitFor("talker", StateHealthy)
	recent, lines, stopFollow, err := h.sup.Follow("talker", 5)
	if err != nil {
		t.Fatal(err)
	}
	defer stopFollow()
	// Output is asynchronous to the state: follow until line 40 is in.
	deadline := time.After(guard)
	for len(recent) == 0 || recent[len(recent)-1].Line != "line 40" {
		select {
		case l := <-lines:
			recent = append(recent, l)
		case <-deadline:
			t.Fatalf("never saw line 40: %+v", recent)
		}
	}
	tail, _ := h.sup.Logs("talker", 3)
	if len(tail) != 3 || tail[0].Line != "line 38" || tail[2].Line != "line 40" || tail[0].Stream != "stdout" {
		t.Errorf("tail %+v", tail)
	}
	if _, err := os.Stat(filepath.Join(dir, "talker.log.1")); err != nil {
		t.Errorf("no rotated file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "talker.log.3")); !os.IsNotExist(err) {
		t.Errorf("kept more than MaxFiles rotations: %v", err)
	}
	for _, name := range []string{"talker.log", "talker.log.1", "talker.log.2"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err == nil && st.Size() > 400+100 {
			t.Errorf("%s is %d bytes, past MaxBytes", name, st.Size())
		}
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"A=1", "B=2"}, []string{"B=3", "C=4"})
	if strings.Join(got, ",") != "A=1,B=3,C=4" {
		t.Errorf("mergeEnv = %v", got)
	}
}

func TestReloadSignalsOnlyProgramsThatAskForIt(t *testing.T) {
	// Healthy only once the trap is set: a HUP sent before that would end
	// the shell by the signal itself.
	ready := filepath.Join(t.TempDir(), "trapped")
	h := start(t, LogConfig{},
		Program{Name: "reloader", Command: "sh", Args: []string{"-c", `trap "exit 42" HUP; touch "$0"; while :; do sleep 60 & wait; done`, ready},
			ReloadSignal: syscall.SIGHUP, Restart: RestartNever, MinUptime: time.Millisecond,
			Health: &HealthCheck{Exec: []string{"test", "-f", ready}, StartInterval: 10 * time.Millisecond}},
		Program{Name: "plain", Command: "sleep", Args: []string{"60"}, MinUptime: time.Millisecond},
	)
	h.waitFor("reloader", StateHealthy)
	plain := h.waitFor("plain", StateHealthy)
	if sent := h.sup.Reload(); len(sent) != 1 || sent[0] != "reloader" {
		t.Fatalf("Reload signalled %v", sent)
	}
	st := h.waitFor("reloader", StateExited)
	if st.LastExit == nil || st.LastExit.Code != 42 {
		t.Errorf("reloader's exit %v, want 42 from its HUP trap", st.LastExit)
	}
	if now := h.status("plain"); now.State != StateHealthy || now.PID != plain.PID {
		t.Errorf("plain was disturbed: %+v", now)
	}
}

func TestKillSkipsGrace(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready")
	h := start(t, LogConfig{},
		Program{Name: "stubborn", Command: "sh", Args: []string{"-c", `trap "" TERM; touch "$0"; while :; do sleep 60 & wait; done`, ready},
			Health:    &HealthCheck{Exec: []string{"test", "-e", ready}, StartInterval: 5 * time.Millisecond, Interval: time.Second, Timeout: time.Second, StartPeriod: time.Hour},
			StopGrace: time.Hour},
	)
	h.waitFor("stubborn", StateHealthy)
	h.cancel()
	h.waitFor("stubborn", StateStopping)
	h.sup.Kill()
	var stopErr *StopError
	if err := h.stop(); !errors.As(err, &stopErr) || len(stopErr.Killed) != 1 {
		t.Fatalf("Run returned %v, want a StopError naming stubborn", err)
	}
	if last := h.status("stubborn").LastExit; last == nil || last.Signal != syscall.SIGKILL {
		t.Errorf("last exit %v", last)
	}
}

func TestNetworkHealthChecks(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "svc.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	var up atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "loading model", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	defer srv.Close()
	check := func(hc HealthCheck) *HealthCheck {
		hc.StartInterval, hc.Interval, hc.Timeout, hc.StartPeriod = time.Millisecond, time.Second, time.Second, time.Hour
		return &hc
	}
	h := start(t, LogConfig{},
		Program{Name: "tcp", Command: "sleep", Args: []string{"60"}, Health: check(HealthCheck{TCP: sock})},
		Program{Name: "http", Command: "sleep", Args: []string{"60"}, Health: check(HealthCheck{HTTP: srv.URL + "/health"})},
	)
	h.waitFor("tcp", StateHealthy)
	h.waitFor("http", StateStarting)
	deadline := time.After(guard)
	for !strings.Contains(h.status("http").Reason, "503 Service Unavailable") {
		select {
		case <-h.events:
		case <-deadline:
			t.Fatalf("http reason %q", h.status("http").Reason)
		}
	}
	up.Store(true)
	h.waitFor("http", StateHealthy)
}
