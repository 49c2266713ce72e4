package supervisor

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
)

// Exec runs cmd to completion through the reaper, copying its output to
// stdout and stderr (nil: discarded), for a process that reaps every
// child itself and so cannot use exec.Cmd.Wait. When ctx ends, cmd's
// whole process group is killed and ctx's error returned. cmd's own
// Stdout and Stderr are replaced by pipes.
func (r *Reaper) Exec(ctx context.Context, cmd Command, stdout, stderr io.Writer) error {
	name := cmd.Path
	if len(cmd.Args) > 0 {
		name = cmd.Args[0]
	}
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
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
	cmd.Stdout, cmd.Stderr = outW, errW
	proc, err := r.Start(cmd)
	// The child has its own copies; ours must close for the reads to end.
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
