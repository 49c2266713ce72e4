package extracttest

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
// (7,750.00 + 1,240.00 = 8,990.00) so the totals check passes.
func Invoice() Sample {
	return Sample{
		Lines: []string{
			"NAIROBI OFFICE SUPPLIES LTD",
			"Moi Avenue, P.O. Box 10234-00100, Nairobi",
			"KRA PIN: P051234567X   Tel: 0722 000 111",
			"",
			"TAX INVOICE",
			"Invoice No: INV-2026-0042",
			"Invoice Date: 14/03/2026",
			"Due Date: 13/04/2026",
			"Bill To: Vanta Test Company Ltd",
			"",
			"Description              Qty     Unit Price        Amount",
			"A4 Printing Paper          5         650.00      3,250.00",
			"Toner Cartridge HP 85A     1       4,500.00      4,500.00",
			"",
			"Subtotal                                  KES   7,750.00",
			"VAT 16%                                   KES   1,240.00",
			"TOTAL                                     KES   8,990.00",
			"",
			"Payment: M-PESA Paybill 522522 Account INV-2026-0042",
		},
		VendorName:     "NAIROBI OFFICE SUPPLIES LTD",
		VendorPIN:      "P051234567X",
		Customer:       "Vanta Test Company Ltd",
		DocumentNumber: "INV-2026-0042",
		IssueDate:      "2026-03-14",
		DueDate:        "2026-04-13",
		Currency:       "KES",
		Subtotal:       "7750.00",
		VATRate:        "16",
		VATAmount:      "1240.00",
		Total:          "8990.00",
		PaymentMethod:  "M-PESA",
		Items: []Item{
			{"A4 Printing Paper", "5", "650.00", "3250.00"},
			{"Toner Cartridge HP 85A", "1", "4500.00", "4500.00"},
		},
	}
}
