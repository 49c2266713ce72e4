// Package statements turns bank and M-Pesa statements exported as CSV into
// draft journal entries. Each statement row becomes one draft that moves
// the money between the statement's account (the bank or M-Pesa account)
// and the company's suspense account; an accountant then re-points the
// suspense side to the right account and approves. Every draft carries an
// idempotency key made from the account and the row's transaction id, so
// importing the same statement twice, or two overlapping statements, posts
// nothing twice.
//
// Reading is pure (Read, Entries); posting goes through the ledger.
package statements

import (
	"fmt"
	"strings"
	"time"
)

// Fields a column mapping can name. A statement has either one signed
// amount column or a money-in and a money-out column (paid_in/withdrawn
// on M-Pesa, credit/debit on a bank statement; a bank's "debit" is money
// leaving the account).
const (
	FieldDate          = "date"
	FieldDescription   = "description"
	FieldAmount        = "amount"
	FieldPaidIn        = "paid_in"
	FieldWithdrawn     = "withdrawn"
	FieldCredit        = "credit"
	FieldDebit         = "debit"
	FieldTransactionID = "transaction_id"
	FieldBalance       = "balance"
	FieldStatus        = "status"
)

var knownFields = []string{FieldDate, FieldDescription, FieldAmount, FieldPaidIn, FieldWithdrawn,
	FieldCredit, FieldDebit, FieldTransactionID, FieldBalance, FieldStatus}

// Presets.
const (
	PresetMpesa = "mpesa"
	PresetBank  = "bank"
)

// DefaultScale is the scale amounts are read at when the caller does not
// say otherwise: KES, the currency of every M-Pesa statement, has two
// minor-unit digits.
const DefaultScale = 2

// Options say how to read one statement.
type Options struct {
	Preset     string            // "mpesa", "bank" or "" (then Mapping is required)
	Mapping    map[string]string // field → column header: date, description, amount | paid_in + withdrawn (or debit + credit), transaction_id, balance, status
	Account    string            // the bank/M-Pesa account code the statement is for; default: the account with role mpesa (preset mpesa) or bank
	DateFormat string            // Go layout; presets have defaults and try the common ones

	// Suspense is the code of the account the other side of each draft
	// goes to; "" means the account with role suspense (Resolve looks
	// it up; Entries falls back to the seeded template's code).
	Suspense string
	// Scale is the number of minor-unit digits amounts are read at, the
	// statement currency's. ParseOptions sets DefaultScale; Resolve sets
	// the company currency's. An amount with more decimals than this is
	// an error naming its line rather than a silent rounding.
	Scale int
}

// OptionError is a statement option the caller got wrong: Field is the
// query parameter (preset, mapping, account, date_format).
type OptionError struct {
	Field   string
	Message string
}

func (e *OptionError) Error() string { return "statement " + e.Field + ": " + e.Message }

// LineError is a statement row that cannot be read: Line is the 1-based
// line of the file where the row starts, Field the statement field
// ("date", "amount", …; "header" when no header row is found).
type LineError struct {
	Line    int
	Field   string
	Message string
	Err     error // the ledger's refusal of the row's entry, when that is the cause
}

func (e *LineError) Unwrap() error { return e.Err }

func (e *LineError) Error() string {
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Message)
}

// Row is one transaction of a statement.
type Row struct {
	Line          int    // 1-based line of the file the row starts on
	Date          string // YYYY-MM-DD
	Description   string
	Amount        int64  // minor units at Scale; money into the account > 0, out < 0, never 0
	Scale         int    // the scale Amount is at (Options.Scale when read)
	TransactionID string // "" when the statement has none for this row
	Balance       *int64 // the running balance after the row, nil when the statement shows none
	// Warnings about this row that do not stop the import, such as the
	// first break in the running balance.
	Warnings []string
}

// Warning is a row's warning with the line it is about, for an import's
// report.
type Warning struct {
	Line    int
	Message string
}

// Warnings lists the warnings of rows in order.
func Warnings(rows []Row) []Warning {
	var out []Warning
	for _, r := range rows {
		for _, w := range r.Warnings {
			out = append(out, Warning{Line: r.Line, Message: w})
		}
	}
	return out
}

// ParseOptions reads the import's query parameters: preset "mpesa", "bank"
// or ""; mapping "date:Completion Time,description:Details,…" (each field
// at most once, headers matched ignoring case and surrounding spaces);
// account a code ("" for the preset's default role); dateFormat a Go
// layout such as "02/01/2006". Errors are *OptionError naming the
// parameter.
func ParseOptions(preset, mapping, account, dateFormat string) (Options, error) {
	o := Options{Preset: strings.ToLower(strings.TrimSpace(preset)), Account: strings.TrimSpace(account),
		DateFormat: dateFormat, Scale: DefaultScale}
	switch o.Preset {
	case "", PresetMpesa, PresetBank:
	default:
		return Options{}, &OptionError{Field: "preset", Message: fmt.Sprintf("%q is not a preset; use mpesa or bank, or give a mapping", preset)}
	}
	if strings.TrimSpace(mapping) != "" {
		m, err := parseMapping(mapping)
		if err != nil {
			return Options{}, err
		}
		o.Mapping = m
	}
	if o.Preset == "" {
		if o.Mapping == nil {
			return Options{}, &OptionError{Field: "mapping", Message: "required without a preset: name the columns, e.g. date:Date,description:Details,amount:Amount"}
		}
		if err := completeMapping(o.Mapping); err != nil {
			return Options{}, err
		}
	}
	if len(o.Account) > 200 || strings.ContainsFunc(o.Account, isControl) {
		return Options{}, &OptionError{Field: "account", Message: "must be an account code of at most 200 printable characters"}
	}
	if dateFormat != "" {
		if err := checkLayout(dateFormat); err != nil {
			return Options{}, err
		}
	}
	return o, nil
}

// Role is the account role the statement's account defaults to.
func (o Options) Role() string {
	if o.Preset == PresetMpesa {
		return "mpesa"
	}
	return "bank"
}

func parseMapping(s string) (map[string]string, error) {
	m := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		field, header, ok := strings.Cut(pair, ":")
		field = strings.ToLower(strings.TrimSpace(field))
		header = strings.TrimSpace(header)
		if !ok || header == "" {
			return nil, &OptionError{Field: "mapping", Message: fmt.Sprintf("%q is not field:Column Header", strings.TrimSpace(pair))}
		}
		if !isKnownField(field) {
			return nil, &OptionError{Field: "mapping", Message: fmt.Sprintf("unknown field %q; fields are %s", field, strings.Join(knownFields, ", "))}
		}
		if _, dup := m[field]; dup {
			return nil, &OptionError{Field: "mapping", Message: fmt.Sprintf("field %q is mapped twice", field)}
		}
		if strings.ContainsFunc(header, isControl) || len(header) > 200 {
			return nil, &OptionError{Field: "mapping", Message: fmt.Sprintf("column of %q must be at most 200 printable characters", field)}
		}
		m[field] = header
	}
	if len(m) == 0 {
		return nil, &OptionError{Field: "mapping", Message: "names no column"}
	}
	return m, nil
}

// completeMapping checks that a mapping without a preset can find a date
// and an amount in every row.
func completeMapping(m map[string]string) error {
	if m[FieldDate] == "" {
		return &OptionError{Field: "mapping", Message: "needs date:<column>"}
	}
	if m[FieldAmount] == "" && m[FieldPaidIn] == "" && m[FieldWithdrawn] == "" && m[FieldCredit] == "" && m[FieldDebit] == "" {
		return &OptionError{Field: "mapping", Message: "needs amount:<column>, or paid_in and withdrawn, or credit and debit"}
	}
	if m[FieldAmount] != "" && (m[FieldPaidIn] != "" || m[FieldWithdrawn] != "" || m[FieldCredit] != "" || m[FieldDebit] != "") {
		return &OptionError{Field: "mapping", Message: "amount and in/out columns cannot both be mapped"}
	}
	return nil
}

func isKnownField(f string) bool {
	for _, k := range knownFields {
		if k == f {
			return true
		}
	}
	return false
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// checkLayout accepts a Go layout that writes and reads back a date: it
// must carry the year, month and day.
func checkLayout(layout string) error {
	ref := time.Date(2026, time.November, 23, 14, 5, 9, 0, time.UTC)
	back, err := time.Parse(layout, ref.Format(layout))
	if err != nil || back.Year() != ref.Year() || back.Month() != ref.Month() || back.Day() != ref.Day() {
		return &OptionError{Field: "date_format", Message: fmt.Sprintf("%q is not a Go date layout with year, month and day (e.g. 02/01/2006 or 2006-01-02 15:04:05)", layout)}
	}
	return nil
}
