package journal

import (
	"bytes"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxLineLength bounds one line, so that a hostile file cannot make a
// single token huge.
const MaxLineLength = 4096

// Parse reads a journal. The first problem stops it; its *Error names the
// line.
func Parse(src []byte) (*Journal, error) {
	p := &parser{j: &Journal{Styles: map[string]Style{}}, declared: map[string]Style{}}
	lines := bytes.Split(src, []byte("\n"))
	if err := p.prescan(lines); err != nil {
		return nil, err
	}
	for i, raw := range lines {
		if err := p.line(i+1, raw); err != nil {
			return nil, err
		}
	}
	if p.inBlock {
		return nil, errorf(p.blockLine, "a comment block is not closed by \"end comment\"")
	}
	p.close()
	for sym, st := range p.declared {
		p.j.Styles[sym] = st
	}
	for sym, st := range p.j.Styles {
		if st.Decimal == 0 {
			st.Decimal = '.'
			p.j.Styles[sym] = st
		}
	}
	return p.j, nil
}

type parser struct {
	j         *Journal
	declared  map[string]Style // styles given by commodity and D directives
	decMark   map[string]byte  // their decimal marks, known before any amount is read
	defaultC  *string          // the D directive's commodity, once seen
	cur       *Transaction
	curAcct   *AccountDecl
	curComm   *CommodityDecl
	inBlock   bool
	blockLine int
}

func (p *parser) close() {
	if p.cur != nil {
		p.j.Transactions = append(p.j.Transactions, *p.cur)
		p.cur = nil
	}
	if p.curAcct != nil {
		p.j.Accounts = append(p.j.Accounts, *p.curAcct)
		p.curAcct = nil
	}
	if p.curComm != nil {
		p.j.Commodities = append(p.j.Commodities, *p.curComm)
		p.curComm = nil
	}
}

// prescan learns the decimal marks that commodity and D directives
// declare, since they decide how amounts anywhere in the file are read.
func (p *parser) prescan(lines [][]byte) error {
	p.decMark = map[string]byte{}
	inComm := false
	for i, raw := range lines {
		line := strings.TrimRight(string(raw), " \t\r")
		text := line
		if k := strings.IndexByte(text, ';'); k >= 0 {
			text = text[:k]
		}
		var sample string
		switch {
		case strings.HasPrefix(text, "commodity ") || strings.HasPrefix(text, "commodity\t"):
			sample, inComm = strings.TrimSpace(text[len("commodity"):]), true
		case strings.HasPrefix(text, "D ") || strings.HasPrefix(text, "D\t"):
			sample, inComm = strings.TrimSpace(text[1:]), false
		case inComm && line != "" && (line[0] == ' ' || line[0] == '\t'):
			t := strings.TrimSpace(text)
			if !strings.HasPrefix(t, "format ") && !strings.HasPrefix(t, "format\t") {
				continue
			}
			sample = strings.TrimSpace(t[len("format"):])
		default:
			if line != "" && line[0] != ' ' && line[0] != '\t' {
				inComm = false
			}
			continue
		}
		ra, msg := scanAmount(sample)
		if msg != "" || ra.number == "" && ra.commodity == "" {
			continue // a bare symbol, or an error the main pass reports
		}
		if !ra.hasSym && ra.number != "" {
			continue
		}
		_, _, mark, msg := readNumber(ra.number, 0)
		if msg != "" {
			return errorf(i+1, "%s", msg)
		}
		if mark != 0 {
			if prev, ok := p.decMark[ra.commodity]; ok && prev != mark {
				return errorf(i+1, "commodity %s is declared with two different decimal marks", quote(ra.commodity))
			}
			p.decMark[ra.commodity] = mark
		}
	}
	return nil
}

func (p *parser) line(ln int, raw []byte) error {
	if len(raw) > MaxLineLength {
		return errorf(ln, "the line is longer than %d bytes", MaxLineLength)
	}
	if !utf8.Valid(raw) {
		return errorf(ln, "the line is not valid UTF-8")
	}
	line := strings.TrimRight(string(raw), " \t\r")
	if strings.ContainsAny(line, "\r\x00") {
		return errorf(ln, "the line has a carriage return or NUL inside it")
	}
	if p.inBlock {
		if strings.TrimSpace(line) == "end comment" {
			p.inBlock = false
		}
		return nil
	}
	if strings.TrimSpace(line) == "" {
		p.close()
		return nil
	}
	if line[0] == ' ' || line[0] == '\t' {
		return p.indented(ln, strings.TrimSpace(line))
	}
	p.close()
	switch c := line[0]; {
	case c == ';' || c == '#' || c == '*' || c == '%' || c == '|':
		return nil
	case isDigit(c):
		return p.header(ln, line)
	}
	word, rest, _ := strings.Cut(strings.ReplaceAll(line, "\t", " "), " ")
	rest = strings.TrimSpace(rest)
	switch word {
	case "P":
		return p.price(ln, rest)
	case "D":
		return p.defaultCommodity(ln, rest)
	case "account":
		return p.account(ln, rest)
	case "commodity":
		return p.commodity(ln, rest)
	case "comment":
		p.inBlock, p.blockLine = true, ln
		return nil
	case "include":
		return errorf(ln, "include is not supported: put the included file's contents into this one (one file is imported as one transaction)")
	}
	switch {
	case strings.HasPrefix(line, "~"):
		return errorf(ln, "periodic transactions (~) are not supported")
	case strings.HasPrefix(line, "="):
		return errorf(ln, "automated transactions (=) are not supported")
	}
	return errorf(ln, "the directive %s is not supported", quote(word))
}

func (p *parser) indented(ln int, t string) error {
	isComment := t[0] == ';' || t[0] == '#'
	comment := ""
	if isComment {
		comment = strings.TrimSpace(t[1:])
	}
	switch {
	case p.cur != nil:
		if isComment {
			if n := len(p.cur.Postings); n > 0 {
				p.cur.Postings[n-1].Comment = addLine(p.cur.Postings[n-1].Comment, comment)
			} else {
				p.cur.Comment = addLine(p.cur.Comment, comment)
			}
			return nil
		}
		return p.posting(ln, t)
	case p.curAcct != nil:
		if isComment {
			p.curAcct.Comment = addLine(p.curAcct.Comment, comment)
			return nil
		}
		return errorf(ln, "an account directive takes only comment lines under it")
	case p.curComm != nil:
		if isComment {
			return nil
		}
		if f, ok := strings.CutPrefix(strings.ReplaceAll(t, "\t", " "), "format "); ok {
			return p.commodityFormat(ln, p.curComm, strings.TrimSpace(stripComment(f)))
		}
		return errorf(ln, "the commodity subdirective %s is not supported", quote(strings.Fields(t)[0]))
	case isComment:
		return nil
	}
	return errorf(ln, "an indented line outside a transaction")
}

// addLine appends a comment line; the first line is the one printed on
// the same line as the transaction, posting or directive.
func addLine(c, line string) string {
	if c == "" {
		return line
	}
	return c + "\n" + line
}

func stripComment(s string) string {
	if k := strings.IndexByte(s, ';'); k >= 0 {
		return s[:k]
	}
	return s
}

func splitComment(s string) (text string, comment string, has bool) {
	k := strings.IndexByte(s, ';')
	if k < 0 {
		return s, "", false
	}
	return s[:k], strings.TrimSpace(s[k+1:]), true
}

// parseDate reads YYYY-MM-DD, YYYY/MM/DD or YYYY.MM.DD (month and day may
// have one digit) as YYYY-MM-DD.
func parseDate(s string) (string, bool) {
	if len(s) < 8 || len(s) > 10 {
		return "", false
	}
	sep := s[4]
	if sep != '-' && sep != '/' && sep != '.' {
		return "", false
	}
	parts := strings.Split(s, string(sep))
	if len(parts) != 3 || len(parts[0]) != 4 || len(parts[1]) < 1 || len(parts[1]) > 2 || len(parts[2]) < 1 || len(parts[2]) > 2 {
		return "", false
	}
	for _, x := range parts {
		if !digitsOnly(x) {
			return "", false
		}
	}
	pad := func(x string) string {
		if len(x) == 1 {
			return "0" + x
		}
		return x
	}
	d := parts[0] + "-" + pad(parts[1]) + "-" + pad(parts[2])
	if _, err := time.Parse("2006-01-02", d); err != nil {
		return "", false
	}
	return d, true
}

func (p *parser) header(ln int, line string) error {
	dateTok, rest, _ := strings.Cut(strings.ReplaceAll(line, "\t", " "), " ")
	if strings.Contains(dateTok, "=") {
		return errorf(ln, "secondary dates (DATE=DATE) are not supported")
	}
	date, ok := parseDate(dateTok)
	if !ok {
		return errorf(ln, "%s is not a date (YYYY-MM-DD or YYYY/MM/DD)", quote(dateTok))
	}
	t := &Transaction{Date: date, Line: ln}
	rest, comment, has := splitComment(rest)
	if has {
		t.Comment = comment
	}
	rest = strings.TrimSpace(rest)
	if rest != "" && (rest[0] == '*' || rest[0] == '!') {
		t.Status, rest = rest[:1], strings.TrimSpace(rest[1:])
	}
	if strings.HasPrefix(rest, "(") {
		if end := strings.IndexByte(rest, ')'); end > 0 {
			t.Code, rest = strings.TrimSpace(rest[1:end]), strings.TrimSpace(rest[end+1:])
		}
	}
	t.Description = rest
	p.cur = t
	return nil
}

func (p *parser) posting(ln int, t string) error {
	po := Posting{Line: ln}
	if (t[0] == '*' || t[0] == '!') && (len(t) == 1 || t[1] == ' ' || t[1] == '\t') {
		po.Status, t = t[:1], strings.TrimSpace(t[1:])
	}
	t, comment, has := splitComment(t)
	if has {
		po.Comment = comment
	}
	t = strings.TrimRight(t, " \t")
	acct, rest := t, ""
	if k := strings.Index(t, "  "); k >= 0 {
		acct, rest = t[:k], t[k:]
	}
	if k := strings.IndexByte(acct, '\t'); k >= 0 {
		acct, rest = acct[:k], acct[k:]+rest
	}
	acct = strings.TrimSpace(acct)
	rest = strings.TrimSpace(rest)
	if acct == "" {
		return errorf(ln, "a posting needs an account")
	}
	if acct[0] == '(' || acct[0] == '[' {
		return errorf(ln, "virtual postings ((account) or [account]) are not supported")
	}
	if msg := checkAccountName(acct); msg != "" {
		return errorf(ln, "%s", msg)
	}
	po.Account = acct
	if rest != "" {
		if strings.ContainsAny(rest, "{}") {
			return errorf(ln, "lot prices and dates ({…}) are not supported")
		}
		if strings.Contains(rest, "(@") {
			return errorf(ln, "virtual costs ((@) and (@@)) are not supported")
		}
		amt, assert, hasAssert := strings.Cut(rest, "=")
		amt = strings.TrimSpace(amt)
		if hasAssert {
			a := &Assertion{}
			if strings.HasPrefix(assert, "=") {
				a.Total, assert = true, assert[1:]
			}
			if strings.HasPrefix(assert, "*") {
				return errorf(ln, "inclusive balance assertions (=* and ==*) are not supported")
			}
			if strings.Contains(assert, "@") {
				return errorf(ln, "a balance assertion with a cost is not supported")
			}
			v, err := p.amount(ln, assert)
			if err != nil {
				return err
			}
			a.Amount = v
			po.Assertion = a
		}
		if amt != "" {
			val, cost, hasCost := strings.Cut(amt, "@")
			v, err := p.amount(ln, val)
			if err != nil {
				return err
			}
			po.Amount = &v
			if hasCost {
				c := &Cost{}
				if strings.HasPrefix(cost, "@") {
					c.Total, cost = true, cost[1:]
				}
				cv, err := p.amount(ln, cost)
				if err != nil {
					return err
				}
				if cv.Quantity.Sign() < 0 {
					return errorf(ln, "a cost must not be negative")
				}
				c.Amount = cv
				po.Cost = c
			}
		}
		if po.Amount == nil && po.Assertion == nil {
			return errorf(ln, "unexpected %s after the account", quote(rest))
		}
	}
	p.cur.Postings = append(p.cur.Postings, po)
	return nil
}

func checkAccountName(a string) string {
	if strings.ContainsAny(a, "\t;") || strings.Contains(a, "  ") {
		return "account name " + quote(a) + " has a tab, a semicolon or two spaces in it"
	}
	for _, part := range strings.Split(a, ":") {
		if strings.TrimSpace(part) == "" {
			return "account name " + quote(a) + " has an empty part"
		}
	}
	return ""
}

// amount reads an amount, giving a symbol-less one the D commodity and
// recording the commodity's style at its first appearance.
func (p *parser) amount(ln int, s string) (Amount, error) {
	ra, msg := scanAmount(s)
	if msg != "" {
		return Amount{}, errorf(ln, "%s", msg)
	}
	if !ra.hasSym && p.defaultC != nil {
		ra.commodity = *p.defaultC
		st := p.declared[ra.commodity]
		ra.hasSym, ra.left, ra.spaced = ra.commodity != "", st.Left, st.Spaced
	}
	q, places, mark, msg := readNumber(ra.number, p.decMark[ra.commodity])
	if msg != "" {
		return Amount{}, errorf(ln, "%s", msg)
	}
	if ra.negative {
		q.Neg(q)
	}
	st, seen := p.j.Styles[ra.commodity]
	if !seen {
		st = Style{Left: ra.left, Spaced: ra.spaced}
	}
	if st.Decimal == 0 && mark != 0 && places > 0 {
		st.Decimal = mark
	}
	p.j.Styles[ra.commodity] = st
	return Amount{Commodity: ra.commodity, Quantity: q, Places: places}, nil
}

func (p *parser) price(ln int, rest string) error {
	rest = strings.TrimSpace(stripComment(rest))
	dateTok, rest, _ := strings.Cut(rest, " ")
	date, ok := parseDate(dateTok)
	if !ok {
		return errorf(ln, "%s is not a date (YYYY-MM-DD or YYYY/MM/DD)", quote(dateTok))
	}
	rest = strings.TrimSpace(rest)
	sym, after, msg := scanSymbol(rest)
	if msg != "" {
		return errorf(ln, "%s", msg)
	}
	if sym == "" {
		return errorf(ln, "a P directive needs a commodity after its date (a time of day is not supported)")
	}
	if after != "" && after[0] != ' ' && after[0] != '\t' {
		return errorf(ln, "a P directive's commodity must be followed by a space")
	}
	v, err := p.amount(ln, after)
	if err != nil {
		return err
	}
	if v.Quantity.Sign() <= 0 {
		return errorf(ln, "a price must be more than zero")
	}
	p.j.Prices = append(p.j.Prices, Price{Date: date, Commodity: sym, Price: v, Line: ln})
	return nil
}

func (p *parser) account(ln int, rest string) error {
	text, comment, has := splitComment(rest)
	name := strings.TrimSpace(text)
	if k := strings.Index(name, "  "); k >= 0 {
		return errorf(ln, "unexpected %s after the account name", quote(strings.TrimSpace(name[k:])))
	}
	if name == "" {
		return errorf(ln, "an account directive needs an account name")
	}
	if msg := checkAccountName(name); msg != "" {
		return errorf(ln, "%s", msg)
	}
	a := &AccountDecl{Name: name, Line: ln}
	if has {
		a.Comment = comment
	}
	p.curAcct = a
	return nil
}

func (p *parser) commodity(ln int, rest string) error {
	text := strings.TrimSpace(stripComment(rest))
	if text == "" {
		return errorf(ln, "a commodity directive needs a commodity or a format")
	}
	c := &CommodityDecl{Precision: -1, Line: ln}
	if sym, after, msg := scanSymbol(text); msg == "" && sym != "" && after == "" {
		c.Symbol = sym // a bare symbol; the format may follow on an indented line
		p.curComm = c
		return nil
	}
	if err := p.commodityFormat(ln, c, text); err != nil {
		return err
	}
	p.curComm = c
	return nil
}

// commodityFormat reads a sample amount ("1,000.00 KES") as a commodity's
// symbol, precision and style.
func (p *parser) commodityFormat(ln int, c *CommodityDecl, sample string) error {
	ra, msg := scanAmount(sample)
	if msg != "" {
		return errorf(ln, "%s", msg)
	}
	if c.Symbol != "" && ra.commodity != c.Symbol {
		return errorf(ln, "the format's commodity %s is not %s", quote(ra.commodity), quote(c.Symbol))
	}
	_, places, mark, msg := readNumber(ra.number, p.decMark[ra.commodity])
	if msg != "" {
		return errorf(ln, "%s", msg)
	}
	if mark == 0 {
		mark = '.'
	}
	c.Symbol, c.Precision = ra.commodity, places
	if _, ok := p.declared[c.Symbol]; !ok {
		p.declared[c.Symbol] = Style{Left: ra.left, Spaced: ra.spaced, Decimal: mark}
	}
	return nil
}

func (p *parser) defaultCommodity(ln int, rest string) error {
	text := strings.TrimSpace(stripComment(rest))
	ra, msg := scanAmount(text)
	if msg != "" {
		return errorf(ln, "%s", msg)
	}
	if !ra.hasSym || ra.commodity == "" {
		return errorf(ln, "a D directive needs an amount with a commodity, like D 1,000.00 KES")
	}
	c := CommodityDecl{Precision: -1, Line: ln}
	if err := p.commodityFormat(ln, &c, text); err != nil {
		return err
	}
	p.j.Commodities = append(p.j.Commodities, c)
	sym := c.Symbol
	p.defaultC = &sym
	return nil
}
