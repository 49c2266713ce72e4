package transfer

import (
	"bytes"
	"io"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/seal"
)

// BenchmarkBundle measures the bundle format alone (framing, AES-GCM,
// SHA-256), writing and then reading 32 MiB of body in 1 MiB sections:
// the floor under an export's or import's time, whatever the stores add.
func BenchmarkBundle(b *testing.B) {
	const size, section = 32 << 20, 1 << 20
	raw := bytes.Repeat([]byte("0123456789abcdef"), 32)
	id := uuid.New()
	key, err := seal.ImportDataKey(id.String(), bytes.Repeat([]byte{7}, 32))
	if err != nil {
		b.Fatal(err)
	}
	defer key.Destroy()
	who, _ := age.GenerateX25519Identity()
	payload := bytes.Repeat(raw, section/len(raw))
	write := func(out io.Writer) {
		w, err := NewWriter(out, Header{Company: id, Created: time.Now()}, key, who.Recipient())
		if err != nil {
			b.Fatal(err)
		}
		for range size / section {
			sw, err := w.Section(Section{Kind: KindFile, Name: "f"})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := sw.Write(payload); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	var bundle bytes.Buffer
	write(&bundle)
	b.Run("write", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			write(io.Discard)
		}
	})
	b.Run("read", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			r, err := NewReader(bytes.NewReader(bundle.Bytes()))
			if err != nil {
				b.Fatal(err)
			}
			if err := r.Open(key); err != nil {
				b.Fatal(err)
			}
			for {
				_, data, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, data); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
