package extract

import (
	"context"
	"io"
)

// CommandRunner runs one tool (pdfinfo, pdftotext, pdftoppm, tesseract)
// to completion with env, writing its output to stdout and stderr; it
// kills the tool when ctx ends. An error means the tool failed or could
// not start.
type CommandRunner func(ctx context.Context, name string, args, env []string, stdout, stderr io.Writer) error

// Runner, when set, starts every tool ReadText runs instead of os/exec.
// A process that reaps every child exit itself (vanta init, PID 1 and a
// child subreaper) must start them through its reaper: exec.Cmd.Wait
// would race the reaper for the exit status, and a tool whose status was
// taken looks failed ("no child processes"), which ReadText would report
// as a bad file. Set it once, before any document is read.
var Runner CommandRunner
