package main

import (
	"context"
	"io"
	"os/exec"

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
		path, err := exec.LookPath(name)
		if err != nil {
			return err
		}
		return r.Exec(ctx, supervisor.Command{Path: path, Args: append([]string{name}, args...), Env: env}, stdout, stderr)
	}
}
