package main

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/vanta-ledger/vanta/internal/auth"
)

// importStatus is GET imports/{id} as API.md gives it.
type importStatus struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Progress struct {
		Done  int `json:"done"`
		Total int `json:"total"`
	} `json:"progress"`
	Errors []struct {
		Line    int    `json:"line"`
		Message string `json:"message"`
	} `json:"errors"`
	Entries int `json:"entries"`
}

// TestStatementImportThroughAPI uploads the invented M-Pesa statement of
// internal/statements/testdata through POST imports?format=csv&preset=mpesa
// as a manager, follows GET imports/{id} to the end, and finds one draft
// per Completed row against suspense in GET journal-entries; the same
// upload again adds no draft; a malformed statement fails naming its
// line and adds nothing; the bank statement goes to the account named;
// a bad option is 400 naming it; a viewer is refused.
func TestStatementImportThroughAPI(t *testing.T) {
	w := newWorld(t)
	in := w.in
	manager := w.byRole[auth.RoleManager].AccessToken
	base := "/api/v1/companies/" + w.a.ID
	mpesa, err := os.ReadFile("../../internal/statements/testdata/mpesa.csv")
	if err != nil {
		t.Fatal(err)
	}
	upload := func(token, query string, body []byte) (int, []byte) {
		req := in.request("POST", base+"/imports?"+query, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "text/csv")
		return in.do(req)
	}
	// run uploads and follows the import to its end.
	run := func(query string, body []byte) importStatus {
		t.Helper()
		code, data := upload(manager, query, body)
		if code != 202 {
			t.Fatalf("POST imports?%s: %d %s", query, code, data)
		}
		var started struct {
			ImportID string `json:"import_id"`
		}
		if err := json.Unmarshal(data, &started); err != nil || started.ImportID == "" {
			t.Fatalf("POST imports: %s", data)
		}
		var st importStatus
		waitFor(t, func() bool {
			in.mustCall("GET", base+"/imports/"+started.ImportID, manager, nil, 200, &st)
			return st.Status != "running"
		}, "end of import "+started.ImportID)
		return st
	}
	type entry struct {
		Status         string `json:"status"`
		Source         string `json:"source"`
		Reference      string `json:"reference"`
		IdempotencyKey string `json:"idempotency_key"`
		Lines          []struct {
			Account string `json:"account"`
			Debit   string `json:"debit"`
			Credit  string `json:"credit"`
		} `json:"lines"`
	}
	drafts := func() []entry {
		t.Helper()
		var page struct {
			Items []entry `json:"items"`
		}
		in.mustCall("GET", base+"/journal-entries?source=statement&limit=1000", manager, nil, 200, &page)
		return page.Items
	}

	first := run("format=csv&preset=mpesa", mpesa)
	if first.Status != "done" || first.Entries != 7 {
		t.Fatalf("first import: %+v", first)
	}
	got := drafts()
	if len(got) != 7 {
		t.Fatalf("%d statement drafts after the first import, want 7: %+v", len(got), got)
	}
	keys := map[string]bool{}
	for _, e := range got {
		keys[e.IdempotencyKey] = true
		if e.Status != "draft" || len(e.Lines) != 2 || e.Lines[0].Account != "1110" || e.Lines[1].Account != "1900" ||
			!strings.HasPrefix(e.IdempotencyKey, "statement:1110:"+e.Reference) {
			t.Errorf("draft %+v", e)
		}
	}
	if !keys["statement:1110:TC14AB1XQ2"] {
		t.Errorf("no draft for receipt TC14AB1XQ2 among %v", keys)
	}

	again := run("format=csv&preset=mpesa", mpesa)
	if again.Status != "done" || again.Entries != 0 {
		t.Errorf("second import of the same statement: %+v", again)
	}
	if n := len(drafts()); n != 7 {
		t.Errorf("%d statement drafts after importing the same statement again, want 7", n)
	}

	bad := "Receipt No.,Completion Time,Details,Transaction Status,Paid In,Withdrawn,Balance\n" +
		"ZZ01,2026-04-01 10:00:00,Customer Payment,Completed,100.00,,100.00\n" +
		"ZZ02,2026-04-01 11:00:00,Customer Payment,Completed,12abc,,\n"
	failed := run("format=csv&preset=mpesa", []byte(bad))
	if failed.Status != "failed" || len(failed.Errors) == 0 || failed.Errors[0].Line != 3 ||
		!strings.Contains(failed.Errors[0].Message, "paid_in") {
		t.Errorf("malformed statement: %+v, want failed naming line 3 and paid_in", failed)
	}
	if n := len(drafts()); n != 7 {
		t.Errorf("%d statement drafts after a malformed statement, want 7", n)
	}

	// A bank statement into the bank account, and one for an income
	// account, which the import refuses naming the option.
	bank, err := os.ReadFile("../../internal/statements/testdata/bank.csv")
	if err != nil {
		t.Fatal(err)
	}
	if st := run("format=csv&preset=bank&account=1100", bank); st.Status != "done" || st.Entries != 6 {
		t.Errorf("bank statement: %+v", st)
	}
	if st := run("format=csv&preset=bank&account=4000", bank); st.Status != "failed" || len(st.Errors) == 0 ||
		!strings.Contains(st.Errors[0].Message, "account") {
		t.Errorf("bank statement for an income account: %+v", st)
	}
	if n := len(drafts()); n != 13 {
		t.Errorf("%d statement drafts after the bank statement, want 13", n)
	}

	code, data := upload(manager, "format=csv&mapping="+url.QueryEscape("date:Date,colour:Blue"), mpesa)
	if code != 400 || !strings.Contains(string(data), `"field":"mapping"`) {
		t.Errorf("bad mapping: %d %s, want 400 naming mapping", code, data)
	}
	code, data = upload(w.byRole[auth.RoleViewer].AccessToken, "format=csv&preset=mpesa", mpesa)
	if code != 403 {
		t.Errorf("viewer's import: %d %s, want 403", code, data)
	}
	if n := len(drafts()); n != 13 {
		t.Errorf("%d statement drafts after refused requests, want 13", n)
	}
}
