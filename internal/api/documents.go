package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/riverqueue/river/rivertype"

	"github.com/vanta-ledger/vanta/internal/documents"
	"github.com/vanta-ledger/vanta/internal/extract"
	"github.com/vanta-ledger/vanta/internal/jobs"
	"github.com/vanta-ledger/vanta/internal/upload"
)

// Documents: intake of receipts, invoices and statements (multipart,
// streamed into the company's encrypted store, never whole in memory), the
// pipeline's progress, the reviewer's corrections, approval into a draft
// journal entry, and the original for the reviewer's eyes. The store and
// the job queue are internal/documents' and internal/jobs'; these
// handlers only turn HTTP into their calls (documents_service.go wires
// them to the appliance).

// documentStarted is API.md's 202 {"document_id","job_id"}; a duplicate
// answers 200 with the existing document's ids and duplicate true.
type documentStarted struct {
	DocumentID uuid.UUID `json:"document_id"`
	JobID      uuid.UUID `json:"job_id"`
	Duplicate  bool      `json:"duplicate,omitempty"`
}

type stageJSON struct {
	Name       string     `json:"name"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	DurationMS *int64     `json:"duration_ms"`
	Error      string     `json:"error,omitempty"`
}

type extractionCheck struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Message string `json:"message,omitempty"`
}

// extractionJSON is what either engine found, with where it came from
// (engine, model, prompt version) and why the LLM was not used when it
// was not (fallback_reason).
type extractionJSON struct {
	Class           string            `json:"class"`
	ClassConfidence string            `json:"class_confidence"`
	Fields          extractedFields   `json:"fields"`
	Confidence      []fieldConfidence `json:"confidence"`
	Checks          []extractionCheck `json:"checks"`
	Engine          string            `json:"engine"`
	Model           string            `json:"model,omitempty"`
	PromptVersion   string            `json:"prompt_version,omitempty"`
	DurationMS      int64             `json:"duration_ms"`
	FallbackReason  string            `json:"fallback_reason,omitempty"`
}

// fieldConfidence is one field's confidence, by its json name; like
// every confidence of the API, a decimal string from "0.00" to "1.00"
// (the API carries no floats).
type fieldConfidence struct {
	Field      string `json:"field"`
	Confidence string `json:"confidence"`
}

// confidence writes a 0..1 confidence as a decimal string of two places.
func confidence(f float64) string { return strconv.FormatFloat(min(max(f, 0), 1), 'f', 2, 64) }

// extractedFields is extract.Fields as the API reads and writes it: the
// same json names (one schema for both engines and the reviewer), under
// names of its own in the OpenAPI document.
type extractedFields struct {
	VendorName     string             `json:"vendor_name"`
	VendorPIN      string             `json:"vendor_pin"`
	Customer       string             `json:"customer"`
	DocumentNumber string             `json:"document_number"`
	IssueDate      string             `json:"issue_date"`
	DueDate        string             `json:"due_date"`
	Currency       string             `json:"currency"`
	Subtotal       string             `json:"subtotal"`
	VAT            []extractedVATLine `json:"vat"`
	Total          string             `json:"total"`
	Lines          []extractedLine    `json:"lines"`
	PaymentMethod  string             `json:"payment_method"`
}

type extractedVATLine struct {
	Rate   string `json:"rate"`
	Amount string `json:"amount"`
}

type extractedLine struct {
	Description string `json:"description"`
	Quantity    string `json:"quantity"`
	UnitPrice   string `json:"unit_price"`
	Amount      string `json:"amount"`
}

func fieldsOut(f extract.Fields) extractedFields {
	out := extractedFields{VendorName: f.VendorName, VendorPIN: f.VendorPIN, Customer: f.Customer, DocumentNumber: f.DocumentNumber,
		IssueDate: f.IssueDate, DueDate: f.DueDate, Currency: f.Currency, Subtotal: f.Subtotal, Total: f.Total, PaymentMethod: f.PaymentMethod,
		VAT: make([]extractedVATLine, 0, len(f.VAT)), Lines: make([]extractedLine, 0, len(f.Lines))}
	for _, v := range f.VAT {
		out.VAT = append(out.VAT, extractedVATLine{Rate: v.Rate, Amount: v.Amount})
	}
	for _, l := range f.Lines {
		out.Lines = append(out.Lines, extractedLine{Description: l.Description, Quantity: l.Quantity, UnitPrice: l.UnitPrice, Amount: l.Amount})
	}
	return out
}

func (f extractedFields) fields() extract.Fields {
	out := extract.Fields{VendorName: f.VendorName, VendorPIN: f.VendorPIN, Customer: f.Customer, DocumentNumber: f.DocumentNumber,
		IssueDate: f.IssueDate, DueDate: f.DueDate, Currency: f.Currency, Subtotal: f.Subtotal, Total: f.Total, PaymentMethod: f.PaymentMethod}
	for _, v := range f.VAT {
		out.VAT = append(out.VAT, extract.VATLine{Rate: v.Rate, Amount: v.Amount})
	}
	for _, l := range f.Lines {
		out.Lines = append(out.Lines, extract.Line{Description: l.Description, Quantity: l.Quantity, UnitPrice: l.UnitPrice, Amount: l.Amount})
	}
	return out
}

// documentJSON is API.md's {"id","status","type","confidence",
// "extraction","error"} with the stages, the file's facts and the journal
// entry approval made.
type documentJSON struct {
	ID             uuid.UUID       `json:"id"`
	JobID          uuid.UUID       `json:"job_id"`
	Status         string          `json:"status"`
	Type           string          `json:"type"`
	Confidence     string          `json:"confidence"`
	Extraction     *extractionJSON `json:"extraction"`
	Error          *string         `json:"error"`
	Stages         []stageJSON     `json:"stages"`
	Filename       string          `json:"filename"`
	Kind           string          `json:"kind"`
	Category       string          `json:"category"`
	Size           int64           `json:"size"`
	JournalEntryID *uuid.UUID      `json:"journal_entry_id"`
	CreatedBy      uuid.UUID       `json:"created_by"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

// approveRequest optionally names the accounts and the description of
// the draft entry; left out, the documents store picks the accounts by
// role from the document's type.
type approveRequest struct {
	DebitAccount  string `json:"debit_account"`
	CreditAccount string `json:"credit_account"`
	Description   string `json:"description"`
}

type approved struct {
	JournalEntryID uuid.UUID `json:"journal_entry_id"`
}

func stageOut(st documents.Stage) stageJSON {
	out := stageJSON{Name: st.Name, Error: st.Error}
	if !st.Started.IsZero() {
		t := st.Started.UTC()
		out.StartedAt = &t
	}
	if !st.Finished.IsZero() {
		t := st.Finished.UTC()
		out.FinishedAt = &t
		if !st.Started.IsZero() {
			ms := st.Finished.Sub(st.Started).Milliseconds()
			out.DurationMS = &ms
		}
	}
	return out
}

func extractionOut(x *extract.Extraction) *extractionJSON {
	if x == nil {
		return nil
	}
	out := &extractionJSON{Class: string(x.Class), ClassConfidence: confidence(x.ClassConfidence), Fields: fieldsOut(x.Fields), Confidence: []fieldConfidence{},
		Checks: make([]extractionCheck, 0, len(x.Checks)), Engine: x.Engine, Model: x.Model, PromptVersion: x.PromptVersion,
		DurationMS: x.Duration.Milliseconds(), FallbackReason: x.FallbackReason}
	names := make([]string, 0, len(x.Confidence))
	for name := range x.Confidence {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		out.Confidence = append(out.Confidence, fieldConfidence{Field: name, Confidence: confidence(x.Confidence[name])})
	}
	for _, ch := range x.Checks {
		out.Checks = append(out.Checks, extractionCheck{Name: ch.Name, OK: ch.OK, Message: ch.Message})
	}
	return out
}

func documentOut(d documents.Document) documentJSON {
	out := documentJSON{ID: d.ID, JobID: d.JobID, Status: string(d.Status), Type: string(d.Type), Confidence: confidence(d.Confidence),
		Extraction: extractionOut(d.Extraction), Stages: make([]stageJSON, 0, len(d.Stages)), Filename: d.Filename, Kind: d.Kind,
		Category: d.Category, Size: d.Size, JournalEntryID: d.JournalEntryID, CreatedBy: d.CreatedBy, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	if d.Error != "" {
		out.Error = &d.Error
	}
	for _, st := range d.Stages {
		out.Stages = append(out.Stages, stageOut(st))
	}
	return out
}

// documentID reads {docid}; a malformed one is as missing as an unknown one.
func documentID(c *gin.Context) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param("docid"))
	if err != nil {
		return uuid.Nil, notFound("no such document", "")
	}
	return id, nil
}

// uploadDocument streams multipart field "file" into the company's store.
// A body declared larger than the limit is refused at once (413); then
// the AI allowance is charged (one request per document, whatever engine
// later reads it: 429 when used up, before a byte is stored); the
// store then sniffs the type from the content (415), refuses an empty
// file (400) or one over the limit or the storage allowance (413) and
// keeps an encrypted copy; the job goes in the queue last.
func (s *server) uploadDocument(c *gin.Context) error {
	rt, err := s.documentsRuntime()
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	sc := scope(c)
	maxBytes := rt.store.MaxBytes
	r := c.Request
	if r.ContentLength > maxBytes+formSlack {
		// Declared too large: refused before it costs an AI request.
		return &upload.TooLargeError{Field: "file", Limit: maxBytes}
	}
	if err := rt.quotas.AIRequest(ctx, sc); err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(c.Writer, r.Body, maxBytes+formSlack)
	part, name, err := filePart(r)
	if err != nil {
		return err
	}
	doc, err := rt.store.Intake(ctx, sc, part, name, s.actor(c))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &upload.TooLargeError{Field: "file", Limit: maxBytes}
		}
		return err
	}
	if doc.Duplicate {
		c.JSON(http.StatusOK, documentStarted{DocumentID: doc.ID, JobID: doc.JobID, Duplicate: true})
		return nil
	}
	if err := rt.queue.EnqueueDocument(ctx, sc, doc.ID, doc.JobID); err != nil {
		return fmt.Errorf("enqueue document %s: %w", doc.ID, err)
	}
	c.JSON(http.StatusAccepted, documentStarted{DocumentID: doc.ID, JobID: doc.JobID})
	return nil
}

// formSlack is what a multipart body may carry besides the file.
const formSlack = 64 << 10

// filePart finds multipart field "file" and the name the client gave it.
func filePart(r *http.Request) (io.Reader, string, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return nil, "", &upload.FormError{Field: "file", Problem: "send the file as multipart/form-data in field file"}
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, "", &upload.FormError{Field: "file", Problem: "the multipart form cannot be read", Err: err}
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, "", &upload.FormError{Field: "file", Problem: "the form has no file field"}
		}
		if err != nil {
			return nil, "", &upload.FormError{Field: "file", Problem: "the multipart form cannot be read", Err: err}
		}
		if part.FormName() == "file" {
			return part, part.FileName(), nil
		}
		if _, err := io.Copy(io.Discard, part); err != nil {
			return nil, "", &upload.FormError{Field: "file", Problem: "the multipart form cannot be read", Err: err}
		}
	}
}

func (s *server) listDocuments(c *gin.Context) error {
	limit, cursor, err := page(c)
	if err != nil {
		return err
	}
	status := c.Query("status")
	if status != "" && !validStatus(status) {
		return badRequest("validation_failed", "status must be one of queued, ocr, classify, extract, done, needs_review, approved, failed", "status")
	}
	rt, err := s.documentsRuntime()
	if err != nil {
		return err
	}
	docs, next, err := rt.store.List(c.Request.Context(), scope(c), documents.Filter{Status: documents.Status(status), Q: c.Query("q"), Cursor: cursor, Limit: limit})
	if err != nil {
		return err
	}
	items := make([]documentJSON, 0, len(docs))
	for _, d := range docs {
		items = append(items, documentOut(d))
	}
	if next != "" {
		next = nextCursor(next)
	}
	c.JSON(http.StatusOK, listPage[documentJSON]{Items: items, NextCursor: next})
	return nil
}

var documentStatuses = []string{"queued", "ocr", "classify", "extract", "done", "needs_review", "approved", "failed"}

func validStatus(s string) bool {
	for _, v := range documentStatuses {
		if v == s {
			return true
		}
	}
	return false
}

func (s *server) getDocument(c *gin.Context) error {
	id, err := documentID(c)
	if err != nil {
		return err
	}
	rt, err := s.documentsRuntime()
	if err != nil {
		return err
	}
	d, err := rt.store.Get(c.Request.Context(), scope(c), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, documentOut(d))
	return nil
}

// correctDocument takes the reviewer's fields (extract.Fields by their
// json names; an unknown one is a 400 naming it) and answers the document.
func (s *server) correctDocument(c *gin.Context) error {
	id, err := documentID(c)
	if err != nil {
		return err
	}
	var f extractedFields
	if err := decode(c, &f); err != nil {
		return err
	}
	rt, err := s.documentsRuntime()
	if err != nil {
		return err
	}
	d, err := rt.store.Correct(c.Request.Context(), scope(c), id, f.fields(), s.actor(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, documentOut(d))
	return nil
}

func (s *server) approveDocument(c *gin.Context) error {
	id, err := documentID(c)
	if err != nil {
		return err
	}
	var in approveRequest
	if c.Request.ContentLength != 0 {
		if err := decode(c, &in); err != nil {
			return err
		}
	}
	rt, err := s.documentsRuntime()
	if err != nil {
		return err
	}
	entry, err := rt.store.Approve(c.Request.Context(), scope(c), id, documents.ApproveInput{DebitAccount: in.DebitAccount, CreditAccount: in.CreditAccount, Description: in.Description}, s.actor(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, approved{JournalEntryID: entry})
	return nil
}

// documentFile streams the original, decrypted chunk by chunk, with the
// media type of the kind the content was sniffed as (never the client's).
func (s *server) documentFile(c *gin.Context) error {
	id, err := documentID(c)
	if err != nil {
		return err
	}
	rt, err := s.documentsRuntime()
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	d, err := rt.store.Get(ctx, scope(c), id)
	if err != nil {
		return err
	}
	// The store decrypts into a private file of the appliance's temporary
	// directory, which is streamed and removed.
	path, kind, err := rt.store.Open(ctx, scope(c), id, rt.temp)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("document %s: %w", id, err)
	}
	defer f.Close()
	c.Header("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": downloadName(d)}))
	c.DataFromReader(http.StatusOK, d.Size, mediaType(string(kind)), f, nil)
	return nil
}

func mediaType(kind string) string {
	switch extract.Kind(kind) {
	case extract.KindPDF:
		return "application/pdf"
	case extract.KindPNG:
		return "image/png"
	case extract.KindJPEG:
		return "image/jpeg"
	case extract.KindTIFF:
		return "image/tiff"
	}
	return "application/octet-stream"
}

// downloadName is the client's name when it gave one, else the id with
// the kind's extension.
func downloadName(d documents.Document) string {
	if d.Filename != "" {
		return d.Filename
	}
	return d.ID.String() + "." + d.Kind
}

// retryDocument puts a failed document back in the queue: 202 with its
// ids, as an upload answers.
func (s *server) retryDocument(c *gin.Context) error {
	id, err := documentID(c)
	if err != nil {
		return err
	}
	rt, err := s.documentsRuntime()
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	// A document turns failed a moment before its job ends; a job not
	// ended yet would swallow the new one (one job per document).
	job, err := rt.queue.Job(ctx, scope(c), id)
	if err != nil && !errors.Is(err, jobs.ErrNotFound) {
		return err
	}
	if err == nil && job.State != rivertype.JobStateCancelled && job.State != rivertype.JobStateDiscarded && job.State != rivertype.JobStateCompleted {
		return &apiError{status: http.StatusConflict, code: "invalid_status", retryAfter: time.Second,
			message: "the document's last job is still " + string(job.State) + "; retry in a moment"}
	}
	d, err := rt.store.Requeue(ctx, scope(c), id)
	if err != nil {
		return err
	}
	if err := rt.queue.EnqueueDocument(ctx, scope(c), d.ID, d.JobID); err != nil {
		return fmt.Errorf("enqueue document %s: %w", d.ID, err)
	}
	c.JSON(http.StatusAccepted, documentStarted{DocumentID: d.ID, JobID: d.JobID})
	return nil
}

// deleteDocument cancels the document's job and removes the document
// with its file; its bytes return to the company's storage allowance. An
// approved document stays (409): a journal entry names it.
func (s *server) deleteDocument(c *gin.Context) error {
	id, err := documentID(c)
	if err != nil {
		return err
	}
	rt, err := s.documentsRuntime()
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	d, err := rt.store.Get(ctx, scope(c), id)
	if err != nil {
		return err
	}
	if d.Status == documents.StatusApproved {
		return &documents.StateError{Status: d.Status, Action: "delete"}
	}
	if err := rt.queue.Cancel(ctx, scope(c), d.ID); err != nil && !errors.Is(err, jobs.ErrNotFound) {
		return fmt.Errorf("cancel the job of document %s: %w", d.ID, err)
	}
	if _, err := rt.store.Remove(ctx, scope(c), id); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// documentsStatus maps internal/documents' typed errors (called from
// typedStatus).
func documentsStatus(err error) *apiError {
	var tooBig *documents.TooLargeError
	if errors.As(err, &tooBig) {
		return &apiError{status: http.StatusRequestEntityTooLarge, code: "too_large", field: "file",
			message: fmt.Sprintf("the file is larger than the limit of %d bytes", tooBig.Limit)}
	}
	if errors.Is(err, documents.ErrBadCursor) {
		return badCursor()
	}
	if errors.Is(err, documents.ErrEmpty) {
		return &apiError{status: http.StatusBadRequest, code: "validation_failed", message: "the file is empty", field: "file"}
	}
	var badType *documents.UnsupportedTypeError
	if errors.As(err, &badType) {
		return &apiError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type",
			message: "the content is not a PDF, PNG, JPEG or TIFF file (the type is read from the content, not the name)", field: "file"}
	}
	var se *documents.StateError
	if errors.As(err, &se) {
		return &apiError{status: http.StatusConflict, code: "invalid_status", message: strings.TrimPrefix(se.Error(), "documents: ")}
	}
	var fe *documents.FieldError
	if errors.As(err, &fe) {
		return &apiError{status: http.StatusBadRequest, code: "validation_failed", message: fe.Message, field: fe.Field}
	}
	var bad *extract.BadFileError
	if errors.As(err, &bad) {
		return &apiError{status: http.StatusBadRequest, code: "bad_file", message: bad.Error(), field: "file"}
	}
	return nil
}
