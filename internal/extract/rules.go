package extract

import (
	"context"
	"maps"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The rules engine reads fields with keywords, layout heuristics and
// regular expressions, after the company's learned vendor templates. It
// needs no model, so it is always available (the appliance's low-resource
// mode) and gives the same answer for the same text.

type rulesEngine struct{}

// Rules returns the rules engine.
func Rules() Engine { return rulesEngine{} }

func (rulesEngine) Name() string { return "rules" }

// Extract fills Fields from in.Text, then runs ApplyChecks.
func (rulesEngine) Extract(ctx context.Context, in Input) (Extraction, error) {
	start := time.Now()
	if err := ctx.Err(); err != nil {
		return Extraction{}, err
	}
	cls, conf := in.Class, in.ClassConfidence
	if cls == "" {
		cls, conf = Classify(in.Text)
	}
	d := newDoc(in.Text)
	x := Extraction{Class: cls, ClassConfidence: conf, Engine: "rules", Confidence: map[string]float64{}}
	var tpl *Template
	for k := range in.Templates {
		if in.Templates[k].matches(d) {
			tpl = &in.Templates[k]
			if r, ok := tpl.Rules[FieldTotal]; ok {
				d.totalHint = d.follow(FieldTotal, r)
			}
			break
		}
	}
	d.extract(&x.Fields, x.Confidence)
	if tpl != nil {
		tpl.apply(d, &x.Fields, x.Confidence)
	}
	for k, v := range x.Confidence {
		x.Confidence[k] = round2(v)
	}
	// Poor OCR lowers every confidence: a value read from smudged words is
	// less likely right however well the rule fits.
	if q := meanWordConfidence(in.Words); q >= 0 {
		for k, v := range x.Confidence {
			x.Confidence[k] = round2(v * (0.5 + 0.5*q))
		}
	}
	ApplyChecks(in.Text, &x)
	x.Duration = time.Since(start)
	return x, nil
}

// meanWordConfidence is the words' mean OCR confidence in 0..1, or -1
// when there are no words.
func meanWordConfidence(ws []Word) float64 {
	if len(ws) == 0 {
		return -1
	}
	var s float64
	for _, w := range ws {
		s += w.Confidence
	}
	return s / float64(len(ws)) / 100
}

// doc is a text cut into trimmed lines, with each line's amounts.
type doc struct {
	lines   []string
	upper   []string
	amounts [][]amountMatch
	kinds   []lineKind // by line, computed on first use

	// totalHint is where a vendor template says the total is: strong
	// evidence among the others, not an override (a template learned from
	// one receipt misreads the next one's rounding or extra lines).
	totalHint string
}

func newDoc(text string) *doc {
	d := &doc{}
	for _, l := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\f' || r == '\r' }) {
		// "1 053.52" (single spaces grouping digits) becomes "1,053.52"
		// before the spacing goes; columns are two or more spaces apart.
		l = spacedThousands.ReplaceAllStringFunc(l, func(s string) string { return strings.ReplaceAll(s, " ", ",") })
		l = strings.Join(strings.Fields(l), " ")
		if l == "" {
			continue
		}
		d.lines = append(d.lines, l)
		d.upper = append(d.upper, strings.ToUpper(l))
		d.amounts = append(d.amounts, findAmounts(l))
	}
	return d
}

// spacedThousands is "1 053.52": spaces grouping digits, rewritten with
// commas so the amount scanner sees one number.
var spacedThousands = regexp.MustCompile(`\b\d{1,3}(?: \d{3})+\.\d{2}\b`)

// lineKind sorts a line for the label/value alignment.
type lineKind int

const (
	lineLabel lineKind = iota // words, no amount
	lineValue                 // an amount (with at most a currency or tax code)
	lineBoth                  // words and an amount
	lineEmpty                 // punctuation only (":")
)

// valueOnly matches a line that is just an amount: "31.00", "RM 8.20",
// "$7.10", "9.80 SR", ": 31.00".
var valueOnly = regexp.MustCompile(`^[:\s]*-?\s*(?:RM|KSH?S?\.?|KES|USD|MYR|\$|EUR|€|£)?\s*[(\-]?[\d.][\d,. ]*\)?-?\s*(?:RM|SR|ZR|S|Z|T|E|X|KES)?$`)

func (d *doc) kind(i int) lineKind {
	if d.kinds == nil {
		d.kinds = make([]lineKind, len(d.lines))
		for k := range d.lines {
			d.kinds[k] = d.lineKind(k)
		}
	}
	return d.kinds[i]
}

func (d *doc) lineKind(i int) lineKind {
	u := d.upper[i]
	if t := strings.Trim(u, ":;.-*#= ()"); t == "" || t == "RM" || t == "KSH" || t == "KES" || t == "MYR" || t == "$" {
		return lineEmpty
	}
	if len(d.amounts[i]) > 0 {
		if valueOnly.MatchString(u) {
			return lineValue
		}
		if d.hasMoney(i) {
			return lineBoth
		}
	}
	return lineLabel
}

// hasMoney says whether line i carries an amount of money rather than a
// count ("ITEM COUNT 3"): one with cents, thousands or a currency mark.
func (d *doc) hasMoney(i int) bool {
	for _, a := range d.amounts[i] {
		if a.Decimals || strings.ContainsAny(d.lines[i][a.Start:a.End], ", ") || afterCurrency(strings.TrimRight(d.lines[i][:a.Start], " ")) {
			return true
		}
	}
	return false
}

// valueFor finds the amount that belongs to the label on line i: the
// right-most amount on the line itself, else the aligned value below it.
// Tills print "TOTAL :" then "31.00" on the next line, or a block of
// labels followed by a block of values in the same order.
func (d *doc) valueFor(i int) (amountMatch, int, bool) {
	vs := d.valuesFor(i)
	if len(vs) == 0 {
		return amountMatch{}, 0, false
	}
	return vs[0].amountMatch, vs[0].line, true
}

// placedValue is an amount and the line it is on.
type placedValue struct {
	amountMatch
	line int
}

// valuesFor is valueFor with its doubt: when a label block and the value
// block under it differ in length, the value aligned from the end comes
// first and the one aligned from the start second.
func (d *doc) valuesFor(i int) []placedValue {
	if am := d.amounts[i]; len(am) > 0 && d.kind(i) == lineBoth {
		return []placedValue{{am[len(am)-1], i}}
	}
	if d.kind(i) != lineLabel {
		return nil
	}
	// The run of label lines this one belongs to.
	s := i
	for s > 0 && (d.kind(s-1) == lineLabel || d.kind(s-1) == lineEmpty) && i-s < 12 {
		s--
	}
	pos, n := 0, 0
	j := s
	for ; j < len(d.lines) && j-i <= 8 && (d.kind(j) == lineLabel || d.kind(j) == lineEmpty); j++ {
		// A label with its own count ("ITEM COUNT 3") takes no value below.
		if d.kind(j) == lineLabel && (len(d.amounts[j]) == 0 || j == i) {
			if j < i {
				pos++
			}
			n++
		}
	}
	if j-i > 8 || j == len(d.lines) {
		return nil // a value block that far below belongs to other labels
	}
	var vals []int
	for k := j; k < len(d.lines) && d.kind(k) != lineLabel && d.kind(k) != lineBoth; k++ {
		if d.kind(k) == lineValue {
			vals = append(vals, k)
		}
	}
	if len(vals) == 0 {
		return nil
	}
	// The labels before i that have no value of their own (headings such as
	// "DESCRIPTION") shift the alignment; when the blocks are the same
	// length the alignment is exact, otherwise take the label's offset from
	// the end of its block (a lone label takes the value right below it).
	idx := pos
	if len(vals) != n && n > 1 {
		idx = len(vals) - (n - pos)
	}
	var out []placedValue
	for _, k := range []int{idx, pos} {
		if k < 0 || k >= len(vals) || len(out) > 0 && out[0].line == vals[k] {
			continue
		}
		am := d.amounts[vals[k]]
		out = append(out, placedValue{am[len(am)-1], vals[k]})
	}
	return out
}

var (
	totalKw     = regexp.MustCompile(`\b(?:GRAND\s*TOTAL|NETT?\s*TOTAL|TOTAL|T[A0]TAL|TOT[A4]L|AMOUNT\s*DUE|AMOUNT\s*PAYABLE|BALANCE\s*DUE|JUMLAH|AMT\s*DUE|AMOUNT\s*TO\s*(?:BE\s*)?PAID|AMO?U?NT\s*INCL|AMT\s*PAID\s*INCL|AMOUNT\s*PAID\s*INCL|NET\s*PAYABLE|AMOUNT\s*TO\s*PAY)\b|TOTAL|^DUE\b|^TL\b`)
	totalStrong = regexp.MustCompile(`GRAND\s*TOTAL|NETT?\s*TOTAL|TOTAL\s*(?:AMOUNT|AMT|PAYABLE|DUE|\(RM\)|RM|INCL|INCLUSIVE|AFTER|ROUNDED|SALES?\s*\(?INCL)|ROUNDED\s*TOTAL|FINAL\s*TOTAL|AMOUNT\s*DUE|AMOUNT\s*PAYABLE|BALANCE\s*DUE|TOTAL\s*TO\s*PAY`)
	totalNot    = regexp.MustCompile(`SUB\s*-?\s*TOTAL|TOTAL\s*(?:QTY|QUANTITY|ITEMS?|SAVINGS?|DISCOUNT|DISC|GST|TAX|VAT|EXCL|EXCLUSIVE|EXCLUDING|NO\b|NUMBER|POINTS?|TENDERED|PCS|UNITS?|WEIGHT|COUNT|PAID)|ITEM\s*COUNT|EXCL|\bQTY\b|BEFORE|W/O|W/OUT|NET OF|INCLUDED IN TOTAL|ACCEPTED|ROUNDING\s*ADJ|ROUND\s*ADJ|TOTAL\s*(?:STAMP|SAVING)|(?:TAX|GST|VAT|SST)\s*TOTAL`)
	summaryKw   = regexp.MustCompile(`(?:GST|TAX|VAT)\s*(?:SUMMARY|ANALYSIS)|SUMMARY`)
	roundKw     = regexp.MustCompile(`ROUND`)
	cashPaid    = regexp.MustCompile(`\bCASH\b|TENDER|\bPAID\b|\bPAYMENT\b|RECEIVED|\bVISA\b|\bMASTER|\bCARD\b|\bCREDIT\b|\bPAY\b`)
	cashKw      = regexp.MustCompile(`\b(?:CASH|TENDERED|PAID|PAYMENT|CHANGE|BALANCE|CREDIT CARD|VISA|MASTER|DEBIT|RECEIVED|CHG|REFUND|DEPOSIT|VOUCHER)\b`)
	changeKw    = regexp.MustCompile(`\bCHANGE\b|\bCHG\b|\bBAKI\b`)
	subtotalKw  = regexp.MustCompile(`SUB\s*-?\s*TOTAL|TOTAL\s*(?:EXCL|EXCLUDING|BEFORE)|AMOUNT\s*(?:EXCL|BEFORE)|TAXABLE\s*AMOUNT|NET\s*AMOUNT`)
)

// total picks the document's total: amounts found beside or below TOTAL
// words, scored by the words' strength, agreement with cash − change, and
// repetition; failing those, the largest amount outside the payment lines.
func (d *doc) total(hint string) (string, float64) {
	type cand struct {
		value string
		score float64
	}
	var cands []cand
	counts := map[string]int{}
	for _, am := range d.amounts {
		for _, a := range am {
			if a.Decimals {
				counts[a.Value]++
			}
		}
	}
	var cash, change []string // what was handed over and back
	var adjust []string       // rounding adjustments ("-0.02")
	inSummary, afterRounding := false, false
	for i, u := range d.upper {
		if summaryKw.MatchString(u) {
			inSummary = true // the tax summary repeats bases and totals
		}
		isTotal := totalKw.MatchString(u) && !totalNot.MatchString(u)
		pos := float64(i) / float64(10*len(d.lines)+1)
		if roundKw.MatchString(u) {
			if a, _, ok := d.valueFor(i); ok && a.Decimals {
				if r, ok := new(big.Rat).SetString(a.Value); ok && new(big.Rat).Abs(r).Cmp(big.NewRat(1, 10)) < 0 {
					adjust = append(adjust, a.Value)
					afterRounding = true
					continue
				}
				// "ROUNDING RM 72.75": the rounded total itself.
				if !isTotal && !strings.Contains(u, "ADJ") {
					cands = append(cands, cand{a.Value, 3.5 + pos})
				}
			}
		}
		if !isTotal {
			if cashPaid.MatchString(u) && !changeKw.MatchString(u) {
				for _, a := range d.valuesFor(i) {
					if a.Decimals {
						cash = append(cash, a.Value)
					}
				}
			}
			if changeKw.MatchString(u) {
				for _, a := range d.valuesFor(i) {
					if a.Decimals {
						change = append(change, strings.TrimPrefix(a.Value, "-"))
					}
				}
			}
			// A subtotal is the total when nothing else is.
			if subtotalKw.MatchString(u) && !inSummary {
				if a, _, ok := d.valueFor(i); ok && a.Decimals && a.Value != "0.00" {
					cands = append(cands, cand{a.Value, 1 + pos})
				}
			}
			continue
		}
		for k, a := range d.valuesFor(i) {
			if a.Value == "0.00" || strings.HasPrefix(a.Value, "-") {
				continue
			}
			s := 2.0
			if totalStrong.MatchString(u) {
				s = 3
			}
			if a.Decimals {
				s += 1
			}
			if counts[a.Value] > 1 {
				s += 0.5
			}
			if inSummary {
				s -= 1.5
			}
			if afterRounding {
				s += 0.5
			}
			if k > 0 {
				s -= 0.75 // the less likely alignment
			}
			cands = append(cands, cand{a.Value, s + pos})
		}
	}
	if hint != "" {
		found := false
		for k := range cands {
			if amountEqual(cands[k].value, hint) {
				cands[k].score += 2.5
				found = true
			}
		}
		if !found && counts[hint] > 0 {
			cands = append(cands, cand{hint, 4})
		}
	}
	// Cash handed over less change given back is what was due: a strong
	// sign, and a candidate of its own when it is printed somewhere.
	paid := map[string]bool{}
	for _, c := range cash {
		for _, ch := range change {
			if diff := subAmounts(c, ch); diff != "" && !strings.HasPrefix(diff, "-") && diff != "0.00" && counts[diff] > 0 {
				paid[diff] = true
			}
		}
	}
	for k := range cands {
		if paid[cands[k].value] {
			cands[k].score += 2
		}
	}
	// In key order: the engine is deterministic.
	for _, v := range slices.Sorted(maps.Keys(paid)) {
		cands = append(cands, cand{v, 2.5})
	}
	best := -1
	for k, c := range cands {
		if best < 0 || c.score > cands[best].score {
			best = k
		}
	}
	if best >= 0 {
		v := cands[best].value
		if hint != "" && amountEqual(v, hint) {
			return v, 0.95 // the rules and the vendor's template agree
		}
		// Tills round to five cents after the total: when the document
		// shows the total plus its rounding adjustment, that is what was
		// paid.
		if r := rounded(v, adjust, counts); r != v {
			return r, min(0.95, 0.5+cands[best].score/10)
		}
		return v, min(0.95, 0.4+cands[best].score/10)
	}
	// No TOTAL line: the largest amount with cents outside payment lines.
	var top *big.Rat
	val := ""
	for i, am := range d.amounts {
		if cashKw.MatchString(d.upper[i]) {
			continue
		}
		for _, a := range am {
			if !a.Decimals {
				continue
			}
			r, ok := new(big.Rat).SetString(a.Value)
			if ok && (top == nil || r.Cmp(top) > 0) {
				top, val = r, a.Value
			}
		}
	}
	if val == "" {
		return "", 0
	}
	return val, 0.35
}

// rounded applies a till's rounding adjustment to a total when that
// turns it into a whole five cents printed on the document.
func rounded(v string, adjust []string, counts map[string]int) string {
	if roundCents(v) {
		return v
	}
	for _, adj := range adjust {
		for _, r := range []string{addAmounts(v, adj), subAmounts(v, adj)} {
			if r != "" && roundCents(r) && counts[r] > 0 {
				return r
			}
		}
	}
	return v
}

// roundedTotal is rounded with the document's own adjustments.
func (d *doc) roundedTotal(v string) string {
	counts := map[string]int{}
	var adjust []string
	for i, am := range d.amounts {
		for _, a := range am {
			if a.Decimals {
				counts[a.Value]++
			}
		}
		if roundKw.MatchString(d.upper[i]) {
			if a, _, ok := d.valueFor(i); ok && a.Decimals {
				if r, ok := new(big.Rat).SetString(a.Value); ok && new(big.Rat).Abs(r).Cmp(big.NewRat(1, 10)) < 0 {
					adjust = append(adjust, a.Value)
				}
			}
		}
	}
	return rounded(v, adjust, counts)
}

// roundCents says whether an amount is a whole number of five cents,
// what a till's rounding adjustment produces.
func roundCents(v string) bool {
	return len(v) >= 1 && (v[len(v)-1] == '0' || v[len(v)-1] == '5')
}

// addAmounts is a + b exactly, or "" when either is not an amount.
func addAmounts(a, b string) string {
	ra, ok1 := new(big.Rat).SetString(a)
	rb, ok2 := new(big.Rat).SetString(b)
	if !ok1 || !ok2 {
		return ""
	}
	return ra.Add(ra, rb).FloatString(2)
}

// subAmounts is a − b exactly, or "" when either is not an amount.
func subAmounts(a, b string) string {
	ra, ok1 := new(big.Rat).SetString(a)
	rb, ok2 := new(big.Rat).SetString(b)
	if !ok1 || !ok2 {
		return ""
	}
	return ra.Sub(ra, rb).FloatString(2)
}

// plausibleDates are the dates on line i that the date check would pass:
// "01-3-70" in a product code is not a date of 1970.
func (d *doc) plausibleDates(i int) []dateMatch {
	t := now().UTC()
	lo := t.AddDate(-datePastYears, 0, 0).Format(time.DateOnly)
	hi := t.AddDate(dateFutureYears, 0, 0).Format(time.DateOnly)
	var out []dateMatch
	for _, dm := range findDates(d.lines[i]) {
		if dm.ISO >= lo && dm.ISO <= hi {
			out = append(out, dm)
		}
	}
	return out
}

var (
	dateLabel  = regexp.MustCompile(`\bDATE\b|\bTARIKH\b|\bDATED\b`)
	dueLabel   = regexp.MustCompile(`DUE\s*DATE|PAYMENT\s*DUE|DUE\s*BY|PAY\s*BY`)
	printLabel = regexp.MustCompile(`PRINT|EXPIR|VALID|BEST BEFORE|\bEXP\b|DELIVERY`)
)

// dates picks the issue date (a DATE-labelled date, else the first date)
// and the due date (a DUE-labelled one).
func (d *doc) dates() (issue string, issueConf float64, due string) {
	first := ""
	for i, u := range d.upper {
		ds := d.plausibleDates(i)
		if len(ds) == 0 {
			continue
		}
		if dueLabel.MatchString(u) {
			if due == "" {
				due = ds[0].ISO
			}
			continue
		}
		if first == "" && !printLabel.MatchString(u) {
			first = ds[0].ISO
		}
		if issue == "" && dateLabel.MatchString(u) && !printLabel.MatchString(u) {
			issue = ds[0].ISO
		}
	}
	// A label on its own line ("DATE", ":", "09/01/2019").
	if issue == "" {
		for i, u := range d.upper {
			if dateLabel.MatchString(u) && !dueLabel.MatchString(u) && !printLabel.MatchString(u) && len(findDates(d.lines[i])) == 0 {
				for j := i + 1; j < len(d.lines) && j <= i+3; j++ {
					if ds := d.plausibleDates(j); len(ds) > 0 {
						issue = ds[0].ISO
						break
					}
				}
				if issue != "" {
					break
				}
			}
		}
	}
	switch {
	case issue != "":
		return issue, 0.9, due
	case first != "":
		return first, 0.75, due
	}
	// Any date at all, even on a print line.
	for i := range d.lines {
		if ds := d.plausibleDates(i); len(ds) > 0 && ds[0].ISO != due {
			return ds[0].ISO, 0.5, due
		}
	}
	return "", 0, due
}

var (
	companyMark   = regexp.MustCompile(`\b(?:SDN\.?\s*BHD|BHD|SDN|S/B|BERHAD|ENTERPRISES?|TRADING|PLT|LIMITED|LTD|PLC|LLP|LLC|INC|CO\.|COMPANY|CORPORATION|CORP|GMBH|HARDWARE|RESTAURANT|RESTORAN|MARKETING|STATIONERY|SUPERMARKET|PHARMACY|BOOKSTORE|STORE|MART|HOLDINGS|INDUSTRIES|SERVICES|SUPPLY|SUPPLIES|KEDAI|MINI MARKET|SHOP)\b`)
	boilerplate   = regexp.MustCompile(`^(?:SIMPLIFIED\s*)?(?:TAX\s*)?INVOICE\b|^GOODS|^PLEASE|^TQ\b|^RECEIPT\b|^OFFICIAL RECEIPT|^CASH\s*(?:BILL|SALES?|RECEIPT)|^WELCOME|^THANK|^COPY|^ORIGINAL|^DUPLICATE|^BILL\b|^TEL\b|^FAX\b|^PHONE|^GST|^VAT|^PIN\b|^CO\.?\s*(?:REG|NO)|^COMPANY\s*(?:REG|NO)|^REG\b|^ROC\b|^\(|^NO\b|^NO\.|^LOT\b|^JALAN\b|^JLN\b|^TAMAN\b|^EMAIL|^WWW|^HTTP|^P\.?O\.? BOX|^DATE|^TIME|^CASHIER|^TABLE|^SALES\s*PERSON|^(?:BILL(?:ED)?|SOLD|SHIP(?:PED)?)\s*TO\b|^CUSTOMER|^CLIENT|^TO\s*:|^NAME\s*:|^M/S\b|^ATTN|^\*|^-|^=|^#`)
	strongMark    = regexp.MustCompile(`\b(?:SDN\.?\s*BHD|BHD|S/B|BERHAD|PLT|LIMITED|LTD)\b`)
	companyLead   = regexp.MustCompile(`^(?:CO\.|&|(?:SDN|BHD|S/B|CO\.|COMPANY|ENTERPRISES?|TRADING|RESTAURANT|RESTORAN|STATIONERY|HARDWARE|MARKETING|SUPERMARKET|PHARMACY|BOOKSTORES?|STORES?|MART|HOLDINGS|INDUSTRIES|SERVICES|SUPPL(?:Y|IES)|LIMITED|LTD|ELECTRICAL)\b)`)
	leadingNumber = regexp.MustCompile(`^#\d+\s+`)
	ownerPrefix   = regexp.MustCompile(`^(?:DIMILIKI|OWNED BY|OWN BY)\s*:\s*`)
	afterSuffix   = regexp.MustCompile(`^(.*\b(?:SDN\.?\s*BHD\.?|BHD\.?|S/B\.?|BERHAD|LTD\.?|LIMITED))\s+\S*\d.*$`)
	phoneLike     = regexp.MustCompile(`(?:\+?\d[\d\- ()]{6,}\d)`)
	regNumber     = regexp.MustCompile(`\s*[\(\[]?\s*(?:CO\.?\s*(?:REG\.?\s*)?(?:NO\.?)?\s*:?\s*)?\d{3,}[\-\s]?[A-Z]?\s*[\)\]]?\s*$|\s*\([^)]*\d[^)]*\)?\s*$`)
	addressMark   = regexp.MustCompile(`\b(?:JALAN|JLN|TAMAN|LOT|NO\.?|LORONG|PERSIARAN|BANDAR|KAWASAN|ROAD|RD|STREET|ST|AVENUE|P\.?O\.? BOX|BOX|FLOOR|BUILDING|BLOCK|BLK|PLAZA|MALL|CENTRE|CENTER|HOUSE|TOWER|SELANGOR|JOHOR|KUALA LUMPUR|NAIROBI|MOMBASA|KISUMU|KENYA|MALAYSIA|SEKSYEN|BATU|KM|PUCHONG|KLANG|SHAH ALAM|PETALING JAYA|CHERAS|SUBANG)\b|\b\d{5}\b|,`)
)

// vendor picks the vendor's name from the top of the document: a line that
// carries a company mark (SDN BHD, LTD, TRADING…) among the first lines,
// else the first line that is neither boilerplate ("TAX INVOICE"), an
// address, a phone number nor a registration number. It returns the index
// of the name's line too, so the address can be read below it.
func (d *doc) vendor() (string, float64, int) {
	limit := min(len(d.lines), 10)
	clean := func(i int) string {
		s := ownerPrefix.ReplaceAllString(leadingNumber.ReplaceAllString(d.upper[i], ""), "")
		for {
			t := strings.TrimSpace(regNumber.ReplaceAllString(s, ""))
			if t == s {
				break
			}
			s = t
		}
		s = afterSuffix.ReplaceAllString(s, "$1")
		return strings.Trim(s, " ,:;-*")
	}
	plain := func(i int) bool {
		u := d.upper[i]
		return i >= 0 && !boilerplate.MatchString(u) && letters(u) >= 3 && !phoneLike.MatchString(u) && !strings.ContainsAny(u, "0123456789")
	}
	// continues says whether line j carries on the name on the line above.
	continues := func(name string, j int) bool {
		if j >= len(d.lines) {
			return false
		}
		u := d.upper[j]
		// "PASAR RAYA MEGA MAJU" / "(SEMENYIH) SDN BHD"
		if strings.HasPrefix(u, "(") && strongMark.MatchString(u) && !strongMark.MatchString(name) {
			return true
		}
		if boilerplate.MatchString(u) {
			return false
		}
		switch {
		case strings.Count(name, "(") > strings.Count(name, ")"), strings.HasSuffix(name, "&"):
			return true
		case addressMark.MatchString(u) && !strongMark.MatchString(u):
			return false
		case companyLead.MatchString(u) && !strongMark.MatchString(name):
			return true
		}
		return false
	}
	for i := 0; i < limit; i++ {
		u := leadingNumber.ReplaceAllString(d.upper[i], "")
		if !companyMark.MatchString(u) || boilerplate.MatchString(u) || strings.HasPrefix(u, "GST") {
			continue
		}
		name := clean(i)
		if letters(name) < 3 {
			continue
		}
		conf, last := 0.85, i
		// A name broken over two lines: "POPULAR BOOK" / "CO. (M) SDN BHD".
		if i > 0 && (companyLead.MatchString(name) || strings.HasPrefix(name, "&")) && plain(i-1) && !companyMark.MatchString(d.upper[i-1]) {
			name, conf = clean(i-1)+" "+name, 0.75
		}
		// ... or "HOME MASTER HARDWARE &" / "ELECTRICAL", up to three lines.
		for last < i+2 && continues(name, last+1) {
			last++
			name, conf = name+" "+clean(last), 0.75
		}
		return name, conf, last
	}
	for i := 0; i < limit; i++ {
		u := d.upper[i]
		if boilerplate.MatchString(u) || letters(u) < 3 || len(d.amounts[i]) > 0 && letters(u) < len(u)/2 {
			continue
		}
		if phoneLike.MatchString(u) && letters(u) < 6 || addressMark.MatchString(u) && i > 0 {
			continue
		}
		name, last := clean(i), i
		if letters(name) >= 3 {
			for last < i+2 && continues(name, last+1) {
				last++
				name = name + " " + clean(last)
			}
			return name, 0.55, last
		}
	}
	return "", 0, -1
}

func letters(s string) int {
	n := 0
	for _, r := range s {
		if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' {
			n++
		}
	}
	return n
}

// addressEnd is a line that follows a vendor's address block.
var addressEnd = regexp.MustCompile(`^(?:TEL|FAX|PHONE|H/P|HP|MOBILE|GST|VAT|PIN|EMAIL|WWW|TAX|INVOICE|RECEIPT|DATE|CASH|SIMPLIFIED|CO\.?\s*REG|COMPANY\s*REG)`)

// address reads the lines under the vendor's name up to the first phone,
// registration or tax line: the vendor's postal address.
func (d *doc) address(vendorLine int) string {
	if vendorLine < 0 {
		return ""
	}
	var parts []string
	for i := vendorLine + 1; i < len(d.lines) && i <= vendorLine+6; i++ {
		u := d.upper[i]
		if addressEnd.MatchString(u) || phoneLike.MatchString(u) && !addressMark.MatchString(u) {
			break
		}
		if len(parts) == 0 && !addressMark.MatchString(u) && regNumber.ReplaceAllString(u, "") == "" {
			continue // the registration number under the name
		}
		if len(parts) == 0 && companyMark.MatchString(u) && !addressMark.MatchString(u) {
			continue
		}
		parts = append(parts, d.lines[i])
	}
	return strings.Join(parts, " ")
}

// VendorAddress is the address block under the vendor's name in text,
// for scoring against labelled receipts (the schema has no address).
func VendorAddress(text string) string {
	d := newDoc(text)
	_, _, i := d.vendor()
	return d.address(i)
}

var (
	docNumber      = regexp.MustCompile(`(?:INVOICE|INV|RECEIPT|RCPT|BILL|DOC(?:UMENT)?|CREDIT\s*NOTE|CN|ORDER|TRANS(?:ACTION)?|REF(?:ERENCE)?|SLIP|CHECK|CHK|SO|OR)\s*\.?\s*(?:NO|NUMBER|NUM|#|ID)\.?\s*[:#.]?\s*([A-Z0-9][A-Z0-9\-/]{2,})`)
	docNumberAlone = regexp.MustCompile(`(?:INVOICE|INV|RECEIPT|BILL|DOC(?:UMENT)?|TRANS)\s*\.?\s*(?:NO|NUMBER|#)\.?\s*[:#.]?\s*$`)
	pinLabel       = regexp.MustCompile(`\bPIN\b`)
	customerLabel  = regexp.MustCompile(`^(?:(?:BILL(?:ED)?\s*TO|SOLD\s*TO|CUSTOMER(?:\s*NAME)?|CLIENT|NAME|M/S)\b|TO\s*:)\s*[:.\-]?\s*(.*)$`)
	payMethods     = []struct {
		re   *regexp.Regexp
		name string
	}{
		{regexp.MustCompile(`M-?PESA|LIPA NA`), "mpesa"},
		{regexp.MustCompile(`\bVISA\b|MASTER\s*CARD|CREDIT\s*CARD|DEBIT\s*CARD|\bCARD\b|AMEX`), "card"},
		{regexp.MustCompile(`CHEQUE|\bCHECK\b`), "cheque"},
		{regexp.MustCompile(`BANK\s*TRANSFER|\bEFT\b|\bRTGS\b|\bSWIFT\b`), "bank_transfer"},
		{regexp.MustCompile(`\bCASH\b`), "cash"},
	}
	vatRate   = regexp.MustCompile(`(?:GST|VAT|TAX|SST)[^%\d]{0,12}(\d{1,2}(?:\.\d{1,2})?)\s*%|(\d{1,2}(?:\.\d{1,2})?)\s*%\s*(?:GST|VAT|TAX|SST)`)
	vatAny    = regexp.MustCompile(`\b(?:GST|VAT|SST)\b`)
	vatNot    = regexp.MustCompile(`SUMMARY|REG|\bID\b|\bNO\b|INCL|INCLUSIVE|EXCL|\bPIN\b|AMOUNT\s*\(`)
	qtyAtRate = regexp.MustCompile(`^(.*?)\s*(\d+(?:\.\d+)?)\s*[X@*]\s*(\d[\d,]*(?:\.\d+)?)\s+(\d[\d,]*\.\d{2})\b`)
)

func (d *doc) extract(f *Fields, conf map[string]float64) {
	set := func(field string, p *string, v string, c float64) {
		if v != "" {
			*p, conf[field] = v, c
		}
	}
	name, nc, _ := d.vendor()
	set(FieldVendorName, &f.VendorName, name, nc)
	t, tc := d.total(d.totalHint)
	set(FieldTotal, &f.Total, t, tc)
	issue, ic, due := d.dates()
	set(FieldIssueDate, &f.IssueDate, issue, ic)
	set(FieldDueDate, &f.DueDate, due, 0.8)
	set(FieldCurrency, &f.Currency, DetectCurrency(strings.Join(d.lines, "\n")), 0.8)

	for i, u := range d.upper {
		if f.VendorPIN == "" {
			if pins := kraPINInText.FindAllString(u, -1); len(pins) > 0 {
				// The vendor's PIN comes first; a customer's PIN is labelled.
				if !strings.Contains(u, "CUSTOMER") && !strings.Contains(u, "BUYER") {
					c := 0.8
					if pinLabel.MatchString(u) {
						c = 0.9
					}
					set(FieldVendorPIN, &f.VendorPIN, pins[0], c)
				}
			}
		}
		if f.DocumentNumber == "" {
			if m := docNumber.FindStringSubmatch(u); m != nil && strings.ContainsAny(m[1], "0123456789") {
				set(FieldDocumentNumber, &f.DocumentNumber, strings.Trim(d.lines[i][strings.Index(u, m[1]):strings.Index(u, m[1])+len(m[1])], "-/"), 0.75)
			} else if docNumberAlone.MatchString(u) && i+1 < len(d.lines) {
				next := strings.Trim(d.lines[i+1], " :")
				if len(strings.Fields(next)) == 1 && strings.ContainsAny(next, "0123456789") && len(findDates(next)) == 0 {
					set(FieldDocumentNumber, &f.DocumentNumber, next, 0.6)
				}
			}
		}
		if f.Customer == "" {
			if m := customerLabel.FindStringSubmatch(u); m != nil {
				v := strings.TrimSpace(d.lines[i][len(d.lines[i])-len(m[1]):])
				if v == "" && i+1 < len(d.lines) && !strings.Contains(u, "NAME") {
					v = d.lines[i+1]
				}
				if letters(v) >= 3 && !strings.EqualFold(v, "CASH") {
					set(FieldCustomer, &f.Customer, v, 0.6)
				}
			}
		}
		if f.Subtotal == "" && subtotalKw.MatchString(u) {
			if a, _, ok := d.valueFor(i); ok {
				set(FieldSubtotal, &f.Subtotal, a.Value, 0.75)
			}
		}
		if vatAny.MatchString(u) && !vatNot.MatchString(u) {
			if m := vatRate.FindStringSubmatch(u); m != nil {
				rate := m[1] + m[2]
				if a, _, ok := d.valueFor(i); ok && a.Decimals && (!strings.Contains(u, rate+"%") || a.Start > strings.Index(u, rate+"%")) {
					if !hasRate(f.VAT, rate) {
						f.VAT = append(f.VAT, VATLine{Rate: trimRate(rate), Amount: a.Value})
						conf[FieldVAT] = 0.7
					}
				}
			}
		}
		if m := qtyAtRate.FindStringSubmatch(u); m != nil {
			if l, ok := lineItem(d.lines[i][:len(m[1])], m[2], m[3], m[4]); ok {
				f.Lines = append(f.Lines, l)
				conf[FieldLines] = 0.6
			}
		} else if am := d.amounts[i]; len(am) >= 3 && letters(u[:am[len(am)-3].Start]) >= 3 {
			// "Widget 2 15.50 31.00": description, quantity, unit price, amount.
			q, p, a := am[len(am)-3], am[len(am)-2], am[len(am)-1]
			if l, ok := lineItem(d.lines[i][:q.Start], u[q.Start:q.End], p.Value, a.Value); ok {
				f.Lines = append(f.Lines, l)
				conf[FieldLines] = 0.6
			}
		}
	}
	for _, pm := range payMethods {
		for _, u := range d.upper {
			if pm.re.MatchString(u) && (pm.name != "cash" || !strings.Contains(u, "CASH BILL") && !strings.Contains(u, "CASH SALE")) {
				set(FieldPaymentMethod, &f.PaymentMethod, pm.name, 0.6)
				break
			}
		}
		if f.PaymentMethod != "" {
			break
		}
	}
}

func hasRate(v []VATLine, rate string) bool {
	for _, l := range v {
		if l.Rate == trimRate(rate) {
			return true
		}
	}
	return false
}

func trimRate(r string) string {
	if strings.Contains(r, ".") {
		r = strings.TrimRight(strings.TrimRight(r, "0"), ".")
	}
	return r
}

// lineItem accepts a row when quantity × unit price = amount exactly (to
// the cent), which is what tells a line item from any three numbers.
func lineItem(desc, qty, price, amount string) (Line, bool) {
	q, ok1 := new(big.Rat).SetString(strings.ReplaceAll(qty, ",", ""))
	pv := NormalizeAmount(price)
	av := NormalizeAmount(amount)
	p, ok2 := new(big.Rat).SetString(pv)
	a, ok3 := new(big.Rat).SetString(av)
	if !ok1 || !ok2 || !ok3 || q.Sign() <= 0 || a.Sign() <= 0 {
		return Line{}, false
	}
	prod := new(big.Rat).Mul(q, p)
	if prod.FloatString(2) != a.FloatString(2) {
		return Line{}, false
	}
	desc = strings.Trim(strings.TrimSpace(desc), " -:*")
	if letters(desc) < 2 {
		return Line{}, false
	}
	return Line{Description: desc, Quantity: q.RatString(), UnitPrice: pv, Amount: av}, true
}
