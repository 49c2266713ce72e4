// Package documents keeps a company's documents: intake (streamed,
// sniffed, size- and quota-limited, deduplicated by a keyed content hash),
// encrypted storage of the original under the company's files directory,
// metadata, OCR text and extractions in the company's MongoDB database
// (text and extractions sealed with the company's data key; search by
// keyed term hashes, never plaintext), the processing pipeline's state,
// review (corrections, learned vendor templates) and approval into the
// ledger as a draft journal entry linked both ways.
//
// Every function on company data takes a tenancy.Scope; collection names
// are constants and the database name is the scope's.
package documents

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/vanta-ledger/vanta/internal/extract"
	"github.com/vanta-ledger/vanta/internal/ledger"
	"github.com/vanta-ledger/vanta/internal/seal"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// Status is where a document is in its life.
type Status string

// Statuses, as API.md names them.
const (
	StatusQueued      Status = "queued"
	StatusOCR         Status = "ocr"
	StatusClassify    Status = "classify"
	StatusExtract     Status = "extract"
	StatusDone        Status = "done"
	StatusNeedsReview Status = "needs_review"
	StatusApproved    Status = "approved"
	StatusFailed      Status = "failed"
)

// Statuses lists every status, for validating a filter.
var Statuses = []Status{StatusQueued, StatusOCR, StatusClassify, StatusExtract, StatusDone, StatusNeedsReview, StatusApproved, StatusFailed}

// Stage is one pipeline stage's record: when it started and finished and
// the error of its last failed attempt ("" once it succeeds).
type Stage struct {
	Name     string    `json:"name"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Error    string    `json:"error,omitempty"`
}

// Document is a document's metadata and its current extraction.
type Document struct {
	ID, JobID      uuid.UUID
	Filename       string // as uploaded; stored sealed
	Kind           string // extract.Kind, sniffed from the content
	Category       string // the directory the encrypted original lives in
	Size           int64  // bytes of the original
	Status         Status
	Type           extract.Class
	Confidence     float64
	Extraction     *extract.Extraction // nil until extracted
	Error          string              // why it failed
	Stages         []Stage
	JournalEntryID *uuid.UUID
	Duplicate      bool // Intake found the same content already stored; this is the earlier document
	CreatedAt      time.Time
	UpdatedAt      time.Time
	CreatedBy      uuid.UUID
}

// Keys gives a company's data key; the caller destroys it after use.
type Keys interface {
	DataKey(ctx context.Context, s tenancy.Scope) (*seal.DataKey, error)
}

// StorageQuota counts stored bytes per company (quota.Quotas).
type StorageQuota interface {
	ReserveStorage(ctx context.Context, s tenancy.Scope, n int64) error
	ReleaseStorage(ctx context.Context, s tenancy.Scope, n int64) error
}

// Store is the documents of every company, one scope at a time.
type Store struct {
	Mongo    *mongo.Client
	Files    string // $DATA/companies
	Keys     Keys
	Ledger   ledger.Store
	Quota    StorageQuota // nil: no storage quota
	MaxBytes int64        // largest original accepted; 0 = DefaultMaxBytes
}

// DefaultMaxBytes is the size limit of an upload when Store.MaxBytes is 0.
const DefaultMaxBytes = 50 << 20

func (s Store) maxBytes() int64 {
	if s.MaxBytes > 0 {
		return s.MaxBytes
	}
	return DefaultMaxBytes
}

// Collections of a company's database. Constants: nothing names a
// collection from input.
const (
	collDocuments   = "documents"
	collAnalyses    = "analyses"    // sealed OCR text, one per document
	collExtractions = "extractions" // sealed extractions, one per version
	collHashes      = "document_hashes"
	collCorrections = "corrections" // (original, corrected) pairs: training data
	collTemplates   = "templates"   // learned vendor templates, sealed
)

func (s Store) db(sc tenancy.Scope) (*mongo.Database, error) {
	if !sc.Valid() {
		return nil, tenancy.ErrNoScope
	}
	return s.Mongo.Database(sc.MongoDatabase()), nil
}

// ErrNotFound is a document the company does not have.
var ErrNotFound = errors.New("documents: no such document")

// ErrEmpty is an upload of zero bytes.
var ErrEmpty = errors.New("documents: empty file")

// TooLargeError is an upload over the size limit.
type TooLargeError struct{ Limit int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("documents: file is larger than the limit of %d bytes", e.Limit)
}

// UnsupportedTypeError is an upload whose content is none of the accepted
// types (PDF, PNG, JPEG, TIFF), whatever its name says.
type UnsupportedTypeError struct{ Filename string }

func (e *UnsupportedTypeError) Error() string {
	return fmt.Sprintf("documents: %q is not a PDF, PNG, JPEG or TIFF file", e.Filename)
}

func (e *UnsupportedTypeError) Unwrap() error { return extract.ErrUnsupportedType }

// StateError is an action the document's status does not allow (approve
// a failed document, correct an approved one).
type StateError struct {
	Status Status
	Action string
}

func (e *StateError) Error() string {
	return fmt.Sprintf("documents: cannot %s a document that is %s", e.Action, e.Status)
}

// FieldError is a bad or missing field of an extraction, named by its JSON
// name (extract.Fields' tags, "vat[0].amount").
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return fmt.Sprintf("documents: %s: %s", e.Field, e.Message) }

// PermanentError is a failure that retrying cannot mend (a bad or
// unsupported file): the document is failed and the job must not be
// retried. The job handler maps it with errors.As (or the Permanent
// method) to jobs.Permanent.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string   { return e.Err.Error() }
func (e *PermanentError) Unwrap() error   { return e.Err }
func (e *PermanentError) Permanent() bool { return true }

// IsPermanent reports whether err is a PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// CompanyKeys opens a company's data key from its wrapped DEK in
// vanta.companies with the root keyring of the moment (the API's
// currentKeyring; seal.Keyring in tests). Sealed, it fails with the
// keyring's error (seal.ErrSealed).
type CompanyKeys struct {
	DB interface {
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
	Root tenancy.Keys
}

// DataKey unwraps the scope's company data key.
func (k CompanyKeys) DataKey(ctx context.Context, s tenancy.Scope) (*seal.DataKey, error) {
	if !s.Valid() {
		return nil, tenancy.ErrNoScope
	}
	var dek []byte
	err := k.DB.QueryRow(ctx, "SELECT dek FROM vanta.companies WHERE id = $1", s.Company()).Scan(&dek)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && dek == nil { // purged: the key is gone
		return nil, fmt.Errorf("data key of %s: %w", s.Company(), tenancy.ErrCompanyNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("data key of %s: %w", s.Company(), err)
	}
	return k.Root.DataKey(s.Company().String(), dek)
}
