package invoicing

import (
	"context"
	"testing"
)

// TestTaxCodeVersions: the seeded Kenyan codes with their eTIMS letters,
// a rate change as a new version from its date (documents on either side
// of it take their own rate), overlapping versions refused, withholding
// VAT refused as a line's tax, and the codes of one company unseen by the
// other.
func TestTaxCodeVersions(t *testing.T) {
	ctx := context.Background()
	e := setup(t, 4)
	codes := must(e.store.TaxCodes(ctx, e.a, "2026-03-01"))
	got := map[string]string{}
	for _, c := range codes {
		got[c.Code] = c.Kind + " " + c.Rate + " " + c.ETIMSLetter
	}
	want := map[string]string{"VAT16": "standard 16 B", "VAT8": "standard 8 E", "ZERO": "zero_rated 0 C", "EXEMPT": "exempt 0 A",
		"NONVAT": "non_vat 0 D", "WHVAT2": "withholding_vat 2 "}
	if len(got) != len(want) {
		t.Errorf("seeded codes %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	var vat16 TaxCode
	for _, c := range codes {
		if c.Code == "VAT16" {
			vat16 = c
		}
	}
	// A new rate from 1 July: refused while the old version is open, taken
	// once it ends on 30 June.
	next := TaxCodeInput{Code: "VAT16", Name: "VAT 15%", Kind: "standard", Rate: "15", ETIMSLetter: "B", EffectiveFrom: "2026-07-01"}
	if _, err := e.store.CreateTaxCode(ctx, e.a, next, clerk); !isField(err, "effective_from") {
		t.Errorf("an overlapping version: %v", err)
	}
	end := "2026-06-30"
	must(e.store.UpdateTaxCode(ctx, e.a, vat16.ID, TaxCodePatch{EffectiveTo: &end}, clerk))
	must(e.store.CreateTaxCode(ctx, e.a, next, clerk))
	c := must(e.store.CreateContact(ctx, e.a, ContactInput{Kind: "customer", Name: "Mombasa Traders"}, clerk))
	for date, tax := range map[string]string{"2026-06-30": "16.00", "2026-07-01": "15.00"} {
		d := must(e.store.CreateDraft(ctx, e.a, KindInvoice, DocumentInput{ContactID: c.ID.String(), IssueDate: date,
			Lines: []LineInput{{Quantity: "1", UnitPrice: "100.00", TaxCode: "vat16"}}}, clerk))
		if d.TaxTotal != tax {
			t.Errorf("VAT16 on %s: %s, want %s", date, d.TaxTotal, tax)
		}
	}
	for name, line := range map[string]LineInput{
		"withholding VAT as a line's tax": {Quantity: "1", UnitPrice: "1.00", TaxCode: "WHVAT2"},
		"an unknown code":                 {Quantity: "1", UnitPrice: "1.00", TaxCode: "NOSUCH"},
	} {
		if _, err := e.store.CreateDraft(ctx, e.a, KindInvoice, DocumentInput{ContactID: c.ID.String(), IssueDate: "2026-03-01",
			Lines: []LineInput{line}}, clerk); !isField(err, "lines[0].tax_code") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := e.store.TaxCode(ctx, e.b, vat16.ID); err != ErrNotFound {
		t.Errorf("A's tax code read in B: %v", err)
	}
	if _, err := e.store.CreateDraft(ctx, e.b, KindInvoice, DocumentInput{ContactID: c.ID.String(), IssueDate: "2026-03-01",
		Lines: []LineInput{{Quantity: "1", UnitPrice: "1.00", TaxCode: "VAT16"}}}, clerk); !isField(err, "contact_id") {
		t.Errorf("A's contact on B's invoice: %v", err)
	}
	for _, pin := range []string{"P05123456", "X051234567Z", "P0512345678Z"} {
		if _, err := e.store.CreateContact(ctx, e.a, ContactInput{Kind: "vendor", Name: "Bad PIN", KRAPIN: pin}, clerk); !isField(err, "kra_pin") {
			t.Errorf("KRA PIN %q: %v", pin, err)
		}
	}
}
