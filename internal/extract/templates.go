package extract

import (
	"regexp"
	"strings"
)

// Template is what reviewers' corrections taught about one vendor's
// layout: for each field, the label the value was found beside and how
// many lines below it. It is keyed by the vendor's name and KRA PIN and is
// plain JSON so the documents store can keep it per company.
type Template struct {
	Vendor string                  `json:"vendor"` // as the reviewer wrote it
	PIN    string                  `json:"pin,omitempty"`
	Rules  map[string]TemplateRule `json:"rules"`
}

// TemplateRule locates one field on the vendor's documents.
type TemplateRule struct {
	Label      string `json:"label"`             // upper-case words before or above the value
	Occurrence int    `json:"occurrence"`        // which line carrying Label (0 = first)
	Offset     int    `json:"offset"`            // lines from the label's line to the value's
	Aligned    bool   `json:"aligned,omitempty"` // the value is the label's in a label block / value block layout
}

// templateFields are the fields a template can locate; currency and
// payment method are read from words anyway, the vendor is the key.
var templateFields = []string{FieldCustomer, FieldDocumentNumber, FieldIssueDate, FieldDueDate, FieldSubtotal, FieldTotal}

// LearnTemplate learns where each corrected value sits in text. ok is false
// when the correction names no vendor (nothing to key the template on) or
// no value could be located.
func LearnTemplate(text string, corrected Fields) (Template, bool) {
	t := Template{Vendor: strings.TrimSpace(corrected.VendorName), PIN: strings.TrimSpace(corrected.VendorPIN), Rules: map[string]TemplateRule{}}
	if normSpace(t.Vendor) == "" && t.PIN == "" {
		return Template{}, false
	}
	d := newDoc(text)
	vals := corrected.scalars()
	for _, field := range templateFields {
		v := *vals[field]
		if v == "" {
			continue
		}
		if r, ok := d.locate(field, v); ok {
			t.Rules[field] = r
		}
	}
	return t, len(t.Rules) > 0
}

// locate finds where value sits and describes it by its label. When the
// value occurs more than once (a one-item receipt prints the total on the
// item's line too), the occurrence whose label reads like the field wins;
// otherwise the first.
func (d *doc) locate(field, value string) (TemplateRule, bool) {
	var first *TemplateRule
	// Tills print a block of labels and then a block of values, whose
	// lengths vary with the receipt: remember the label, not the distance.
	if field == FieldTotal || field == FieldSubtotal {
		for j := range d.lines {
			vs := d.valuesFor(j)
			if len(vs) == 0 || vs[0].line == j || !amountEqual(vs[0].Value, value) {
				continue
			}
			label := labelText(d.upper[j])
			if label == "" {
				continue
			}
			r := &TemplateRule{Label: label, Occurrence: d.occurrence(label, j, true), Aligned: true}
			if labelFits(field, label) {
				return *r, true
			}
		}
	}
	for i := range d.lines {
		start, ok := d.valueAt(field, i, value)
		if !ok {
			continue
		}
		var r *TemplateRule
		if label := labelText(d.upper[i][:start]); label != "" {
			r = &TemplateRule{Label: label, Occurrence: d.occurrence(label, i, false), Offset: 0}
		} else {
			for j := i - 1; j >= 0 && j >= i-4; j-- {
				if label := labelText(d.upper[j]); label != "" && len(d.amounts[j]) == 0 {
					r = &TemplateRule{Label: label, Occurrence: d.occurrence(label, j, true), Offset: i - j}
					break
				}
			}
		}
		if r == nil {
			continue
		}
		if labelFits(field, r.Label) {
			return *r, true
		}
		// A label of the vendor's own words counts only right beside or
		// above its value: further away it is more likely a footer.
		if first == nil && !labelMisfits(r.Label) && r.Offset <= 1 {
			first = r
		}
	}
	if first == nil {
		return TemplateRule{}, false
	}
	return *first, true
}

// labelFits says whether label reads like field's.
func labelFits(field, label string) bool {
	if field == FieldTotal {
		return totalKw.MatchString(label) && !totalNot.MatchString(label) && !summaryKw.MatchString(label)
	}
	re := fieldLabels[field]
	return re != nil && re.MatchString(label)
}

// labelMisfits: words that label something else, or nothing (a till's
// footer), which a value merely sits under.
func labelMisfits(label string) bool {
	return totalNot.MatchString(label) || summaryKw.MatchString(label) || boilerplate.MatchString(label) ||
		strings.Contains(label, "THANK") || strings.Contains(label, "CHANGE") || strings.Contains(label, "CASH")
}

// fieldLabels are the words a field's label usually has.
var fieldLabels = map[string]*regexp.Regexp{
	FieldSubtotal:       subtotalKw,
	FieldIssueDate:      dateLabel,
	FieldDueDate:        dueLabel,
	FieldDocumentNumber: regexp.MustCompile(`\b(?:NO|NUMBER|INVOICE|RECEIPT|BILL|DOCKET|REF)\b`),
	FieldCustomer:       regexp.MustCompile(`\b(?:TO|CUSTOMER|CLIENT|NAME)\b`),
}

// valueAt reports where on line i value starts, if it is there.
func (d *doc) valueAt(field string, i int, value string) (int, bool) {
	switch field {
	case FieldIssueDate, FieldDueDate:
		for _, dm := range findDates(d.lines[i]) {
			if dm.ISO == value {
				return dm.Start, true
			}
		}
	case FieldSubtotal, FieldTotal:
		for _, a := range d.amounts[i] {
			if amountEqual(a.Value, value) {
				return a.Start, true
			}
		}
	default:
		if k := strings.Index(d.upper[i], normSpace(value)); k >= 0 {
			return k, true
		}
	}
	return 0, false
}

var labelJunk = regexp.MustCompile(`[^A-Z/ ]+`)

// labelText is the words of a label, without numbers and punctuation.
func labelText(s string) string {
	return strings.Join(strings.Fields(labelJunk.ReplaceAllString(s, " ")), " ")
}

// occurrence counts the lines before i that carry label.
func (d *doc) occurrence(label string, i int, exact bool) int {
	n := 0
	for j := 0; j < i; j++ {
		if d.carries(j, label, exact) {
			n++
		}
	}
	return n
}

// carries says whether line j is labelled label. A label line (its value
// elsewhere) must be exactly label: "TOTAL" is not "SUB TOTAL" nor
// "TOTAL QTY". A line with its value after the label need only start with
// it ("DOCKET" in "Docket: D-7790").
func (d *doc) carries(j int, label string, exact bool) bool {
	if label == "" {
		return false
	}
	full := labelText(d.upper[j])
	if !exact {
		return full == label || strings.HasPrefix(full, label+" ")
	}
	before := d.upper[j]
	if am := d.amounts[j]; len(am) > 0 {
		before = before[:am[0].Start]
	}
	return full == label || labelText(before) == label
}

// matches says whether the template is for this document's vendor: its
// PIN or its name appears in the text.
func (t Template) matches(d *doc) bool {
	flat := normSpace(strings.Join(d.lines, " "))
	if t.PIN != "" && strings.Contains(flat, strings.ToUpper(t.PIN)) {
		return true
	}
	return normSpace(t.Vendor) != "" && strings.Contains(flat, normSpace(t.Vendor))
}

// apply overrides the generic rules' answers with the template's, but for
// the total, which the rules engine weighs with the template's as a hint.
func (t Template) apply(d *doc, f *Fields, conf map[string]float64) {
	if t.Vendor != "" {
		f.VendorName, conf[FieldVendorName] = t.Vendor, 0.95
	}
	if t.PIN != "" {
		f.VendorPIN, conf[FieldVendorPIN] = t.PIN, 0.95
	}
	vals := f.scalars()
	for field, r := range t.Rules {
		p, ok := vals[field]
		if !ok || field == FieldTotal { // the total weighed it as a hint
			continue
		}
		if v := d.follow(field, r); v != "" {
			*p, conf[field] = v, 0.95
		}
	}
}

// roundedIf applies the document's rounding adjustment to a total: the
// learned receipt may have needed none.
func (d *doc) roundedIf(field, v string) string {
	if field == FieldTotal {
		return d.roundedTotal(v)
	}
	return v
}

// follow reads a field where a rule says it is.
func (d *doc) follow(field string, r TemplateRule) string {
	// Templates come back from storage: a damaged one reads nothing.
	if strings.TrimSpace(r.Label) == "" || r.Offset < 0 || r.Occurrence < 0 {
		return ""
	}
	seen := 0
	for j := range d.lines {
		if !d.carries(j, r.Label, r.Aligned || r.Offset > 0) {
			continue
		}
		if seen < r.Occurrence {
			seen++
			continue
		}
		if r.Aligned {
			if vs := d.valuesFor(j); len(vs) > 0 && (field == FieldTotal || field == FieldSubtotal) {
				return d.roundedIf(field, vs[0].Value)
			}
			return ""
		}
		i := j + r.Offset
		if i >= len(d.lines) {
			return ""
		}
		after := 0
		if r.Offset == 0 {
			// The value comes after the label on the same line.
			if p := strings.Index(d.upper[i], strings.Fields(r.Label)[len(strings.Fields(r.Label))-1]); p >= 0 {
				after = p
			}
		}
		switch field {
		case FieldIssueDate, FieldDueDate:
			for _, dm := range findDates(d.lines[i]) {
				if dm.Start >= after {
					return dm.ISO
				}
			}
		case FieldSubtotal, FieldTotal:
			for _, a := range d.amounts[i] {
				if a.Start >= after {
					return d.roundedIf(field, a.Value)
				}
			}
		default:
			v := d.lines[i]
			if r.Offset == 0 {
				v = d.lines[i][min(len(v), after+len(strings.Fields(r.Label)[len(strings.Fields(r.Label))-1])):]
			}
			return strings.Trim(strings.TrimSpace(v), ":#.- ")
		}
		return ""
	}
	return ""
}
