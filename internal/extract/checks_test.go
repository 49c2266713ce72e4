package extract

import (
	"strings"
	"testing"
	"time"
)

func TestApplyChecks(t *testing.T) {
	now = func() time.Time { return time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC) }
	t.Cleanup(func() { now = time.Now })
	good := Fields{
		VendorName: "Acme Supplies Limited", VendorPIN: "P051234567X", IssueDate: "2024-03-14", DueDate: "2024-04-13",
		Subtotal: "9500.00", VAT: []VATLine{{"16", "1520.00"}}, Total: "11020.00",
	}
	with := func(change func(*Fields)) Fields {
		f := good
		f.VAT = append([]VATLine(nil), good.VAT...)
		change(&f)
		return f
	}
	for _, tc := range []struct {
		name   string
		fields Fields
		failed map[string]string // check → part of its message
		lower  []string          // fields whose confidence must drop
	}{
		{"all good", good, nil, nil},
		{"totals off", with(func(f *Fields) { f.Total = "11030.00" }),
			map[string]string{CheckTotals: "not the total", CheckInText: "total"}, []string{FieldTotal, FieldSubtotal}},
		{"totals within a cent per VAT line", with(func(f *Fields) {
			f.Subtotal, f.VAT, f.Total = "200.00", []VATLine{{"16", "32.01"}, {"8", "16.00"}}, "248.00"
		}), map[string]string{CheckInText: "vat"}, nil},
		{"totals two cents off with one VAT line", with(func(f *Fields) {
			f.Subtotal, f.VAT, f.Total = "9500.00", []VATLine{{"16", "1520.00"}}, "11020.02"
		}), map[string]string{CheckTotals: "not the total", CheckInText: "total"}, []string{FieldTotal}},
		{"value not in text", with(func(f *Fields) { f.VendorName = "Someone Else Ltd" }),
			map[string]string{CheckInText: "vendor_name"}, []string{FieldVendorName}},
		{"bad PIN", with(func(f *Fields) { f.VendorPIN = "B051234567X" }),
			map[string]string{CheckKRAPIN: "not a KRA PIN", CheckInText: "vendor_pin"}, []string{FieldVendorPIN}},
		{"due before issue", with(func(f *Fields) { f.IssueDate, f.DueDate = "2024-04-13", "2024-03-14" }),
			map[string]string{CheckDates: "before issue date"}, []string{FieldDueDate}},
		{"far future", with(func(f *Fields) { f.IssueDate, f.DueDate = "2031-03-14", "" }),
			map[string]string{CheckDates: "outside", CheckInText: "issue_date"}, []string{FieldIssueDate}},
		{"far past", with(func(f *Fields) { f.IssueDate, f.DueDate = "1980-03-14", "" }),
			map[string]string{CheckDates: "outside", CheckInText: "issue_date"}, []string{FieldIssueDate}},
		{"impossible date", with(func(f *Fields) { f.IssueDate, f.DueDate = "2024-02-30", "" }),
			map[string]string{CheckDates: "not a date", CheckInText: "issue_date"}, []string{FieldIssueDate}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := Extraction{Fields: tc.fields, Confidence: map[string]float64{}}
			for _, f := range FieldNames {
				x.Confidence[f] = 0.9
			}
			ApplyChecks(kenyanInvoice, &x)
			if len(x.Checks) != 4 {
				t.Fatalf("checks %+v, want the four", x.Checks)
			}
			for _, c := range x.Checks {
				want, shouldFail := tc.failed[c.Name]
				if c.OK == shouldFail {
					t.Errorf("check %s ok=%v (%s), want ok=%v", c.Name, c.OK, c.Message, !shouldFail)
				}
				if shouldFail && !strings.Contains(c.Message, want) {
					t.Errorf("check %s message %q, want it to mention %q", c.Name, c.Message, want)
				}
			}
			for _, f := range tc.lower {
				if x.Confidence[f] >= 0.9 {
					t.Errorf("confidence[%s] = %v, want lowered", f, x.Confidence[f])
				}
			}
			if tc.failed == nil {
				for f, c := range x.Confidence {
					if c != 0.9 {
						t.Errorf("confidence[%s] = %v, want untouched", f, c)
					}
				}
			}
		})
	}
}

// TestInTextSigns: a credit extracted as negative matches the amount
// printed in brackets or with a trailing minus, and the other way round.
func TestInTextSigns(t *testing.T) {
	for _, tc := range []struct{ text, total string }{
		{"CREDIT NOTE\nTotal (1,160.00)", "-1160.00"},
		{"CREDIT NOTE\nTotal 1,160.00-", "-1160.00"},
		{"CREDIT NOTE\nTotal 1,160.00", "-1160.00"},
		{"CREDIT NOTE\nTotal (1,160.00)", "1160.00"},
	} {
		x := Extraction{Fields: Fields{Total: tc.total}}
		ApplyChecks(tc.text, &x)
		if !x.Checks[1].OK {
			t.Errorf("total %s in %q: %s", tc.total, tc.text, x.Checks[1].Message)
		}
	}
	x := Extraction{Fields: Fields{Total: "-1161.00"}}
	ApplyChecks("CREDIT NOTE\nTotal (1,160.00)", &x)
	if x.Checks[1].OK {
		t.Error("a total not in the text passed in_text")
	}
}

// TestInTextLocalFormats: a value is found in the text whatever local
// spelling the document used.
func TestInTextLocalFormats(t *testing.T) {
	text := "Rechnung\nDatum 14.03.2024\nGesamt EUR 1.053,52\nNetto 908,21\nMwSt 16% 145,31"
	x := Extraction{Fields: Fields{IssueDate: "2024-03-14", Total: "1053.52", Subtotal: "908.21", VAT: []VATLine{{"16", "145.31"}}}}
	ApplyChecks(text, &x)
	for _, c := range x.Checks {
		if !c.OK {
			t.Errorf("check %s: %s", c.Name, c.Message)
		}
	}
}
