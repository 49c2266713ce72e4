package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"

	"github.com/vanta-ledger/vanta/internal/seal"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// sealedRouter is the full router over a fresh, initialised, sealed seal
// service: the seal routes are the ones a cross-site page would aim at.
func sealedRouter(t *testing.T, d Deps) (http.Handler, *seal.Service) {
	t.Helper()
	s, err := seal.Open(seal.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	d.Appliance, d.Seal = stubAppliance{}, s
	return NewRouter(d), s
}

func send(h http.Handler, method, path, body string, header map[string]string) (*httptest.ResponseRecorder, errorDetail) {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Host = "vanta.local:8443"
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var eb errorBody
	_ = json.Unmarshal(rec.Body.Bytes(), &eb)
	return rec, eb.Error
}

// A page elsewhere can post a body without a preflight only as
// text/plain, a form, or with no type (sendBeacon, fetch no-cors): every
// JSON route refuses all of those with 415, and takes JSON with
// parameters.
func TestJSONRoutesRefuseOtherContentTypes(t *testing.T) {
	h, s := sealedRouter(t, Deps{})
	for _, path := range []string{"/api/v1/sys/unseal", "/api/v1/sys/init", "/api/v1/sys/rekey/init", "/api/v1/sys/break-glass/use"} {
		for _, ct := range []string{"", "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", "application/json-patch+json"} {
			rec, e := send(h, "POST", path, `{"share":"x","reset":true}`, map[string]string{"Content-Type": ct})
			if rec.Code != http.StatusUnsupportedMediaType || e.Code != "unsupported_media_type" {
				t.Errorf("%s with Content-Type %q: %d %s", path, ct, rec.Code, rec.Body)
			}
		}
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"} {
		rec, e := send(h, "POST", "/api/v1/sys/unseal", `{"share":"not a share"}`, map[string]string{"Content-Type": ct})
		if rec.Code == http.StatusUnsupportedMediaType || e.Code == "unsupported_media_type" {
			t.Errorf("Content-Type %q refused: %d %s", ct, rec.Code, rec.Body)
		}
	}
	if st := s.Status(); st.Progress != 0 || st.Initialized {
		t.Errorf("refused requests changed the seal: %+v", st)
	}
}

// State-changing requests made by a browser for another site's page are
// refused, by Sec-Fetch-Site or by Origin; reads, scripts (neither
// header) and the console's own pages are not.
func TestCrossSiteRequestsRefused(t *testing.T) {
	h, s := sealedRouter(t, Deps{PublicURL: "https://ledger.example.co.ke"})
	json := map[string]string{"Content-Type": "application/json"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{"Content-Type": "application/json"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	refused := []struct {
		name, method, path string
		header             map[string]string
	}{
		{"fetch from another site", "POST", "/api/v1/sys/unseal", with("Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")},
		{"sendBeacon, no type", "POST", "/api/v1/sys/seal", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}},
		{"sibling host", "POST", "/api/v1/sys/init", with("Sec-Fetch-Site", "same-site", "Origin", "https://other.local:8443")},
		{"origin only (older browser)", "POST", "/api/v1/sys/init", with("Origin", "https://evil.example")},
		{"origin of another port", "DELETE", "/api/v1/companies/x", with("Origin", "https://vanta.local:9999")},
		{"null origin (sandboxed page)", "PATCH", "/api/v1/companies/x", with("Origin", "null")},
		{"public URL over the other scheme", "POST", "/api/v1/sys/unseal", with("Origin", "http://ledger.example.co.ke")},
		{"put", "PUT", "/api/v1/sys/unseal", with("Origin", "https://evil.example")},
	}
	for _, tc := range refused {
		rec, e := send(h, tc.method, tc.path, `{"reset":true}`, tc.header)
		if rec.Code != http.StatusForbidden || e.Code != "cross_site" {
			t.Errorf("%s: %d %s, want 403 cross_site", tc.name, rec.Code, rec.Body)
		}
	}
	allowed := []struct {
		name, method, path string
		header             map[string]string
	}{
		{"script", "POST", "/api/v1/sys/unseal", json},
		{"console page", "POST", "/api/v1/sys/unseal", with("Sec-Fetch-Site", "same-origin", "Origin", "https://vanta.local:8443")},
		{"typed address", "POST", "/api/v1/sys/unseal", with("Sec-Fetch-Site", "none")},
		{"public URL", "POST", "/api/v1/sys/unseal", with("Origin", "https://ledger.example.co.ke", "Sec-Fetch-Site", "same-origin")},
		{"cross-site read", "GET", "/api/v1/sys/seal-status", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}},
	}
	for _, tc := range allowed {
		rec, e := send(h, tc.method, tc.path, `{"share":"not a share"}`, tc.header)
		if e.Code == "cross_site" {
			t.Errorf("%s: refused as cross-site: %d %s", tc.name, rec.Code, rec.Body)
		}
	}
	if st := s.Status(); st.Progress != 0 || st.Initialized {
		t.Errorf("refused requests changed the seal: %+v", st)
	}

	// Behind a trusted proxy that rewrites Host, the proxy's
	// X-Forwarded-Host is the console's; without trusted proxies, a
	// client's own X-Forwarded-Host counts for nothing.
	proxied, _ := sealedRouter(t, Deps{TrustedProxies: 1})
	hdr := with("Origin", "https://ledger.internal", "X-Forwarded-Host", "ledger.internal")
	if rec, e := send(proxied, "POST", "/api/v1/sys/unseal", `{"share":"x"}`, hdr); e.Code == "cross_site" {
		t.Errorf("behind a proxy: %d %s", rec.Code, rec.Body)
	}
	direct, _ := sealedRouter(t, Deps{})
	if rec, e := send(direct, "POST", "/api/v1/sys/unseal", `{"share":"x"}`, hdr); e.Code != "cross_site" {
		t.Errorf("spoofed X-Forwarded-Host trusted: %d %s", rec.Code, rec.Body)
	}
}

// decodeInto runs decode over a body as a handler would.
func decodeInto(body string, v any) error {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	c.Request.Header.Set("Content-Type", "application/json")
	return decode(c, v)
}

// Keys must match exactly and appear once, at any depth; no string (value
// or key) may hold a NUL. Each refusal is a 400 naming the field path.
func TestDecodeIsExact(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		into       func() any
		code       string
		field      string
	}{
		{"NUL in a company name", `{"company_name":"Al\u0000pha","tax_id":"P051234567Z"}`, func() any { return &tenancy.Company{} }, "validation_failed", "company_name"},
		{"NUL in an email", `{"email":"a\u0000@b.test","password":"x"}`, func() any { return &loginRequest{} }, "validation_failed", "email"},
		{"NUL deep in a list", `{"shares":3,"threshold":2,"custodians":[{"name":"a"},{"name":"b\u0000"}]}`, func() any { return &seal.InitRequest{} }, "validation_failed", "custodians[1].name"},
		{"NUL in a list of strings", `{"settings":{"features":["ledger","a\u0000"]}}`, func() any { return &tenancy.CompanyPatch{} }, "validation_failed", "settings.features[1]"},
		{"NUL in a key", `{"em\u0000ail":"x"}`, func() any { return &loginRequest{} }, "validation_failed", ""},
		{"key in another case", `{"Email":"god@vanta.test","password":"x"}`, func() any { return &loginRequest{} }, "unknown_field", "Email"},
		{"nested key in another case", `{"company_name":"Acme","settings":{"Currency":"USD"}}`, func() any { return &tenancy.Company{} }, "unknown_field", "settings.Currency"},
		{"duplicate key", `{"email":"a@b.test","email":"god@vanta.test","password":"x"}`, func() any { return &loginRequest{} }, "duplicate_field", "email"},
		{"duplicate by escape", `{"role":"viewer","r\u006fle":"admin"}`, func() any { return &inviteRequest{} }, "duplicate_field", "role"},
		{"duplicate nested", `{"company_name":"Acme","settings":{"currency":"KES","currency":"USD"}}`, func() any { return &tenancy.Company{} }, "duplicate_field", "settings.currency"},
		{"duplicate in a list's object", `{"shares":3,"threshold":2,"custodians":[{"name":"a","name":"b"}]}`, func() any { return &seal.InitRequest{} }, "duplicate_field", "custodians[0].name"},
		{"too deep", `{"custodians":[` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `]}`, func() any { return &seal.InitRequest{} }, "invalid_json", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeInto(tc.body, tc.into())
			ae := statusOf(err)
			if err == nil || ae.status != 400 || ae.code != tc.code || ae.field != tc.field {
				t.Fatalf("got %v (%d %s field %q), want 400 %s field %q", err, ae.status, ae.code, ae.field, tc.code, tc.field)
			}
		})
	}
	// What was right stays right.
	var co tenancy.Company
	if err := decodeInto(`{"company_name":"Acme","tax_id":"P051234567Z","settings":{"currency":"KES","features":["ledger"]}}`, &co); err != nil || co.Name != "Acme" || co.Settings.Features[0] != "ledger" {
		t.Errorf("valid company: %v %+v", err, co)
	}
	var ir seal.InitRequest
	if err := decodeInto(`{"shares":3,"threshold":2,"custodians":[{"name":"Amina"},{"name":"Baraka","age_recipient":"age1x"}]}`, &ir); err != nil || len(ir.Custodians) != 2 {
		t.Errorf("valid init: %v %+v", err, ir)
	}
}

// A cursor the API did not give out is a 400 naming cursor; before, its
// bytes reached SQL (`?cursor=AA` is one NUL) and answered 500.
func TestBadCursor(t *testing.T) {
	for _, cur := range []string{"AA", "_w", "!!", "gICA"} { // NUL, 0xff, not base64, invalid UTF-8
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("GET", "/?cursor="+cur, nil)
		_, _, err := page(c)
		if ae := statusOf(err); err == nil || ae.status != 400 || ae.field != "cursor" || ae.code != "validation_failed" {
			t.Errorf("cursor %q: %v", cur, err)
		}
	}
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest("GET", "/?cursor="+nextCursor(42), nil)
	if _, cur, err := page(c); err != nil || cur != "42" {
		t.Errorf("our own cursor: %q %v", cur, err)
	}
}

// closedAddress is a TCP address nothing listens on any more.
func closedAddress(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// redisLoading is the reply of a Redis replaying its AOF after a restart.
type redisLoading struct{}

func (redisLoading) Error() string { return "LOADING Redis is loading the dataset in memory" }
func (redisLoading) RedisError()   {}

// A store that is down, restarting or recovering is 503 unavailable with
// Retry-After, never 500; the server's answers about the query itself are
// not. Real errors where they can be had: connections to closed sockets.
func TestStoreDownIsUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	host, port, _ := net.SplitHostPort(closedAddress(t))
	_, pgTCP := pgx.Connect(ctx, fmt.Sprintf("postgres://u:p@%s:%s/db?sslmode=disable&connect_timeout=5", host, port))
	_, pgUnix := pgx.Connect(ctx, "postgres://u:p@/db?host="+filepath.Join(t.TempDir(), "gone")+"&sslmode=disable")
	rdb := redis.NewClient(&redis.Options{Addr: closedAddress(t), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	redisDown := rdb.Ping(ctx).Err()
	rdb.Close()
	redisClosed := rdb.Ping(ctx).Err()
	expired, cancelExpired := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancelExpired()
	_, pgDeadline := pgx.Connect(expired, fmt.Sprintf("postgres://u:p@%s:%s/db?sslmode=disable", host, port))

	down := map[string]error{
		"postgres tcp refused":  pgTCP,
		"postgres socket gone":  pgUnix,
		"acquire deadline":      pgDeadline,
		"redis refused":         redisDown,
		"redis client closed":   redisClosed,
		"redis loading":         redisLoading{},
		"57P01 admin shutdown":  &pgconn.PgError{Severity: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"},
		"57P02 crash shutdown":  &pgconn.PgError{Severity: "FATAL", Code: "57P02", Message: "terminating connection because of crash of another server process"},
		"57P03 starting up":     &pgconn.PgError{Severity: "FATAL", Code: "57P03", Message: "the database system is starting up"},
		"57P03 in recovery":     &pgconn.PgError{Severity: "FATAL", Code: "57P03", Message: "the database system is in recovery mode"},
		"08006 failure":         &pgconn.PgError{Severity: "FATAL", Code: "08006", Message: "connection failure"},
		"wrapped twice":         fmt.Errorf("invite: %w", fmt.Errorf("insert: %w", &pgconn.PgError{Code: "57P01"})),
		"conn closed mid-query": fmt.Errorf("begin: %w", errors.New("conn closed")),
	}
	for name, err := range down {
		if err == nil {
			t.Fatalf("%s: no error to classify", name)
		}
		ae := statusOf(err)
		if ae.status != http.StatusServiceUnavailable || ae.code != "unavailable" || ae.retryAfter < time.Second || ae.retryAfter > 2*time.Second {
			t.Errorf("%s (%v): %d %s retry %s", name, err, ae.status, ae.code, ae.retryAfter)
		}
	}
	for name, err := range map[string]error{
		"unique violation": &pgconn.PgError{Code: "23505", Message: "duplicate key value"},
		"bad NUL":          &pgconn.PgError{Code: "22021", Message: "invalid byte sequence"},
		"a bug":            errors.New("nil map"),
	} {
		if ae := statusOf(err); ae.status != http.StatusInternalServerError {
			t.Errorf("%s: %d %s, want 500", name, ae.status, ae.code)
		}
	}

	// fail sends Retry-After with it.
	rec := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(rec)
	c.Request = httptest.NewRequest("POST", "/", nil)
	(&server{logger: slog.New(slog.DiscardHandler)}).fail(c, pgTCP)
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "2" || !bytes.Contains(rec.Body.Bytes(), []byte(`"unavailable"`)) {
		t.Errorf("fail: %d %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
}
