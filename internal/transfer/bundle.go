package transfer

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"time"

	"filippo.io/age"
	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/seal"
)

// The bundle, byte by byte:
//
//	magic     "VANTAXP" and the format version (1)
//	header    uint32 length, then JSON (Header): in the clear, no secret
//	key       uint32 length, then the company's data key encrypted with
//	          age to the operator's recipient
//	chunks    each: a flag byte (1 on the last), uint32 length, and the
//	          AES-256-GCM seal (DataKey.Seal) of up to 64 KiB of the body;
//	          the AAD binds the company id (the key's owner), the purpose
//	          "company-export", the header's SHA-256, the chunk's index
//	          and whether it is the last
//	trailer   "VANTAXE" and 0x01, then the SHA-256 of every byte before
//	          the trailer
//
// The body, once decrypted, is a sequence of frames: a type byte, a
// uint32 length and the payload. A section starts with an 'H' frame
// (Section as JSON), carries its data in 'D' frames and ends with 'E'; 'Z'
// ends the body.
const (
	FormatVersion = 1
	magic         = "VANTAXP"
	trailerMagic  = "VANTAXE"
	chunkSize     = 64 << 10
	maxHeader     = 64 << 10
	maxKeyBlock   = 64 << 10
	maxSealed     = chunkSize + 64
	exportPurpose = "company-export"
)

// Header describes a bundle; it is readable without keys.
type Header struct {
	Format           int       `json:"format"`
	Company          uuid.UUID `json:"company_id"`
	SourceAppliance  string    `json:"source_appliance,omitempty"`
	CompanyMigration int       `json:"company_migration"`
	Created          time.Time `json:"created_at"`
}

// Section kinds, in the order an export writes them.
const (
	KindCompany    = "company"    // the company's row of the system schema, as JSON data
	KindMembers    = "members"    // who was a member on the source, as JSON data (informational)
	KindTable      = "table"      // a table of the company schema, as COPY text
	KindAudit      = "audit"      // the company's audit chain, as COPY text of audit.records
	KindCollection = "collection" // a MongoDB collection, as concatenated BSON documents
	KindFile       = "file"       // a file under the company's files directory, raw (already encrypted)
)

// Section is one part of the body.
type Section struct {
	Kind    string   `json:"kind"`
	Name    string   `json:"name"`              // table, collection, chain or relative file path
	Columns []string `json:"columns,omitempty"` // table and audit: COPY's column list
}

// Problems a bundle can have; errors wrap one of them and say where.
var (
	ErrNotBundle = errors.New("transfer: not a company export bundle")
	ErrTruncated = errors.New("transfer: the bundle is truncated")
	ErrChecksum  = errors.New("transfer: the bundle's checksum does not match: it was altered or damaged")
	ErrDecrypt   = errors.New("transfer: the bundle's body does not decrypt: wrong key, or the bundle was altered")
	ErrMalformed = errors.New("transfer: the bundle's body is malformed")
)

const (
	frameHeader = 'H'
	frameData   = 'D'
	frameEnd    = 'E'
	frameDone   = 'Z'
)

// Writer writes a bundle. Sections are written one after another; the
// writer returned by Section is valid until the next Section or Close.
type Writer struct {
	out     io.Writer // counts into sum
	sum     hash.Hash
	key     *seal.DataKey
	hdrHash string
	buf     []byte // body plaintext not yet sealed
	index   uint64
	open    bool
	closed  bool
	frame   [5]byte
}

// NewWriter starts a bundle for the company whose data key is key,
// encrypting the key to recipient.
func NewWriter(w io.Writer, h Header, key *seal.DataKey, recipient age.Recipient) (*Writer, error) {
	if h.Format == 0 {
		h.Format = FormatVersion
	}
	if h.Company.String() != key.Owner() {
		return nil, fmt.Errorf("transfer: key of %s for a bundle of %s", key.Owner(), h.Company)
	}
	hj, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	wrapped, err := key.WrapDataKey(func(raw []byte) ([]byte, error) {
		var b bytes.Buffer
		aw, err := age.Encrypt(&b, recipient)
		if err != nil {
			return nil, err
		}
		if _, err := aw.Write(raw); err != nil {
			return nil, err
		}
		if err := aw.Close(); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	})
	if err != nil {
		return nil, fmt.Errorf("transfer: wrap the company key: %w", err)
	}
	sum := sha256.New()
	bw := &Writer{out: io.MultiWriter(w, sum), sum: sum, key: key, hdrHash: headerHash(hj)}
	head := append([]byte(magic), FormatVersion)
	head = binary.BigEndian.AppendUint32(head, uint32(len(hj)))
	head = append(head, hj...)
	head = binary.BigEndian.AppendUint32(head, uint32(len(wrapped)))
	head = append(head, wrapped...)
	if _, err := bw.out.Write(head); err != nil {
		return nil, err
	}
	return bw, nil
}

func headerHash(hj []byte) string {
	s := sha256.Sum256(hj)
	return hex.EncodeToString(s[:])
}

func chunkRecord(hdrHash string, index uint64, final bool) string {
	f := "0"
	if final {
		f = "1"
	}
	return hdrHash + "/" + strconv.FormatUint(index, 10) + "/" + f
}

// body appends plaintext, sealing every full chunk that more data follows.
func (w *Writer) body(p []byte) error {
	w.buf = append(w.buf, p...)
	for len(w.buf) > chunkSize {
		if err := w.seal(w.buf[:chunkSize], false); err != nil {
			return err
		}
		w.buf = append(w.buf[:0], w.buf[chunkSize:]...)
	}
	return nil
}

func (w *Writer) seal(p []byte, final bool) error {
	ct, err := w.key.Seal(exportPurpose, chunkRecord(w.hdrHash, w.index, final), p)
	if err != nil {
		return fmt.Errorf("transfer: seal chunk %d: %w", w.index, err)
	}
	var head [5]byte
	if final {
		head[0] = 1
	}
	binary.BigEndian.PutUint32(head[1:], uint32(len(ct)))
	if _, err := w.out.Write(head[:]); err != nil {
		return err
	}
	if _, err := w.out.Write(ct); err != nil {
		return err
	}
	w.index++
	return nil
}

func (w *Writer) writeFrame(t byte, p []byte) error {
	w.frame[0] = t
	binary.BigEndian.PutUint32(w.frame[1:], uint32(len(p)))
	if err := w.body(w.frame[:]); err != nil {
		return err
	}
	return w.body(p)
}

// Section starts a section and returns the writer of its data.
func (w *Writer) Section(s Section) (io.Writer, error) {
	if w.closed {
		return nil, errors.New("transfer: section after close")
	}
	if w.open {
		if err := w.writeFrame(frameEnd, nil); err != nil {
			return nil, err
		}
	}
	sj, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	if err := w.writeFrame(frameHeader, sj); err != nil {
		return nil, err
	}
	w.open = true
	return sectionWriter{w}, nil
}

type sectionWriter struct{ w *Writer }

func (s sectionWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		m := min(len(p), chunkSize)
		if err := s.w.writeFrame(frameData, p[:m]); err != nil {
			return 0, err
		}
		p = p[m:]
	}
	return n, nil
}

// Close ends the body, seals the last chunk and writes the trailer.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	if w.open {
		if err := w.writeFrame(frameEnd, nil); err != nil {
			return err
		}
	}
	if err := w.writeFrame(frameDone, nil); err != nil {
		return err
	}
	if err := w.seal(w.buf, true); err != nil {
		return err
	}
	w.closed = true
	// The checksum covers every byte before the trailer.
	trailer := append([]byte(trailerMagic), 1)
	trailer = append(trailer, w.sum.Sum(nil)...)
	_, err := w.out.Write(trailer)
	return err
}

// Reader reads a bundle: its header and key block at once, the body
// section by section once opened with the company key.
type Reader struct {
	Header     Header
	WrappedKey []byte

	in      *bufio.Reader
	sum     hash.Hash
	hdrHash string
	key     *seal.DataKey

	plain   []byte // decrypted, not yet consumed
	index   uint64
	final   bool // the last chunk was read
	done    bool // 'Z' seen and trailer checked
	inSect  bool
	dataRem int // bytes left of the current 'D' frame
}

// NewReader reads the bundle's header and key block.
func NewReader(r io.Reader) (*Reader, error) {
	br := &Reader{in: bufio.NewReaderSize(r, chunkSize+256), sum: sha256.New()}
	head := make([]byte, len(magic)+1)
	if err := br.readFull(head); err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrNotBundle, err)
	}
	if string(head[:len(magic)]) != magic {
		return nil, ErrNotBundle
	}
	if head[len(magic)] != FormatVersion {
		return nil, fmt.Errorf("%w: format version %d; this appliance reads version %d", ErrNotBundle, head[len(magic)], FormatVersion)
	}
	hj, err := br.block(maxHeader, "header")
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(hj, &br.Header); err != nil || br.Header.Company == uuid.Nil {
		return nil, fmt.Errorf("%w: the header is not valid", ErrMalformed)
	}
	if br.Header.Format != FormatVersion {
		return nil, fmt.Errorf("%w: header format %d", ErrNotBundle, br.Header.Format)
	}
	br.hdrHash = headerHash(hj)
	if br.WrappedKey, err = br.block(maxKeyBlock, "key block"); err != nil {
		return nil, err
	}
	return br, nil
}

func (r *Reader) readFull(p []byte) error {
	if _, err := io.ReadFull(r.in, p); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return ErrTruncated
		}
		return err
	}
	r.sum.Write(p)
	return nil
}

func (r *Reader) block(limit uint32, what string) ([]byte, error) {
	var n [4]byte
	if err := r.readFull(n[:]); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	l := binary.BigEndian.Uint32(n[:])
	if l > limit {
		return nil, fmt.Errorf("%w: %s of %d bytes", ErrMalformed, what, l)
	}
	b := make([]byte, l)
	if err := r.readFull(b); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return b, nil
}

// UnwrapKey decrypts the bundle's company key with the operator's age
// identities; the caller wipes it after use.
func (r *Reader) UnwrapKey(ids ...age.Identity) ([]byte, error) {
	pr, err := age.Decrypt(bytes.NewReader(r.WrappedKey), ids...)
	if err != nil {
		return nil, fmt.Errorf("transfer: the identity does not open this bundle's key: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(pr, 64))
	if err != nil || len(raw) != 32 {
		return nil, fmt.Errorf("%w: the key block", ErrMalformed)
	}
	return raw, nil
}

// Open gives the company key (ImportDataKey of the unwrapped key) the
// body is read with.
func (r *Reader) Open(key *seal.DataKey) error {
	if key.Owner() != r.Header.Company.String() {
		return fmt.Errorf("transfer: key of %s for a bundle of %s", key.Owner(), r.Header.Company)
	}
	r.key = key
	return nil
}

// nextChunk decrypts the next chunk into r.plain.
func (r *Reader) nextChunk() error {
	if r.final {
		return fmt.Errorf("%w: data after the last chunk", ErrMalformed)
	}
	var head [5]byte
	if err := r.readFull(head[:]); err != nil {
		return fmt.Errorf("chunk %d: %w", r.index, err)
	}
	l := binary.BigEndian.Uint32(head[1:])
	if l > maxSealed || head[0] > 1 {
		return fmt.Errorf("%w: chunk %d", ErrMalformed, r.index)
	}
	ct := make([]byte, l)
	if err := r.readFull(ct); err != nil {
		return fmt.Errorf("chunk %d: %w", r.index, err)
	}
	final := head[0] == 1
	pt, err := r.key.Open(exportPurpose, chunkRecord(r.hdrHash, r.index, final), ct)
	if err != nil {
		return fmt.Errorf("chunk %d: %w", r.index, ErrDecrypt)
	}
	r.index++
	r.final = final
	r.plain = append(r.plain, pt...)
	return nil
}

// body reads exactly len(p) bytes of plaintext.
func (r *Reader) body(p []byte) error {
	for len(r.plain) < len(p) {
		if r.final {
			return fmt.Errorf("%w: the body ends inside a frame", ErrMalformed)
		}
		if err := r.nextChunk(); err != nil {
			return err
		}
	}
	copy(p, r.plain)
	r.plain = r.plain[len(p):]
	return nil
}

func (r *Reader) frame() (byte, int, error) {
	var f [5]byte
	if err := r.body(f[:]); err != nil {
		return 0, 0, err
	}
	return f[0], int(binary.BigEndian.Uint32(f[1:])), nil
}

// Next skips what is left of the current section and returns the next
// one with a reader of its data; io.EOF after the last, once the
// trailer's checksum matches.
func (r *Reader) Next() (Section, io.Reader, error) {
	if r.key == nil {
		return Section{}, nil, errors.New("transfer: the bundle is not opened with its key")
	}
	if r.done {
		return Section{}, nil, io.EOF
	}
	if r.inSect {
		if _, err := io.Copy(io.Discard, sectionReader{r}); err != nil {
			return Section{}, nil, err
		}
	}
	t, n, err := r.frame()
	if err != nil {
		return Section{}, nil, err
	}
	switch {
	case t == frameDone && n == 0:
		if len(r.plain) != 0 {
			return Section{}, nil, fmt.Errorf("%w: data after the end of the body", ErrMalformed)
		}
		for !r.final {
			if err := r.nextChunk(); err != nil {
				return Section{}, nil, err
			}
			if len(r.plain) != 0 {
				return Section{}, nil, fmt.Errorf("%w: data after the end of the body", ErrMalformed)
			}
		}
		if err := r.trailer(); err != nil {
			return Section{}, nil, err
		}
		r.done = true
		return Section{}, nil, io.EOF
	case t != frameHeader || n > maxHeader:
		return Section{}, nil, fmt.Errorf("%w: expected a section, found frame %q", ErrMalformed, t)
	}
	sj := make([]byte, n)
	if err := r.body(sj); err != nil {
		return Section{}, nil, err
	}
	var s Section
	if err := json.Unmarshal(sj, &s); err != nil {
		return Section{}, nil, fmt.Errorf("%w: section header", ErrMalformed)
	}
	r.inSect, r.dataRem = true, 0
	return s, sectionReader{r}, nil
}

// trailer checks the checksum and that nothing follows it.
func (r *Reader) trailer() error {
	want := r.sum.Sum(nil)
	t := make([]byte, len(trailerMagic)+1+sha256.Size)
	if _, err := io.ReadFull(r.in, t); err != nil {
		return fmt.Errorf("trailer: %w", ErrTruncated)
	}
	if string(t[:len(trailerMagic)]) != trailerMagic || t[len(trailerMagic)] != 1 {
		return fmt.Errorf("%w: no trailer after the last chunk", ErrMalformed)
	}
	if !bytes.Equal(t[len(trailerMagic)+1:], want) {
		return ErrChecksum
	}
	if _, err := r.in.ReadByte(); err != io.EOF {
		return fmt.Errorf("%w: bytes after the trailer", ErrMalformed)
	}
	return nil
}

type sectionReader struct{ r *Reader }

func (s sectionReader) Read(p []byte) (int, error) {
	r := s.r
	if !r.inSect {
		return 0, io.EOF
	}
	for r.dataRem == 0 {
		t, n, err := r.frame()
		if err != nil {
			return 0, err
		}
		switch t {
		case frameData:
			if n > chunkSize {
				return 0, fmt.Errorf("%w: data frame of %d bytes", ErrMalformed, n)
			}
			r.dataRem = n
		case frameEnd:
			if n != 0 {
				return 0, fmt.Errorf("%w: end frame with data", ErrMalformed)
			}
			r.inSect = false
			return 0, io.EOF
		default:
			return 0, fmt.Errorf("%w: frame %q inside a section", ErrMalformed, t)
		}
	}
	m := min(len(p), r.dataRem)
	if err := r.body(p[:m]); err != nil {
		return 0, err
	}
	r.dataRem -= m
	return m, nil
}

// Verify reads a whole bundle without keys and checks its structure and
// checksum: what the operator's CLI does before sending a bundle, and
// after receiving one.
func Verify(rd io.Reader) (Header, error) {
	r, err := NewReader(rd)
	if err != nil {
		return Header{}, err
	}
	for index := uint64(0); ; index++ {
		var head [5]byte
		if err := r.readFull(head[:]); err != nil {
			return r.Header, fmt.Errorf("chunk %d: %w", index, err)
		}
		l := binary.BigEndian.Uint32(head[1:])
		if l > maxSealed || head[0] > 1 {
			return r.Header, fmt.Errorf("%w: chunk %d", ErrMalformed, index)
		}
		if _, err := io.CopyN(r.sum, r.in, int64(l)); err != nil {
			return r.Header, fmt.Errorf("chunk %d: %w", index, ErrTruncated)
		}
		if head[0] == 1 {
			return r.Header, r.trailer()
		}
	}
}
