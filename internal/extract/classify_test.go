package extract

import "testing"

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       Class
	}{
		{"invoice", kenyanInvoice, ClassInvoice},
		{"receipt", mpesaReceipt, ClassReceipt},
		{"till tax invoice with change", malaysianReceipt, ClassReceipt},
		{"simplified tax invoice from a till", "SIMPLIFIED TAX INVOICE\nINVOICE NO: CS00014769\nCASHIER: 01\nTOTAL 12.00\nCASH 12.00", ClassReceipt},
		{"tax invoice on credit", "TAX INVOICE\nInvoice No: 42\nBill To: Baraka Traders\nDue Date: 30/04/2024\nCash discount 2%\nTotal KES 1,160.00\nThank you for your business", ClassInvoice},
		{"credit note", "CREDIT NOTE\nCredit Note No: CN-001\nOriginal invoice INV-2024-0042\nReturned goods\nTotal KES 1,160.00", ClassCreditNote},
		{"contract", "SERVICE AGREEMENT\nThis agreement is made between the parties hereinafter called the Client and the Provider.\nWHEREAS the Provider shall deliver...\nIN WITNESS WHEREOF the parties have signed.", ClassContract},
		{"bank statement", "STATEMENT OF ACCOUNT\nAccount Number: 0123456789\nOpening balance 10,000.00\nDate Transaction Debit Credit\nClosing balance 12,500.00", ClassStatement},
		{"m-pesa statement", "M-PESA STATEMENT\nReceipt No. Completion Time Details Paid In Withdrawn Balance\nQFG7H8 2024-03-01 Pay Bill 1,000.00", ClassStatement},
		{"report", "QUARTERLY REPORT\nExecutive Summary\nAnalysis of sales in the quarter\nFindings and recommendations", ClassReport},
		{"other", "Dear Sir,\nPlease find attached the photographs from the site visit.\nRegards", ClassOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, conf := Classify(tc.text)
			if got != tc.want {
				t.Errorf("Classify = %q, want %q", got, tc.want)
			}
			if conf <= 0 || conf > 1 {
				t.Errorf("confidence %v outside (0, 1]", conf)
			}
		})
	}
}

// TestClassifyConfidence: a document with one weak cue is less certain
// than one that names itself and carries the usual fields.
func TestClassifyConfidence(t *testing.T) {
	_, strong := Classify(kenyanInvoice)
	_, weak := Classify("Payment terms: 30 days")
	if weak >= strong {
		t.Errorf("weak evidence %v ≥ strong evidence %v", weak, strong)
	}
}
