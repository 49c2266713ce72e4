package journal

import (
	"math/big"
	"sort"
	"strings"
)

// Line is a booked posting: its amount known, and what it cost in total
// (signed like the amount) when it was bought or sold at a cost in another
// commodity.
type Line struct {
	Account string
	Amount  Amount
	Cost    *Amount
	Memo    string
	Line    int // the posting's line
}

// Booked is a transaction with every amount known.
type Booked struct {
	Tx    *Transaction
	Lines []Line
}

// Book does what hledger does before it reports, in its order (date, then
// file order): computes balance assignments from running balances, fills
// the one elided amount (one line per commodity left over), checks that
// each transaction balances (at costs, within the commodity's display
// precision, as hledger tolerates), and checks every balance assertion
// after its posting. It returns the transactions in that order.
func Book(j *Journal) ([]Booked, error) {
	prec := DisplayPrecision(j)
	order := make([]int, len(j.Transactions))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return j.Transactions[order[a]].Date < j.Transactions[order[b]].Date
	})
	running := map[string]map[string]*big.Rat{}
	bal := func(acct, c string) *big.Rat {
		m := running[acct]
		if m == nil {
			m = map[string]*big.Rat{}
			running[acct] = m
		}
		r := m[c]
		if r == nil {
			r = new(big.Rat)
			m[c] = r
		}
		return r
	}
	out := make([]Booked, 0, len(order))
	for _, ti := range order {
		t := &j.Transactions[ti]
		amounts := make([][]Amount, len(t.Postings)) // per posting; the elided one may get several
		elided := -1
		pending := map[string]map[string]*big.Rat{} // this transaction's earlier postings, for assignments
		for i, p := range t.Postings {
			switch {
			case p.Amount != nil:
				amounts[i] = []Amount{*p.Amount}
			case p.Assertion != nil:
				a := p.Assertion.Amount
				q := new(big.Rat).Sub(a.Quantity, bal(p.Account, a.Commodity))
				if pm := pending[p.Account]; pm != nil && pm[a.Commodity] != nil {
					q.Sub(q, pm[a.Commodity])
				}
				amounts[i] = []Amount{{Commodity: a.Commodity, Quantity: q, Places: max(a.Places, places(q))}}
			default:
				if elided >= 0 {
					return nil, errorf(p.Line, "a transaction may leave out only one amount (line %d leaves one out too)", t.Postings[elided].Line)
				}
				elided = i
				continue
			}
			a := amounts[i][0]
			if pending[p.Account] == nil {
				pending[p.Account] = map[string]*big.Rat{}
			}
			if pending[p.Account][a.Commodity] == nil {
				pending[p.Account][a.Commodity] = new(big.Rat)
			}
			pending[p.Account][a.Commodity].Add(pending[p.Account][a.Commodity], a.Quantity)
		}
		// What each posting weighs in the balance: its cost, else itself.
		costs := make([]*Amount, len(t.Postings))
		sums := map[string]*big.Rat{}
		var seen []string
		add := func(a Amount) {
			s := sums[a.Commodity]
			if s == nil {
				s = new(big.Rat)
				sums[a.Commodity] = s
				seen = append(seen, a.Commodity)
			}
			s.Add(s, a.Quantity)
		}
		for i, p := range t.Postings {
			if i == elided {
				continue
			}
			a := amounts[i][0]
			if p.Cost != nil && p.Cost.Amount.Commodity != a.Commodity {
				c := p.Cost.Amount
				q := new(big.Rat).Abs(c.Quantity)
				if !p.Cost.Total {
					q.Mul(q, new(big.Rat).Abs(a.Quantity))
				}
				if a.Quantity.Sign() < 0 {
					q.Neg(q)
				}
				costs[i] = &Amount{Commodity: c.Commodity, Quantity: q, Places: places(q)}
				add(*costs[i])
				continue
			}
			add(a)
		}
		if elided >= 0 {
			for _, c := range seen {
				if s := sums[c]; s.Sign() != 0 {
					q := new(big.Rat).Neg(s)
					amounts[elided] = append(amounts[elided], Amount{Commodity: c, Quantity: q, Places: places(q)})
				}
			}
		} else {
			for _, c := range seen {
				s := sums[c]
				if s.Sign() != 0 && !roundsToZero(s, prec[c]) {
					return nil, errorf(t.Line, "the transaction does not balance: its postings (at cost) add up to %s, not zero",
						formatAmount(Amount{Commodity: c, Quantity: s, Places: places(s)}, j.styleOf(c)))
				}
			}
		}
		b := Booked{Tx: t}
		for i, p := range t.Postings {
			for _, a := range amounts[i] {
				r := bal(p.Account, a.Commodity)
				r.Add(r, a.Quantity)
				b.Lines = append(b.Lines, Line{Account: p.Account, Amount: a, Cost: costs[i], Memo: p.Comment, Line: p.Line})
			}
			if p.Assertion != nil {
				if err := check(p, running[p.Account], j); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, b)
	}
	return out, nil
}

func check(p Posting, acct map[string]*big.Rat, j *Journal) error {
	a := p.Assertion.Amount
	got := new(big.Rat)
	if r := acct[a.Commodity]; r != nil {
		got = r
	}
	if got.Cmp(a.Quantity) != 0 {
		return errorf(p.Line, "balance assertion failed: %s is %s, the assertion says %s", p.Account,
			formatAmount(Amount{Commodity: a.Commodity, Quantity: got, Places: max(a.Places, places(got))}, j.styleOf(a.Commodity)),
			formatAmount(a, j.styleOf(a.Commodity)))
	}
	if p.Assertion.Total {
		var others []string
		for c, r := range acct {
			if c != a.Commodity && r.Sign() != 0 {
				others = append(others, formatAmount(Amount{Commodity: c, Quantity: r, Places: places(r)}, j.styleOf(c)))
			}
		}
		if len(others) > 0 {
			sort.Strings(others)
			return errorf(p.Line, "balance assertion (==) failed: %s also holds %s", p.Account, strings.Join(others, ", "))
		}
	}
	return nil
}

func (j *Journal) styleOf(c string) Style {
	st := j.Styles[c]
	if st.Decimal == 0 {
		st.Decimal = '.'
	}
	return st
}

func places(q *big.Rat) int {
	if d := decimalsOf(q); d >= 0 {
		return d
	}
	return 18
}

// DisplayPrecision is each commodity's display precision as hledger sets
// it: the commodity directive's, else the most decimals its posting
// amounts are written with.
func DisplayPrecision(j *Journal) map[string]int {
	prec := map[string]int{}
	for _, t := range j.Transactions {
		for _, p := range t.Postings {
			if p.Amount != nil && p.Amount.Places > prec[p.Amount.Commodity] {
				prec[p.Amount.Commodity] = p.Amount.Places
			}
		}
	}
	for _, c := range j.Commodities {
		if c.Precision >= 0 {
			prec[c.Symbol] = c.Precision
		}
	}
	return prec
}

// roundsToZero says whether s shows as zero at p decimals.
func roundsToZero(s *big.Rat, p int) bool {
	scaled := new(big.Rat).Abs(s)
	scaled.Mul(scaled, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(p)), nil)))
	// |s|·10^p < 1/2
	return scaled.Cmp(big.NewRat(1, 2)) < 0
}
