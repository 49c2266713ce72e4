// Package extract is a TEMPORARY stand-in for internal/extract, with the
// shapes of the brief's contract, so that internal/ai compiles before the
// text and fields helpers' branches land. Deleted on merging h-fields;
// internal/ai then imports internal/extract instead.
package extract

import (
	"context"
	"regexp"
	"time"
)

type Class string

type Word struct {
	Text       string  `json:"text"`
	Confidence float64 `json:"confidence"`
}

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
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Message string `json:"message,omitempty"`
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

type Template struct{ Vendor string }

type Input struct {
	Text            string
	Words           []Word
	Class           Class
	ClassConfidence float64
	Templates       []Template
}

type Engine interface {
	Name() string
	Extract(ctx context.Context, in Input) (Extraction, error)
}

type rules struct{}

func (rules) Name() string { return "rules" }
func (rules) Extract(ctx context.Context, in Input) (Extraction, error) {
	return Extraction{Class: in.Class, Engine: "rules", Confidence: map[string]float64{}}, nil
}

func Rules() Engine { return rules{} }

func ApplyChecks(text string, x *Extraction) {
	x.Checks = append(x.Checks, Check{Name: "totals", OK: true})
}

var amt = regexp.MustCompile(`^-?[0-9]+([.][0-9]+)?$`)

func NormalizeAmount(s string) string {
	if !amt.MatchString(s) {
		return ""
	}
	return s
}

func ParseDate(s string) (string, bool) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return "", false
	}
	return t.Format("2006-01-02"), true
}

func ValidKRAPIN(s string) bool { return regexp.MustCompile(`^[AP]\d{9}[A-Z]$`).MatchString(s) }
