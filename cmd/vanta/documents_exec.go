package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"github.com/vanta-ledger/vanta/internal/backup"
	"github.com/vanta-ledger/vanta/internal/extract"
	"github.com/vanta-ledger/vanta/supervisor"
)

// reaperRunner starts the document pipeline's tools (poppler, tesseract)
// through vanta init's reaper, which owns every child exit of the
// process: started with os/exec, their exit status could be reaped first
// and a good file would fail as a bad one. Output comes back over pipes;
// when ctx ends the tool's whole process group is killed.
func reaperRunner(r *supervisor.Reaper) extract.CommandRunner {
	return func(ctx context.Context, name string, args, env []string, stdout, stderr io.Writer) error {
		return runReaped(ctx, r, name, args, env, nil, stdout, stderr)
	}
}

// backupRunner starts the backup tools (pgbackrest, as PostgreSQL's
// account) through the reaper, as reaperRunner does.
func backupRunner(r *supervisor.Reaper) backup.CommandRunner {
	return func(ctx context.Context, name string, args, env []string, cred *syscall.Credential, stdout, stderr io.Writer) error {
		return runReaped(ctx, r, name, args, env, cred, stdout, stderr)
	}
}

func runReaped(ctx context.Context, r *supervisor.Reaper, name string, args, env []string, cred *syscall.Credential, stdout, stderr io.Writer) error {
	path, err := exec.LookPath(name)
	if err != nil {
		return err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return err
	}
	proc, err := r.Start(supervisor.Command{Path: path, Args: append([]string{name}, args...), Env: env, Cred: cred, Stdout: outW, Stderr: errW})
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return err
	}
	var copied sync.WaitGroup
	copied.Add(2)
	go func() { defer copied.Done(); _, _ = io.Copy(stdout, outR); outR.Close() }()
	go func() { defer copied.Done(); _, _ = io.Copy(stderr, errR); errR.Close() }()
	select {
	case <-proc.Done():
	case <-ctx.Done():
		_ = proc.SignalGroup(syscall.SIGKILL)
		<-proc.Done()
	}
	copied.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if st := proc.Exit(); !st.Success() {
		return fmt.Errorf("%s: %s", name, st)
	}
	return nil
}
