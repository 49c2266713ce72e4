package extract

import (
	"context"
	"encoding/json"
	"time"
)

// Class is what kind of document a text is.
type Class string

// The classes Classify can answer.
const (
	ClassInvoice    Class = "invoice"
	ClassReceipt    Class = "receipt"
	ClassCreditNote Class = "credit_note"
	ClassContract   Class = "contract"
	ClassStatement  Class = "statement" // bank or M-Pesa statement
	ClassReport     Class = "report"
	ClassOther      Class = "other"
)

// Classes lists every class, for validation and schemas.
var Classes = []Class{ClassInvoice, ClassReceipt, ClassCreditNote, ClassContract, ClassStatement, ClassReport, ClassOther}

// Valid reports whether c is one of Classes.
func (c Class) Valid() bool {
	for _, k := range Classes {
		if c == k {
			return true
		}
	}
	return false
}

// VATLine is the tax charged at one rate: both exact decimal strings
// ("16", "144.83").
type VATLine struct {
	Rate   string `json:"rate"`
	Amount string `json:"amount"`
}

// Line is one line item; quantities and amounts are exact decimal strings.
type Line struct {
	Description string `json:"description"`
	Quantity    string `json:"quantity"`
	UnitPrice   string `json:"unit_price"`
	Amount      string `json:"amount"`
}

// Fields is the one schema both engines fill. Amounts are exact decimal
// strings ("1053.52"), dates ISO (YYYY-MM-DD), currency ISO 4217; an
// unknown value is "".
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

// Field names as they appear in JSON and in Extraction.Confidence.
const (
	FieldVendorName     = "vendor_name"
	FieldVendorPIN      = "vendor_pin"
	FieldCustomer       = "customer"
	FieldDocumentNumber = "document_number"
	FieldIssueDate      = "issue_date"
	FieldDueDate        = "due_date"
	FieldCurrency       = "currency"
	FieldSubtotal       = "subtotal"
	FieldVAT            = "vat"
	FieldTotal          = "total"
	FieldLines          = "lines"
	FieldPaymentMethod  = "payment_method"
)

// FieldNames lists every field of Fields by its JSON name.
var FieldNames = []string{FieldVendorName, FieldVendorPIN, FieldCustomer, FieldDocumentNumber,
	FieldIssueDate, FieldDueDate, FieldCurrency, FieldSubtotal, FieldVAT, FieldTotal, FieldLines, FieldPaymentMethod}

// scalars returns the single-valued fields by JSON name, so checks and
// templates can walk them without reflection.
func (f *Fields) scalars() map[string]*string {
	return map[string]*string{
		FieldVendorName:     &f.VendorName,
		FieldVendorPIN:      &f.VendorPIN,
		FieldCustomer:       &f.Customer,
		FieldDocumentNumber: &f.DocumentNumber,
		FieldIssueDate:      &f.IssueDate,
		FieldDueDate:        &f.DueDate,
		FieldCurrency:       &f.Currency,
		FieldSubtotal:       &f.Subtotal,
		FieldTotal:          &f.Total,
		FieldPaymentMethod:  &f.PaymentMethod,
	}
}

// Check is the outcome of one consistency check on an extraction
// ("totals", "in_text", "kra_pin", "dates").
type Check struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Message string `json:"message,omitempty"`
}

// Names of the checks ApplyChecks runs.
const (
	CheckTotals = "totals"
	CheckInText = "in_text"
	CheckKRAPIN = "kra_pin"
	CheckDates  = "dates"
)

// Extraction is what an engine made of one document.
type Extraction struct {
	Class           Class              `json:"class"`
	ClassConfidence float64            `json:"class_confidence"`
	Fields          Fields             `json:"fields"`
	Confidence      map[string]float64 `json:"confidence"`
	Checks          []Check            `json:"checks"`
	Engine          string             `json:"engine"`
	Model           string             `json:"model,omitempty"`
	PromptVersion   string             `json:"prompt_version,omitempty"`
	Duration        time.Duration      `json:"-"`
	FallbackReason  string             `json:"fallback_reason,omitempty"`
}

// extractionJSON carries Duration as whole milliseconds: nanoseconds in an
// API body would only confuse a reader.
type extractionJSON struct {
	extractionAlias
	DurationMS int64 `json:"duration_ms"`
}

type extractionAlias Extraction

// MarshalJSON writes Duration as duration_ms.
func (x Extraction) MarshalJSON() ([]byte, error) {
	return json.Marshal(extractionJSON{extractionAlias(x), x.Duration.Milliseconds()})
}

// UnmarshalJSON reads duration_ms back into Duration.
func (x *Extraction) UnmarshalJSON(b []byte) error {
	var j extractionJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*x = Extraction(j.extractionAlias)
	x.Duration = time.Duration(j.DurationMS) * time.Millisecond
	return nil
}

// Input is what an engine extracts from: the document's text, its words
// with OCR confidences, the class Classify gave, and the company's learned
// vendor templates (tried before the generic rules).
type Input struct {
	Text            string
	Words           []Word
	Class           Class
	ClassConfidence float64
	Templates       []Template
}

// Engine turns a document's text into fields.
type Engine interface {
	Name() string
	Extract(ctx context.Context, in Input) (Extraction, error)
}
