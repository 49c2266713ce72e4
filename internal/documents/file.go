package documents

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/seal"
)

// The encrypted original is a header and a sequence of chunks, each the
// AES-GCM seal (DataKey.Seal) of up to chunkSize plaintext bytes behind
// its length. Chunking lets a file of any size stream through in constant
// memory; the AAD of every chunk binds the company (the data key's
// owner), the document id, the chunk's index and whether it is the last,
// so a chunk moved to another document or position, dropped, or a file
// cut at a chunk boundary fails to open.
const (
	chunkSize    = 64 << 10
	filePurpose  = "document-file"
	fileMagic    = "VANTADOC" // then a version byte
	fileVersion  = 1
	maxSealedLen = chunkSize + 64 // GCM nonce and tag and some slack; refuses absurd lengths in a corrupt file
)

// ErrCorrupt is an encrypted original that does not open: wrong key,
// tampered, truncated or reordered.
var ErrCorrupt = errors.New("documents: stored file does not decrypt (wrong key, tampered or truncated)")

func chunkRecord(company, doc uuid.UUID, index uint64, final bool) string {
	f := "0"
	if final {
		f = "1"
	}
	return company.String() + "/" + doc.String() + "/" + strconv.FormatUint(index, 10) + "/" + f
}

// chunkWriter seals chunks to w. The caller gives whole chunks and says
// which one is last; Close without a final chunk is an error.
type chunkWriter struct {
	w       *bufio.Writer
	key     *seal.DataKey
	company uuid.UUID
	doc     uuid.UUID
	index   uint64
	final   bool
}

func newChunkWriter(w io.Writer, key *seal.DataKey, company, doc uuid.UUID) (*chunkWriter, error) {
	bw := bufio.NewWriterSize(w, chunkSize+128)
	if _, err := bw.WriteString(fileMagic); err != nil {
		return nil, err
	}
	if err := bw.WriteByte(fileVersion); err != nil {
		return nil, err
	}
	return &chunkWriter{w: bw, key: key, company: company, doc: doc}, nil
}

func (c *chunkWriter) writeChunk(p []byte, final bool) error {
	if c.final {
		return errors.New("documents: chunk after the final chunk")
	}
	ct, err := c.key.Seal(filePurpose, chunkRecord(c.company, c.doc, c.index, final), p)
	if err != nil {
		return fmt.Errorf("seal chunk %d: %w", c.index, err)
	}
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(ct)))
	if _, err := c.w.Write(n[:]); err != nil {
		return err
	}
	if _, err := c.w.Write(ct); err != nil {
		return err
	}
	c.index++
	c.final = final
	return nil
}

func (c *chunkWriter) flush() error {
	if !c.final {
		return errors.New("documents: encrypted file has no final chunk")
	}
	return c.w.Flush()
}

// decryptTo opens an encrypted original from r into w.
func decryptTo(w io.Writer, r io.Reader, key *seal.DataKey, company, doc uuid.UUID) (int64, error) {
	br := bufio.NewReaderSize(r, chunkSize+128)
	head := make([]byte, len(fileMagic)+1)
	if _, err := io.ReadFull(br, head); err != nil || string(head[:len(fileMagic)]) != fileMagic {
		return 0, ErrCorrupt
	}
	if head[len(fileMagic)] != fileVersion {
		return 0, fmt.Errorf("documents: stored file version %d: %w", head[len(fileMagic)], ErrCorrupt)
	}
	readChunk := func() ([]byte, error) {
		var n [4]byte
		if _, err := io.ReadFull(br, n[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			return nil, ErrCorrupt
		}
		l := binary.BigEndian.Uint32(n[:])
		if l > maxSealedLen {
			return nil, ErrCorrupt
		}
		ct := make([]byte, l)
		if _, err := io.ReadFull(br, ct); err != nil {
			return nil, ErrCorrupt
		}
		return ct, nil
	}
	var total int64
	cur, err := readChunk()
	if err != nil {
		return 0, ErrCorrupt // no chunk at all
	}
	for index := uint64(0); ; index++ {
		next, err := readChunk()
		final := errors.Is(err, io.EOF)
		if err != nil && !final {
			return total, err
		}
		pt, err := key.Open(filePurpose, chunkRecord(company, doc, index, final), cur)
		if err != nil {
			return total, fmt.Errorf("chunk %d: %w", index, ErrCorrupt)
		}
		if _, err := w.Write(pt); err != nil {
			return total, err
		}
		total += int64(len(pt))
		if final {
			return total, nil
		}
		cur = next
	}
}
