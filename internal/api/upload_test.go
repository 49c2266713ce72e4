package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/vanta-ledger/vanta/internal/upload"
)

// uploadRouter serves the upload path as a documents route will: the
// handler returns upload's error and fail answers it.
func uploadRouter(t *testing.T, dir string) http.Handler {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	s := &server{logger: slog.New(slog.DiscardHandler)}
	r := gin.New()
	r.POST("/upload", func(c *gin.Context) {
		f, err := upload.Receive(c.Request, upload.Options{Dir: dir, Field: "file", MaxBytes: 1024, Allowed: []string{"application/pdf"}})
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusCreated, f)
	})
	r.POST("/json", func(c *gin.Context) {
		var v struct {
			Name string `json:"name"`
		}
		if err := decode(c, &v); err != nil {
			s.fail(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	})
	return r
}

func multipartBody(t *testing.T, declared string, content []byte) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="a.pdf"`)
	h.Set("Content-Type", declared)
	p, err := w.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	p.Write(content)
	w.Close()
	return &buf, w.FormDataContentType()
}

func answer(t *testing.T, h http.Handler, path, contentType string, body *bytes.Buffer) (int, errorDetail) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, path, body)
	req.Header.Set("Content-Type", contentType)
	h.ServeHTTP(rec, req)
	var e errorBody
	_ = json.Unmarshal(rec.Body.Bytes(), &e)
	return rec.Code, e.Error
}

func TestUploadStatuses(t *testing.T) {
	dir := t.TempDir()
	h := uploadRouter(t, dir)
	pdf := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("x"), 600)...)

	body, ct := multipartBody(t, "application/pdf", pdf)
	if code, e := answer(t, h, "/upload", ct, body); code != http.StatusCreated {
		t.Fatalf("a PDF under the limit: %d %+v", code, e)
	}

	body, ct = multipartBody(t, "application/pdf", append(pdf, bytes.Repeat([]byte("x"), 1024)...))
	code, e := answer(t, h, "/upload", ct, body)
	if code != http.StatusRequestEntityTooLarge || e.Code != "too_large" || e.Field != "file" || !strings.Contains(e.Message, "1024 bytes") {
		t.Fatalf("over the limit: %d %+v, want 413 too_large naming file and 1024 bytes", code, e)
	}

	body, ct = multipartBody(t, "application/pdf", []byte("<html><body>not a receipt</body></html>"))
	code, e = answer(t, h, "/upload", ct, body)
	if code != http.StatusUnsupportedMediaType || e.Code != "unsupported_media_type" || e.Field != "file" || !strings.Contains(e.Message, "text/html") {
		t.Fatalf("a page sent as PDF: %d %+v, want 415 naming file and text/html", code, e)
	}

	code, e = answer(t, h, "/upload", "application/pdf", bytes.NewBuffer(pdf))
	if code != http.StatusBadRequest || e.Code != "invalid_upload" || e.Field != "file" {
		t.Fatalf("not multipart: %d %+v, want 400 invalid_upload naming file", code, e)
	}

	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 { // the accepted one, which its handler would move
		t.Fatalf("%d files in the upload directory, want only the accepted one", len(entries))
	}
}

// JSON bodies are capped at 64 KiB; the 413 names the limit.
func TestDecodeCapsBodies(t *testing.T) {
	h := uploadRouter(t, t.TempDir())
	fits := `{"name":"` + strings.Repeat("a", maxBody-len(`{"name":""}`)) + `"}`
	if code, e := answer(t, h, "/json", "application/json", bytes.NewBufferString(fits)); code != http.StatusNoContent {
		t.Fatalf("a body of exactly 64 KiB: %d %+v", code, e)
	}
	over := `{"name":"` + strings.Repeat("a", maxBody) + `"}`
	code, e := answer(t, h, "/json", "application/json", bytes.NewBufferString(over))
	if code != http.StatusRequestEntityTooLarge || e.Code != "too_large" || !strings.Contains(e.Message, "65536") {
		t.Fatalf("a body over 64 KiB: %d %+v, want 413 naming 65536", code, e)
	}
}
