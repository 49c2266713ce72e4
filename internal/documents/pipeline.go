package documents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/vanta-ledger/vanta/internal/extract"
	"github.com/vanta-ledger/vanta/internal/seal"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// TextReader reads a plaintext file's text (extract.ReadText).
type TextReader func(ctx context.Context, path string, kind extract.Kind, lim extract.Limits) (extract.Text, error)

// Extractor extracts fields: the ai.Router, or RulesExtractor.
type Extractor interface {
	Extract(ctx context.Context, s tenancy.Scope, in extract.Input) (extract.Extraction, error)
}

// RulesExtractor is an Extractor over an engine that needs no scope (the
// rules engine), for a machine without model servers and for tests.
type RulesExtractor struct{ Engine extract.Engine }

// Extract runs the engine.
func (r RulesExtractor) Extract(ctx context.Context, _ tenancy.Scope, in extract.Input) (extract.Extraction, error) {
	return r.Engine.Extract(ctx, in)
}

// Pipeline processes a document through its stages: ocr (the text of the
// decrypted original), classify, extract; then done, or needs_review.
type Pipeline struct {
	Store       Store
	Text        TextReader // nil = extract.ReadText
	Extractor   Extractor  // nil = the rules engine alone
	Limits      extract.Limits
	Temp        string  // where a plaintext copy lives while it is read; "" = the system's
	ReviewBelow float64 // confidence under which a document needs review; 0 = DefaultReviewBelow
}

// DefaultReviewBelow is the confidence under which an extraction goes to
// review rather than done.
const DefaultReviewBelow = 0.7

// Stage names, in order; while a stage runs the document's status is its
// name.
const (
	StageOCR      = "ocr"
	StageClassify = "classify"
	StageExtract  = "extract"
)

// analysisRecord is a document's sealed OCR text ("analyses").
type analysisRecord struct {
	ID         string    `bson:"_id"` // the document id
	DocumentID string    `bson:"document_id"`
	Method     string    `bson:"method"`
	Pages      int       `bson:"pages"`
	Sealed     []byte    `bson:"sealed"` // extract.Text as JSON
	CreatedAt  time.Time `bson:"created_at"`
}

const purposeText = "document-text"

// Process runs the stages the document has not finished, each recorded
// with its start, finish and error. It is idempotent: a job retried after
// a crash resumes at the first unfinished stage, and a document already
// done, in review, approved or failed is left as it is. A bad or
// unsupported file fails the document and returns a *PermanentError (the
// job must not be retried); any other error leaves the document at its
// stage with the error recorded, for a retry.
func (p Pipeline) Process(ctx context.Context, sc tenancy.Scope, id uuid.UUID) error {
	db, err := p.Store.db(sc)
	if err != nil {
		return err
	}
	r, err := p.Store.load(ctx, db, id)
	if err != nil {
		return err
	}
	switch Status(r.Status) {
	case StatusDone, StatusNeedsReview, StatusApproved, StatusFailed:
		return nil
	}
	key, err := p.Store.Keys.DataKey(ctx, sc)
	if err != nil {
		return fmt.Errorf("process document %s: %w", id, err)
	}
	defer key.Destroy()
	run := &run{p: p, sc: sc, db: db, key: key, r: r}

	var text extract.Text
	if run.finished(StageOCR) {
		if text, err = run.loadText(ctx); err != nil {
			return err
		}
	} else {
		if err := run.start(ctx, StageOCR); err != nil {
			return err
		}
		if text, err = run.ocr(ctx); err != nil {
			return run.failed(ctx, StageOCR, err)
		}
	}

	if !run.finished(StageClassify) {
		if err := run.start(ctx, StageClassify); err != nil {
			return err
		}
		class, conf := extract.Classify(text.String())
		run.r.Class, run.r.Confidence = string(class), conf
		if err := run.finish(ctx, StageClassify, bson.D{{Key: "class", Value: string(class)}, {Key: "confidence", Value: conf}}); err != nil {
			return err
		}
	}

	if !run.finished(StageExtract) {
		if err := run.start(ctx, StageExtract); err != nil {
			return err
		}
		x, err := run.extract(ctx, text)
		if err != nil {
			return run.failed(ctx, StageExtract, err)
		}
		version := run.r.ExtractionVersion + 1
		if err := p.Store.saveExtraction(ctx, db, key, id, version, x, ""); err != nil {
			return run.failed(ctx, StageExtract, err)
		}
		conf := documentConfidence(x)
		status := StatusDone
		if conf < p.reviewBelow() || !checksOK(x) || x.Fields.Total == "" {
			status = StatusNeedsReview
		}
		run.r.Status = string(status)
		if err := run.finish(ctx, StageExtract, bson.D{{Key: "extraction_version", Value: version},
			{Key: "confidence", Value: conf}, {Key: "class", Value: string(x.Class)}}); err != nil {
			return err
		}
	}
	return nil
}

func (p Pipeline) reviewBelow() float64 {
	if p.ReviewBelow > 0 {
		return p.ReviewBelow
	}
	return DefaultReviewBelow
}

// keyFields are the fields a document's confidence is made of: without
// them no entry can be drafted.
var keyFields = []string{extract.FieldVendorName, extract.FieldIssueDate, extract.FieldTotal}

// documentConfidence is the weakest of the class's and the key fields'
// confidences: a document is as trustworthy as its least sure part.
func documentConfidence(x extract.Extraction) float64 {
	c := x.ClassConfidence
	for _, f := range keyFields {
		c = min(c, x.Confidence[f])
	}
	return c
}

func checksOK(x extract.Extraction) bool {
	for _, c := range x.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// run is one Process call's state.
type run struct {
	p   Pipeline
	sc  tenancy.Scope
	db  *mongo.Database
	key *seal.DataKey
	r   record
}

func (u *run) finished(stage string) bool {
	for _, s := range u.r.Stages {
		if s.Name == stage && !s.Finished.IsZero() {
			return true
		}
	}
	return false
}

func (u *run) stage(name string) *stageRecord {
	for i := range u.r.Stages {
		if u.r.Stages[i].Name == name {
			return &u.r.Stages[i]
		}
	}
	u.r.Stages = append(u.r.Stages, stageRecord{Name: name})
	return &u.r.Stages[len(u.r.Stages)-1]
}

func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// save writes the stages, status and the extra fields in one update.
func (u *run) save(ctx context.Context, extra bson.D) error {
	u.r.UpdatedAt = now()
	set := append(bson.D{{Key: "stages", Value: u.r.Stages}, {Key: "status", Value: u.r.Status},
		{Key: "error", Value: u.r.Error}, {Key: "updated_at", Value: u.r.UpdatedAt}}, extra...)
	_, err := u.db.Collection(collDocuments).UpdateOne(ctx, bson.D{{Key: "_id", Value: u.r.ID}}, bson.D{{Key: "$set", Value: set}})
	if err != nil {
		return fmt.Errorf("document %s: record stage: %w", u.r.ID, err)
	}
	return nil
}

func (u *run) start(ctx context.Context, stage string) error {
	st := u.stage(stage)
	st.Started, st.Finished = now(), time.Time{}
	u.r.Status = stage
	return u.save(ctx, nil)
}

func (u *run) finish(ctx context.Context, stage string, extra bson.D) error {
	st := u.stage(stage)
	st.Finished, st.Error = now(), ""
	return u.save(ctx, extra)
}

// failed records a stage's error. A bad or unsupported file, or a stored
// file that no longer decrypts, fails the document for good.
func (u *run) failed(ctx context.Context, stage string, cause error) error {
	st := u.stage(stage)
	st.Error = cause.Error()
	permanent := permanentCause(cause)
	if permanent {
		u.r.Status, u.r.Error = string(StatusFailed), reason(cause)
	}
	// The record must be written even if the job's context is what ended.
	if err := u.save(context.WithoutCancel(ctx), nil); err != nil {
		return errors.Join(cause, err)
	}
	err := fmt.Errorf("document %s: %s: %w", u.r.ID, stage, cause)
	if permanent {
		return &PermanentError{Err: err}
	}
	return err
}

func permanentCause(err error) bool {
	var bad *extract.BadFileError
	return errors.As(err, &bad) || errors.Is(err, extract.ErrUnsupportedType) || errors.Is(err, ErrCorrupt)
}

// reason is what the document shows of a permanent failure: the bad
// file's own reason when there is one.
func reason(err error) string {
	var bad *extract.BadFileError
	if errors.As(err, &bad) {
		return bad.Reason
	}
	return err.Error()
}

// Fail marks a document failed with reason: the job handler calls it when
// a job runs out of attempts, so the document does not stay at its stage.
func (s Store) Fail(ctx context.Context, sc tenancy.Scope, id uuid.UUID, reason string) error {
	db, err := s.db(sc)
	if err != nil {
		return err
	}
	res, err := db.Collection(collDocuments).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id.String()}, {Key: "status", Value: bson.D{{Key: "$nin", Value: bson.A{
			string(StatusDone), string(StatusNeedsReview), string(StatusApproved)}}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: string(StatusFailed)}, {Key: "error", Value: reason},
			{Key: "updated_at", Value: now()}}}})
	if err != nil {
		return fmt.Errorf("fail document %s: %w", id, err)
	}
	if res.MatchedCount == 0 {
		if _, err := s.load(ctx, db, id); err != nil {
			return err
		}
	}
	return nil
}

// ocr reads the text of a private plaintext copy of the original, stores
// it sealed in "analyses" and the keyed hashes of its words on the
// document, and finishes the stage.
func (u *run) ocr(ctx context.Context) (extract.Text, error) {
	d := u.r.document("")
	path, kind, err := u.p.Store.openWith(u.sc, d, u.key, u.p.Temp)
	if err != nil {
		return extract.Text{}, err
	}
	defer os.Remove(path)
	lim := u.p.Limits
	if lim == (extract.Limits{}) {
		lim = extract.DefaultLimits()
	}
	read := u.p.Text
	if read == nil {
		read = extract.ReadText
	}
	text, err := read(ctx, path, kind, lim)
	if err != nil {
		return extract.Text{}, err
	}
	plain, err := json.Marshal(text)
	if err != nil {
		return extract.Text{}, err
	}
	sealed, err := u.key.Seal(purposeText, u.r.ID, plain)
	if err != nil {
		return extract.Text{}, err
	}
	a := analysisRecord{ID: u.r.ID, DocumentID: u.r.ID, Method: text.Method, Pages: len(text.Pages), Sealed: sealed, CreatedAt: now()}
	if _, err := u.db.Collection(collAnalyses).ReplaceOne(ctx, bson.D{{Key: "_id", Value: u.r.ID}}, a,
		options.Replace().SetUpsert(true)); err != nil {
		return extract.Text{}, fmt.Errorf("store text: %w", err)
	}
	terms, err := termHashes(u.key, searchWords(text.String()))
	if err != nil {
		return extract.Text{}, err
	}
	u.r.Terms = terms
	if err := u.finish(ctx, StageOCR, bson.D{{Key: "terms", Value: terms}}); err != nil {
		return extract.Text{}, err
	}
	return text, nil
}

func (u *run) loadText(ctx context.Context) (extract.Text, error) {
	return u.p.Store.text(ctx, u.db, u.key, u.r.ID)
}

func (s Store) text(ctx context.Context, db *mongo.Database, key *seal.DataKey, id string) (extract.Text, error) {
	var a analysisRecord
	if err := db.Collection(collAnalyses).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&a); err != nil {
		return extract.Text{}, fmt.Errorf("document %s: text: %w", id, err)
	}
	plain, err := key.Open(purposeText, id, a.Sealed)
	if err != nil {
		return extract.Text{}, fmt.Errorf("document %s: text: %w", id, err)
	}
	var t extract.Text
	if err := json.Unmarshal(plain, &t); err != nil {
		return extract.Text{}, fmt.Errorf("document %s: text: %w", id, err)
	}
	return t, nil
}

func (u *run) extract(ctx context.Context, text extract.Text) (extract.Extraction, error) {
	templates, err := u.p.Store.templates(ctx, u.db, u.key)
	if err != nil {
		return extract.Extraction{}, err
	}
	var words []extract.Word
	for _, pg := range text.Pages {
		words = append(words, pg.Words...)
	}
	in := extract.Input{Text: text.String(), Words: words, Class: extract.Class(u.r.Class), ClassConfidence: u.r.Confidence, Templates: templates}
	var ex Extractor = RulesExtractor{Engine: extract.Rules()}
	if u.p.Extractor != nil {
		ex = u.p.Extractor
	}
	x, err := ex.Extract(ctx, u.sc, in)
	if err != nil {
		return extract.Extraction{}, err
	}
	if x.Class == "" {
		x.Class, x.ClassConfidence = in.Class, in.ClassConfidence
	}
	return x, nil
}

// saveExtraction stores version of a document's extraction, sealed. The
// record's id is derived from the document and version, so a stage
// repeated after a crash rewrites the same record.
func (s Store) saveExtraction(ctx context.Context, db *mongo.Database, key *seal.DataKey, id uuid.UUID, version int, x extract.Extraction, by string) error {
	plain, err := json.Marshal(x)
	if err != nil {
		return err
	}
	xid := extractionID(id, version)
	sealed, err := key.Seal(purposeExtraction, xid, plain)
	if err != nil {
		return err
	}
	rec := extractionRecord{ID: xid, DocumentID: id.String(), Version: version, Engine: x.Engine, Sealed: sealed, CreatedAt: now(), CreatedBy: by}
	if _, err := db.Collection(collExtractions).ReplaceOne(ctx, bson.D{{Key: "_id", Value: xid}}, rec, options.Replace().SetUpsert(true)); err != nil {
		return fmt.Errorf("document %s: store extraction: %w", id, err)
	}
	return nil
}
