package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/vanta-ledger/vanta/internal/auth"
)

// Browser tests of the console's books pages (assets/console-books.js) in
// strict tabs: a manager keeps the chart of accounts, enters a balanced
// entry and posts it, finds it in the journal and the trial balance and
// downloads the trial balance as CSV; the entry form refuses an unbalanced
// entry before sending anything and shows the appliance's refusals next to
// the field they name; a viewer reads the books and meets no control that
// would change them.

type booksAccount struct {
	ID, Code, Name, Type, Role string
	Active                     bool
}

// booksAccounts is the company's chart as the API lists it.
func booksAccounts(t *testing.T, in *instance, cid, token string) []booksAccount {
	t.Helper()
	var out struct{ Items []booksAccount }
	in.mustCall("GET", "/api/v1/companies/"+cid+"/accounts?limit=1000", token, nil, 200, &out)
	return out.Items
}

func accountWithRole(t *testing.T, accounts []booksAccount, role string) booksAccount {
	t.Helper()
	for _, a := range accounts {
		if a.Role == role {
			return a
		}
	}
	t.Fatalf("no account with role %s in %+v", role, accounts)
	return booksAccount{}
}

type booksEntry struct {
	ID, Status, Date, Description string
	Number                        *int64
	Lines                         []struct{ Account, Debit, Credit string }
}

func journalEntries(t *testing.T, in *instance, cid, token string) []booksEntry {
	t.Helper()
	var out struct{ Items []booksEntry }
	in.mustCall("GET", "/api/v1/companies/"+cid+"/journal-entries?limit=1000", token, nil, 200, &out)
	return out.Items
}

// setLine fills line i of the entry form as a person would: the account
// chosen, the amount typed (each change reported to the page).
func (p *pagesTab) setLine(i int, account, debit, credit string) {
	p.t.Helper()
	p.do(fmt.Sprintf("fill line %d", i+1), chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const row = document.querySelectorAll('tr[data-testid="entry-form-line"]')[%d];
		const set = (sel, v, ev) => { const e = row.querySelector(sel); e.value = v; e.dispatchEvent(new Event(ev, { bubbles: true })); };
		set('[data-testid="line-account"]', %s, "change");
		set('[data-testid="line-debit"]', %s, "input");
		set('[data-testid="line-credit"]', %s, "input");
	})()`, i, jsString(account), jsString(debit), jsString(credit))))
}

// apiRequests lists the paths of the API requests the page has made since
// the resource timings were last cleared.
func (p *pagesTab) apiRequests() []string {
	p.t.Helper()
	return eval[[]string](p.tab, `performance.getEntriesByType("resource").map(e => new URL(e.name).pathname).filter(p => p.startsWith("/api/"))`)
}

func TestConsoleBooksManagerPostsAndViewerReads(t *testing.T) {
	w := newWorld(t)
	in := w.in
	cid := w.a.ID
	manager := w.byRole[auth.RoleManager].AccessToken
	bank := accountWithRole(t, booksAccounts(t, in, cid, manager), "bank")
	ctx := browser(t)
	p := newPagesTab(t, in, ctx, "manager", false)
	p.signInAs("manager@acme.test", passwordOf(auth.RoleManager), "")

	// The chart of accounts: the Kenyan template by type; the manager adds
	// an account.
	p.navTo("books")
	p.waitText("#view-title", "Chart of accounts")
	p.waitShown(fmt.Sprintf(`tr[data-testid="account"][data-code=%q]`, bank.Code))
	p.accessible("chart of accounts")
	p.do("add an account",
		chromedp.SendKeys(chromedp.CSS(`[data-testid="account-new-code"]`), "6150"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="account-new-name"]`), "Matatu fares"),
		chromedp.SetValue(chromedp.CSS(`[data-testid="account-new-type"]`), "expense"),
		chromedp.Click(chromedp.CSS(`[data-testid="account-create"]`)))
	p.waitShown(`[data-testid="accounts-message"][data-code="account_created"]`)
	p.settled()
	p.waitShown(`[data-testid="accounts-expense"] tr[data-testid="account"][data-code="6150"][data-active="true"]`)
	p.extraScreenshot("books-chart.png")
	added := false
	for _, a := range booksAccounts(t, in, cid, manager) {
		if a.Code == "6150" {
			added = a.Name == "Matatu fares" && a.Type == "expense" && a.Active
		}
	}
	if !added {
		t.Error("the account added in the console is not in the chart as an active expense account")
	}

	// A new entry: the live totals add the typed amounts exactly, and an
	// unbalanced entry is refused before anything is sent.
	p.navTo("Journal")
	p.click("start a new entry", `[data-testid="journal-new"]`)
	p.waitText("#view-title", "New journal entry")
	p.accessible("new entry")
	p.do("describe the entry", chromedp.SendKeys(chromedp.CSS(`[data-testid="entry-description"]`), "Fares for the week"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="entry-reference"]`), "PETTY-7"))
	// The totals are exact where floating point is not: past 2^53 minor
	// units a float64 drops cents.
	p.setLine(0, "6150", "90071992547409.93", "")
	p.setLine(1, bank.Code, "0.01", "")
	p.waitText(`[data-testid="entry-debits"]`, "90071992547409.94")
	p.waitText(`[data-testid="entry-credits"]`, "0.00")
	p.setLine(0, "6150", "1,250.10", "")
	p.setLine(1, bank.Code, "", "1250")
	p.do("add a line", chromedp.Click(chromedp.CSS(`[data-testid="entry-add-line"]`)))
	p.setLine(2, bank.Code, "", "0.2")
	p.waitText(`[data-testid="entry-balance"]`, "Debits 1250.10 ≠ credits 1250.20")
	eval[bool](p.tab, `(performance.clearResourceTimings(), true)`)
	p.click("post the unbalanced entry", `[data-testid="entry-post"]`)
	p.waitShown(`[data-testid="entry-form-message"][data-code="unbalanced"]`)
	p.extraScreenshot("books-entry-unbalanced.png")
	p.waitText(`[data-testid="entry-form-message"]`, "Debits 1250.10 ≠ credits 1250.20")
	if asked := p.apiRequests(); len(asked) != 0 {
		t.Errorf("the form sent %v for an unbalanced entry", asked)
	}
	if got := journalEntries(t, in, cid, manager); len(got) != 0 {
		t.Errorf("an unbalanced entry reached the journal: %+v", got)
	}
	p.setLine(2, bank.Code, "", "0.1")
	p.waitShown(`[data-testid="entry-balance"][data-balanced="true"][data-debits="1250.10"][data-credits="1250.10"]`)

	// The appliance's refusal shows next to the field it names: a date on
	// or before the lock date breaks the period_locked rule.
	admin := w.byRole[auth.RoleAdmin].AccessToken
	in.mustCall("PUT", "/api/v1/companies/"+cid+"/period-lock", admin, map[string]any{"lock_date": "2025-12-31"}, 200, nil)
	p.do("date it in the locked period", chromedp.SetValue(chromedp.CSS(`[data-testid="entry-date"]`), "2025-12-30"))
	p.allow(400, "/api/v1/companies/"+cid+"/journal-entries")
	p.click("post into the locked period", `[data-testid="entry-post"]`)
	p.waitShown(`#entry-date-error[data-rule="period_locked"]`)
	if got := eval[string](p.tab, `document.querySelector('[data-testid="entry-date"]').getAttribute("aria-invalid")`); got != "true" {
		t.Errorf("the refused date is not marked invalid (%q)", got)
	}
	p.disallow()
	if got := journalEntries(t, in, cid, manager); len(got) != 0 {
		t.Errorf("an entry in the locked period reached the journal: %+v", got)
	}

	// Balanced and in an open period, it posts.
	day := "2026-01-15"
	p.do("date it in January", chromedp.SetValue(chromedp.CSS(`[data-testid="entry-date"]`), day))
	p.click("post the entry", `[data-testid="entry-post"]`)
	p.waitShown(`[data-testid="entry-facts"][data-status="posted"]`)
	p.accessible("entry")
	p.extraScreenshot("books-entry-posted.png")
	entries := journalEntries(t, in, cid, manager)
	if len(entries) != 1 || entries[0].Status != "posted" || entries[0].Date != day || entries[0].Description != "Fares for the week" || len(entries[0].Lines) != 3 {
		t.Fatalf("the journal after posting: %+v", entries)
	}
	posted := entries[0]
	p.atPath("/console/c/" + cid + "/journal/" + posted.ID)
	p.waitText(`[data-testid="entry-total-debit"]`, "1250.10")
	p.waitText(`[data-testid="entry-total-credit"]`, "1250.10")
	p.waitText(`tr[data-testid="entry-line"][data-account="6150"] [data-testid="line-debit"]`, "1250.10")
	if got := p.text(`[data-testid="entry-created"]`); got == "" {
		t.Error("the entry does not say who created it")
	}
	p.waitShown(`[data-testid="reverse-form"]`)

	// The journal lists it, posted.
	p.navTo("Journal")
	p.waitShown(fmt.Sprintf(`tr[data-testid="journal-entry"][data-entry=%q][data-status="posted"]`, posted.ID))
	p.waitText(fmt.Sprintf(`tr[data-entry=%q] [data-testid="journal-entry-amount"]`, posted.ID), "1250.10")
	p.accessible("journal")

	// The trial balance shows what the API's does, and balances.
	p.navTo("reports")
	p.click("open the trial balance", `a[data-report="trial-balance"]`)
	p.do("as of the end of January", chromedp.SetValue(chromedp.CSS(`[data-testid="report-as-of"]`), "2026-01-31"))
	p.click("show it", `[data-testid="report-show"]`)
	p.waitShown(`[data-testid="report"][data-params="as_of=2026-01-31"] tr[data-testid="tb-row"][data-code="6150"]`)
	p.accessible("trial balance")
	var tb struct {
		Accounts []struct{ Code, Debit, Credit string }
		Totals   struct{ Debit, Credit string }
	}
	in.mustCall("GET", "/api/v1/companies/"+cid+"/reports/trial-balance?as_of=2026-01-31", manager, nil, 200, &tb)
	if len(tb.Accounts) != 2 {
		t.Fatalf("the API's trial balance: %+v", tb)
	}
	for _, a := range tb.Accounts {
		row := fmt.Sprintf(`tr[data-testid="tb-row"][data-code=%q]`, a.Code)
		if got := p.text(row + ` [data-testid="tb-debit"]`); got != a.Debit {
			t.Errorf("the trial balance shows %s's debit as %q, the API %q", a.Code, got, a.Debit)
		}
		if got := p.text(row + ` [data-testid="tb-credit"]`); got != a.Credit {
			t.Errorf("the trial balance shows %s's credit as %q, the API %q", a.Code, got, a.Credit)
		}
	}
	if tb.Totals.Debit != "1250.10" || p.text(`[data-testid="tb-total-debit"]`) != tb.Totals.Debit || p.text(`[data-testid="tb-total-credit"]`) != tb.Totals.Credit {
		t.Errorf("totals: the API says %+v, the page %q / %q", tb.Totals, p.text(`[data-testid="tb-total-debit"]`), p.text(`[data-testid="tb-total-credit"]`))
	}
	p.waitShown(`[data-testid="tb-summary"][data-balanced="true"]`)
	p.extraScreenshot("books-trial-balance.png")
	if align := eval[string](p.tab, `getComputedStyle(document.querySelector('[data-testid="tb-total-debit"]')).textAlign`); align != "right" {
		t.Errorf("amounts are aligned %s", align)
	}

	// The CSV download: fetched with the session's token and saved as a
	// file holding what the API answers.
	dir := t.TempDir()
	if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: new(true)}); err != nil {
		t.Fatalf("allow downloads: %v", err)
	}
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan string, 1)
	go func() {
		for ev, err := range chromedp.BrowserEvents(dctx, cdpbrowser.DownloadProgress) {
			if err != nil {
				return
			}
			if ev.State == cdpbrowser.DownloadProgressStateCompleted {
				done <- ev.GUID
				return
			}
		}
	}()
	p.click("download the CSV", `[data-testid="report-csv"]`)
	var guid string
	select {
	case guid = <-done:
	case <-ctx.Done():
		t.Fatal("the CSV download never completed")
	}
	saved, err := os.ReadFile(filepath.Join(dir, guid))
	if err != nil {
		t.Fatalf("the downloaded CSV: %v", err)
	}
	_, want := in.call("GET", "/api/v1/companies/"+cid+"/reports/trial-balance?as_of=2026-01-31&format=csv", manager, nil)
	if string(saved) != string(want) || !strings.Contains(string(saved), "6150") {
		t.Errorf("the saved CSV is %q, the API's %q", saved, want)
	}
	if got := eval[string](p.tab, `document.querySelector('[data-testid="report-csv"]').dataset.filename`); got != "trial-balance.csv" {
		t.Errorf("the CSV was saved as %q", got)
	}

	// The other statements show the same posting: the expense in profit
	// and loss, the balance sheet balanced, the account's ledger line.
	p.open("/console/c/" + cid + "/reports/profit-and-loss?from=2026-01-01&to=2026-01-31")
	p.waitText(`tr[data-testid="report-row"][data-code="6150"] [data-col="amount"]`, "1250.10")
	p.open("/console/c/" + cid + "/reports/balance-sheet?as_of=2026-01-31")
	p.waitText(`dd[data-key="balanced"]`, "true")
	p.extraScreenshot("books-balance-sheet.png")
	p.open("/console/c/" + cid + "/reports/general-ledger?account=6150&from=2026-01-01&to=2026-01-31")
	p.waitText(`tr[data-testid="report-row"] [data-col="debit"]`, "1250.10")
	p.waitShown(fmt.Sprintf(`tr[data-testid="report-row"] a[href="/console/c/%s/journal/%s"]`, cid, posted.ID))
	p.accessible("general ledger")

	// An account with postings is deactivated, after a confirmation.
	p.navTo("books")
	row := `tr[data-testid="account"][data-code="6150"]`
	p.do("deactivate 6150", chromedp.Click(chromedp.CSS(row+` [data-testid="account-deactivate"]`)))
	p.click("confirm", row+` [data-testid="account-deactivate-yes"]`)
	p.waitShown(`[data-testid="accounts-message"][data-code="account_deactivated"]`)
	p.waitShown(`tr[data-testid="account"][data-code="6150"][data-active="false"]`)
	for _, a := range booksAccounts(t, in, cid, manager) {
		if a.Code == "6150" && a.Active {
			t.Error("6150 is still active after deactivating it in the console")
		}
	}
	p.clean()

	// A viewer reads the chart, the journal, the entry and the trial
	// balance, and meets no control that would change them.
	v := newPagesTab(t, in, browser(t), "viewer", false)
	v.signInAs("viewer@acme.test", passwordOf(auth.RoleViewer), "")
	for _, page := range []struct{ path, shows string }{
		{"/books", `tr[data-testid="account"][data-code="6150"]`},
		{"/journal", fmt.Sprintf(`tr[data-testid="journal-entry"][data-entry=%q]`, posted.ID)},
		{"/journal/" + posted.ID, `[data-testid="entry-facts"][data-status="posted"]`},
		{"/reports/trial-balance?as_of=2026-01-31", `tr[data-testid="tb-row"][data-code="6150"]`},
	} {
		v.open("/console/c/" + cid + page.path)
		v.waitShown(page.shows)
		if c := v.controls(); len(c) != 0 {
			t.Errorf("%s shows a viewer controls: %q", page.path, c)
		}
		for _, sel := range []string{`[data-testid="journal-new"]`, `[data-testid="account-form"]`, `[data-testid="reverse-form"]`, `[data-testid="entry-approve"]`} {
			if eval[bool](v.tab, fmt.Sprintf(`!!document.querySelector(%s)`, jsString(sel))) {
				t.Errorf("%s shows a viewer %s", page.path, sel)
			}
		}
	}
	v.open("/console/c/" + cid + "/journal/new")
	v.waitShown(`[data-testid="no-access"]`)
	v.clean()
}

// TestConsoleBooksDraftApproveReverse: a user drafts an entry (they cannot
// post), a manager approves it, then reverses it on a date they choose;
// the reversal links back to the entry it undoes.
func TestConsoleBooksDraftApproveReverse(t *testing.T) {
	w := newWorld(t)
	in := w.in
	cid := w.a.ID
	manager := w.byRole[auth.RoleManager].AccessToken
	accounts := booksAccounts(t, in, cid, manager)
	bank := accountWithRole(t, accounts, "bank")
	mpesa := accountWithRole(t, accounts, "mpesa")
	ctx := browser(t)

	u := newPagesTab(t, in, ctx, "user", false)
	u.signInAs("user@acme.test", passwordOf(auth.RoleUser), "")
	u.open("/console/c/" + cid + "/journal/new")
	if eval[bool](u.tab, `!!document.querySelector('[data-testid="entry-post"]')`) {
		t.Error("a user is offered to post")
	}
	u.do("describe it", chromedp.SendKeys(chromedp.CSS(`[data-testid="entry-description"]`), "Float to M-Pesa"))
	u.do("date it", chromedp.SetValue(chromedp.CSS(`[data-testid="entry-date"]`), "2026-02-02"))
	u.setLine(0, mpesa.Code, "5000", "")
	u.setLine(1, bank.Code, "", "5000.00")
	u.waitShown(`[data-testid="entry-balance"][data-balanced="true"]`)
	u.click("save the draft", `[data-testid="entry-save-draft"]`)
	u.waitShown(`[data-testid="entry-facts"][data-status="draft"]`)
	if eval[bool](u.tab, `!!document.querySelector('[data-testid="entry-approve"]')`) {
		t.Error("a user is offered to approve")
	}
	entries := journalEntries(t, in, cid, manager)
	if len(entries) != 1 || entries[0].Status != "draft" {
		t.Fatalf("after the user's draft: %+v", entries)
	}
	draft := entries[0]
	u.clean()

	m := newPagesTab(t, in, ctx, "manager", true)
	m.signInAs("manager@acme.test", passwordOf(auth.RoleManager), "")
	m.open("/console/c/" + cid + "/journal?status=draft")
	m.waitShown(fmt.Sprintf(`tr[data-testid="journal-entry"][data-entry=%q][data-status="draft"]`, draft.ID))
	m.click("open the draft", fmt.Sprintf(`tr[data-entry=%q] [data-testid="journal-entry-link"]`, draft.ID))
	m.click("approve it", `[data-testid="entry-approve"]`)
	m.waitShown(`[data-testid="entry-facts"][data-status="posted"]`)
	if got := m.text(`[data-testid="entry-approved"]`); got == "" {
		t.Error("the approved entry does not say who approved it")
	}
	m.do("reverse it on 3 February", chromedp.SetValue(chromedp.CSS(`[data-testid="reverse-date"]`), "2026-02-03"))
	m.click("reverse it", `[data-testid="reverse-submit"]`)
	m.waitShown(`[data-testid="entry-reverses"]`)
	entries = journalEntries(t, in, cid, manager)
	if len(entries) != 2 {
		t.Fatalf("after the reversal: %+v", entries)
	}
	for _, e := range entries {
		if e.ID != draft.ID && (e.Date != "2026-02-03" || e.Status != "posted") {
			t.Errorf("the reversal: %+v", e)
		}
	}
	m.click("back to the entry", `[data-testid="entry-reverses"] a`)
	m.waitShown(`[data-testid="entry-reversed-by"]`)
	if eval[bool](m.tab, `!!document.querySelector('[data-testid="reverse-form"]')`) {
		t.Error("a reversed entry offers to be reversed again")
	}
	m.clean()
}

// TestConsoleBooksInvoiceIssueAndPay: a manager adds a customer, drafts an
// invoice whose preview adds up as the appliance does (VAT per line,
// half-even), issues it and records a part payment.
func TestConsoleBooksInvoiceIssueAndPay(t *testing.T) {
	w := newWorld(t)
	in := w.in
	cid := w.a.ID
	manager := w.byRole[auth.RoleManager].AccessToken
	p := newPagesTab(t, in, browser(t), "manager", false)
	p.signInAs("manager@acme.test", passwordOf(auth.RoleManager), "")

	p.navTo("Contacts")
	p.accessible("contacts")
	p.do("add a customer",
		chromedp.SendKeys(chromedp.CSS(`[data-testid="contact-new-name"]`), "Mama Mboga Grocers"),
		chromedp.SetValue(chromedp.CSS(`[data-testid="contact-new-kind"]`), "customer"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="contact-new-pin"]`), "P051111111A"),
		chromedp.Click(chromedp.CSS(`[data-testid="contact-create"]`)))
	p.waitShown(`[data-testid="contacts-message"][data-code="contact_created"]`)
	p.settled()
	var contacts struct {
		Items []struct{ ID, Name, Kind string }
	}
	in.mustCall("GET", "/api/v1/companies/"+cid+"/contacts", manager, nil, 200, &contacts)
	if len(contacts.Items) != 1 || contacts.Items[0].Name != "Mama Mboga Grocers" || contacts.Items[0].Kind != "customer" {
		t.Fatalf("contacts after adding one: %+v", contacts.Items)
	}
	customer := contacts.Items[0].ID

	// Three sacks at 1,333.33 with VAT 16%: net 3999.99, VAT 639.9984
	// rounds to 640.00; one delivery at 0.50 exempt. Subtotal 4000.49, VAT
	// 640.00, total 4640.49.
	p.navTo("Invoices")
	p.do("open the new invoice form", chromedp.Click(chromedp.CSS(`[data-testid="doc-new"] summary`)))
	p.accessible("invoices")
	p.do("fill the invoice", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const set = (e, v, ev) => { e.value = v; e.dispatchEvent(new Event(ev || "input", { bubbles: true })); };
		set(document.querySelector('[data-testid="doc-contact"]'), %s, "change");
		set(document.querySelector('[data-testid="doc-date"]'), "2026-03-02", "change");
		set(document.querySelector('[data-testid="doc-due"]'), "2026-04-01", "change");
		document.querySelector('[data-testid="doc-add-line"]').click();
		const rows = document.querySelectorAll('tr[data-testid="doc-form-line"]');
		set(rows[0].querySelector('[data-testid="doc-line-description"]'), "Sacks of sukuma wiki");
		set(rows[0].querySelector('[data-testid="doc-line-quantity"]'), "3");
		set(rows[0].querySelector('[data-testid="doc-line-price"]'), "1,333.33");
		set(rows[0].querySelector('[data-testid="doc-line-tax"]'), "VAT16", "change");
		set(rows[1].querySelector('[data-testid="doc-line-description"]'), "Delivery");
		set(rows[1].querySelector('[data-testid="doc-line-quantity"]'), "1");
		set(rows[1].querySelector('[data-testid="doc-line-price"]'), "0.50");
		set(rows[1].querySelector('[data-testid="doc-line-tax"]'), "EXEMPT", "change");
	})()`, jsString(customer))))
	p.waitText(`[data-testid="doc-subtotal"]`, "4000.49")
	p.waitText(`[data-testid="doc-vat"]`, "640.00")
	p.waitText(`[data-testid="doc-total"]`, "4640.49")
	p.click("save the draft", `[data-testid="doc-create"]`)
	p.waitShown(`[data-testid="invoice-facts"][data-status="draft"]`)
	var invoices struct {
		Items []struct {
			ID, Status, Subtotal, Total, Number string
			TaxTotal                            string `json:"tax_total"`
			BalanceDue                          string `json:"balance_due"`
		} `json:"items"`
	}
	in.mustCall("GET", "/api/v1/companies/"+cid+"/invoices", manager, nil, 200, &invoices)
	if len(invoices.Items) != 1 {
		t.Fatalf("invoices: %+v", invoices.Items)
	}
	inv := invoices.Items[0]
	if inv.Subtotal != "4000.49" || inv.TaxTotal != "640.00" || inv.Total != "4640.49" {
		t.Errorf("the appliance's totals %+v differ from the preview", inv)
	}
	p.waitText(`[data-testid="doc-total"]`, inv.Total)

	p.click("issue it", `[data-testid="doc-issue"]`)
	p.waitShown(`[data-testid="invoice-facts"][data-status="issued"]`)
	p.waitText(`[data-testid="doc-number"]`, "INV-2026-")
	p.accessible("invoice")

	p.do("pay a part", chromedp.SetValue(chromedp.CSS(`[data-testid="payment-date"]`), "2026-03-10"),
		chromedp.SetValue(chromedp.CSS(`[data-testid="payment-amount"]`), "1000.49"))
	p.click("record the payment", `[data-testid="payment-submit"]`)
	p.waitShown(`[data-testid="invoice-facts"][data-status="partially_paid"]`)
	p.waitText(`[data-testid="doc-due-now"]`, "3640.00")
	p.waitText(`[data-testid="doc-paid"]`, "1000.49")

	p.navTo("Invoices")
	p.waitShown(fmt.Sprintf(`tr[data-testid="invoice"][data-id=%q][data-status="partially_paid"]`, inv.ID))
	p.waitText(fmt.Sprintf(`tr[data-id=%q] [data-testid="doc-balance-due"]`, inv.ID), "3640.00")

	// The invoicing reports show it: what the customer still owes, and
	// the output VAT of March.
	p.open("/console/c/" + cid + "/reports/aged-receivables?as_of=2026-04-30")
	p.waitText(`tr[data-testid="report-row"] [data-col="name"]`, "Mama Mboga Grocers")
	p.waitText(`tr[data-testid="report-row"] [data-col="total"]`, "3640.00")
	p.open("/console/c/" + cid + "/reports/vat-return?from=2026-03-01&to=2026-03-31")
	p.waitText(`dd[data-key="output_vat"]`, "640.00")
	p.accessible("VAT return")

	// A bill from a vendor: only vendors are offered for it.
	in.mustCall("POST", "/api/v1/companies/"+cid+"/contacts", manager, map[string]any{"kind": "vendor", "name": "Kamau Auto Spares"}, 201, nil)
	p.navTo("Bills")
	p.do("open the new bill form", chromedp.Click(chromedp.CSS(`[data-testid="doc-new"] summary`)))
	offered := eval[[]string](p.tab, `[...document.querySelectorAll('[data-testid="doc-contact"] option')].map(o => o.textContent).slice(1)`)
	if fmt.Sprint(offered) != "[Kamau Auto Spares]" {
		t.Errorf("a bill offers the contacts %v", offered)
	}
	p.do("fill the bill", chromedp.Evaluate[chromedp.Void](`(() => {
		const set = (e, v, ev) => { e.value = v; e.dispatchEvent(new Event(ev || "input", { bubbles: true })); };
		set(document.querySelector('[data-testid="doc-contact"]'), document.querySelector('[data-testid="doc-contact"] option:nth-child(2)').value, "change");
		set(document.querySelector('[data-testid="doc-date"]'), "2026-03-05", "change");
		const row = document.querySelector('tr[data-testid="doc-form-line"]');
		set(row.querySelector('[data-testid="doc-line-description"]'), "Brake pads");
		set(row.querySelector('[data-testid="doc-line-price"]'), "2500");
		set(row.querySelector('[data-testid="doc-line-tax"]'), "VAT16", "change");
	})()`))
	p.waitText(`[data-testid="doc-total"]`, "2900.00")
	p.click("save the bill", `[data-testid="doc-create"]`)
	p.waitShown(`[data-testid="bill-facts"][data-status="draft"]`)
	p.click("issue it", `[data-testid="doc-issue"]`)
	p.waitShown(`[data-testid="bill-facts"][data-status="issued"]`)
	p.waitText(`[data-testid="doc-total"]`, "2900.00")
	p.clean()
}

// seedBooks gives both companies of w books for the console crawl: a
// posted entry, a draft, a customer and a draft invoice each. B's are named
// with B's marker, which no page of A may show.
func seedBooks(t *testing.T, w *world) {
	t.Helper()
	in := w.in
	for _, c := range []struct{ id, token, name string }{
		{w.a.ID, w.byRole[auth.RoleManager].AccessToken, "Acme"},
		{w.b.ID, w.bAdmin.AccessToken, w.markersB[1]},
	} {
		api := "/api/v1/companies/" + c.id
		accounts := booksAccounts(t, in, c.id, c.token)
		bank := accountWithRole(t, accounts, "bank")
		expenses := accountWithRole(t, accounts, "expenses")
		for _, status := range []string{"posted", "draft"} {
			in.mustCall("POST", api+"/journal-entries", c.token, map[string]any{
				"date": "2026-01-10", "description": c.name + " rent, " + status, "status": status,
				"lines": []map[string]string{{"account": expenses.Code, "debit": "100.00"}, {"account": bank.Code, "credit": "100.00"}},
			}, 201, nil)
		}
		var contact struct{ ID string }
		in.mustCall("POST", api+"/contacts", c.token, map[string]any{"kind": "customer", "name": c.name + " Customers"}, 201, &contact)
		in.mustCall("POST", api+"/invoices", c.token, map[string]any{"contact_id": contact.ID, "issue_date": "2026-01-12",
			"lines": []map[string]string{{"description": c.name + " goods", "quantity": "2", "unit_price": "50.00", "tax_code": "VAT16"}}}, 201, nil)
	}
}

// TestConsoleBooksImports: a manager uploads an M-Pesa statement and
// follows the import to its end; a journal with an unbalanced
// transaction fails, and the page names the line.
func TestConsoleBooksImports(t *testing.T) {
	w := newWorld(t)
	in := w.in
	cid := w.a.ID
	manager := w.byRole[auth.RoleManager].AccessToken
	mpesa := accountWithRole(t, booksAccounts(t, in, cid, manager), "mpesa")
	dir := t.TempDir()
	statement := filepath.Join(dir, "mpesa.csv")
	if err := os.WriteFile(statement, []byte("Receipt No.,Completion Time,Details,Transaction Status,Paid In,Withdrawn,Balance\n"+
		"TC17GH4AT5,2026-03-03 16:21:10,Business Payment from 600100 - NAIVAS,Completed,\"38,750.50\",,\"62,897.50\"\n"+
		"TC18IJ5BU6,2026-03-04 10:11:45,Pay Bill to 888880 - KPLC PREPAID,Completed,,\"-2,500.00\",\"60,397.50\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(dir, "books.journal")
	if err := os.WriteFile(journal, []byte("2026-03-01 Opening\n    Assets:Bank  100 KES\n    Equity:Opening  -100 KES\n\n"+
		"2026-03-02 Lopsided\n    Expenses:Fuel  50 KES\n    Assets:Bank  -40 KES\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	p := newPagesTab(t, in, browser(t), "manager", false)
	p.signInAs("manager@acme.test", passwordOf(auth.RoleManager), "")
	p.navTo("Imports")
	p.accessible("imports")
	p.do("choose an M-Pesa statement", chromedp.SetValue(chromedp.CSS(`[data-testid="import-kind"]`), "mpesa"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="import-kind"]').dispatchEvent(new Event("change"))`))
	if got := p.value(`[data-testid="import-account"]`); got != mpesa.Code {
		t.Errorf("an M-Pesa statement is offered for account %q, want the M-Pesa account %s", got, mpesa.Code)
	}
	p.do("attach it", chromedp.SetUploadFiles(chromedp.CSS(`[data-testid="import-file"]`), []string{statement}))
	p.click("import it", `[data-testid="import-submit"]`)
	p.waitShown(`[data-testid="import-status"][data-status="done"]`)
	p.accessible("import")
	id := strings.TrimPrefix(eval[string](p.tab, `location.pathname`), "/console/c/"+cid+"/imports/")
	var job struct {
		Status   string
		Entries  int
		Progress struct{ Done, Total int }
	}
	in.mustCall("GET", "/api/v1/companies/"+cid+"/imports/"+id, manager, nil, 200, &job)
	if job.Status != "done" || job.Entries != 2 || job.Progress.Done != job.Progress.Total {
		t.Errorf("the statement's import: %+v", job)
	}
	p.waitShown(fmt.Sprintf(`[data-testid="import-counts"][data-done="%d"][data-total="%d"]`, job.Progress.Done, job.Progress.Total))
	if got := eval[string](p.tab, `document.querySelector('[data-testid="import-progress"]').value + "/" + document.querySelector('[data-testid="import-progress"]').max`); got != fmt.Sprintf("%d/%d", job.Progress.Done, max(job.Progress.Total, 1)) {
		t.Errorf("the progress bar shows %s", got)
	}
	drafts := 0
	for _, e := range journalEntries(t, in, cid, manager) {
		if e.Status == "draft" {
			drafts++
		}
	}
	if drafts != 2 {
		t.Errorf("%d draft entries after importing two statement lines", drafts)
	}

	// A journal that does not balance fails, naming its line.
	p.navTo("Imports")
	p.waitShown(fmt.Sprintf(`tr[data-testid="import"][data-id=%q][data-status="done"]`, id))
	p.do("choose a journal", chromedp.SetValue(chromedp.CSS(`[data-testid="import-kind"]`), "journal"),
		chromedp.SetUploadFiles(chromedp.CSS(`[data-testid="import-file"]`), []string{journal}))
	p.click("import it", `[data-testid="import-submit"]`)
	p.waitShown(`[data-testid="import-status"][data-status="failed"]`)
	p.waitShown(`tr[data-testid="import-error"]`)
	id = strings.TrimPrefix(eval[string](p.tab, `location.pathname`), "/console/c/"+cid+"/imports/")
	var failed struct {
		Status string
		Errors []struct {
			Line    int
			Message string
		}
	}
	in.mustCall("GET", "/api/v1/companies/"+cid+"/imports/"+id, manager, nil, 200, &failed)
	if failed.Status != "failed" || len(failed.Errors) == 0 || failed.Errors[0].Line < 5 {
		t.Fatalf("the lopsided journal's import: %+v", failed)
	}
	p.waitText(fmt.Sprintf(`tr[data-testid="import-error"][data-line="%d"]`, failed.Errors[0].Line), failed.Errors[0].Message)
	p.clean()
}
