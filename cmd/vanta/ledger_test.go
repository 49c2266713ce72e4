package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/auth"
)

// The ledger's objects for the isolation suite: a throwaway account and a
// throwaway draft per probe, and bodies that pass every check for a role
// allowed the route (drafts only where a user may call it), so a probe
// that passes the gate never changes another probe's objects.
func init() {
	isolationParams[":aid"] = isolationParam{func(in *instance, god, companyID string, i int) string {
		var a struct{ ID string }
		in.mustCall("POST", "/api/v1/companies/"+companyID+"/accounts", god, map[string]string{
			"code": fmt.Sprintf("P%d-%s", i, uuid.NewString()[:6]), "name": "Probe account", "type": "asset"}, 201, &a)
		return a.ID
	}}
	isolationParams[":eid"] = isolationParam{func(in *instance, god, companyID string, i int) string {
		var e struct{ ID string }
		in.mustCall("POST", "/api/v1/companies/"+companyID+"/journal-entries", god, probeDraft(i), 201, &e)
		return e.ID
	}}
	isolationBodies["POST /accounts"] = func(i int) any {
		return map[string]string{"code": fmt.Sprintf("Q%d-%s", i, uuid.NewString()[:6]), "name": "Probe", "type": "expense"}
	}
	isolationBodies["PATCH /accounts/:aid"] = func(int) any { return map[string]any{"name": "Renamed probe"} }
	isolationBodies["POST /journal-entries"] = func(i int) any { return probeDraft(i) }
	isolationBodies["PATCH /journal-entries/:eid"] = func(i int) any { return probeDraft(i) }
	isolationBodies["POST /journal-entries/batch"] = func(i int) any {
		return map[string]any{"entries": []any{probeDraft(i), probeDraft(i + 1)}}
	}
	isolationBodies["POST /journal-entries/:eid/reverse"] = func(int) any { return map[string]string{"date": "2026-02-01"} }
	isolationBodies["PUT /period-lock"] = func(int) any { return map[string]any{"lock_date": nil} }
}

func probeDraft(i int) map[string]any {
	return map[string]any{"date": "2026-01-15", "description": fmt.Sprintf("probe %d", i), "lines": []map[string]string{
		{"account": "6000", "debit": "1.00"}, {"account": "1100", "credit": "1.00"}}}
}

type apiEntry struct {
	ID             string
	Number         *int64
	Status         string
	IdempotencyKey *string `json:"idempotency_key"`
	Reverses       *string
	ReversedBy     *string `json:"reversed_by"`
	ApprovedBy     *string `json:"approved_by"`
	Lines          []map[string]string
}

type ledgerError struct {
	Error struct {
		Code, Message, Field, Rule string
	}
}

// ledgerState is what a refused request must leave as it was: every
// entry (id, status, number) and every account of the company.
func ledgerState(t *testing.T, in *instance, base, token string) string {
	t.Helper()
	var es, as struct{ Items []json.RawMessage }
	in.mustCall("GET", base+"/journal-entries?limit=1000", token, nil, 200, &es)
	in.mustCall("GET", base+"/accounts?limit=1000", token, nil, 200, &as)
	b, _ := json.Marshal([]any{es.Items, as.Items})
	return string(b)
}

// TestLedgerAPIRefusesAttackers sends every state-changing ledger route
// an attacker's request (a role the matrix refuses, another company's
// object, a body breaking a rule) and sees it refused with the rule named
// and nothing changed; and the same routes working for the roles that may.
func TestLedgerAPIRefusesAttackers(t *testing.T) {
	w := newWorld(t)
	in := w.in
	base := "/api/v1/companies/" + w.a.ID
	bBase := "/api/v1/companies/" + w.b.ID
	admin, manager := w.byRole[auth.RoleAdmin].AccessToken, w.byRole[auth.RoleManager].AccessToken
	user, viewer := w.byRole[auth.RoleUser].AccessToken, w.byRole[auth.RoleViewer].AccessToken
	lines := func(ls ...[2]string) []map[string]string {
		out := []map[string]string{}
		for _, l := range ls {
			side := "debit"
			amount := l[1]
			if strings.HasPrefix(amount, "-") {
				side, amount = "credit", amount[1:]
			}
			out = append(out, map[string]string{"account": l[0], side: amount})
		}
		return out
	}
	entry := func(date, status string, ls ...[2]string) map[string]any {
		return map[string]any{"date": date, "description": "test", "status": status, "lines": lines(ls...)}
	}
	// refused sends a request that must be refused with status and code
	// (and rule, when given) and change nothing of A's books.
	refused := func(desc, method, path, token string, body any, status int, code, rule string) {
		t.Helper()
		before := ledgerState(t, in, base, admin)
		got, data := in.call(method, path, token, body)
		var e ledgerError
		_ = json.Unmarshal(data, &e)
		if got != status || e.Error.Code != code || (rule != "" && e.Error.Rule != rule) {
			t.Errorf("%s: %d %s; want %d %s rule %q", desc, got, data, status, code, rule)
		}
		if after := ledgerState(t, in, base, admin); after != before {
			t.Errorf("%s changed the books", desc)
		}
	}

	// A posted entry, replayed by its key; the key with another body is
	// a conflict.
	sale := entry("2026-02-01", "posted", [2]string{"1110", "1160.00"}, [2]string{"4000", "-1000.00"}, [2]string{"2200", "-160.00"})
	sale["idempotency_key"] = "sale-1"
	var first, again apiEntry
	in.mustCall("POST", base+"/journal-entries", manager, sale, 201, &first)
	if first.Number == nil || *first.Number != 1 || first.Status != "posted" || first.Lines[0]["debit"] != "1160.00" || first.Lines[0]["base_debit"] != "1160.00" {
		t.Fatalf("posted entry = %+v", first)
	}
	in.mustCall("POST", base+"/journal-entries", manager, sale, 200, &again)
	if again.ID != first.ID || *again.Number != 1 {
		t.Errorf("replay = %+v, want the first entry %s", again, first.ID)
	}
	sale2 := entry("2026-02-01", "posted", [2]string{"1110", "1160.00"}, [2]string{"4000", "-1160.00"})
	sale2["idempotency_key"] = "sale-1"
	refused("the key with another body", "POST", base+"/journal-entries", manager, sale2, 409, "idempotency_conflict", "idempotency_conflict")

	// Roles: a user drafts but may not post; a viewer does neither.
	refused("a user posting", "POST", base+"/journal-entries", user, entry("2026-02-02", "posted", [2]string{"6000", "5.00"}, [2]string{"1100", "-5.00"}), 403, "forbidden", "")
	refused("a viewer drafting", "POST", base+"/journal-entries", viewer, entry("2026-02-02", "", [2]string{"6000", "5.00"}, [2]string{"1100", "-5.00"}), 403, "forbidden", "")
	var draft apiEntry
	in.mustCall("POST", base+"/journal-entries", user, entry("2026-02-02", "", [2]string{"6000", "5.00"}, [2]string{"1100", "-5.00"}), 201, &draft)
	if draft.Status != "draft" || draft.Number != nil {
		t.Errorf("user's draft = %+v", draft)
	}

	// B's own account code that A does not have, and an inactive account
	// of A's.
	in.mustCall("POST", bBase+"/accounts", w.bAdmin.AccessToken, map[string]string{"code": "7777", "name": "B's own", "type": "expense"}, 201, nil)
	var cash struct{ ID string }
	var chart struct{ Items []struct{ ID, Code string } }
	in.mustCall("GET", base+"/accounts?limit=1000", viewer, nil, 200, &chart)
	for _, a := range chart.Items {
		if a.Code == "1120" {
			cash.ID = a.ID
		}
	}
	in.mustCall("PATCH", base+"/accounts/"+cash.ID, manager, map[string]any{"active": false}, 200, nil)
	in.mustCall("PUT", base+"/period-lock", admin, map[string]any{"lock_date": "2026-01-31"}, 200, nil)
	usd := entry("2026-02-03", "posted", [2]string{"1100", "10.00"}, [2]string{"4000", "-10.00"})
	for _, l := range usd["lines"].([]map[string]string) {
		l["currency"] = "USD"
	}
	for _, c := range []struct {
		name, rule, field string
		body              map[string]any
	}{
		{"unbalanced", "unbalanced", "lines", entry("2026-02-03", "posted", [2]string{"1100", "100.00"}, [2]string{"4000", "-90.00"})},
		{"one line", "one_line", "lines", entry("2026-02-03", "posted", [2]string{"1100", "100.00"})},
		{"locked period", "period_locked", "date", entry("2026-01-31", "posted", [2]string{"1100", "1.00"}, [2]string{"4000", "-1.00"})},
		{"inactive account", "inactive_account", "lines[0].account", entry("2026-02-03", "posted", [2]string{"1120", "1.00"}, [2]string{"4000", "-1.00"})},
		{"other company's account", "unknown_account", "lines[1].account", entry("2026-02-03", "posted", [2]string{"1100", "1.00"}, [2]string{"7777", "-1.00"})},
		{"zero amount", "zero_amount", "lines[0].debit", entry("2026-02-03", "posted", [2]string{"1100", "0.00"}, [2]string{"4000", "-0.00"})},
		{"foreign currency without a rate", "missing_rate", "lines[0].rate", usd},
	} {
		refused(c.name, "POST", base+"/journal-entries", manager, c.body, 400, "validation_failed", c.rule)
		_, data := in.call("POST", base+"/journal-entries", manager, c.body)
		var e ledgerError
		_ = json.Unmarshal(data, &e)
		if e.Error.Field != c.field {
			t.Errorf("%s: field %q, want %q", c.name, e.Error.Field, c.field)
		}
	}

	// Another company's entry and account are not found under A.
	var bEntry apiEntry
	in.mustCall("POST", bBase+"/journal-entries", w.bAdmin.AccessToken, probeDraft(1), 201, &bEntry)
	for _, r := range []struct{ method, path string }{
		{"GET", "/journal-entries/" + bEntry.ID}, {"PATCH", "/journal-entries/" + bEntry.ID}, {"DELETE", "/journal-entries/" + bEntry.ID},
		{"POST", "/journal-entries/" + bEntry.ID + "/approve"}, {"POST", "/journal-entries/" + bEntry.ID + "/reverse"},
	} {
		var body any
		switch r.method {
		case "PATCH":
			body = probeDraft(2)
		case "POST":
			body = map[string]string{}
		}
		if r.method == "GET" {
			if code, data := in.call(r.method, base+r.path, manager, body); code != 404 {
				t.Errorf("%s B's entry under A: %d %s", r.method, code, data)
			}
			continue
		}
		refused(r.method+" "+r.path+" of B's entry under A", r.method, base+r.path, manager, body, 404, "not_found", "")
	}
	in.mustCall("GET", bBase+"/journal-entries/"+bEntry.ID, w.bAdmin.AccessToken, nil, 200, nil)

	// Approval: not a user's; a manager's posts; then the entry is
	// immutable, and reversed once.
	refused("a user approving", "POST", base+"/journal-entries/"+draft.ID+"/approve", user, nil, 403, "forbidden", "")
	var approved apiEntry
	in.mustCall("POST", base+"/journal-entries/"+draft.ID+"/approve", manager, nil, 200, &approved)
	if approved.Status != "posted" || approved.Number == nil || *approved.Number != 2 || approved.ApprovedBy == nil {
		t.Errorf("approved = %+v", approved)
	}
	refused("approving twice", "POST", base+"/journal-entries/"+draft.ID+"/approve", manager, nil, 409, "not_draft", "not_draft")
	refused("editing a posted entry", "PATCH", base+"/journal-entries/"+draft.ID, manager, probeDraft(3), 409, "not_draft", "not_draft")
	refused("deleting a posted entry", "DELETE", base+"/journal-entries/"+draft.ID, manager, nil, 409, "not_draft", "not_draft")
	refused("a user reversing", "POST", base+"/journal-entries/"+draft.ID+"/reverse", user, map[string]string{}, 403, "forbidden", "")
	refused("reversing into the locked period", "POST", base+"/journal-entries/"+draft.ID+"/reverse", manager, map[string]string{"date": "2026-01-10"}, 400, "validation_failed", "period_locked")
	var rev apiEntry
	in.mustCall("POST", base+"/journal-entries/"+draft.ID+"/reverse", manager, map[string]string{"date": "2026-02-05"}, 201, &rev)
	if rev.Reverses == nil || *rev.Reverses != draft.ID || rev.Lines[0]["credit"] != "5.00" {
		t.Errorf("reversal = %+v", rev)
	}
	refused("reversing twice", "POST", base+"/journal-entries/"+draft.ID+"/reverse", manager, map[string]string{"date": "2026-02-05"}, 409, "already_reversed", "already_reversed")

	// Drafts: a user edits and deletes their draft; a viewer may not.
	var d2 apiEntry
	in.mustCall("POST", base+"/journal-entries", user, probeDraft(4), 201, &d2)
	refused("a viewer editing a draft", "PATCH", base+"/journal-entries/"+d2.ID, viewer, probeDraft(5), 403, "forbidden", "")
	refused("a viewer deleting a draft", "DELETE", base+"/journal-entries/"+d2.ID, viewer, nil, 403, "forbidden", "")
	refused("an unbalanced edit", "PATCH", base+"/journal-entries/"+d2.ID, user, entry("2026-02-06", "", [2]string{"6000", "2.00"}, [2]string{"1100", "-1.00"}), 400, "validation_failed", "unbalanced")
	in.mustCall("PATCH", base+"/journal-entries/"+d2.ID, user, entry("2026-02-06", "", [2]string{"6000", "2.00"}, [2]string{"1100", "-2.00"}), 200, nil)
	in.mustCall("DELETE", base+"/journal-entries/"+d2.ID, user, nil, 204, nil)

	// The chart: a user or viewer may not change it; a code is unique;
	// an account with postings is deactivated, never deleted.
	refused("a user adding an account", "POST", base+"/accounts", user, map[string]string{"code": "1999", "name": "X", "type": "asset"}, 403, "forbidden", "")
	refused("a viewer deactivating an account", "PATCH", base+"/accounts/"+cash.ID, viewer, map[string]any{"active": true}, 403, "forbidden", "")
	refused("a code twice", "POST", base+"/accounts", manager, map[string]string{"code": "1100", "name": "Bank again", "type": "asset"}, 409, "duplicate_code", "duplicate_code")
	refused("a bad type", "POST", base+"/accounts", manager, map[string]string{"code": "1999", "name": "X", "type": "cash"}, 400, "validation_failed", "invalid")
	var bank string
	for _, a := range chart.Items {
		if a.Code == "1110" {
			bank = a.ID
		}
	}
	refused("deleting an account with postings", "DELETE", base+"/accounts/"+bank, manager, nil, 409, "account_in_use", "account_in_use")
	refused("a user deleting an account", "DELETE", base+"/accounts/"+cash.ID, user, nil, 403, "forbidden", "")
	var bAccounts struct{ Items []struct{ ID, Code string } }
	in.mustCall("GET", bBase+"/accounts?limit=1000", w.bAdmin.AccessToken, nil, 200, &bAccounts)
	refused("PATCH of B's account under A", "PATCH", base+"/accounts/"+bAccounts.Items[0].ID, manager, map[string]any{"active": false}, 404, "not_found", "")
	refused("DELETE of B's account under A", "DELETE", base+"/accounts/"+bAccounts.Items[0].ID, manager, nil, 404, "not_found", "")
	var fresh struct{ ID string }
	in.mustCall("POST", base+"/accounts", manager, map[string]string{"code": "1999", "name": "Unused", "type": "asset", "parent": "1100"}, 201, &fresh)
	in.mustCall("DELETE", base+"/accounts/"+fresh.ID, manager, nil, 204, nil)

	// The period lock is the admin's; verify is the audit reader's.
	refused("a manager moving the lock", "PUT", base+"/period-lock", manager, map[string]any{"lock_date": nil}, 403, "forbidden", "")
	refused("a bad lock date", "PUT", base+"/period-lock", admin, map[string]any{"lock_date": "31/01/2026"}, 400, "validation_failed", "")
	if code, _ := in.call("GET", base+"/ledger/verify", manager, nil); code != 403 {
		t.Errorf("a manager verifying: %d, want 403", code)
	}

	// A batch is all or nothing.
	good := func(i int) map[string]any {
		return entry("2026-02-10", "posted", [2]string{"1100", fmt.Sprintf("%d.00", i+1)}, [2]string{"3000", fmt.Sprintf("-%d.00", i+1)})
	}
	refused("a batch with one bad entry", "POST", base+"/journal-entries/batch", manager, map[string]any{"entries": []any{
		good(0), entry("2026-02-10", "posted", [2]string{"1100", "1.00"}, [2]string{"3000", "-2.00"}), good(2)}}, 400, "validation_failed", "unbalanced")
	refused("a user's batch", "POST", base+"/journal-entries/batch", user, map[string]any{"entries": []any{good(0)}}, 403, "forbidden", "")
	many := make([]any, 1001)
	for i := range many {
		many[i] = good(i)
	}
	refused("a batch of 1001", "POST", base+"/journal-entries/batch", manager, map[string]any{"entries": many}, 400, "validation_failed", "too_many")
	var batch struct{ Items []apiEntry }
	in.mustCall("POST", base+"/journal-entries/batch", manager, map[string]any{"entries": []any{good(0), good(1), good(2)}}, 201, &batch)
	if len(batch.Items) != 3 || *batch.Items[2].Number != 6 {
		t.Errorf("batch = %+v", batch.Items)
	}

	var v struct {
		OK       bool
		Entries  int64
		Problems []struct {
			EntryID *string `json:"entry_id"`
			Number  *int64
			Problem string
		}
	}
	in.mustCall("GET", base+"/ledger/verify", admin, nil, 200, &v)
	if !v.OK || v.Entries != 6 {
		t.Fatalf("verify = %+v", v)
	}

	// Acceptance 7 through the API: a posted line changed in SQL by the
	// database's superuser, past the triggers, is named by verify.
	ctx := context.Background()
	pg := pgConnect(t, w.data)
	schema := "company_" + strings.ReplaceAll(w.a.ID, "-", "")
	if _, err := pg.Exec(ctx, "SET session_replication_role = replica"); err != nil {
		t.Fatal(err)
	}
	if _, err := pg.Exec(ctx, "UPDATE "+schema+".journal_lines SET amount = amount + 100, base_amount = base_amount + 100 WHERE line_no = 1 AND entry_id = $1", first.ID); err != nil {
		t.Fatal(err)
	}
	in.mustCall("GET", base+"/ledger/verify", admin, nil, 200, &v)
	if v.OK || len(v.Problems) == 0 || v.Problems[0].EntryID == nil || *v.Problems[0].EntryID != first.ID || !strings.Contains(v.Problems[0].Problem, "hash") {
		t.Errorf("verify after a line changed in SQL = %+v", v)
	}
}
