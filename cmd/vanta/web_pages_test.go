package main

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/vanta-ledger/vanta/internal/auth"
)

// Browser tests of the console's company and GOD pages, in strict tabs
// (any exception, console error, CSP refusal or failed request fails the
// test): inviting a person who then accepts, people and roles, the audit
// trail and its verification, GOD's overview and companies, and a crawl of
// every console link as each role that finds nothing of another company.

// inflightWatch counts the page's fetches, response bodies included, so
// that a test can tell when a view has drawn what it asked the API for:
// a view's work between two requests runs in one go (promise callbacks),
// so the count is never zero in the middle of a view's drawing.
const inflightWatch = `(() => {
	let n = 0;
	const orig = window.fetch;
	window.__vantaInflight = () => n;
	window.fetch = function (...args) {
		n++;
		return orig.apply(this, args).then((r) => {
			const text = r.text.bind(r);
			r.text = () => { n++; return text().finally(() => { n--; }); };
			return r;
		}).finally(() => { n--; });
	};
})();`

// pagesTab is a strict tab on one appliance that can tell when a console
// view has settled.
type pagesTab struct {
	*strictTab
	in *instance
}

func newPagesTab(t *testing.T, in *instance, parent context.Context, name string, fresh bool) *pagesTab {
	t.Helper()
	st := newStrictTab(t, parent, name, fresh)
	if _, err := chromedp.Call(st.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: inflightWatch}); err != nil {
		t.Fatalf("%s: install the fetch watch: %v", name, err)
	}
	return &pagesTab{strictTab: st, in: in}
}

// settled waits until the view on screen has drawn and every request it
// made has been answered and read.
func (p *pagesTab) settled() {
	p.t.Helper()
	p.waitFor("the view to settle", `document.readyState === "complete" && !!document.querySelector("#view-root") &&
		!document.querySelector("#view-loading") && typeof window.__vantaInflight === "function" && window.__vantaInflight() === 0`,
		`location.pathname + ": " + (document.querySelector("main") || document.body).innerText`)
}

// open loads path in the tab and waits for its view to settle.
func (p *pagesTab) open(path string) {
	p.t.Helper()
	p.do("open "+path, chromedp.Navigate(p.in.url(path)))
	p.settled()
}

// click clicks sel and waits for what it started to settle.
func (p *pagesTab) click(what, sel string) {
	p.t.Helper()
	p.do(what, chromedp.Click(chromedp.CSS(sel)))
	p.settled()
}

// navTo follows the navigation's link named label.
func (p *pagesTab) navTo(label string) {
	p.t.Helper()
	p.click("follow "+label, fmt.Sprintf(`#nav a[data-nav=%q]`, label))
}

// signInAs opens the console's sign-in page and signs in.
func (p *pagesTab) signInAs(email, password, code string) {
	p.t.Helper()
	p.do("open the sign-in page", chromedp.Navigate(p.in.url("/console/sign-in")))
	p.fillSignIn(email, password, code)
	p.settled()
}

// fillSignIn fills the sign-in form by its fields' values and submits it,
// then waits to leave the sign-in page.
func (p *pagesTab) fillSignIn(email, password, code string) {
	p.t.Helper()
	p.settled()
	p.waitShown("#sign-in-form")
	p.do("sign in as "+email,
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
			for (const [id, v] of [["sign-in-email", %s], ["sign-in-password", %s], ["sign-in-code", %s]]) {
				const i = document.getElementById(id);
				i.value = v;
				i.dispatchEvent(new Event("input", { bubbles: true }));
			}
		})()`, jsString(email), jsString(password), jsString(code))),
		chromedp.Click(chromedp.CSS("#sign-in-submit")))
	p.waitFor("the sign-in to finish", `location.pathname !== "/console/sign-in" && !!document.querySelector("#who-name") && document.querySelector("#who-name").textContent !== ""`,
		`document.querySelector("main").innerText`)
}

// controls lists the form controls in the view (not the header's) that
// could change something: controls marked data-reads only change what is
// shown (filters, report dates, a CSV download, "load more").
func (p *pagesTab) controls() []string {
	p.t.Helper()
	return eval[[]string](p.tab, `[...document.querySelectorAll('#view button, #view input, #view select, #view textarea, #view form')]
		.filter(e => !e.closest("[data-reads]")).map(e => e.outerHTML.slice(0, 120))`)
}

// booksWriters says which of A's roles below admin may meet controls that
// change the books on a books page (rest: the path after /console/c/<id>),
// as auth.Matrix has it: users draft (entries, contacts, invoices and
// bills) and upload, retry and delete documents; managers also post,
// approve, reverse, keep the chart of accounts, import, and correct and
// approve documents. Everywhere else only the admin (and GOD) may.
func booksWriters(role, rest string) bool {
	seg := strings.Split(strings.TrimPrefix(rest, "/"), "/")[0]
	switch role {
	case "manager":
		return slices.Contains([]string{"books", "journal", "contacts", "invoices", "bills", "imports", "documents"}, seg) && rest != "/journal"
	case "user":
		return slices.Contains([]string{"journal", "contacts", "invoices", "bills"}, seg) && rest != "/journal" || seg == "documents"
	}
	return false
}

// pageText is everything the page holds: its markup (ids in links and
// attributes) and its text.
func (p *pagesTab) pageText() string {
	p.t.Helper()
	return eval[string](p.tab, `document.documentElement.outerHTML + "\n" + document.body.innerText`)
}

// after marks every step up to at as used for secret: newWorld spent codes
// of those steps, and the appliance takes each step once.
func (b *totpBook) after(secret string, at time.Time) {
	b.last[secret] = max(b.last[secret], at.Unix()/30)
}

func TestConsolePagesInviteAcceptAndPeople(t *testing.T) {
	w := newWorld(t)
	in := w.in
	codes := newTOTPBook(t)
	codes.after(w.adminTOTP, time.Now())
	ctx := browser(t)
	p := newPagesTab(t, in, ctx, "admin", false)

	// The invitations page, asked for before signing in, is where
	// signing in leads.
	want := "/console/c/" + w.a.ID + "/invitations"
	p.do("open the invitations page", chromedp.Navigate(in.url(want)))
	p.atPath("/console/sign-in?next=" + url.QueryEscape(want))
	p.fillSignIn("admin@acme.test", passwordOf(auth.RoleAdmin), codes.code(w.adminTOTP))
	p.atPath(want)
	p.settled()
	p.waitText("#view-title", "Invitations")
	for _, label := range []string{"Details", "People", "Invitations", "Roles", "Audit trail"} {
		if n := eval[int](p.tab, fmt.Sprintf(`document.querySelectorAll('#nav a[data-nav=%q]').length`, label)); n != 1 {
			t.Errorf("the admin's navigation has %d %q links", n, label)
		}
	}

	// Invite Amani as a manager: the link is shown once, the invitation is
	// pending.
	p.do("invite Amani",
		chromedp.SendKeys(chromedp.CSS("#invite-email"), "amani@acme.test"),
		chromedp.SetValue(chromedp.CSS("#invite-role"), "manager"),
		chromedp.Click(chromedp.CSS(`[data-testid="invite-submit"]`)))
	p.waitShown(`[data-testid="invite-made"]`)
	p.settled()
	p.waitText(`[data-testid="invite-made-title"]`, "amani@acme.test is invited as Manager")
	link := p.value(`[data-testid="invite-link"]`)
	if !strings.HasPrefix(link, in.url("/accept#vinv_")) {
		t.Fatalf("the invitation link is %q", link)
	}
	p.waitShown(`tr[data-testid="invitation"][data-email="amani@acme.test"][data-status="pending"]`)
	p.extraScreenshot("pages-invited.png")

	// Amani opens the link and makes an account.
	amani := newPagesTab(t, in, ctx, "invitee", true)
	amani.do("open the invitation link", chromedp.Navigate(link))
	amani.waitShown("#token-from-link")
	const amaniPass = "acacia shade on the hill road"
	amani.do("accept",
		chromedp.SendKeys(chromedp.CSS("#name-input"), "Amani Njoroge"),
		chromedp.SendKeys(chromedp.CSS("#password-input"), amaniPass),
		chromedp.Click(chromedp.CSS("#accept-submit")))
	amani.waitShown(`#accepted-role[data-role="manager"]`)
	amani.clean()

	// The admin sees the invitation accepted, and Amani among the people.
	p.open(want)
	p.waitShown(`tr[data-testid="invitation"][data-email="amani@acme.test"][data-status="accepted"]`)
	p.navTo("People")
	row := `tr[data-testid="person"][data-email="amani@acme.test"]`
	p.waitShown(row + `[data-role="manager"]`)
	p.waitText(row+` [data-testid="person-name"]`, "Amani Njoroge")
	// Her own row has no controls: an admin does not demote herself here.
	if n := eval[int](p.tab, `document.querySelectorAll('tr[data-email="admin@acme.test"] select, tr[data-email="admin@acme.test"] button').length`); n != 0 {
		t.Errorf("the admin's own row has %d controls", n)
	}

	p.extraScreenshot("pages-people.png")

	// Change Amani's role to viewer; the appliance agrees.
	p.do("make Amani a viewer", chromedp.SetValue(chromedp.CSS(row+` select`), "viewer"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('`+row+` select').dispatchEvent(new Event("change"))`))
	p.waitShown(`[data-testid="people-message"][data-code="role_changed"]`)
	p.waitShown(row + `[data-role="viewer"]`)
	if role := memberRole(t, in, w.a.ID, w.byRole[auth.RoleAdmin].AccessToken, "amani@acme.test"); role != "viewer" {
		t.Errorf("after the change Amani is %q", role)
	}
	// Making her an admin needs her second factor first: the page says so
	// and keeps her role. (Allowances stay: the tab may learn of the
	// answer after the page has shown it.)
	p.allow(409, "/api/v1/companies/"+w.a.ID+"/users/"+eval[string](p.tab, `document.querySelector('`+row+`').dataset.user`))
	p.do("try to make Amani an admin", chromedp.SetValue(chromedp.CSS(row+` select`), "admin"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('`+row+` select').dispatchEvent(new Event("change"))`))
	p.waitShown(`[data-testid="people-message"][data-code="totp_not_enrolled"]`)
	p.waitText(`[data-testid="people-message"]`, "needs a second factor")
	if v := p.value(row + ` select`); v != "viewer" {
		t.Errorf("after a refused promotion the select shows %q", v)
	}

	// Remove her, with the confirmation in place.
	p.do("remove Amani", chromedp.Click(chromedp.CSS(row+` [data-testid="person-remove"]`)))
	p.waitShown(row + ` [data-testid="person-remove-yes"]`)
	p.click("confirm", row+` [data-testid="person-remove-yes"]`)
	p.waitShown(`[data-testid="people-message"][data-code="member_removed"]`)
	if eval[bool](p.tab, `!!document.querySelector('`+row+`')`) {
		t.Error("Amani's row is still shown after removal")
	}
	if role := memberRole(t, in, w.a.ID, w.byRole[auth.RoleAdmin].AccessToken, "amani@acme.test"); role != "" {
		t.Errorf("after removal Amani is still %q", role)
	}

	// A password link for the user: shown once, and it works.
	userRow := `tr[data-testid="person"][data-email="user@acme.test"]`
	p.click("make a password link for the user", userRow+` [data-testid="person-reset"]`)
	p.waitShown(`[data-testid="reset-made"]`)
	p.waitText(`[data-testid="reset-made-title"]`, "A password link for user of Acme")
	resetLink := p.value(`[data-testid="reset-link"]`)
	if !strings.HasPrefix(resetLink, in.url("/reset#vpr_")) {
		t.Fatalf("the password link is %q", resetLink)
	}
	in.mustCall("POST", "/api/v1/auth/password/reset", "", map[string]string{"token": resetLink[strings.Index(resetLink, "#")+1:],
		"new_password": "river stones under clear water"}, 200, nil)

	// Invite and revoke: the link stops working.
	p.navTo("Invitations")
	p.do("invite Kip", chromedp.SendKeys(chromedp.CSS("#invite-email"), "kip@acme.test"), chromedp.Click(chromedp.CSS(`[data-testid="invite-submit"]`)))
	kip := `tr[data-testid="invitation"][data-email="kip@acme.test"]`
	p.waitShown(kip + `[data-status="pending"]`)
	p.settled()
	kipLink := p.value(`[data-testid="invite-link"]`)
	p.do("revoke Kip's invitation", chromedp.Click(chromedp.CSS(kip+` [data-testid="invitation-revoke"]`)))
	p.click("confirm", kip+` [data-testid="invitation-revoke-yes"]`)
	p.waitShown(kip + `[data-status="revoked"]`)
	token := kipLink[strings.Index(kipLink, "#")+1:]
	if code, body := in.call("POST", "/api/v1/auth/invitations/preview", "", map[string]string{"token": token}); code != 400 || errorCode(body) != "invalid_invitation" {
		t.Errorf("a revoked invitation previews: %d %s", code, body)
	}

	p.clean()
}

// TestConsolePagesRolesAndAudit: the role matrix as the gate enforces it,
// and the company's audit trail with its filters (applied by the appliance
// and kept in the page's address) and verification, intact and then
// tampered with.
func TestConsolePagesRolesAndAudit(t *testing.T) {
	w := newWorld(t)
	in := w.in
	codes := newTOTPBook(t)
	codes.after(w.adminTOTP, time.Now())
	admin := w.byRole[auth.RoleAdmin].AccessToken
	var inv struct {
		Invitation struct{ ID string } `json:"invitation"`
	}
	// A refusal first (a viewer may not invite), then more records than
	// one page of the audit trail (100): invitations made and revoked.
	in.mustCall("POST", "/api/v1/companies/"+w.a.ID+"/invitations", w.byRole[auth.RoleViewer].AccessToken, map[string]string{"email": "nobody@acme.test", "role": "user"}, 403, nil)
	var refused struct {
		Items []struct{ Seq int }
	}
	in.mustCall("GET", "/api/v1/companies/"+w.a.ID+"/audit?outcome=denied", admin, nil, 200, &refused)
	if len(refused.Items) != 1 {
		t.Fatalf("A's chain has %d refusals, want the viewer's one", len(refused.Items))
	}
	refusedSeq := refused.Items[0].Seq
	for i := range 50 {
		in.mustCall("POST", "/api/v1/companies/"+w.a.ID+"/invitations", admin, map[string]string{"email": fmt.Sprintf("kip%d@acme.test", i), "role": "user"}, 201, &inv)
		in.mustCall("DELETE", "/api/v1/companies/"+w.a.ID+"/invitations/"+inv.Invitation.ID, admin, nil, 204, nil)
	}
	var chain struct{ Records int }
	in.mustCall("GET", "/api/v1/companies/"+w.a.ID+"/audit/verify", admin, nil, 200, &chain)
	if chain.Records <= 100 {
		t.Fatalf("A's chain has %d records, want more than a page", chain.Records)
	}
	p := newPagesTab(t, in, browser(t), "admin", false)
	p.signInAs("admin@acme.test", passwordOf(auth.RoleAdmin), codes.code(w.adminTOTP))

	// The role matrix: the appliance's, with the admin's column marked.
	p.open("/console/c/" + w.a.ID)
	p.navTo("Roles")
	p.waitShown(`[data-testid="role-matrix"]`)
	cells := eval[map[string]bool](p.tab, `Object.fromEntries([...document.querySelectorAll('[data-testid="role-matrix"] td[data-role]')].map(td => [td.closest("tr").dataset.action + "/" + td.dataset.role, td.dataset.allowed === "true"]))`)
	for _, a := range auth.Actions {
		for _, r := range auth.Roles {
			if got, ok := cells[string(a)+"/"+string(r)]; !ok || got != auth.Allowed(r, a) {
				t.Errorf("the matrix shows %s/%s as %v (present %v), the gate says %v", a, r, got, ok, auth.Allowed(r, a))
			}
		}
	}
	p.extraScreenshot("pages-roles.png")
	if mine := eval[string](p.tab, `document.querySelector('[data-testid="role-matrix"] th.mine').dataset.role`); mine != "admin" {
		t.Errorf("the marked column is %q", mine)
	}

	// The audit trail: what just happened is there, the filters narrow it,
	// and the chain verifies.
	p.navTo("Audit trail")
	p.waitShown(`tr[data-testid="audit-record"]`)
	if n := eval[int](p.tab, `document.querySelectorAll('tr[data-testid="audit-record"]').length`); n != 100 {
		t.Errorf("the first page shows %d records", n)
	}
	p.waitShown(`[data-testid="audit-more"]`)
	p.click("load older records", `[data-testid="audit-more"]`)
	if n := eval[int](p.tab, `document.querySelectorAll('tr[data-testid="audit-record"]').length`); n < chain.Records {
		t.Errorf("after loading older records %d are shown, the chain had %d", n, chain.Records)
	}
	if eval[bool](p.tab, `!document.querySelector('[data-testid="audit-more"]').hidden`) {
		t.Error("Load older records is still offered with every record loaded")
	}
	seqs := eval[[]int](p.tab, `[...document.querySelectorAll('tr[data-testid="audit-record"]')].map(r => +r.dataset.seq)`)
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]-1 {
			t.Fatalf("records out of order or missing at %d: %v", i, seqs[max(0, i-2):i+1])
		}
	}
	actions := eval[[]string](p.tab, `[...document.querySelectorAll('tr[data-testid="audit-record"]')].map(r => r.dataset.action)`)
	for _, a := range []string{"auth.invitation.create", "auth.invitation.revoke", "auth.user.create", "auth.membership.set"} {
		if !slices.Contains(actions, a) {
			t.Errorf("the audit trail lacks %s: %v", a, actions)
		}
	}
	// The filters go to the appliance, which applies them to the whole
	// chain: the viewer's refusal, over a hundred records back, is on the
	// first page of the refusals without loading older records.
	p.do("choose the outcome denied", chromedp.SetValue(chromedp.CSS(`[data-testid="audit-filter-outcome"]`), "denied"))
	p.click("apply the filters", `[data-testid="audit-filter-apply"]`)
	p.waitShown(`[data-testid="audit-count"][data-filters="outcome=denied"]`)
	if got := eval[string](p.tab, `location.search`); got != "?outcome=denied" {
		t.Errorf("the filtered view's address has %q", got)
	}
	denied := eval[[]string](p.tab, `[...document.querySelectorAll('tr[data-testid="audit-record"]')].map(r => r.dataset.outcome + " " + r.dataset.seq)`)
	if len(denied) != 1 || denied[0] != fmt.Sprintf("denied %d", refusedSeq) {
		t.Errorf("the refusals of A's chain show as %v, want only record %d", denied, refusedSeq)
	}
	// The outcomes offered are those the API's filter takes.
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name   string
				Schema struct{ Enum []string }
			}
		}
	}
	in.mustCall("GET", "/api/v1/openapi.json", "", nil, 200, &doc)
	var enum []string
	for _, prm := range doc.Paths["/api/v1/companies/{cid}/audit"]["get"].Parameters {
		if prm.Name == "outcome" {
			enum = prm.Schema.Enum
		}
	}
	offered := eval[[]string](p.tab, `[...document.querySelectorAll('[data-testid="audit-filter-outcome"] option')].map(o => o.value).filter(Boolean)`)
	if len(enum) == 0 || !slices.Equal(offered, enum) {
		t.Errorf("the outcome filter offers %v, the API takes %v", offered, enum)
	}

	// Another filter replaces it; the address keeps it, so a reload (or
	// a bookmark) shows the same listing with the same filters filled in.
	p.do("clear the outcome", chromedp.SetValue(chromedp.CSS(`[data-testid="audit-filter-outcome"]`), ""))
	p.do("filter by action", chromedp.SendKeys(chromedp.CSS(`[data-testid="audit-filter-action"]`), "auth.invitation."))
	p.click("apply the filters", `[data-testid="audit-filter-apply"]`)
	p.waitShown(`[data-testid="audit-count"][data-filters="action=auth.invitation."]`)
	var want struct {
		Items []struct{ Seq int }
	}
	in.mustCall("GET", "/api/v1/companies/"+w.a.ID+"/audit?action=auth.invitation.&limit=100", admin, nil, 200, &want)
	for reload := range 2 {
		shown := eval[[]string](p.tab, `[...document.querySelectorAll('tr[data-testid="audit-record"]')].map(r => r.dataset.action)`)
		shownSeqs := eval[[]int](p.tab, `[...document.querySelectorAll('tr[data-testid="audit-record"]')].map(r => +r.dataset.seq)`)
		if len(shown) != len(want.Items) || len(shown) == 0 {
			t.Errorf("reload %d: filtering by auth.invitation. shows %d records, the API lists %d", reload, len(shown), len(want.Items))
		}
		for i, a := range shown {
			if !strings.HasPrefix(a, "auth.invitation.") || i < len(want.Items) && shownSeqs[i] != want.Items[i].Seq {
				t.Errorf("reload %d: row %d is #%d %s, the API's is #%d", reload, i, shownSeqs[i], a, want.Items[min(i, len(want.Items)-1)].Seq)
				break
			}
		}
		if v := eval[string](p.tab, `document.querySelector('[data-testid="audit-filter-action"]').value`); v != "auth.invitation." {
			t.Errorf("reload %d: the action filter holds %q", reload, v)
		}
		if reload == 0 {
			p.open("/console/c/" + w.a.ID + "/audit?action=auth.invitation.")
			p.waitShown(`[data-testid="audit-count"][data-filters="action=auth.invitation."]`)
		}
	}

	// A date range is the reader's days: from the day after tomorrow
	// there is nothing.
	tomorrow := time.Now().Add(48 * time.Hour).Format("2006-01-02")
	p.do("filter from the day after tomorrow", chromedp.SetValue(chromedp.CSS(`[data-testid="audit-filter-from"]`), tomorrow))
	p.click("apply the filters", `[data-testid="audit-filter-apply"]`)
	p.waitShown(`[data-testid="audit-count"][data-filters="action=auth.invitation.&from=` + tomorrow + `"]`)
	if n := eval[int](p.tab, `document.querySelectorAll('tr[data-testid="audit-record"]').length`); n != 0 {
		t.Errorf("%d records match a date range in the future", n)
	}
	// A bad filter in the address: the appliance's answer names it and
	// the field says so.
	p.allow(400, "/api/v1/companies/"+w.a.ID+"/audit")
	p.open("/console/c/" + w.a.ID + "/audit?from=" + tomorrow + "&to=" + time.Now().Format("2006-01-02"))
	p.waitShown(`[data-testid="audit-message"][data-code="validation_failed"]`)
	if !eval[bool](p.tab, `document.querySelector('[data-testid="audit-filter-to"]').getAttribute("aria-invalid") === "true"`) {
		t.Error("the to field is not marked invalid after the appliance refused it")
	}
	p.disallow()
	p.click("clear the filters", `[data-testid="audit-filter-clear"]`)
	p.waitShown(`[data-testid="audit-count"][data-filters=""]`)
	p.click("verify the chain", `[data-testid="audit-verify"]`)
	p.waitShown(`[data-testid="audit-verify-result"][data-code="audit_intact"]`)
	p.waitText(`[data-testid="audit-verify-result"]`, "The chain is intact")
	p.extraScreenshot("pages-audit-intact.png")

	// Someone edits a record in the database: verifying says where.
	tamperAudit(t, w.data, "UPDATE audit.records SET actor = 'mallory' WHERE chain = $1 AND seq = 2", w.a.ID)
	p.click("verify again", `[data-testid="audit-verify"]`)
	p.waitShown(`[data-testid="audit-verify-result"][data-code="audit_broken"]`)
	p.waitText(`[data-testid="audit-verify-result"]`, "first bad record is #2")
	p.clean()
}

// memberRole is the role of email in the company, "" when not a member.
func memberRole(t *testing.T, in *instance, cid, token, email string) string {
	t.Helper()
	var users struct {
		Items []struct{ Email, Role string }
	}
	in.mustCall("GET", "/api/v1/companies/"+cid+"/users", token, nil, 200, &users)
	for _, u := range users.Items {
		if u.Email == email {
			return u.Role
		}
	}
	return ""
}

// tamperAudit changes the audit table behind the appliance's back, as
// someone with the database's superuser password could.
func tamperAudit(t *testing.T, data, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	pg := pgConnect(t, data)
	tx, err := pg.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, sql, args...); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestConsolePagesGODOverviewAndCompanies(t *testing.T) {
	w := newWorld(t)
	in := w.in
	codes := newTOTPBook(t)
	codes.after(w.godTOTP, time.Now())
	p := newPagesTab(t, in, browser(t), "GOD", false)
	p.signInAs("god@vanta.test", "correct horse battery staple", codes.code(w.godTOTP))
	for _, label := range []string{"Overview", "Companies", "System audit"} {
		if n := eval[int](p.tab, fmt.Sprintf(`document.querySelectorAll('#nav ul[data-group="system"] a[data-nav=%q]').length`, label)); n != 1 {
			t.Errorf("GOD's navigation has %d %q links", n, label)
		}
	}

	// The overview: every service and its state, the seal, each company
	// with its people and storage (A's counter says 2 KiB stored), the
	// allowances.
	if err := redisClient(t, w.data).Set(context.Background(), "company:"+w.a.ID+":quota:storage", 2048, 0).Err(); err != nil {
		t.Fatal(err)
	}
	// The overview is one request, whatever the number of companies (one
	// per company used up GOD's requests a minute): the resource timings
	// the page records while it draws list every request it made.
	eval[bool](p.tab, `(performance.clearResourceTimings(), true)`)
	p.navTo("Overview")
	p.waitText("#view-title", "System overview")
	asked := eval[[]string](p.tab, `performance.getEntriesByType("resource").map(e => new URL(e.name).pathname).filter(p => p.startsWith("/api/"))`)
	if want := []string{"/api/v1/sys/overview"}; fmt.Sprint(asked) != fmt.Sprint(want) {
		t.Errorf("the overview asked %v, want %v", asked, want)
	}
	states := eval[map[string]string](p.tab, `Object.fromEntries([...document.querySelectorAll('tr[data-testid="service"]')].map(r => [r.dataset.service, r.dataset.state]))`)
	var services struct {
		Services []struct{ Name, State string }
	}
	in.mustCall("GET", "/api/v1/sys/services", w.god.AccessToken, nil, 200, &services)
	if len(services.Services) < 3 {
		t.Fatalf("the appliance reports services %+v", services)
	}
	for _, s := range services.Services {
		if states[s.Name] != s.State {
			t.Errorf("the overview shows %s as %q, the appliance says %q", s.Name, states[s.Name], s.State)
		}
	}
	if states["postgres"] != "healthy" || states["redis"] != "healthy" {
		t.Errorf("services shown: %v", states)
	}
	// The management tools' buttons: off in this boot (the harness turns
	// Mongo Express off), so disabled, saying why.
	tools := eval[[]string](p.tab, `[...document.querySelectorAll('[data-testid="management-tools"] button')].map(b => b.textContent + "|" + b.disabled + "|" + b.title)`)
	if len(tools) != 2 || !strings.HasPrefix(tools[0], "Open Mongo Express|true|Mongo Express is disabled") || !strings.HasPrefix(tools[1], "Open pgAdmin|true|pgAdmin is disabled") {
		t.Errorf("management tools' buttons %q", tools)
	}
	p.waitText(`[data-testid="seal-state"]`, "Unsealed")
	p.waitText(`[data-testid="key-version"]`, "1")
	for c, stored := range map[company]string{w.a: "2.0 KiB", w.b: "0 bytes"} {
		sel := fmt.Sprintf(`tr[data-testid="overview-company"][data-company=%q]`, c.ID)
		p.waitText(sel+` [data-testid="overview-company-name"]`, c.Name)
		p.waitText(sel+` [data-testid="overview-company-users"]`, "4")
		p.waitText(sel+` [data-testid="overview-company-storage"]`, stored)
	}
	p.waitText(`[data-testid="quota-requests"]`, "600 per person")
	p.extraScreenshot("pages-god-overview.png")

	// Create a company; a PIN another company has is refused next to its
	// field and makes nothing.
	p.navTo("Companies")
	p.allow(409, "/api/v1/companies")
	p.do("create a company with A's PIN",
		chromedp.SendKeys(chromedp.CSS("#company-new-name"), "Chai Growers"),
		chromedp.SendKeys(chromedp.CSS("#company-new-tax-id"), "P051234567Z"),
		chromedp.Click(chromedp.CSS(`[data-testid="company-create"]`)))
	p.waitShown(`#company-new-tax-id-error[data-code="tax_id_taken"]`)
	p.do("give it its own PIN",
		chromedp.SetValue(chromedp.CSS("#company-new-tax-id"), "P051111111C"),
		chromedp.Click(chromedp.CSS(`[data-testid="company-create"]`)))
	p.waitShown(`[data-testid="companies-message"][data-code="company_created"]`)
	p.settled()
	var list struct {
		Items []struct {
			ID   string `json:"company_id"`
			Name string `json:"company_name"`
		}
	}
	in.mustCall("GET", "/api/v1/companies", w.god.AccessToken, nil, 200, &list)
	chai := ""
	for _, c := range list.Items {
		if c.Name == "Chai Growers" {
			chai = c.ID
		}
	}
	if chai == "" {
		t.Fatalf("the new company is not listed: %+v", list.Items)
	}
	row := fmt.Sprintf(`tr[data-testid="company-row"][data-company=%q]`, chai)
	p.waitShown(row)
	p.extraScreenshot("pages-god-companies.png")

	// Archive it: the name must be typed.
	p.do("start archiving", chromedp.Click(chromedp.CSS(row+` [data-testid="archive-start"]`)))
	p.allow(400, "/api/v1/companies/"+chai)
	p.do("type another name", chromedp.SendKeys(chromedp.CSS(row+` [data-testid="archive-confirm"]`), "Chai"),
		chromedp.Click(chromedp.CSS(row+` [data-testid="archive-submit"]`)))
	p.waitShown(`[data-testid="companies-message"][data-code="confirmation_mismatch"]`)
	p.do("type its name", chromedp.SetValue(chromedp.CSS(row+` [data-testid="archive-confirm"]`), "Chai Growers"),
		chromedp.Click(chromedp.CSS(row+` [data-testid="archive-submit"]`)))
	p.waitShown(`[data-testid="companies-message"][data-code="company_archived"]`)
	p.settled()
	in.mustCall("GET", "/api/v1/companies", w.god.AccessToken, nil, 200, &list)
	for _, c := range list.Items {
		if c.ID == chai {
			t.Errorf("the archived company is still listed")
		}
	}

	// The system chain: sign-ins and the company's life are there, and it
	// verifies.
	p.navTo("System audit")
	p.waitShown(`tr[data-testid="audit-record"]`)
	actions := eval[[]string](p.tab, `[...document.querySelectorAll('tr[data-testid="audit-record"]')].map(r => r.dataset.action)`)
	for _, a := range []string{"company.create", "company.archive"} {
		if !slices.Contains(actions, a) {
			t.Errorf("the system chain lacks %s: %v", a, actions)
		}
	}
	p.click("verify the system chain", `[data-testid="audit-verify"]`)
	p.waitShown(`[data-testid="audit-verify-result"][data-code="audit_intact"]`)
	p.clean()
}

// TestConsoleCrawl signs in as each role of newWorld, follows every console
// link it can reach, and checks each page: it loads without an error of
// any kind, a link never leads to "not found" or "no access", nothing of
// company B shows to A's members, every control has a label or a name,
// and A's members other than its admin
// meet no control that would change the company. B's pages, opened by
// address, show nothing of B either.
func TestConsoleCrawl(t *testing.T) {
	w := newWorld(t)
	in := w.in
	seedBooks(t, w)             // entries, drafts, contacts and invoices in A and in B
	docA := seedDocuments(t, w) // a document read by the pipeline in A and in B
	codes := newTOTPBook(t)
	codes.after(w.godTOTP, time.Now())
	codes.after(w.adminTOTP, time.Now())
	bMarkers := append([]string{}, w.markersB...)
	bMarkers = append(bMarkers, strings.TrimPrefix(w.markersB[1], "Bidii ")) // B's marker is in its members' emails
	type who struct {
		name, email, password, secret string
	}
	people := []who{
		{"god", "god@vanta.test", "correct horse battery staple", w.godTOTP},
		{"admin", "admin@acme.test", passwordOf(auth.RoleAdmin), w.adminTOTP},
		{"manager", "manager@acme.test", passwordOf(auth.RoleManager), ""},
		{"user", "user@acme.test", passwordOf(auth.RoleUser), ""},
		{"viewer", "viewer@acme.test", passwordOf(auth.RoleViewer), ""},
	}
	for _, pw := range people {
		t.Run(pw.name, func(t *testing.T) {
			p := newPagesTab(t, in, browser(t), pw.name, false) // a browser each: the guard bounds one browser
			code := ""
			if pw.secret != "" {
				code = codes.code(pw.secret)
			}
			p.signInAs(pw.email, pw.password, code)
			seen := map[string]bool{}
			queue := []string{"/console"}
			for len(queue) > 0 {
				path := queue[0]
				queue = queue[1:]
				if seen[path] {
					continue
				}
				seen[path] = true
				p.open(path)
				p.accessible(path)
				title := p.text("#view-title")
				if title == "Page not found" || eval[bool](p.tab, `!!document.querySelector('[data-testid="no-access"], [data-testid="view-error"]')`) {
					t.Errorf("%s: a link leads to %q", path, title)
				}
				if pw.name != "god" {
					page := p.pageText()
					for _, m := range bMarkers {
						if strings.Contains(page, m) {
							t.Errorf("%s shows %q of company B to A's %s", path, m, pw.name)
						}
					}
				}
				if rest, ok := strings.CutPrefix(path, "/console/c/"+w.a.ID); ok && pw.name != "god" && pw.name != "admin" && !booksWriters(pw.name, strings.SplitN(rest, "?", 2)[0]) {
					if c := p.controls(); len(c) != 0 {
						t.Errorf("%s shows controls to a %s: %q", path, pw.name, c)
					}
				}
				links := eval[[]string](p.tab, `[...document.querySelectorAll('a[href]')].map(a => a.getAttribute("href"))`)
				for _, l := range links {
					u, err := url.Parse(l)
					if err != nil || u.Host != "" || !strings.HasPrefix(u.Path, "/console") || u.Path == "/console/sign-in" {
						continue
					}
					if !seen[u.RequestURI()] {
						queue = append(queue, u.RequestURI())
					}
				}
			}
			t.Logf("%s: %d pages", pw.name, len(seen))
			if pw.name == "god" {
				for _, want := range []string{"/console/system", "/console/c/" + w.b.ID + "/people", "/console/c/" + w.a.ID + "/audit"} {
					if !seen[want] {
						t.Errorf("GOD's crawl did not reach %s", want)
					}
				}
				p.clean()
				return
			}
			for _, want := range []string{"/console/c/" + w.a.ID + "/details", "/console/c/" + w.a.ID + "/roles", "/console/c/" + w.a.ID + "/documents",
				"/console/c/" + w.a.ID + "/documents/" + docA} {
				if !seen[want] {
					t.Errorf("the %s's crawl did not reach %s", pw.name, want)
				}
			}
			if (pw.name == "admin") != seen["/console/c/"+w.a.ID+"/people"] {
				t.Errorf("the %s reached People: %v", pw.name, seen["/console/c/"+w.a.ID+"/people"])
			}
			// B's pages by address: not found, naming nothing of B. Admin
			// pages of A, by address, for a role without them: no access,
			// and no request refused (the view never ran).
			for _, sub := range []string{"", "/details", "/people", "/invitations", "/roles", "/audit",
				"/books", "/journal", "/journal/new", "/contacts", "/invoices", "/bills", "/imports", "/reports", "/reports/trial-balance", "/documents"} {
				p.open("/console/c/" + w.b.ID + sub)
				p.waitText("#view-title", "Page not found")
				page := p.pageText()
				for _, m := range bMarkers {
					if strings.Contains(page, m) {
						t.Errorf("B's page %s shows %q to A's %s", sub, m, pw.name)
					}
				}
			}
			if pw.name == "viewer" {
				// A viewer drafts nothing: the new entry form is not theirs.
				p.open("/console/c/" + w.a.ID + "/journal/new")
				p.waitShown(`[data-testid="no-access"]`)
				if c := p.controls(); len(c) != 0 {
					t.Errorf("the new entry page shows controls to a viewer: %q", c)
				}
			}
			if pw.name != "admin" {
				for _, sub := range []string{"/people", "/invitations", "/audit"} {
					p.open("/console/c/" + w.a.ID + sub)
					p.waitShown(`[data-testid="no-access"]`)
					if c := p.controls(); len(c) != 0 {
						t.Errorf("A's %s page shows controls to a %s: %q", sub, pw.name, c)
					}
				}
			}
			p.clean()
		})
	}
}
