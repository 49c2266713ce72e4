package supervisor

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
)

// check runs one health probe within the check's timeout.
func (s *Supervisor) check(ctx context.Context, h *HealthCheck) error {
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	switch {
	case h.Func != nil:
		return h.Func(ctx)
	case h.TCP != "":
		network := "tcp"
		if strings.HasPrefix(h.TCP, "/") {
			network = "unix"
		}
		conn, err := (&net.Dialer{}).DialContext(ctx, network, h.TCP)
		if err != nil {
			return err
		}
		return conn.Close()
	case h.HTTP != "":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.HTTP, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("GET %s: %s", h.HTTP, resp.Status)
		}
		return nil
	default:
		return s.checkExec(ctx, h.Exec)
	}
}

// checkExec runs a probe command through the reaper, killing its whole
// group if it overruns.
func (s *Supervisor) checkExec(ctx context.Context, argv []string) error {
	proc, err := s.reaper.Start(Command{Path: argv[0], Args: argv, Env: os.Environ()})
	if err != nil {
		return err
	}
	select {
	case <-proc.Done():
	case <-ctx.Done():
		_ = proc.SignalGroup(syscall.SIGKILL)
		<-proc.Done()
		return fmt.Errorf("%s: %w", argv[0], ctx.Err())
	}
	if st := proc.Exit(); !st.Success() {
		return fmt.Errorf("%s: %s", argv[0], st)
	}
	return nil
}
