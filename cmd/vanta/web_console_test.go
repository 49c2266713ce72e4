package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/vanta-ledger/vanta/internal/auth"
)

// Browser tests of the console shell (/console): sign-in with a second
// factor, sign-out, an ended session, the account page, the company
// switcher. Every page is watched by strictTab: any exception, console
// error, Content-Security-Policy violation or failed request fails the test
// unless the test said it expects that answer.

// strictTab is a tab that fails its test on any JavaScript exception,
// console error, CSP violation or failed request (a network error, or an
// HTTP status of 400 or more that the test did not allow with allow).
// Problems are checked when the test ends and whenever it calls clean.
type strictTab struct {
	*tab
	mu       sync.Mutex
	allowed  []allowance
	problems []string
}

type allowance struct {
	status int
	path   string // the request's path, exactly
}

// cspWatch runs in every document before the page's own scripts: a CSP
// refusal becomes a console error, which the tab reports.
const cspWatch = `document.addEventListener("securitypolicyviolation", (e) => {
	console.error("CSP violation: " + e.effectiveDirective + " blocked " + (e.blockedURI || "inline") + " in " + e.sourceFile + ":" + e.lineNumber);
});`

// newStrictTab opens a watched tab (parent from browser; fresh opens
// another tab of the same browser).
func newStrictTab(t *testing.T, parent context.Context, name string, fresh bool) *strictTab {
	t.Helper()
	st := &strictTab{tab: newTab(t, parent, name, fresh)}
	if _, err := chromedp.Call(st.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspWatch}); err != nil {
		t.Fatalf("%s: install the CSP watch: %v", name, err)
	}
	responses := chromedp.Events(st.ctx, network.ResponseReceived)
	failures := chromedp.Events(st.ctx, network.LoadingFailed)
	go func() {
		for ev, err := range responses {
			if err != nil {
				return
			}
			if ev.Response == nil || ev.Response.Status < 400 {
				continue
			}
			path := ev.Response.URL
			if u, err := url.Parse(path); err == nil {
				path = u.Path
			}
			if !st.expected(int(ev.Response.Status), path) {
				st.report(fmt.Sprintf("request failed: %d %s", ev.Response.Status, ev.Response.URL))
			}
		}
	}()
	go func() {
		for ev, err := range failures {
			if err != nil {
				return
			}
			// A request the page gave up itself (a navigation away) is not
			// a failure; a blocked one always is.
			if ev.Canceled && ev.BlockedReason == "" {
				continue
			}
			st.report(fmt.Sprintf("request failed: %s %s %s", ev.Type, ev.ErrorText, ev.BlockedReason))
		}
	}()
	t.Cleanup(func() {
		if !t.Failed() {
			st.clean()
		}
	})
	return st
}

// allow says that an answer with this status to a request for this path
// is expected from now on (a refused password, an ended session).
func (st *strictTab) allow(status int, path string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.allowed = append(st.allowed, allowance{status, path})
}

// disallow takes back every allowance.
func (st *strictTab) disallow() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.allowed = nil
}

func (st *strictTab) expected(status int, path string) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, a := range st.allowed {
		if a.status == status && a.path == path {
			return true
		}
	}
	return false
}

func (st *strictTab) report(p string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.problems = append(st.problems, p)
}

// taken returns the problems seen so far and forgets them.
func (st *strictTab) taken() []string {
	st.tab.mu.Lock()
	got := st.tab.errors
	st.tab.errors = nil
	st.tab.mu.Unlock()
	st.mu.Lock()
	defer st.mu.Unlock()
	got = append(got, st.problems...)
	st.problems = nil
	return got
}

// clean fails the test for every problem seen so far.
func (st *strictTab) clean() {
	st.t.Helper()
	for _, p := range st.taken() {
		st.t.Errorf("%s: %s", st.name, p)
	}
}

// accessible fails the test for a control on the page that a keyboard or
// screen-reader user could not use: an input, select or textarea without a
// label, a button or link without a name, an element taken out of the tab
// order with a positive tabindex, or a focusable control whose focus ring
// is switched off.
func (st *strictTab) accessible(where string) {
	st.t.Helper()
	bad := eval[[]string](st.tab, `(() => {
		const out = [];
		const shown = (e) => !e.closest("[hidden]") && e.getClientRects().length > 0;
		const name = (e) => (e.getAttribute("aria-label") || e.textContent || e.getAttribute("title") || e.getAttribute("alt") || "").trim();
		for (const e of document.querySelectorAll("input, select, textarea")) {
			if (!shown(e) || e.type === "hidden") continue;
			if (!(e.labels && e.labels.length) && !e.getAttribute("aria-label") && !e.getAttribute("aria-labelledby")) out.push("no label: " + (e.id || e.name || e.outerHTML.slice(0, 80)));
		}
		for (const e of document.querySelectorAll("button, a[href], summary")) {
			if (shown(e) && !name(e) && !e.querySelector("img[alt]:not([alt=''])")) out.push("no name: " + e.outerHTML.slice(0, 80));
		}
		for (const e of document.querySelectorAll("[tabindex]")) {
			if (parseInt(e.getAttribute("tabindex"), 10) > 0) out.push("positive tabindex: " + e.outerHTML.slice(0, 80));
		}
		return out;
	})()`)
	for _, b := range bad {
		st.t.Errorf("%s: %s: %s", st.name, where, b)
	}
}

// tabTo presses Tab until the element sel has focus (at most limit
// presses) and fails the test if it never does: a keyboard user reaches it.
func (st *strictTab) tabTo(sel string, limit int) {
	st.t.Helper()
	for i := 0; ; i++ {
		if eval[bool](st.tab, fmt.Sprintf(`document.activeElement === document.querySelector(%s)`, jsString(sel))) {
			return
		}
		if i == limit {
			break
		}
		st.do("press Tab", chromedp.KeyEvent(kb.Tab))
	}
	st.t.Errorf("%s: %s is not reached with %d presses of Tab (focus on %s)", st.name, sel, limit, eval[string](st.tab, `document.activeElement.outerHTML.slice(0, 80)`))
}

// totpBook hands out authenticator codes the appliance will take: each
// code must be of a later 30-second step than the last one it accepted
// for that account, and within one step of its clock.
type totpBook struct {
	t    *testing.T
	last map[string]int64 // secret → last step used
}

func newTOTPBook(t *testing.T) *totpBook { return &totpBook{t: t, last: map[string]int64{}} }

// code is the next usable code for secret. It uses the step before the
// current one when that is safe (not within 5 seconds of the clock moving
// on), so three codes fit in one step; a fourth waits for the clock.
func (b *totpBook) code(secret string) string {
	b.t.Helper()
	deadline := time.Now().Add(guard)
	for {
		now := time.Now()
		cur := now.Unix() / 30
		lo := cur - 1
		if now.Unix()%30 >= 25 {
			lo = cur
		}
		step := max(lo, b.last[secret]+1)
		if step <= cur+1 {
			b.last[secret] = step
			c, err := auth.TOTPCode(secret, time.Unix(step*30, 0))
			if err != nil {
				b.t.Fatal(err)
			}
			return c
		}
		if now.After(deadline) {
			b.t.Fatalf("no authenticator step free for %s", guard)
		}
		// The clock, not another goroutine, is what is awaited here.
		time.Sleep(time.Until(time.Unix((cur+1)*30, 0)) + 50*time.Millisecond)
	}
}

// consoleWorld is an unsealed appliance with GOD, companies Acme and Bidii,
// Wanjiru (admin of Acme with an authenticator, viewer of Bidii) and Otieno
// (user of Acme, password only).
type consoleWorld struct {
	in           *instance
	codes        *totpBook
	god          tokens // GOD's session from setting the world up
	godSecret    string
	acme, bidii  company
	wanjiruTOTP  string
	godPass      string
	wanjiruPass  string
	otienoPass   string
	wanjiruEmail string
	otienoEmail  string
}

func newConsoleWorld(t *testing.T) *consoleWorld {
	t.Helper()
	in := boot(t, dataDir(t))
	in.waitReady()
	in.initSeal(2, 2) // ends unsealed
	w := &consoleWorld{in: in, codes: newTOTPBook(t), godPass: "correct horse battery staple",
		wanjiruPass: "mangoes ripen in the long rains", otienoPass: "matatu horns at first light",
		wanjiruEmail: "wanjiru@acme.test", otienoEmail: "otieno@acme.test"}
	var god struct {
		TOTP struct{ Secret string } `json:"totp"`
	}
	in.mustCall("POST", "/api/v1/sys/setup/god", "", map[string]string{"email": "god@vanta.test", "name": "Creator", "password": w.godPass}, 201, &god)
	w.godSecret = god.TOTP.Secret
	var gt tokens
	in.mustCall("POST", "/api/v1/auth/login", "", map[string]string{"email": "god@vanta.test", "password": w.godPass, "totp": w.codes.code(w.godSecret)}, 200, &gt)
	w.god = gt
	in.mustCall("POST", "/api/v1/companies", gt.AccessToken, map[string]any{"company_name": "Acme Ltd", "tax_id": "P051234567Z"}, 201, &w.acme)
	in.mustCall("POST", "/api/v1/companies", gt.AccessToken, map[string]any{"company_name": "Bidii Traders", "tax_id": "P059999999B"}, 201, &w.bidii)

	var wanjiru struct {
		TOTP struct{ Secret string } `json:"totp"`
	}
	in.mustCall("POST", "/api/v1/companies/"+w.acme.ID+"/users", gt.AccessToken,
		map[string]string{"email": w.wanjiruEmail, "name": "Wanjiru Kamau", "role": "admin", "password": initialPassword(w.wanjiruPass)}, 201, &wanjiru)
	w.wanjiruTOTP = wanjiru.TOTP.Secret
	var wt tokens
	in.mustCall("POST", "/api/v1/auth/password", "", map[string]string{"email": w.wanjiruEmail, "password": initialPassword(w.wanjiruPass),
		"new_password": w.wanjiruPass, "totp": w.codes.code(w.wanjiruTOTP)}, 200, &wt)
	// Bidii invites her as a viewer; she accepts while signed in.
	in.mustCall("POST", "/api/v1/companies/"+w.bidii.ID+"/invitations", gt.AccessToken, map[string]string{"email": w.wanjiruEmail, "role": "viewer"}, 201, nil)
	var me struct {
		Invitations []struct{ ID string } `json:"invitations"`
	}
	in.mustCall("GET", "/api/v1/me", wt.AccessToken, nil, 200, &me)
	if len(me.Invitations) != 1 {
		t.Fatalf("Wanjiru's pending invitations: %+v", me.Invitations)
	}
	in.mustCall("POST", "/api/v1/me/invitations/"+me.Invitations[0].ID+"/accept", wt.AccessToken, nil, 201, nil)

	in.mustCall("POST", "/api/v1/companies/"+w.acme.ID+"/users", gt.AccessToken,
		map[string]string{"email": w.otienoEmail, "name": "Otieno Odhiambo", "role": "user", "password": initialPassword(w.otienoPass)}, 201, nil)
	in.setOwnPassword(w.otienoEmail, initialPassword(w.otienoPass), w.otienoPass, "")
	// Akinyi has only the password an admin chose for her.
	in.mustCall("POST", "/api/v1/companies/"+w.acme.ID+"/users", gt.AccessToken,
		map[string]string{"email": "akinyi@acme.test", "name": "Akinyi Otieno", "role": "viewer", "password": initialPassword(w.otienoPass)}, 201, nil)
	return w
}

// signIn fills the console's sign-in form and waits to leave it.
func (st *strictTab) signIn(email, password, code string) {
	st.t.Helper()
	st.waitShown("#sign-in-form")
	st.fill("#sign-in-email", email)
	st.fill("#sign-in-password", password)
	st.fill("#sign-in-code", code)
	st.do("sign in as "+email, chromedp.Click(chromedp.CSS("#sign-in-submit")))
	st.waitFor("the sign-in to finish", `location.pathname !== "/console/sign-in" && !!document.querySelector("#who-name") && document.querySelector("#who-name").textContent !== ""`,
		`document.querySelector("main").innerText`)
}

// fill sets an input's value, empty included (chromedp's SetValue
// refuses an empty one).
func (st *strictTab) fill(sel, value string) {
	st.t.Helper()
	st.do("fill "+sel, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`void (document.querySelector(%s).value = %s)`, jsString(sel), jsString(value))))
}

// atPath waits until the tab shows path (and query, when want has one).
func (st *strictTab) atPath(want string) {
	st.t.Helper()
	st.waitFor("the page "+want, fmt.Sprintf(`location.pathname + location.search === %s && !!document.querySelector("#view-title")`, jsString(want)), `location.pathname + location.search`)
}

// sessionToken is the access token the tab holds.
func (st *strictTab) sessionToken() string {
	st.t.Helper()
	return eval[string](st.tab, `(JSON.parse(sessionStorage.getItem("vanta.console.session") || "{}").access || "")`)
}

func TestConsoleSignInSwitcherAndSignOut(t *testing.T) {
	w := newConsoleWorld(t)
	in := w.in
	p := newStrictTab(t, browser(t), "console", false)

	// A visitor without a session: / leads to the console's sign-in.
	p.do("open /", chromedp.Navigate(in.url("/")))
	p.atPath("/console/sign-in")
	if got := eval[string](p.tab, `document.activeElement.id`); got != "sign-in-email" {
		t.Errorf("focus on the sign-in page starts at %q", got)
	}
	p.accessible("sign-in")
	// A right password without the code is refused like a wrong one, and
	// the page asks for the code.
	p.allow(401, "/api/v1/auth/login")
	p.do("sign in without the code",
		chromedp.SendKeys(chromedp.CSS("#sign-in-email"), w.wanjiruEmail),
		chromedp.SendKeys(chromedp.CSS("#sign-in-password"), w.wanjiruPass),
		chromedp.Click(chromedp.CSS("#sign-in-submit")))
	p.waitShown(`#sign-in-error[data-code="invalid_credentials"]`)
	p.waitText("#sign-in-error", "enter its current code")
	if got := eval[string](p.tab, `document.activeElement.id`); got != "sign-in-code" {
		t.Errorf("after a refusal without a code, focus is on %q", got)
	}
	p.extraScreenshot("console-sign-in-refused.png")
	p.do("enter the code", chromedp.SendKeys(chromedp.CSS("#sign-in-code"), w.codes.code(w.wanjiruTOTP)), chromedp.Click(chromedp.CSS("#sign-in-submit")))
	p.atPath("/console")
	p.disallow()
	p.waitText("#view-title", "Welcome, Wanjiru Kamau")
	p.waitText("#who-name", "Wanjiru Kamau")
	p.extraScreenshot("console-home.png")
	p.accessible("home")
	// From the top of the page, the first Tab is the skip link, which
	// takes focus to the view.
	p.do("load the page afresh", chromedp.Reload())
	p.atPath("/console")
	p.tabTo(".skip-link", 1)
	if outline := eval[string](p.tab, `getComputedStyle(document.activeElement).top`); outline != "0px" {
		t.Errorf("the focused skip link is off screen (top %s)", outline)
	}
	p.do("follow the skip link", chromedp.KeyEvent(kb.Enter))
	p.waitFor("focus in the view", `document.activeElement.id === "view"`, `document.activeElement.outerHTML.slice(0, 80)`)
	p.tabTo(`#home-companies a[href="/console/c/`+w.acme.ID+`"]`, 3)

	// Home: each company with her role in it.
	roles := eval[map[string]string](p.tab, `Object.fromEntries([...document.querySelectorAll('[data-testid="home-company"]')].map(li => [li.querySelector(".co-name").textContent, li.querySelector('[data-testid="home-role"]').textContent]))`)
	if want := map[string]string{"Acme Ltd": "Admin", "Bidii Traders": "Viewer"}; fmt.Sprint(roles) != fmt.Sprint(want) {
		t.Errorf("home lists %v, want %v", roles, want)
	}
	// The switcher: the same two, with the roles, and the current one marked.
	p.do("open the switcher", chromedp.Click(chromedp.CSS("#switcher-summary")))
	p.waitShown("#switcher-list")
	listed := eval[[]string](p.tab, `[...document.querySelectorAll('#switcher-list a')].map(a => a.textContent + "|" + a.dataset.role)`)
	if want := []string{"Acme LtdAdmin|admin", "Bidii TradersViewer|viewer"}; fmt.Sprint(listed) != fmt.Sprint(want) {
		t.Errorf("the switcher lists %q, want %q", listed, want)
	}
	p.extraScreenshot("console-switcher.png")
	p.do("switch to Bidii", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#switcher-list a[data-company=%q]`, w.bidii.ID))))
	p.atPath("/console/c/" + w.bidii.ID)
	p.waitText("#view-title", "Bidii Traders")
	p.waitText(`[data-testid="company-role"]`, "Viewer")
	p.waitText("#switcher-current", "Bidii Traders · Viewer")
	// A route change moves focus to the new page's heading, for screen
	// readers and keyboards alike, and its title is announced.
	if got := eval[string](p.tab, `document.activeElement.id`); got != "view-title" {
		t.Errorf("after switching company focus is on %q", got)
	}
	p.waitText("#announce", "Bidii Traders")
	p.waitText(`#nav ul[data-group="company"]`, "Books")
	// Books and Reports are drawn (assets/console-books.js), Documents
	// too (assets/console-documents.js): no slot is still to come.
	if coming := eval[[]string](p.tab, `[...document.querySelectorAll('#nav .nav-coming[aria-disabled="true"]')].map(e => e.dataset.nav)`); len(coming) != 0 {
		t.Errorf("coming slots in the navigation: %v, want none", coming)
	}
	p.waitShown(`#nav ul[data-group="company"] a[data-nav="documents"]`)
	// Keyboard: Escape closes the switcher and leaves focus on it.
	p.do("open the switcher again", chromedp.Click(chromedp.CSS("#switcher-summary")))
	p.do("press Escape", chromedp.KeyEvent(kb.Escape))
	p.waitFor("the switcher to close", `!document.querySelector("#switcher").open && document.activeElement.id === "switcher-summary"`, `document.activeElement.id`)
	// Another company's id shows nothing of it.
	p.do("open a company that is not hers", chromedp.Navigate(in.url("/console/c/00000000-0000-4000-8000-000000000000")))
	p.waitText("#view-title", "Page not found")

	// A signed-in tab does not show the sign-in form: it goes on to the
	// page it names.
	p.do("open sign-in while signed in", chromedp.Navigate(in.url("/console/sign-in?next="+url.QueryEscape("/console/account"))))
	p.atPath("/console/account")

	// / takes a signed-in person to the console.
	p.do("open / signed in", chromedp.Navigate(in.url("/")))
	p.atPath("/console")
	p.waitText("#view-title", "Welcome, Wanjiru Kamau")

	// The focus ring is visible wherever focus goes.
	p.do("focus the sign-out button", chromedp.Focus(chromedp.CSS("#sign-out")))
	if style := eval[string](p.tab, `getComputedStyle(document.querySelector("#sign-out"), null).outlineStyle`); style == "none" {
		t.Error("the focused sign-out button shows no focus ring")
	}

	// Sign out: the token is revoked on the appliance, and the console
	// asks for a sign-in again.
	token := p.sessionToken()
	if token == "" {
		t.Fatal("no session in the tab after signing in")
	}
	p.do("sign out", chromedp.Click(chromedp.CSS("#sign-out")))
	p.atPath("/console/sign-in")
	p.waitShown(`#sign-in-notice[data-code="signed_out"]`)
	if code, body := in.call("GET", "/api/v1/me", token, nil); code != 401 {
		t.Errorf("the signed-out token still works: %d %s", code, body)
	}
	if got := p.sessionToken(); got != "" {
		t.Error("the tab keeps a token after signing out")
	}
	p.do("open the company page signed out", chromedp.Navigate(in.url("/console/c/"+w.acme.ID)))
	p.atPath("/console/sign-in?next=" + url.QueryEscape("/console/c/"+w.acme.ID))
	if strings.Contains(eval[string](p.tab, `document.body.innerText`), "Acme") {
		t.Error("a signed-out tab shows the company's name")
	}

	// GOD sees every company, as GOD.
	p.signIn("god@vanta.test", w.godPass, w.codes.code(w.godSecret))
	p.atPath("/console/c/" + w.acme.ID)
	p.waitText(`[data-testid="company-role"]`, "GOD")
	p.do("go home", chromedp.Click(chromedp.CSS(`#nav a[href="/console"]`)))
	p.atPath("/console")
	roles = eval[map[string]string](p.tab, `Object.fromEntries([...document.querySelectorAll('[data-testid="home-company"]')].map(li => [li.querySelector(".co-name").textContent, li.querySelector('[data-testid="home-role"]').textContent]))`)
	if want := map[string]string{"Acme Ltd": "GOD", "Bidii Traders": "GOD"}; fmt.Sprint(roles) != fmt.Sprint(want) {
		t.Errorf("GOD's home lists %v, want %v", roles, want)
	}
	p.clean()
}

func TestConsoleSessionEndsAndReturns(t *testing.T) {
	w := newConsoleWorld(t)
	in := w.in
	p := newStrictTab(t, browser(t), "console", false)

	// The page asked for first is where sign-in leads.
	want := "/console/c/" + w.acme.ID
	p.do("open a company page", chromedp.Navigate(in.url(want)))
	p.atPath("/console/sign-in?next=" + url.QueryEscape(want))
	// A password an admin chose opens nothing: the page says so and links
	// to where she sets her own.
	p.allow(403, "/api/v1/auth/login")
	p.fill("#sign-in-email", "akinyi@acme.test")
	p.fill("#sign-in-password", initialPassword(w.otienoPass))
	p.do("sign in with an initial password", chromedp.Click(chromedp.CSS("#sign-in-submit")))
	p.waitShown(`#sign-in-error[data-code="password_change_required"] a[href="/reset"]`)
	p.disallow()
	p.signIn(w.otienoEmail, w.otienoPass, "")
	p.atPath(want)
	p.waitText(`[data-testid="company-role"]`, "User")

	// An access token the appliance no longer takes (expired): the console
	// refreshes once and goes on, with a new one.
	p.allow(401, "/api/v1/me")
	old := p.sessionToken()
	p.do("spoil the access token", chromedp.Evaluate[chromedp.Void](`(() => { const s = JSON.parse(sessionStorage.getItem("vanta.console.session")); s.access = "vat_expired"; sessionStorage.setItem("vanta.console.session", JSON.stringify(s)); })()`))
	p.do("reload", chromedp.Reload())
	p.atPath(want)
	p.waitText(`[data-testid="company-role"]`, "User")
	if now := p.sessionToken(); now == old || now == "vat_expired" || now == "" {
		t.Errorf("after a refused access token the tab holds %q", now)
	}

	// The session ends elsewhere (here: signed out through the API with the
	// tab's token): the next request goes back to sign-in, remembering the
	// page, and signing in again returns to it.
	in.mustCall("POST", "/api/v1/auth/logout", p.sessionToken(), nil, 204, nil)
	p.allow(401, "/api/v1/auth/refresh")
	p.do("go to the account page", chromedp.Click(chromedp.CSS(`#nav a[href="/console/account"]`)))
	p.atPath("/console/account") // drawn from what the tab knows; nothing asked yet
	p.do("reload the account page", chromedp.Reload())
	p.atPath("/console/sign-in?next=" + url.QueryEscape("/console/account"))
	p.waitShown(`#sign-in-notice[data-code="session_expired"]`)
	p.waitText("#sign-in-notice", "Your session has ended")
	p.disallow()
	p.signIn(w.otienoEmail, w.otienoPass, "")
	p.atPath("/console/account")
	p.waitText(`[data-testid="account-email"]`, w.otienoEmail)

	// A link that leads out of the console is never followed from next=.
	p.do("sign out", chromedp.Click(chromedp.CSS("#sign-out")))
	p.atPath("/console/sign-in")
	p.do("open sign-in with a foreign next", chromedp.Navigate(in.url("/console/sign-in?next="+url.QueryEscape("https://example.test/"))))
	p.signIn(w.otienoEmail, w.otienoPass, "")
	p.atPath("/console")

	// An invitation addressed to him shows on his home page; accepting it
	// adds the company, with its role, to the switcher.
	in.mustCall("POST", "/api/v1/companies/"+w.bidii.ID+"/invitations", w.god.AccessToken, map[string]string{"email": w.otienoEmail, "role": "manager"}, 201, nil)
	p.do("reload home", chromedp.Reload())
	p.waitText(`[data-testid="home-invitations"]`, "as Manager")
	// It names the company, and its button says which invitation it accepts.
	p.waitText(`[data-testid="invitation-company"]`, "Bidii Traders")
	if label := eval[string](p.tab, `document.querySelector('[data-testid="accept-invitation"]').getAttribute("aria-label")`); label != "Accept the invitation to Bidii Traders" {
		t.Errorf("the accept button is labelled %q", label)
	}
	p.accessible("home with an invitation")
	p.do("accept", chromedp.Click(chromedp.CSS(`[data-testid="accept-invitation"]`)))
	p.atPath("/console/c/" + w.bidii.ID)
	p.waitText(`[data-testid="company-role"]`, "Manager")
	listed := eval[[]string](p.tab, `[...document.querySelectorAll('#switcher-list a')].map(a => a.querySelector(".co-name").textContent + ":" + a.dataset.role)`)
	if want := []string{"Acme Ltd:user", "Bidii Traders:manager"}; fmt.Sprint(listed) != fmt.Sprint(want) {
		t.Errorf("after accepting, the switcher lists %q, want %q", listed, want)
	}

	// Sealed: the console sends the tab to the custodians' page.
	in.mustCall("POST", "/api/v1/sys/seal", w.god.AccessToken, map[string]any{}, 200, nil)
	p.allow(503, "/api/v1/me")
	p.do("reload while sealed", chromedp.Reload())
	// The page leaves itself, so the browser is asked from here.
	waitFor(t, func() bool {
		loc, err := chromedp.Run(p.ctx, chromedp.Location())
		return err == nil && strings.HasSuffix(loc, "/unseal")
	}, "the unseal page")
	p.waitShown("main")
	// Opened while sealed, a console page is not served at all.
	p.do("open the console while sealed", chromedp.Navigate(in.url("/console/account")))
	p.waitFor("the unseal page", `location.pathname === "/unseal"`, `location.pathname`)
	p.clean()
}

func TestConsoleAccountPasswordAndAuthenticator(t *testing.T) {
	w := newConsoleWorld(t)
	in := w.in
	p := newStrictTab(t, browser(t), "console", false)
	p.do("open the account page", chromedp.Navigate(in.url("/console/account")))
	p.signIn(w.otienoEmail, w.otienoPass, "")
	p.atPath("/console/account")
	p.waitText(`[data-testid="account-totp"]`, "Not set up")
	p.extraScreenshot("console-account.png")
	p.accessible("account")

	// Change password: a wrong current one and a weak new one are refused
	// at their fields; then the change, and the session goes on.
	fresh := "baobab shade at noon in Kilifi"
	p.allow(401, "/api/v1/auth/password")
	p.allow(400, "/api/v1/auth/password")
	p.do("change with a wrong current password",
		chromedp.SendKeys(chromedp.CSS("#pw-current"), "not my password at all"),
		chromedp.SendKeys(chromedp.CSS("#pw-new"), fresh),
		chromedp.SendKeys(chromedp.CSS("#pw-repeat"), fresh),
		chromedp.Click(chromedp.CSS(`[data-testid="pw-submit"]`)))
	p.waitText(`#pw-current-error[data-code="invalid_credentials"]`, "not right")
	p.do("change to a weak password",
		chromedp.SetValue(chromedp.CSS("#pw-current"), w.otienoPass),
		chromedp.SetValue(chromedp.CSS("#pw-new"), "too short"),
		chromedp.SetValue(chromedp.CSS("#pw-repeat"), "too short"),
		chromedp.Click(chromedp.CSS(`[data-testid="pw-submit"]`)))
	p.waitShown(`#pw-new-error[data-code="weak_password"]`)
	p.do("change for real",
		chromedp.SetValue(chromedp.CSS("#pw-new"), fresh),
		chromedp.SetValue(chromedp.CSS("#pw-repeat"), fresh),
		chromedp.Click(chromedp.CSS(`[data-testid="pw-submit"]`)))
	p.waitShown(`[data-testid="password-message"][data-code="password_changed"]`)
	p.disallow()
	if code, body := in.call("POST", "/api/v1/auth/login", "", map[string]string{"email": w.otienoEmail, "password": w.otienoPass}); code != 401 {
		t.Errorf("the old password still signs in: %d %s", code, body)
	}
	in.login(w.otienoEmail, fresh, "")
	p.do("reload", chromedp.Reload())
	p.waitText(`[data-testid="account-email"]`, w.otienoEmail) // the tab's new session works
	p.clean()

	// Set up an authenticator: the key is shown as text, a wrong code is
	// refused, the right one enrols it.
	p.allow(401, "/api/v1/me/totp/confirm")
	p.do("start enrolling", chromedp.SendKeys(chromedp.CSS("#totp-password"), fresh), chromedp.Click(chromedp.CSS(`[data-testid="totp-begin"]`)))
	p.waitShown(`[data-testid="totp-step2"]`)
	if got := eval[string](p.tab, `document.activeElement.id`); got != "totp-step2" {
		t.Errorf("after starting enrolment focus is on %q", got)
	}
	secret := strings.Join(strings.Fields(p.text("#totp-secret")), "")
	uri := p.text(`[data-testid="totp-uri"]`)
	if len(secret) < 16 || !strings.HasPrefix(uri, "otpauth://totp/") || !strings.Contains(uri, "secret="+secret) {
		t.Fatalf("the page shows key %q and address %q", secret, uri)
	}
	if external := eval[int](p.tab, `[...document.images].filter(i => !i.src.startsWith("data:") && new URL(i.src).origin !== location.origin).length`); external != 0 {
		t.Errorf("%d images come from elsewhere", external)
	}
	p.extraScreenshot("console-totp.png")
	p.accessible("authenticator enrolment")
	p.do("confirm with a wrong code", chromedp.SendKeys(chromedp.CSS("#totp-confirm-code"), wrongCode(t, secret, time.Now())), chromedp.Click(chromedp.CSS(`[data-testid="totp-confirm"]`)))
	p.waitShown(`#totp-confirm-code-error[data-code="invalid_totp"]`)
	p.do("confirm with the right code", chromedp.SetValue(chromedp.CSS("#totp-confirm-code"), w.codes.code(secret)), chromedp.Click(chromedp.CSS(`[data-testid="totp-confirm"]`)))
	p.waitShown(`[data-testid="totp-done"]`)
	p.waitText(`[data-testid="account-totp"]`, "Set up")
	p.disallow()
	var me struct {
		TOTP bool `json:"totp_enrolled"`
	}
	in.mustCall("GET", "/api/v1/me", p.sessionToken(), nil, 200, &me)
	if !me.TOTP {
		t.Error("the appliance does not have the authenticator the page confirmed")
	}
	p.clean()
	// From now on the password alone does not sign in.
	if code, body := in.call("POST", "/api/v1/auth/login", "", map[string]string{"email": w.otienoEmail, "password": fresh}); code != 401 {
		t.Errorf("the password alone still signs in after enrolment: %d %s", code, body)
	}
	p.do("sign out", chromedp.Click(chromedp.CSS("#sign-out")))
	p.atPath("/console/sign-in")
	p.do("open the account page", chromedp.Navigate(in.url("/console/account")))
	p.signIn(w.otienoEmail, fresh, w.codes.code(secret))
	p.atPath("/console/account")

	// Replacing it asks for the password and a current code.
	p.waitText("#totp-title", "Replace your authenticator app")
	p.waitShown("#totp-current")
	p.do("start replacing", chromedp.SendKeys(chromedp.CSS("#totp-password"), fresh),
		chromedp.SendKeys(chromedp.CSS("#totp-current"), w.codes.code(secret)),
		chromedp.Click(chromedp.CSS(`[data-testid="totp-begin"]`)))
	p.waitShown(`[data-testid="totp-step2"]`)
	if next := strings.Join(strings.Fields(p.text("#totp-secret")), ""); next == secret || len(next) < 16 {
		t.Errorf("the replacement key is %q (the old one was %q)", next, secret)
	}
	p.clean()
}

// TestConsoleStrictTabCatches: the watch the console tests rely on sees a
// script error, a CSP refusal and a failed request.
func TestConsoleStrictTabCatches(t *testing.T) {
	in := boot(t, dataDir(t))
	in.waitReady()
	in.initSeal(2, 2)
	in.mustCall("POST", "/api/v1/sys/setup/god", "", map[string]string{"email": "god@vanta.test", "name": "Creator", "password": "correct horse battery staple"}, 201, nil)
	p := newStrictTab(t, browser(t), "watched", false)
	p.do("open the console", chromedp.Navigate(in.url("/console")))
	p.atPath("/console/sign-in")
	if got := p.taken(); len(got) != 0 {
		t.Fatalf("the sign-in page reported %q", got)
	}
	for _, c := range []struct{ what, js, want string }{
		{"an exception", `void setTimeout(() => { throw new Error("boom") }, 0)`, "boom"},
		{"an inline style", `void document.body.setAttribute("style", "color: red")`, "CSP violation: style-src-attr"},
		{"a failed request", `void fetch("/assets/no-such-file.js")`, "request failed: 404"},
	} {
		p.do(c.what, chromedp.Evaluate[chromedp.Void](c.js))
		var got []string
		waitFor(t, func() bool { got = append(got, p.taken()...); return strings.Contains(strings.Join(got, "\n"), c.want) }, c.what+" reported")
	}
}
