package journal

import (
	"math/big"
	"strings"
	"unicode"
	"unicode/utf8"
)

// simpleSymbolChar says whether r may appear in an unquoted commodity
// symbol: hledger's rule (no digits, spaces, signs, marks or the
// characters that start costs, assertions, comments and quotes), with
// brackets and parentheses also excluded so that lots and virtual costs
// are refused instead of read as symbols.
func simpleSymbolChar(r rune) bool {
	if unicode.IsDigit(r) || unicode.IsSpace(r) || r == utf8.RuneError {
		return false
	}
	return !strings.ContainsRune("-+.,;@*\"{}[]()=<>!#&|'`~^/\\%", r)
}

// needsQuotes says whether a symbol must be written in double quotes.
func needsQuotes(sym string) bool {
	if sym == "" {
		return false
	}
	for _, r := range sym {
		if !simpleSymbolChar(r) {
			return true
		}
	}
	return false
}

// validSymbol is a symbol that can be written at all (quoted if need be).
func validSymbol(sym string) bool {
	return !strings.ContainsAny(sym, "\"\n\r\t") && utf8.ValidString(sym) && strings.TrimSpace(sym) == sym
}

// rawAmount is an amount as written, before its number is read (which
// needs the commodity's declared decimal mark).
type rawAmount struct {
	commodity string
	number    string // digits and marks, no sign
	negative  bool
	left      bool
	spaced    bool
	hasSym    bool
}

// scanAmount reads "[-]SYM[ ][-]NUMBER" or "[-]NUMBER[ ]SYM" or a bare
// number; the whole of s must be the amount.
func scanAmount(s string) (rawAmount, string) {
	var a rawAmount
	s = strings.TrimSpace(s)
	if s == "" {
		return a, "an amount is missing"
	}
	sign := func() {
		if strings.HasPrefix(s, "-") {
			a.negative = !a.negative
			s = strings.TrimLeft(s[1:], " ")
		} else if strings.HasPrefix(s, "+") {
			s = strings.TrimLeft(s[1:], " ")
		}
	}
	sign()
	sym, rest, msg := scanSymbol(s)
	if msg != "" {
		return a, msg
	}
	if sym != "" || rest != s {
		a.hasSym, a.left, a.commodity = true, true, sym
		a.spaced = strings.HasPrefix(rest, " ")
		s = strings.TrimLeft(rest, " ")
		sign()
	}
	// The number: digits, marks, and single spaces between digits.
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= '0' && c <= '9' || c == '.' || c == ',' {
			i++
			continue
		}
		if c == ' ' && i > 0 && i+1 < len(s) && isDigit(s[i-1]) && isDigit(s[i+1]) {
			// a space digit group: "1 000 USD" groups, while in
			// "10 USD" the space is followed by the symbol.
			i++
			continue
		}
		break
	}
	a.number, s = s[:i], s[i:]
	if a.number == "" {
		return a, "an amount needs a number"
	}
	if !a.hasSym {
		a.spaced = strings.HasPrefix(s, " ")
		s = strings.TrimLeft(s, " ")
		sym, rest, msg := scanSymbol(s)
		if msg != "" {
			return a, msg
		}
		if rest != s {
			a.hasSym, a.commodity = true, sym
			s = rest
		} else {
			a.spaced = false
		}
	}
	if strings.TrimSpace(s) != "" {
		return a, "unexpected " + quote(strings.TrimSpace(s)) + " in an amount"
	}
	return a, ""
}

func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return "\"" + s + "\""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanSymbol reads a quoted or simple symbol at the start of s; rest is
// s after it (rest == s when there is none).
func scanSymbol(s string) (sym, rest, msg string) {
	if strings.HasPrefix(s, "\"") {
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return "", s, "a quoted commodity is not closed"
		}
		sym = s[1 : 1+end]
		if sym == "" || !validSymbol(sym) {
			return "", s, "a quoted commodity is empty or has surrounding spaces"
		}
		return sym, s[2+end:], ""
	}
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !simpleSymbolChar(r) {
			break
		}
		i += n
	}
	return s[:i], s[i:], ""
}

// readNumber turns digits and marks into an exact quantity. decl is the
// commodity's declared decimal mark (0 when undeclared). Like hledger: with
// both marks the last is the decimal mark; one mark written once is a
// decimal mark unless the commodity declares the other one; a mark written
// more than once groups digits; spaces group digits.
func readNumber(num string, decl byte) (q *big.Rat, places int, mark byte, msg string) {
	clean := strings.ReplaceAll(num, " ", "")
	dots, commas := strings.Count(clean, "."), strings.Count(clean, ",")
	var dec byte
	switch {
	case dots > 0 && commas > 0:
		dec = clean[strings.LastIndexAny(clean, ".,")]
		if strings.Count(clean, string(dec)) > 1 {
			return nil, 0, 0, "number " + quote(num) + " has its decimal mark twice"
		}
	case dots == 1 && commas == 0:
		dec = '.'
		if decl == ',' {
			dec = 0
		}
	case commas == 1 && dots == 0:
		dec = ','
		if decl == '.' {
			dec = 0
		}
	case dots > 1 || commas > 1:
		dec = 0
		if decl != 0 && (dots > 1 && decl == '.' || commas > 1 && decl == ',') {
			return nil, 0, 0, "number " + quote(num) + " repeats its commodity's decimal mark"
		}
	}
	whole, frac := clean, ""
	if dec != 0 {
		k := strings.LastIndexByte(clean, dec)
		whole, frac = clean[:k], clean[k+1:]
	}
	group := byte(0)
	for i := 0; i < len(whole); i++ {
		c := whole[i]
		if isDigit(c) {
			continue
		}
		if group != 0 && c != group {
			return nil, 0, 0, "number " + quote(num) + " mixes digit group marks"
		}
		group = c
		if i == 0 || i == len(whole)-1 || !isDigit(whole[i-1]) || !isDigit(whole[i+1]) {
			return nil, 0, 0, "number " + quote(num) + " has a misplaced mark"
		}
	}
	if strings.Contains(num, " ") && group != 0 {
		return nil, 0, 0, "number " + quote(num) + " mixes digit group marks"
	}
	if !digitsOnly(frac) || (dec != 0 && whole == "" && frac == "") {
		return nil, 0, 0, "number " + quote(num) + " is not a number"
	}
	whole = strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, whole)
	if len(whole)+len(frac) > 60 {
		return nil, 0, 0, "number " + quote(num) + " has too many digits"
	}
	if whole == "" {
		whole = "0"
	}
	q = new(big.Rat)
	if _, ok := q.SetString(whole + "." + frac + "0"); !ok {
		return nil, 0, 0, "number " + quote(num) + " is not a number"
	}
	return q, len(frac), dec, ""
}

func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// decimalsOf is how many decimals a terminating fraction needs; -1 if it
// does not terminate.
func decimalsOf(r *big.Rat) int {
	d := new(big.Int).Set(r.Denom())
	two, five := big.NewInt(2), big.NewInt(5)
	var m big.Int
	n2, n5 := 0, 0
	for {
		q, rem := new(big.Int).QuoRem(d, two, &m)
		if rem.Sign() != 0 {
			break
		}
		d, n2 = q, n2+1
	}
	for {
		q, rem := new(big.Int).QuoRem(d, five, &m)
		if rem.Sign() != 0 {
			break
		}
		d, n5 = q, n5+1
	}
	if d.Cmp(big.NewInt(1)) != 0 {
		return -1
	}
	return max(n2, n5)
}

// FormatQuantity writes q with places decimals (more if q needs them)
// using mark as the decimal mark, without digit groups.
func FormatQuantity(q *big.Rat, places int, mark byte) string {
	if d := decimalsOf(q); d > places {
		places = d
	}
	s := q.FloatString(places) // exact: q terminates within places
	if mark == ',' {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// String writes the amount in a default style (symbol after, spaced).
func (a Amount) String() string {
	return formatAmount(a, Style{Decimal: '.', Spaced: true})
}

func formatAmount(a Amount, st Style) string {
	if st.Decimal == 0 {
		st.Decimal = '.'
	}
	num := FormatQuantity(a.Quantity, a.Places, st.Decimal)
	sym := a.Commodity
	if needsQuotes(sym) {
		sym = "\"" + sym + "\""
	}
	if sym == "" {
		return num
	}
	sp := ""
	if st.Spaced {
		sp = " "
	}
	if st.Left {
		return sym + sp + num
	}
	return num + sp + sym
}
