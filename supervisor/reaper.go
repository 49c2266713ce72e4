package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// ExitStatus is how a process ended.
type ExitStatus struct {
	Code   int            // exit code; -1 when killed by a signal
	Signal syscall.Signal // the terminating signal, or 0
}

// Success reports whether the process exited with code 0.
func (e ExitStatus) Success() bool { return e.Code == 0 && e.Signal == 0 }

func (e ExitStatus) String() string {
	if e.Signal != 0 {
		return fmt.Sprintf("signal %d (%s)", int(e.Signal), e.Signal)
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

func exitStatusOf(ws unix.WaitStatus) ExitStatus {
	if ws.Signaled() {
		return ExitStatus{Code: -1, Signal: ws.Signal()}
	}
	return ExitStatus{Code: ws.ExitStatus()}
}

// Process is a child started by a Reaper.
type Process struct {
	PID  int
	done chan struct{}
	exit ExitStatus
}

// Done is closed once the process has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exit returns the exit status; valid only after Done is closed.
func (p *Process) Exit() ExitStatus {
	<-p.done
	return p.exit
}

// Signal sends sig to the process alone.
func (p *Process) Signal(sig syscall.Signal) error {
	return ignoreESRCH(unix.Kill(p.PID, sig))
}

// SignalGroup sends sig to the process group the process leads.
func (p *Process) SignalGroup(sig syscall.Signal) error {
	return ignoreESRCH(unix.Kill(-p.PID, sig))
}

func ignoreESRCH(err error) error {
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	return err
}

// Command describes one process to start.
type Command struct {
	Path   string   // absolute path of the executable
	Args   []string // argv, including argv[0]
	Env    []string
	Dir    string
	Cred   *syscall.Credential // nil: run as ourselves
	Stdin  *os.File            // nil: /dev/null
	Stdout *os.File            // nil: /dev/null
	Stderr *os.File            // nil: /dev/null
}

// A Reaper owns every child exit of the process. Start children only
// through it: anything else that waits (exec.Cmd.Wait, os.Process.Wait) would
// race its reap-everything loop for the exit status.
type Reaper struct {
	mu       sync.Mutex // held across fork+register and across each reap pass
	children map[int]*Process
	orphan   func(pid int, status ExitStatus)
	sigchld  chan os.Signal
}

// NewReaper makes the calling process a child subreaper (unless it is PID 1
// already, which reaps orphans anyway) and starts listening for SIGCHLD.
// onOrphan, if not nil, is told about each reaped process that was not
// started through the Reaper.
func NewReaper(onOrphan func(pid int, status ExitStatus)) (*Reaper, error) {
	if os.Getpid() != 1 {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return nil, fmt.Errorf("become child subreaper: %w", err)
		}
	}
	r := &Reaper{
		children: make(map[int]*Process),
		orphan:   onOrphan,
		sigchld:  make(chan os.Signal, 1),
	}
	signal.Notify(r.sigchld, syscall.SIGCHLD)
	return r, nil
}

// Run reaps children until ctx ends.
func (r *Reaper) Run(ctx context.Context) {
	defer signal.Stop(r.sigchld)
	for {
		r.reapAll()
		select {
		case <-ctx.Done():
			return
		case <-r.sigchld:
		}
	}
}

// reapAll collects every exited child. SIGCHLD coalesces, so one signal may
// stand for many exits: loop until wait4 has nothing more.
func (r *Reaper) reapAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		if !ws.Exited() && !ws.Signaled() {
			continue // stopped or continued, not gone
		}
		status := exitStatusOf(ws)
		if p, ok := r.children[pid]; ok {
			delete(r.children, pid)
			p.exit = status
			close(p.done)
			continue
		}
		if r.orphan != nil {
			r.orphan(pid, status)
		}
	}
}

// Start forks and executes cmd in a new process group, so that the whole
// group can be signalled later.
func (r *Reaper) Start(cmd Command) (*Process, error) {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	stdin, stdout, stderr := cmd.Stdin, cmd.Stdout, cmd.Stderr
	if stdin == nil {
		stdin = devnull
	}
	if stdout == nil {
		stdout = devnull
	}
	if stderr == nil {
		stderr = devnull
	}
	attr := &syscall.ProcAttr{
		Dir:   cmd.Dir,
		Env:   cmd.Env,
		Files: []uintptr{stdin.Fd(), stdout.Fd(), stderr.Fd()},
		Sys:   &syscall.SysProcAttr{Setpgid: true, Credential: cmd.Cred},
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	pid, err := syscall.ForkExec(cmd.Path, cmd.Args, attr)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &Process{PID: pid, done: make(chan struct{})}
	r.children[pid] = p
	return p, nil
}
