package docdb

import (
	"bytes"
	"context"
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
)

var socket string

// TestMain starts one real server for the package; each test uses its own
// database.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "docdb-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	socket = filepath.Join(dir, "mongodb.sock")
	// A stale socket from a killed predecessor must not stop the start.
	if err := os.WriteFile(socket, nil, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Config{Dir: filepath.Join(dir, "data"), Socket: socket}) }()
	code := m.Run()
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "docdb Run:", err)
		code = 1
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func client(t *testing.T) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + url.PathEscape(socket)).SetServerSelectionTimeout(30 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c
}

func TestStoresAndFindsDocuments(t *testing.T) {
	ctx := context.Background()
	coll := client(t).Database("test_store").Collection("documents")
	if _, err := coll.InsertMany(ctx, []any{
		bson.D{{Key: "kind", Value: "invoice"}, {Key: "total_minor", Value: int64(105352)}},
		bson.D{{Key: "kind", Value: "receipt"}, {Key: "total_minor", Value: int64(990)}},
	}); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Kind       string `bson:"kind"`
		TotalMinor int64  `bson:"total_minor"`
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "kind", Value: "invoice"}}).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.TotalMinor != 105352 {
		t.Errorf("found %+v", got)
	}
}

func TestSocketIsPrivate(t *testing.T) {
	// Once the server answers, the socket is the live one, not the stale file.
	if err := client(t).Ping(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(socket)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || st.Mode()&os.ModeSocket == 0 {
		t.Errorf("socket mode %v", st.Mode())
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{{Socket: "/tmp/x.sock"}, {Dir: t.TempDir()}} {
		if err := Run(context.Background(), cfg); err == nil {
			t.Errorf("Run(%+v) accepted an incomplete config", cfg)
		}
	}
}

func TestQuietDropsOnlyTheClosedConnectionDeadlineWarning(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(quiet{slog.NewTextHandler(&buf, nil)}).With("name", "clientconn")
	l.Warn("Failed to set deadline: set unix /run/mongodb.sock->: use of closed network connection")
	l.Warn("Failed to set deadline: operation not permitted")
	l.Warn("Connection stopped")
	out := buf.String()
	if strings.Contains(out, "closed network connection") {
		t.Errorf("the closed-connection warning passed:\n%s", out)
	}
	if !strings.Contains(out, "operation not permitted") || !strings.Contains(out, "Connection stopped") || !strings.Contains(out, "name=clientconn") {
		t.Errorf("other messages were dropped:\n%s", out)
	}
}
