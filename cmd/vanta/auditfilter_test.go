package main

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vanta-ledger/vanta/internal/auth"
)

// auditItem is one record of an audit listing, as a test reads it.
type auditItem struct {
	Seq     int64  `json:"seq"`
	At      string `json:"at"`
	Actor   string `json:"actor"`
	Action  string `json:"action"`
	Outcome string `json:"outcome"`
}

// TestAuditFiltersOverHTTP: the audit listings filter on the appliance
// (each filter gives exactly the records the unfiltered listing has that
// pass it, page by page with the cursor), every bad filter is a 400
// validation_failed naming its parameter on both routes, and no filter
// opens another company's chain.
func TestAuditFiltersOverHTTP(t *testing.T) {
	w := newWorld(t)
	in := w.in
	god := w.god.AccessToken
	admin := w.byRole[auth.RoleAdmin].AccessToken
	viewer := w.byRole[auth.RoleViewer].AccessToken

	// A refusal in A's chain: a viewer may not invite.
	in.mustCall("POST", "/api/v1/companies/"+w.a.ID+"/invitations", viewer, map[string]string{"email": "nobody@acme.test", "role": "user"}, 403, nil)
	var me struct{ ID string }
	in.mustCall("GET", "/api/v1/me", viewer, nil, 200, &me)

	// list follows next_cursor to the end of a listing.
	list := func(path, token, query string, limit int) []auditItem {
		t.Helper()
		var all []auditItem
		cursor := ""
		for {
			var page struct {
				Items      []auditItem `json:"items"`
				NextCursor string      `json:"next_cursor"`
			}
			in.mustCall("GET", fmt.Sprintf("%s?%s&limit=%d&cursor=%s", path, query, limit, url.QueryEscape(cursor)), token, nil, 200, &page)
			all = append(all, page.Items...)
			if page.NextCursor == "" {
				return all
			}
			cursor = page.NextCursor
		}
	}
	seqs := func(items []auditItem) []int64 {
		var s []int64
		for _, r := range items {
			s = append(s, r.Seq)
		}
		return s
	}

	at := func(r auditItem) time.Time {
		v, err := time.Parse(time.RFC3339Nano, r.At)
		if err != nil {
			t.Fatalf("record %d at %q: %v", r.Seq, r.At, err)
		}
		return v
	}
	today := time.Now().UTC()
	day := func(d int) string { return today.AddDate(0, 0, d).Format(time.DateOnly) }
	for _, route := range []struct {
		name, path, token string
	}{
		{"company", "/api/v1/companies/" + w.a.ID + "/audit", admin},
		{"system", "/api/v1/sys/audit", god},
	} {
		all := list(route.path, route.token, "", 1000)
		if len(all) < 3 {
			t.Fatalf("%s chain has %d records", route.name, len(all))
		}
		mid := all[len(all)/2]
		cases := []struct {
			query string
			pass  func(auditItem) bool
		}{
			{"outcome=denied", func(r auditItem) bool { return r.Outcome == "denied" }},
			{"outcome=ok&action=auth.", func(r auditItem) bool { return r.Outcome == "ok" && strings.HasPrefix(r.Action, "auth.") }},
			{"action=auth.login", func(r auditItem) bool { return r.Action == "auth.login" }},
			{"actor=" + me.ID, func(r auditItem) bool { return r.Actor == "user/"+me.ID || r.Actor == me.ID }},
			{"actor=user/" + me.ID + "&outcome=denied", func(r auditItem) bool { return r.Actor == "user/"+me.ID && r.Outcome == "denied" }},
			{"from=" + day(-1) + "&to=" + day(1), func(auditItem) bool { return true }},
			// A record's own instant: from and to both include it.
			{"from=" + url.QueryEscape(mid.At), func(r auditItem) bool { return !at(r).Before(at(mid)) }},
			{"to=" + url.QueryEscape(mid.At), func(r auditItem) bool { return !at(r).After(at(mid)) }},
			{"from=" + day(1), func(auditItem) bool { return false }},
			{"to=" + day(-1), func(auditItem) bool { return false }},
		}
		for _, tc := range cases {
			var want []int64
			for _, r := range all {
				if tc.pass(r) {
					want = append(want, r.Seq)
				}
			}
			if got := seqs(list(route.path, route.token, tc.query, 1000)); !slices.Equal(got, want) {
				t.Errorf("%s ?%s: seqs %v, want %v", route.name, tc.query, got, want)
			}
			if got := seqs(list(route.path, route.token, tc.query, 1)); !slices.Equal(got, want) {
				t.Errorf("%s ?%s one a page: seqs %v, want %v", route.name, tc.query, got, want)
			}
		}
		// The refusal above is in A's chain, found by its outcome.
		if route.name == "company" && len(list(route.path, route.token, "outcome=denied&actor="+me.ID, 1000)) == 0 {
			t.Errorf("the viewer's refusal is not in A's chain filtered by outcome and actor")
		}

		for _, tc := range []struct{ query, field string }{
			{"actor=" + strings.Repeat("a", 201), "actor"},
			{"actor=user%00", "actor"},
			{"action=company.%00", "action"},
			{"action=" + strings.Repeat("a", 201), "action"},
			{"outcome=refused", "outcome"},
			{"from=last-march", "from"},
			{"from=2026-02-30", "from"},
			{"to=2026-03-01T09:00:00", "to"},
			{"from=" + day(0) + "&to=" + day(-1), "to"},
		} {
			code, body := in.call("GET", route.path+"?"+tc.query, route.token, nil)
			if code != 400 || errorCode(body) != "validation_failed" || errorField(body) != tc.field {
				t.Errorf("%s ?%s: %d %s, want 400 validation_failed naming %s", route.name, tc.query, code, body, tc.field)
			}
		}
	}

	// No filter opens another company's chain: A's admin asking for B's
	// records, even by B's admin, gets B's "not found" and nothing of B.
	var bMe struct{ ID string }
	in.mustCall("GET", "/api/v1/me", w.bAdmin.AccessToken, nil, 200, &bMe)
	for _, q := range []string{"", "actor=" + bMe.ID, "action=auth.", "outcome=ok", "from=" + day(-1) + "&to=" + day(1),
		"actor=user/" + bMe.ID + "&action=auth.&outcome=ok&from=" + day(-1)} {
		code, body := in.call("GET", "/api/v1/companies/"+w.b.ID+"/audit?"+q, admin, nil)
		if code != 404 || strings.Contains(string(body), bMe.ID) {
			t.Errorf("A's admin on B's audit ?%s: %d %s", q, code, body)
		}
	}
	// And A's chain filtered by B's admin holds nothing of B's.
	for _, r := range list("/api/v1/companies/"+w.a.ID+"/audit", admin, "actor="+bMe.ID, 1000) {
		t.Errorf("A's chain lists a record by B's admin: %+v", r)
	}
}
