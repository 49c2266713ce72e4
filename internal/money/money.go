// Package money turns decimal strings into integer minor units and back,
// and converts between currencies at a decimal rate, without ever passing
// through a float. A currency's scale is its number of minor-unit digits
// (KES 2, a share commodity perhaps 0 or 4); the books store amounts as
// int64 counts of those units.
package money

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// MaxScale bounds the digits after the point a currency may have; 18
// keeps 10^scale inside an int64.
const MaxScale = 18

// ErrSyntax means the text is not a plain decimal number.
var ErrSyntax = errors.New("not a decimal number")

// ErrPrecision means the text has more decimals than the currency has
// minor-unit digits: rounding it would change the amount.
var ErrPrecision = errors.New("more decimals than the currency has")

// ErrRange means the amount does not fit in 64-bit minor units.
var ErrRange = errors.New("amount out of range")

// Parse reads a decimal string such as "1053.52", "-7", "0.5" or "+3.10"
// as minor units at scale. Thousands separators, exponents and spaces are
// refused: amounts on the wire are plain. Trailing zeros beyond the scale
// are allowed ("1.500" at scale 2), other extra digits are not.
func Parse(s string, scale int) (int64, error) {
	if scale < 0 || scale > MaxScale {
		return 0, fmt.Errorf("parse %q: scale %d: %w", s, scale, ErrRange)
	}
	neg := false
	body := s
	switch {
	case strings.HasPrefix(body, "-"):
		neg, body = true, body[1:]
	case strings.HasPrefix(body, "+"):
		body = body[1:]
	}
	whole, frac, dotted := strings.Cut(body, ".")
	if whole == "" && frac == "" || dotted && frac == "" && whole == "" {
		return 0, fmt.Errorf("parse %q: %w", s, ErrSyntax)
	}
	if !digits(whole) || !digits(frac) || (dotted && frac == "") {
		return 0, fmt.Errorf("parse %q: %w", s, ErrSyntax)
	}
	if len(frac) > scale {
		if strings.Trim(frac[scale:], "0") != "" {
			return 0, fmt.Errorf("parse %q at %d decimals: %w", s, scale, ErrPrecision)
		}
		frac = frac[:scale]
	}
	frac += strings.Repeat("0", scale-len(frac))
	var n big.Int
	if _, ok := n.SetString(strings.TrimLeft(whole+frac, "0")+"0", 10); !ok {
		return 0, fmt.Errorf("parse %q: %w", s, ErrSyntax)
	}
	n.Quo(&n, big.NewInt(10)) // the appended "0" keeps an all-zero string parseable
	if neg {
		n.Neg(&n)
	}
	if !n.IsInt64() {
		return 0, fmt.Errorf("parse %q: %w", s, ErrRange)
	}
	return n.Int64(), nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Format writes minor units at scale as a decimal string with exactly
// scale decimals: Format(105352, 2) is "1053.52", Format(-5, 2) "-0.05".
func Format(minor int64, scale int) string {
	neg := minor < 0
	var n big.Int
	n.SetInt64(minor)
	n.Abs(&n)
	s := n.String()
	if scale > 0 {
		if len(s) <= scale {
			s = strings.Repeat("0", scale-len(s)+1) + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// ParseRate reads a positive decimal exchange rate ("129.45", "0.0077").
func ParseRate(s string) (*big.Rat, error) {
	if s == "" || strings.ContainsAny(s, "eE/ ") || strings.HasPrefix(s, "+") {
		return nil, fmt.Errorf("rate %q: %w", s, ErrSyntax)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, fmt.Errorf("rate %q: %w", s, ErrSyntax)
	}
	if r.Sign() <= 0 {
		return nil, fmt.Errorf("rate %q: must be more than zero", s)
	}
	return r, nil
}

// Convert turns minor units at fromScale into minor units at toScale at
// rate (units of the target per unit of the source), rounding half to
// even so that many conversions carry no bias.
func Convert(minor int64, fromScale int, rate *big.Rat, toScale int) (int64, error) {
	v := new(big.Rat).SetInt64(minor)
	v.Mul(v, rate)
	v.Mul(v, new(big.Rat).SetFrac(pow10(toScale), pow10(fromScale)))
	out := roundHalfEven(v)
	if !out.IsInt64() {
		return 0, fmt.Errorf("convert %s: %w", Format(minor, fromScale), ErrRange)
	}
	return out.Int64(), nil
}

func pow10(n int) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}

func roundHalfEven(r *big.Rat) *big.Int {
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	// q truncates toward zero; compare twice the remainder with the divisor.
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
