package ai

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/vanta-ledger/vanta/internal/extract"
)

// PromptVersion names the prompt and schema below; every LLM extraction
// records it, so that a change of either can be told apart in the data.
const PromptVersion = "fields-v1"

// The output schema of extract.Fields. Every field is required and every
// string and array is bounded: llama-server turns the schema into a
// grammar, so the model cannot stop early, ramble past n_predict or emit
// anything but these keys, and a model with random weights still yields
// valid JSON. Empty strings mean "not found"; dates, amounts, the PIN and
// the currency are held to their formats by patterns, which the grammar
// enforces too.
const (
	patDate     = `^((19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]))?$`
	patAmount   = `^(-?[0-9]{1,12}([.][0-9]{1,2})?)?$`
	patRate     = `^[0-9]{1,2}([.][0-9]{1,2})?$`
	patQuantity = `^([0-9]{1,6}([.][0-9]{1,3})?)?$`
	patCurrency = `^([A-Z]{3})?$`
	patPIN      = `^([AP][0-9]{9}[A-Z])?$`
	maxName     = 64
	maxNumber   = 32
	maxMethod   = 24
	maxDesc     = 48
	maxVAT      = 3
	maxLines    = 5
)

func str(maxLen int) map[string]any {
	return map[string]any{"type": "string", "maxLength": maxLen}
}

func pattern(p string) map[string]any {
	return map[string]any{"type": "string", "pattern": p}
}

func object(props map[string]any, order ...string) map[string]any {
	return map[string]any{
		"type": "object", "properties": props, "required": order,
		"additionalProperties": false,
	}
}

// fieldOrder is the order of the JSON keys of extract.Fields.
var fieldOrder = []string{
	"vendor_name", "vendor_pin", "customer", "document_number", "issue_date", "due_date",
	"currency", "subtotal", "vat", "total", "lines", "payment_method",
}

// FieldsSchema is the JSON schema of extract.Fields sent as json_schema.
func FieldsSchema() map[string]any {
	vat := object(map[string]any{"rate": pattern(patRate), "amount": pattern(patAmount)}, "rate", "amount")
	line := object(map[string]any{
		"description": str(maxDesc), "quantity": pattern(patQuantity),
		"unit_price": pattern(patAmount), "amount": pattern(patAmount),
	}, "description", "quantity", "unit_price", "amount")
	return object(map[string]any{
		"vendor_name":     str(maxName),
		"vendor_pin":      pattern(patPIN),
		"customer":        str(maxName),
		"document_number": str(maxNumber),
		"issue_date":      pattern(patDate),
		"due_date":        pattern(patDate),
		"currency":        pattern(patCurrency),
		"subtotal":        pattern(patAmount),
		"vat":             map[string]any{"type": "array", "items": vat, "maxItems": maxVAT},
		"total":           pattern(patAmount),
		"lines":           map[string]any{"type": "array", "items": line, "maxItems": maxLines},
		"payment_method":  str(maxMethod),
	}, fieldOrder...)
}

// schemaJSON is FieldsSchema encoded once.
var schemaJSON = func() json.RawMessage {
	b, err := json.Marshal(FieldsSchema())
	if err != nil {
		panic(err)
	}
	return b
}()

// maxOutputTokens bounds the tokens a schema-shaped answer can take:
// every character of the longest answer (values at their limits, the
// grammar's optional whitespace at its most) as one token. A request
// reserves this much of the context for the answer.
const maxOutputTokens = 1400

// Prompt is the fields-v1 prompt: instructions, then the document text
// (already cut to fit the model's context by the router).
func Prompt(text string) string {
	var b strings.Builder
	b.WriteString("You read business documents (invoices, receipts, credit notes) from Kenya and elsewhere ")
	b.WriteString("and fill in a JSON object with their fields. Use \"\" for anything not in the document. ")
	b.WriteString("Dates as YYYY-MM-DD. Amounts as plain decimals with a dot and no thousands separators (1053.52). ")
	b.WriteString("Currency as an ISO 4217 code. vendor_pin is the vendor's KRA PIN (like P051234567X). ")
	b.WriteString("vat lists each VAT rate (16) with its amount.\n\nDocument:\n")
	b.WriteString(text)
	b.WriteString("\n\nJSON:\n")
	return b.String()
}

// EstimateTokens guesses how many tokens text takes: about four bytes a
// token for Latin text in llama-family vocabularies, more for digits and
// punctuation, so we round up generously: a too-high estimate only sends
// a document to a bigger model or to rules, a too-low one overflows.
func EstimateTokens(text string) int {
	return len(text)/3 + 1
}

// SchemaError says a model's answer does not hold to the schema.
type SchemaError struct{ Reason string }

func (e *SchemaError) Error() string { return "answer breaks the schema: " + e.Reason }

var (
	reDate     = regexp.MustCompile(patDate)
	reAmount   = regexp.MustCompile(patAmount)
	reRate     = regexp.MustCompile(patRate)
	reQuantity = regexp.MustCompile(patQuantity)
	reCurrency = regexp.MustCompile(patCurrency)
	rePIN      = regexp.MustCompile(patPIN)
)

// parseAnswer checks a model's answer strictly against the schema: one
// JSON object, every key present, no other key, every value within its
// bounds and patterns. The grammar should make this hold; we check anyway,
// since a server without grammar support, a truncated answer or a bug
// must not reach the books.
func parseAnswer(content string) (extract.Fields, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(content))
	if err := dec.Decode(&raw); err != nil {
		return extract.Fields{}, &SchemaError{Reason: "not a JSON object: " + err.Error()}
	}
	if dec.More() {
		return extract.Fields{}, &SchemaError{Reason: "text after the JSON object"}
	}
	for _, k := range fieldOrder {
		if _, ok := raw[k]; !ok {
			return extract.Fields{}, &SchemaError{Reason: "missing " + k}
		}
	}
	if len(raw) != len(fieldOrder) {
		for k := range raw {
			if !contains(fieldOrder, k) {
				return extract.Fields{}, &SchemaError{Reason: fmt.Sprintf("unknown key %q", k)}
			}
		}
	}
	var w extract.Fields
	dec = json.NewDecoder(strings.NewReader(content))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return extract.Fields{}, &SchemaError{Reason: err.Error()}
	}
	checks := []fieldCheck{
		{"vendor_name", w.VendorName, maxName, nil},
		{"vendor_pin", w.VendorPIN, 0, rePIN},
		{"customer", w.Customer, maxName, nil},
		{"document_number", w.DocumentNumber, maxNumber, nil},
		{"issue_date", w.IssueDate, 0, reDate},
		{"due_date", w.DueDate, 0, reDate},
		{"currency", w.Currency, 0, reCurrency},
		{"subtotal", w.Subtotal, 0, reAmount},
		{"total", w.Total, 0, reAmount},
		{"payment_method", w.PaymentMethod, maxMethod, nil},
	}
	if len(w.VAT) > maxVAT {
		return extract.Fields{}, &SchemaError{Reason: fmt.Sprintf("vat: %d entries (at most %d)", len(w.VAT), maxVAT)}
	}
	for i, v := range w.VAT {
		checks = append(checks,
			fieldCheck{fmt.Sprintf("vat[%d].rate", i), v.Rate, 0, reRate},
			fieldCheck{fmt.Sprintf("vat[%d].amount", i), v.Amount, 0, reAmount})
	}
	if len(w.Lines) > maxLines {
		return extract.Fields{}, &SchemaError{Reason: fmt.Sprintf("lines: %d entries (at most %d)", len(w.Lines), maxLines)}
	}
	for i, l := range w.Lines {
		p := fmt.Sprintf("lines[%d].", i)
		checks = append(checks,
			fieldCheck{p + "description", l.Description, maxDesc, nil},
			fieldCheck{p + "quantity", l.Quantity, 0, reQuantity},
			fieldCheck{p + "unit_price", l.UnitPrice, 0, reAmount},
			fieldCheck{p + "amount", l.Amount, 0, reAmount})
	}
	for _, c := range checks {
		if c.max > 0 && utf8.RuneCountInString(c.v) > c.max {
			return extract.Fields{}, &SchemaError{Reason: fmt.Sprintf("%s: longer than %d characters", c.name, c.max)}
		}
		if c.re != nil && !c.re.MatchString(c.v) {
			return extract.Fields{}, &SchemaError{Reason: fmt.Sprintf("%s: %q does not match %s", c.name, c.v, c.re)}
		}
	}
	return w, nil
}

// fieldCheck is one value's bound: a length in characters, a pattern.
type fieldCheck struct {
	name, v string
	max     int
	re      *regexp.Regexp
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
