package seal

import (
	"context"
	"testing"
)

// TestWatchSeesEveryChange: background services follow the seal through
// Watch, so every opening and sealing must close the channel a watcher
// holds, and nothing else (a failed share, a rotation) may.
func TestWatchSeesEveryChange(t *testing.T) {
	s, shares, _, _ := initialized(t, 3, 2)
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}

	unsealed, ch := s.Watch()
	if unsealed {
		t.Fatal("Watch says unsealed after Seal")
	}
	if _, err := s.Unseal(context.Background(), shares[0], ""); err != nil {
		t.Fatal(err)
	}
	if closed(ch) {
		t.Fatal("a share below the threshold woke the watcher")
	}
	if _, err := s.Unseal(context.Background(), shares[1], ""); err != nil {
		t.Fatal(err)
	}
	if !closed(ch) {
		t.Fatal("unsealing did not wake the watcher")
	}
	unsealed, ch = s.Watch()
	if !unsealed {
		t.Fatal("Watch says sealed after unsealing")
	}
	if _, err := s.Rotate(trusted); err != nil {
		t.Fatal(err)
	}
	if closed(ch) {
		t.Fatal("a key rotation woke the watcher: the keyring stays the same one")
	}
	if _, err := s.Seal(); err != nil {
		t.Fatal(err)
	}
	if !closed(ch) {
		t.Fatal("sealing did not wake the watcher")
	}
	unsealed, ch = s.Watch()
	if unsealed {
		t.Fatal("Watch says unsealed after sealing")
	}
	if _, err := s.Seal(); err != nil {
		t.Fatal(err)
	}
	if closed(ch) {
		t.Fatal("sealing a sealed appliance woke the watcher")
	}
}
