package documents

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/vanta-ledger/vanta/internal/extract"
	"github.com/vanta-ledger/vanta/internal/seal"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// record is a document's metadata as stored in "documents". What it keeps
// in the clear says nothing of the content: the filename is sealed, the
// content and search terms are keyed hashes.
type record struct {
	ID                string        `bson:"_id"`
	JobID             string        `bson:"job_id"`
	Filename          []byte        `bson:"filename"` // sealed
	Kind              string        `bson:"kind"`
	Category          string        `bson:"category"`
	Size              int64         `bson:"size"`
	ContentMAC        string        `bson:"content_mac"`
	Status            string        `bson:"status"`
	Class             string        `bson:"class"`
	Confidence        float64       `bson:"confidence"`
	Error             string        `bson:"error"`
	Stages            []stageRecord `bson:"stages"`
	ExtractionVersion int           `bson:"extraction_version"`
	JournalEntryID    string        `bson:"journal_entry_id"`
	Terms             []string      `bson:"terms"` // keyed hashes of the OCR text's words
	CreatedAt         time.Time     `bson:"created_at"`
	UpdatedAt         time.Time     `bson:"updated_at"`
	CreatedBy         string        `bson:"created_by"`
}

type stageRecord struct {
	Name     string    `bson:"name"`
	Started  time.Time `bson:"started"`
	Finished time.Time `bson:"finished"`
	Error    string    `bson:"error"`
}

// document is the record's Document, without the sealed parts.
func (r record) document(filename string) Document {
	d := Document{Filename: filename, Kind: r.Kind, Category: r.Category, Size: r.Size, Status: Status(r.Status),
		Type: extract.Class(r.Class), Confidence: r.Confidence, Error: r.Error, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	d.ID, _ = uuid.Parse(r.ID)
	d.JobID, _ = uuid.Parse(r.JobID)
	d.CreatedBy, _ = uuid.Parse(r.CreatedBy)
	if j, err := uuid.Parse(r.JournalEntryID); err == nil {
		d.JournalEntryID = &j
	}
	for _, st := range r.Stages {
		d.Stages = append(d.Stages, Stage{Name: st.Name, Started: st.Started.UTC(), Finished: st.Finished.UTC(), Error: st.Error})
	}
	return d
}

// extractionRecord is one version of a document's extraction.
type extractionRecord struct {
	ID         string    `bson:"_id"` // document id "/" version
	DocumentID string    `bson:"document_id"`
	Version    int       `bson:"version"`
	Engine     string    `bson:"engine"`
	Sealed     []byte    `bson:"sealed"` // extract.Extraction as JSON
	CreatedAt  time.Time `bson:"created_at"`
	CreatedBy  string    `bson:"created_by"`
}

const purposeExtraction = "document-extraction"

func extractionID(doc uuid.UUID, version int) string {
	return doc.String() + "/" + strconv.Itoa(version)
}

func (s Store) load(ctx context.Context, db *mongo.Database, id uuid.UUID) (record, error) {
	var r record
	err := db.Collection(collDocuments).FindOne(ctx, bson.D{{Key: "_id", Value: id.String()}}).Decode(&r)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return record{}, fmt.Errorf("document %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return record{}, fmt.Errorf("document %s: %w", id, err)
	}
	return r, nil
}

// open turns a record into a Document, opening its sealed filename and
// current extraction.
func (s Store) open(ctx context.Context, db *mongo.Database, key *seal.DataKey, r record) (Document, error) {
	name, err := key.Open(purposeFilename, r.ID, r.Filename)
	if err != nil {
		return Document{}, fmt.Errorf("document %s: filename: %w", r.ID, err)
	}
	d := r.document(string(name))
	if r.ExtractionVersion > 0 {
		x, err := s.extraction(ctx, db, key, d.ID, r.ExtractionVersion)
		if err != nil {
			return Document{}, err
		}
		d.Extraction = &x
	}
	return d, nil
}

func (s Store) extraction(ctx context.Context, db *mongo.Database, key *seal.DataKey, id uuid.UUID, version int) (extract.Extraction, error) {
	var er extractionRecord
	xid := extractionID(id, version)
	if err := db.Collection(collExtractions).FindOne(ctx, bson.D{{Key: "_id", Value: xid}}).Decode(&er); err != nil {
		return extract.Extraction{}, fmt.Errorf("document %s: extraction %d: %w", id, version, err)
	}
	plain, err := key.Open(purposeExtraction, xid, er.Sealed)
	if err != nil {
		return extract.Extraction{}, fmt.Errorf("document %s: extraction %d: %w", id, version, err)
	}
	var x extract.Extraction
	if err := json.Unmarshal(plain, &x); err != nil {
		return extract.Extraction{}, fmt.Errorf("document %s: extraction %d: %w", id, version, err)
	}
	return x, nil
}

// Get is one document with its current extraction; ErrNotFound when the
// company has no such document.
func (s Store) Get(ctx context.Context, sc tenancy.Scope, id uuid.UUID) (Document, error) {
	db, err := s.db(sc)
	if err != nil {
		return Document{}, err
	}
	r, err := s.load(ctx, db, id)
	if err != nil {
		return Document{}, err
	}
	key, err := s.Keys.DataKey(ctx, sc)
	if err != nil {
		return Document{}, fmt.Errorf("document %s: %w", id, err)
	}
	defer key.Destroy()
	return s.open(ctx, db, key, r)
}

// Filter selects documents to list.
type Filter struct {
	Status Status // "" = any
	Q      string // words that must all appear in the OCR text
	Cursor string // from the previous page; "" = the first
	Limit  int    // 0 = DefaultLimit; at most MaxLimit
}

// Page sizes, as API.md sets them for every list.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// ErrBadCursor is a cursor that List did not make.
var ErrBadCursor = errors.New("documents: invalid cursor")

// List lists documents newest first, a page at a time; the cursor is ""
// after the last page.
func (s Store) List(ctx context.Context, sc tenancy.Scope, f Filter) ([]Document, string, error) {
	db, err := s.db(sc)
	if err != nil {
		return nil, "", err
	}
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = DefaultLimit
	case limit > MaxLimit:
		limit = MaxLimit
	}
	key, err := s.Keys.DataKey(ctx, sc)
	if err != nil {
		return nil, "", fmt.Errorf("list documents: %w", err)
	}
	defer key.Destroy()
	filter := bson.D{}
	if f.Status != "" {
		if !validStatus(f.Status) {
			return nil, "", &FieldError{Field: "status", Message: fmt.Sprintf("%q is not a status", f.Status)}
		}
		filter = append(filter, bson.E{Key: "status", Value: string(f.Status)})
	}
	if words := searchWords(f.Q); len(words) > 0 {
		terms, err := termHashes(key, words)
		if err != nil {
			return nil, "", err
		}
		all := bson.A{}
		for _, t := range terms {
			all = append(all, bson.D{{Key: "terms", Value: t}})
		}
		filter = append(filter, bson.E{Key: "$and", Value: all})
	}
	if f.Cursor != "" {
		at, id, err := parseCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "created_at", Value: bson.D{{Key: "$lt", Value: at}}}},
			bson.D{{Key: "created_at", Value: at}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: id}}}},
		}})
	}
	opts := options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit + 1))
	cur, err := db.Collection(collDocuments).Find(ctx, filter, opts)
	if err != nil {
		return nil, "", fmt.Errorf("list documents: %w", err)
	}
	var recs []record
	if err := cur.All(ctx, &recs); err != nil {
		return nil, "", fmt.Errorf("list documents: %w", err)
	}
	next := ""
	if len(recs) > limit {
		recs = recs[:limit]
		last := recs[limit-1]
		next = makeCursor(last.CreatedAt, last.ID)
	}
	out := make([]Document, 0, len(recs))
	for _, r := range recs {
		d, err := s.open(ctx, db, key, r)
		if err != nil {
			return nil, "", err
		}
		out = append(out, d)
	}
	return out, next, nil
}

func validStatus(st Status) bool {
	for _, v := range Statuses {
		if v == st {
			return true
		}
	}
	return false
}

// A cursor is the last item's creation time (ms) and id: opaque to
// clients, stable under inserts.
func makeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMilli(), 10) + "/" + id))
}

func parseCursor(c string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", ErrBadCursor
	}
	ms, id, ok := strings.Cut(string(b), "/")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil {
		return time.Time{}, "", ErrBadCursor
	}
	if _, err := uuid.Parse(id); err != nil {
		return time.Time{}, "", ErrBadCursor
	}
	return time.UnixMilli(n).UTC(), id, nil
}
