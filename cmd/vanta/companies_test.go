package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/vanta-ledger/vanta/internal/auth"
)

// apiError is an API error body.
type apiError struct {
	Error struct{ Code, Field, Message string } `json:"error"`
}

func errorOf(t *testing.T, body []byte) apiError {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("not an error body: %s", body)
	}
	return e
}

// companyCount is how many companies GOD sees.
func (w *world) companyCount(t *testing.T) int {
	t.Helper()
	var list struct{ Items []company }
	w.in.mustCall("GET", "/api/v1/companies?limit=100", w.god.AccessToken, nil, 200, &list)
	return len(list.Items)
}

// TestCompanyConfigurationOverHTTP: the original design's configuration
// is accepted; a feature outside the catalog is refused naming its place
// and changes nothing; a KRA PIN, however spelt, belongs to one company
// that is not archived, even when creates race.
func TestCompanyConfigurationOverHTTP(t *testing.T) {
	w := newWorld(t)
	in := w.in
	god := w.god.AccessToken

	var co struct {
		ID       string `json:"company_id"`
		Settings struct{ Features []string }
	}
	in.mustCall("POST", "/api/v1/companies", god, json.RawMessage(`{"company_name":"Original Design Ltd",
		"settings":{"features":["document_processing","ai_analytics","financial_management"]}}`), 201, &co)
	if !slices.Equal(co.Settings.Features, []string{"document_processing", "ai_analytics", "financial_management"}) {
		t.Errorf("features answered as %v", co.Settings.Features)
	}
	before := w.companyCount(t)
	for _, tc := range []struct {
		method, path, body string
		field              string
	}{
		{"POST", "/api/v1/companies", `{"company_name":"X","settings":{"features":["ledger","crypto_mining"]}}`, "settings.features[1]"},
		{"POST", "/api/v1/companies", `{"company_name":"X","settings":{"features":["ledger","ledger"]}}`, "settings.features[1]"},
		{"PATCH", "/api/v1/companies/" + co.ID, `{"settings":{"features":["ai","Document_Processing"]}}`, "settings.features[1]"},
	} {
		code, body := in.call(tc.method, tc.path, god, json.RawMessage(tc.body))
		if e := errorOf(t, body); code != 400 || e.Error.Code != "validation_failed" || e.Error.Field != tc.field {
			t.Errorf("%s %s %s: %d %s, want 400 naming %s", tc.method, tc.path, tc.body, code, body, tc.field)
		}
	}
	if n := w.companyCount(t); n != before {
		t.Errorf("refused creates made companies: %d, then %d", before, n)
	}
	var again struct{ Settings struct{ Features []string } }
	in.mustCall("GET", "/api/v1/companies/"+co.ID, god, nil, 200, &again)
	if len(again.Settings.Features) != 3 {
		t.Errorf("a refused change touched the features: %v", again.Settings.Features)
	}

	// Racing creates with one new PIN, spelt six ways: one company.
	spellings := []string{"P052222222K", "p052222222k", " P052 222 222K ", "p 052 222 222 k", "P052222222k", "p052222222K"}
	type answer struct {
		code int
		body []byte
	}
	answers := make(chan answer, len(spellings))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, pin := range spellings {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			code, body := in.call("POST", "/api/v1/companies", god, map[string]string{"company_name": fmt.Sprintf("Twin %d", i), "tax_id": pin})
			answers <- answer{code, body}
		}()
	}
	close(start)
	wg.Wait()
	close(answers)
	created := 0
	for a := range answers {
		switch e := errorOf(t, a.body); {
		case a.code == 201:
			created++
		case a.code != 409 || e.Error.Code != "tax_id_taken" || e.Error.Field != "tax_id":
			t.Errorf("a racing twin: %d %s, want 409 tax_id_taken naming tax_id", a.code, a.body)
		}
	}
	if created != 1 {
		t.Errorf("%d racing creates with one KRA PIN succeeded, want exactly 1", created)
	}
	if n := w.companyCount(t); n != before+1 {
		t.Errorf("%d companies after the race, want %d", n, before+1)
	}
	// A's PIN, spelt otherwise, by create and by B's admin changing B's.
	if code, body := in.call("POST", "/api/v1/companies", god, map[string]string{"company_name": "Acme Again", "tax_id": "p051 234 567z"}); code != 409 || errorCode(body) != "tax_id_taken" {
		t.Errorf("a twin of A: %d %s", code, body)
	}
	if code, body := in.call("PATCH", "/api/v1/companies/"+w.b.ID, w.bAdmin.AccessToken, map[string]string{"tax_id": "P051234567Z"}); code != 409 || errorCode(body) != "tax_id_taken" {
		t.Errorf("B takes A's PIN: %d %s", code, body)
	}
	var b company
	in.mustCall("GET", "/api/v1/companies/"+w.b.ID, w.bAdmin.AccessToken, nil, 200, &b)
	if b.TaxID != "P059999999B" {
		t.Errorf("B's PIN after the refused change: %q", b.TaxID)
	}

	// Without a public URL, an invitation's link is a path only.
	var inv map[string]any
	in.mustCall("POST", "/api/v1/companies/"+w.a.ID+"/invitations", god, map[string]string{"email": "pathonly@acme.test", "role": "viewer"}, 201, &inv)
	if _, ok := inv["accept_url"]; ok || !strings.HasPrefix(fmt.Sprint(inv["accept_path"]), "/accept#vinv_") {
		t.Errorf("invitation without VANTA_PUBLIC_URL: %v", inv)
	}
}

// godInstance boots an appliance with env, unseals it and makes GOD and
// one company; it returns the instance, GOD's tokens and the company.
func godInstance(t *testing.T, env []string) (*instance, tokens, company) {
	t.Helper()
	in := bootWith(t, dataDir(t), env)
	in.waitReady()
	shares := in.initSeal(2, 2)
	if in.sealStatus().Sealed {
		in.unseal(shares)
	}
	var god struct {
		TOTP struct{ Secret string }
	}
	in.mustCall("POST", "/api/v1/sys/setup/god", "", map[string]string{"email": "god@vanta.test", "name": "Creator", "password": "correct horse battery staple"}, 201, &god)
	tk := in.login("god@vanta.test", "correct horse battery staple", god.TOTP.Secret)
	var co company
	in.mustCall("POST", "/api/v1/companies", tk.AccessToken, map[string]any{"company_name": "Kilimo Traders Ltd", "tax_id": "P051111111A"}, 201, &co)
	return in, tk, co
}

// TestInvitationPreviewAndPublicURL: with VANTA_PUBLIC_URL an invitation
// carries an absolute link; its token names the company, email and role
// to anyone holding it, spends nothing, and every other token gets the
// same 400; the lookup is rate-limited per client.
func TestInvitationPreviewAndPublicURL(t *testing.T) {
	const public = "https://ledger.kilimo.test:9443/vanta"
	in, god, co := godInstance(t, []string{"VANTA_PUBLIC_URL=" + public + "/"})
	var inv struct {
		Token      string
		AcceptPath string `json:"accept_path"`
		AcceptURL  string `json:"accept_url"`
	}
	in.mustCall("POST", "/api/v1/companies/"+co.ID+"/invitations", god.AccessToken, map[string]string{"email": "Otieno@Kilimo.test", "role": "manager"}, 201, &inv)
	if inv.AcceptPath != "/accept#"+inv.Token || inv.AcceptURL != public+"/accept#"+inv.Token {
		t.Errorf("accept_path %q, accept_url %q", inv.AcceptPath, inv.AcceptURL)
	}

	var seen struct {
		CompanyName string `json:"company_name"`
		Email, Role string
	}
	for range 2 { // twice: previewing spends nothing
		in.mustCall("POST", "/api/v1/auth/invitations/preview", "", map[string]string{"token": inv.Token}, 200, &seen)
		if seen.CompanyName != "Kilimo Traders Ltd" || seen.Email != "otieno@kilimo.test" || seen.Role != "manager" {
			t.Errorf("preview %+v", seen)
		}
	}
	var used struct{ Token string }
	in.mustCall("POST", "/api/v1/companies/"+co.ID+"/invitations", god.AccessToken, map[string]string{"email": "used@kilimo.test", "role": "user"}, 201, &used)
	in.mustCall("POST", "/api/v1/auth/invitations/accept", "", map[string]string{"token": used.Token, "name": "Used Up", "password": "rain over lake victoria"}, 201, nil)
	var refusals []string
	for name, bad := range map[string]string{"empty": "", "unknown": "vinv_" + strings.Repeat("A", 43), "not a token": "hello",
		"used": used.Token} {
		code, body := in.call("POST", "/api/v1/auth/invitations/preview", "", map[string]string{"token": bad})
		e := errorOf(t, body)
		if code != 400 || e.Error.Code != "invalid_invitation" || e.Error.Field != "token" {
			t.Errorf("%s token: %d %s", name, code, body)
		}
		refusals = append(refusals, string(body))
	}
	for _, r := range refusals[1:] {
		if r != refusals[0] {
			t.Errorf("refusals differ, telling one bad token from another: %s and %s", refusals[0], r)
		}
	}
	in.mustCall("POST", "/api/v1/auth/invitations/accept", "", map[string]string{"token": inv.Token, "name": "Otieno Ouma", "password": "maize fields under a long rain"}, 201, nil)
	if code, body := in.call("POST", "/api/v1/auth/invitations/preview", "", map[string]string{"token": inv.Token}); code != 400 || errorCode(body) != "invalid_invitation" {
		t.Errorf("preview of an accepted invitation: %d %s", code, body)
	}

	// One client looking up tokens at speed is stopped; the bound is far
	// above the burst, so a limit that never comes fails here.
	limited := false
	for range 60 {
		req := in.request("POST", "/api/v1/auth/invitations/preview", strings.NewReader(`{"token":"vinv_guess"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := in.client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			if resp.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			limited = true
			break
		}
	}
	if !limited {
		t.Error("60 rapid invitation lookups from one client were never limited")
	}
}

// TestFrontPageInBrowser: / sends a visitor where the appliance stands
// (setup before keys, unseal while sealed, setup until the creator account
// exists, then the console's sign-in); /accept names the company of a link's
// invitation and refuses a bad link's token at once.
func TestFrontPageInBrowser(t *testing.T) {
	in := boot(t, dataDir(t))
	in.waitReady()
	ctx := browser(t)
	page := newTab(t, ctx, "front page", false)
	landsOn := func(state, want string) {
		t.Helper()
		page.do("open / "+state, chromedp.Navigate(in.url("/")))
		page.waitFor("/ to lead to "+want+" "+state, fmt.Sprintf(`location.pathname === %s`, jsString(want)), `location.pathname`)
	}

	landsOn("before the keys exist", "/setup")
	page.enterSetupToken(in)
	page.waitShown("#step-configure")
	shares := in.initSeal(2, 2)
	if !in.sealStatus().Sealed {
		in.mustCall("POST", "/api/v1/sys/seal", "", map[string]any{}, 200, nil)
	}
	landsOn("while sealed", "/unseal")
	in.unseal(shares)
	landsOn("unsealed, before the creator account", "/setup")
	page.enterSetupToken(in) // a new page load asks for it again
	page.waitShown("#step-god")

	var god struct {
		TOTP struct{ Secret string }
	}
	in.mustCall("POST", "/api/v1/sys/setup/god", "", map[string]string{"email": "god@vanta.test", "name": "Creator", "password": "correct horse battery staple"}, 201, &god)
	// Once set up, / leads to the console, which asks this tab to sign in.
	landsOn("once set up", "/console/sign-in")
	page.waitShown("#sign-in-form")
	for _, promise := range []string{"ledger", "invoice", "report", "document"} {
		if text := strings.ToLower(page.text("main")); strings.Contains(text, promise) {
			t.Errorf("the front page speaks of %s, which this version does not have", promise)
		}
	}
	page.extraScreenshot("front-page.png")
	page.do("open /setup once set up", chromedp.Navigate(in.url("/setup")))
	page.waitShown("#step-complete")

	// An invitation link: the page names the company before anything is typed.
	tk := in.login("god@vanta.test", "correct horse battery staple", god.TOTP.Secret)
	var co company
	in.mustCall("POST", "/api/v1/companies", tk.AccessToken, map[string]any{"company_name": "Mavuno Coop Ltd"}, 201, &co)
	var inv struct {
		AcceptPath string `json:"accept_path"`
	}
	in.mustCall("POST", "/api/v1/companies/"+co.ID+"/invitations", tk.AccessToken, map[string]string{"email": "akinyi@mavuno.test", "role": string(auth.RoleUser)}, 201, &inv)
	accept := newTab(t, ctx, "invitee", true)
	accept.do("open the invitation link", chromedp.Navigate(in.url(inv.AcceptPath)))
	accept.waitText("#preview-company", "Mavuno Coop Ltd")
	accept.waitText("#preview-detail", "akinyi@mavuno.test")
	accept.waitText("#preview-detail", "as user")
	if strings.Contains(accept.text("#accept-card"), co.ID) {
		t.Errorf("the invitation page names the company by its id")
	}
	accept.extraScreenshot("accept-0-preview.png")
	accept.do("accept it",
		chromedp.SendKeys(chromedp.CSS("#name-input"), "Akinyi Atieno"),
		chromedp.SendKeys(chromedp.CSS("#password-input"), "mangoes ripen in the sun"),
		chromedp.Click(chromedp.CSS("#accept-submit")))
	accept.waitShown("#accepted-view")
	accept.waitText("#accepted-company-name", "Mavuno Coop Ltd")
	accept.waitText("#accepted-summary", "joined Mavuno Coop Ltd as user")
	accept.checkErrors()

	bad := newTab(t, ctx, "bad link", true)
	bad.do("open a link with an unknown token", chromedp.Navigate(in.url("/accept#vinv_"+strings.Repeat("B", 43))))
	bad.waitShown(`#accept-form [data-error-for="token"][data-code="invalid_invitation"]`)
	if eval[bool](bad, `!document.querySelector("#invitation-preview").hidden`) {
		t.Errorf("an unknown token shows a company")
	}
	bad.checkErrors()

	// Sealed again, / leads the custodians to /unseal.
	in.mustCall("POST", "/api/v1/sys/seal", tk.AccessToken, map[string]any{}, 200, nil)
	landsOn("sealed after setup", "/unseal")
	page.checkErrors()
}
