package audit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The checkpointer's first round runs in Start: every intact chain's
// checkpoint is at its head once the service counts as started, and a
// chain whose checkpoint does not verify keeps it, as evidence, and is
// logged.
func TestCheckpointerStartsWithARound(t *testing.T) {
	pool := database(t)
	ctx := context.Background()
	for i := range 3 {
		appendOne(t, pool, "a", i)
	}
	appendOne(t, pool, "b", 0)
	cps := Checkpoints{Dir: t.TempDir(), Key: []byte("the key")}
	// b's checkpoint was made with another key: a forgery.
	if _, err := (Checkpoints{Dir: cps.Dir, Key: []byte("other key")}).Save(ctx, pool, "b"); err != nil {
		t.Fatal(err)
	}
	forged, err := os.ReadFile(filepath.Join(cps.Dir, "b.json"))
	if err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	c := &Checkpointer{Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Open: func(context.Context) (Querier, Checkpoints, error) { return pool, cps, nil }}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c.Stop()
	cp, err := cps.Load("a")
	if err != nil || cp == nil || cp.Seq != 3 {
		t.Fatalf("chain a's checkpoint after start: %+v, %v; want seq 3", cp, err)
	}
	if now, _ := os.ReadFile(filepath.Join(cps.Dir, "b.json")); !bytes.Equal(now, forged) {
		t.Fatal("a checkpoint that does not verify was replaced")
	}
	if !strings.Contains(logs.String(), "chain=b") || !strings.Contains(logs.String(), "MAC does not verify") {
		t.Fatalf("the forged checkpoint is not in the log:\n%s", logs.String())
	}
	c.Stop() // twice is fine
}

// A checkpointer that cannot open its store does not start, and says why.
func TestCheckpointerStartFails(t *testing.T) {
	c := &Checkpointer{Open: func(context.Context) (Querier, Checkpoints, error) {
		return nil, Checkpoints{}, errors.New("sealed")
	}}
	if err := c.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "sealed") {
		t.Fatalf("Start = %v, want the open error", err)
	}
	c.Stop()
}
