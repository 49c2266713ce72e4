package extract

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// kamau renders one of a vendor's dockets, whose layout the generic rules
// misread: the amount due is "Net to pay", after a deposit, not "TOTAL".
func kamau(docket, date, gross, deposit, net string, below bool) string {
	sep := " "
	if below {
		sep = "\n" // the value on the line under its label, as tills print
	}
	return strings.Join([]string{
		"KAMAU HARDWARE",
		"P.O. Box 1, Thika",
		"Docket:" + sep + docket,
		"Served" + sep + date,
		"Cement 50kg 2 x 750.00 1,500.00",
		"TOTAL" + sep + gross,
		"Less deposit" + sep + deposit,
		"Net to pay" + sep + net,
	}, "\n")
}

func TestLearnTemplate(t *testing.T) {
	ctx := context.Background()
	for _, below := range []bool{false, true} {
		first := kamau("D-7781", "14/03/2024", "1,500.00", "50.00", "1,450.00", below)
		second := kamau("D-7790", "02/04/2024", "3,000.00", "100.00", "2,900.00", below)

		// The generic rules take the gross TOTAL.
		x, err := Rules().Extract(ctx, Input{Text: second})
		if err != nil {
			t.Fatal(err)
		}
		if x.Fields.Total != "3000.00" {
			t.Fatalf("below=%v: without a template total = %q, want the gross 3000.00 (else this test shows nothing)", below, x.Fields.Total)
		}

		// A reviewer corrects the first docket; the template learns where
		// each value was.
		tpl, ok := LearnTemplate(first, Fields{VendorName: "Kamau Hardware", DocumentNumber: "D-7781", IssueDate: "2024-03-14", Total: "1450.00"})
		if !ok {
			t.Fatalf("below=%v: nothing learned", below)
		}
		b, _ := json.Marshal(tpl)
		var back Template
		if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, tpl) {
			t.Fatalf("template JSON round trip: %s → %+v (%v)", b, back, err)
		}
		if tpl.Rules[FieldTotal].Label != "NET TO PAY" {
			t.Errorf("below=%v: total learned beside %q, want NET TO PAY", below, tpl.Rules[FieldTotal].Label)
		}

		// The vendor's next docket, read with the template.
		x, err = Rules().Extract(ctx, Input{Text: second, Templates: []Template{{Vendor: "Someone Else"}, back}})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{FieldVendorName: "Kamau Hardware", FieldDocumentNumber: "D-7790", FieldIssueDate: "2024-04-02", FieldTotal: "2900.00"}
		got := x.Fields.scalars()
		for f, v := range want {
			if *got[f] != v {
				t.Errorf("below=%v: with the template %s = %q, want %q", below, f, *got[f], v)
			}
			if x.Confidence[f] < 0.9 {
				t.Errorf("below=%v: confidence[%s] = %v, want a template's ≥ 0.9", below, f, x.Confidence[f])
			}
		}

		// Another vendor's document is not read with it.
		other := strings.Replace(second, "KAMAU HARDWARE", "OTIENO STORES", 1)
		x, err = Rules().Extract(ctx, Input{Text: other, Templates: []Template{back}})
		if err != nil {
			t.Fatal(err)
		}
		if x.Fields.Total != "3000.00" || x.Fields.VendorName != "OTIENO STORES" {
			t.Errorf("below=%v: another vendor's document read with the template: %+v", below, x.Fields)
		}
	}
}

// TestLearnTemplateLabelled: a value printed twice is learned beside the
// label that names it, not at its first sight.
func TestLearnTemplateLabelled(t *testing.T) {
	text := "MAMA PIMA KIOSK\nSugar 1kg 1 x 190.00 190.00\nAMOUNT DUE 190.00\nCash 200.00\nChange 10.00"
	tpl, ok := LearnTemplate(text, Fields{VendorName: "Mama Pima Kiosk", Total: "190.00"})
	if !ok || tpl.Rules[FieldTotal].Label != "AMOUNT DUE" {
		t.Fatalf("learned %+v, %v; want the total beside AMOUNT DUE", tpl, ok)
	}
}

func TestLearnTemplateNothing(t *testing.T) {
	text := kamau("D-7781", "14/03/2024", "1,500.00", "50.00", "1,450.00", false)
	for _, tc := range []struct {
		name string
		f    Fields
	}{
		{"no vendor", Fields{Total: "1450.00"}},
		{"values not in the text", Fields{VendorName: "Kamau Hardware", Total: "999.99", DocumentNumber: "X-1"}},
	} {
		if tpl, ok := LearnTemplate(text, tc.f); ok {
			t.Errorf("%s: learned %+v", tc.name, tpl)
		}
	}
	// A PIN alone keys a template.
	if _, ok := LearnTemplate(text+"\nPIN P051234567X", Fields{VendorPIN: "P051234567X", Total: "1450.00"}); !ok {
		t.Error("a PIN-keyed correction learned nothing")
	}
}

// TestTemplateDamaged: a template read back from storage with nonsense in
// it is ignored, never a panic.
func TestTemplateDamaged(t *testing.T) {
	text := kamau("D-7790", "02/04/2024", "3,000.00", "100.00", "2,900.00", false)
	for _, r := range []TemplateRule{
		{Label: ""}, {Label: "   "}, {Label: "NET TO PAY", Offset: -3}, {Label: "NET TO PAY", Occurrence: -1},
		{Label: "NET TO PAY", Offset: 1000}, {Label: "NET TO PAY", Occurrence: 1000}, {Label: "NET TO PAY", Aligned: true, Offset: 5},
	} {
		tpl := Template{Vendor: "Kamau Hardware", Rules: map[string]TemplateRule{FieldTotal: r, FieldIssueDate: r, FieldCustomer: r}}
		x, err := Rules().Extract(context.Background(), Input{Text: text, Templates: []Template{tpl}})
		if err != nil {
			t.Fatal(err)
		}
		if x.Fields.Total != "3000.00" && x.Fields.Total != "2900.00" {
			t.Errorf("rule %+v: total %q", r, x.Fields.Total)
		}
	}
}

// TestTemplatesSROIE: a reviewer corrects the first receipt of each vendor
// that appears more than once; the templates learned from those
// corrections must not make the vendor's later receipts worse, field by
// field, than the generic rules read them.
func TestTemplatesSROIE(t *testing.T) {
	samples := sroie(t, SplitTrain)
	groups := map[string][]Sample{}
	var order []string
	for _, s := range samples {
		k := normSpace(s.Entities["company"])
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], s)
	}
	ctx := context.Background()
	without, with := map[string]int{}, map[string]int{}
	n := 0
	for _, k := range order {
		g := groups[k]
		if len(g) < 2 {
			continue
		}
		date, _ := ParseDate(g[0].Entities["date"])
		tpl, ok := LearnTemplate(g[0].Text(), Fields{VendorName: g[0].Entities["company"], IssueDate: date, Total: NormalizeAmount(g[0].Entities["total"])})
		if !ok {
			continue // no value sits beside a label this engine trusts
		}
		for _, s := range g[1:] {
			n++
			for _, run := range []struct {
				tally     map[string]int
				templates []Template
			}{{without, nil}, {with, []Template{tpl}}} {
				x, err := Rules().Extract(ctx, Input{Text: s.Text(), Templates: run.templates})
				if err != nil {
					t.Fatal(err)
				}
				p := Predict(x, "")
				for _, f := range []string{"total", "date", "company"} {
					if MatchEntity(f, p[f], s.Entities[f]) {
						run.tally[f]++
					}
				}
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d receipts from repeated vendors", n)
	}
	for _, f := range []string{"total", "date", "company"} {
		if with[f] < without[f] {
			t.Errorf("%s: %d of %d right with templates, %d without", f, with[f], n, without[f])
		}
	}
	t.Logf("%d receipts: with templates %v, without %v", n, with, without)
}
