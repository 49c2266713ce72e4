package interchange

import (
	"math/big"
	"sort"
	"strings"

	"github.com/vanta-ledger/vanta/internal/journal"
	"github.com/vanta-ledger/vanta/internal/ledger"
	"github.com/vanta-ledger/vanta/internal/money"
)

// books is what planning an import needs to know of the company.
type books struct {
	currency   string            // the company currency
	scale      int               // its scale
	scales     map[string]int    // every currency it has, with its scale
	accounts   map[string]string // code → type of the accounts it has
	conversion string            // the code of its conversion account
}

// plan is what an import will do: currencies and accounts to add, then
// entries to post, each with the journal line it came from.
type plan struct {
	currencies map[string]int // new currencies and their scales
	accounts   []ledger.Account
	entries    []ledger.EntryInput
	lines      []int // the transaction line of each entry
	skipped    int   // transactions that move nothing (no postings, or only zeros)
}

// accountType is the type a journal's top-level account name gives.
func accountType(name string) string {
	top, _, _ := strings.Cut(name, ":")
	switch strings.ToLower(top) {
	case "assets", "asset":
		return ledger.TypeAsset
	case "liabilities", "liability":
		return ledger.TypeLiability
	case "equity":
		return ledger.TypeEquity
	case "income", "revenue", "revenues":
		return ledger.TypeIncome
	case "expenses", "expense":
		return ledger.TypeExpense
	}
	return ""
}

// makePlan turns a booked journal into the company's terms. Every refusal
// is a *journal.Error naming the line.
func makePlan(j *journal.Journal, booked []journal.Booked, b books) (*plan, error) {
	p := &plan{currencies: map[string]int{}}
	cur := func(c string) string {
		if c == "" {
			return b.currency // an amount written without a commodity is in the company currency
		}
		return c
	}

	// Scales: the most decimals written in the commodity's amounts (not
	// in unit costs and prices, which are rates).
	need := map[string]int{}
	needLine := map[string]int{}
	note := func(c string, places, line int) {
		c = cur(c)
		if v, ok := need[c]; !ok || places > v {
			need[c], needLine[c] = places, line
		}
	}
	for _, c := range j.Commodities {
		if c.Precision >= 0 {
			note(c.Symbol, c.Precision, c.Line)
		}
	}
	for _, t := range j.Transactions {
		for _, po := range t.Postings {
			if po.Amount != nil {
				note(po.Amount.Commodity, po.Amount.Places, po.Line)
			}
			if po.Assertion != nil {
				note(po.Assertion.Amount.Commodity, po.Assertion.Amount.Places, po.Line)
			}
			if po.Cost != nil && po.Cost.Total {
				note(po.Cost.Amount.Commodity, po.Cost.Amount.Places, po.Line)
			}
		}
	}
	scales := map[string]int{}
	for c, s := range b.scales {
		scales[c] = s
	}
	for c, places := range need {
		if have, ok := b.scales[c]; ok {
			if places > have {
				return nil, &journal.Error{Line: needLine[c], Msg: "an amount in " + c + " has " + itoa(places) +
					" decimals here; the company keeps " + c + " with " + itoa(have)}
			}
			continue
		}
		if places > money.MaxScale {
			return nil, &journal.Error{Line: needLine[c], Msg: "an amount in " + c + " has more than 18 decimals"}
		}
		if len(c) > 64 {
			return nil, &journal.Error{Line: needLine[c], Msg: "the commodity " + c + " is longer than 64 characters"}
		}
		p.currencies[c], scales[c] = places, places
	}

	// Accounts: full journal names as codes, parents first; the type from
	// an account directive's type tag (on it or a parent, as hledger
	// inherits it), else from the top-level name.
	declared := map[string]journal.AccountDecl{}
	for _, a := range j.Accounts {
		if _, ok := declared[a.Name]; !ok {
			declared[a.Name] = a
		}
	}
	typeOf := func(name string) string {
		for n := name; ; {
			if d, ok := declared[n]; ok && d.Type() != "" {
				return d.Type()
			}
			k := strings.LastIndexByte(n, ':')
			if k < 0 {
				break
			}
			n = n[:k]
		}
		return accountType(name)
	}
	firstLine := map[string]int{}
	for _, a := range j.Accounts {
		if _, ok := firstLine[a.Name]; !ok {
			firstLine[a.Name] = a.Line
		}
	}
	for _, bk := range booked {
		for _, l := range bk.Lines {
			if _, ok := firstLine[l.Account]; !ok {
				firstLine[l.Account] = l.Line
			}
		}
	}
	names := map[string]bool{}
	for name := range firstLine {
		if _, ok := b.accounts[name]; ok {
			continue
		}
		parts := strings.Split(name, ":")
		for i := 1; i <= len(parts); i++ {
			n := strings.Join(parts[:i], ":")
			if _, ok := b.accounts[n]; !ok {
				names[n] = true
			}
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Slice(sorted, func(x, y int) bool {
		dx, dy := strings.Count(sorted[x], ":"), strings.Count(sorted[y], ":")
		if dx != dy {
			return dx < dy
		}
		return sorted[x] < sorted[y]
	})
	for _, n := range sorted {
		line := firstLine[n]
		if line == 0 { // a parent only: named by its first child
			for c, l := range firstLine {
				if strings.HasPrefix(c, n+":") && (line == 0 || l < line) {
					line = l
				}
			}
		}
		if len(n) > 200 {
			return nil, &journal.Error{Line: line, Msg: "the account name " + n + " is longer than 200 characters"}
		}
		t := typeOf(n)
		if t == "" {
			return nil, &journal.Error{Line: line, Msg: "the type of account " + n + " is unknown: its top-level name is none of assets, liabilities, equity, income, revenue(s), expenses, and no account directive gives it a type: tag"}
		}
		name := n[strings.LastIndexByte(n, ':')+1:]
		if d, ok := declared[n]; ok && d.Tag("name") != "" {
			name = d.Tag("name")
		}
		if len(name) > 200 {
			name = name[:200]
		}
		p.accounts = append(p.accounts, ledger.Account{Code: n, Name: name, Type: t, Active: true})
	}

	// Prices: per commodity, in date and then file order, so the last
	// on or before a date is the one that counts (as in hledger).
	type price struct {
		date string
		rate *big.Rat
	}
	prices := map[string][]price{}
	for _, pr := range j.Prices {
		in := cur(pr.Price.Commodity)
		c := cur(pr.Commodity)
		switch {
		case in == b.currency && c != b.currency:
			prices[c] = append(prices[c], price{pr.Date, pr.Price.Quantity})
		case c == b.currency && in != b.currency:
			// the company currency priced in another: its inverse
			prices[in] = append(prices[in], price{pr.Date, new(big.Rat).Inv(pr.Price.Quantity)})
		}
	}
	for c := range prices {
		sort.SliceStable(prices[c], func(x, y int) bool { return prices[c][x].date < prices[c][y].date })
	}
	rateOf := func(c, date string) *big.Rat {
		var r *big.Rat
		for _, pr := range prices[c] {
			if pr.date > date {
				break
			}
			r = pr.rate
		}
		return r
	}
	minor := func(q *big.Rat, scale int) (int64, bool) {
		v := new(big.Rat).Mul(q, new(big.Rat).SetInt(pow10(scale)))
		n := roundHalfEven(v)
		return n.Int64(), n.IsInt64()
	}

	for _, bk := range booked {
		t := bk.Tx
		type line struct {
			in        ledger.LineInput
			base      int64
			rateBased bool
			conv      bool
		}
		var ls []line
		errAt := func(at int, msg string) error { return &journal.Error{Line: at, Msg: msg} }
		for _, l := range bk.Lines {
			c := cur(l.Amount.Commodity)
			amt, ok := minor(l.Amount.Quantity, scales[c])
			if !ok {
				return nil, errAt(l.Line, "the amount is too large")
			}
			if amt == 0 {
				continue
			}
			x := line{in: ledger.LineInput{Account: l.Account, Amount: amt, Currency: c, Memo: trim(l.Memo, 1000)}}
			switch {
			case c == b.currency:
				x.base = amt
			case l.Cost != nil:
				k := cur(l.Cost.Commodity)
				v := l.Cost.Quantity
				if k != b.currency {
					r := rateOf(k, t.Date)
					if r == nil {
						return nil, errAt(l.Line, "no way to a rate: the cost is in "+k+" and no P price of "+k+" in "+b.currency+" is on or before "+t.Date)
					}
					v = new(big.Rat).Mul(v, r)
				}
				if x.base, ok = minor(v, b.scale); !ok {
					return nil, errAt(l.Line, "the cost is too large")
				}
				if k == b.currency && l.Amount.Quantity.Sign() != 0 {
					x.in.Rate = rateText(new(big.Rat).Quo(l.Cost.Quantity, l.Amount.Quantity))
				}
			default:
				r := rateOf(c, t.Date)
				if r == nil {
					return nil, errAt(l.Line, "no way to a rate: "+c+" has no cost here and no P price in "+b.currency+" on or before "+t.Date)
				}
				x.in.Rate = rateText(r)
				if x.base, ok = minor(new(big.Rat).Mul(l.Amount.Quantity, r), b.scale); !ok {
					return nil, errAt(l.Line, "the amount is too large")
				}
				x.rateBased = true
			}
			ls = append(ls, x)
		}
		sums := map[string]int64{}
		for _, x := range ls {
			sums[x.in.Currency] += x.in.Amount
		}
		unbalanced := false
		for _, s := range sums {
			unbalanced = unbalanced || s != 0
		}
		if unbalanced {
			// An exchange: mirror each costed posting on the conversion
			// account, its commodity out and its cost in, as hledger's
			// --infer-equity does, so each currency balances on its own.
			var conv []line
			i := 0
			for _, l := range bk.Lines {
				c := cur(l.Amount.Commodity)
				if a, _ := minor(l.Amount.Quantity, scales[c]); a == 0 {
					continue
				}
				x := ls[i]
				i++
				if l.Cost == nil || cur(l.Cost.Commodity) == c {
					continue
				}
				k := cur(l.Cost.Commodity)
				costAmt, ok := minor(l.Cost.Quantity, scales[k])
				if !ok {
					return nil, errAt(l.Line, "the cost is too large")
				}
				conv = append(conv,
					line{in: ledger.LineInput{Account: b.conversion, Amount: -x.in.Amount, Currency: c}, base: -x.base, conv: true},
					line{in: ledger.LineInput{Account: b.conversion, Amount: costAmt, Currency: k}, base: x.base, conv: true})
				if k == b.currency {
					conv[len(conv)-1].base = costAmt
				}
			}
			ls = append(ls, conv...)
			sums = map[string]int64{}
			for _, x := range ls {
				sums[x.in.Currency] += x.in.Amount
			}
			// What is left is what hledger tolerates below a commodity's
			// display precision (or a rounded inferred amount): it goes to
			// the conversion account too.
			for _, c := range sortedKeys(sums) {
				r := sums[c]
				if r == 0 {
					continue
				}
				idx := -1
				for k := len(ls) - 1; k >= 0; k-- {
					if ls[k].conv && ls[k].in.Currency == c {
						idx = k
						break
					}
				}
				if idx < 0 {
					ls = append(ls, line{in: ledger.LineInput{Account: b.conversion, Currency: c}, conv: true})
					idx = len(ls) - 1
				}
				ls[idx].in.Amount -= r
				if c == b.currency {
					ls[idx].base = ls[idx].in.Amount
				} else if ls[idx].base == 0 {
					rt := rateOf(c, t.Date)
					if rt == nil {
						return nil, errAt(t.Line, "the transaction does not balance exactly in "+c+" and "+c+" has no P price to value the difference")
					}
					ls[idx].base, _ = minor(new(big.Rat).Mul(new(big.Rat).SetFrac(big.NewInt(ls[idx].in.Amount), pow10(scales[c])), rt), b.scale)
				}
			}
		}
		var total int64
		for _, x := range ls {
			total += x.base
		}
		if total != 0 {
			// Rounding: the residue goes to the largest line valued at a
			// price, else to a conversion line in a foreign currency.
			idx := -1
			for k, x := range ls {
				if x.rateBased && (idx < 0 || abs(x.in.Amount) > abs(ls[idx].in.Amount)) {
					idx = k
				}
			}
			if idx < 0 {
				for k, x := range ls {
					if x.conv && x.in.Currency != b.currency {
						idx = k
					}
				}
			}
			if idx < 0 {
				return nil, errAt(t.Line, "the transaction does not balance in "+b.currency+" by "+money.Format(total, b.scale)+" once its costs are rounded to "+itoa(b.scale)+" decimals")
			}
			ls[idx].base -= total
		}
		e := ledger.EntryInput{Date: t.Date, Description: trim(t.Description, 1000), Reference: trim(t.Code, 200),
			Source: ledger.SourceImport, Status: ledger.StatusPosted}
		for _, x := range ls {
			if x.in.Amount == 0 {
				if x.base != 0 {
					return nil, errAt(t.Line, "the transaction's rounding leaves a value without an amount; write its amounts with more decimals")
				}
				continue
			}
			in := x.in
			if in.Currency != b.currency {
				base := x.base
				in.Base = &base
			}
			e.Lines = append(e.Lines, in)
		}
		if len(e.Lines) < 2 {
			p.skipped++
			continue
		}
		p.entries = append(p.entries, e)
		p.lines = append(p.lines, t.Line)
	}
	return p, nil
}

func sortedKeys(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func trim(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }

func pow10(n int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }

// rateText writes a rate as a plain decimal when it has one of at most 18
// decimals, else "" (the line then carries its base alone).
func rateText(r *big.Rat) string {
	if r.Sign() <= 0 {
		return ""
	}
	d := new(big.Int).Set(r.Denom())
	places := 0
	for places <= 18 {
		if new(big.Int).Rem(pow10(places), d).Sign() == 0 {
			return r.FloatString(places)
		}
		places++
	}
	return ""
}

func roundHalfEven(r *big.Rat) *big.Int {
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	twice := new(big.Int).Abs(m)
	twice.Lsh(twice, 1)
	switch c := twice.Cmp(r.Denom()); {
	case c > 0, c == 0 && q.Bit(0) == 1:
		if r.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}
