package main

import (
	"bytes"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// checkMetrics scrapes the real appliance's /metrics as GOD and as a
// scraper on the same host without a token, is refused for a company
// admin, a bad token and a forwarded request, holds the output to
// promtool's checks (no warnings), and finds the series per route, per
// service and per company. It shares TestSecurityEventsAndMetrics's world:
// a world is the suite's dearest fixture.
func checkMetrics(t *testing.T, w *world) {
	in := w.in
	god, admin := w.god.AccessToken, w.byRole["admin"].AccessToken
	a := "/api/v1/companies/" + w.a.ID
	// Requests to count: a company route by A's admin (an active user of A).
	in.mustCall("GET", a, admin, nil, 200, nil)
	in.mustCall("GET", a+"/users", admin, nil, 200, nil)

	code, body := in.call("GET", "/metrics", god, nil)
	if code != 200 {
		t.Fatalf("/metrics as GOD: %d %s", code, body)
	}
	promtoolCheck(t, body)
	text := string(body)
	for _, want := range []struct {
		name   string
		labels map[string]string
	}{
		{"vanta_http_request_duration_seconds_count", map[string]string{"route": "/api/v1/companies/:cid", "method": "GET", "code": "200"}},
		{"vanta_http_request_duration_seconds_bucket", map[string]string{"route": "/api/v1/companies/:cid/users", "method": "GET", "code": "200", "le": "+Inf"}},
		{"vanta_service_state", map[string]string{"service": "postgres", "state": "healthy"}},
		{"vanta_service_restarts_total", map[string]string{"service": "redis"}},
		{"vanta_service_uptime_seconds", map[string]string{"service": "postgres"}},
		{"vanta_postgres_pool_connections", map[string]string{"pool": "app", "state": "idle"}},
		{"vanta_postgres_pool_acquires_total", map[string]string{"pool": "admin"}},
		{"vanta_redis_pool_hits_total", nil},
		{"vanta_jobs_queue_depth", nil},
		{"vanta_host_memory_size_bytes", nil},
		{"vanta_host_cpu_usage_ratio", map[string]string{"cpu": "0"}},
		{"vanta_host_filesystem_used_ratio", map[string]string{"path": w.data}},
		{"vanta_company_storage_used_bytes", map[string]string{"company": w.a.ID}},
		{"vanta_company_entries_posted_total", map[string]string{"company": w.b.ID}},
		{"vanta_company_documents", map[string]string{"company": w.a.ID, "status": "done"}},
		{"vanta_company_ai_requests_last_hour", map[string]string{"company": w.a.ID}},
		{"go_goroutines", nil},
		{"process_resident_memory_bytes", nil},
	} {
		if _, ok := sample(text, want.name, want.labels); !ok {
			t.Errorf("no %s%v in the scrape", want.name, want.labels)
		}
	}
	if v, ok := sample(text, "vanta_service_state", map[string]string{"service": "postgres", "state": "healthy"}); !ok || v != 1 {
		t.Errorf("postgres healthy = %v, want 1", v)
	}
	if v, _ := sample(text, "vanta_company_users_active", map[string]string{"company": w.a.ID}); v < 1 {
		t.Errorf("A's active users = %v, want at least its admin", v)
	}
	if strings.Contains(text, w.a.ID+"/") || strings.Contains(text, `route="/api/v1/companies/`+w.a.ID) {
		t.Error("a raw path is a label value")
	}

	// Without a token, from this host (the test's loopback connection).
	if code, body := in.call("GET", "/metrics", "", nil); code != 200 || !strings.Contains(string(body), "vanta_service_state") {
		t.Fatalf("/metrics from loopback without a token: %d", code)
	}
	// Refused: a company admin, a bad token, a request a proxy forwarded.
	for _, c := range []struct {
		name, token, xff string
		code             int
		errCode          string
	}{
		{"company admin", admin, "", 403, "forbidden"},
		{"bad token", "not-a-token", "", 401, "invalid_token"},
		{"forwarded, no token", "", "203.0.113.9", 401, "unauthenticated"},
	} {
		code, body := in.callFrom(c.xff, "GET", "/metrics", c.token, nil)
		if code != c.code || errorCode(body) != c.errCode {
			t.Errorf("%s: %d %s, want %d %s", c.name, code, body, c.code, c.errCode)
		}
	}

}

// checkSealedMetrics runs while w is sealed: the host and service
// families are still served to the local scraper, the company ones are
// not, and GOD's token (god) cannot be checked.
func checkSealedMetrics(t *testing.T, w *world, god string) {
	in := w.in
	code, body := in.call("GET", "/metrics", "", nil)
	if code != 200 {
		t.Fatalf("/metrics sealed: %d %s", code, body)
	}
	promtoolCheck(t, body)
	if _, ok := sample(string(body), "vanta_service_state", map[string]string{"service": "postgres", "state": "healthy"}); !ok {
		t.Error("sealed: no service states")
	}
	if strings.Contains(string(body), "vanta_company_") {
		t.Error("sealed: per-company figures are served")
	}
	// A token cannot be checked while the identity keys are sealed.
	if code, body := in.call("GET", "/metrics", god, nil); code != 503 || errorCode(body) != "sealed" {
		t.Errorf("sealed, GOD's token: %d %s, want 503 sealed", code, body)
	}
}

// promtoolCheck runs Debian's `promtool check metrics` over a scrape: it
// must pass with nothing to say.
func promtoolCheck(t *testing.T, scrape []byte) {
	t.Helper()
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = bytes.NewReader(scrape)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// sample finds a series of name with (at least) labels in a text
// exposition and returns its value.
func sample(text, name string, labels map[string]string) (float64, bool) {
	line := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)`)
	for _, l := range strings.Split(text, "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil || m[1] != name {
			continue
		}
		ok := true
		for k, v := range labels {
			if !strings.Contains(m[2], k+`="`+v+`"`) {
				ok = false
				break
			}
		}
		if ok {
			v, err := strconv.ParseFloat(m[3], 64)
			return v, err == nil
		}
	}
	return 0, false
}
