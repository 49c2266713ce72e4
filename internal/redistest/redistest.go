// Package redistest runs a throwaway redis-server for a test package, the
// machine's real one, on a unix socket in a temporary directory, started
// once in TestMain. Tests keep apart by key prefix.
package redistest

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Server is a running redis-server.
type Server struct {
	Socket string
	dir    string
	proc   *exec.Cmd
}

// Start starts redis-server without persistence. With acl set, the server
// reads users from an ACL file holding only an all-powerful default user,
// so that tests can create users and run ACL SAVE as the appliance does.
func Start(acl bool) (*Server, error) {
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, err
	}
	s := &Server{Socket: filepath.Join(dir, "redis.sock"), dir: dir}
	args := []string{"--port", "0", "--unixsocket", s.Socket, "--save", "", "--appendonly", "no", "--dir", dir}
	if acl {
		file := filepath.Join(dir, "users.acl")
		if err := os.WriteFile(file, []byte("user default on nopass ~* &* +@all\n"), 0o600); err != nil {
			return nil, err
		}
		args = append(args, "--aclfile", file)
	}
	s.proc = exec.Command("redis-server", args...)
	out, err := s.proc.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.proc.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// redis-server says when it accepts connections; read its log to there.
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.Contains(strings.ToLower(sc.Text()), "ready to accept connections") {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return s, nil
		}
	}
	s.Stop()
	return nil, errors.New("redistest: redis-server exited before it was ready")
}

// Stop kills the server and removes its files.
func (s *Server) Stop() {
	if s.proc != nil && s.proc.Process != nil {
		_ = s.proc.Process.Kill()
		_ = s.proc.Wait()
	}
	_ = os.RemoveAll(s.dir)
}
