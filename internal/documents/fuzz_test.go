package documents

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/seal"
)

// FuzzDecrypt: whatever a stored file holds, opening it either gives back
// exactly what was sealed into it or fails with ErrCorrupt; it never
// panics or allocates beyond one chunk.
func FuzzDecrypt(f *testing.F) {
	kr, err := seal.NewKeyring()
	if err != nil {
		f.Fatal(err)
	}
	defer kr.Destroy()
	company, doc := uuid.New(), uuid.New()
	w, err := kr.NewDataKey(company.String())
	if err != nil {
		f.Fatal(err)
	}
	key, err := kr.DataKey(company.String(), w)
	if err != nil {
		f.Fatal(err)
	}
	defer key.Destroy()
	seed := func(plain []byte) []byte {
		var buf bytes.Buffer
		cw, err := newChunkWriter(&buf, key, company, doc)
		if err != nil {
			f.Fatal(err)
		}
		for len(plain) > chunkSize {
			if err := cw.writeChunk(plain[:chunkSize], false); err != nil {
				f.Fatal(err)
			}
			plain = plain[chunkSize:]
		}
		if err := cw.writeChunk(plain, true); err != nil {
			f.Fatal(err)
		}
		if err := cw.flush(); err != nil {
			f.Fatal(err)
		}
		return buf.Bytes()
	}
	valid := seed(bytes.Repeat([]byte("x"), chunkSize+10))
	f.Add(valid)
	f.Add(seed([]byte("small")))
	f.Add(valid[:len(valid)-1])
	f.Add([]byte(fileMagic + "\x01\xff\xff\xff\xff"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := decryptTo(io.Discard, bytes.NewReader(data), key, company, doc)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("err = %v, want ErrCorrupt", err)
		}
		if err == nil && bytes.Equal(data, valid) && n != chunkSize+10 {
			t.Fatalf("opened %d bytes, want %d", n, chunkSize+10)
		}
	})
}
