package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vanta-ledger/vanta/internal/audit"
)

// backgroundServices are the services bound to the seal, in start order.
var backgroundServices = []string{"identity", "audit-checkpoint", "session-prune"}

func serviceLine(event, name string) func(map[string]any) bool {
	return func(l map[string]any) bool { return l["msg"] == "background service "+event && l["name"] == name }
}

// TestBackgroundServicesFollowTheSeal: sealing stops the background
// services (newest first, each logged once it has returned) and unsealing
// starts them again, in order; the audit checkpointer writes a checkpoint
// after the unseal.
func TestBackgroundServicesFollowTheSeal(t *testing.T) {
	in := boot(t, dataDir(t))
	in.waitReady()
	shares := in.initSeal(2, 2) // the ceremony ends unsealed
	for _, name := range backgroundServices {
		in.waitLine(name+" started after the ceremony", serviceLine("started", name))
	}

	in.mustCall("POST", "/api/v1/sys/seal", "", map[string]any{}, 200, nil)
	for i := len(backgroundServices) - 1; i >= 0; i-- {
		name := backgroundServices[i]
		in.waitLine(name+" stopped on seal", serviceLine("stopped", name))
	}
	// Every service has returned: a checkpoint newer than this was
	// written by the services of the next unsealing.
	sealed := time.Now().UTC()

	in.unseal(shares)
	for _, name := range backgroundServices {
		in.waitLine(name+" started on unseal", serviceLine("started", name))
	}
	// The checkpointer's first round runs before it counts as started.
	data, err := os.ReadFile(filepath.Join(in.data, "audit", "system.json"))
	if err != nil {
		t.Fatalf("no system chain checkpoint after unsealing: %v", err)
	}
	var cp audit.Checkpoint
	if err := json.Unmarshal(data, &cp); err != nil {
		t.Fatal(err)
	}
	if !cp.At.After(sealed) {
		t.Fatalf("the system checkpoint is from %v, before the unseal (sealed at %v)", cp.At, sealed)
	}
	if cp.Seq == 0 {
		t.Fatal("the system checkpoint covers no record: the seal events are in the system chain")
	}
	// The identity service of this unsealing answers: a request needs it.
	if code, body := in.call("GET", "/api/v1/me", "", nil); code != 401 {
		t.Fatalf("GET /me without a token after unsealing: %d %s, want 401", code, body)
	}
}
