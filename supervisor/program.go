package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Program describes one supervised process.
type Program struct {
	Name    string
	Command string   // executable: absolute path, or a name looked up in PATH
	Args    []string // arguments after the command
	Env     []string // KEY=VALUE, added to (and overriding) our own environment
	Dir     string   // working directory; empty means ours
	User    string   // run as this user; empty means as ourselves

	DependsOn []string // started only once these are healthy; stopped before them

	// StopAfter orders shutdown beyond dependencies: this program is stopped
	// only after the named ones have stopped. A database that everything may
	// still be flushing to is stopped last this way.
	StopAfter []string

	// Critical programs that reach StateFatal stop the whole supervisor.
	Critical bool

	// Disabled, when not empty, is why the program is not run at all (for
	// example "not installed"). Such a program is reported, never started.
	Disabled string

	Health  *HealthCheck // nil: healthy once running for MinUptime
	Restart RestartPolicy
	Backoff Backoff

	// MinUptime is how long a program without a health check must run
	// before it counts as healthy. Default 1s.
	MinUptime time.Duration

	StopSignal syscall.Signal // default SIGTERM
	StopGrace  time.Duration  // then SIGKILL to the process group; default 10s

	// ReloadSignal, when set, is sent by Reload (PostgreSQL: SIGHUP).
	ReloadSignal syscall.Signal
}

// HealthCheck says how to tell that a program serves. Exactly one of Exec,
// TCP, HTTP and Func is set.
type HealthCheck struct {
	Exec []string                        // command and arguments; exit 0 is healthy
	TCP  string                          // host:port, or an absolute unix socket path
	HTTP string                          // URL; a 2xx answer is healthy
	Func func(ctx context.Context) error // nil error is healthy

	Interval      time.Duration // between checks once healthy; default 5s
	StartInterval time.Duration // between checks while starting; default 100ms
	Timeout       time.Duration // per check; default 3s
	// StartPeriod is the start budget: failures inside it do not count.
	StartPeriod time.Duration
	// FailureThreshold consecutive failures make a healthy program
	// unhealthy, and a starting one past its StartPeriod a failed start.
	// Default 3.
	FailureThreshold int
}

// RestartPolicy says when an exited program is started again.
type RestartPolicy string

// Restart policies.
const (
	RestartAlways    RestartPolicy = "always"
	RestartOnFailure RestartPolicy = "on-failure"
	RestartNever     RestartPolicy = "never"
)

// Backoff spaces out restarts: Initial, doubling up to Max, each delay with
// ±20% jitter so that programs failing together do not retry in lockstep.
type Backoff struct {
	Initial time.Duration // default 500ms
	Max     time.Duration // default 30s
	// Retries is how many consecutive failed starts (exits before becoming
	// healthy) are retried before the program is fatal. Default 5.
	Retries int
}

// ConfigError names the program and the field that is wrong.
type ConfigError struct {
	Program string
	Field   string
	Problem string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("program %q: %s: %s", e.Program, e.Field, e.Problem)
}

func (p *Program) withDefaults() {
	if p.Restart == "" {
		p.Restart = RestartAlways
	}
	if p.Backoff.Initial == 0 {
		p.Backoff.Initial = 500 * time.Millisecond
	}
	if p.Backoff.Max == 0 {
		p.Backoff.Max = 30 * time.Second
	}
	if p.Backoff.Retries == 0 {
		p.Backoff.Retries = 5
	}
	if p.MinUptime == 0 {
		p.MinUptime = time.Second
	}
	if p.StopSignal == 0 {
		p.StopSignal = syscall.SIGTERM
	}
	if p.StopGrace == 0 {
		p.StopGrace = 10 * time.Second
	}
	if h := p.Health; h != nil {
		if h.Interval == 0 {
			h.Interval = 5 * time.Second
		}
		if h.StartInterval == 0 {
			h.StartInterval = 100 * time.Millisecond
		}
		if h.Timeout == 0 {
			h.Timeout = 3 * time.Second
		}
		if h.FailureThreshold == 0 {
			h.FailureThreshold = 3
		}
	}
}

// validate checks one program on its own; graph checks are in validateSet.
// It resolves Command to an absolute path.
func (p *Program) validate(lookup func(string) (string, error)) []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &ConfigError{Program: p.Name, Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	if p.Name == "" || strings.ContainsAny(p.Name, " /\t\n") {
		bad("name", "must be a non-empty word without spaces or slashes")
	}
	if p.Disabled != "" {
		return errs // never started: its command need not exist
	}
	if p.Command == "" {
		bad("command", "missing")
	} else if path, err := lookup(p.Command); err != nil {
		bad("command", "%s not found: %v", p.Command, err)
	} else {
		p.Command = path
	}
	switch p.Restart {
	case RestartAlways, RestartOnFailure, RestartNever:
	default:
		bad("restart", "%q is not always, on-failure or never", p.Restart)
	}
	positive := func(field string, d time.Duration) {
		if d < 0 {
			bad(field, "%s is negative", d)
		}
	}
	positive("backoff.initial", p.Backoff.Initial)
	positive("backoff.max", p.Backoff.Max)
	positive("min_uptime", p.MinUptime)
	positive("stop_grace", p.StopGrace)
	if p.Backoff.Max < p.Backoff.Initial {
		bad("backoff.max", "%s is below backoff.initial %s", p.Backoff.Max, p.Backoff.Initial)
	}
	if p.Backoff.Retries < 0 {
		bad("backoff.retries", "%d is negative", p.Backoff.Retries)
	}
	if h := p.Health; h != nil {
		kinds := 0
		for _, set := range []bool{len(h.Exec) > 0, h.TCP != "", h.HTTP != "", h.Func != nil} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			bad("health", "set exactly one of exec, tcp, http, func (got %d)", kinds)
		}
		if len(h.Exec) > 0 {
			if path, err := lookup(h.Exec[0]); err != nil {
				bad("health.exec", "%s not found: %v", h.Exec[0], err)
			} else {
				h.Exec = append([]string{path}, h.Exec[1:]...)
			}
		}
		positive("health.interval", h.Interval)
		positive("health.start_interval", h.StartInterval)
		positive("health.timeout", h.Timeout)
		positive("health.start_period", h.StartPeriod)
		if h.Timeout > h.Interval {
			bad("health.timeout", "%s exceeds health.interval %s", h.Timeout, h.Interval)
		}
		if h.FailureThreshold < 0 {
			bad("health.failure_threshold", "%d is negative", h.FailureThreshold)
		}
	}
	return errs
}

// validateSet checks names, references and cycles, and returns the programs
// in a start order where each comes after its dependencies.
func validateSet(progs []Program, lookup func(string) (string, error)) ([]string, error) {
	var errs []error
	byName := make(map[string]*Program, len(progs))
	for i := range progs {
		p := &progs[i]
		p.withDefaults()
		errs = append(errs, p.validate(lookup)...)
		if _, dup := byName[p.Name]; dup {
			errs = append(errs, &ConfigError{Program: p.Name, Field: "name", Problem: "duplicate name"})
		}
		byName[p.Name] = p
	}
	for _, p := range progs {
		for field, refs := range map[string][]string{"depends_on": p.DependsOn, "stop_after": p.StopAfter} {
			for _, d := range refs {
				if _, ok := byName[d]; !ok {
					errs = append(errs, &ConfigError{Program: p.Name, Field: field, Problem: fmt.Sprintf("unknown program %q", d)})
				} else if d == p.Name {
					errs = append(errs, &ConfigError{Program: p.Name, Field: field, Problem: "names itself"})
				}
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	order, cycle := topoSort(progs, func(p *Program) []string { return p.DependsOn })
	if cycle != nil {
		return nil, &ConfigError{Program: cycle[0], Field: "depends_on", Problem: "dependency cycle " + strings.Join(cycle, " → ")}
	}
	// Shutdown waits on dependents and on StopAfter; together they must not
	// loop either, or shutdown would hang.
	dependents := make(map[string][]string)
	for _, p := range progs {
		for _, d := range p.DependsOn {
			dependents[d] = append(dependents[d], p.Name)
		}
	}
	_, cycle = topoSort(progs, func(p *Program) []string { return append(dependents[p.Name], p.StopAfter...) })
	if cycle != nil {
		return nil, &ConfigError{Program: cycle[0], Field: "stop_after", Problem: "shutdown order cycle " + strings.Join(cycle, " → ")}
	}
	return order, nil
}

// topoSort orders programs so that each follows the ones edges names for
// it, or returns the first cycle found.
func topoSort(progs []Program, edges func(*Program) []string) (order, cycle []string) {
	byName := make(map[string]*Program, len(progs))
	for i := range progs {
		byName[progs[i].Name] = &progs[i]
	}
	const (
		unvisited = iota
		inProgress
		done
	)
	mark := make(map[string]int, len(progs))
	var path []string
	var visit func(name string) []string
	visit = func(name string) []string {
		switch mark[name] {
		case done:
			return nil
		case inProgress:
			i := 0
			for path[i] != name {
				i++
			}
			return append(append([]string{}, path[i:]...), name)
		}
		mark[name] = inProgress
		path = append(path, name)
		for _, next := range edges(byName[name]) {
			if c := visit(next); c != nil {
				return c
			}
		}
		path = path[:len(path)-1]
		mark[name] = done
		order = append(order, name)
		return nil
	}
	for _, p := range progs {
		if c := visit(p.Name); c != nil {
			return nil, c
		}
	}
	return order, nil
}

// lookPath resolves a command like a shell would, but insists on an
// executable regular file when given a path.
func lookPath(cmd string) (string, error) {
	path, err := exec.LookPath(cmd)
	if err != nil {
		return "", err
	}
	return filepath.Abs(path)
}
