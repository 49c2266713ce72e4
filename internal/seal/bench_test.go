package seal

import (
	"context"
	"testing"
	"time"
)

// BenchmarkUnseal measures the last share's cost with the production
// Argon2id parameters: combine, derive the KEK, unwrap the keyring.
func BenchmarkUnseal(b *testing.B) {
	ctx := context.Background()
	s, err := Open(Options{Dir: b.TempDir(), Provider: SoftwareProvider{}, Now: time.Now})
	if err != nil {
		b.Fatal(err)
	}
	res, err := s.Init(ctx, InitRequest{})
	if err != nil {
		b.Fatal(err)
	}
	for _, sh := range res.Shares {
		if _, err := s.Confirm(context.Background(), sh.Share); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		for _, sh := range res.Shares[:5] {
			if _, err := s.Unseal(ctx, sh.Share, ""); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if _, err := s.Seal(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkKeyringSeal is the cost of encrypting one 1 KiB field.
func BenchmarkKeyringSeal(b *testing.B) {
	kr, err := newKeyring()
	if err != nil {
		b.Fatal(err)
	}
	defer kr.destroy()
	data := make([]byte, 1024)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := kr.Seal("field", []byte("record"), data); err != nil {
			b.Fatal(err)
		}
	}
}
