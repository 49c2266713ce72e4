package ledger

import (
	"context"
	"errors"
	"testing"
)

// TestStoreReadsText covers the API's path: decimal strings at each
// currency's scale, a foreign line at a rate and another at a known base,
// and refusals naming the line's field (with entries[i]. in a batch).
func TestStoreReadsText(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	st := Store{DB: e.app}
	got, replayed, err := st.Post(ctx, e.a, TextEntry{Date: "2026-04-01", Status: StatusPosted, Lines: []TextLine{
		{Account: "1100", Debit: "100.00", Currency: "USD", Rate: "129.455"},
		{Account: "4000", Credit: "100.00", Currency: "USD", Rate: "129.455"},
		{Account: "1110", Debit: "5000", Currency: "UGX", BaseDebit: "175.00"},
		{Account: "4100", Credit: "5000", Currency: "UGX", BaseCredit: "175.00"},
	}}, tester)
	if err != nil || replayed {
		t.Fatalf("Post = %v, %v", err, replayed)
	}
	// 100.00 USD × 129.455 = 12945.50 KES exactly; 5000 UGX at a cost of 175.00.
	want := []struct {
		amount, base int64
		rate         string
	}{{10000, 1294550, "129.455"}, {-10000, -1294550, "129.455"}, {5000, 17500, ""}, {-5000, -17500, ""}}
	for i, w := range want {
		l := got.Lines[i]
		if l.Amount != w.amount || l.Base != w.base || l.Rate != w.rate {
			t.Errorf("line %d = %+v, want %+v", i, l, w)
		}
	}
	stored, err := st.Get(ctx, e.a, got.ID)
	if err != nil || stored.Lines[0].Rate != "129.455" || stored.Lines[2].Scale != 0 || stored.Lines[2].BaseScale != 2 {
		t.Errorf("stored = %+v, %v", stored, err)
	}
	for _, c := range []struct {
		name, rule, field string
		lines             []TextLine
	}{
		{"too many decimals", RuleInvalid, "lines[0].debit", []TextLine{{Account: "1100", Debit: "1.001"}, {Account: "4000", Credit: "1.00"}}},
		{"both sides", RuleInvalid, "lines[1].debit", []TextLine{{Account: "1100", Debit: "1.00"}, {Account: "4000", Debit: "1.00", Credit: "1.00"}}},
		{"no side", RuleZeroAmount, "lines[1].debit", []TextLine{{Account: "1100", Debit: "1.00"}, {Account: "4000"}}},
		{"negative", RuleInvalid, "lines[0].debit", []TextLine{{Account: "1100", Debit: "-1.00"}, {Account: "4000", Credit: "-1.00"}}},
		{"unknown currency", RuleUnknownCurrency, "lines[0].currency", []TextLine{{Account: "1100", Debit: "1", Currency: "XYZ"}, {Account: "4000", Credit: "1"}}},
	} {
		_, _, err := st.Post(ctx, e.a, TextEntry{Date: "2026-04-01", Status: StatusPosted, Lines: c.lines}, tester)
		var re *RuleError
		if !isRule(err, c.rule) || !asRule(err, &re) || re.Field != c.field {
			t.Errorf("%s: %v; want %s at %s", c.name, err, c.rule, c.field)
		}
	}
	good := TextEntry{Date: "2026-04-02", Status: StatusPosted, Lines: []TextLine{{Account: "1100", Debit: "1.00"}, {Account: "3000", Credit: "1.00"}}}
	bad := TextEntry{Date: "2026-04-02", Status: StatusPosted, Lines: []TextLine{{Account: "1100", Debit: "1.00"}, {Account: "3000", Credit: "2.00"}}}
	_, err = st.PostBatch(ctx, e.a, []TextEntry{good, bad}, tester)
	var re *RuleError
	if !asRule(err, &re) || re.Rule != RuleUnbalanced || re.Field != "entries[1].lines" {
		t.Errorf("batch with a bad second entry = %v; want unbalanced at entries[1].lines", err)
	}
	if rep, err := st.Verify(ctx, e.a); err != nil || !rep.OK || rep.Entries != 1 {
		t.Errorf("verify after the refused batch = %+v, %v; want the one entry", rep, err)
	}
}

func asRule(err error, re **RuleError) bool { return errors.As(err, re) }
