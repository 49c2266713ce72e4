package extracttest

import "fmt"

// Sample is a test document's text and the values a correct extraction
// finds in it. Amounts are exact decimal strings without thousands
// separators, dates ISO, as the extract.Fields contract has them; Items
// are the line items in order; PaymentMethod is as printed.
type Sample struct {
	Lines []string

	VendorName     string
	VendorPIN      string
	Customer       string
	DocumentNumber string
	IssueDate      string
	DueDate        string
	Currency       string
	Subtotal       string
	VATRate        string
	VATAmount      string
	Total          string
	PaymentMethod  string
	Items          []Item
}

// Item is one line item of a Sample.
type Item struct{ Description, Quantity, UnitPrice, Amount string }

// Invoice is a Kenyan tax invoice as small suppliers print them: KRA PIN,
// dates day-first, amounts with thousands separators, VAT at 16% on the
// subtotal, a total in KES and M-Pesa payment details. The numbers add up
// (7,750.00 + 1,240.00 = 8,990.00) so the totals check passes. It is
// InvoiceVariant(42).
func Invoice() Sample { return InvoiceVariant(42) }

// InvoiceVariant is the same invoice with number INV-2026-<i> and a
// quantity of paper depending on i, so that a corpus of many invoices is
// not one file many times (a duplicate upload would be answered from the
// first one's result).
func InvoiceVariant(i int) Sample {
	const paper, toner = 65000, 450000 // unit prices in cents
	qty := (i+7)%9 + 1
	sub := int64(qty*paper + toner)
	vat := sub * 16 / 100
	total := sub + vat
	number := fmt.Sprintf("INV-2026-%04d", i)
	row := func(label string, cents int64) string {
		return fmt.Sprintf("%-42s KES %10s", label, grouped(cents))
	}
	return Sample{
		Lines: []string{
			"NAIROBI OFFICE SUPPLIES LTD",
			"Moi Avenue, P.O. Box 10234-00100, Nairobi",
			"KRA PIN: P051234567X   Tel: 0722 000 111",
			"",
			"TAX INVOICE",
			"Invoice No: " + number,
			"Invoice Date: 14/03/2026",
			"Due Date: 13/04/2026",
			"Bill To: Vanta Test Company Ltd",
			"",
			"Description              Qty     Unit Price        Amount",
			fmt.Sprintf("%-24s %3d %14s %13s", "A4 Printing Paper", qty, grouped(paper), grouped(int64(qty*paper))),
			fmt.Sprintf("%-24s %3d %14s %13s", "Toner Cartridge HP 85A", 1, grouped(toner), grouped(toner)),
			"",
			row("Subtotal", sub),
			row("VAT 16%", vat),
			row("TOTAL", total),
			"",
			"Payment: M-PESA Paybill 522522 Account " + number,
		},
		VendorName:     "NAIROBI OFFICE SUPPLIES LTD",
		VendorPIN:      "P051234567X",
		Customer:       "Vanta Test Company Ltd",
		DocumentNumber: number,
		IssueDate:      "2026-03-14",
		DueDate:        "2026-04-13",
		Currency:       "KES",
		Subtotal:       plain(sub),
		VATRate:        "16",
		VATAmount:      plain(vat),
		Total:          plain(total),
		PaymentMethod:  "M-PESA",
		Items: []Item{
			{"A4 Printing Paper", fmt.Sprint(qty), plain(paper), plain(int64(qty * paper))},
			{"Toner Cartridge HP 85A", "1", plain(toner), plain(toner)},
		},
	}
}

// plain is cents as an exact decimal string: 775000 → "7750.00".
func plain(cents int64) string { return fmt.Sprintf("%d.%02d", cents/100, cents%100) }

// grouped is cents as printed on Kenyan invoices: 775000 → "7,750.00".
func grouped(cents int64) string {
	s := fmt.Sprint(cents / 100)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return fmt.Sprintf("%s.%02d", s, cents%100)
}
