package supervisor

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestExec(t *testing.T) {
	sh := func(script string) Command { return Command{Path: "/bin/sh", Args: []string{"sh", "-c", script}} }
	tests := []struct {
		name, script        string
		stdout, stderr, err string
	}{
		{"success", "echo out; echo err >&2", "out\n", "err\n", ""},
		{"exit status", "echo partial; exit 3", "partial\n", "", "sh: exit status 3"},
		{"signal", "kill -TERM $$", "", "", "sh: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := testReaper.Exec(context.Background(), sh(tt.script), &out, &errOut)
			if out.String() != tt.stdout || errOut.String() != tt.stderr {
				t.Errorf("stdout %q, stderr %q; want %q, %q", out.String(), errOut.String(), tt.stdout, tt.stderr)
			}
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("err = %v, want none", err)
			case tt.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.err)):
				t.Errorf("err = %v, want one starting %q", err, tt.err)
			}
		})
	}

	// A cancelled context kills the command's whole group, the grandchild
	// holding the pipe too, so Exec returns instead of waiting an hour.
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var out bytes.Buffer
		done := make(chan error, 1)
		go func() {
			done <- testReaper.Exec(ctx, sh("echo started; sleep 3600 & wait"), &lineSignal{w: &out, line: cancel}, nil)
		}()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
		case <-time.After(guard):
			t.Fatal("Exec did not return after its context ended")
		}
	})
}

// lineSignal calls line once the first write arrives: the command has
// started and said so.
type lineSignal struct {
	w    *bytes.Buffer
	line func()
	once bool
}

func (l *lineSignal) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	if !l.once {
		l.once = true
		l.line()
	}
	return n, err
}
