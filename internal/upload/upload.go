// Package upload receives a file streamed in a multipart/form-data
// request: it goes to a temporary file in a directory the caller names
// (under the data directory, never memory), is held to a size limit while
// it streams, has its type detected from its first bytes (the client's
// Content-Type is not believed) and checked against the caller's
// allow-list, and is hashed on the way. On any failure, an aborted body
// included, nothing is left behind. It knows nothing of HTTP statuses:
// its errors are typed, and the API maps them.
package upload

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"
	"os"
	"slices"
	"strings"
)

// sniffLen is how much of the file type detection looks at.
const sniffLen = 512

// formSlack is what a multipart body may carry besides the file: part
// headers, boundaries and small form fields.
const formSlack = 64 << 10

// Options say what a caller accepts.
type Options struct {
	Dir      string   // where the temporary file is made; it must exist
	Field    string   // the form field that holds the file
	MaxBytes int64    // the largest file accepted
	Allowed  []string // media types accepted, as detected ("application/pdf", "text/plain")
}

// File is a received upload, in a temporary file the caller now owns: it
// moves it where it belongs, or calls Remove.
type File struct {
	Path   string // the temporary file
	Name   string // the file name the client gave, for display only
	Size   int64
	SHA256 string // hex
	Type   string // the detected media type, without parameters
}

// Remove deletes the temporary file (once it has been moved, nothing).
func (f *File) Remove() error {
	if err := os.Remove(f.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove upload: %w", err)
	}
	return nil
}

// TooLargeError is a file (or a body) over the limit.
type TooLargeError struct {
	Field string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s: the file is larger than the limit of %d bytes", e.Field, e.Limit)
}

// TypeError is a file whose content is not of an allowed type, whatever
// the client said it was.
type TypeError struct {
	Field    string
	Detected string
	Allowed  []string
}

func (e *TypeError) Error() string {
	return fmt.Sprintf("%s: the content is %s; allowed: %s", e.Field, e.Detected, strings.Join(e.Allowed, ", "))
}

// FormError is a request that is not a multipart form with the field, or
// whose body ended before the file did.
type FormError struct {
	Field   string
	Problem string
	Err     error // the read error, for an aborted body
}

func (e *FormError) Error() string { return e.Field + ": " + e.Problem }
func (e *FormError) Unwrap() error { return e.Err }

// Receive streams the file in field opts.Field of r to a temporary file
// and returns it. Form parts before the file are skipped; those after it
// are not read.
func Receive(r *http.Request, opts Options) (*File, error) {
	limit := opts.MaxBytes + formSlack
	if r.ContentLength > limit {
		return nil, &TooLargeError{Field: opts.Field, Limit: opts.MaxBytes}
	}
	r.Body = http.MaxBytesReader(nil, r.Body, limit)
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return nil, &FormError{Field: opts.Field, Problem: "send the file as multipart/form-data"}
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, &FormError{Field: opts.Field, Problem: "not a multipart body: " + err.Error()}
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, &FormError{Field: opts.Field, Problem: "the form has no file in this field"}
		}
		if err != nil {
			return nil, bodyError(opts, err)
		}
		if part.FormName() != opts.Field {
			if _, err := io.Copy(io.Discard, part); err != nil {
				return nil, bodyError(opts, err)
			}
			continue
		}
		return receivePart(part, part.FileName(), opts)
	}
}

// bodyError tells a body over the whole limit from one that broke off.
func bodyError(opts Options, err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &TooLargeError{Field: opts.Field, Limit: opts.MaxBytes}
	}
	return &FormError{Field: opts.Field, Problem: "the body ended before the file did", Err: err}
}

func receivePart(part io.Reader, name string, opts Options) (_ *File, err error) {
	// Detect first, before anything is written: a refused type costs
	// one read of 512 bytes, not the whole file.
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(part, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, bodyError(opts, err)
	}
	head = head[:n]
	detected, _, _ := mime.ParseMediaType(http.DetectContentType(head))
	if !slices.Contains(opts.Allowed, detected) {
		return nil, &TypeError{Field: opts.Field, Detected: detected, Allowed: opts.Allowed}
	}

	f, err := os.CreateTemp(opts.Dir, "upload-*")
	if err != nil {
		return nil, fmt.Errorf("upload: temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	sum := sha256.New()
	size, err := copyLimited(io.MultiWriter(f, sum), io.MultiReader(bytes.NewReader(head), part), opts.MaxBytes)
	if err != nil {
		var tooBig *TooLargeError
		if errors.As(err, &tooBig) {
			return nil, &TooLargeError{Field: opts.Field, Limit: opts.MaxBytes}
		}
		var we *writeError
		if errors.As(err, &we) {
			return nil, fmt.Errorf("upload: temporary file: %w", we.err)
		}
		return nil, bodyError(opts, err)
	}
	if err = f.Close(); err != nil {
		return nil, fmt.Errorf("upload: temporary file: %w", err)
	}
	return &File{Path: f.Name(), Name: name, Size: size, SHA256: hexSum(sum), Type: detected}, nil
}

// copyLimited copies at most max bytes and fails, with a TooLargeError,
// as soon as there is one more.
func copyLimited(w io.Writer, r io.Reader, max int64) (int64, error) {
	n, err := io.Copy(writerOnly{w}, io.LimitReader(r, max+1))
	if err != nil {
		return n, err
	}
	if n > max {
		return n, &TooLargeError{Limit: max}
	}
	return n, nil
}

// writerOnly hides ReadFrom, so that a failed write (a full disk) is told
// apart from a failed read (the client went away).
type writerOnly struct{ w io.Writer }

func (w writerOnly) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if err != nil {
		return n, &writeError{err}
	}
	return n, nil
}

type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }
