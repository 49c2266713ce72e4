package journal

import (
	"bufio"
	"io"
	"math/big"
	"strings"
)

// Print writes j canonically: account and commodity declarations, P
// prices, then transactions, each amount in its commodity's style without
// digit groups (so that no mark is ambiguous), every comment kept.
func Print(w io.Writer, j *Journal) error {
	b := bufio.NewWriter(w)
	style := func(c string) Style {
		st := j.Styles[c]
		if st.Decimal == 0 {
			st.Decimal = '.'
		}
		return st
	}
	amt := func(a Amount) string { return formatAmount(a, style(a.Commodity)) }
	for _, a := range j.Accounts {
		b.WriteString("account " + a.Name)
		writeComment(b, a.Comment, "    ")
	}
	for _, c := range j.Commodities {
		if c.Precision < 0 {
			b.WriteString("commodity " + symbolText(c.Symbol) + "\n")
			continue
		}
		st := style(c.Symbol)
		sample := formatAmount(Amount{Commodity: c.Symbol, Quantity: big.NewRat(1000, 1), Places: c.Precision}, st)
		if c.Precision == 0 {
			// hledger wants a decimal mark in a format, even with no decimals
			sample = strings.Replace(sample, "1000", "1000"+string(st.Decimal), 1)
		}
		b.WriteString("commodity " + sample + "\n")
	}
	for _, p := range j.Prices {
		b.WriteString("P " + p.Date + " " + symbolText(p.Commodity) + " " + amt(p.Price) + "\n")
	}
	for _, t := range j.Transactions {
		b.WriteString("\n" + t.Date)
		if t.Status != "" {
			b.WriteString(" " + t.Status)
		}
		switch {
		case t.Code != "":
			b.WriteString(" (" + t.Code + ")")
		case strings.HasPrefix(t.Description, "(") || t.Status == "" && strings.HasPrefix(t.Description, "*") || t.Status == "" && strings.HasPrefix(t.Description, "!"):
			// an empty code keeps the description from being read as one
			b.WriteString(" ()")
		}
		if t.Description != "" {
			b.WriteString(" " + t.Description)
		}
		writeComment(b, t.Comment, "    ")
		for _, p := range t.Postings {
			b.WriteString("    ")
			if p.Status != "" {
				b.WriteString(p.Status + " ")
			}
			b.WriteString(p.Account)
			if p.Amount != nil || p.Assertion != nil {
				b.WriteString("  ")
			}
			if p.Amount != nil {
				b.WriteString(amt(*p.Amount))
				if p.Cost != nil {
					op := " @ "
					if p.Cost.Total {
						op = " @@ "
					}
					b.WriteString(op + amt(p.Cost.Amount))
				}
			}
			if p.Assertion != nil {
				op := "= "
				if p.Assertion.Total {
					op = "== "
				}
				if p.Amount != nil {
					op = " " + op
				}
				b.WriteString(op + amt(p.Assertion.Amount))
			}
			writeComment(b, p.Comment, "      ")
		}
	}
	return b.Flush()
}

func symbolText(s string) string {
	if needsQuotes(s) {
		return "\"" + s + "\""
	}
	return s
}

// writeComment ends a line with its comment: the first line on the same
// line, the others indented under it.
func writeComment(b *bufio.Writer, c, indent string) {
	if c == "" {
		b.WriteString("\n")
		return
	}
	lines := strings.Split(c, "\n")
	b.WriteString("  ; " + lines[0] + "\n")
	for _, l := range lines[1:] {
		b.WriteString(indent + "; " + l + "\n")
	}
}

// typeTag reads an account declaration's `type:` tag as one of this
// package's account types.
func typeTag(comment string) string {
	v := strings.ToLower(tagValue(comment, "type"))
	if k := strings.IndexByte(v, ','); k >= 0 {
		v = strings.TrimSpace(v[:k])
	}
	switch v {
	case "a", "asset", "assets", "c", "cash":
		return "asset"
	case "l", "liability", "liabilities":
		return "liability"
	case "e", "equity", "v", "conversion":
		return "equity"
	case "r", "revenue", "revenues", "income":
		return "income"
	case "x", "expense", "expenses":
		return "expense"
	}
	return ""
}

// tagValue is the text after "name:" (a tag at the start of a comment
// line or after a space or comma) to the end of that line.
func tagValue(comment, name string) string {
	for _, line := range strings.Split(comment, "\n") {
		for i := 0; ; {
			k := strings.Index(line[i:], name+":")
			if k < 0 {
				break
			}
			k += i
			if k == 0 || line[k-1] == ' ' || line[k-1] == ',' {
				return strings.TrimSpace(line[k+len(name)+1:])
			}
			i = k + 1
		}
	}
	return ""
}
