package metrics

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/ai"
	"github.com/vanta-ledger/vanta/internal/alerts"
	"github.com/vanta-ledger/vanta/internal/documents"
	"github.com/vanta-ledger/vanta/supervisor"
)

var t0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

// TestRequestWindowP95AndErrorRatio: the figures cover the last five
// minutes ending at now, exactly, by a fake clock.
func TestRequestWindowP95AndErrorRatio(t *testing.T) {
	r := NewRegistry(Options{Now: func() time.Time { return t0 }})
	// 100 requests in the first minute: 1..100 ms, the last five 5xx.
	for i := 1; i <= 100; i++ {
		status := 200
		if i > 95 {
			status = 503
		}
		r.observeRequestAt(t0.Add(time.Duration(i)*100*time.Millisecond), "/api/v1/x", "GET", status, time.Duration(i)*time.Millisecond)
	}
	at := t0.Add(time.Minute)
	n, ratio, p95 := r.window.stats(at)
	if n != 100 || ratio != 0.05 || p95 != 0.095 {
		t.Fatalf("at +1m: n %d ratio %v p95 %v, want 100, 0.05, 0.095", n, ratio, p95)
	}
	got := samplesOf(t, r.requestSamples(at))
	if got["api_request_p95_seconds"] != 0.095 || got["api_error_ratio"] != 0.05 {
		t.Errorf("samples %v", got)
	}
	// Slow requests later: the p95 follows.
	for i := range 20 {
		r.observeRequestAt(t0.Add(4*time.Minute+time.Duration(i)*time.Second), "/api/v1/x", "POST", 201, 3*time.Second)
	}
	if _, _, p95 := r.window.stats(t0.Add(5 * time.Minute)); p95 != 3 {
		t.Errorf("p95 with 20 of 120 at 3 s: %v, want 3", p95)
	}
	// Five minutes after the first burst, only the slow ones are left.
	n, ratio, p95 = r.window.stats(t0.Add(5*time.Minute + 11*time.Second))
	if n != 20 || ratio != 0 || p95 != 3 {
		t.Errorf("at +5m11s: n %d ratio %v p95 %v, want 20, 0, 3", n, ratio, p95)
	}
	// And ten minutes on, nothing: both series are 0, so alerts resolve.
	got = samplesOf(t, r.requestSamples(t0.Add(10*time.Minute)))
	if v, ok := got["api_request_p95_seconds"]; !ok || v != 0 {
		t.Errorf("empty window p95: %v %v", v, ok)
	}
}

// TestErrorRatioNeedsMinimumRequests: below MinRequests the ratio is 0.
func TestErrorRatioNeedsMinimumRequests(t *testing.T) {
	r := NewRegistry(Options{})
	for i := range MinRequests - 1 {
		r.observeRequestAt(t0.Add(time.Duration(i)*time.Second), "", "GET", 500, time.Millisecond)
	}
	now := t0.Add(time.Minute)
	if got := samplesOf(t, r.requestSamples(now)); got["api_error_ratio"] != 0 {
		t.Fatalf("%d failures: ratio %v, want 0 (too few)", MinRequests-1, got["api_error_ratio"])
	}
	r.observeRequestAt(now, "", "GET", 500, time.Millisecond)
	if got := samplesOf(t, r.requestSamples(now)); got["api_error_ratio"] != 1 {
		t.Fatalf("%d failures: ratio %v, want 1", MinRequests, got["api_error_ratio"])
	}
}

// TestRestartsRecent: restarts count for ten minutes from the snapshot
// that saw them; those before the registry was made are the baseline,
// not recent.
func TestRestartsRecent(t *testing.T) {
	restarts := map[string]int{"llama": 5, "redis": 0}
	services := func() []supervisor.Status {
		var out []supervisor.Status
		for _, n := range []string{"llama", "redis"} {
			out = append(out, supervisor.Status{Name: n, Restarts: restarts[n], State: supervisor.StateHealthy})
		}
		return out
	}
	r := NewRegistry(Options{Services: services})
	recent := func(now time.Time) map[string]int {
		t.Helper()
		return r.restarts.note(now, services())
	}
	for _, step := range []struct {
		at       time.Duration
		restarts int // llama's count at the supervisor
		want     int
	}{
		{0, 5, 0},                 // the baseline
		{2 * time.Minute, 7, 2},   // two seen at +2m
		{9 * time.Minute, 8, 3},   // one more at +9m
		{10 * time.Minute, 8, 3},  // +2m's are still within ten minutes
		{12 * time.Minute, 8, 1},  // +2m's have left the window
		{19 * time.Minute, 8, 0},  // and +9m's
		{20 * time.Minute, 11, 3}, // a loop again
	} {
		restarts["llama"] = step.restarts
		if got := recent(t0.Add(step.at)); got["llama"] != step.want || got["redis"] != 0 {
			t.Fatalf("at +%s with %d restarts: %v, want llama %d, redis 0", step.at, step.restarts, got, step.want)
		}
	}
	// A service first seen after the registry was made: all its
	// restarts are news.
	later := r.restarts.note(t0.Add(21*time.Minute), []supervisor.Status{{Name: "llama-big", Restarts: 2}})
	if later["llama-big"] != 2 {
		t.Fatalf("a new service's restarts: %v", later)
	}
}

// TestActiveUsers: distinct users over fifteen minutes, overall and per
// company.
func TestActiveUsers(t *testing.T) {
	r := NewRegistry(Options{})
	co, other := uuid.New(), uuid.New()
	u1, u2, god := uuid.New(), uuid.New(), uuid.New()
	r.ObserveUser(u1, co, t0)
	r.ObserveUser(u1, co, t0.Add(time.Minute))
	r.ObserveUser(u2, other, t0.Add(2*time.Minute))
	r.ObserveUser(god, uuid.Nil, t0.Add(3*time.Minute))
	all, per := r.users.counts(t0.Add(5 * time.Minute))
	if all != 3 || per[co] != 1 || per[other] != 1 {
		t.Fatalf("at +5m: all %d, per company %v", all, per)
	}
	all, per = r.users.counts(t0.Add(16*time.Minute + 30*time.Second))
	if all != 2 || per[co] != 0 || per[other] != 1 {
		t.Fatalf("at +16m30s: all %d, per company %v (u1 last seen at +1m)", all, per)
	}
}

// TestAlertSource: the live series the default rules read, with their
// labels, at the caller's now.
func TestAlertSource(t *testing.T) {
	dir := t.TempDir()
	pgRestarts := 0
	r := NewRegistry(Options{
		Disks:    []string{dir, dir + "/backups/not-yet"},
		Services: func() []supervisor.Status { return []supervisor.Status{{Name: "postgres", Restarts: pgRestarts}} },
	})
	pgRestarts = 2 // after the registry's baseline of 0
	r.ObserveUser(uuid.New(), uuid.New(), t0)
	got, err := r.AlertSource().Samples(context.Background(), t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]alerts.Sample{}
	for _, s := range got {
		key := s.Series
		for k, v := range s.Labels {
			key += "," + k + "=" + v
		}
		seen[key] = s
	}
	for _, key := range []string{"host_cpu_percent", "host_memory_percent", "disk_used_percent,path=" + dir,
		"disk_used_percent,path=" + dir + "/backups/not-yet", "api_request_p95_seconds", "api_error_ratio", "users_active",
		"service_restarts_recent,service=postgres"} {
		if _, ok := seen[key]; !ok {
			t.Errorf("no %s in %v", key, got)
		}
	}
	if v := seen["host_cpu_percent"].Value; v < 0 || v > 100 {
		t.Errorf("cpu %v%%", v)
	}
	if v := seen["host_memory_percent"].Value; v <= 0 || v > 100 {
		t.Errorf("memory %v%%", v)
	}
	if seen["users_active"].Value != 1 || seen["service_restarts_recent,service=postgres"].Value != 2 {
		t.Errorf("users %v, restarts %v", seen["users_active"].Value, seen["service_restarts_recent,service=postgres"].Value)
	}
	if _, ok := seen["jobs_queue_depth"]; ok {
		t.Error("jobs_queue_depth without stores")
	}
}

type fakeCompanies struct {
	reads *int
	figs  []CompanyFigures
	err   error
}

func (f fakeCompanies) ReadCompanies(ctx context.Context) ([]CompanyFigures, error) {
	*f.reads++
	return f.figs, f.err
}

// TestScrapePassesPromtool: a scrape with every family this package can
// fill without the data services passes `promtool check metrics` with no
// warnings; per-company figures are cached for CompanyTTL and absent
// while sealed.
func TestScrapePassesPromtool(t *testing.T) {
	now := t0
	sealed := false
	reads := 0
	co := uuid.New()
	exit := supervisor.ExitStatus{Signal: 9}
	r := NewRegistry(Options{
		Now:    func() time.Time { return now },
		Disks:  []string{t.TempDir()},
		Sealed: func() bool { return sealed },
		Services: func() []supervisor.Status {
			return []supervisor.Status{{Name: "postgres", State: supervisor.StateHealthy, StartedAt: t0.Add(-time.Hour), Critical: true},
				{Name: "llama-tiny", State: supervisor.StateBackoff, Restarts: 3, LastExit: &exit}}
		},
		Companies: fakeCompanies{reads: &reads, figs: []CompanyFigures{{ID: co, EntriesPosted: 12, StorageBytes: 4096, AIRequestsHour: 3,
			Documents: map[documents.Status]int64{documents.StatusDone: 2}}}},
	})
	r.ObserveRequest("/api/v1/companies/:cid", "GET", 200, 20*time.Millisecond)
	r.ObserveRequest("", "BREW", 418, time.Millisecond)
	r.ObserveUser(uuid.New(), co, now)
	r.ObserveInference(ai.Inference{Model: "tiny", Duration: 2 * time.Second, PromptTokens: 100, PredictedTokens: 20})
	r.ObserveInference(ai.Inference{Model: "tiny", Duration: time.Second, Err: errors.New("down")})

	text := scrape(t, r)
	for _, want := range []string{
		`vanta_http_request_duration_seconds_count{code="200",method="GET",route="/api/v1/companies/:cid"} 1`,
		`vanta_http_request_duration_seconds_count{code="418",method="other",route="unmatched"} 1`,
		`vanta_service_state{service="llama-tiny",state="backoff"} 1`,
		`vanta_service_state{service="llama-tiny",state="healthy"} 0`,
		`vanta_service_last_exit_code{service="llama-tiny"} 137`,
		`vanta_service_restarts_total{service="llama-tiny"} 3`,
		`vanta_service_uptime_seconds{service="postgres"} 3600`,
		`vanta_ai_tokens_total{kind="predicted",model="tiny"} 20`,
		`vanta_ai_inference_duration_seconds_count{model="tiny",outcome="error"} 1`,
		`vanta_company_entries_posted_total{company="` + co.String() + `"} 12`,
		`vanta_company_documents{company="` + co.String() + `",status="done"} 2`,
		`vanta_company_documents{company="` + co.String() + `",status="failed"} 0`,
		`vanta_company_users_active{company="` + co.String() + `"} 1`,
		`vanta_company_storage_used_bytes{company="` + co.String() + `"} 4096`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("scrape lacks %s", want)
		}
	}
	now = now.Add(10 * time.Second)
	scrape(t, r)
	if reads != 1 {
		t.Errorf("company figures read %d times in 10 s, want once (cached)", reads)
	}
	now = now.Add(30 * time.Second)
	scrape(t, r)
	if reads != 2 {
		t.Errorf("company figures read %d times after the TTL, want 2", reads)
	}
	sealed = true
	if text := scrape(t, r); strings.Contains(text, "vanta_company_") || !strings.Contains(text, "vanta_service_state") {
		t.Error("sealed: company families served, or service families not")
	}
}

func scrape(t *testing.T, r *Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = bytes.NewReader(rec.Body.Bytes())
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	return rec.Body.String()
}

func samplesOf(t *testing.T, ss []alerts.Sample) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, s := range ss {
		out[s.Series] = s.Value
	}
	return out
}
