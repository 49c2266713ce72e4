package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// State is where a program is in its life cycle.
type State string

// Program states, as reported in Status and Event.
const (
	StateStopped   State = "stopped"   // not running, not yet started or stopped on request
	StateStarting  State = "starting"  // running, not yet healthy
	StateHealthy   State = "healthy"   // running and passing its health check
	StateUnhealthy State = "unhealthy" // running, was healthy, now failing its check
	StateBackoff   State = "backoff"   // waiting to be restarted
	StateStopping  State = "stopping"  // asked to stop, not yet gone
	StateExited    State = "exited"    // ended and its restart policy says not to restart
	StateFatal     State = "fatal"     // failed to start too often; given up
	StateDisabled  State = "disabled"  // never run; Reason says why
)

// Status is a snapshot of one program.
type Status struct {
	Name      string
	State     State
	Reason    string
	Critical  bool
	PID       int       // 0 when not running
	StartedAt time.Time // zero when not running
	Since     time.Time // when State last changed
	Restarts  int
	LastExit  *ExitStatus
}

// Event is one state transition.
type Event struct {
	Time    time.Time
	Program string
	From    State
	To      State
	Reason  string
}

// FatalError is returned by Run when a critical program gave up.
type FatalError struct {
	Program string
	Reason  string
}

func (e *FatalError) Error() string {
	return fmt.Sprintf("critical program %s is fatal: %s", e.Program, e.Reason)
}

// StopError is returned by Run when some programs did not stop within their
// grace period, or were forced by Kill, and so were killed.
type StopError struct {
	Killed []string
}

func (e *StopError) Error() string {
	return fmt.Sprintf("killed after their grace period: %s", strings.Join(e.Killed, ", "))
}

// Config is what New needs.
type Config struct {
	Programs []Program
	Reaper   *Reaper      // required: every child is started through it
	Output   io.Writer    // JSON lines of program output and events; default os.Stdout
	Logs     LogConfig    // per-program files and in-memory tails
	Logger   *slog.Logger // events; default JSON onto Output
}

// Supervisor runs a validated set of programs.
type Supervisor struct {
	reaper *Reaper
	logger *slog.Logger
	order  []string // start order: dependencies first
	progs  map[string]*program
	fatal  chan *FatalError
	force  chan struct{} // closed by Kill: stop without grace
	forced sync.Once

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every state change
	subs    map[chan Event]struct{}
	killed  []string // programs SIGKILLed at the end of a grace period
}

type program struct {
	spec       Program
	cred       *syscall.Credential
	env        []string
	log        *programLog
	dependents []string

	stop     chan struct{} // closed to ask the runner to stop for good
	stopOnce sync.Once
	restart  chan struct{} // a pending restart request
	done     chan struct{} // closed once the runner has returned

	status Status // guarded by Supervisor.mu
}

// New validates every program and returns a Supervisor ready to Run.
// All configuration errors are reported together, each naming its program
// and field.
func New(cfg Config) (*Supervisor, error) {
	if cfg.Reaper == nil {
		return nil, errors.New("supervisor: Config.Reaper is required")
	}
	progs := append([]Program(nil), cfg.Programs...)
	order, err := validateSet(progs, lookPath)
	if err != nil {
		return nil, err
	}
	out := cfg.Output
	if out == nil {
		out = os.Stdout
	}
	jw := &jsonWriter{w: out}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewJSONHandler(jw, nil))
	}
	logs := cfg.Logs
	logs.withDefaults()

	s := &Supervisor{
		reaper:  cfg.Reaper,
		logger:  logger,
		order:   order,
		progs:   make(map[string]*program, len(progs)),
		fatal:   make(chan *FatalError, len(progs)),
		force:   make(chan struct{}),
		changed: make(chan struct{}),
		subs:    make(map[chan Event]struct{}),
	}
	var errs []error
	for _, spec := range progs {
		p := &program{
			spec:    spec,
			log:     newProgramLog(spec.Name, logs, jw),
			stop:    make(chan struct{}),
			restart: make(chan struct{}, 1),
			done:    make(chan struct{}),
			status:  Status{Name: spec.Name, State: StateStopped, Critical: spec.Critical, Since: time.Now()},
		}
		p.env = mergeEnv(os.Environ(), spec.Env)
		if spec.User != "" && spec.Disabled == "" {
			cred, env, err := credentialFor(spec.User)
			if err != nil {
				errs = append(errs, &ConfigError{Program: spec.Name, Field: "user", Problem: err.Error()})
			}
			p.cred = cred
			p.env = mergeEnv(p.env, env)
		}
		s.progs[spec.Name] = p
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, p := range s.progs {
		for _, d := range p.spec.DependsOn {
			s.progs[d].dependents = append(s.progs[d].dependents, p.spec.Name)
		}
	}
	return s, nil
}

// Run starts every program and supervises them until ctx ends or a critical
// program is fatal; then it stops them all in reverse dependency order and
// returns nil, or the *FatalError.
func (s *Supervisor) Run(ctx context.Context) error {
	for _, name := range s.order {
		p := s.progs[name]
		if p.spec.Disabled != "" {
			s.setState(p, StateDisabled, p.spec.Disabled)
			close(p.done)
			continue
		}
		go s.run(p)
	}
	var fatal *FatalError
	select {
	case <-ctx.Done():
	case fatal = <-s.fatal:
		s.logger.Error("critical program fatal; stopping everything", "program", fatal.Program, "reason", fatal.Reason)
	}
	s.shutdown()
	for _, p := range s.progs {
		p.log.close()
	}
	if fatal != nil {
		return fatal
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.killed) > 0 {
		sort.Strings(s.killed)
		return &StopError{Killed: s.killed}
	}
	return nil
}

// Reload sends each running program its ReloadSignal, as PID 1 passes on
// a SIGHUP; programs without one are left alone, since for most the
// default action of SIGHUP is to exit. It returns the programs signalled.
func (s *Supervisor) Reload() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sent []string
	for _, name := range s.order {
		p := s.progs[name]
		if p.status.PID > 0 && p.spec.ReloadSignal != 0 {
			if syscall.Kill(p.status.PID, p.spec.ReloadSignal) == nil {
				sent = append(sent, name)
			}
		}
	}
	return sent
}

// shutdown stops each program once everything that depends on it, and
// everything it must outlive, has stopped; independent ones stop in
// parallel.
func (s *Supervisor) shutdown() {
	var wg sync.WaitGroup
	for _, p := range s.progs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, d := range p.dependents {
				<-s.progs[d].done
			}
			for _, d := range p.spec.StopAfter {
				<-s.progs[d].done
			}
			p.stopOnce.Do(func() { close(p.stop) })
			<-p.done
		}()
	}
	wg.Wait()
}

// Kill makes every stop that is under way, or comes later, skip the grace
// period and SIGKILL the process group at once.
func (s *Supervisor) Kill() {
	s.forced.Do(func() { close(s.force) })
}

// Restart stops the named program if it runs and starts it again; a fatal
// program gets a fresh set of retries.
func (s *Supervisor) Restart(name string) error {
	p, ok := s.progs[name]
	if !ok {
		return fmt.Errorf("no program %q", name)
	}
	if p.spec.Disabled != "" {
		return fmt.Errorf("program %q is disabled: %s", name, p.spec.Disabled)
	}
	select {
	case p.restart <- struct{}{}:
	default: // one is pending already
	}
	return nil
}

// Status returns every program's status in start order.
func (s *Supervisor) Status() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, 0, len(s.order))
	for _, name := range s.order {
		out = append(out, s.progs[name].status)
	}
	return out
}

// Subscribe returns a channel of state transitions from now on. A
// subscriber that does not keep up loses events rather than stalling
// programs. Call cancel when done.
func (s *Supervisor) Subscribe() (events <-chan Event, cancel func()) {
	ch := make(chan Event, 256)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
	}
}

// Logs returns up to n recent output lines of a program, oldest first.
func (s *Supervisor) Logs(name string, n int) ([]LogLine, error) {
	p, ok := s.progs[name]
	if !ok {
		return nil, fmt.Errorf("no program %q", name)
	}
	return p.log.tail(n), nil
}

// Follow returns up to n recent lines and then every new line until stop.
func (s *Supervisor) Follow(name string, n int) (recent []LogLine, lines <-chan LogLine, stop func(), err error) {
	p, ok := s.progs[name]
	if !ok {
		return nil, nil, nil, fmt.Errorf("no program %q", name)
	}
	recent, lines, stop = p.log.follow(n)
	return recent, lines, stop, nil
}

func (s *Supervisor) setState(p *program, to State, reason string) {
	s.mu.Lock()
	from := p.status.State
	p.status.State, p.status.Reason = to, reason
	now := time.Now()
	if from != to {
		p.status.Since = now
	}
	ev := Event{Time: now.UTC(), Program: p.spec.Name, From: from, To: to, Reason: reason}
	for ch := range s.subs {
		select {
		case ch <- ev:
		default:
		}
	}
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	s.logger.Info("state", "program", ev.Program, "from", string(from), "to", string(to), "reason", reason)
}

func (p *program) reason() string { return p.status.Reason } // only from p's runner

// snapshot returns the status of a program and a channel closed at the
// next change of any program.
func (s *Supervisor) snapshot(name string) (Status, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.progs[name].status, s.changed
}

// run is one program's whole life: wait for dependencies, start, watch,
// restart by policy, until asked to stop.
func (s *Supervisor) run(p *program) {
	defer close(p.done)
	failures := 0 // consecutive failed starts
	for started := false; ; started = true {
		if !s.awaitDependencies(p) {
			s.setState(p, StateStopped, "stopped before it started")
			return
		}
		if started {
			s.mu.Lock()
			p.status.Restarts++
			s.mu.Unlock()
		}
		result := s.runOnce(p)
		switch {
		case result.stopped:
			s.setState(p, StateStopped, "stopped on request")
			return
		case result.restartRequested:
			failures = 0
			continue
		}
		if result.becameHealthy {
			failures = 0
		}
		if p.spec.Restart == RestartNever || (p.spec.Restart == RestartOnFailure && result.exit.Success()) {
			if p.spec.Critical && !result.exit.Success() {
				if !s.giveUp(p, result.reason) {
					return
				}
				failures = 0
				continue
			}
			s.setState(p, StateExited, result.reason)
			select {
			case <-p.stop:
				return
			case <-p.restart:
				continue
			}
		}
		failures++
		if failures > p.spec.Backoff.Retries {
			if !s.giveUp(p, fmt.Sprintf("%d failed starts in a row; last: %s", failures, result.reason)) {
				return
			}
			failures = 0
			continue
		}
		if !s.backoff(p, failures, result.reason) {
			return
		}
	}
}

// giveUp marks a program fatal, tells Run if it is critical, and waits for
// a manual restart (true) or a stop (false).
func (s *Supervisor) giveUp(p *program, reason string) bool {
	s.setState(p, StateFatal, reason)
	if p.spec.Critical {
		select {
		case s.fatal <- &FatalError{Program: p.spec.Name, Reason: reason}:
		default: // Run is already shutting down for an earlier one
		}
	}
	select {
	case <-p.stop:
		return false
	case <-p.restart:
		return true
	}
}

// backoff waits before restart number n; false means stop was requested.
func (s *Supervisor) backoff(p *program, n int, reason string) bool {
	delay := p.spec.Backoff.Initial << (n - 1)
	if delay > p.spec.Backoff.Max || delay <= 0 {
		delay = p.spec.Backoff.Max
	}
	delay = time.Duration(float64(delay) * (0.8 + 0.4*rand.Float64()))
	s.setState(p, StateBackoff, fmt.Sprintf("%s; restart %d of %d in %s", reason, n, p.spec.Backoff.Retries, delay.Round(time.Millisecond)))
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.restart:
		return true
	case <-p.stop:
		s.setState(p, StateStopped, "stopped on request")
		return false
	}
}

// awaitDependencies blocks until every dependency is healthy (true) or the
// program is asked to stop (false), keeping Reason current meanwhile.
func (s *Supervisor) awaitDependencies(p *program) bool {
	for {
		var waitingOn string
		var changed <-chan struct{}
		for _, d := range p.spec.DependsOn {
			st, ch := s.snapshot(d)
			changed = ch
			if st.State == StateHealthy {
				continue
			}
			waitingOn = fmt.Sprintf("waiting for dependency %s (%s)", d, st.State)
			if st.Reason != "" && (st.State == StateFatal || st.State == StateDisabled || st.State == StateExited) {
				waitingOn = fmt.Sprintf("dependency %s is %s: %s", d, st.State, st.Reason)
			}
			break
		}
		if waitingOn == "" {
			return true
		}
		if cur, _ := s.snapshot(p.spec.Name); cur.Reason != waitingOn {
			s.setState(p, StateStopped, waitingOn)
		}
		select {
		case <-changed:
		case <-p.stop:
			return false
		}
	}
}

type runResult struct {
	stopped          bool // stopped on request: the runner ends
	restartRequested bool
	becameHealthy    bool
	exit             ExitStatus
	reason           string
}

// runOnce starts the program and watches it until it exits or is stopped.
func (s *Supervisor) runOnce(p *program) runResult {
	proc, err := s.spawn(p)
	if err != nil {
		return runResult{exit: ExitStatus{Code: -1}, reason: err.Error()}
	}
	started := time.Now()
	s.mu.Lock()
	p.status.PID, p.status.StartedAt = proc.PID, started
	s.mu.Unlock()
	s.setState(p, StateStarting, "")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := p.spec.Health
	next := time.NewTimer(0)
	if h == nil {
		next.Reset(p.spec.MinUptime)
	}
	defer next.Stop()
	results := make(chan error, 1)
	healthy := false // reached healthy in this run
	failures := 0

	for {
		select {
		case <-proc.Done():
			exit := s.exited(p, proc)
			return runResult{becameHealthy: healthy, exit: exit, reason: "exited with " + exit.String()}
		case <-p.stop:
			s.stopProcess(p, proc, "stopping on request")
			return runResult{stopped: true, exit: proc.Exit()}
		case <-p.restart:
			s.stopProcess(p, proc, "restart requested")
			return runResult{restartRequested: true, exit: proc.Exit()}
		case <-next.C:
			if h == nil {
				healthy = true
				s.setState(p, StateHealthy, fmt.Sprintf("running for %s", p.spec.MinUptime))
				continue
			}
			go func() { results <- s.check(ctx, h) }()
		case err := <-results:
			interval := h.StartInterval
			switch {
			case err == nil:
				failures = 0
				if cur, _ := s.snapshot(p.spec.Name); cur.State != StateHealthy {
					s.setState(p, StateHealthy, "")
				}
				healthy = true
			case !healthy && time.Since(started) < h.StartPeriod:
				// Inside the start budget a failing check is expected;
				// keep its error in the reason so status says why.
				if reason := "starting: " + err.Error(); reason != p.reason() {
					s.setState(p, StateStarting, reason)
				}
			default:
				failures++
				if failures < h.FailureThreshold {
					break
				}
				if !healthy {
					reason := fmt.Sprintf("not healthy within its start budget (%s): %v", h.StartPeriod, err)
					s.stopProcess(p, proc, reason)
					return runResult{exit: proc.Exit(), reason: reason}
				}
				if cur, _ := s.snapshot(p.spec.Name); cur.State != StateUnhealthy {
					s.setState(p, StateUnhealthy, "health check: "+err.Error())
				}
			}
			if healthy {
				interval = h.Interval
			}
			next.Reset(interval)
		}
	}
}

// spawn starts one instance with its output captured.
func (s *Supervisor) spawn(p *program) (*Process, error) {
	stdout, err := p.log.capture("stdout")
	if err != nil {
		return nil, err
	}
	defer stdout.Close()
	stderr, err := p.log.capture("stderr")
	if err != nil {
		return nil, err
	}
	defer stderr.Close()
	return s.reaper.Start(Command{
		Path:   p.spec.Command,
		Args:   append([]string{p.spec.Command}, p.spec.Args...),
		Env:    p.env,
		Dir:    p.spec.Dir,
		Cred:   p.cred,
		Stdout: stdout,
		Stderr: stderr,
	})
}

// exited records an exit and kills whatever the program left in its
// process group, so no stray child outlives it.
func (s *Supervisor) exited(p *program, proc *Process) ExitStatus {
	exit := proc.Exit()
	_ = proc.SignalGroup(syscall.SIGKILL)
	s.mu.Lock()
	p.status.PID, p.status.StartedAt, p.status.LastExit = 0, time.Time{}, &exit
	s.mu.Unlock()
	return exit
}

// stopProcess sends the stop signal, waits the grace period, then kills
// the whole process group.
func (s *Supervisor) stopProcess(p *program, proc *Process, reason string) {
	s.setState(p, StateStopping, reason)
	_ = proc.Signal(p.spec.StopSignal)
	grace := time.NewTimer(p.spec.StopGrace)
	defer grace.Stop()
	select {
	case <-proc.Done():
	case <-grace.C:
		s.logger.Warn("grace period over; killing process group", "program", p.spec.Name, "grace", p.spec.StopGrace.String())
		_ = proc.SignalGroup(syscall.SIGKILL)
		s.mu.Lock()
		s.killed = append(s.killed, p.spec.Name)
		s.mu.Unlock()
	case <-s.force:
		_ = proc.SignalGroup(syscall.SIGKILL)
		s.mu.Lock()
		s.killed = append(s.killed, p.spec.Name)
		s.mu.Unlock()
	}
	s.exited(p, proc)
}

// credentialFor resolves a user name to the credential to run as and the
// environment a login would give.
func credentialFor(name string) (*syscall.Credential, []string, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, nil, err
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, nil, err
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	if uint32(uid) == uint32(os.Getuid()) {
		cred = nil // already that user: no setuid, which would fail unprivileged
	}
	return cred, []string{"HOME=" + u.HomeDir, "USER=" + u.Username, "LOGNAME=" + u.Username}, nil
}

// mergeEnv returns base with every KEY=VALUE of extra replacing or adding.
func mergeEnv(base, extra []string) []string {
	out := make([]string, 0, len(base)+len(extra))
	seen := make(map[string]int, len(base))
	for _, kv := range append(append([]string{}, base...), extra...) {
		key := kv
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				key = kv[:i]
				break
			}
		}
		if i, ok := seen[key]; ok {
			out[i] = kv
			continue
		}
		seen[key] = len(out)
		out = append(out, kv)
	}
	return out
}
