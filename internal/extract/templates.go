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
	Label      string `json:"label"`      // upper-case words before or above the value
	Occurrence int    `json:"occurrence"` // which line carrying Label (0 = first)
	Offset     int    `json:"offset"`     // lines from the label's line to the value's
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

// locate finds the first line holding value and describes it by its label.
func (d *doc) locate(field, value string) (TemplateRule, bool) {
	for i := range d.lines {
		start, ok := d.valueAt(field, i, value)
		if !ok {
			continue
		}
		if label := labelText(d.upper[i][:start]); label != "" {
			return TemplateRule{Label: label, Occurrence: d.occurrence(label, i), Offset: 0}, true
		}
		for j := i - 1; j >= 0 && j >= i-4; j-- {
			if label := labelText(d.upper[j]); label != "" && len(d.amounts[j]) == 0 {
				return TemplateRule{Label: label, Occurrence: d.occurrence(label, j), Offset: i - j}, true
			}
		}
	}
	return TemplateRule{}, false
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

// occurrence counts the lines before i whose label text contains label.
func (d *doc) occurrence(label string, i int) int {
	n := 0
	for j := 0; j < i; j++ {
		if strings.Contains(labelText(d.upper[j]), label) {
			n++
		}
	}
	return n
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

// apply overrides the generic rules' answers with the template's.
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
		if !ok {
			continue
		}
		if v := d.follow(field, r); v != "" {
			*p, conf[field] = v, 0.95
		}
	}
}

// follow reads a field where a rule says it is.
func (d *doc) follow(field string, r TemplateRule) string {
	seen := 0
	for j := range d.lines {
		lt := labelText(d.upper[j])
		k := strings.Index(lt, r.Label)
		if k < 0 {
			continue
		}
		if seen < r.Occurrence {
			seen++
			continue
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
					return a.Value
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
