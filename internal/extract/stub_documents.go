// Package extract reads text from documents and extracts fields.
//
// This file is a stand-in of the agreed contract used by internal/documents
// until the owners' branches (h-text, h-fields) land; it is deleted on
// merging them.
package extract

import "time"


type Class string

const (
	ClassInvoice    Class = "invoice"
	ClassReceipt    Class = "receipt"
	ClassCreditNote Class = "credit_note"
	ClassContract   Class = "contract"
	ClassStatement  Class = "statement"
	ClassReport     Class = "report"
	ClassOther      Class = "other"
)

func Classify(text string) (Class, float64) { return ClassOther, 0 }

type VATLine struct {
	Rate   string `json:"rate"`
	Amount string `json:"amount"`
}
type Line struct {
	Description string `json:"description"`
	Quantity    string `json:"quantity"`
	UnitPrice   string `json:"unit_price"`
	Amount      string `json:"amount"`
}
type Fields struct {
	VendorName     string    `json:"vendor_name"`
	VendorPIN      string    `json:"vendor_pin"`
	Customer       string    `json:"customer"`
	DocumentNumber string    `json:"document_number"`
	IssueDate      string    `json:"issue_date"`
	DueDate        string    `json:"due_date"`
	Currency       string    `json:"currency"`
	Subtotal       string    `json:"subtotal"`
	VAT            []VATLine `json:"vat"`
	Total          string    `json:"total"`
	Lines          []Line    `json:"lines"`
	PaymentMethod  string    `json:"payment_method"`
}
type Check struct {
	Name    string
	OK      bool
	Message string
}
type Extraction struct {
	Class           Class
	ClassConfidence float64
	Fields          Fields
	Confidence      map[string]float64
	Checks          []Check
	Engine          string
	Model           string
	PromptVersion   string
	Duration        time.Duration
	FallbackReason  string
}
type Template struct {
	Vendor string
}
type Input struct {
	Text            string
	Words           []Word
	Class           Class
	ClassConfidence float64
	Templates       []Template
}

func ApplyChecks(text string, x *Extraction) {}

func LearnTemplate(text string, corrected Fields) (Template, bool) {
	return Template{Vendor: corrected.VendorName}, corrected.VendorName != ""
}
