package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/vanta-ledger/vanta/internal/auth"
)

// reportAnswer is a report read over HTTP with its headers.
type reportAnswer struct {
	code   int
	header http.Header
	body   []byte
}

func (in *instance) getReport(path, token string) reportAnswer {
	in.t.Helper()
	req := in.request("GET", path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := in.client().Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		in.t.Fatal(err)
	}
	return reportAnswer{code: resp.StatusCode, header: resp.Header, body: body}
}

// csvRows reads a CSV report, checking its content type and filename.
func csvRows(t *testing.T, a reportAnswer, report string) [][]string {
	t.Helper()
	if a.code != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("%s csv: %d %s %s", report, a.code, a.header.Get("Content-Type"), a.body)
	}
	if cd := a.header.Get("Content-Disposition"); !strings.Contains(cd, `filename="`+report+`.csv"`) {
		t.Errorf("%s csv: Content-Disposition %q names no file", report, cd)
	}
	rows, err := csv.NewReader(bytes.NewReader(a.body)).ReadAll()
	if err != nil {
		t.Fatalf("%s csv: %v\n%s", report, err, a.body)
	}
	if len(rows) < 2 {
		t.Fatalf("%s csv: %d rows\n%s", report, len(rows), a.body)
	}
	return rows
}

// findRow is the first CSV row whose column col is value.
func findRow(rows [][]string, col int, value string) []string {
	for _, r := range rows {
		if len(r) > col && r[col] == value {
			return r
		}
	}
	return nil
}

// TestReportsThroughAPI posts entries through POST journal-entries and
// reads every report in JSON (checked against the API document's schema)
// and in CSV; a report asked again comes from the cache until the next
// posting changes it; bad parameters are 400 naming the parameter.
func TestReportsThroughAPI(t *testing.T) {
	w := newWorld(t)
	in := w.in
	_, doc := in.call("GET", "/api/v1/openapi.json", "", nil)
	schema := newAnswerChecker(t, doc)
	manager := w.byRole[auth.RoleManager].AccessToken
	a := "/api/v1/companies/" + w.a.ID
	post := func(body map[string]any) {
		t.Helper()
		body["status"] = "posted"
		in.mustCall("POST", a+"/journal-entries", manager, body, 201, nil)
	}
	post(map[string]any{"date": "2026-01-10", "description": "Sale with VAT", "lines": []map[string]string{
		{"account": "1200", "debit": "1160.00"}, {"account": "4000", "credit": "1000.00"}, {"account": "2200", "credit": "160.00"}}})
	post(map[string]any{"date": "2026-01-12", "description": "Receipt", "lines": []map[string]string{
		{"account": "1100", "debit": "1160.00"}, {"account": "1200", "credit": "1160.00"}}})
	post(map[string]any{"date": "2026-01-15", "description": "Export sale", "lines": []map[string]string{
		{"account": "1100", "debit": "100.00", "currency": "USD", "rate": "129.45"},
		{"account": "4000", "credit": "100.00", "currency": "USD", "rate": "129.45"}}})
	post(map[string]any{"date": "2026-01-20", "description": "Rent", "lines": []map[string]string{
		{"account": "6200", "debit": "500.00"}, {"account": "1100", "credit": "500.00"}}})

	read := func(path string, out any) reportAnswer {
		t.Helper()
		r := in.getReport(a+path, manager)
		if r.code != 200 {
			t.Fatalf("%s: %d %s", path, r.code, r.body)
		}
		schema.check("GET", a+path, r.code, r.body)
		if err := json.Unmarshal(r.body, out); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return r
	}

	// Trial balance: 1100 holds 660.00 KES and 100.00 USD, 13605.00 in
	// shillings (1160 − 500 + 100 × 129.45); debits are the bank and the
	// rent (13605 + 500), credits sales and VAT (1000 + 12945 + 160).
	var tb struct {
		Currency string
		Accounts []struct {
			Code, Debit, Credit, Balance string
			Balances                     []struct{ Currency, Amount string }
		}
		Totals struct{ Debit, Credit string }
	}
	first := read("/reports/trial-balance?as_of=2026-01-31", &tb)
	if tb.Totals.Debit != tb.Totals.Credit || tb.Totals.Debit != "14105.00" {
		t.Errorf("trial balance totals %+v", tb.Totals)
	}
	var bank string
	for _, acc := range tb.Accounts {
		if acc.Code == "1100" {
			bank = acc.Balance
			if len(acc.Balances) != 2 || acc.Balances[0] != (struct{ Currency, Amount string }{"KES", "660.00"}) ||
				acc.Balances[1] != (struct{ Currency, Amount string }{"USD", "100.00"}) {
				t.Errorf("bank balances %+v", acc.Balances)
			}
		}
	}
	if bank != "13605.00" || tb.Currency != "KES" {
		t.Errorf("bank %s in %s, want 13605.00 KES", bank, tb.Currency)
	}
	if first.header.Get("X-Vanta-Cache") != "miss" {
		t.Errorf("first trial balance: cache %q", first.header.Get("X-Vanta-Cache"))
	}
	if again := in.getReport(a+"/reports/trial-balance?as_of=2026-01-31", manager); again.header.Get("X-Vanta-Cache") != "hit" || string(again.body) != string(first.body) {
		t.Errorf("second trial balance: cache %q, %s", again.header.Get("X-Vanta-Cache"), again.body)
	}
	rows := csvRows(t, in.getReport(a+"/reports/trial-balance?as_of=2026-01-31&format=csv", manager), "trial-balance")
	if strings.Join(rows[0], ",") != "code,name,type,debit,credit,balance,balances" {
		t.Errorf("trial balance csv header %v", rows[0])
	}
	if r := findRow(rows, 0, "1100"); r == nil || r[3] != "13605.00" || r[6] != "KES 660.00; USD 100.00" {
		t.Errorf("trial balance csv bank row %v", r)
	}
	if r := findRow(rows, 1, "Total"); r == nil || r[3] != "14105.00" || r[4] != "14105.00" {
		t.Errorf("trial balance csv totals %v", r)
	}

	// General ledger of the bank.
	var gl struct {
		Opening string `json:"opening_balance"`
		Closing string `json:"closing_balance"`
		Lines   []struct{ Description, Debit, Credit, Balance, Currency, Amount string }
	}
	read("/reports/general-ledger?account=1100&from=2026-01-01&to=2026-01-31", &gl)
	if gl.Opening != "0.00" || gl.Closing != "13605.00" || len(gl.Lines) != 3 || gl.Lines[2].Balance != "13605.00" ||
		gl.Lines[1].Currency != "USD" || gl.Lines[1].Amount != "100.00" || gl.Lines[1].Debit != "12945.00" {
		t.Errorf("general ledger %+v", gl)
	}
	rows = csvRows(t, in.getReport(a+"/reports/general-ledger?account=1100&from=2026-01-01&to=2026-01-31&format=csv", manager), "general-ledger")
	if len(rows) != 1+1+3+1 || rows[len(rows)-1][8] != "13605.00" {
		t.Errorf("general ledger csv %v", rows)
	}

	// Profit and loss: 1000.00 + 12945.00 income, 500.00 rent.
	var pl struct {
		Income, Expenses struct{ Total string }
		NetProfit        string `json:"net_profit"`
	}
	read("/reports/profit-and-loss?from=2026-01-01&to=2026-01-31", &pl)
	if pl.Income.Total != "13945.00" || pl.Expenses.Total != "500.00" || pl.NetProfit != "13445.00" {
		t.Errorf("profit and loss %+v", pl)
	}
	rows = csvRows(t, in.getReport(a+"/reports/profit-and-loss?from=2026-01-01&to=2026-01-31&format=csv", manager), "profit-and-loss")
	if r := findRow(rows, 2, "Net profit"); r == nil || r[3] != "13445.00" {
		t.Errorf("profit and loss csv %v", rows)
	}

	// Balance sheet: bank 13605.00 = VAT 160.00 + earnings 13445.00.
	var bs struct {
		Assets, Liabilities, Equity struct{ Total string }
		CurrentEarnings             string `json:"current_earnings"`
		Balanced                    bool
	}
	read("/reports/balance-sheet?as_of=2026-01-31", &bs)
	if !bs.Balanced || bs.Assets.Total != "13605.00" || bs.Liabilities.Total != "160.00" || bs.CurrentEarnings != "13445.00" {
		t.Errorf("balance sheet %+v", bs)
	}
	rows = csvRows(t, in.getReport(a+"/reports/balance-sheet?as_of=2026-01-31&format=csv", manager), "balance-sheet")
	if r := findRow(rows, 2, "Total liabilities and equity"); r == nil || r[3] != "13605.00" {
		t.Errorf("balance sheet csv %v", rows)
	}

	// A posting after the cached trial balance changes the next answer.
	post(map[string]any{"date": "2026-01-25", "description": "Cash sale", "lines": []map[string]string{
		{"account": "1100", "debit": "40.00"}, {"account": "4000", "credit": "40.00"}}})
	after := read("/reports/trial-balance?as_of=2026-01-31", &tb)
	if after.header.Get("X-Vanta-Cache") != "miss" || tb.Totals.Debit != "14145.00" {
		t.Errorf("after a posting: cache %q, totals %+v", after.header.Get("X-Vanta-Cache"), tb.Totals)
	}

	// Bad parameters are refused naming the parameter.
	for _, c := range []struct{ path, field string }{
		{"/reports/trial-balance?as_of=2026-02-30", "as_of"},
		{"/reports/balance-sheet?as_of=31.01.2026", "as_of"},
		{"/reports/profit-and-loss?from=2026-02-01&to=2026-01-31", "from"},
		{"/reports/profit-and-loss?to=tomorrow", "to"},
		{"/reports/general-ledger?account=9999", "account"},
		{"/reports/general-ledger", "account"},
		{"/reports/trial-balance?all=perhaps", "all"},
		{"/reports/trial-balance?format=xml", "format"},
	} {
		r := in.getReport(a+c.path, manager)
		if r.code != 400 || errorCode(r.body) != "validation_failed" || errorField(r.body) != c.field {
			t.Errorf("%s: %d %s, want 400 naming %s", c.path, r.code, r.body, c.field)
		}
		schema.check("GET", a+c.path, r.code, r.body)
	}
}

// TestReportsRoles: every member role may read reports (a viewer too);
// another company's members and its reports are 404, never 403, so that
// probing cannot tell companies apart.
func TestReportsRoles(t *testing.T) {
	w := newWorld(t)
	in := w.in
	a, b := "/api/v1/companies/"+w.a.ID, "/api/v1/companies/"+w.b.ID
	in.mustCall("POST", a+"/journal-entries", w.byRole[auth.RoleManager].AccessToken, map[string]any{
		"date": "2026-02-01", "description": "Cash sale", "status": "posted", "lines": []map[string]string{
			{"account": "1100", "debit": "75.00"}, {"account": "4000", "credit": "75.00"}}}, 201, nil)
	for _, path := range []string{"/reports/trial-balance", "/reports/general-ledger?account=1100", "/reports/profit-and-loss", "/reports/balance-sheet", "/reports/balance-sheet?format=csv"} {
		for role, tk := range w.byRole {
			if r := in.getReport(a+path, tk.AccessToken); r.code != 200 {
				t.Errorf("%s of A as A's %s: %d %s", path, role, r.code, r.body)
			}
		}
		viewer := w.byRole[auth.RoleViewer].AccessToken
		if r := in.getReport(b+path, viewer); r.code != 404 || errorCode(r.body) != "not_found" {
			t.Errorf("%s of B as A's viewer: %d %s", path, r.code, r.body)
		}
		if r := in.getReport(a+path, w.bAdmin.AccessToken); r.code != 404 || strings.Contains(string(r.body), "1100") {
			t.Errorf("%s of A as B's admin: %d %s", path, r.code, r.body)
		}
	}
}
