package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/auth"
	"github.com/vanta-ledger/vanta/internal/ledger"
	"github.com/vanta-ledger/vanta/internal/money"
)

// ledgerRig is an unsealed appliance with GOD, one company and its
// manager, booted with quotas out of the way: these tests load the
// posting path, not the limiter. The durability test boots it again on
// the same data directory.
type ledgerRig struct {
	in       *instance
	data     string
	shares   []string
	company  string
	schema   string // the company's schema, for the superuser's checks
	email    string
	password string
	manager  string            // the manager's access token
	roles    map[string]string // account role → code
}

var rigEnv = []string{"VANTA_QUOTA_USER_RPM=1000000000", "VANTA_QUOTA_COMPANY_RPM=1000000000"}

func newLedgerRig(t *testing.T) *ledgerRig {
	t.Helper()
	r := &ledgerRig{data: dataDir(t), email: "manager@rig.test", password: "tall trees by the river two"}
	r.in = bootWith(t, r.data, rigEnv)
	in := r.in
	in.waitReady()
	r.shares = in.initSeal(2, 2)
	in.unseal(r.shares)
	var god struct {
		TOTP struct{ Secret string } `json:"totp"`
	}
	in.mustCall("POST", "/api/v1/sys/setup/god", "", map[string]string{"email": "god@rig.test", "name": "Creator", "password": "correct horse battery staple"}, 201, &god)
	godTok := in.login("god@rig.test", "correct horse battery staple", god.TOTP.Secret)
	var c company
	in.mustCall("POST", "/api/v1/companies", godTok.AccessToken, map[string]any{"company_name": "Hot Till Ltd", "tax_id": "P051234567Z"}, 201, &c)
	r.company = c.ID
	r.schema = "company_" + strings.ReplaceAll(c.ID, "-", "")
	in.mustCall("POST", "/api/v1/companies/"+c.ID+"/users", godTok.AccessToken,
		map[string]string{"email": r.email, "name": "Manager", "role": string(auth.RoleManager), "password": initialPassword(r.password)}, 201, nil)
	r.manager = in.setOwnPassword(r.email, initialPassword(r.password), r.password, "").AccessToken
	var accounts struct {
		Items []struct{ Code, Role string }
	}
	in.mustCall("GET", r.path("/accounts?limit=1000"), r.manager, nil, 200, &accounts)
	r.roles = map[string]string{}
	for _, a := range accounts.Items {
		if a.Role != "" {
			r.roles[a.Role] = a.Code
		}
	}
	for _, role := range []string{"ar", "bank", "revenue", "mpesa"} {
		if r.roles[role] == "" {
			t.Fatalf("the chart has no %s account: %+v", role, accounts.Items)
		}
	}
	return r
}

func (r *ledgerRig) path(p string) string { return "/api/v1/companies/" + r.company + p }

// relogin signs the manager in again on the rig's current instance.
func (r *ledgerRig) relogin() {
	r.manager = r.in.login(r.email, r.password, "").AccessToken
}

// sendJSON is a request from a load goroutine: unlike in.call it never
// fails the test itself (t.Fatal belongs to the test's goroutine), and a
// transport error is returned as such.
func sendJSON(ctx context.Context, in *instance, method, path, token string, body any) (int, []byte, error) {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return 0, nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, in.url(path), bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := in.client().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// ackedEntry is a post the server answered 201: what was asked, and the
// id and number it was given.
type ackedEntry struct {
	ID     string
	Number int64
	Lines  map[string]int64 // account code → minor units (debit > 0)
	// An issued invoice's entry: the client knows its total on the
	// receivable, not how invoicing splits the credit side, so its lines
	// are read back (and must debit AR by Receivable and balance).
	Invoice    bool
	Receivable int64
}

type postedEntry struct {
	ID     string `json:"id"`
	Number int64  `json:"number"`
	Status string `json:"status"`
}

// hotEntry is a posted entry of two lines on the company's hot accounts:
// a sale on account (AR against revenue) or a receipt (bank or M-Pesa
// against AR), so that every entry touches the receivable.
func (r *ledgerRig) hotEntry(rng *rand.Rand, key string) (map[string]any, map[string]int64) {
	cents := 1 + rng.Int64N(1_000_000)
	dr, cr := r.roles["ar"], r.roles["revenue"]
	switch rng.IntN(3) {
	case 1:
		dr, cr = r.roles["bank"], r.roles["ar"]
	case 2:
		dr, cr = r.roles["mpesa"], r.roles["ar"]
	}
	amount := money.Format(cents, 2)
	body := map[string]any{
		"date": time.Now().UTC().Format(time.DateOnly), "description": "hot " + key, "status": "posted", "idempotency_key": key,
		"lines": []map[string]string{{"account": dr, "debit": amount}, {"account": cr, "credit": amount}},
	}
	return body, map[string]int64{dr: cents, cr: -cents}
}

// issueInvoice drafts and issues an invoice of one line at VAT 16%: its
// net is cents (a multiple of 25, so the tax is exact).
func (r *ledgerRig) issueInvoice(ctx context.Context, customer string, cents int64) (invoiceOut, int, []byte) {
	var inv invoiceOut
	code, answer, err := sendJSON(ctx, r.in, "POST", r.path("/invoices"), r.manager, map[string]any{
		"contact_id": customer, "issue_date": time.Now().UTC().Format(time.DateOnly),
		"lines": []map[string]string{{"description": "Cement 50kg", "quantity": "1", "unit_price": money.Format(cents, 2), "tax_code": "VAT16"}}})
	if err != nil || code != 201 || json.Unmarshal(answer, &inv) != nil {
		return inv, code, answer
	}
	code, answer, err = sendJSON(ctx, r.in, "POST", r.path("/invoices/"+inv.ID+"/issue"), r.manager, nil)
	if err != nil || code != 200 || json.Unmarshal(answer, &inv) != nil {
		return invoiceOut{}, code, answer
	}
	return inv, code, answer
}

type invoiceOut struct {
	ID      string `json:"id"`
	Number  string `json:"number"`
	Total   string `json:"total"`
	EntryID string `json:"entry_id"`
}

// contentionDuration is 30 s as the issue asks; VANTA_TEST_CONTENTION
// (a Go duration) shortens it for a local run. CI leaves it unset.
func contentionDuration(t *testing.T) time.Duration {
	v := os.Getenv("VANTA_TEST_CONTENTION")
	if v == "" {
		return 30 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("VANTA_TEST_CONTENTION=%q is not a positive duration", v)
	}
	return d
}

// TestLedgerContention is acceptance 2: 32 clients post through the API
// to the same hot accounts (every entry touches the receivable) for 30 s.
// Every post must be answered 201: a deadlock or serialization failure
// inside the server is retried there, never handed to a client. After
// the run the acknowledged amounts, the stored balances and the balances
// recomputed from the lines agree exactly, and the posting numbers are
// 1..N with N the number of acknowledged posts.
func TestLedgerContention(t *testing.T) {
	r := newLedgerRig(t)
	const clients = 32
	d := contentionDuration(t)
	var customer idOnly
	r.in.mustCall("POST", r.path("/contacts"), r.manager, map[string]any{"kind": "customer", "name": "Hot Till Customer"}, 201, &customer)
	var invoices []string // the numbers of issued invoices

	var mu sync.Mutex
	var acked []ackedEntry
	problems := map[string]int{}
	sample := map[string]string{}
	ctx, cancel := context.WithTimeout(context.Background(), d+guard)
	defer cancel()
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), uint64(time.Now().UnixNano())))
			for i := 0; time.Now().Before(deadline); i++ {
				if c < 8 && i%4 == 3 {
					// A quarter of eight clients' work: an invoice issued
					// (its number and its entry) amid the posts.
					inv, code, answer := r.issueInvoice(ctx, customer.ID, 25*(1+rng.Int64N(40000)))
					mu.Lock()
					if code != 200 || inv.Number == "" || inv.EntryID == "" {
						key := fmt.Sprintf("invoice %d %s", code, errorCode(answer))
						problems[key]++
						sample[key] = string(answer)
					} else {
						total, err := money.Parse(inv.Total, 2)
						if err != nil {
							problems["invoice total "+inv.Total]++
						}
						invoices = append(invoices, inv.Number)
						acked = append(acked, ackedEntry{ID: inv.EntryID, Invoice: true, Receivable: total})
					}
					mu.Unlock()
					continue
				}
				body, lines := r.hotEntry(rng, fmt.Sprintf("contention-%d-%d", c, i))
				code, answer, err := sendJSON(ctx, r.in, "POST", r.path("/journal-entries"), r.manager, body)
				var e postedEntry
				if err == nil && code == 201 {
					err = json.Unmarshal(answer, &e)
				}
				mu.Lock()
				switch {
				case err != nil:
					problems["transport: "+err.Error()]++
				case code != 201 || e.ID == "" || e.Number == 0 || e.Status != "posted":
					key := fmt.Sprintf("%d %s", code, errorCode(answer))
					problems[key]++
					sample[key] = string(answer)
				default:
					acked = append(acked, ackedEntry{ID: e.ID, Number: e.Number, Lines: lines})
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for p, n := range problems {
		t.Errorf("%d posts answered %s (e.g. %s), want every one 201", n, p, sample[p])
	}
	t.Logf("%d clients, %s: %d posts acknowledged, %d of them invoices", clients, d, len(acked), len(invoices))
	// Invoice numbers: INV-<year>-000001 up, no gap, none twice.
	seq := make([]int, 0, len(invoices))
	for _, n := range invoices {
		var year, k int
		if _, err := fmt.Sscanf(n, "INV-%d-%d", &year, &k); err != nil || n != fmt.Sprintf("INV-%d-%06d", year, k) {
			t.Errorf("invoice number %q is not INV-<year>-<6 digits>", n)
		}
		seq = append(seq, k)
	}
	slices.Sort(seq)
	for i, k := range seq {
		if k != i+1 {
			t.Fatalf("invoice numbers are not 1..%d: position %d holds %d", len(seq), i+1, k)
		}
	}
	if len(invoices) == 0 {
		t.Error("no invoice was issued")
	}
	if len(acked) < clients {
		t.Fatalf("only %d posts acknowledged in %s", len(acked), d)
	}
	checkLedger(t, r, acked, true)
}

// checkLedger compares what the clients were told with what the database
// holds: every acknowledged entry is posted with exactly its lines, no
// entry lacks a line or is out of balance, the stored balances equal the
// lines summed afresh, and the company's verify passes. With exact, the
// acknowledged posts are all there is (no post was in doubt), so their
// sums equal the stored balances and their numbers are 1..N.
func checkLedger(t *testing.T, r *ledgerRig, acked []ackedEntry, exact bool) {
	t.Helper()
	ctx := context.Background()
	db := pgConnect(t, r.data)
	if _, err := db.Exec(ctx, "SET search_path = "+r.schema); err != nil {
		t.Fatal(err)
	}

	// Every acknowledged entry, by id, with the amounts it was posted with.
	ids := make([]string, len(acked))
	for i, a := range acked {
		ids[i] = a.ID
	}
	rows, err := db.Query(ctx, `SELECT e.id::text, e.status, e.number, a.code, sum(l.amount)
		FROM journal_entries e JOIN journal_lines l ON l.entry_id = e.id JOIN accounts a ON a.id = l.account_id
		WHERE e.id::text = ANY($1) GROUP BY e.id, e.status, e.number, a.code`, ids)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]map[string]int64{}
	numbers := map[string]int64{}
	for rows.Next() {
		var id, status, code string
		var number *int64
		var sum int64
		if err := rows.Scan(&id, &status, &number, &code, &sum); err != nil {
			t.Fatal(err)
		}
		if status != "posted" || number == nil {
			t.Errorf("acknowledged entry %s is %s, number %v", id, status, number)
			continue
		}
		if stored[id] == nil {
			stored[id] = map[string]int64{}
		}
		stored[id][code] = sum
		numbers[id] = *number
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{} // account code → Σ acknowledged
	for _, a := range acked {
		if a.Invoice {
			if stored[a.ID][r.roles["ar"]] != a.Receivable {
				t.Errorf("invoice entry %s debits AR %d, the invoice's total is %d", a.ID, stored[a.ID][r.roles["ar"]], a.Receivable)
			}
			for code, v := range stored[a.ID] {
				want[code] += v
			}
			continue
		}
		if !maps.Equal(stored[a.ID], a.Lines) || numbers[a.ID] != a.Number {
			t.Errorf("acknowledged entry %s (number %d, lines %v) is stored as number %d, lines %v", a.ID, a.Number, a.Lines, numbers[a.ID], stored[a.ID])
		}
		for code, v := range a.Lines {
			want[code] += v
		}
	}

	// No entry is half there: at least two lines, balanced in every
	// currency and in the company's.
	var bad int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM (
		SELECT e.id FROM journal_entries e LEFT JOIN journal_lines l ON l.entry_id = e.id
		GROUP BY e.id HAVING count(l.*) < 2 OR coalesce(sum(l.base_amount), 0) <> 0
		UNION ALL
		SELECT entry_id FROM journal_lines GROUP BY entry_id, currency HAVING sum(amount) <> 0) x`).Scan(&bad); err != nil {
		t.Fatal(err)
	}
	if bad != 0 {
		t.Errorf("%d entries lack a line or do not balance", bad)
	}

	// Stored balances against the posted lines summed afresh, and the
	// trial balance (Σ of every account in the company's currency) at 0.
	balances := map[string]int64{}
	rows, err = db.Query(ctx, `SELECT a.code, coalesce(b.amount, 0), coalesce(l.amount, 0) FROM accounts a
		LEFT JOIN (SELECT account_id, sum(amount) AS amount FROM account_balances GROUP BY account_id) b ON b.account_id = a.id
		LEFT JOIN (SELECT account_id, sum(amount) AS amount FROM journal_lines WHERE posted GROUP BY account_id) l ON l.account_id = a.id`)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for rows.Next() {
		var code string
		var kept, recomputed int64
		if err := rows.Scan(&code, &kept, &recomputed); err != nil {
			t.Fatal(err)
		}
		if kept != recomputed {
			t.Errorf("account %s: stored balance %d, lines sum to %d", code, kept, recomputed)
		}
		if kept != 0 {
			balances[code] = kept
		}
		total += kept
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if total != 0 {
		t.Errorf("the trial balance is off by %d", total)
	}

	// The company's verify (the hash chain and every balance), run here
	// as the route runs it but through the superuser's connection: right
	// after a crash the API may still answer 503 while its revocation
	// listener reconnects, and a session may not have survived.
	// One snapshot (repeatable read): posts keep landing meanwhile, and
	// a head read before a commit and a chain walked after it disagree.
	err = pgx.BeginTxFunc(ctx, db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT set_config('search_path', $1, true), set_config('app.company_id', $2, true)", r.schema, r.company); err != nil {
			return err
		}
		rep, err := ledger.Verify(ctx, tx)
		if err == nil && !rep.OK {
			t.Errorf("verify: %+v", rep.Problems)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Numbers are gapless whatever was in doubt: as many posted entries
	// as the highest number.
	var count, maxNumber int64
	if err := db.QueryRow(ctx, "SELECT count(*), coalesce(max(number), 0) FROM journal_entries WHERE status = 'posted'").Scan(&count, &maxNumber); err != nil {
		t.Fatal(err)
	}
	if count != maxNumber {
		t.Errorf("%d posted entries numbered up to %d: a gap", count, maxNumber)
	}
	if !exact {
		return
	}
	for code := range want {
		if want[code] == 0 {
			delete(want, code)
		}
	}
	if !maps.Equal(balances, want) {
		t.Errorf("stored balances %v, acknowledged posts sum to %v", balances, want)
	}
	got := make([]int64, 0, len(acked))
	for _, a := range acked {
		got = append(got, numbers[a.ID]) // as stored: the answers were compared above
	}
	slices.Sort(got)
	for i, n := range got {
		if n != int64(i+1) {
			t.Fatalf("posting numbers are not 1..%d: position %d holds %d", len(got), i+1, n)
		}
	}
	if count != int64(len(acked)) {
		t.Errorf("%d posted entries, %d acknowledged", count, len(acked))
	}
}
