package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"syscall"
)

func jsonIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// execRunner runs a command with os/exec: for the CLI and tests, never
// inside `vanta init` (whose reaper owns every child's exit).
func execRunner(ctx context.Context, name string, args, env []string, cred *syscall.Credential, stdout, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, name, args...)
	if env != nil {
		cmd.Env = env
	}
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	if stdout == nil {
		stdout = io.Discard
	}
	var errBuf bytes.Buffer
	if stderr == nil {
		stderr = &errBuf
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd.Run()
}
