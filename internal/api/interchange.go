package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/interchange"
	"github.com/vanta-ledger/vanta/internal/statements"
	"github.com/vanta-ledger/vanta/internal/upload"
)

// Interchange: the books out as a journal hledger checks or as CSV, and
// in from a journal (hledger, ledger-cli) or a bank or M-Pesa statement.
// An import answers 202 once its row exists and runs in the appliance's
// background jobs (s.imports), stopped with them; GET imports/{id} shows
// its progress and, when it failed, the lines at fault.

type importJSON struct {
	ID         uuid.UUID               `json:"id"`
	Format     string                  `json:"format"`
	Status     string                  `json:"status"`
	Progress   importProgress          `json:"progress"`
	Errors     []interchange.LineError `json:"errors"`
	Entries    int                     `json:"entries"`
	CreatedBy  string                  `json:"created_by"`
	CreatedAt  time.Time               `json:"created_at"`
	FinishedAt *time.Time              `json:"finished_at"`
}

type importProgress struct {
	Done  int `json:"done"`
	Total int `json:"total"`
}

type importStarted struct {
	ImportID uuid.UUID `json:"import_id"`
}

func importOut(im interchange.Import) importJSON {
	return importJSON{ID: im.ID, Format: im.Format, Status: im.Status, Progress: importProgress{Done: im.Done, Total: im.Total},
		Errors: im.Errors, Entries: im.Entries, CreatedBy: im.CreatedBy, CreatedAt: im.CreatedAt, FinishedAt: im.FinishedAt}
}

func (s *server) importRunner(c *gin.Context) (interchange.Runner, error) {
	d, err := s.companyStores(c)
	if err != nil {
		return interchange.Runner{}, err
	}
	return interchange.Runner{DB: d.stores.App, Status: d.stores.App, Scope: scope(c)}, nil
}

func exportFormat(c *gin.Context, param string) (string, error) {
	f := c.DefaultQuery(param, interchange.FormatJournal)
	if f != interchange.FormatJournal && f != interchange.FormatCSV {
		return "", badRequest("validation_failed", "format must be journal or csv", param)
	}
	return f, nil
}

func (s *server) exportBooks(c *gin.Context) error {
	format, err := exportFormat(c, "format")
	if err != nil {
		return err
	}
	r, err := s.importRunner(c)
	if err != nil {
		return err
	}
	// Written to memory first, so that a failure is an error answer and
	// never half a file.
	var b bytes.Buffer
	if err := r.Export(c.Request.Context(), format, &b); err != nil {
		return err
	}
	ctype, name := "text/plain; charset=utf-8", "books.journal"
	if format == interchange.FormatCSV {
		ctype, name = "text/csv; charset=utf-8", "books.csv"
	}
	c.Header("Content-Disposition", `attachment; filename="`+name+`"`)
	c.Data(http.StatusOK, ctype, b.Bytes())
	return nil
}

// importBody reads the file: multipart field "file", or the raw body.
func importBody(c *gin.Context) ([]byte, error) {
	limit := int64(interchange.MaxImportBytes)
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if mt == "multipart/form-data" {
		mr, err := c.Request.MultipartReader()
		if err != nil {
			return nil, &upload.FormError{Field: "file", Problem: "the multipart form cannot be read", Err: err}
		}
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil, &upload.FormError{Field: "file", Problem: "the form has no file field"}
			}
			if err != nil {
				return nil, &upload.FormError{Field: "file", Problem: "the multipart form cannot be read", Err: err}
			}
			if part.FormName() != "file" {
				continue
			}
			b, err := io.ReadAll(io.LimitReader(part, limit+1))
			if err != nil {
				return nil, &upload.FormError{Field: "file", Problem: "the body ended before the file did", Err: err}
			}
			if int64(len(b)) > limit {
				return nil, &upload.TooLargeError{Field: "file", Limit: limit}
			}
			return b, nil
		}
	}
	if c.Request.ContentLength > limit {
		return nil, &upload.TooLargeError{Field: "body", Limit: limit}
	}
	b, err := io.ReadAll(io.LimitReader(c.Request.Body, limit+1))
	if err != nil {
		return nil, &upload.FormError{Field: "body", Problem: "the body ended before the file did", Err: err}
	}
	if int64(len(b)) > limit {
		return nil, &upload.TooLargeError{Field: "body", Limit: limit}
	}
	if len(b) == 0 {
		return nil, badRequest("validation_failed", "send the file as the request body or as multipart field file", "file")
	}
	return b, nil
}

func (s *server) startImport(c *gin.Context) error {
	format, err := exportFormat(c, "format")
	if err != nil {
		return err
	}
	req := interchange.Request{Format: format, By: actor(c)}
	if format == interchange.FormatCSV {
		if req.CSV, err = statements.ParseOptions(c.Query("preset"), c.Query("mapping"), c.Query("account"), c.Query("date_format")); err != nil {
			return err
		}
	}
	if req.Data, err = importBody(c); err != nil {
		return err
	}
	r, err := s.importRunner(c)
	if err != nil {
		return err
	}
	type started struct {
		id  uuid.UUID
		err error
	}
	ready := make(chan started, 1)
	if err := s.imports.Go(func(ctx context.Context) {
		_, _ = r.Run(ctx, req, func(id uuid.UUID, err error) { ready <- started{id, err} }, nil)
	}); err != nil {
		return err
	}
	st := <-ready
	if st.err != nil {
		return st.err
	}
	c.JSON(http.StatusAccepted, importStarted{ImportID: st.id})
	return nil
}

func (s *server) listImports(c *gin.Context) error {
	limit, cursor, err := page(c)
	if err != nil {
		return err
	}
	r, err := s.importRunner(c)
	if err != nil {
		return err
	}
	ims, next, err := r.List(c.Request.Context(), limit, cursor)
	if err != nil {
		return err
	}
	items := make([]importJSON, 0, len(ims))
	for _, im := range ims {
		items = append(items, importOut(im))
	}
	if next != "" {
		next = nextCursor(next)
	}
	c.JSON(http.StatusOK, listPage[importJSON]{Items: items, NextCursor: next})
	return nil
}

func (s *server) getImport(c *gin.Context) error {
	id, err := uuid.Parse(c.Param("impid"))
	if err != nil {
		return notFound("no such import", "")
	}
	r, err := s.importRunner(c)
	if err != nil {
		return err
	}
	im, err := r.Get(c.Request.Context(), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, importOut(im))
	return nil
}

// interchangeStatus maps the interchange's and the statements' typed
// errors (called from typedStatus).
func interchangeStatus(err error) *apiError {
	var fe *interchange.FormatError
	if errors.As(err, &fe) {
		return &apiError{status: http.StatusBadRequest, code: "validation_failed", message: fe.Message, field: fe.Field}
	}
	var oe *statements.OptionError
	if errors.As(err, &oe) {
		return &apiError{status: http.StatusBadRequest, code: "validation_failed", message: strings.TrimPrefix(oe.Error(), "statement "), field: oe.Field}
	}
	return nil
}
