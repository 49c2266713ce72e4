package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"mime/multipart"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vanta-ledger/vanta/internal/auth"
)

// A journal written for these tests: shillings, dollars, euros and
// shares, @ and @@ costs, P prices, = and == assertions, account and
// commodity declarations, comments and a comment block.
const booksJournal = "../../internal/interchange/testdata/books.journal"

func init() {
	isolationParams[":impid"] = isolationParam{func(in *instance, god, companyID string, i int) string {
		return postImport(in, god, "/api/v1/companies/"+companyID+"/imports",
			fmt.Sprintf("2026-01-01 probe %d\n    assets:cash  KES 1.00\n    equity:opening\n", i), 202)
	}}
	isolationBodies["POST /imports"] = func(i int) any {
		return fmt.Sprintf("2026-01-01 probe %d\n    assets:cash  KES 1.00\n    equity:opening\n", i)
	}
}

// postImport sends a file as the raw body and returns the import's id.
func postImport(in *instance, token, path, body string, want int) string {
	in.t.Helper()
	req := in.request("POST", path, strings.NewReader(body))
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+token)
	code, out := in.do(req)
	if code != want {
		in.t.Fatalf("POST %s: %d %s, want %d", path, code, out, want)
	}
	var started struct {
		ImportID string `json:"import_id"`
	}
	_ = json.Unmarshal(out, &started)
	return started.ImportID
}

type importAnswer struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Progress struct {
		Done, Total int
	} `json:"progress"`
	Errors []struct {
		Line    int    `json:"line"`
		Message string `json:"message"`
	} `json:"errors"`
	Entries int `json:"entries"`
}

// waitImport polls the import until it is no longer running, as a client
// does; a bound keeps a stuck import from hanging the test.
func waitImport(in *instance, token, base, id string) importAnswer {
	in.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var im importAnswer
		in.mustCall("GET", base+"/imports/"+id, token, nil, 200, &im)
		if im.Status != "running" {
			return im
		}
		if time.Now().After(deadline) {
			in.t.Fatalf("import %s still running: %+v", id, im)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// trialBalances is the trial balance's native balances: account →
// currency → exact value, zeros left out.
func trialBalances(in *instance, token, base string) map[string]map[string]string {
	in.t.Helper()
	var tb struct {
		Accounts []struct {
			Code     string
			Balances []struct{ Currency, Amount string }
		}
	}
	in.mustCall("GET", base+"/reports/trial-balance?as_of=2099-12-31", token, nil, 200, &tb)
	out := map[string]map[string]string{}
	for _, a := range tb.Accounts {
		for _, b := range a.Balances {
			q, ok := new(big.Rat).SetString(b.Amount)
			if !ok {
				in.t.Fatalf("trial balance amount %q", b.Amount)
			}
			if q.Sign() == 0 {
				continue
			}
			if out[a.Code] == nil {
				out[a.Code] = map[string]string{}
			}
			out[a.Code][b.Currency] = q.RatString()
		}
	}
	return out
}

// hledgerBalance runs `hledger balance -O csv` on a file: account →
// commodity → exact value.
func hledgerBalance(t *testing.T, file string) map[string]map[string]string {
	t.Helper()
	out, err := exec.Command("hledger", "-f", file, "balance", "-O", "csv", "--layout=bare").CombinedOutput()
	if err != nil {
		t.Fatalf("hledger balance: %v\n%s", err, out)
	}
	recs, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	res := map[string]map[string]string{}
	for _, r := range recs[1:] {
		if r[0] == "total" {
			continue
		}
		v := r[2]
		if strings.Contains(v, ",") && !strings.Contains(v, ".") {
			v = strings.Replace(v, ",", ".", 1) // a commodity with a decimal comma
		}
		q, ok := new(big.Rat).SetString(v)
		if !ok {
			t.Fatalf("hledger balance %q", r[2])
		}
		if q.Sign() == 0 {
			continue
		}
		if res[r[0]] == nil {
			res[r[0]] = map[string]string{}
		}
		res[r[0]][r[1]] = q.RatString()
	}
	return res
}

func showBalances(m map[string]map[string]string) string {
	var lines []string
	for a, cs := range m {
		for c, v := range cs {
			lines = append(lines, a+" "+c+" "+v)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func exportText(in *instance, token, base, format string) string {
	in.t.Helper()
	req := in.request("GET", base+"/export?format="+format, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	code, out := in.do(req)
	if code != 200 {
		in.t.Fatalf("export %s: %d %s", format, code, out)
	}
	return string(out)
}

// TestInterchangeThroughTheAPI covers acceptance 4 through the API: the
// export of a company with activity passes hledger check and hledger's
// balance equals the trial balance account by account and commodity by
// commodity; a journal with several commodities, costs, prices and
// assertions imports to balances equal to hledger's on the same file; a
// failing assertion is refused naming its line and changes nothing; an
// include is refused; export → import → export gives the same text; and
// the attacker's requests (a viewer, another company's import, a body
// over the limit, bad options) are refused with nothing changed.
func TestInterchangeThroughTheAPI(t *testing.T) {
	if _, err := exec.LookPath("hledger"); err != nil {
		t.Fatalf("this test checks against hledger (scripts/install-deps installs it): %v", err)
	}
	w := newWorld(t)
	in := w.in
	god := w.god.AccessToken
	manager, viewer := w.byRole[auth.RoleManager].AccessToken, w.byRole[auth.RoleViewer].AccessToken
	a := "/api/v1/companies/" + w.a.ID
	b := "/api/v1/companies/" + w.b.ID
	bManager := w.bByRole[auth.RoleManager].AccessToken

	// A's activity through the ledger's API: shillings, and dollars at a rate.
	line := func(account, side, amount string, extra ...string) map[string]string {
		l := map[string]string{"account": account, side: amount}
		for i := 0; i+1 < len(extra); i += 2 {
			l[extra[i]] = extra[i+1]
		}
		return l
	}
	for _, e := range []map[string]any{
		{"date": "2026-03-01", "description": "Capital", "status": "posted", "lines": []map[string]string{
			line("1100", "debit", "250000.00"), line("3000", "credit", "250000.00")}},
		{"date": "2026-03-02", "description": "Cash sale", "reference": "R-1", "status": "posted", "lines": []map[string]string{
			line("1110", "debit", "11600.00", "memo", "till 3"), line("4000", "credit", "10000.00"), line("2200", "credit", "1600.00")}},
		{"date": "2026-03-05", "description": "Dollar invoice paid", "status": "posted", "lines": []map[string]string{
			line("1100", "debit", "150.00", "currency", "USD", "rate", "129.35"), line("4000", "credit", "150.00", "currency", "USD", "rate", "129.35")}},
		{"date": "2026-03-06", "description": "Rent", "status": "posted", "lines": []map[string]string{
			line("6200", "debit", "30000.00"), line("1100", "credit", "30000.00")}},
	} {
		in.mustCall("POST", a+"/journal-entries", manager, e, 201, nil)
	}
	journalA := exportText(in, viewer, a, "journal")
	fileA := filepath.Join(t.TempDir(), "a.journal")
	if err := os.WriteFile(fileA, []byte(journalA), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("hledger", "-f", fileA, "check").CombinedOutput(); err != nil {
		t.Fatalf("hledger check of A's export: %v\n%s\n%s", err, out, journalA)
	}
	// ledger-cli reads it too.
	if out, err := exec.Command("ledger", "-f", fileA, "balance").CombinedOutput(); err != nil || !strings.Contains(string(out), "USD") {
		t.Errorf("ledger -f A's export balance: %v\n%s", err, out)
	}
	if got, want := showBalances(hledgerBalance(t, fileA)), showBalances(trialBalances(in, viewer, a)); got != want {
		t.Errorf("hledger balance of A's export:\n%s\ntrial balance:\n%s", got, want)
	}
	if c := exportText(in, viewer, a, "csv"); !strings.HasPrefix(c, "number,date,description") || strings.Count(c, "\n") != 10 {
		t.Errorf("CSV export (a header and 9 lines):\n%s", c)
	}

	// The test journal into B, as a multipart upload.
	src, err := os.ReadFile(booksJournal)
	if err != nil {
		t.Fatal(err)
	}
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, _ := mw.CreateFormFile("file", "books.journal")
	_, _ = fw.Write(src)
	_ = mw.Close()
	req := in.request("POST", b+"/imports?format=journal", &form)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+bManager)
	code, out := in.do(req)
	var started struct {
		ImportID string `json:"import_id"`
	}
	if code != 202 || json.Unmarshal(out, &started) != nil || started.ImportID == "" {
		t.Fatalf("multipart import: %d %s", code, out)
	}
	im := waitImport(in, bManager, b, started.ImportID)
	if im.Status != "done" || im.Entries != 9 || im.Progress.Done != 9 || im.Progress.Total != 9 {
		t.Fatalf("import of the test journal: %+v", im)
	}
	ours := trialBalances(in, bManager, b)
	delete(ours, "3900") // the conversion account, which plain hledger balance does not show
	if got, want := showBalances(ours), showBalances(hledgerBalance(t, booksJournal)); got != want {
		t.Errorf("B's trial balance after the import:\n%s\nhledger balance of the file:\n%s", got, want)
	}

	// Refusals name their line and change nothing.
	before := showBalances(trialBalances(in, bManager, b))
	bad := string(src) + "\n2026-03-01 Wrong\n    assets:bank:kes  KES 1.00 = KES 1.00\n    income:sales\n"
	badLine := strings.Count(string(src), "\n") + 3
	for _, c := range []struct {
		body string
		line int
		want string
	}{
		{bad, badLine, "balance assertion failed"},
		{"include other.journal\n", 1, "include"},
	} {
		id := postImport(in, bManager, b+"/imports", c.body, 202)
		im := waitImport(in, bManager, b, id)
		if im.Status != "failed" || len(im.Errors) != 1 || im.Errors[0].Line != c.line || !strings.Contains(im.Errors[0].Message, c.want) {
			t.Errorf("refused import: %+v; want failed at line %d with %q", im, c.line, c.want)
		}
	}
	if after := showBalances(trialBalances(in, bManager, b)); after != before {
		t.Errorf("refused imports changed the books:\n%s\n---\n%s", before, after)
	}

	// Export → import into a new company → export: the same text.
	journalB := exportText(in, bManager, b, "journal")
	var c company
	in.mustCall("POST", "/api/v1/companies", god, map[string]any{"company_name": "Round Trip Ltd", "tax_id": "P051234567R"}, 201, &c)
	cBase := "/api/v1/companies/" + c.ID
	if im := waitImport(in, god, cBase, postImport(in, god, cBase+"/imports", journalB, 202)); im.Status != "done" {
		t.Fatalf("import of B's export: %+v", im)
	}
	if again := exportText(in, god, cBase, "journal"); again != journalB {
		t.Errorf("export → import → export changed the text:\n%s\n---\n%s", journalB, again)
	}

	// The attacker's requests.
	var list struct{ Items []importAnswer }
	in.mustCall("GET", b+"/imports", bManager, nil, 200, &list)
	count := len(list.Items)
	if code, body := in.call("POST", b+"/imports", w.bByRole[auth.RoleViewer].AccessToken, "2026-01-01 x\n"); code != 403 {
		t.Errorf("a viewer's import: %d %s, want 403", code, body)
	}
	if code, body := in.call("GET", b+"/imports/"+started.ImportID, manager, nil); code != 404 {
		t.Errorf("A's manager reading B's import through B: %d %s, want 404", code, body)
	}
	if code, body := in.call("GET", a+"/imports/"+started.ImportID, manager, nil); code != 404 {
		t.Errorf("B's import through A's path: %d %s, want 404", code, body)
	}
	big := in.request("POST", b+"/imports", bytes.NewReader(make([]byte, 32<<20+1)))
	big.Header.Set("Content-Type", "text/plain")
	big.Header.Set("Authorization", "Bearer "+bManager)
	if code, body := in.do(big); code != 413 {
		t.Errorf("an oversized body: %d %.200s, want 413", code, body)
	}
	for _, q := range []struct{ query, field string }{{"?format=xml", "format"}, {"?format=csv&preset=visa", "preset"}} {
		code, body := in.call("POST", b+"/imports"+q.query, bManager, "x")
		var e struct{ Error struct{ Field string } }
		_ = json.Unmarshal(body, &e)
		if code != 400 || e.Error.Field != q.field {
			t.Errorf("POST imports%s: %d %s, want 400 naming %s", q.query, code, body, q.field)
		}
	}
	in.mustCall("GET", b+"/imports", bManager, nil, 200, &list)
	if len(list.Items) != count {
		t.Errorf("refused requests made imports: %d, then %d", count, len(list.Items))
	}
	if after := showBalances(trialBalances(in, bManager, b)); after != before {
		t.Errorf("the attacker's requests changed the books")
	}

	// The operator's CLI: the same journal into a new company, straight to
	// the database, with progress on stderr; its export is the API's.
	var d company
	in.mustCall("POST", "/api/v1/companies", god, map[string]any{"company_name": "Operator Imports Ltd", "tax_id": "P051234568S"}, 201, &d)
	dBase := "/api/v1/companies/" + d.ID
	cli := func(args ...string) (int, string, string) {
		t.Helper()
		cmd := exec.Command(vantaBin, append([]string{"ledger"}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, stdout.String(), stderr.String()
	}
	if code, _, stderr := cli("import", "--company", d.ID, "--data", w.data, booksJournal); code != 0 ||
		!strings.Contains(stderr, "9/9 entries") || !strings.Contains(stderr, "9 entries posted") {
		t.Fatalf("vanta ledger import: exit %d\n%s", code, stderr)
	}
	dBalances := trialBalances(in, god, dBase)
	delete(dBalances, "3900")
	if got, want := showBalances(dBalances), showBalances(hledgerBalance(t, booksJournal)); got != want {
		t.Errorf("after vanta ledger import:\n%s\nhledger:\n%s", got, want)
	}
	outFile := filepath.Join(t.TempDir(), "d.journal")
	if code, _, stderr := cli("export", "--company", d.ID, "--data", w.data, outFile); code != 0 {
		t.Fatalf("vanta ledger export: exit %d\n%s", code, stderr)
	}
	if got, err := os.ReadFile(outFile); err != nil || string(got) != exportText(in, god, dBase, "journal") {
		t.Errorf("vanta ledger export differs from GET export: %v", err)
	}
	includeFile := filepath.Join(t.TempDir(), "include.journal")
	_ = os.WriteFile(includeFile, []byte("; books\ninclude 2025.journal\n"), 0o600)
	if code, _, stderr := cli("import", "--company", d.ID, "--data", w.data, includeFile); code != 1 ||
		!strings.Contains(stderr, includeFile+":2: include") || !strings.Contains(stderr, "nothing was imported") {
		t.Errorf("vanta ledger import of an include: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := cli("import", "--company", "acme", "--data", w.data, booksJournal); code != 2 || !strings.Contains(stderr, "--company") {
		t.Errorf("vanta ledger import --company acme: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := cli("import", "--company", d.ID, "--data", w.data); code != 2 || !strings.Contains(stderr, "FILE") {
		t.Errorf("vanta ledger import without FILE: exit %d\n%s", code, stderr)
	}
}
