package documents

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/vanta-ledger/vanta/internal/extract"
	"github.com/vanta-ledger/vanta/internal/seal"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// Collections names every collection a company's document database
// holds: what a company export carries, and the only names an import
// accepts.
func Collections() []string {
	return []string{collDocuments, collAnalyses, collExtractions, collHashes, collCorrections, collTemplates}
}

// FilePath is where a document's encrypted original lives, relative to
// the company's files directory: documents/<category>/<id>. It reports
// false for any other path, so an import writes nothing else.
func FilePath(rel string) bool {
	parts := strings.Split(rel, "/")
	if len(parts) != 3 || parts[0] != "documents" || parts[1] == "" || strings.HasPrefix(parts[1], ".") || !filepath.IsLocal(rel) {
		return false
	}
	if strings.ContainsFunc(parts[1], func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') }) {
		return false
	}
	_, err := uuid.Parse(parts[2])
	return err == nil && len(parts[2]) == 36
}

// RekeyStats counts what Rekey re-encrypted.
type RekeyStats struct {
	Documents, Files, Texts, Extractions, Corrections, Templates int
	Bytes                                                        int64 // of the originals, as the storage quota counts them
}

// Rekey re-encrypts everything of the scope's company that is sealed
// with from, under to: each document's original (streamed, chunk by
// chunk, into a new file that replaces the old), its filename, OCR text,
// extractions and corrections, the learned templates; and recomputes
// every keyed hash with to (content hashes and their claims, search
// terms, template ids), since a keyed hash made with from finds nothing
// under to. Both keys belong to the scope's company. A company import
// runs it on the imported data before the company opens: it holds no
// lock against concurrent use.
func (s Store) Rekey(ctx context.Context, sc tenancy.Scope, from, to *seal.DataKey) (RekeyStats, error) {
	var st RekeyStats
	db, err := s.db(sc)
	if err != nil {
		return st, err
	}
	if from.Owner() != sc.Company().String() || to.Owner() != sc.Company().String() {
		return st, errors.New("documents: rekey with another company's key")
	}
	cur, err := db.Collection(collDocuments).Find(ctx, bson.D{})
	if err != nil {
		return st, fmt.Errorf("rekey documents: %w", err)
	}
	defer cur.Close(ctx)
	var contentMACs []bson.D
	for cur.Next(ctx) {
		var r record
		if err := cur.Decode(&r); err != nil {
			return st, fmt.Errorf("rekey documents: %w", err)
		}
		set, mac, err := s.rekeyDocument(ctx, sc, db, r, from, to, &st)
		if err != nil {
			return st, fmt.Errorf("rekey document %s: %w", r.ID, err)
		}
		if _, err := db.Collection(collDocuments).UpdateOne(ctx, bson.D{{Key: "_id", Value: r.ID}}, bson.D{{Key: "$set", Value: set}}); err != nil {
			return st, fmt.Errorf("rekey document %s: %w", r.ID, err)
		}
		if mac != "" {
			contentMACs = append(contentMACs, bson.D{{Key: "_id", Value: mac}, {Key: "document_id", Value: r.ID}})
		}
		st.Documents++
	}
	if err := cur.Err(); err != nil {
		return st, fmt.Errorf("rekey documents: %w", err)
	}
	// The duplicate claims are keyed hashes too: made again from the
	// documents' new content hashes.
	if _, err := db.Collection(collHashes).DeleteMany(ctx, bson.D{}); err != nil {
		return st, fmt.Errorf("rekey content hashes: %w", err)
	}
	for _, c := range contentMACs {
		if _, err := db.Collection(collHashes).InsertOne(ctx, c); err != nil && !mongo.IsDuplicateKeyError(err) {
			return st, fmt.Errorf("rekey content hashes: %w", err)
		}
	}
	for _, c := range []struct {
		coll, purpose string
		n             *int
	}{{collExtractions, purposeExtraction, &st.Extractions}, {collCorrections, purposeCorrection, &st.Corrections}} {
		if err := resealAll(ctx, db.Collection(c.coll), c.purpose, from, to, c.n); err != nil {
			return st, err
		}
	}
	return st, s.rekeyTemplates(ctx, db, from, to, &st)
}

// rekeyDocument re-encrypts one document's original, filename and text,
// and returns the fields of its record to set and its new content hash.
func (s Store) rekeyDocument(ctx context.Context, sc tenancy.Scope, db *mongo.Database, r record, from, to *seal.DataKey, st *RekeyStats) (bson.D, string, error) {
	name, err := from.Open(purposeFilename, r.ID, r.Filename)
	if err != nil {
		return nil, "", fmt.Errorf("filename: %w", err)
	}
	sealedName, err := to.Seal(purposeFilename, r.ID, name)
	if err != nil {
		return nil, "", err
	}
	set := bson.D{{Key: "filename", Value: sealedName}}
	id, err := uuid.Parse(r.ID)
	if err != nil {
		return nil, "", fmt.Errorf("id: %w", err)
	}
	mac := ""
	path := filepath.Join(sc.Files(s.Files), "documents", r.Category, r.ID)
	if !FilePath("documents/" + r.Category + "/" + r.ID) {
		return nil, "", fmt.Errorf("category %q is not a directory name", r.Category)
	}
	sum, err := rekeyFile(path, sc.Company(), id, from, to)
	switch {
	case errors.Is(err, os.ErrNotExist): // a failed intake's record: nothing to open, nothing to claim
	case err != nil:
		return nil, "", fmt.Errorf("original: %w", err)
	default:
		m, err := to.MAC(purposeContent, sum)
		if err != nil {
			return nil, "", err
		}
		mac = hex.EncodeToString(m)
		set = append(set, bson.E{Key: "content_mac", Value: mac})
		st.Files++
		st.Bytes += r.Size
	}
	var a analysisRecord
	err = db.Collection(collAnalyses).FindOne(ctx, bson.D{{Key: "_id", Value: r.ID}}).Decode(&a)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return set, mac, nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("text: %w", err)
	}
	plain, err := from.Open(purposeText, r.ID, a.Sealed)
	if err != nil {
		return nil, "", fmt.Errorf("text: %w", err)
	}
	var text extract.Text
	if err := json.Unmarshal(plain, &text); err != nil {
		return nil, "", fmt.Errorf("text: %w", err)
	}
	sealed, err := to.Seal(purposeText, r.ID, plain)
	if err != nil {
		return nil, "", err
	}
	if _, err := db.Collection(collAnalyses).UpdateOne(ctx, bson.D{{Key: "_id", Value: r.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "sealed", Value: sealed}}}}); err != nil {
		return nil, "", fmt.Errorf("text: %w", err)
	}
	terms, err := termHashes(to, searchWords(text.String()))
	if err != nil {
		return nil, "", err
	}
	st.Texts++
	return append(set, bson.E{Key: "terms", Value: terms}), mac, nil
}

// rekeyFile re-encrypts an original under to, through a new file that
// replaces it, and returns the SHA-256 of its plaintext.
func rekeyFile(path string, company, doc uuid.UUID, from, to *seal.DataKey) ([]byte, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".rekey-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	defer tmp.Close()
	cw, err := newChunkWriter(tmp, to, company, doc)
	if err != nil {
		return nil, err
	}
	sum := sha256.New()
	rc := &rechunker{cw: cw, sum: sum}
	if _, err := decryptTo(rc, src, from, company, doc); err != nil {
		return nil, err
	}
	if err := rc.close(); err != nil {
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, err
	}
	syncDir(filepath.Dir(path))
	return sum.Sum(nil), nil
}

// rechunker turns the plaintext stream back into chunks: a full chunk is
// written only once more data follows it, so the last is marked final,
// as Intake marks it.
type rechunker struct {
	cw  *chunkWriter
	sum interface{ Write([]byte) (int, error) }
	buf []byte
}

func (r *rechunker) Write(p []byte) (int, error) {
	r.sum.Write(p)
	r.buf = append(r.buf, p...)
	for len(r.buf) > chunkSize {
		if err := r.cw.writeChunk(r.buf[:chunkSize], false); err != nil {
			return 0, err
		}
		r.buf = append(r.buf[:0], r.buf[chunkSize:]...)
	}
	return len(p), nil
}

func (r *rechunker) close() error {
	if err := r.cw.writeChunk(r.buf, true); err != nil {
		return err
	}
	return r.cw.flush()
}

// resealAll re-encrypts the "sealed" field of every record of coll, whose
// AAD record is the record's id.
func resealAll(ctx context.Context, coll *mongo.Collection, purpose string, from, to *seal.DataKey, n *int) error {
	cur, err := coll.Find(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("rekey %s: %w", coll.Name(), err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var r struct {
			ID     string `bson:"_id"`
			Sealed []byte `bson:"sealed"`
		}
		if err := cur.Decode(&r); err != nil {
			return fmt.Errorf("rekey %s: %w", coll.Name(), err)
		}
		plain, err := from.Open(purpose, r.ID, r.Sealed)
		if err != nil {
			return fmt.Errorf("rekey %s %s: %w", coll.Name(), r.ID, err)
		}
		sealed, err := to.Seal(purpose, r.ID, plain)
		if err != nil {
			return err
		}
		if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: r.ID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "sealed", Value: sealed}}}}); err != nil {
			return fmt.Errorf("rekey %s %s: %w", coll.Name(), r.ID, err)
		}
		*n++
	}
	return cur.Err()
}

// rekeyTemplates re-seals each learned template under the id its vendor
// hashes to with to: the old record goes, the new one comes.
func (s Store) rekeyTemplates(ctx context.Context, db *mongo.Database, from, to *seal.DataKey, st *RekeyStats) error {
	coll := db.Collection(collTemplates)
	cur, err := coll.Find(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("rekey templates: %w", err)
	}
	var recs []templateRecord // at most maxTemplates, each small
	if err := cur.All(ctx, &recs); err != nil {
		return fmt.Errorf("rekey templates: %w", err)
	}
	var old []string
	for _, r := range recs {
		plain, err := from.Open(purposeTemplate, r.ID, r.Sealed)
		if err != nil {
			return fmt.Errorf("rekey template %s: %w", r.ID, err)
		}
		var t extract.Template
		if err := json.Unmarshal(plain, &t); err != nil {
			return fmt.Errorf("rekey template %s: %w", r.ID, err)
		}
		tid, err := templateID(to, t.Vendor)
		if err != nil {
			return err
		}
		sealed, err := to.Seal(purposeTemplate, tid, plain)
		if err != nil {
			return err
		}
		if _, err := coll.InsertOne(ctx, templateRecord{ID: tid, Sealed: sealed, UpdatedAt: r.UpdatedAt}); err != nil {
			return fmt.Errorf("rekey template %s: %w", r.ID, err)
		}
		old = append(old, r.ID)
		st.Templates++
	}
	if len(old) > 0 {
		slices.Sort(old)
		if _, err := coll.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: old}}}}); err != nil {
			return fmt.Errorf("rekey templates: %w", err)
		}
	}
	return nil
}

// templateID is a vendor template's id: the keyed hash of its folded name.
func templateID(key *seal.DataKey, vendor string) (string, error) {
	mac, err := key.MAC(purposeVendor, []byte(strings.Join(strings.Fields(strings.ToLower(vendor)), " ")))
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(mac), nil
}

// InterruptUnfinished fails every document the pipeline had not finished
// (queued or in a stage) with reason, so that a reviewer can retry it
// (Requeue): after a company import its jobs stayed in the source
// appliance's queue. It returns how many it failed.
func (s Store) InterruptUnfinished(ctx context.Context, sc tenancy.Scope, reason string) (int, error) {
	db, err := s.db(sc)
	if err != nil {
		return 0, err
	}
	res, err := db.Collection(collDocuments).UpdateMany(ctx,
		bson.D{{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{string(StatusQueued), string(StatusOCR), string(StatusClassify), string(StatusExtract)}}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: string(StatusFailed)}, {Key: "error", Value: reason}, {Key: "updated_at", Value: now()}}}})
	if err != nil {
		return 0, fmt.Errorf("interrupt unfinished documents: %w", err)
	}
	return int(res.ModifiedCount), nil
}
