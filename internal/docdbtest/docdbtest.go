// Package docdbtest runs the real embedded document store (internal/docdb,
// FerretDB on SQLite) for a test package, in-process on a unix socket in a
// temporary directory, started once in TestMain. Tests keep apart by
// database: Database gives each its own and drops it afterwards.
package docdbtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/vanta-ledger/vanta/internal/docdb"
)

// Server is a running docdb.
type Server struct {
	URI    string // mongodb://<escaped socket path>
	Client *mongo.Client
	dir    string
	cancel context.CancelFunc
	done   chan error
}

// Start starts docdb and waits until it answers a ping.
func Start() (*Server, error) {
	dir, err := os.MkdirTemp("", "docdbtest-")
	if err != nil {
		return nil, err
	}
	socket := filepath.Join(dir, "mongodb.sock")
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{URI: "mongodb://" + url.PathEscape(socket), dir: dir, cancel: cancel, done: make(chan error, 1)}
	// Errors only: FerretDB warns of commands it lacks that the driver
	// sends anyway (endSessions at Disconnect), which would bury a test's
	// own output.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	go func() {
		s.done <- docdb.Run(ctx, docdb.Config{Dir: filepath.Join(dir, "data"), Socket: socket, Logger: logger})
	}()
	s.Client, err = mongo.Connect(options.Client().ApplyURI(s.URI))
	if err != nil {
		s.Stop()
		return nil, err
	}
	// The server listens once FerretDB is up; ping until it answers, or
	// until Run reports why it could not start.
	deadline := time.Now().Add(30 * time.Second)
	for {
		pctx, pcancel := context.WithTimeout(context.Background(), time.Second)
		err = s.Client.Ping(pctx, nil)
		pcancel()
		if err == nil {
			return s, nil
		}
		select {
		case runErr := <-s.done:
			s.done <- runErr
			s.Stop()
			return nil, fmt.Errorf("docdbtest: docdb exited: %v", runErr)
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("docdbtest: docdb did not answer: %w", err)
		}
	}
}

// Stop disconnects, stops docdb and removes its files.
func (s *Server) Stop() {
	if s.Client != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.Client.Disconnect(ctx)
		cancel()
	}
	s.cancel()
	<-s.done
	os.RemoveAll(s.dir)
}

// Database is a database of the test's own, dropped when the test ends.
// Its name is derived from the test's name, so two tests never share one.
func (s *Server) Database(t testing.TB) *mongo.Database {
	t.Helper()
	name := "t_" + sanitize(t.Name())
	db := s.Client.Database(name)
	t.Cleanup(func() { _ = db.Drop(context.Background()) })
	return db
}

// DropOnCleanup drops the named database when the test ends, for
// databases the code under test names itself (a company's, from its
// tenancy.Scope).
func (s *Server) DropOnCleanup(t testing.TB, name string) {
	t.Cleanup(func() { _ = s.Client.Database(name).Drop(context.Background()) })
}

// Collections creates collections in db, as provisioning does; one that
// exists already is kept.
func Collections(ctx context.Context, db *mongo.Database, names ...string) error {
	for _, n := range names {
		err := db.CreateCollection(ctx, n)
		var ce mongo.CommandError
		if err != nil && !(errors.As(err, &ce) && ce.Name == "NamespaceExists") {
			return fmt.Errorf("collection %s: %w", n, err)
		}
	}
	return nil
}

// Count is the number of documents matching filter in a collection.
func Count(t testing.TB, db *mongo.Database, coll string, filter bson.D) int64 {
	t.Helper()
	n, err := db.Collection(coll).CountDocuments(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// sanitize keeps letters, digits and underscores, at most 50 of them:
// database names are short and plain.
func sanitize(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	out := b.String()
	if len(out) > 50 {
		out = out[len(out)-50:]
	}
	return out
}
