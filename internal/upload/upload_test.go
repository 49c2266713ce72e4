package upload

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pdf is a file whose first bytes make it a PDF, n bytes long.
func pdf(n int) []byte {
	b := bytes.Repeat([]byte("x"), n)
	copy(b, "%PDF-1.7\n")
	return b
}

// form builds a multipart body: a note field, then the file in field
// "file" declared as contentType.
func form(t *testing.T, contentType string, content []byte) (body []byte, header string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if err := w.WriteField("note", "March receipts"); err != nil {
		t.Fatal(err)
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="receipt.pdf"`)
	h.Set("Content-Type", contentType)
	p, err := w.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), w.FormDataContentType()
}

func request(body io.Reader, contentType string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/upload", body)
	r.Header.Set("Content-Type", contentType)
	return r
}

func options(dir string) Options {
	return Options{Dir: dir, Field: "file", MaxBytes: 4096, Allowed: []string{"application/pdf", "image/png"}}
}

// empty fails the test if dir holds anything: a refused upload leaves
// nothing behind.
func empty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("%d files left behind, first %s", len(entries), entries[0].Name())
	}
}

func TestReceive(t *testing.T) {
	dir := t.TempDir()
	content := pdf(4096) // exactly the limit
	body, ct := form(t, "application/octet-stream", content)
	f, err := Receive(request(bytes.NewReader(body), ct), options(dir))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	if f.Size != 4096 || f.SHA256 != hex.EncodeToString(sum[:]) || f.Type != "application/pdf" || f.Name != "receipt.pdf" {
		t.Fatalf("file %+v", f)
	}
	if filepath.Dir(f.Path) != dir {
		t.Fatalf("temporary file %s is not in %s", f.Path, dir)
	}
	if got, err := os.ReadFile(f.Path); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("stored content differs (%v)", err)
	}
	if err := f.Remove(); err != nil {
		t.Fatal(err)
	}
	empty(t, dir)
}

func TestReceiveRefusesOverSize(t *testing.T) {
	body, ct := form(t, "application/pdf", pdf(4097))
	for name, length := range map[string]int64{"declared length": int64(len(body)), "streamed": -1} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			r := request(bytes.NewReader(body), ct)
			r.ContentLength = length
			_, err := Receive(r, options(dir))
			var tooLarge *TooLargeError
			if !errors.As(err, &tooLarge) || tooLarge.Limit != 4096 || tooLarge.Field != "file" || !strings.Contains(err.Error(), "4096") {
				t.Fatalf("err = %v, want a TooLargeError naming file and 4096", err)
			}
			empty(t, dir)
		})
	}
	// A body far over the limit is refused by its declared length alone.
	dir := t.TempDir()
	r := request(strings.NewReader(""), ct)
	r.ContentLength = 1 << 30
	var tooLarge *TooLargeError
	if _, err := Receive(r, options(dir)); !errors.As(err, &tooLarge) {
		t.Fatalf("err = %v, want a TooLargeError", err)
	}
}

// The client says PDF; the content is a web page: refused, by what it is.
func TestReceiveBelievesTheContentNotTheClient(t *testing.T) {
	dir := t.TempDir()
	body, ct := form(t, "application/pdf", []byte("<!DOCTYPE html><html><script>alert(1)</script></html>"))
	_, err := Receive(request(bytes.NewReader(body), ct), options(dir))
	var badType *TypeError
	if !errors.As(err, &badType) || badType.Field != "file" || badType.Detected != "text/html" {
		t.Fatalf("err = %v, want a TypeError for file detecting text/html", err)
	}
	if !strings.Contains(err.Error(), "application/pdf, image/png") {
		t.Fatalf("message %q does not list what is allowed", err)
	}
	empty(t, dir)
}

// failingReader returns its bytes, then an error: a client that went away.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

// A body that breaks off after the file began leaves no temporary file.
func TestReceiveAbortedBody(t *testing.T) {
	dir := t.TempDir()
	body, ct := form(t, "application/pdf", pdf(3000))
	cut := bytes.Index(body, []byte("%PDF")) + 2000 // past the sniffed head: the file exists by then
	r := request(&failingReader{bytes.NewReader(body[:cut]), io.ErrUnexpectedEOF}, ct)
	r.ContentLength = -1
	_, err := Receive(r, options(dir))
	var form *FormError
	if !errors.As(err, &form) || form.Field != "file" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want a FormError wrapping the read error", err)
	}
	empty(t, dir)
}

func TestReceiveNeedsTheField(t *testing.T) {
	dir := t.TempDir()
	body, ct := form(t, "application/pdf", pdf(100))
	opts := options(dir)
	opts.Field = "document"
	var form *FormError
	if _, err := Receive(request(bytes.NewReader(body), ct), opts); !errors.As(err, &form) || form.Field != "document" {
		t.Fatalf("err = %v, want a FormError naming document", err)
	}
	if _, err := Receive(request(bytes.NewReader(pdf(100)), "application/pdf"), options(dir)); !errors.As(err, &form) {
		t.Fatalf("a bare PDF body: %v, want a FormError", err)
	}
	empty(t, dir)
}
