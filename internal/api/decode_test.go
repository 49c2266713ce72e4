package api

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/vanta-ledger/vanta/internal/seal"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// FuzzDecode feeds the request types of init, login, invitation
// acceptance and company creation: any body gets either a decoded value or
// a 4xx error with a code, never a panic or a 5xx; and a value decoded
// holds no NUL anywhere (PostgreSQL cannot store one: it was a 500).
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"email":"god@vanta.test","password":"correct horse battery staple","totp":"123456"}`,
		`{"company_name":"Acme","tax_id":"P051234567Z","settings":{"currency":"KES"}}`,
		`{"shares":7,"threshold":5,"custodians":[{"name":"Amina"}]}`,
		`{"token":"vinv_abc","name":"Achieng","password":"rain over lake victoria","totp":"123456"}`,
		`{"shares":"7"}`, `{"shard":1}`, `{} {}`, `{"custodians":[{"name":"a","age_recipient":1}]}`, ``, `{`,
		`{"company_name":"Al\u0000pha"}`, `{"email":"a\u0000@b.test"}`, `{"Email":"x"}`, `{"email":"a","email":"b"}`,
		`{"settings":{"currency":"KES","currency":"USD"}}`, `{"custodians":[{"name":"a\u0000"}]}`, `{"settings":{"features":["\u0000"]}}`, `{"name":"\\u0000"}`,
	} {
		f.Add([]byte(seed))
	}
	gin.SetMode(gin.ReleaseMode)
	f.Fuzz(func(t *testing.T, body []byte) {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		var co tenancy.Company
		for _, v := range []any{&seal.InitRequest{}, &loginRequest{}, &acceptInvitationRequest{}, &co} {
			c.Request = httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			c.Request.Header.Set("Content-Type", "application/json")
			err := decode(c, v)
			if err == nil && v == &co {
				err = co.Normalize()
			}
			if err == nil {
				// A real NUL byte, not the six characters \u0000 that an
				// escaped backslash in the body legitimately decodes to.
				if got := fmt.Sprintf("%+v", v); strings.ContainsRune(got, 0) {
					t.Fatalf("body %q into %T: a NUL got through: %q", body, v, got)
				}
				continue
			}
			ae := statusOf(err)
			if ae.status < 400 || ae.status >= 500 || ae.code == "" {
				t.Fatalf("body %q into %T: status %d code %q", body, v, ae.status, ae.code)
			}
		}
	})
}
