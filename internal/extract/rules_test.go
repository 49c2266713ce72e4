package extract

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// kenyanInvoice is a text-layer invoice as pdftotext -layout prints it.
const kenyanInvoice = `TAX INVOICE
Acme Supplies Limited
P.O. Box 12345-00100, Nairobi
Tel: +254 20 123 4567
PIN: P051234567X

Invoice No: INV-2024-0042
Invoice Date: 14/03/2024
Due Date: 13 Apr 2024
Bill To: Baraka Traders Ltd

Description            Qty   Unit Price      Amount
Printer paper A4        10       450.00    4,500.00
Toner cartridge          2     2,500.00    5,000.00

Subtotal                               KES 9,500.00
VAT 16%                                KES 1,520.00
Total                                 KES 11,020.00
Payment: M-PESA Paybill 123456
`

// utilityInvoice names its customer, with the customer's own PIN, under
// the vendor's: neither is the vendor.
const utilityInvoice = `SAFARICOM PLC
P.O. Box 66827-00800 Nairobi
KRA PIN: P051137225V
TAX INVOICE
Invoice Number: SI-000123
Invoice Date: 1 March 2024
Due Date: 31 March 2024
Customer: Wanjiku & Sons Ltd
Customer PIN: P052222222Q
Description                     Amount (KES)
Fibre 40Mbps March               6,034.48
Sub Total                        6,034.48
VAT @ 16%                          965.52
Total Amount Due                 7,000.00
Pay via M-PESA Paybill 888880`

// mpesaReceipt is a till receipt as tesseract reads it.
const mpesaReceipt = `NAIVAS SUPERMARKET
Moi Avenue, Nairobi
PIN P000601471Z
CASH SALE RECEIPT
Date: 02.05.23 14:31
Bread 400g          2 x 65.00    130.00
Milk 500ml          1 x 60.00     60.00
TOTAL                       KSh 190.00
MPESA                           190.00
CHANGE                            0.00
Thank you for shopping with us`

// malaysianReceipt is a SROIE-style receipt, one transcribed line a line.
const malaysianReceipt = `ABC HO TRADING
NO.2&4
TAMAN DESA HARMONI.
81100 JOHOR BAHRU JOHOR
07-355 2616
CASH BILL :
01-143008
DATE
:
09/01/2019 8:01:11 PM
DESCRIPTION
QTY
PRICE
AMOUNT
PLASTIC
2
15.50
31.00
TOTAL :
31.00
ROUNDING ADJ
0.02
TOTAL ROUNDED
31.00
CASH RECEIVED :
101.00
CHANGE :
70.00
***THANK YOU***`

func TestRulesExtract(t *testing.T) {
	now = func() time.Time { return time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC) }
	t.Cleanup(func() { now = time.Now })
	for _, tc := range []struct {
		name  string
		text  string
		class Class
		want  Fields
	}{
		{"kenyan invoice", kenyanInvoice, ClassInvoice, Fields{
			VendorName: "ACME SUPPLIES LIMITED", VendorPIN: "P051234567X", Customer: "Baraka Traders Ltd",
			DocumentNumber: "INV-2024-0042", IssueDate: "2024-03-14", DueDate: "2024-04-13", Currency: "KES",
			Subtotal: "9500.00", VAT: []VATLine{{Rate: "16", Amount: "1520.00"}}, Total: "11020.00",
			Lines: []Line{
				{Description: "Printer paper A4", Quantity: "10", UnitPrice: "450.00", Amount: "4500.00"},
				{Description: "Toner cartridge", Quantity: "2", UnitPrice: "2500.00", Amount: "5000.00"},
			},
			PaymentMethod: "mpesa",
		}},
		{"utility invoice", utilityInvoice, ClassInvoice, Fields{
			VendorName: "SAFARICOM PLC", VendorPIN: "P051137225V", Customer: "Wanjiku & Sons Ltd",
			DocumentNumber: "SI-000123", IssueDate: "2024-03-01", DueDate: "2024-03-31", Currency: "KES",
			Subtotal: "6034.48", VAT: []VATLine{{Rate: "16", Amount: "965.52"}}, Total: "7000.00", PaymentMethod: "mpesa",
		}},
		{"m-pesa receipt", mpesaReceipt, ClassReceipt, Fields{
			VendorName: "NAIVAS SUPERMARKET", VendorPIN: "P000601471Z", IssueDate: "2023-05-02", Currency: "KES",
			Total: "190.00",
			Lines: []Line{
				{Description: "Bread 400g", Quantity: "2", UnitPrice: "65.00", Amount: "130.00"},
				{Description: "Milk 500ml", Quantity: "1", UnitPrice: "60.00", Amount: "60.00"},
			},
			PaymentMethod: "mpesa",
		}},
		{"malaysian receipt", malaysianReceipt, ClassReceipt, Fields{
			VendorName: "ABC HO TRADING", IssueDate: "2019-01-09", Total: "31.00", PaymentMethod: "cash",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, err := Rules().Extract(context.Background(), Input{Text: tc.text})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(x.Fields, tc.want) {
				got, _ := json.MarshalIndent(x.Fields, "", " ")
				want, _ := json.MarshalIndent(tc.want, "", " ")
				t.Errorf("fields:\n%s\nwant:\n%s", got, want)
			}
			if x.Class != tc.class {
				t.Errorf("class %q, want %q", x.Class, tc.class)
			}
			if x.Engine != "rules" || x.PromptVersion != "" || x.Duration <= 0 {
				t.Errorf("engine %q, prompt version %q, duration %v", x.Engine, x.PromptVersion, x.Duration)
			}
			for _, c := range x.Checks {
				if !c.OK {
					t.Errorf("check %s failed: %s", c.Name, c.Message)
				}
			}
			for _, f := range []string{FieldVendorName, FieldTotal, FieldIssueDate} {
				if c := x.Confidence[f]; c <= 0 || c > 1 {
					t.Errorf("confidence[%s] = %v, want in (0, 1]", f, c)
				}
			}
		})
	}
}

// TestRulesWordConfidence: poor OCR lowers every field's confidence.
func TestRulesWordConfidence(t *testing.T) {
	good, err := Rules().Extract(context.Background(), Input{Text: kenyanInvoice, Words: []Word{{"Total", 96}, {"11,020.00", 95}}})
	if err != nil {
		t.Fatal(err)
	}
	poor, err := Rules().Extract(context.Background(), Input{Text: kenyanInvoice, Words: []Word{{"Total", 30}, {"11,020.00", 20}}})
	if err != nil {
		t.Fatal(err)
	}
	if poor.Confidence[FieldTotal] >= good.Confidence[FieldTotal] {
		t.Errorf("total confidence with poor OCR %v, with good OCR %v", poor.Confidence[FieldTotal], good.Confidence[FieldTotal])
	}
}

func TestRulesCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Rules().Extract(ctx, Input{Text: kenyanInvoice}); err == nil {
		t.Fatal("extract with a cancelled context succeeded")
	}
}

func TestExtractionJSON(t *testing.T) {
	x := Extraction{Class: ClassInvoice, ClassConfidence: 0.9, Fields: Fields{Total: "1.00", VAT: []VATLine{{"16", "0.14"}}},
		Confidence: map[string]float64{"total": 0.8}, Engine: "rules", Duration: 1500 * time.Millisecond}
	b, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["duration_ms"] != float64(1500) || m["class_confidence"] != 0.9 || m["engine"] != "rules" {
		t.Errorf("JSON %s", b)
	}
	fields := m["fields"].(map[string]any)
	for _, k := range FieldNames {
		if _, ok := fields[k]; !ok {
			t.Errorf("fields JSON has no %q: %s", k, b)
		}
	}
	var back Extraction
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, x) {
		t.Errorf("round trip %+v, want %+v", back, x)
	}
}

// FuzzRules: whatever the text, the engine answers without panicking, with
// plain decimal amounts and real ISO dates.
func FuzzRules(f *testing.F) {
	for _, s := range []string{kenyanInvoice, mpesaReceipt, malaysianReceipt, utilityInvoice, "", "TOTAL\n\n:", "(((1,2,3.4.5)))\f\fRM-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		x, err := Rules().Extract(context.Background(), Input{Text: text})
		if err != nil {
			t.Fatal(err)
		}
		amounts := []string{x.Fields.Total, x.Fields.Subtotal}
		for _, v := range x.Fields.VAT {
			amounts = append(amounts, v.Amount)
		}
		for _, l := range x.Fields.Lines {
			amounts = append(amounts, l.Amount, l.UnitPrice)
		}
		for _, a := range amounts {
			if a != "" && NormalizeAmount(a) != a {
				t.Fatalf("amount %q is not canonical", a)
			}
		}
		for _, d := range []string{x.Fields.IssueDate, x.Fields.DueDate} {
			if d == "" {
				continue
			}
			if _, err := time.Parse(time.DateOnly, d); err != nil {
				t.Fatalf("date %q: %v", d, err)
			}
		}
		if len(x.Checks) != 4 {
			t.Fatalf("checks %+v", x.Checks)
		}
	})
}
