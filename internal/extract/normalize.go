package extract

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/vanta-ledger/vanta/internal/money"
)

// Normalisers turn the local spellings found on Kenyan, Malaysian and
// other documents into the one form the schema stores: exact decimal
// strings for amounts (never a float on the way), ISO dates, ISO 4217
// currency codes. They are pure functions so both engines and the checks
// share them.

// currencyMarks maps the spellings seen beside amounts to ISO 4217 codes.
// Longer spellings come first so "KSh" is not read as a bare "K...".
var currencyMarks = []struct{ mark, code string }{
	{"KSHS", "KES"}, {"KSH", "KES"}, {"KES", "KES"}, {"USD", "USD"}, {"US$", "USD"},
	{"EUR", "EUR"}, {"€", "EUR"}, {"GBP", "GBP"}, {"£", "GBP"}, {"MYR", "MYR"}, {"RM", "MYR"},
	{"UGX", "UGX"}, {"USH", "UGX"}, {"TZS", "TZS"}, {"TSH", "TZS"}, {"RWF", "RWF"},
	{"ZAR", "ZAR"}, {"NGN", "NGN"}, {"₦", "NGN"}, {"SGD", "SGD"}, {"S$", "SGD"},
	{"INR", "INR"}, {"₹", "INR"}, {"JPY", "JPY"}, {"¥", "JPY"}, {"$", "USD"},
}

// ParseAmount reads one amount as written on a document — "1,053.52",
// "1.053,52", "1 053.52", "RM 31.00", "KES 1,234", "KSh 1,160.00",
// "(12.50)", "12.50-" — and returns it as an exact decimal string with at
// least two decimals ("1053.52", "1234.00", "-12.50") and the currency the
// text named ("" when none). ok is false when s is not one amount.
func ParseAmount(s string) (amount, currency string, ok bool) {
	s = strings.TrimSpace(s)
	neg := false
	if strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") {
		neg, s = true, strings.TrimSpace(s[1:len(s)-1])
	}
	s, currency = stripCurrency(s)
	switch {
	case strings.HasPrefix(s, "-"):
		neg, s = !neg, strings.TrimSpace(s[1:])
	case strings.HasSuffix(s, "-"): // some tills print credits as "12.50-"
		neg, s = !neg, strings.TrimSpace(s[:len(s)-1])
	case strings.HasPrefix(s, "+"):
		s = strings.TrimSpace(s[1:])
	}
	if currency == "" {
		s, currency = stripCurrency(s)
	}
	whole, frac, ok := splitNumber(s)
	if !ok {
		return "", "", false
	}
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		whole = "0"
	}
	for len(frac) < 2 {
		frac += "0"
	}
	amount = whole + "." + frac
	if neg && strings.Trim(whole+frac, "0") != "" {
		amount = "-" + amount
	}
	// An amount the books cannot hold (beyond int64 minor units) is a
	// misread number, not money: refusing it here keeps it out of drafts.
	if _, err := money.Parse(amount, len(frac)); err != nil {
		return "", "", false
	}
	return amount, currency, true
}

// stripCurrency removes one currency mark at either end of s.
func stripCurrency(s string) (string, string) {
	up := strings.ToUpper(s)
	for _, m := range currencyMarks {
		if strings.HasPrefix(up, m.mark) {
			rest := s[len(m.mark):]
			// "RM31.00" and "RM 31.00" both, but not "RMX": the mark must be
			// followed by the number (or a space, a dot as in "Ksh.").
			rest = strings.TrimLeft(rest, " .:")
			if rest != "" && (rest[0] >= '0' && rest[0] <= '9' || rest[0] == '-' || rest[0] == '(') {
				return rest, m.code
			}
		}
		if strings.HasSuffix(up, m.mark) {
			rest := strings.TrimRight(s[:len(s)-len(m.mark)], " ")
			if rest != "" && rest[len(rest)-1] >= '0' && rest[len(rest)-1] <= '9' {
				return rest, m.code
			}
		}
	}
	return s, ""
}

// splitNumber splits a number written with any of the usual grouping and
// decimal marks into its whole digits and fraction digits. The rules: with
// both ',' and '.', the later is the decimal mark; a lone ',' followed by
// exactly three digits groups thousands (KES 1,234), otherwise it is the
// decimal mark (12,50); a lone '.' is always the decimal mark; a mark that
// repeats groups thousands; spaces and apostrophes group thousands.
func splitNumber(s string) (whole, frac string, ok bool) {
	if s == "" {
		return "", "", false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r == ',' || r == '.' || r == ' ' || r == '\'' || r == '\u00a0') {
			return "", "", false
		}
	}
	if s[0] < '0' || s[0] > '9' {
		if s[0] != '.' && s[0] != ',' {
			return "", "", false
		}
	}
	last := s[len(s)-1]
	if last < '0' || last > '9' {
		return "", "", false
	}
	dec := -1
	lastDot, lastComma := strings.LastIndexByte(s, '.'), strings.LastIndexByte(s, ',')
	nDot, nComma := strings.Count(s, "."), strings.Count(s, ",")
	switch {
	case nDot > 0 && nComma > 0:
		dec = max(lastDot, lastComma)
		if strings.Count(s, string(s[dec])) > 1 {
			return "", "", false
		}
	case nDot == 1:
		dec = lastDot
	case nComma == 1:
		if len(s)-lastComma-1 != 3 {
			dec = lastComma
		}
	}
	intPart, fracPart := s, ""
	if dec >= 0 {
		intPart, fracPart = s[:dec], s[dec+1:]
		if !allDigits(fracPart) || fracPart == "" {
			return "", "", false
		}
	}
	// Every group after the first must be three digits long.
	groups := strings.FieldsFunc(intPart, func(r rune) bool {
		return r == ',' || r == '.' || r == ' ' || r == '\'' || r == '\u00a0'
	})
	if len(groups) == 0 {
		if intPart != "" {
			return "", "", false
		}
		return "0", fracPart, true
	}
	if len(groups) > 1 {
		if len(groups[0]) > 3 {
			return "", "", false
		}
		for _, g := range groups[1:] {
			if len(g) != 3 {
				return "", "", false
			}
		}
		// The separators between groups must be single marks.
		if strings.Contains(intPart, "  ") || strings.Contains(intPart, ",,") || strings.Contains(intPart, "..") {
			return "", "", false
		}
	} else if intPart != groups[0] {
		return "", "", false
	}
	return strings.Join(groups, ""), fracPart, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// amountToken finds amount-like tokens in a line: digits with grouping and
// decimal marks, optionally in parentheses. Currency marks are handled by
// the caller (they are separate words on most documents).
var amountToken = regexp.MustCompile(`\(?\.\d{2}\b\)?|\(?\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?\)?|\(?\d{1,3}(?:\.\d{3})+,\d{1,2}\)?|\(?\d+(?:[.,]\d{1,2})?\)?-?`)

// centsTail is a written decimal part: "31.00", "12,50)".
var centsTail = regexp.MustCompile(`[.,]\d{2}\)?-?$`)

// amountMatch is an amount found in a line.
type amountMatch struct {
	Value    string // normalised
	Start    int    // byte offsets in the line
	End      int
	Decimals bool // written with a decimal part
}

// findAmounts lists the amounts in one line, left to right. A number
// glued to a currency mark ("RM7.90", "KSh1,160") or followed by a till's
// tax code ("9.80SR") counts; one glued to other letters is part of a code
// ("A123"), and one followed by "%" is a rate.
func findAmounts(line string) []amountMatch {
	var out []amountMatch
	for _, loc := range amountToken.FindAllStringIndex(line, -1) {
		tok := line[loc[0]:loc[1]]
		cents := centsTail.MatchString(tok)
		if loc[0] > 0 && isWordByte(line[loc[0]-1]) && !afterCurrency(line[:loc[0]]) {
			continue
		}
		if loc[1] < len(line) && isWordByte(line[loc[1]]) {
			if !cents || !taxCodeAfter(line[loc[1]:]) {
				continue
			}
		}
		if rest := strings.TrimLeft(line[loc[1]:], " "); strings.HasPrefix(rest, "%") {
			continue
		}
		if strings.HasSuffix(tok, "-") && loc[1] < len(line) && line[loc[1]] >= '0' && line[loc[1]] <= '9' {
			continue
		}
		v, _, ok := ParseAmount(tok)
		if !ok {
			continue
		}
		// "-RM0.02", "RM-0.20": the sign sits around the currency mark.
		if before := strings.ToUpper(line[:loc[0]]); !strings.HasPrefix(v, "-") && v != "0.00" && (negBeforeCurrency.MatchString(before) || bareMinus.MatchString(before)) {
			v = "-" + v
		}
		out = append(out, amountMatch{Value: v, Start: loc[0], End: loc[1], Decimals: cents})
	}
	return out
}

// negBeforeCurrency is a minus sign written around a glued currency mark.
var negBeforeCurrency = regexp.MustCompile(`(?:-\s?(?:RM|KSH|KES|\$|USD|MYR)\s?|(?:RM|KSH|KES|\$|USD|MYR)\s?-)$`)

// bareMinus is a minus sign standing alone before a number ("-.02").
var bareMinus = regexp.MustCompile(`(?:^|[\s:(])-$`)

// afterCurrency reports whether before ends with a currency mark the
// number is glued to.
func afterCurrency(before string) bool {
	up := strings.ToUpper(strings.TrimSuffix(before, "-"))
	for _, m := range currencyMarks {
		if strings.HasSuffix(up, m.mark) {
			p := len(up) - len(m.mark)
			if p == 0 || !(up[p-1] >= 'A' && up[p-1] <= 'Z') {
				return true
			}
		}
	}
	return false
}

// taxCodeAfter reports whether after starts with a till's one- or
// two-letter tax code (SR, ZR, S, Z, T, E) and then ends the word.
func taxCodeAfter(after string) bool {
	n := 0
	for n < len(after) && after[n] >= 'A' && after[n] <= 'Z' {
		n++
	}
	return n >= 1 && n <= 2 && (n == len(after) || !isWordByte(after[n]))
}

func isWordByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '/' || b == ':'
}

// amountEqual compares two normalised amounts numerically ("31.0" = "31.00").
func amountEqual(a, b string) bool {
	na, _, oka := ParseAmount(a)
	nb, _, okb := ParseAmount(b)
	return oka && okb && na == nb
}

// NormalizeAmount returns the canonical form of an amount, or "" when s is
// not one.
func NormalizeAmount(s string) string {
	v, _, ok := ParseAmount(s)
	if !ok {
		return ""
	}
	return v
}

var monthNames = map[string]int{
	"jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
	"may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
	"sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11,
	"dec": 12, "december": 12,
}

const monthRe = `(?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)`

var (
	// 14/03/2018, 14-03-2018, 14.03.18, 2018-03-14, 2018/03/14
	numericDate = regexp.MustCompile(`(?:^|[^\d])(\d{1,4})([/.\-])(\d{1,2})([/.\-])(\d{2,4})(?:$|[^\d])`)
	// 20180428: year first, no separators (some tills)
	compactDate = regexp.MustCompile(`(?:^|[^\d])(20[0-3]\d)(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?:$|[^\d])`)
	// 14 Mar 2018, 14-Mar-2018, 14MAR18, 14th March 2018
	dayMonthYear = regexp.MustCompile(`(?:^|[^\d])(\d{1,2})(?:st|nd|rd|th)?[\s\-/.]*(` + monthRe + `)[a-z]*[\s\-/.,']*(\d{4}|\d{2})(?:$|[^\d])`)
	// March 14, 2018; Mar 14 2018
	monthDayYear = regexp.MustCompile(`(?:^|[^A-Za-z])(` + monthRe + `)[a-z]*\.?\s*(\d{1,2})(?:st|nd|rd|th)?,?\s*(\d{4})(?:$|[^\d])`)
)

// ParseDate reads one date as written on a document and returns it as ISO
// YYYY-MM-DD. Numeric dates are day first (Kenya, Malaysia, most of the
// world) unless the day-first reading is impossible and the month-first one
// is not (03/14/2018). Impossible dates (31/02/2018) are refused. A trailing
// time ("8:01:11 PM") is ignored.
func ParseDate(s string) (string, bool) {
	ds := findDates(s)
	if len(ds) == 0 {
		return "", false
	}
	return ds[0].ISO, true
}

// dateMatch is a date found in text.
type dateMatch struct {
	ISO        string
	Start, End int
}

// findDates lists the valid dates in s in the order they appear.
func findDates(s string) []dateMatch {
	var out []dateMatch
	for _, m := range numericDate.FindAllStringSubmatchIndex(s, -1) {
		a, b, c := s[m[2]:m[3]], s[m[6]:m[7]], s[m[10]:m[11]]
		sep1, sep2 := s[m[4]:m[5]], s[m[8]:m[9]]
		if sep1 != sep2 {
			continue
		}
		var iso string
		if len(a) == 4 { // year first: always Y-M-D
			if len(c) > 2 {
				continue
			}
			iso = isoDate(atoi(a), atoi(b), atoi(c))
		} else {
			if len(c) == 3 {
				continue
			}
			y := year(c)
			iso = isoDate(y, atoi(b), atoi(a))
			if iso == "" {
				iso = isoDate(y, atoi(a), atoi(b))
			}
		}
		if iso != "" {
			out = append(out, dateMatch{iso, m[2], m[11]})
		}
	}
	for _, m := range compactDate.FindAllStringSubmatchIndex(s, -1) {
		if iso := isoDate(atoi(s[m[2]:m[3]]), atoi(s[m[4]:m[5]]), atoi(s[m[6]:m[7]])); iso != "" {
			out = append(out, dateMatch{iso, m[2], m[7]})
		}
	}
	for _, m := range dayMonthYear.FindAllStringSubmatchIndex(s, -1) {
		d, mon, y := s[m[2]:m[3]], s[m[4]:m[5]], s[m[6]:m[7]]
		if iso := isoDate(year(y), monthNames[strings.ToLower(mon)], atoi(d)); iso != "" {
			out = append(out, dateMatch{iso, m[2], m[7]})
		}
	}
	for _, m := range monthDayYear.FindAllStringSubmatchIndex(s, -1) {
		mon, d, y := s[m[2]:m[3]], s[m[4]:m[5]], s[m[6]:m[7]]
		if iso := isoDate(year(y), monthNames[strings.ToLower(mon)], atoi(d)); iso != "" {
			out = append(out, dateMatch{iso, m[2], m[7]})
		}
	}
	// Order by position so "the first date" means the first on the page.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Start < out[j-1].Start; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// year reads a two- or four-digit year; two digits mean 2000-2069 or
// 1970-1999, the window of documents anyone will upload.
func year(s string) int {
	y := atoi(s)
	if len(s) == 2 {
		if y < 70 {
			return 2000 + y
		}
		return 1900 + y
	}
	if len(s) != 4 {
		return -1
	}
	return y
}

// isoDate formats a real calendar date, or "" for an impossible one.
func isoDate(y, m, d int) string {
	if y < 1900 || y > 2200 || m < 1 || m > 12 || d < 1 || d > 31 {
		return ""
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d || int(t.Month()) != m {
		return ""
	}
	return t.Format("2006-01-02")
}

// kraPIN is the Kenya Revenue Authority's PIN: A (individual) or P
// (non-individual), nine digits, a check letter.
var kraPIN = regexp.MustCompile(`^[AP]\d{9}[A-Z]$`)

// ValidKRAPIN reports whether s has the format of a KRA PIN.
func ValidKRAPIN(s string) bool { return kraPIN.MatchString(s) }

var kraPINInText = regexp.MustCompile(`\b[AP]\d{9}[A-Z]\b`)

// DetectCurrency names the currency a text's amounts are in, by the marks
// it uses most ("" when it names none).
func DetectCurrency(text string) string {
	counts := map[string]int{}
	up := strings.ToUpper(text)
	for _, f := range strings.FieldsFunc(up, func(r rune) bool {
		return unicode.IsSpace(r) || r == ':' || r == '(' || r == ')' || r == '='
	}) {
		for _, m := range currencyMarks {
			if f == m.mark || f == m.mark+"." || strings.HasPrefix(f, m.mark) && len(f) > len(m.mark) && f[len(m.mark)] >= '0' && f[len(m.mark)] <= '9' {
				counts[m.code]++
				break
			}
		}
	}
	best, n := "", 0
	for _, m := range currencyMarks { // fixed order breaks ties deterministically
		if c := counts[m.code]; c > n {
			best, n = m.code, c
		}
	}
	return best
}

// normSpace collapses runs of white space and upper-cases, for comparing
// names and addresses.
func normSpace(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), " "))
}
