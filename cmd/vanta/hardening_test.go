package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/auth"
)

// raw sends body exactly as given, with the headers given (nil token: none).
func (in *instance) raw(method, path, token, body string, header map[string]string) (int, []byte) {
	in.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := in.request(method, path, rd)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return in.do(req)
}

func errorField(body []byte) string {
	var e struct {
		Error struct{ Field string } `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error.Field
}

// Hole 5 over the real binary: a page elsewhere posting to the seal routes
// (fetch or sendBeacon, with or without a JSON type) changes nothing; the
// same share sent as a script sends it counts.
func TestCrossSiteSealRequestsRefused(t *testing.T) {
	in := boot(t, dataDir(t))
	in.waitReady()
	evil := map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}
	beacon := map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain;charset=UTF-8"}
	plain := map[string]string{"Content-Type": "text/plain;charset=UTF-8"}
	none := map[string]string{}
	initBody := `{"shares":3,"threshold":2}`
	for name, tc := range map[string]struct {
		header map[string]string
		status int
		code   string
	}{
		"cross-site fetch":  {evil, 403, "cross_site"},
		"cross-site beacon": {beacon, 403, "cross_site"},
		"text/plain":        {plain, 415, "unsupported_media_type"},
		"no type":           {none, 415, "unsupported_media_type"},
	} {
		if code, body := in.raw("POST", "/api/v1/sys/init", "", initBody, tc.header); code != tc.status || errorCode(body) != tc.code {
			t.Errorf("init, %s: %d %s, want %d %s", name, code, body, tc.status, tc.code)
		}
	}
	if st := in.sealStatus(); st.Initialized {
		t.Fatalf("a refused init initialised the appliance: %+v", st)
	}

	shares := in.initSeal(3, 2)
	if !in.sealStatus().Sealed {
		in.mustCall("POST", "/api/v1/sys/seal", "", nil, 200, nil)
	}
	share, _ := json.Marshal(map[string]string{"share": shares[0]})
	for name, tc := range map[string]struct {
		header map[string]string
		status int
		code   string
	}{
		"cross-site fetch":                  {evil, 403, "cross_site"},
		"cross-site beacon":                 {beacon, 403, "cross_site"},
		"same-site page":                    {map[string]string{"Origin": "https://sibling.invalid", "Sec-Fetch-Site": "same-site", "Content-Type": "application/json"}, 403, "cross_site"},
		"another origin, no fetch metadata": {map[string]string{"Origin": "http://127.0.0.1:1", "Content-Type": "application/json"}, 403, "cross_site"},
		"text/plain":                        {plain, 415, "unsupported_media_type"},
		"no type":                           {none, 415, "unsupported_media_type"},
	} {
		if code, body := in.raw("POST", "/api/v1/sys/unseal", "", string(share), tc.header); code != tc.status || errorCode(body) != tc.code {
			t.Errorf("unseal, %s: %d %s, want %d %s", name, code, body, tc.status, tc.code)
		}
		if code, body := in.raw("POST", "/api/v1/sys/unseal", "", `{"reset":true}`, tc.header); code != tc.status {
			t.Errorf("unseal reset, %s: %d %s, want %d", name, code, body, tc.status)
		}
	}
	if st := in.sealStatus(); !st.Sealed || st.Progress != 0 {
		t.Fatalf("refused unseals changed the progress: %+v", st)
	}
	// The console's own page (same origin) and a script are served.
	own := map[string]string{"Origin": strings.TrimSuffix(in.url("/"), "/"), "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}
	if code, body := in.raw("POST", "/api/v1/sys/unseal", "", string(share), own); code != 200 {
		t.Fatalf("unseal from the console's origin: %d %s", code, body)
	}
	if st := in.sealStatus(); st.Progress != 1 {
		t.Fatalf("progress %d after one accepted share", st.Progress)
	}
	in.unseal(shares[1:2])
	if code, body := in.raw("POST", "/api/v1/sys/seal", "", "", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}); code != 403 || errorCode(body) != "cross_site" {
		t.Errorf("cross-site beacon to seal: %d %s", code, body)
	}
	if in.sealStatus().Sealed {
		t.Error("a cross-site beacon sealed the appliance")
	}
}

// Hole 9 over the real binary: NULs, duplicate and case-folded keys and
// cursors the API did not give out are 400s naming the field, and create
// nothing. Hole 10: refusals inside handlers are in the audit chains, and
// GOD reads and verifies the system chain.
func TestHardenedRequestsOverHTTP(t *testing.T) {
	w := newWorld(t)
	in := w.in
	god, admin, viewer := w.god.AccessToken, w.byRole[auth.RoleAdmin].AccessToken, w.byRole[auth.RoleViewer].AccessToken
	jsonCT := map[string]string{"Content-Type": "application/json"}
	countOf := func(path string) int {
		var list struct{ Items []json.RawMessage }
		in.mustCall("GET", path, god, nil, 200, &list)
		return len(list.Items)
	}

	t.Run("bad input is a 400 naming the field and creates nothing", func(t *testing.T) {
		companies, invitations := countOf("/api/v1/companies"), countOf("/api/v1/companies/"+w.a.ID+"/invitations")
		for _, tc := range []struct {
			name, path, token, body, code, field string
		}{
			{"NUL in a company name", "/api/v1/companies", god, `{"company_name":"Al\u0000pha","tax_id":"P051111111A"}`, "validation_failed", "company_name"},
			{"case-folded key", "/api/v1/companies", god, `{"Company_Name":"Alpha","tax_id":"P051111111A"}`, "unknown_field", "Company_Name"},
			{"duplicate nested key", "/api/v1/companies", god, `{"company_name":"Alpha","tax_id":"P051111111A","settings":{"currency":"KES","currency":"USD"}}`, "duplicate_field", "settings.currency"},
			{"NUL in an email", "/api/v1/companies/" + w.a.ID + "/invitations", admin, `{"email":"new\u0000@acme.test","role":"viewer"}`, "validation_failed", "email"},
			{"duplicate role", "/api/v1/companies/" + w.a.ID + "/invitations", admin, `{"email":"new@acme.test","role":"viewer","role":"admin"}`, "duplicate_field", "role"},
			{"case-folded role", "/api/v1/companies/" + w.a.ID + "/invitations", admin, `{"email":"new@acme.test","Role":"admin"}`, "unknown_field", "Role"},
			{"NUL in a login email", "/api/v1/auth/login", "", `{"email":"god@vanta.test\u0000","password":"correct horse battery staple"}`, "validation_failed", "email"},
		} {
			code, body := in.raw("POST", tc.path, tc.token, tc.body, jsonCT)
			if code != 400 || errorCode(body) != tc.code || errorField(body) != tc.field {
				t.Errorf("%s: %d %s, want 400 %s field %s", tc.name, code, body, tc.code, tc.field)
			}
		}
		if n := countOf("/api/v1/companies"); n != companies {
			t.Errorf("companies: %d, was %d", n, companies)
		}
		if n := countOf("/api/v1/companies/" + w.a.ID + "/invitations"); n != invitations {
			t.Errorf("invitations: %d, was %d", n, invitations)
		}
		for _, path := range []string{"/api/v1/companies", "/api/v1/companies/" + w.a.ID + "/audit", "/api/v1/sys/audit"} {
			for _, cur := range []string{"AA", "_w", "not-base64!", "MQ"} { // NUL, 0xff, garbage, "1" (no company id)
				if path != "/api/v1/companies" && cur == "MQ" {
					continue // "1" is a valid audit position
				}
				code, body := in.call("GET", path+"?cursor="+cur, god, nil)
				if code != 400 || errorCode(body) != "validation_failed" || errorField(body) != "cursor" {
					t.Errorf("%s?cursor=%s: %d %s", path, cur, code, body)
				}
			}
		}
	})

	t.Run("refusals are audited; GOD reads and verifies the system chain", func(t *testing.T) {
		var me struct{ ID string }
		in.mustCall("GET", "/api/v1/me", viewer, nil, 200, &me)
		if code, body := in.call("POST", "/api/v1/companies/"+w.a.ID+"/invitations", viewer, map[string]string{"email": "x@acme.test", "role": "viewer"}); code != 403 {
			t.Fatalf("viewer invites: %d %s", code, body)
		}
		in.mustCall("PATCH", "/api/v1/companies/"+w.a.ID, w.bAdmin.AccessToken, map[string]string{"company_name": "Mine now"}, 404, nil)
		if code, body := in.call("GET", "/api/v1/sys/audit", admin, nil); code != 403 || errorCode(body) != "forbidden" {
			t.Errorf("company admin reads the system chain: %d %s", code, body)
		}
		if code, body := in.call("GET", "/api/v1/sys/audit/verify", admin, nil); code != 403 {
			t.Errorf("company admin verifies the system chain: %d %s", code, body)
		}

		type record struct {
			Seq                                  int64
			Actor, Action, Resource, Outcome, IP string
			Details                              string
		}
		type page struct {
			Items      []record
			NextCursor string `json:"next_cursor"`
		}
		var chainA page
		in.mustCall("GET", "/api/v1/companies/"+w.a.ID+"/audit?limit=20", admin, nil, 200, &chainA)
		found := false
		for _, r := range chainA.Items {
			if r.Action == "permission.denied" && r.Actor == "user/"+me.ID && r.Resource == "POST /api/v1/companies/:cid/invitations" &&
				r.Outcome == "denied" && r.IP == "127.0.0.1" && strings.Contains(r.Details, `"wanted":"users.manage"`) {
				found = true
			}
		}
		if !found {
			t.Errorf("the viewer's refused invitation is not in company A's chain: %+v", chainA.Items)
		}

		// GOD pages through the system chain, newest first.
		var all []record
		cursor, pages := "", 0
		for {
			var p page
			in.mustCall("GET", "/api/v1/sys/audit?limit=3&cursor="+cursor, god, nil, 200, &p)
			all = append(all, p.Items...)
			pages++
			if p.NextCursor == "" || pages > 1000 {
				break
			}
			cursor = p.NextCursor
		}
		if pages < 2 || len(all) < 4 {
			t.Fatalf("system chain: %d records in %d pages", len(all), pages)
		}
		seen := map[string]bool{}
		for i, r := range all {
			if i > 0 && r.Seq != all[i-1].Seq-1 {
				t.Fatalf("paging skipped or repeated: seq %d after %d", r.Seq, all[i-1].Seq)
			}
			seen[r.Action] = true
			if r.Action == "permission.denied" && strings.Contains(r.Details, w.a.ID) && r.Resource == "PATCH /api/v1/companies/:cid" {
				seen["foreign company"] = true
			}
		}
		for _, want := range []string{"seal.unsealed", "company.create", "foreign company", "permission.denied"} {
			if !seen[want] {
				t.Errorf("system chain lacks %s: %v", want, seen)
			}
		}
		var res struct {
			OK      bool  `json:"ok"`
			Records int64 `json:"records"`
		}
		in.mustCall("GET", "/api/v1/sys/audit/verify", god, nil, 200, &res)
		if !res.OK {
			t.Errorf("system chain does not verify: %+v", res)
		}
	})
}

// godCall is a GOD request from a load goroutine: no t.Fatal off the
// test's goroutine, the error is returned.
func (in *instance) godCall(method, path, token string, body any) (int, []byte, error) {
	b, _ := json.Marshal(body)
	req := in.request(method, path, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := in.client().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// Hole 12: kill -9 PostgreSQL under a write load, three times. Every
// answer is 2xx, 4xx or 503 unavailable, never a 500, and every company
// and invitation acknowledged with 201 is there afterwards.
func TestPostgresKilledUnderWriteLoad(t *testing.T) {
	w := newWorld(t)
	in := w.in
	god := w.god.AccessToken
	postgres := func() appliance.ServiceReport {
		var rep appliance.ServicesReport
		in.mustCall("GET", "/api/v1/sys/services", god, nil, 200, &rep)
		for _, s := range rep.Services {
			if s.Name == "postgres" {
				return s
			}
		}
		t.Fatal("no postgres service")
		return appliance.ServiceReport{}
	}

	// GOD creates companies (long transactions across every store, so a
	// crash is likely to land inside one); two admins create invitations.
	type writer struct {
		token, company string // company "": create companies
	}
	writers := []writer{{god, ""}, {w.byRole[auth.RoleAdmin].AccessToken, w.a.ID}, {w.bAdmin.AccessToken, w.b.ID}}
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		acked    = map[string][]string{} // company, or "companies" → ids answered 201
		problems []string
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g, wr := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Paced under the per-user quota (600 a minute), so that what
			// is measured is the store, not the quota; at most 2,000 each.
			tick := time.NewTicker(120 * time.Millisecond)
			defer tick.Stop()
			for i := range 2000 {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				path, body, key := "/api/v1/companies/"+wr.company+"/invitations", any(map[string]string{"email": fmt.Sprintf("load-%d-%d@load.test", g, i), "role": "viewer"}), wr.company
				if wr.company == "" {
					path, body, key = "/api/v1/companies", map[string]string{"company_name": fmt.Sprintf("Load %d Ltd", i), "tax_id": fmt.Sprintf("P%09dL", 700000000+i)}, "companies"
				}
				code, answer, err := in.godCall("POST", path, wr.token, body)
				mu.Lock()
				statuses[code]++
				switch {
				case err != nil:
					problems = append(problems, fmt.Sprintf("transport: %v", err))
				case code == 201:
					var out struct {
						Invitation struct{ ID string }
						CompanyID  string `json:"company_id"`
					}
					_ = json.Unmarshal(answer, &out)
					id := out.Invitation.ID
					if key == "companies" {
						id = out.CompanyID
					}
					if id == "" {
						problems = append(problems, "201 without an id: "+string(answer))
					}
					acked[key] = append(acked[key], id)
				case code == 503 && errorCode(answer) == "unavailable":
					// Retry-After is checked in the unit test of fail.
				case code >= 500:
					problems = append(problems, fmt.Sprintf("%s: %d %s", path, code, answer))
				}
				mu.Unlock()
			}
		}()
	}
	t.Cleanup(func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	})

	for kill := range 3 {
		// Let writes succeed before each crash.
		waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return statuses[201] >= 20*(kill+1) }, "writes before a crash")
		pg := postgres()
		if pg.State != "healthy" || pg.PID == 0 {
			t.Fatalf("postgres before kill %d: %+v", kill+1, pg)
		}
		if err := syscall.Kill(pg.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		in.waitLine("postgres leaving healthy", func(l map[string]any) bool {
			return l["msg"] == "state" && l["program"] == "postgres" && l["from"] == "healthy"
		})
		in.waitLine("postgres healthy again", stateLine("postgres", "healthy"))
	}
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return statuses[201] >= 80 }, "writes after the last crash")
	close(stop)
	wg.Wait()

	total, unavailable := 0, statuses[503]
	for _, n := range statuses {
		total += n
	}
	t.Logf("requests %d, statuses %v (503 unavailable %d, 500 %d)", total, statuses, unavailable, statuses[500])
	for _, p := range problems {
		t.Error(p)
	}
	for company, ids := range acked {
		var list struct {
			Items []struct {
				ID        string
				CompanyID string `json:"company_id"`
			}
		}
		path := "/api/v1/companies/" + company + "/invitations"
		if company == "companies" {
			path = "/api/v1/companies?limit=1000"
		}
		in.mustCall("GET", path, god, nil, 200, &list)
		have := map[string]bool{}
		for _, it := range list.Items {
			have[it.ID] = true
			have[it.CompanyID] = true
		}
		for _, id := range ids {
			if !have[id] {
				t.Errorf("acknowledged invitation %s of %s is gone", id, company)
			}
		}
	}
}

// waitFor polls cond until it holds, within the harness's guard.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(guard)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, guard)
		}
		<-tick.C
	}
}

var _ = http.StatusOK
