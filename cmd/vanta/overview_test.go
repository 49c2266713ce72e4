package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/vanta-ledger/vanta/internal/auth"
)

// TestSysOverview: GOD reads the seal, the services, the allowances and
// every live company with its members and stored bytes in one answer, which
// matches what the per-company routes say and the document's schema; no
// token, a company admin's token and another site's page are refused, and
// so is everyone while sealed. In
// the same world, a person's pending invitations name their company, and
// never an archived one.
func TestSysOverview(t *testing.T) {
	w := newWorld(t)
	in := w.in
	god := w.god.AccessToken
	_, raw := in.call("GET", "/api/v1/openapi.json", "", nil)
	schemas := newAnswerChecker(t, raw)

	// A stores 4 KiB (its counter); a third company is archived and must
	// not appear. B's viewer, who has an account, is invited into A and
	// into the third company before it is archived.
	if err := redisClient(t, w.data).Set(context.Background(), "company:"+w.a.ID+":quota:storage", 4096, 0).Err(); err != nil {
		t.Fatal(err)
	}
	var gone company
	in.mustCall("POST", "/api/v1/companies", god, map[string]any{"company_name": "Zamani Ltd", "tax_id": "P051111111C"}, 201, &gone)
	viewer := w.bByRole[auth.RoleViewer].AccessToken
	var who struct{ Email string }
	in.mustCall("GET", "/api/v1/me", viewer, nil, 200, &who)
	for _, co := range []company{w.a, gone} {
		in.mustCall("POST", "/api/v1/companies/"+co.ID+"/invitations", god, map[string]string{"email": who.Email, "role": "manager"}, 201, nil)
	}
	in.mustCall("DELETE", "/api/v1/companies/"+gone.ID, god, map[string]any{"confirm": gone.Name}, 200, nil)

	code, body := in.call("GET", "/api/v1/sys/overview", god, nil)
	if code != 200 {
		t.Fatalf("GOD's overview: %d %s", code, body)
	}
	schemas.check("GET", "/api/v1/sys/overview", code, body)
	var ov struct {
		Seal struct {
			Sealed     bool `json:"sealed"`
			KeyVersion int  `json:"key_version"`
		} `json:"seal"`
		Services struct {
			Services []struct{ Name, State string }
		} `json:"services"`
		Quotas struct {
			RequestsPerMinute struct {
				PerUser int `json:"per_user"`
			} `json:"requests_per_minute"`
			StorageBytes int64 `json:"storage_bytes"`
		} `json:"quotas"`
		Companies []struct {
			ID           string `json:"company_id"`
			Name         string `json:"company_name"`
			Members      int    `json:"members"`
			StorageBytes struct {
				Used, Limit int64
			} `json:"storage_bytes"`
		} `json:"companies"`
	}
	if err := json.Unmarshal(body, &ov); err != nil {
		t.Fatal(err)
	}
	if ov.Seal.Sealed || ov.Seal.KeyVersion != 1 {
		t.Errorf("seal in the overview: %+v", ov.Seal)
	}
	var services struct {
		Services []struct{ Name, State string }
	}
	in.mustCall("GET", "/api/v1/sys/services", god, nil, 200, &services)
	names := func(list []struct{ Name, State string }) (out []string) {
		for _, s := range list {
			out = append(out, s.Name)
		}
		return out
	}
	if len(services.Services) < 3 || !slices.Equal(names(ov.Services.Services), names(services.Services)) {
		t.Errorf("overview's services %v, the appliance's %v", names(ov.Services.Services), names(services.Services))
	}
	if ov.Quotas.RequestsPerMinute.PerUser != 600 {
		t.Errorf("allowances: %+v", ov.Quotas)
	}
	if len(ov.Companies) != 2 {
		t.Fatalf("overview lists %d companies, want A and B (not the archived one): %s", len(ov.Companies), body)
	}
	for _, c := range ov.Companies {
		var users struct{ Items []any }
		in.mustCall("GET", "/api/v1/companies/"+c.ID+"/users", god, nil, 200, &users)
		var q struct {
			StorageBytes struct{ Used, Limit int64 } `json:"storage_bytes"`
		}
		in.mustCall("GET", "/api/v1/companies/"+c.ID+"/quota", god, nil, 200, &q)
		if c.Members != len(users.Items) || c.Members == 0 || c.StorageBytes != q.StorageBytes || c.StorageBytes.Limit != ov.Quotas.StorageBytes {
			t.Errorf("%s: overview says %d members, %+v stored; its routes %d members, %+v", c.Name, c.Members, c.StorageBytes, len(users.Items), q.StorageBytes)
		}
		want := map[string]int64{w.a.ID: 4096, w.b.ID: 0}
		if used, ok := want[c.ID]; !ok || c.StorageBytes.Used != used {
			t.Errorf("%s (%s) in the overview: %d bytes stored", c.Name, c.ID, c.StorageBytes.Used)
		}
	}

	// Refused: no token, a company admin's, another site's page (even
	// with GOD's token: its answer is for GOD's own console alone).
	for who, tc := range map[string]struct {
		token  string
		header map[string]string
		code   int
		error  string
	}{
		"no token":       {"", nil, 401, "unauthenticated"},
		"A's admin":      {w.byRole[auth.RoleAdmin].AccessToken, nil, 403, "forbidden"},
		"B's admin":      {w.bAdmin.AccessToken, nil, 403, "forbidden"},
		"another site":   {god, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, 403, "cross_site"},
		"another origin": {god, map[string]string{"Origin": "https://evil.example"}, 403, "cross_site"},
	} {
		code, body := in.raw("GET", "/api/v1/sys/overview", tc.token, "", tc.header)
		if code != tc.code || errorCode(body) != tc.error {
			t.Errorf("%s: %d %s, want %d %s", who, code, body, tc.code, tc.error)
		}
		if strings.Contains(string(body), w.a.Name) {
			t.Errorf("%s: the refusal names a company: %s", who, body)
		}
	}
	// The console's own page (same origin) is let through.
	own := map[string]string{"Origin": strings.TrimSuffix(in.url("/"), "/"), "Sec-Fetch-Site": "same-origin"}
	if code, body := in.raw("GET", "/api/v1/sys/overview", god, "", own); code != 200 {
		t.Errorf("from the console's origin: %d %s", code, body)
	}

	t.Run("me names the company of each pending invitation", func(t *testing.T) {
		code, body := in.call("GET", "/api/v1/me", viewer, nil)
		if code != 200 {
			t.Fatalf("me: %d %s", code, body)
		}
		schemas.check("GET", "/api/v1/me", code, body)
		var me struct {
			Invitations []struct {
				CompanyID   string `json:"company_id"`
				CompanyName string `json:"company_name"`
			} `json:"invitations"`
		}
		if err := json.Unmarshal(body, &me); err != nil {
			t.Fatal(err)
		}
		if len(me.Invitations) != 1 || me.Invitations[0].CompanyID != w.a.ID || me.Invitations[0].CompanyName != w.a.Name {
			t.Errorf("B's viewer's invitations: %s; want only A's, named %q", body, w.a.Name)
		}
		if strings.Contains(string(body), gone.Name) || strings.Contains(string(body), gone.ID) {
			t.Errorf("the archived company shows in me: %s", body)
		}
	})

	// Sealed, GOD's token cannot be checked: closed, never open.
	in.mustCall("POST", "/api/v1/sys/seal", god, nil, 200, nil)
	if code, body := in.call("GET", "/api/v1/sys/overview", god, nil); code != 503 || errorCode(body) != "sealed" {
		t.Errorf("sealed: %d %s, want 503 sealed", code, body)
	}
}
