package api

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/seal"
)

// stubAppliance answers with fixed reports: the router's logic is what is
// under test here, the real appliance is exercised end to end in cmd/vanta.
type stubAppliance struct {
	ready    appliance.Readiness
	services appliance.ServicesReport
}

func (s stubAppliance) Services() appliance.ServicesReport { return s.services }
func (s stubAppliance) Readiness() appliance.Readiness     { return s.ready }
func (s stubAppliance) Stores() *appliance.Stores          { return nil }

func serve(t *testing.T, a Appliance, method, path string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	NewRouter(Deps{Appliance: a}).ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s %s: body is not JSON: %q", method, path, rec.Body.String())
	}
	return rec, body
}

func TestEndpoints(t *testing.T) {
	ready := stubAppliance{ready: appliance.Readiness{Status: appliance.StatusReady, Services: []appliance.ServiceBrief{{Name: "postgres", State: "healthy", Critical: true}}}}
	starting := stubAppliance{ready: appliance.Readiness{Status: appliance.StatusStarting, Services: []appliance.ServiceBrief{{Name: "postgres", State: "starting", Critical: true}}}}
	withServices := stubAppliance{services: appliance.ServicesReport{Services: []appliance.ServiceReport{{Name: "redis", State: "healthy", PID: 7, Restarts: 1}}}}
	tests := []struct {
		name       string
		app        Appliance
		method     string
		path       string
		wantStatus int
		check      func(t *testing.T, body map[string]any)
	}{
		{"healthz", starting, "GET", "/healthz", 200, func(t *testing.T, b map[string]any) {
			if b["status"] != "ok" {
				t.Errorf("body %v", b)
			}
		}},
		{"readyz ready", ready, "GET", "/readyz", 200, func(t *testing.T, b map[string]any) {
			if b["status"] != "ready" || len(b["services"].([]any)) != 1 {
				t.Errorf("body %v", b)
			}
		}},
		{"readyz starting", starting, "GET", "/readyz", 503, func(t *testing.T, b map[string]any) {
			svc := b["services"].([]any)[0].(map[string]any)
			if b["status"] != "starting" || svc["state"] != "starting" || svc["critical"] != true {
				t.Errorf("body %v", b)
			}
		}},
		{"services", withServices, "GET", "/api/v1/sys/services", 200, func(t *testing.T, b map[string]any) {
			svc := b["services"].([]any)[0].(map[string]any)
			for _, k := range []string{"name", "state", "pid", "uptime_s", "restarts", "last_exit", "reason", "critical"} {
				if _, ok := svc[k]; !ok {
					t.Errorf("service lacks %q: %v", k, svc)
				}
			}
		}},
		{"unknown route", ready, "GET", "/api/v1/nope", 404, func(t *testing.T, b map[string]any) {
			if e := b["error"].(map[string]any); e["code"] != "not_found" || e["message"] == "" {
				t.Errorf("body %v", b)
			}
		}},
		{"wrong method", ready, "POST", "/healthz", 405, func(t *testing.T, b map[string]any) {
			if e := b["error"].(map[string]any); e["code"] != "method_not_allowed" {
				t.Errorf("body %v", b)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, body := serve(t, tc.app, tc.method, tc.path)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("content type %q", ct)
			}
			if rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("security headers missing: %v", rec.Header())
			}
			tc.check(t, body)
		})
	}
}

func TestClientLimiter(t *testing.T) {
	l := newClientLimiter(60, 3) // one a second after a burst of three
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	for i := range 3 {
		if ok, _ := l.reserve("10.0.0.1", now); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.reserve("10.0.0.1", now)
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("4th request: ok %v, retry after %s", ok, wait)
	}
	if ok, _ := l.reserve("10.0.0.2", now); !ok {
		t.Error("another client was limited")
	}
	if ok, _ := l.reserve("10.0.0.1", now.Add(time.Second)); !ok {
		t.Error("refused after waiting the advised time")
	}
}

// A client cannot dodge the per-IP limit by inventing X-Forwarded-For
// headers when no proxy is trusted.
func TestRateLimitIgnoresSpoofedForwardedFor(t *testing.T) {
	s, err := seal.Open(seal.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	h := NewRouter(Deps{Appliance: stubAppliance{}, Seal: s})
	limited := 0
	for i := range 70 {
		req := httptest.NewRequest("POST", "/api/v1/sys/unseal", strings.NewReader(`{"share":"x"}`))
		req.RemoteAddr = "203.0.113.7:40000"
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.9.%d.%d", i/250, i%250))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == 429 {
			limited++
		}
	}
	if limited == 0 {
		t.Error("70 rapid requests from one address, each claiming another, were never limited")
	}
}

// CORS is closed: no origin is allowed, a preflight gets no grant.
func TestCORSClosed(t *testing.T) {
	h := NewRouter(Deps{Appliance: stubAppliance{}})
	for _, method := range []string{"OPTIONS", "GET"} {
		req := httptest.NewRequest(method, "/readyz", nil)
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("%s: Access-Control-Allow-Origin %q", method, got)
		}
	}
}
