package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/ai"
)

// stubMetrics records what the API reports and serves a fixed body.
type stubMetrics struct{ seen *[]string }

var stubMu sync.Mutex

func (m stubMetrics) ObserveRequest(route, method string, status int, d time.Duration) {
	if m.seen != nil {
		stubMu.Lock()
		*m.seen = append(*m.seen, method+" "+route+" "+http.StatusText(status))
		stubMu.Unlock()
	}
}
func (stubMetrics) ObserveUser(user, company uuid.UUID, at time.Time) {}
func (stubMetrics) ObserveInference(in ai.Inference)                  {}
func (stubMetrics) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = io.WriteString(w, "# HELP up x\n# TYPE up gauge\nup 1\n")
	})
}

// TestMetricsPeerCheck: without a token, /metrics answers only a loopback
// peer that no proxy forwarded; the peer is the connection's address, so
// a forged X-Forwarded-For neither opens nor is believed.
func TestMetricsPeerCheck(t *testing.T) {
	h := NewRouter(Deps{Appliance: stubAppliance{}, Metrics: stubMetrics{}, TrustedProxies: 1})
	cases := []struct {
		peer, xff string
		want      int
	}{
		{"127.0.0.1:40000", "", 200},
		{"[::1]:40000", "", 200},
		{"127.0.0.2:40000", "", 200},
		{"203.0.113.7:40000", "", 401},
		{"192.0.2.1:40000", "127.0.0.1", 401},   // a forged forwarded loopback
		{"127.0.0.1:40000", "203.0.113.7", 401}, // a local reverse proxy's client
	}
	for _, tc := range cases {
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.RemoteAddr = tc.peer
		if tc.xff != "" {
			req.Header.Set("X-Forwarded-For", tc.xff)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %d %s, want %d", tc.peer, tc.xff, rec.Code, rec.Body, tc.want)
			continue
		}
		if tc.want == 401 {
			var body errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code != "unauthenticated" {
				t.Errorf("peer %s: body %s, want the unauthenticated error shape", tc.peer, rec.Body)
			}
		}
	}
}

// TestMetricsRouteLabels: requests are reported with their route
// template, never the raw path, and "" when no route matched.
func TestMetricsRouteLabels(t *testing.T) {
	var seen []string
	h := NewRouter(Deps{Appliance: stubAppliance{}, Metrics: stubMetrics{seen: &seen}})
	for _, p := range []string{"/healthz", "/no/such/" + uuid.NewString()} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
	}
	want := []string{"GET /healthz OK", "GET  Not Found"}
	if len(seen) != 2 || seen[0] != want[0] || seen[1] != want[1] {
		t.Fatalf("reported %q, want %q", seen, want)
	}
}
