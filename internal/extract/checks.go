package extract

import (
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
)

// now is the clock the date check reads; tests pin it.
var now = time.Now

// Date sanity bounds: a document dated more than 30 years ago or more than
// a year ahead is a misread, not a document.
const (
	datePastYears   = 30
	dateFutureYears = 1
)

// ApplyChecks runs the consistency checks on an extraction from either
// engine and records them in x.Checks (always the four, in order; a check
// that cannot apply passes with a message saying why). A failed check
// lowers the confidence of the fields it concerns, so review catches them.
func ApplyChecks(text string, x *Extraction) {
	if x.Confidence == nil {
		x.Confidence = map[string]float64{}
	}
	x.Checks = []Check{
		checkTotals(x),
		checkInText(text, x),
		checkPIN(x),
		checkDates(x),
	}
}

// lower multiplies the named fields' confidences by factor.
func lower(x *Extraction, factor float64, fields ...string) {
	for _, f := range fields {
		if c, ok := x.Confidence[f]; ok {
			x.Confidence[f] = round2(c * factor)
		}
	}
}

func rat(s string) (*big.Rat, bool) {
	v := NormalizeAmount(s)
	if v == "" {
		return nil, false
	}
	return new(big.Rat).SetString(v)
}

// checkTotals: subtotal + Σ VAT = total, within one cent per VAT line
// (each line is rounded on its own).
func checkTotals(x *Extraction) Check {
	f := x.Fields
	c := Check{Name: CheckTotals, OK: true}
	if f.Subtotal == "" || f.Total == "" {
		c.Message = "skipped: needs subtotal and total"
		return c
	}
	sub, ok1 := rat(f.Subtotal)
	tot, ok2 := rat(f.Total)
	if !ok1 || !ok2 {
		c.OK, c.Message = false, "subtotal or total is not an amount"
		lower(x, 0.5, FieldSubtotal, FieldTotal)
		return c
	}
	sum := new(big.Rat).Set(sub)
	for _, v := range f.VAT {
		a, ok := rat(v.Amount)
		if !ok {
			c.OK, c.Message = false, fmt.Sprintf("VAT amount %q is not an amount", v.Amount)
			lower(x, 0.5, FieldVAT, FieldTotal)
			return c
		}
		sum.Add(sum, a)
	}
	diff := new(big.Rat).Sub(tot, sum)
	diff.Abs(diff)
	tol := big.NewRat(int64(len(f.VAT)), 100)
	if diff.Cmp(tol) > 0 {
		c.OK = false
		c.Message = fmt.Sprintf("subtotal %s + VAT %s = %s, not the total %s", f.Subtotal, vatSum(f.VAT), sum.FloatString(2), f.Total)
		lower(x, 0.6, FieldSubtotal, FieldVAT, FieldTotal)
		return c
	}
	c.Message = fmt.Sprintf("subtotal %s + VAT %s = total %s", f.Subtotal, vatSum(f.VAT), f.Total)
	return c
}

func vatSum(v []VATLine) string {
	s := new(big.Rat)
	for _, l := range v {
		if a, ok := rat(l.Amount); ok {
			s.Add(s, a)
		}
	}
	return s.FloatString(2)
}

// checkInText: every extracted value must be found in the text, amounts
// and dates in any local spelling. A value that is not there was made up
// (an LLM's habit) or misread.
func checkInText(text string, x *Extraction) Check {
	c := Check{Name: CheckInText, OK: true}
	d := newDoc(text)
	amounts := map[string]bool{}
	for _, am := range d.amounts {
		for _, a := range am {
			amounts[a.Value] = true
		}
	}
	dates := map[string]bool{}
	for _, l := range d.lines {
		for _, dm := range findDates(l) {
			dates[dm.ISO] = true
		}
	}
	flat := normSpace(text)
	squeezed := strings.ReplaceAll(flat, " ", "")
	var missing []string
	// A credit may be printed with or without its sign ("(12.50)", "12.50").
	hasAmount := func(v string) bool {
		n := NormalizeAmount(v)
		return n != "" && (amounts[n] || amounts[strings.TrimPrefix(n, "-")] || amounts["-"+n])
	}
	hasText := func(v string) bool {
		n := normSpace(v)
		return strings.Contains(flat, n) || strings.Contains(squeezed, strings.ReplaceAll(n, " ", ""))
	}
	f := x.Fields
	for _, p := range []struct {
		field, value string
		ok           func(string) bool
	}{
		{FieldVendorName, f.VendorName, hasText},
		{FieldVendorPIN, f.VendorPIN, hasText},
		{FieldCustomer, f.Customer, hasText},
		{FieldDocumentNumber, f.DocumentNumber, hasText},
		{FieldIssueDate, f.IssueDate, func(v string) bool { return dates[v] }},
		{FieldDueDate, f.DueDate, func(v string) bool { return dates[v] }},
		{FieldSubtotal, f.Subtotal, hasAmount},
		{FieldTotal, f.Total, hasAmount},
	} {
		if p.value != "" && !p.ok(p.value) {
			missing = append(missing, p.field)
		}
	}
	for _, v := range f.VAT {
		if !hasAmount(v.Amount) && !slices.Contains(missing, FieldVAT) {
			missing = append(missing, FieldVAT)
		}
	}
	for _, l := range f.Lines {
		if !hasAmount(l.Amount) && !slices.Contains(missing, FieldLines) {
			missing = append(missing, FieldLines)
		}
	}
	if len(missing) > 0 {
		c.OK = false
		c.Message = "not found in the text: " + strings.Join(missing, ", ")
		lower(x, 0.5, missing...)
		return c
	}
	c.Message = "every value is in the text"
	return c
}

// checkPIN: a vendor PIN must have the KRA format.
func checkPIN(x *Extraction) Check {
	c := Check{Name: CheckKRAPIN, OK: true}
	switch {
	case x.Fields.VendorPIN == "":
		c.Message = "skipped: no vendor PIN"
	case ValidKRAPIN(x.Fields.VendorPIN):
		c.Message = "vendor PIN has the KRA format"
	default:
		c.OK = false
		c.Message = fmt.Sprintf("vendor PIN %q is not a KRA PIN (A or P, nine digits, a letter)", x.Fields.VendorPIN)
		lower(x, 0.3, FieldVendorPIN)
	}
	return c
}

// checkDates: dates are real ISO dates, not absurdly old or ahead, and the
// due date is not before the issue date.
func checkDates(x *Extraction) Check {
	c := Check{Name: CheckDates, OK: true}
	f := x.Fields
	if f.IssueDate == "" && f.DueDate == "" {
		c.Message = "skipped: no dates"
		return c
	}
	t := now().UTC()
	lo := t.AddDate(-datePastYears, 0, 0).Format(time.DateOnly)
	hi := t.AddDate(dateFutureYears, 0, 0).Format(time.DateOnly)
	var problems []string
	for _, p := range []struct{ field, v string }{{FieldIssueDate, f.IssueDate}, {FieldDueDate, f.DueDate}} {
		if p.v == "" {
			continue
		}
		if _, err := time.Parse(time.DateOnly, p.v); err != nil {
			problems = append(problems, p.field+" "+p.v+" is not a date")
			lower(x, 0.3, p.field)
			continue
		}
		if p.v < lo || p.v > hi {
			problems = append(problems, fmt.Sprintf("%s %s is outside %s..%s", p.field, p.v, lo, hi))
			lower(x, 0.4, p.field)
		}
	}
	if f.IssueDate != "" && f.DueDate != "" && f.DueDate < f.IssueDate {
		problems = append(problems, "due date "+f.DueDate+" is before issue date "+f.IssueDate)
		lower(x, 0.5, FieldDueDate)
	}
	if len(problems) > 0 {
		c.OK, c.Message = false, strings.Join(problems, "; ")
		return c
	}
	c.Message = "dates are plausible"
	return c
}
