package api

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/vanta-ledger/vanta/internal/seal"
)

// FuzzDecode: any body gets either a decoded value or a 4xx error with a
// code, never a panic or a 5xx.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"shares":7,"threshold":5,"custodians":[{"name":"Amina"}]}`,
		`{"shares":"7"}`, `{"shard":1}`, `{} {}`, `{"custodians":[{"name":"a","age_recipient":1}]}`, ``, `{`,
	} {
		f.Add([]byte(seed))
	}
	gin.SetMode(gin.ReleaseMode)
	f.Fuzz(func(t *testing.T, body []byte) {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest(http.MethodPost, "/api/v1/sys/init", bytes.NewReader(body))
		c.Request.Header.Set("Content-Type", "application/json")
		var req seal.InitRequest
		err := decode(c, &req)
		if err == nil {
			return
		}
		ae := statusOf(err)
		if ae.status < 400 || ae.status >= 500 || ae.code == "" {
			t.Fatalf("body %q: status %d code %q", body, ae.status, ae.code)
		}
	})
}
