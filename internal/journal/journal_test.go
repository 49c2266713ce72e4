package journal

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
)

// dump is a journal's content without line numbers, for comparing a
// journal with its printed and re-parsed self.
func dump(j *Journal) string {
	var b strings.Builder
	amt := func(a *Amount) string {
		if a == nil {
			return "-"
		}
		return fmt.Sprintf("%q %s /%d", a.Commodity, a.Quantity.RatString(), a.Places)
	}
	for _, a := range j.Accounts {
		fmt.Fprintf(&b, "account %q %q\n", a.Name, a.Comment)
	}
	for _, c := range j.Commodities {
		fmt.Fprintf(&b, "commodity %q %d\n", c.Symbol, c.Precision)
	}
	for _, p := range j.Prices {
		fmt.Fprintf(&b, "P %s %q %s\n", p.Date, p.Commodity, amt(&p.Price))
	}
	for _, t := range j.Transactions {
		fmt.Fprintf(&b, "T %s %q %q %q %q\n", t.Date, t.Status, t.Code, t.Description, t.Comment)
		for _, p := range t.Postings {
			fmt.Fprintf(&b, "  %q %q %s", p.Status, p.Account, amt(p.Amount))
			if p.Cost != nil {
				fmt.Fprintf(&b, " cost(%v) %s", p.Cost.Total, amt(&p.Cost.Amount))
			}
			if p.Assertion != nil {
				fmt.Fprintf(&b, " assert(%v) %s", p.Assertion.Total, amt(&p.Assertion.Amount))
			}
			fmt.Fprintf(&b, " %q\n", p.Comment)
		}
	}
	var syms []string
	for s := range j.Styles {
		syms = append(syms, s)
	}
	sort.Strings(syms)
	for _, s := range syms {
		fmt.Fprintf(&b, "style %q %+v\n", s, j.Styles[s])
	}
	return b.String()
}

const sample = `; books of a small shop
comment
anything here is ignored, even 2026-13-45 nonsense
end comment
account assets:bank:checking  ; type: A
    ; the main account
account income:sales
account expenses:fuel  ; type: X
commodity $1,000.00
commodity 1.000,00 EUR
D KES 1,000.00

P 2026-01-01 USD 129.50 KES
P 2026/01/15 EUR 140,25 KES

2026-01-02 * (INV-1) Opening balance  ; opening
    assets:bank:checking       KES 10,000.00 = KES 10,000.00
    equity:opening

2026-01-03 ! Sale
    ; paid in cash
    assets:cash                5,000
    income:sales              -5,000  ; tagged: yes

2026/01/05 Buy dollars
    assets:bank:usd            $100 @ 129.5 KES
    assets:bank:checking
2026-01-06 Buy euros at a total cost
    assets:bank:eur            1.000,50 EUR @@ KES 140,320.13
    assets:bank:checking      -140,320.13
2026-01-07 Shares
    assets:broker              10 "ACME Corp" @ $15.5
    assets:bank:usd           $-155 == $-55.00
2026-01-08 Assignment
    assets:cash                = KES 4,000
    expenses:fuel
`

func TestParseSample(t *testing.T) {
	j, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Transactions) != 6 || len(j.Prices) != 2 || len(j.Accounts) != 3 || len(j.Commodities) != 3 {
		t.Fatalf("got %d transactions, %d prices, %d accounts, %d commodities", len(j.Transactions), len(j.Prices), len(j.Accounts), len(j.Commodities))
	}
	if got := j.Accounts[0].Type(); got != "asset" {
		t.Errorf("type tag read as %q", got)
	}
	tx := j.Transactions[0]
	if tx.Status != "*" || tx.Code != "INV-1" || tx.Description != "Opening balance" || tx.Comment != "opening" || tx.Line != 16 {
		t.Errorf("header read as %+v", tx)
	}
	if a := tx.Postings[0].Amount; a.Commodity != "KES" || a.Quantity.RatString() != "10000" || a.Places != 2 {
		t.Errorf("amount read as %+v", a)
	}
	if j.Transactions[1].Comment != "paid in cash" || j.Transactions[1].Postings[1].Comment != "tagged: yes" {
		t.Errorf("comments read as %q / %q", j.Transactions[1].Comment, j.Transactions[1].Postings[1].Comment)
	}
	// D gives a bare amount its commodity; its format says "5,000" groups.
	if a := j.Transactions[1].Postings[0].Amount; a.Commodity != "KES" || a.Quantity.RatString() != "5000" {
		t.Errorf("bare amount read as %+v", a)
	}
	// EUR declares a decimal comma: 1.000,50 is a thousand and a half.
	if a := j.Transactions[3].Postings[0].Amount; a.Quantity.RatString() != "2001/2" {
		t.Errorf("EUR amount read as %s", a.Quantity.RatString())
	}
	if c := j.Transactions[4].Postings[0]; c.Amount.Commodity != "ACME Corp" || c.Cost == nil || c.Cost.Total || c.Cost.Amount.Quantity.RatString() != "31/2" {
		t.Errorf("quoted commodity and unit cost read as %+v %+v", c.Amount, c.Cost)
	}

	booked, err := Book(j)
	if err != nil {
		t.Fatal(err)
	}
	// the elided amount of "Buy dollars" is the cost, in KES
	if l := booked[2].Lines[1]; l.Amount.Commodity != "KES" || l.Amount.Quantity.RatString() != "-12950" {
		t.Errorf("elided amount booked as %+v", l.Amount)
	}
	// the assignment is cash's balance (5,000) brought to 4,000
	if l := booked[5].Lines[0]; l.Amount.Quantity.RatString() != "-1000" || booked[5].Lines[1].Amount.Quantity.RatString() != "1000" {
		t.Errorf("assignment booked as %+v and %+v", l.Amount, booked[5].Lines[1].Amount)
	}

	var out bytes.Buffer
	if err := Print(&out, j); err != nil {
		t.Fatal(err)
	}
	j2, err := Parse(out.Bytes())
	if err != nil {
		t.Fatalf("printed journal does not parse: %v\n%s", err, out.String())
	}
	if a, b := dump(j), dump(j2); a != b {
		t.Fatalf("print changed the journal:\n%s\n---\n%s\nprinted:\n%s", a, b, out.String())
	}
}

func TestParseRefusesNamingTheLine(t *testing.T) {
	cases := []struct {
		src  string
		line int
		want string
	}{
		{"2026-01-01 x\n    a  1\n    b\ninclude other.journal\n", 4, "include"},
		{"~ monthly\n    a  1\n    b\n", 1, "periodic"},
		{"= expenses\n    a  1\n", 1, "automated"},
		{"2026-01-01 x\n    (a)  1\n    b\n", 2, "virtual"},
		{"2026-01-01 x\n    [a]  1\n    b\n", 2, "virtual"},
		{"2026-01-01=2026-01-02 x\n", 1, "secondary"},
		{"2026-02-30 x\n", 1, "not a date"},
		{"2026-01-01 x\n    a  1\n    b\n    c\n", 4, "only one amount"},
		{"2026-01-01 x\n    a  1 USD\n    b  -2 USD\n", 1, "does not balance"},
		{"2026-01-01 x\n    a  1 USD\n    b\n2026-01-02 y\n    a  1 USD = 3 USD\n    b\n", 5, "balance assertion failed"},
		{"2026-01-01 x\n    a  1 USD\n    a  1 EUR\n    b  -1 USD == 7 EUR\n    b  -1 EUR\n", 4, "balance assertion"},
		{"2026-01-01 x\n    a  1 USD = 1 USD\n    b\n2026-01-02 y\n    a  1 EUR\n    b\n2026-01-03 z\n    a  0 USD == 1 USD\n    b\n", 8, "also holds"},
		{"2026-01-01 x\n    a  10 AAPL {$5}\n    b\n", 2, "lot"},
		{"2026-01-01 x\n    a  1 X @ 2 Y = 1 X @ 2 Y\n", 2, "assertion with a cost"},
		{"alias a=b\n", 1, "directive"},
		{"2026-01-01 x\n    a  1,2.3,4\n", 2, "decimal mark twice"},
		{"2026-01-01 x\n    a  1 ;\n  b\n", 3, ""},
		{"  a  1\n", 1, "outside a transaction"},
		{"comment\nunclosed\n", 1, "not closed"},
	}
	for _, c := range cases {
		j, err := Parse([]byte(c.src))
		if err == nil {
			_, err = Book(j)
		}
		var e *Error
		if !errors.As(err, &e) {
			if c.want == "" {
				continue
			}
			t.Errorf("%q: want an error at line %d, got %v", c.src, c.line, err)
			continue
		}
		if e.Line != c.line || !strings.Contains(e.Msg, c.want) {
			t.Errorf("%q: got %q at line %d, want %q at line %d", c.src, e.Msg, e.Line, c.want, c.line)
		}
	}
}

func TestNumberInference(t *testing.T) {
	cases := []struct{ src, want string }{
		{"$1,000", "1"},    // one mark once: a decimal mark, as hledger reads it
		{"1.000 EUR", "1"}, // the same with a period
		{"1,000,000 GBP", "1000000"},
		{"1 000.50 XAU", "2001/2"},
		{"-$5.25", "-21/4"},
		{"$-5.25", "-21/4"},
		{"- $ 2", "-2"},
		{"1,234.5 KES", "2469/2"},
		{"1.234,5 KES", "2469/2"},
		{"\"ACME Corp\" 10", "10"},
		{"10AAPL", "10"},
	}
	for _, c := range cases {
		j, err := Parse([]byte("2026-01-01 x\n    a  " + c.src + "\n    b\n"))
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		if got := j.Transactions[0].Postings[0].Amount.Quantity.RatString(); got != c.want {
			t.Errorf("%s read as %s, want %s", c.src, got, c.want)
		}
	}
}

// FuzzParse: the parser never panics, and whatever it accepts prints to a
// journal that parses back to the same content.
func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Add("2026-01-01 x\n    a  $1\n    b\n")
	f.Add("commodity 1000. UGX\nP 2026-01-01 UGX 0.03 KES\n")
	f.Add("2026-01-01 * (c) d  ; e\n    ; f\n    ! a:b  -1,5 \"X Y\" @@ 2 Z == 0  ; g\n")
	f.Fuzz(func(t *testing.T, src string) {
		j, err := Parse([]byte(src))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Line < 1 {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		_, _ = Book(j) // must not panic either
		var out bytes.Buffer
		if err := Print(&out, j); err != nil {
			t.Fatal(err)
		}
		j2, err := Parse(out.Bytes())
		if err != nil {
			t.Fatalf("printed journal does not parse: %v\n%s", err, out.String())
		}
		if a, b := dump(j), dump(j2); a != b {
			t.Fatalf("print changed the journal:\n%s\n---\n%s\nprinted:\n%s", a, b, out.String())
		}
	})
}
