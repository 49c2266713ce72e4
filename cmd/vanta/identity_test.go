package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/auth"
)

// call sends a request with an optional bearer token and JSON body.
func (in *instance) call(method, path, token string, body any) (int, []byte) {
	in.t.Helper()
	return in.callFrom("", method, path, token, body)
}

func (in *instance) mustCall(method, path, token string, body any, want int, out any) {
	in.t.Helper()
	code, data := in.call(method, path, token, body)
	if code != want {
		in.mu.Lock()
		for _, l := range in.lines {
			if l["level"] == "ERROR" {
				in.t.Logf("vanta init logged: %v", l)
			}
		}
		in.mu.Unlock()
		in.t.Fatalf("%s %s: %d %s, want %d", method, path, code, data, want)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			in.t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
}

type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

// setOwnPassword is a person replacing a password (an initial one an
// admin chose, or their own) through POST /auth/password; it answers
// with the new session.
func (in *instance) setOwnPassword(email, current, own, totpSecret string) tokens {
	in.t.Helper()
	body := map[string]string{"email": email, "password": current, "new_password": own}
	in.addCode(body, totpSecret)
	var tk tokens
	in.mustCall("POST", "/api/v1/auth/password", "", body, 200, &tk)
	if tk.AccessToken == "" || tk.RefreshToken == "" {
		in.t.Fatalf("password change for %s gave no session", email)
	}
	return tk
}

// addCode puts the current code of totpSecret in body, when there is one.
func (in *instance) addCode(body map[string]string, totpSecret string) {
	in.t.Helper()
	if totpSecret == "" {
		return
	}
	code, err := auth.TOTPCode(totpSecret, time.Now())
	if err != nil {
		in.t.Fatal(err)
	}
	body["totp"] = code
}

// initialPassword is what an admin chooses for a member they create: the
// member replaces it with passwordOf(role) before anything else works.
func initialPassword(own string) string { return "initial " + own }

func (in *instance) login(email, password, totpSecret string) tokens {
	in.t.Helper()
	body := map[string]string{"email": email, "password": password}
	in.addCode(body, totpSecret)
	var tk tokens
	in.mustCall("POST", "/api/v1/auth/login", "", body, 200, &tk)
	return tk
}

type company struct {
	ID      string `json:"company_id"`
	Name    string `json:"company_name"`
	TaxID   string `json:"tax_id"`
	Status  string `json:"status"`
	Setting struct {
		Currency string `json:"currency"`
		Timezone string `json:"timezone"`
	} `json:"settings"`
}

// world is an unsealed appliance with GOD, two companies and one user per
// role in company A (and an admin in B), each logged in.
type world struct {
	in       *instance
	data     string
	shares   []string
	a, b     company
	god      tokens
	byRole   map[auth.Role]tokens
	bAdmin   tokens
	bByRole  map[auth.Role]tokens // B's members other than its admin
	markersA []string
	markersB []string
	// The authenticator keys of GOD and of A's admin, for tests that sign
	// in again (the console's); each code of them works once.
	godTOTP, adminTOTP string
}

func newWorld(t *testing.T) *world { return newWorldWith(t, nil) }

// newWorldWith is newWorld with extra environment for vanta init.
func newWorldWith(t *testing.T, env []string) *world {
	data := dataDir(t)
	in := bootWith(t, data, env)
	in.waitReady()
	shares := in.initSeal(2, 2)
	in.unseal(shares)
	w := &world{in: in, data: data, shares: shares, byRole: map[auth.Role]tokens{}}

	// Before any GOD exists, nothing else works.
	if code, body := in.call("GET", "/api/v1/me", "", nil); code != 401 {
		t.Errorf("me without a token: %d %s", code, body)
	}
	var god struct {
		User struct{ ID string } `json:"user"`
		TOTP struct{ Secret, URI string }
	}
	in.mustCall("POST", "/api/v1/sys/setup/god", "", map[string]string{"email": "god@vanta.test", "name": "Creator", "password": "correct horse battery staple"}, 201, &god)
	if god.TOTP.Secret == "" || !strings.HasPrefix(god.TOTP.URI, "otpauth://totp/") {
		t.Fatalf("GOD totp %+v", god.TOTP)
	}
	if code, body := in.call("POST", "/api/v1/sys/setup/god", "", map[string]string{"email": "second@vanta.test", "name": "Two", "password": "another long passphrase"}); code != 409 || errorCode(body) != "god_exists" {
		t.Errorf("second GOD: %d %s", code, body)
	}
	// A right password without its code answers like a wrong one.
	if code, body := in.call("POST", "/api/v1/auth/login", "", map[string]string{"email": "god@vanta.test", "password": "correct horse battery staple"}); code != 401 || errorCode(body) != "invalid_credentials" {
		t.Errorf("GOD login without TOTP: %d %s", code, body)
	}
	w.god = in.login("god@vanta.test", "correct horse battery staple", god.TOTP.Secret)
	w.godTOTP = god.TOTP.Secret

	marker := uuid.NewString()[:8]
	in.mustCall("POST", "/api/v1/companies", w.god.AccessToken, map[string]any{"company_name": "Acme Ltd", "tax_id": "P051234567Z"}, 201, &w.a)
	in.mustCall("POST", "/api/v1/companies", w.god.AccessToken, map[string]any{"company_name": "Bidii " + marker, "tax_id": "P059999999B"}, 201, &w.b)
	if w.a.Status != "active" || w.a.Setting.Currency != "KES" || w.a.Setting.Timezone != "Africa/Nairobi" {
		t.Errorf("company A %+v", w.a)
	}
	w.markersB = []string{w.b.ID, "Bidii " + marker, "P059999999B", "b-admin-" + marker}

	for _, role := range []auth.Role{auth.RoleAdmin, auth.RoleManager, auth.RoleUser, auth.RoleViewer} {
		email := fmt.Sprintf("%s@acme.test", role)
		var u struct {
			ID   string
			TOTP *struct{ Secret string } `json:"totp"`
		}
		in.mustCall("POST", "/api/v1/companies/"+w.a.ID+"/users", w.god.AccessToken,
			map[string]string{"email": email, "name": string(role) + " of Acme", "role": string(role), "password": initialPassword(passwordOf(role))}, 201, &u)
		secret := ""
		if u.TOTP != nil {
			secret = u.TOTP.Secret
		}
		if (role == auth.RoleAdmin) != (secret != "") {
			t.Errorf("%s: TOTP enrolled %v", role, secret != "")
		}
		if role == auth.RoleAdmin {
			w.adminTOTP = secret
		}
		w.byRole[role] = in.setOwnPassword(email, initialPassword(passwordOf(role)), passwordOf(role), secret)
	}
	var bAdmin struct {
		TOTP struct{ Secret string } `json:"totp"`
	}
	in.mustCall("POST", "/api/v1/companies/"+w.b.ID+"/users", w.god.AccessToken,
		map[string]string{"email": "b-admin-" + marker + "@bidii.test", "name": "Admin of Bidii", "role": "admin", "password": initialPassword("seven lanterns over the lake")}, 201, &bAdmin)
	w.bAdmin = in.setOwnPassword("b-admin-"+marker+"@bidii.test", initialPassword("seven lanterns over the lake"), "seven lanterns over the lake", bAdmin.TOTP.Secret)
	w.bByRole = map[auth.Role]tokens{auth.RoleAdmin: w.bAdmin}
	for _, role := range []auth.Role{auth.RoleManager, auth.RoleUser, auth.RoleViewer} {
		email := fmt.Sprintf("b-%s-%s@bidii.test", role, marker)
		in.mustCall("POST", "/api/v1/companies/"+w.b.ID+"/users", w.god.AccessToken,
			map[string]string{"email": email, "name": "Member of Bidii", "role": string(role), "password": initialPassword(passwordOf(role))}, 201, nil)
		w.bByRole[role] = in.setOwnPassword(email, initialPassword(passwordOf(role)), passwordOf(role), "")
	}
	w.markersA = []string{w.a.ID, "Acme Ltd", "P051234567Z", "viewer@acme.test", "admin@acme.test"}
	return w
}

// passwordOf gives each test user a password that passes the policy (it
// must not contain the email's local part, which is the role's name).
func passwordOf(r auth.Role) string {
	return map[auth.Role]string{
		auth.RoleAdmin: "tall trees by the river one", auth.RoleManager: "tall trees by the river two",
		auth.RoleUser: "tall trees by the river three", auth.RoleViewer: "tall trees by the river four",
	}[r]
}

func TestIdentityAndCompanies(t *testing.T) {
	w := newWorld(t)
	in := w.in

	var me struct {
		ID          string
		IsGOD       bool `json:"is_god"`
		Memberships []struct {
			CompanyID string `json:"company_id"`
			Role      string
		}
	}
	in.mustCall("GET", "/api/v1/me", w.byRole[auth.RoleViewer].AccessToken, nil, 200, &me)
	if me.IsGOD || len(me.Memberships) != 1 || me.Memberships[0].CompanyID != w.a.ID || me.Memberships[0].Role != "viewer" {
		t.Errorf("viewer's me: %+v", me)
	}
	var list struct{ Items []company }
	in.mustCall("GET", "/api/v1/companies", w.byRole[auth.RoleViewer].AccessToken, nil, 200, &list)
	if len(list.Items) != 1 || list.Items[0].ID != w.a.ID {
		t.Errorf("viewer sees companies %+v", list.Items)
	}
	in.mustCall("GET", "/api/v1/companies", w.god.AccessToken, nil, 200, &list)
	if len(list.Items) != 2 {
		t.Errorf("GOD sees %d companies", len(list.Items))
	}
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"company_name": "X", "tax_id": "P12"}, "tax_id"},
		{map[string]any{"company_name": ""}, "company_name"},
		{map[string]any{"company_name": "X", "colour": "red"}, "colour"},
	} {
		code, body := in.call("POST", "/api/v1/companies", w.god.AccessToken, tc.body)
		var e struct{ Error struct{ Field string } }
		_ = json.Unmarshal(body, &e)
		if code != 400 || e.Error.Field != tc.field {
			t.Errorf("create %v: %d %s, want 400 naming %s", tc.body, code, body, tc.field)
		}
	}
	if code, _ := in.call("POST", "/api/v1/companies", w.byRole[auth.RoleAdmin].AccessToken, map[string]any{"company_name": "Mine"}); code != 403 {
		t.Errorf("admin creating a company: %d", code)
	}

	// Lists page with ?limit= and the cursor they hand out.
	var page1, page2 struct {
		Items      []company
		NextCursor string `json:"next_cursor"`
	}
	in.mustCall("GET", "/api/v1/companies?limit=1", w.god.AccessToken, nil, 200, &page1)
	in.mustCall("GET", "/api/v1/companies?limit=1&cursor="+page1.NextCursor, w.god.AccessToken, nil, 200, &page2)
	// Two companies: the second page is the last.
	if len(page1.Items) != 1 || page1.NextCursor == "" || len(page2.Items) != 1 || page2.Items[0].ID == page1.Items[0].ID || page2.NextCursor != "" {
		t.Errorf("company pages: %+v / %+v", page1, page2)
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "cursor=%25%25"} {
		code, body := in.call("GET", "/api/v1/companies?"+q, w.god.AccessToken, nil)
		if code != 400 || errorCode(body) != "validation_failed" {
			t.Errorf("?%s: %d %s", q, code, body)
		}
	}
	var audit1, audit2 struct {
		Items      []struct{ Seq int64 }
		NextCursor string `json:"next_cursor"`
	}
	in.mustCall("GET", "/api/v1/companies/"+w.a.ID+"/audit?limit=2", w.god.AccessToken, nil, 200, &audit1)
	in.mustCall("GET", "/api/v1/companies/"+w.a.ID+"/audit?limit=2&cursor="+audit1.NextCursor, w.god.AccessToken, nil, 200, &audit2)
	if len(audit1.Items) != 2 || len(audit2.Items) == 0 || audit2.Items[0].Seq != audit1.Items[1].Seq-1 {
		t.Errorf("audit pages: %+v / %+v", audit1, audit2)
	}

	// Once GOD exists, the appliance's own operations are GOD's alone.
	for _, tc := range []struct {
		token string
		want  int
	}{{"", 401}, {w.byRole[auth.RoleAdmin].AccessToken, 403}, {w.god.AccessToken, 200}} {
		if code, body := in.call("GET", "/api/v1/sys/services", tc.token, nil); code != tc.want {
			t.Errorf("sys/services: %d %s, want %d", code, body, tc.want)
		}
		if tc.want != 200 {
			if code, _ := in.call("POST", "/api/v1/sys/seal", tc.token, nil); code != tc.want {
				t.Errorf("sys/seal: %d, want %d", code, tc.want)
			}
		}
	}

	// Settings: admins may change them, with validation; viewers may not.
	var patched company
	in.mustCall("PATCH", "/api/v1/companies/"+w.a.ID, w.byRole[auth.RoleAdmin].AccessToken, map[string]any{"company_name": "Acme Holdings"}, 200, &patched)
	if patched.Name != "Acme Holdings" || patched.TaxID != "P051234567Z" {
		t.Errorf("patched %+v", patched)
	}
	if code, body := in.call("PATCH", "/api/v1/companies/"+w.a.ID, w.byRole[auth.RoleAdmin].AccessToken, map[string]any{"tax_id": "X1"}); code != 400 || !strings.Contains(string(body), `"field":"tax_id"`) {
		t.Errorf("bad KRA PIN: %d %s", code, body)
	}
	if code, _ := in.call("PATCH", "/api/v1/companies/"+w.a.ID, w.byRole[auth.RoleViewer].AccessToken, map[string]any{"industry": "x"}); code != 403 {
		t.Errorf("viewer patching: %d", code)
	}
	// Archive needs the exact name; then the company is gone for everyone.
	if code, body := in.call("DELETE", "/api/v1/companies/"+w.b.ID, w.god.AccessToken, map[string]any{"confirm": "Bidii"}); code != 400 || errorCode(body) != "confirmation_mismatch" {
		t.Errorf("archive without the right name: %d %s", code, body)
	}
	in.mustCall("DELETE", "/api/v1/companies/"+w.b.ID, w.god.AccessToken, map[string]any{"confirm": w.b.Name}, 200, nil)
	if code, _ := in.call("GET", "/api/v1/companies/"+w.b.ID, w.god.AccessToken, nil); code != 404 {
		t.Errorf("archived company still served: %d", code)
	}

	// Refresh rotates; reusing an old refresh token revokes the family.
	v := w.byRole[auth.RoleUser]
	var next tokens
	in.mustCall("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": v.RefreshToken}, 200, &next)
	if code, body := in.call("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": v.RefreshToken}); code != 401 || errorCode(body) != "invalid_refresh_token" {
		t.Errorf("reused refresh token: %d %s", code, body)
	}
	if code, _ := in.call("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": next.RefreshToken}); code != 401 {
		t.Errorf("the family survived a reuse: %d", code)
	}
	if code, _ := in.call("GET", "/api/v1/me", next.AccessToken, nil); code != 401 {
		t.Errorf("an access token of the revoked family still works: %d", code)
	}

	// Logout takes effect at once.
	m := w.byRole[auth.RoleManager]
	in.mustCall("POST", "/api/v1/auth/logout", m.AccessToken, nil, 204, nil)
	if code, _ := in.call("GET", "/api/v1/me", m.AccessToken, nil); code != 401 {
		t.Errorf("token after logout: %d", code)
	}

	// Lockout: five failures, then refused with Retry-After even with the
	// right password.
	for range 5 {
		in.call("POST", "/api/v1/auth/login", "", map[string]string{"email": "viewer@acme.test", "password": "wrong wrong wrong"})
	}
	code, body := in.call("POST", "/api/v1/auth/login", "", map[string]string{"email": "viewer@acme.test", "password": passwordOf(auth.RoleViewer)})
	if code != 429 || errorCode(body) != "locked_out" {
		t.Errorf("after 5 failures: %d %s", code, body)
	}

	// The company's audit chain holds its creation and memberships, intact.
	var verify struct {
		OK      bool
		Records int64
	}
	in.mustCall("GET", "/api/v1/companies/"+w.a.ID+"/audit/verify", w.byRole[auth.RoleAdmin].AccessToken, nil, 200, &verify)
	if !verify.OK || verify.Records < 5 {
		t.Errorf("audit verify: %+v", verify)
	}
}

// TestGODAllowList: with VANTA_GOD_ALLOW excluding loopback, GOD cannot
// log in from here, with the right password and code; behind a trusted
// proxy, GOD signs in from an allowed address, and the same token used
// from elsewhere is refused and recorded in the system audit chain.
func TestGODAllowList(t *testing.T) {
	data := dataDir(t)
	in := bootWith(t, data, []string{"VANTA_GOD_ALLOW=10.99.0.0/16", "VANTA_TRUSTED_PROXIES=1"})
	in.waitReady()
	in.unseal(in.initSeal(2, 2))
	var god struct {
		TOTP struct{ Secret string } `json:"totp"`
	}
	in.mustCall("POST", "/api/v1/sys/setup/god", "", map[string]string{"email": "god@vanta.test", "name": "Creator", "password": "correct horse battery staple"}, 201, &god)
	code, err := auth.TOTPCode(god.TOTP.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	login := map[string]string{"email": "god@vanta.test", "password": "correct horse battery staple", "totp": code}
	status, body := in.call("POST", "/api/v1/auth/login", "", login)
	if status != 403 || errorCode(body) != "forbidden_network" {
		t.Errorf("GOD login from outside the allow-list: %d %s", status, body)
	}
	// The refused attempt used up nothing: the same code works from an
	// allowed address (the proxy's X-Forwarded-For names it).
	status, body = in.callFrom("10.99.1.7", "POST", "/api/v1/auth/login", "", login)
	var tk tokens
	if status != 200 || json.Unmarshal(body, &tk) != nil {
		t.Fatalf("GOD login through the proxy from an allowed address: %d %s", status, body)
	}
	if status, body := in.callFrom("10.99.1.7", "GET", "/api/v1/me", tk.AccessToken, nil); status != 200 {
		t.Errorf("GOD's token from the allowed network: %d %s", status, body)
	}
	if status, body := in.callFrom("203.0.113.9", "GET", "/api/v1/me", tk.AccessToken, nil); status != 403 || errorCode(body) != "forbidden_network" {
		t.Errorf("GOD's token from outside: %d %s", status, body)
	}
	pg := pgConnect(t, data)
	var n int
	if err := pg.QueryRow(context.Background(), `SELECT count(*) FROM audit.records WHERE chain = 'system'
		AND action = 'permission.denied' AND ip = '203.0.113.9' AND details::jsonb->>'wanted' = 'god_network'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("GOD's refused token use recorded %d times (%v)", n, err)
	}
}

// TestUserQuota: past the per-user quota, 429 with Retry-After.
func TestUserQuota(t *testing.T) {
	data := dataDir(t)
	in := bootWith(t, data, []string{"VANTA_QUOTA_USER_RPM=5"})
	in.waitReady()
	in.unseal(in.initSeal(2, 2))
	var god struct {
		TOTP struct{ Secret string } `json:"totp"`
	}
	in.mustCall("POST", "/api/v1/sys/setup/god", "", map[string]string{"email": "god@vanta.test", "name": "Creator", "password": "correct horse battery staple"}, 201, &god)
	tk := in.login("god@vanta.test", "correct horse battery staple", god.TOTP.Secret)
	limited := 0
	for range 8 {
		req := in.request("GET", "/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+tk.AccessToken)
		resp, err := in.client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 429 {
			limited++
			if resp.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		}
	}
	if limited != 3 {
		t.Errorf("%d of 8 requests limited with a quota of 5 a minute, want 3", limited)
	}
}

// TestAuditTamperingOverHTTP: verify names the first bad record after an
// edit in SQL, and the checkpoint catches the newest records deleted.
func TestAuditTamperingOverHTTP(t *testing.T) {
	w := newWorld(t)
	in := w.in
	admin := w.byRole[auth.RoleAdmin].AccessToken
	type result struct {
		OK       bool   `json:"ok"`
		Records  int64  `json:"records"`
		FirstBad int64  `json:"first_bad_seq"`
		Reason   string `json:"reason"`
	}
	var before result
	in.mustCall("GET", "/api/v1/companies/"+w.a.ID+"/audit/verify", admin, nil, 200, &before) // checkpoints the head
	if !before.OK || before.Records < 3 {
		t.Fatalf("honest chain: %+v", before)
	}
	tamper := func(sql string, args ...any) {
		t.Helper()
		tamperAudit(t, w.data, sql, args...)
	}
	// Delete the newest record: the chain alone still links, the
	// checkpoint does not.
	tamper("DELETE FROM audit.records WHERE chain = $1 AND seq = $2", w.a.ID, before.Records)
	var after result
	in.mustCall("GET", "/api/v1/companies/"+w.a.ID+"/audit/verify", admin, nil, 200, &after)
	if after.OK || after.FirstBad != before.Records || !strings.Contains(after.Reason, "newest records deleted") {
		t.Errorf("after deleting the newest record: %+v", after)
	}
	// Edit an old record.
	tamper("UPDATE audit.records SET actor = 'mallory' WHERE chain = $1 AND seq = 2", w.a.ID)
	in.mustCall("GET", "/api/v1/companies/"+w.a.ID+"/audit/verify", admin, nil, 200, &after)
	if after.OK || after.FirstBad != 2 {
		t.Errorf("after editing record 2: %+v", after)
	}
}

// TestBreakGlassResetsGOD: the threshold of shares buys a token that
// resets GOD's password and TOTP once; GOD's old sessions end.
func TestBreakGlassResetsGOD(t *testing.T) {
	data := dataDir(t)
	in := boot(t, data)
	in.waitReady()
	shares := in.initSeal(2, 2)
	in.unseal(shares)
	var god struct {
		TOTP struct{ Secret string } `json:"totp"`
	}
	in.mustCall("POST", "/api/v1/sys/setup/god", "", map[string]string{"email": "god@vanta.test", "name": "Creator", "password": "correct horse battery staple"}, 201, &god)
	old := in.login("god@vanta.test", "correct horse battery staple", god.TOTP.Secret)

	var bg struct{ Token string }
	for _, sh := range shares {
		in.mustCall("POST", "/api/v1/sys/break-glass", "", map[string]string{"share": sh}, 200, &bg)
	}
	if code, body := in.call("POST", "/api/v1/sys/break-glass/reset-god", "", map[string]string{"token": bg.Token, "password": "short"}); code != 400 || errorCode(body) != "weak_password" {
		t.Errorf("weak new password: %d %s", code, body)
	}
	var reset struct {
		TOTP struct {
			Secret string
			QR     string `json:"qr_png"`
		} `json:"totp"`
	}
	in.mustCall("POST", "/api/v1/sys/break-glass/reset-god", "", map[string]string{"token": bg.Token, "password": "moonlight over quiet hills"}, 200, &reset)
	if reset.TOTP.Secret == "" || reset.TOTP.Secret == god.TOTP.Secret || !strings.HasPrefix(reset.TOTP.QR, "data:image/png;base64,") {
		t.Errorf("reset gave TOTP %+v", reset.TOTP)
	}
	if code, body := in.call("POST", "/api/v1/sys/break-glass/reset-god", "", map[string]string{"token": bg.Token, "password": "sunrise over distant lakes"}); code != 401 || errorCode(body) != "invalid_token" {
		t.Errorf("token used twice: %d %s", code, body)
	}
	if code, _ := in.call("GET", "/api/v1/me", old.AccessToken, nil); code != 401 {
		t.Errorf("GOD's old session survived the reset: %d", code)
	}
	if code, _ := in.call("POST", "/api/v1/auth/login", "", map[string]string{"email": "god@vanta.test", "password": "correct horse battery staple", "totp": "000000"}); code != 401 {
		t.Errorf("old password still works: %d", code)
	}
	in.login("god@vanta.test", "moonlight over quiet hills", reset.TOTP.Secret)
}

// TestInvitationsOverHTTP: an admin invites a new person and an existing
// member of another company; each accepts; the audit chain names the admin
// as the actor of the membership.
func TestInvitationsOverHTTP(t *testing.T) {
	w := newWorld(t)
	in := w.in
	admin := w.byRole[auth.RoleAdmin].AccessToken
	type invited struct {
		Invitation struct {
			ID, Email, Role, Status string
		}
		Token      string
		AcceptPath string `json:"accept_path"`
	}
	var inv invited
	in.mustCall("POST", "/api/v1/companies/"+w.a.ID+"/invitations", admin, map[string]string{"email": "Achieng@Acme.test", "role": "manager"}, 201, &inv)
	if inv.Invitation.Email != "achieng@acme.test" || inv.Invitation.Status != "pending" || !strings.HasPrefix(inv.Token, "vinv_") {
		t.Fatalf("invitation %+v", inv)
	}
	// The console page that accepts it, the token in the fragment.
	if inv.AcceptPath != "/accept#"+inv.Token {
		t.Errorf("accept_path %q, want /accept#<token>", inv.AcceptPath)
	}
	for _, tc := range []struct {
		body        map[string]string
		status      int
		code, field string
	}{
		{map[string]string{"email": "x@acme.test", "role": "owner"}, 400, "validation_failed", "role"},
		{map[string]string{"email": "not an email", "role": "viewer"}, 400, "validation_failed", "email"},
		{map[string]string{"email": "viewer@acme.test", "role": "viewer"}, 409, "already_member", "email"},
	} {
		code, body := in.call("POST", "/api/v1/companies/"+w.a.ID+"/invitations", admin, tc.body)
		if code != tc.status || errorCode(body) != tc.code || !strings.Contains(string(body), `"field":"`+tc.field+`"`) {
			t.Errorf("invite %v: %d %s", tc.body, code, body)
		}
	}
	// A weak password is refused and the token still works after.
	if code, body := in.call("POST", "/api/v1/auth/invitations/accept", "", map[string]string{"token": inv.Token, "name": "Achieng", "password": "short"}); code != 400 || errorCode(body) != "weak_password" {
		t.Errorf("weak password: %d %s", code, body)
	}
	var acc struct {
		User       struct{ ID string }
		CompanyID  string `json:"company_id"`
		Role       string
		NewAccount bool `json:"new_account"`
	}
	in.mustCall("POST", "/api/v1/auth/invitations/accept", "", map[string]string{"token": inv.Token, "name": "Achieng Odhiambo", "password": "rain over lake victoria"}, 201, &acc)
	if acc.CompanyID != w.a.ID || acc.Role != "manager" || !acc.NewAccount {
		t.Fatalf("acceptance %+v", acc)
	}
	if code, body := in.call("POST", "/api/v1/auth/invitations/accept", "", map[string]string{"token": inv.Token, "name": "Again", "password": "rain over lake victoria"}); code != 400 || errorCode(body) != "invalid_invitation" {
		t.Errorf("token reused: %d %s", code, body)
	}
	tk := in.login("achieng@acme.test", "rain over lake victoria", "")
	if code, _ := in.call("GET", "/api/v1/companies/"+w.a.ID, tk.AccessToken, nil); code != 200 {
		t.Errorf("the new member reads the company: %d", code)
	}

	// B's admin invites A's viewer; the token alone is not enough.
	var inv2 invited
	in.mustCall("POST", "/api/v1/companies/"+w.b.ID+"/invitations", w.bAdmin.AccessToken, map[string]string{"email": "viewer@acme.test", "role": "user"}, 201, &inv2)
	if code, body := in.call("POST", "/api/v1/auth/invitations/accept", "", map[string]string{"token": inv2.Token}); code != 401 || errorCode(body) != "invalid_credentials" {
		t.Errorf("existing account without its password: %d %s", code, body)
	}
	in.mustCall("POST", "/api/v1/auth/invitations/accept", "", map[string]string{"token": inv2.Token, "password": passwordOf(auth.RoleViewer)}, 201, &acc)
	if acc.NewAccount || acc.CompanyID != w.b.ID {
		t.Errorf("existing account's acceptance %+v", acc)
	}
	var me struct {
		Memberships []struct{ CompanyID, Role string }
	}
	in.mustCall("GET", "/api/v1/me", w.byRole[auth.RoleViewer].AccessToken, nil, 200, &me)
	if len(me.Memberships) != 2 {
		t.Errorf("memberships after accepting %+v", me)
	}

	// Listing and withdrawing, and the audit trail names the admin.
	var fresh invited
	in.mustCall("POST", "/api/v1/companies/"+w.a.ID+"/invitations", admin, map[string]string{"email": "later@acme.test", "role": "viewer"}, 201, &fresh)
	in.mustCall("DELETE", "/api/v1/companies/"+w.a.ID+"/invitations/"+fresh.Invitation.ID, admin, nil, 204, nil)
	if code, _ := in.call("DELETE", "/api/v1/companies/"+w.a.ID+"/invitations/"+fresh.Invitation.ID, admin, nil); code != 404 {
		t.Errorf("withdrawn twice: %d", code)
	}
	var list struct {
		Items []struct{ Email, Status string }
	}
	in.mustCall("GET", "/api/v1/companies/"+w.a.ID+"/invitations", admin, nil, 200, &list)
	states := map[string]string{}
	for _, i := range list.Items {
		states[i.Email] = i.Status
	}
	if states["achieng@acme.test"] != "accepted" || states["later@acme.test"] != "revoked" || len(states) != 2 {
		t.Errorf("listed %v", states)
	}
	var adminID string
	pg := pgConnect(t, w.data)
	ctx := context.Background()
	if err := pg.QueryRow(ctx, "SELECT id FROM auth.users WHERE email = 'admin@acme.test'").Scan(&adminID); err != nil {
		t.Fatal(err)
	}
	var actor, role string
	if err := pg.QueryRow(ctx, "SELECT actor, role FROM audit.records WHERE chain = $1 AND action = $2 ORDER BY seq DESC LIMIT 1",
		w.a.ID, auth.EvInvite).Scan(&actor, &role); err != nil || actor != "user/"+adminID || role != "admin" {
		t.Errorf("invitation audited as %q %q (%v), want the admin", actor, role, err)
	}
}

// TestPromotionNeedsASecondFactor: a member without TOTP cannot be made an
// admin until they enrol one themselves; then they can, and sign in with it.
func TestPromotionNeedsASecondFactor(t *testing.T) {
	w := newWorld(t)
	in := w.in
	admin := w.byRole[auth.RoleAdmin].AccessToken
	viewer := w.byRole[auth.RoleViewer].AccessToken
	var me struct{ ID string }
	in.mustCall("GET", "/api/v1/me", viewer, nil, 200, &me)
	promote := "/api/v1/companies/" + w.a.ID + "/users/" + me.ID
	if code, body := in.call("PATCH", promote, admin, map[string]string{"role": "admin"}); code != 409 || errorCode(body) != "totp_not_enrolled" || !strings.Contains(string(body), "/api/v1/me/totp") {
		t.Fatalf("promotion without a second factor: %d %s", code, body)
	}
	if code, body := in.call("POST", "/api/v1/me/totp", viewer, map[string]string{"password": "wrong password entirely"}); code != 401 || errorCode(body) != "invalid_credentials" {
		t.Errorf("enrolment with a wrong password: %d %s", code, body)
	}
	var begun struct {
		TOTP struct{ Secret, URI string } `json:"totp"`
	}
	in.mustCall("POST", "/api/v1/me/totp", viewer, map[string]string{"password": passwordOf(auth.RoleViewer)}, 201, &begun)
	if code, body := in.call("POST", "/api/v1/me/totp/confirm", viewer, map[string]string{"code": "000000"}); code != 401 || errorCode(body) != "invalid_totp" {
		t.Errorf("confirm with a wrong code: %d %s", code, body)
	}
	code, err := auth.TOTPCode(begun.TOTP.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	in.mustCall("POST", "/api/v1/me/totp/confirm", viewer, map[string]string{"code": code}, 200, nil)
	in.mustCall("PATCH", promote, admin, map[string]string{"role": "admin"}, 200, nil)
	if status, body := in.call("POST", "/api/v1/auth/login", "", map[string]string{"email": "viewer@acme.test", "password": passwordOf(auth.RoleViewer)}); status != 401 || errorCode(body) != "invalid_credentials" {
		t.Errorf("login without the new factor: %d %s", status, body)
	}
}

// callFrom is call from a client at addr, as a trusted proxy names it in
// X-Forwarded-For (the instance must trust one proxy hop); "" sends no
// X-Forwarded-For.
func (in *instance) callFrom(addr, method, path, token string, body any) (int, []byte) {
	in.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req := in.request(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if addr != "" {
		req.Header.Set("X-Forwarded-For", addr)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return in.do(req)
}

// systemAuditCount is how many records the system audit chain holds.
func systemAuditCount(t *testing.T, data string) int {
	t.Helper()
	var n int
	if err := pgConnect(t, data).QueryRow(context.Background(), "SELECT count(*) FROM audit.records WHERE chain = 'system'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAccountTakeoverAcrossCompanies (issue 8, hole 1): A's admin creates
// a member with a password the admin chose; B invites the same email; the
// person used to join B with that password, and A's admin could then sign
// in as them and act in B. Now the password is an initial one: it opens
// no session and joins no company until its owner sets their own, after
// which it is worthless.
func TestAccountTakeoverAcrossCompanies(t *testing.T) {
	w := newWorld(t)
	in := w.in
	adminA := w.byRole[auth.RoleAdmin].AccessToken
	const email, chosen, own = "amani@people.test", "the admin of acme chose this", "my very own secret passphrase"
	var member struct{ ID string }
	in.mustCall("POST", "/api/v1/companies/"+w.a.ID+"/users", adminA,
		map[string]string{"email": email, "name": "Amani Njoroge", "role": "user", "password": chosen}, 201, &member)

	// The admin's password opens nothing.
	code, body := in.call("POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": chosen})
	if code != 403 || errorCode(body) != "password_change_required" || strings.Contains(string(body), "access_token") {
		t.Fatalf("login with the admin's password: %d %s", code, body)
	}
	// B invites the same person; the admin's password cannot accept.
	var inv struct{ Token string }
	in.mustCall("POST", "/api/v1/companies/"+w.b.ID+"/invitations", w.bAdmin.AccessToken, map[string]string{"email": email, "role": "manager"}, 201, &inv)
	if code, body := in.call("POST", "/api/v1/auth/invitations/accept", "", map[string]string{"token": inv.Token, "password": chosen}); code != 403 || errorCode(body) != "password_change_required" {
		t.Fatalf("invitation accepted with a password someone else chose: %d %s", code, body)
	}
	// The person sets their own password; it answers with a session.
	if code, body := in.call("POST", "/api/v1/auth/password", "", map[string]string{"email": email, "password": chosen, "new_password": "short"}); code != 400 || errorCode(body) != "weak_password" || fieldOf(body) != "new_password" {
		t.Errorf("weak new password: %d %s", code, body)
	}
	tk := in.setOwnPassword(email, chosen, own, "")
	in.mustCall("POST", "/api/v1/auth/invitations/accept", "", map[string]string{"token": inv.Token, "password": own}, 201, nil)
	// A's admin's password is worthless now, in every company.
	if code, body := in.call("POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": chosen}); code != 401 || errorCode(body) != "invalid_credentials" {
		t.Errorf("the admin's old password after the change: %d %s", code, body)
	}
	var me struct {
		Memberships []struct {
			CompanyID string `json:"company_id"`
		}
	}
	in.mustCall("GET", "/api/v1/me", in.login(email, own, "").AccessToken, nil, 200, &me)
	if len(me.Memberships) != 2 {
		t.Errorf("memberships %+v", me)
	}

	t.Run("change ends other sessions", func(t *testing.T) {
		second := in.login(email, own, "")
		newer := in.setOwnPassword(email, own, "another passphrase of mine", "")
		for _, old := range []tokens{tk, second} {
			if code, _ := in.call("GET", "/api/v1/me", old.AccessToken, nil); code != 401 {
				t.Errorf("old access token after a change: %d", code)
			}
			if code, _ := in.call("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": old.RefreshToken}); code != 401 {
				t.Errorf("old refresh token after a change: %d", code)
			}
		}
		in.mustCall("GET", "/api/v1/me", newer.AccessToken, nil, 200, nil)
		if code, body := in.call("POST", "/api/v1/auth/password", "", map[string]string{"email": email, "password": own, "new_password": "yet another of mine"}); code != 401 || errorCode(body) != "invalid_credentials" {
			t.Errorf("change with the previous password: %d %s", code, body)
		}
	})

	t.Run("reset link", func(t *testing.T) {
		const rEmail = "baraka@people.test"
		var u struct{ ID string }
		in.mustCall("POST", "/api/v1/companies/"+w.a.ID+"/users", adminA,
			map[string]string{"email": rEmail, "name": "Baraka Kip", "role": "viewer", "password": chosen}, 201, &u)
		path := "/api/v1/companies/" + w.a.ID + "/users/" + u.ID + "/password-reset"
		// Attackers: no token, a viewer, another company's admin (on A's
		// route and on its own).
		for _, tc := range []struct {
			name, path, token string
			want              int
		}{
			{"no token", path, "", 401},
			{"A's viewer", path, w.byRole[auth.RoleViewer].AccessToken, 403},
			{"B's admin on A", path, w.bAdmin.AccessToken, 404},
			{"B's admin on B", "/api/v1/companies/" + w.b.ID + "/users/" + u.ID + "/password-reset", w.bAdmin.AccessToken, 404},
		} {
			code, body := in.call("POST", tc.path, tc.token, nil)
			if code != tc.want || strings.Contains(string(body), "vpr_") {
				t.Errorf("%s: %d %s, want %d", tc.name, code, body, tc.want)
			}
		}
		var reset struct {
			Token     string
			ResetPath string `json:"reset_path"`
		}
		in.mustCall("POST", path, adminA, nil, 201, &reset)
		if !strings.HasPrefix(reset.Token, "vpr_") || reset.ResetPath != "/reset#"+reset.Token {
			t.Fatalf("reset %+v", reset)
		}
		in.mustCall("POST", "/api/v1/auth/password/reset", "", map[string]string{"token": reset.Token, "new_password": "he sets this one himself"}, 200, nil)
		if code, body := in.call("POST", "/api/v1/auth/password/reset", "", map[string]string{"token": reset.Token, "new_password": "and again a second time"}); code != 400 || errorCode(body) != "invalid_reset_token" {
			t.Errorf("reset link used twice: %d %s", code, body)
		}
		in.login(rEmail, "he sets this one himself", "") // no longer an initial password

		// Expired: moved into the past in the database, as time would.
		in.mustCall("POST", path, adminA, nil, 201, &reset)
		if _, err := pgConnect(t, w.data).Exec(context.Background(), "UPDATE auth.password_resets SET expires_at = now() - interval '1 second' WHERE used_at IS NULL"); err != nil {
			t.Fatal(err)
		}
		if code, body := in.call("POST", "/api/v1/auth/password/reset", "", map[string]string{"token": reset.Token, "new_password": "too late for this one"}); code != 400 || errorCode(body) != "invalid_reset_token" {
			t.Errorf("expired reset link: %d %s", code, body)
		}
		// Amani belongs to B too: A's admin may not reset them (the link
		// would open B to A's admin); GOD may.
		if code, body := in.call("POST", "/api/v1/companies/"+w.a.ID+"/users/"+member.ID+"/password-reset", adminA, nil); code != 403 || strings.Contains(string(body), "vpr_") {
			t.Errorf("A's admin resets a member of B too: %d %s", code, body)
		}
		in.mustCall("POST", "/api/v1/companies/"+w.a.ID+"/users/"+member.ID+"/password-reset", w.god.AccessToken, nil, 201, nil)
	})
}

func fieldOf(body []byte) string {
	var e struct {
		Error struct{ Field string } `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error.Field
}

// TestLoginThrottlePerClient (issue 8, holes 7 and 8): five wrong
// passwords from anywhere used to lock the owner (GOD too) out for up to
// 15 minutes, and one person failing behind an office's proxy delayed
// everyone there. Now the guesser's own address is held, the owner's is
// not, and a colleague behind the same address signs in. And a 60 KB
// email is refused before anything is written to the system chain.
func TestLoginThrottlePerClient(t *testing.T) {
	data := dataDir(t)
	in := bootWith(t, data, []string{"VANTA_TRUSTED_PROXIES=1"})
	in.waitReady()
	in.unseal(in.initSeal(2, 2))
	var god struct {
		TOTP struct{ Secret string } `json:"totp"`
	}
	const godPass, home, attacker, office = "correct horse battery staple", "192.0.2.10", "198.51.100.66", "203.0.113.80"
	in.mustCall("POST", "/api/v1/sys/setup/god", "", map[string]string{"email": "god@vanta.test", "name": "Creator", "password": godPass}, 201, &god)
	withCode := func(step time.Duration) map[string]string {
		code, err := auth.TOTPCode(god.TOTP.Secret, time.Now().Add(step))
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{"email": "god@vanta.test", "password": godPass, "totp": code}
	}
	// GOD signs in from home once: that address is known from now on.
	code, body := in.callFrom(home, "POST", "/api/v1/auth/login", "", withCode(0))
	var godTk tokens
	if code != 200 || json.Unmarshal(body, &godTk) != nil {
		t.Fatalf("GOD from home: %d %s", code, body)
	}
	locked := 0
	for i := 0; i < 10; i++ {
		code, body := in.callFrom(attacker, "POST", "/api/v1/auth/login", "", map[string]string{"email": "god@vanta.test", "password": fmt.Sprintf("guess number %d of many", i)})
		switch {
		case code == 429 && errorCode(body) == "locked_out":
			locked++
		case code != 401:
			t.Fatalf("guess %d: %d %s", i, code, body)
		}
	}
	if locked == 0 {
		t.Error("the guesser's address was never held")
	}
	// The guesser's address is held even with the right password; GOD's
	// home is not (the next step's code: the first one is spent).
	if code, body := in.callFrom(attacker, "POST", "/api/v1/auth/login", "", withCode(30*time.Second)); code != 429 || errorCode(body) != "locked_out" {
		t.Errorf("the guesser's address with the right password: %d %s", code, body)
	}
	if code, body := in.callFrom(home, "POST", "/api/v1/auth/login", "", withCode(30*time.Second)); code != 200 {
		t.Fatalf("GOD from home after 10 guesses elsewhere: %d %s", code, body)
	}

	// An office: one person fails ten times; a colleague's first sign-in
	// from the same address goes through. (She set her own password from
	// elsewhere, so the office is not a known address of hers.)
	var co company
	in.mustCall("POST", "/api/v1/companies", godTk.AccessToken, map[string]any{"company_name": "Ofisi Moja", "tax_id": "P051212121Q"}, 201, &co)
	in.mustCall("POST", "/api/v1/companies/"+co.ID+"/users", godTk.AccessToken,
		map[string]string{"email": "wanjiku@ofisi.test", "name": "Wanjiku", "role": "user", "password": "initial from the creator"}, 201, nil)
	if code, body := in.callFrom("192.0.2.77", "POST", "/api/v1/auth/password", "", map[string]string{
		"email": "wanjiku@ofisi.test", "password": "initial from the creator", "new_password": "she chose this one herself"}); code != 200 {
		t.Fatalf("colleague sets her password: %d %s", code, body)
	}
	for i := 0; i < 10; i++ {
		in.callFrom(office, "POST", "/api/v1/auth/login", "", map[string]string{"email": "forgetful@ofisi.test", "password": fmt.Sprintf("was it this one %d", i)})
	}
	if code, body := in.callFrom(office, "POST", "/api/v1/auth/login", "", map[string]string{"email": "forgetful@ofisi.test", "password": "was it this one 11"}); code != 429 {
		t.Errorf("the failing person's own sign-in from the office: %d %s", code, body)
	}
	if code, body := in.callFrom(office, "POST", "/api/v1/auth/login", "", map[string]string{"email": "wanjiku@ofisi.test", "password": "she chose this one herself"}); code != 200 {
		t.Errorf("colleague behind the same office address: %d %s", code, body)
	}

	// Hole 8: a 60 KB email (or a 2 KB password) is refused naming the
	// field, and nothing reaches the system audit chain.
	before := systemAuditCount(t, data)
	huge := strings.Repeat("x", 60<<10) + "@flood.test"
	if code, body := in.callFrom("192.0.2.99", "POST", "/api/v1/auth/login", "", map[string]string{"email": huge, "password": "whatever it is"}); code != 400 || fieldOf(body) != "email" {
		t.Errorf("60 KB email: %d %.200s", code, body)
	}
	if code, body := in.callFrom("192.0.2.99", "POST", "/api/v1/auth/login", "", map[string]string{"email": "a@flood.test", "password": strings.Repeat("p", 2048)}); code != 400 || fieldOf(body) != "password" {
		t.Errorf("2 KB password: %d %.200s", code, body)
	}
	if after := systemAuditCount(t, data); after != before {
		t.Errorf("refused input audited: %d records before, %d after", before, after)
	}
	// An unknown email is recorded as a bounded keyed hash, not as typed.
	in.callFrom("192.0.2.99", "POST", "/api/v1/auth/login", "", map[string]string{"email": "stranger@flood.test", "password": "some guess or other"})
	var stored string
	if err := pgConnect(t, data).QueryRow(context.Background(), `SELECT details::jsonb->>'email' FROM audit.records
		WHERE chain = 'system' AND action = 'auth.login' ORDER BY seq DESC LIMIT 1`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "unknown:") || strings.Contains(stored, "stranger") || len(stored) > 64 {
		t.Errorf("unknown email audited as %q", stored)
	}
}

// TestIdentityLeaksClosed (issue 8, hole 10): creating a member for an
// email with an account in another company used to answer 409
// email_taken; a right password without its code answered differently
// from a wrong one; refresh events had no address; tokens from before a
// seal worked after the next unseal.
func TestIdentityLeaksClosed(t *testing.T) {
	w := newWorld(t)
	in := w.in
	ctx := context.Background()
	adminA := w.byRole[auth.RoleAdmin].AccessToken
	bViewer := "b-viewer-" + strings.TrimPrefix(w.markersB[3], "b-admin-") + "@bidii.test"

	t.Run("member creation reveals no other company's people", func(t *testing.T) {
		answer := func(email string) map[string]any {
			var out map[string]any
			in.mustCall("POST", "/api/v1/companies/"+w.a.ID+"/users", adminA,
				map[string]string{"email": email, "name": "Someone", "role": "viewer", "password": "acme chose this one"}, 201, &out)
			return out
		}
		fresh, existing := answer("nobody-yet@people.test"), answer(bViewer)
		if len(fresh) != len(existing) {
			t.Fatalf("answers differ in shape: %v vs %v", fresh, existing)
		}
		for k, v := range fresh {
			if _, ok := existing[k]; !ok || (k != "id" && k != "email" && existing[k] != v) {
				t.Errorf("%s: fresh %v, existing %v", k, v, existing[k])
			}
		}
		// B's viewer is not made a member of A on A's say-so; they see an
		// invitation and accept it while signed in.
		var me struct {
			Memberships []struct{ CompanyID string } `json:"memberships"`
			Invitations []struct {
				ID        string
				CompanyID string `json:"company_id"`
			} `json:"invitations"`
		}
		in.mustCall("GET", "/api/v1/me", w.bByRole[auth.RoleViewer].AccessToken, nil, 200, &me)
		if len(me.Memberships) != 1 || len(me.Invitations) != 1 || me.Invitations[0].CompanyID != w.a.ID {
			t.Fatalf("B's viewer after A's create: %+v", me)
		}
		// Nobody else can redeem it: not without a session, not A's admin
		// who made it, not another member of B.
		acceptPath := "/api/v1/me/invitations/" + me.Invitations[0].ID + "/accept"
		for who, token := range map[string]string{"no session": "", "A's admin": w.byRole[auth.RoleAdmin].AccessToken, "B's user": w.bByRole[auth.RoleUser].AccessToken} {
			if code, body := in.call("POST", acceptPath, token, nil); code < 400 || code >= 500 {
				t.Errorf("%s accepting B's viewer's invitation: %d %s", who, code, body)
			}
		}
		in.mustCall("POST", acceptPath, w.bByRole[auth.RoleViewer].AccessToken, nil, 201, nil)
		in.mustCall("GET", "/api/v1/me", w.bByRole[auth.RoleViewer].AccessToken, nil, 200, &me)
		if len(me.Memberships) != 2 || len(me.Invitations) != 0 {
			t.Errorf("after accepting: %+v", me)
		}
	})

	t.Run("no oracle for a right password without its code", func(t *testing.T) {
		email := "admin@acme.test"
		_, wrong := in.call("POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": "not the password at all"})
		_, right := in.call("POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": passwordOf(auth.RoleAdmin)})
		_, badCode := in.call("POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": passwordOf(auth.RoleAdmin), "totp": "000000"})
		if string(wrong) != string(right) || string(wrong) != string(badCode) || errorCode(wrong) != "invalid_credentials" {
			t.Errorf("answers differ:\n wrong password %s\n no code %s\n bad code %s", wrong, right, badCode)
		}
	})

	t.Run("refresh records the address", func(t *testing.T) {
		m := in.login("manager@acme.test", passwordOf(auth.RoleManager), "")
		var next tokens
		in.mustCall("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": m.RefreshToken}, 200, &next)
		in.call("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": m.RefreshToken}) // reuse
		rows, err := pgConnect(t, w.data).Query(ctx, `SELECT outcome, ip FROM audit.records WHERE chain = 'system' AND action = 'auth.refresh' ORDER BY seq DESC LIMIT 2`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		seen := map[string]string{}
		for rows.Next() {
			var outcome, ip string
			if err := rows.Scan(&outcome, &ip); err != nil {
				t.Fatal(err)
			}
			seen[outcome] = ip
		}
		if seen["ok"] == "" || seen["refresh_reuse"] == "" {
			t.Errorf("refresh events' addresses: %v", seen)
		}
	})

	t.Run("sealing ends sessions", func(t *testing.T) {
		viewer := in.login("viewer@acme.test", passwordOf(auth.RoleViewer), "")
		in.mustCall("GET", "/api/v1/me", viewer.AccessToken, nil, 200, nil)
		in.mustCall("POST", "/api/v1/sys/seal", w.god.AccessToken, nil, 200, nil)
		in.unseal(w.shares)
		if code, body := in.call("GET", "/api/v1/me", viewer.AccessToken, nil); code != 401 {
			t.Errorf("token from before the seal: %d %s", code, body)
		}
		if code, body := in.call("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": viewer.RefreshToken}); code != 401 {
			t.Errorf("refresh token from before the seal: %d %s", code, body)
		}
		in.mustCall("GET", "/api/v1/me", in.login("viewer@acme.test", passwordOf(auth.RoleViewer), "").AccessToken, nil, 200, nil)
	})
}

// TestPasswordPagesInBrowser: the console's /reset page sets a password
// with a reset link an admin was given, and replaces an initial password
// (email, the admin's password, a new one); an invitation page refused
// with an initial password says what to do.
func TestPasswordPagesInBrowser(t *testing.T) {
	w := newWorld(t)
	in := w.in
	adminA := w.byRole[auth.RoleAdmin].AccessToken
	ctx := browser(t)

	// A reset link.
	var u struct{ ID string }
	in.mustCall("POST", "/api/v1/companies/"+w.a.ID+"/users", adminA,
		map[string]string{"email": "otieno@people.test", "name": "Otieno", "role": "viewer", "password": "the admin picked this"}, 201, &u)
	var reset struct {
		ResetPath string `json:"reset_path"`
	}
	in.mustCall("POST", "/api/v1/companies/"+w.a.ID+"/users/"+u.ID+"/password-reset", adminA, nil, 201, &reset)
	page := newTab(t, ctx, "reset link", false)
	page.do("open the reset link", chromedp.Navigate(in.url(reset.ResetPath)))
	page.waitShown("#token-from-link")
	if eval[bool](page, `!document.querySelector("#current-fields").closest("[hidden]")`) {
		t.Errorf("a reset link asks for the current password")
	}
	if h := eval[string](page, `location.hash`); h != "" {
		t.Errorf("the token stays in the address bar: %q", h)
	}
	page.do("choose a new password",
		chromedp.SendKeys(chromedp.CSS("#new-input"), "rivers run to the sea"),
		chromedp.Click(chromedp.CSS("#password-submit")))
	page.waitShown("#done-view")
	page.extraScreenshot("reset-1-done.png")
	page.checkErrors()
	in.login("otieno@people.test", "rivers run to the sea", "")

	// An initial password replaced on the same page.
	in.mustCall("POST", "/api/v1/companies/"+w.a.ID+"/users", adminA,
		map[string]string{"email": "moraa@people.test", "name": "Moraa", "role": "user", "password": "the admin picked this"}, 201, nil)
	var inv struct {
		AcceptPath string `json:"accept_path"`
	}
	in.mustCall("POST", "/api/v1/companies/"+w.b.ID+"/invitations", w.bAdmin.AccessToken, map[string]string{"email": "moraa@people.test", "role": "user"}, 201, &inv)
	accept := newTab(t, ctx, "invitation with an initial password", true)
	accept.do("open the invitation", chromedp.Navigate(in.url(inv.AcceptPath)))
	accept.waitShown("#token-from-link")
	accept.do("accept with the admin's password",
		chromedp.SendKeys(chromedp.CSS("#password-input"), "the admin picked this"),
		chromedp.Click(chromedp.CSS("#accept-submit")))
	accept.waitShown(`#accept-form [data-error-for="password"][data-code="password_change_required"]`)
	accept.waitText("#password-error", "/reset")
	accept.checkErrors()

	change := newTab(t, ctx, "initial password", true)
	change.do("open the password page", chromedp.Navigate(in.url("/reset")))
	change.waitShown("#current-fields")
	change.do("replace the initial password",
		chromedp.SendKeys(chromedp.CSS("#email-input"), "moraa@people.test"),
		chromedp.SendKeys(chromedp.CSS("#current-input"), "the admin picked this"),
		chromedp.SendKeys(chromedp.CSS("#new-input"), "short"),
		chromedp.Click(chromedp.CSS("#password-submit")))
	change.waitShown(`[data-error-for="new_password"][data-code="weak_password"]`)
	change.do("a better one",
		chromedp.SetValue(chromedp.CSS("#new-input"), "mountains keep their snow"),
		chromedp.Click(chromedp.CSS("#password-submit")))
	change.waitShown("#done-view")
	change.checkErrors()
	in.login("moraa@people.test", "mountains keep their snow", "")
	if code, body := in.call("POST", "/api/v1/auth/login", "", map[string]string{"email": "moraa@people.test", "password": "the admin picked this"}); code != 401 {
		t.Errorf("the admin's password after the change on the page: %d %s", code, body)
	}
}
