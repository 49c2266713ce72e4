package statements

import (
	"strings"
	"testing"

	"github.com/vanta-ledger/vanta/internal/ledger"
)

// TestEntriesFromMpesaStatement checks the drafts of the M-Pesa
// statement: one per Completed row, draft status, source statement,
// reference the receipt number, the M-Pesa account debited for money in
// and credited for money out with suspense the other side, every entry
// balanced, every key distinct and of the documented form.
func TestEntriesFromMpesaStatement(t *testing.T) {
	o := mustOptions(t, "mpesa", "", "", "")
	rows := readFile(t, "testdata/mpesa.csv", o)
	got := Entries(rows, o, "", 2)
	if len(got) != len(rows) {
		t.Fatalf("%d entries for %d rows", len(got), len(rows))
	}
	keys := map[string]bool{}
	for i, e := range got {
		r := rows[i]
		if e.Status != ledger.StatusDraft || e.Source != ledger.SourceStatement || e.Reference != r.TransactionID || e.Date != r.Date {
			t.Errorf("entry %d: %+v for row %+v", i, e, r)
		}
		if len(e.Lines) != 2 || e.Lines[0].Account != "1110" || e.Lines[1].Account != "1900" ||
			e.Lines[0].Amount != r.Amount || e.Lines[0].Amount+e.Lines[1].Amount != 0 {
			t.Errorf("entry %d lines %+v for amount %d", i, e.Lines, r.Amount)
		}
		if keys[e.IdempotencyKey] {
			t.Errorf("key %q twice", e.IdempotencyKey)
		}
		keys[e.IdempotencyKey] = true
	}
	for _, want := range []string{
		"statement:1110:TC14AB1XQ2",          // a receipt of one row
		"statement:1110:TC19KL6CV7:-11200",   // the withdrawal's charge, sharing its receipt
		"statement:1110:TC19KL6CV7:-1000000", // the withdrawal
		"statement:1110:TC15CD2YR3:-5300",
	} {
		if !keys[want] {
			t.Errorf("no key %q among %v", want, keys)
		}
	}
}

// TestEntriesKeysWithoutIDs: rows without a transaction id get keys from
// date, amount, description and their occurrence, so two equal bank
// charges on one day are two entries, and the same statement read again
// gives the same keys.
func TestEntriesKeysWithoutIDs(t *testing.T) {
	o := mustOptions(t, "bank", "", "1100", "")
	rows := readFile(t, "testdata/bank.csv", o)
	a := Entries(rows, o, "KES", 2)
	b := Entries(readFile(t, "testdata/bank.csv", o), o, "KES", 2)
	var fees []string
	for i := range a {
		if a[i].IdempotencyKey != b[i].IdempotencyKey {
			t.Errorf("key %d differs between two reads: %q, %q", i, a[i].IdempotencyKey, b[i].IdempotencyKey)
		}
		if a[i].Description == "LEDGER FEE" {
			fees = append(fees, a[i].IdempotencyKey)
		}
		if a[i].Lines[0].Currency != "KES" {
			t.Errorf("currency %q", a[i].Lines[0].Currency)
		}
	}
	if len(fees) != 2 || fees[0] == fees[1] || !strings.HasPrefix(fees[0], "statement:1100:2026-03-02:-30000:") ||
		!strings.HasSuffix(fees[0], ":1") || !strings.HasSuffix(fees[1], ":2") {
		t.Errorf("fee keys %q", fees)
	}
}

// TestEntriesOverlappingStatements: rows shared by two statements whose
// periods overlap get the same keys, so the second import adds only the
// new rows.
func TestEntriesOverlappingStatements(t *testing.T) {
	o := mustOptions(t, "bank", "", "", "")
	head := "Date,Description,Amount,Reference\n"
	first := head + "2026-03-01,a,10.00,R1\n2026-03-02,fee,-1.00,\n2026-03-02,fee,-1.00,\n2026-03-03,b,5.00,R2\n"
	second := head + "2026-03-02,fee,-1.00,\n2026-03-02,fee,-1.00,\n2026-03-03,b,5.00,R2\n2026-03-04,c,7.00,R3\n"
	keysOf := func(s string) map[string]bool {
		rows, err := Read(strings.NewReader(s), o)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, e := range Entries(rows, o, "", 2) {
			m[e.IdempotencyKey] = true
		}
		return m
	}
	k1, k2 := keysOf(first), keysOf(second)
	var fresh []string
	for k := range k2 {
		if !k1[k] {
			fresh = append(fresh, k)
		}
	}
	if len(fresh) != 1 || fresh[0] != "statement:1100:R3" {
		t.Errorf("new keys in the second statement: %q, want only statement:1100:R3", fresh)
	}
}

// TestEntriesScaleAndAccounts: explicit account and suspense codes are
// used; amounts read at one scale are shifted to the currency's.
func TestEntriesScaleAndAccounts(t *testing.T) {
	rows := []Row{{Line: 2, Date: "2026-01-01", Amount: 123400, Scale: 2, TransactionID: "X"}}
	o := Options{Preset: PresetBank, Account: "Assets:Bank:Checking", Suspense: "Assets:Suspense"}
	tests := []struct {
		scale int
		want  int64
	}{{2, 123400}, {3, 1234000}, {0, 1234}}
	for _, tt := range tests {
		e := Entries(rows, o, "", tt.scale)
		if len(e) != 1 || e[0].Lines[0].Amount != tt.want || e[0].Lines[0].Account != "Assets:Bank:Checking" ||
			e[0].Lines[1].Account != "Assets:Suspense" || e[0].IdempotencyKey != "statement:Assets:Bank:Checking:X" ||
			e[0].Description != "Statement transaction X" {
			t.Errorf("scale %d: %+v", tt.scale, e)
		}
	}
}

// TestEntriesLongKeys: a key past the ledger's 200 characters becomes a
// hash, the same for the same row.
func TestEntriesLongKeys(t *testing.T) {
	rows := []Row{{Line: 2, Date: "2026-01-01", Amount: 1, Scale: 2, TransactionID: strings.Repeat("R", 190)}}
	o := Options{Preset: PresetBank, Account: "1100"}
	a, b := Entries(rows, o, "", 2), Entries(rows, o, "", 2)
	if k := a[0].IdempotencyKey; len(k) > 200 || !strings.HasPrefix(k, "statement:sha256:") || k != b[0].IdempotencyKey {
		t.Errorf("long key %q", k)
	}
}
