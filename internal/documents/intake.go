package documents

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/vanta-ledger/vanta/internal/extract"
	"github.com/vanta-ledger/vanta/internal/seal"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// CategoryInbox is where every original is stored. The file stays there
// for good, whatever its class turns out to be: its path never changes,
// so no crash can leave metadata naming a directory the file has left,
// and the file system shows nothing of what a document is (a directory
// per class would tell anyone who can list it how many invoices a company
// has).
const CategoryInbox = "inbox"

// reserveStep is how many bytes of storage quota are claimed at a time
// while a file streams in: an upload over the quota stops early instead
// of after it is all on disk, without a Redis round trip per chunk.
const reserveStep = 1 << 20

// MaxFilename bounds the uploaded name kept (sealed) with a document.
const MaxFilename = 1024

const (
	purposeContent  = "document-content"
	purposeFilename = "document-filename"
)

// Intake stores an upload: it streams r (never whole in memory) into the
// encrypted original while hashing it, sniffs the type from the first
// bytes, enforces the size limit and the storage quota, and records the
// document as queued with a new job id. The same content uploaded again
// returns the earlier document with Duplicate set and stores nothing.
// Any failure leaves nothing behind: no file, no metadata, no quota.
func (s Store) Intake(ctx context.Context, sc tenancy.Scope, r io.Reader, filename string, by tenancy.Actor) (Document, error) {
	db, err := s.db(sc)
	if err != nil {
		return Document{}, err
	}
	if len(filename) > MaxFilename || !utf8.ValidString(filename) {
		return Document{}, &FieldError{Field: "filename", Message: fmt.Sprintf("is not UTF-8 of at most %d bytes", MaxFilename)}
	}
	key, err := s.Keys.DataKey(ctx, sc)
	if err != nil {
		return Document{}, fmt.Errorf("intake: %w", err)
	}
	defer key.Destroy()

	// The first chunk decides the type before anything is written.
	limit := s.maxBytes()
	first := make([]byte, chunkSize)
	n, err := io.ReadFull(r, first)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return Document{}, fmt.Errorf("intake: read upload: %w", err)
	}
	first = first[:n]
	if n == 0 {
		return Document{}, ErrEmpty
	}
	kind, err := extract.Sniff(first)
	if err != nil {
		if errors.Is(err, extract.ErrUnsupportedType) {
			return Document{}, &UnsupportedTypeError{Filename: filename}
		}
		return Document{}, fmt.Errorf("intake: %w", err)
	}

	// Time-ordered ids (version 7, monotonic within the process) keep
	// the list's order (created_at, then id) the order of arrival even
	// for uploads within one millisecond.
	id, err := uuid.NewV7()
	if err != nil {
		return Document{}, fmt.Errorf("intake: %w", err)
	}
	dir := filepath.Join(sc.Files(s.Files), "documents", CategoryInbox)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Document{}, fmt.Errorf("intake: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".intake-*")
	if err != nil {
		return Document{}, fmt.Errorf("intake: %w", err)
	}
	var reserved int64
	committed := false
	defer func() {
		if committed {
			return
		}
		tmp.Close()
		os.Remove(tmp.Name())
		if reserved > 0 && s.Quota != nil {
			// A fresh context: the request's may be what ended.
			_ = s.Quota.ReleaseStorage(context.WithoutCancel(ctx), sc, reserved)
		}
	}()

	sum := sha256.New()
	cw, err := newChunkWriter(tmp, key, sc.Company(), id)
	if err != nil {
		return Document{}, fmt.Errorf("intake: %w", err)
	}
	var size int64
	cur := first
	next := make([]byte, chunkSize)
	for {
		size += int64(len(cur))
		if size > limit {
			return Document{}, &TooLargeError{Limit: limit}
		}
		if s.Quota != nil && size > reserved {
			step := max(int64(reserveStep), size-reserved)
			if err := s.Quota.ReserveStorage(ctx, sc, step); err != nil {
				return Document{}, fmt.Errorf("intake: %w", err)
			}
			reserved += step
		}
		sum.Write(cur)
		var m int
		final := len(cur) < chunkSize
		if !final {
			// A full chunk is the last only if nothing follows it.
			m, err = io.ReadFull(r, next)
			if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
				return Document{}, fmt.Errorf("intake: read upload: %w", err)
			}
			final = m == 0
		}
		if err := cw.writeChunk(cur, final); err != nil {
			return Document{}, fmt.Errorf("intake: %w", err)
		}
		if final {
			break
		}
		cur, next = next[:m], cur[:chunkSize]
	}
	if err := cw.flush(); err != nil {
		return Document{}, fmt.Errorf("intake: write: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return Document{}, fmt.Errorf("intake: sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return Document{}, fmt.Errorf("intake: close: %w", err)
	}
	// Give back what was claimed beyond the file's size.
	if s.Quota != nil && reserved > size {
		if err := s.Quota.ReleaseStorage(ctx, sc, reserved-size); err != nil {
			return Document{}, fmt.Errorf("intake: %w", err)
		}
		reserved = size
	}

	mac, err := key.MAC(purposeContent, sum.Sum(nil))
	if err != nil {
		return Document{}, fmt.Errorf("intake: %w", err)
	}
	hash := hex.EncodeToString(mac)
	// The common duplicate is found before anything is recorded.
	if existing, ok, err := s.byHash(ctx, sc, db, hash); err != nil {
		return Document{}, err
	} else if ok {
		existing.Duplicate = true
		return existing, nil // the deferred cleanup removes our copy and its quota
	}

	sealedName, err := key.Seal(purposeFilename, id.String(), []byte(filename))
	if err != nil {
		return Document{}, fmt.Errorf("intake: %w", err)
	}
	// Order: file in place, then its record, then the hash claim. A claim
	// therefore always names a document that is recorded with its file, so
	// an upload racing this one can return it as the duplicate; a crash
	// before the claim leaves a whole document that is merely not
	// deduplicated.
	final := filepath.Join(dir, id.String())
	if err := os.Rename(tmp.Name(), final); err != nil {
		return Document{}, fmt.Errorf("intake: %w", err)
	}
	syncDir(dir)
	undo := func() {
		bg := context.WithoutCancel(ctx)
		_, _ = db.Collection(collDocuments).DeleteOne(bg, bson.D{{Key: "_id", Value: id.String()}})
		os.Remove(final)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	rec := record{
		ID: id.String(), JobID: uuid.NewString(), Filename: sealedName, Kind: string(kind), Category: CategoryInbox,
		Size: size, ContentMAC: hash, Status: string(StatusQueued), Stages: []stageRecord{},
		CreatedAt: now, UpdatedAt: now, CreatedBy: by.UserID, Terms: []string{},
	}
	if _, err := db.Collection(collDocuments).InsertOne(ctx, rec); err != nil {
		undo()
		return Document{}, fmt.Errorf("intake: record document: %w", err)
	}
	existing, dup, err := s.claimHash(ctx, sc, db, hash, id)
	if err != nil || dup {
		undo() // the same content won the race meanwhile, or the claim failed
		if err != nil {
			return Document{}, err
		}
		existing.Duplicate = true
		return existing, nil
	}
	committed = true
	return rec.document(filename), nil
}

// byHash is the document holding the keyed content hash, if any.
func (s Store) byHash(ctx context.Context, sc tenancy.Scope, db *mongo.Database, hash string) (Document, bool, error) {
	var claim struct {
		DocumentID string `bson:"document_id"`
	}
	err := db.Collection(collHashes).FindOne(ctx, bson.D{{Key: "_id", Value: hash}}).Decode(&claim)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Document{}, false, nil
	}
	if err != nil {
		return Document{}, false, fmt.Errorf("intake: content hash: %w", err)
	}
	other, err := uuid.Parse(claim.DocumentID)
	if err != nil {
		return Document{}, false, nil
	}
	d, err := s.Get(ctx, sc, other)
	if errors.Is(err, ErrNotFound) {
		return Document{}, false, nil // stale; claimHash takes it over
	}
	return d, err == nil, err
}

// claimHash records that content with the keyed hash is document id. If
// another document holds it, that document is returned (dup); a claim
// whose document is gone is taken over.
// The hash is the collection's _id, so two uploads of the same content at
// once cannot both win.
func (s Store) claimHash(ctx context.Context, sc tenancy.Scope, db *mongo.Database, hash string, id uuid.UUID) (Document, bool, error) {
	coll := db.Collection(collHashes)
	for attempt := 0; attempt < 3; attempt++ {
		_, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: hash}, {Key: "document_id", Value: id.String()}})
		if err == nil {
			return Document{}, false, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return Document{}, false, fmt.Errorf("intake: content hash: %w", err)
		}
		var claim struct {
			DocumentID string `bson:"document_id"`
		}
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: hash}}).Decode(&claim); err != nil {
			if errors.Is(err, mongo.ErrNoDocuments) {
				continue // released meanwhile: try again
			}
			return Document{}, false, fmt.Errorf("intake: content hash: %w", err)
		}
		other, err := uuid.Parse(claim.DocumentID)
		if err == nil {
			d, err := s.Get(ctx, sc, other)
			if err == nil {
				return d, true, nil
			}
			if !errors.Is(err, ErrNotFound) {
				return Document{}, false, err
			}
		}
		// A stale claim: its document was never recorded.
		if _, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: hash}, {Key: "document_id", Value: claim.DocumentID}}); err != nil {
			return Document{}, false, fmt.Errorf("intake: content hash: %w", err)
		}
	}
	return Document{}, false, errors.New("intake: content hash: claim keeps changing")
}

// syncDir makes a rename durable; a failure only weakens durability, so it
// is not an error of the intake.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// Open decrypts a document's original into a new private file (0600) in
// dir ("" = the system's temporary directory) for the pipeline's tools;
// the caller removes it. ErrCorrupt when it does not open.
func (s Store) Open(ctx context.Context, sc tenancy.Scope, id uuid.UUID, dir string) (path string, kind extract.Kind, err error) {
	d, err := s.Get(ctx, sc, id)
	if err != nil {
		return "", "", err
	}
	key, err := s.Keys.DataKey(ctx, sc)
	if err != nil {
		return "", "", fmt.Errorf("open document %s: %w", id, err)
	}
	defer key.Destroy()
	return s.openWith(sc, d, key, dir)
}

func (s Store) openWith(sc tenancy.Scope, d Document, key *seal.DataKey, dir string) (string, extract.Kind, error) {
	category := d.Category
	if category != CategoryInbox {
		return "", "", fmt.Errorf("open document %s: unknown category %q", d.ID, category)
	}
	src, err := os.Open(filepath.Join(sc.Files(s.Files), "documents", category, d.ID.String()))
	if err != nil {
		return "", "", fmt.Errorf("open document %s: %w", d.ID, err)
	}
	defer src.Close()
	out, err := os.CreateTemp(dir, "vanta-document-*")
	if err != nil {
		return "", "", fmt.Errorf("open document %s: %w", d.ID, err)
	}
	if _, err := decryptTo(out, src, key, sc.Company(), d.ID); err != nil {
		out.Close()
		os.Remove(out.Name())
		return "", "", fmt.Errorf("open document %s: %w", d.ID, err)
	}
	if err := out.Close(); err != nil {
		os.Remove(out.Name())
		return "", "", fmt.Errorf("open document %s: %w", d.ID, err)
	}
	return out.Name(), extract.Kind(d.Kind), nil
}
