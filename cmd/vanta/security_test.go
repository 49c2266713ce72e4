package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vanta-ledger/vanta/internal/auth"
)

type securityEventJSON struct {
	ID        int64          `json:"id"`
	Kind      string         `json:"kind"`
	CompanyID *string        `json:"company_id"`
	UserID    *string        `json:"user_id"`
	IP        string         `json:"ip"`
	Details   map[string]any `json:"details"`
}

// securityEvents polls GOD's listing with query until match finds an
// event: events are written in the background, a moment after their cause.
func (w *world) securityEvents(t *testing.T, path, token string, match func(securityEventJSON) bool) securityEventJSON {
	t.Helper()
	deadline := time.Now().Add(guard)
	for {
		var page struct {
			Items []securityEventJSON `json:"items"`
		}
		w.in.mustCall("GET", path, token, nil, 200, &page)
		for _, e := range page.Items {
			if match(e) {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no matching event at %s within %s: %+v", path, guard, page.Items)
		}
		time.Sleep(50 * time.Millisecond) // polling a real, asynchronous write; the deadline bounds it
	}
}

// TestSecurityEventsAndMetrics: on one appliance, /metrics answers as
// checkMetrics and checkSealedMetrics say, and each security detector's
// cause shows up as its event (brute force, a probe of another company,
// GOD from a new address, an audit chain that stops verifying, a wrong
// unseal share), is counted per company, and only GOD (and a company's
// admin, for its own) may read them.
func TestSecurityEventsAndMetrics(t *testing.T) {
	w := newWorldWith(t, []string{"VANTA_TRUSTED_PROXIES=1", "VANTA_SECURITY_BRUTE_FORCE_FAILURES=3"})
	in := w.in
	god := w.god.AccessToken
	const sys = "/api/v1/sys/security-events"

	t.Run("metrics", func(t *testing.T) { checkMetrics(t, w) })

	t.Run("attackers are refused", func(t *testing.T) {
		for _, path := range []string{sys, sys + "/summary"} {
			if code, body := in.call("GET", path, "", nil); code != 401 {
				t.Errorf("%s without a token: %d %s", path, code, body)
			}
			for name, tk := range map[string]string{"A's admin": w.byRole[auth.RoleAdmin].AccessToken, "B's admin": w.bAdmin.AccessToken, "A's viewer": w.byRole[auth.RoleViewer].AccessToken} {
				if code, body := in.call("GET", path, tk, nil); code != 403 || errorCode(body) != "forbidden" {
					t.Errorf("%s by %s: %d %s", path, name, code, body)
				}
			}
		}
		if code, body := in.call("GET", "/api/v1/companies/"+w.a.ID+"/security-events", w.byRole[auth.RoleViewer].AccessToken, nil); code != 403 {
			t.Errorf("A's events by A's viewer: %d %s", code, body)
		}
		if code, body := in.call("GET", sys+"?kind=everything", god, nil); code != 400 || fieldOf(body) != "kind" {
			t.Errorf("unknown kind: %d %s", code, body)
		}
	})

	t.Run("brute force", func(t *testing.T) {
		const guesser = "203.0.113.50"
		for i := range 3 {
			if code, body := in.callFrom(guesser, "POST", "/api/v1/auth/login", "", map[string]string{"email": "viewer@acme.test", "password": fmt.Sprintf("wrong guess number %d", i)}); code != 401 {
				t.Fatalf("guess %d: %d %s", i, code, body)
			}
		}
		e := w.securityEvents(t, sys+"?kind=brute_force", god, func(e securityEventJSON) bool { return e.IP == guesser })
		if e.Details["by"] != "ip" || e.Details["failures"] != float64(3) {
			t.Errorf("brute force event %+v", e)
		}
		w.securityEvents(t, sys+"?kind=brute_force", god, func(e securityEventJSON) bool { return e.Details["by"] == "user_id" && e.UserID != nil })
		failed := w.securityEvents(t, sys+"?kind=login_failed", god, func(e securityEventJSON) bool { return e.IP == guesser })
		if failed.Details["reason"] != "bad_password" {
			t.Errorf("login_failed %+v", failed)
		}
		if b, _ := json.Marshal(failed); strings.Contains(string(b), "wrong guess") || strings.Contains(string(b), "viewer@acme.test") {
			t.Errorf("the event keeps what was typed: %s", b)
		}
	})

	t.Run("cross-company probe", func(t *testing.T) {
		viewer := w.byRole[auth.RoleViewer].AccessToken
		if code, body := in.call("GET", "/api/v1/companies/"+w.b.ID, viewer, nil); code != 404 {
			t.Fatalf("A's viewer asking for B: %d %s", code, body)
		}
		e := w.securityEvents(t, sys+"?kind=cross_company_probe&company_id="+url.QueryEscape(w.b.ID), god, func(securityEventJSON) bool { return true })
		if e.UserID == nil || e.Details["route"] != "/api/v1/companies/:cid" {
			t.Errorf("probe event %+v", e)
		}
		var sum struct {
			Items []struct {
				CompanyID *string `json:"company_id"`
				Kind      string  `json:"kind"`
				Count     int64   `json:"count"`
			} `json:"items"`
		}
		in.mustCall("GET", sys+"/summary", god, nil, 200, &sum)
		counted := false
		for _, c := range sum.Items {
			if c.CompanyID != nil && sameCompany(*c.CompanyID, w.b.ID) && c.Kind == "cross_company_probe" && c.Count >= 1 {
				counted = true
			}
		}
		if !counted {
			t.Errorf("the probe is not counted for B: %+v", sum.Items)
		}
		// B's admin sees the probe of B, not who made it; A's admin does not see it.
		own := w.securityEvents(t, "/api/v1/companies/"+w.b.ID+"/security-events", w.bAdmin.AccessToken, func(e securityEventJSON) bool { return e.Kind == "cross_company_probe" })
		if own.UserID != nil || own.IP != "" {
			t.Errorf("B's admin sees who probed: %+v", own)
		}
		var aPage struct {
			Items []securityEventJSON `json:"items"`
		}
		in.mustCall("GET", "/api/v1/companies/"+w.a.ID+"/security-events", w.byRole[auth.RoleAdmin].AccessToken, nil, 200, &aPage)
		for _, e := range aPage.Items {
			if e.CompanyID == nil || !sameCompany(*e.CompanyID, w.a.ID) {
				t.Errorf("A's admin sees an event of another company: %+v", e)
			}
		}
	})

	t.Run("GOD from a new address", func(t *testing.T) {
		const away = "198.51.100.77"
		if code, body := in.callFrom(away, "GET", "/api/v1/me", god, nil); code != 200 {
			t.Fatalf("GOD from %s: %d %s", away, code, body)
		}
		w.securityEvents(t, sys+"?kind=god_new_address", god, func(e securityEventJSON) bool { return e.IP == away })
	})

	t.Run("audit chain that stops verifying", func(t *testing.T) {
		admin := w.byRole[auth.RoleAdmin].AccessToken
		tamperAudit(t, w.data, "UPDATE audit.records SET actor = 'mallory' WHERE chain = $1 AND seq = 2", w.a.ID)
		var res struct{ OK bool }
		in.mustCall("GET", "/api/v1/companies/"+w.a.ID+"/audit/verify", admin, nil, 200, &res)
		if res.OK {
			t.Fatal("the tampered chain verifies")
		}
		w.securityEvents(t, "/api/v1/companies/"+w.a.ID+"/security-events?kind=audit_verify_failed", admin, func(e securityEventJSON) bool { return e.Details["chain"] != nil })
	})

	t.Run("wrong unseal share", func(t *testing.T) {
		in.mustCall("POST", "/api/v1/sys/seal", god, nil, 200, nil)
		checkSealedMetrics(t, w, god)
		wrong := []byte(w.shares[0])
		i := len(wrong) / 2
		// Shares are Crockford base32, read without regard to case: 'A'
		// made 'a' would be the same share.
		if wrong[i] == 'A' || wrong[i] == 'a' {
			wrong[i] = 'B'
		} else {
			wrong[i] = 'A'
		}
		if code, body := in.callFrom("192.0.2.99", "POST", "/api/v1/sys/unseal", "", map[string]string{"share": string(wrong)}); code < 400 || code >= 500 {
			t.Fatalf("a wrong share: %d %s", code, body)
		}
		in.unseal(w.shares)
		code, err := auth.TOTPCode(w.godTOTP, time.Now().Add(30*time.Second)) // the current step's code is spent
		if err != nil {
			t.Fatal(err)
		}
		var tk tokens
		in.mustCall("POST", "/api/v1/auth/login", "", map[string]string{"email": "god@vanta.test", "password": "correct horse battery staple", "totp": code}, 200, &tk)
		e := w.securityEvents(t, sys+"?kind=unseal_failed", tk.AccessToken, func(e securityEventJSON) bool { return e.IP == "192.0.2.99" })
		if e.Details["refused"] == nil || e.CompanyID != nil {
			t.Errorf("unseal_failed %+v", e)
		}
	})
}
