// Package docdb is the embedded document store: a MongoDB-protocol server
// (FerretDB with its SQLite backend) for machines without mongod.
//
// It runs as its own supervised process (`vanta docdb`), not inside
// `vanta init`, so that a crash in it is a restart like any other service's
// and its memory is not ours.
package docdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Config says where the data lives and where to listen.
type Config struct {
	Dir    string // SQLite databases, one file per MongoDB database
	Socket string // unix socket path; the only listener unless TCP is set
	TCP    string // optional host:port, for tools that cannot use a socket
	Logger *slog.Logger
}

// Run serves until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Dir == "" {
		return errors.New("docdb: data directory is required (--data)")
	}
	if cfg.Socket == "" && cfg.TCP == "" {
		return errors.New("docdb: a listener is required (--socket or --tcp)")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return fmt.Errorf("docdb: data directory %s: %w", cfg.Dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("docdb: data directory: %w", err)
	}
	if cfg.Socket != "" {
		// A socket left by a killed predecessor would make Listen fail.
		if err := os.Remove(cfg.Socket); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("docdb: stale socket %s: %w", cfg.Socket, err)
		}
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	logger = slog.New(quiet{logger.Handler()})
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{Unix: cfg.Socket, TCP: cfg.TCP},
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
		Logger:    logger,
	})
	if err != nil {
		return fmt.Errorf("docdb: %w", err)
	}
	if cfg.Socket != "" {
		if err := os.Chmod(cfg.Socket, 0o600); err != nil {
			return fmt.Errorf("docdb: socket permissions: %w", err)
		}
	}
	done := make(chan struct{})
	go func() {
		_ = f.Run(ctx)
		close(done)
	}()
	<-ctx.Done()
	// FerretDB waits for clients to hang up before Run returns; a client
	// that keeps its connection (a pool, a health checker) would hold the
	// whole shutdown. Every acknowledged write is already committed to
	// SQLite, so after a short grace we just go.
	select {
	case <-done:
	case <-time.After(stopGrace):
	}
	return nil
}

// stopGrace is how long in-flight requests get at shutdown.
const stopGrace = 300 * time.Millisecond

// quiet drops one message of FerretDB's: when a client hangs up, the
// connection's goroutine races the closing of its socket and may try to
// set a deadline on it after it is closed, warning "Failed to set
// deadline: … use of closed network connection". Nothing failed: the
// connection was over. Every disconnect (a health check's probe, a
// pool's idle close) could log it, burying real warnings. Anything else,
// even another deadline failure, passes.
type quiet struct{ slog.Handler }

func (q quiet) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "Failed to set deadline") && strings.Contains(r.Message, net.ErrClosed.Error()) {
		return nil
	}
	return q.Handler.Handle(ctx, r)
}

func (q quiet) WithAttrs(attrs []slog.Attr) slog.Handler { return quiet{q.Handler.WithAttrs(attrs)} }
func (q quiet) WithGroup(name string) slog.Handler       { return quiet{q.Handler.WithGroup(name)} }
