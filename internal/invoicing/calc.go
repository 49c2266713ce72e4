package invoicing

import (
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/vanta-ledger/vanta/internal/money"
)

// QuantityScale is the number of decimals a quantity may have (2.5 kg,
// 0.125 h): quantities are kept as integer ten-thousandths, never floats.
const QuantityScale = 4

// ParseQuantity reads a positive decimal quantity as ten-thousandths.
func ParseQuantity(s string) (int64, error) {
	q, err := money.Parse(s, QuantityScale)
	if err != nil {
		return 0, err
	}
	if q <= 0 {
		return 0, fmt.Errorf("quantity %q must be more than zero", s)
	}
	return q, nil
}

// ParseRate reads a tax rate in percent ("16", "8.0000", "0") exactly.
func ParsePercent(s string) (*big.Rat, error) {
	if s == "" || strings.ContainsAny(s, "eE/ +") {
		return nil, fmt.Errorf("rate %q: %w", s, money.ErrSyntax)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, fmt.Errorf("rate %q: %w", s, money.ErrSyntax)
	}
	if r.Sign() < 0 || r.Cmp(big.NewRat(100, 1)) >= 0 {
		return nil, fmt.Errorf("rate %q: must be from 0 to less than 100", s)
	}
	return r, nil
}

// LineAmounts is a line's net amount (quantity × unit price) and its tax
// at ratePercent, both in minor units of the document's currency.
//
// Each is rounded to the minor unit half to even (banker's rounding):
// 0.5 cent goes to the even cent, so rounding many lines carries no
// upward bias. VAT is worked out per line, as eTIMS prints it per item,
// and the document's VAT is the sum of its lines' VAT.
func LineAmounts(quantity, unitPrice int64, ratePercent *big.Rat) (net, tax int64, err error) {
	n := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(quantity), big.NewInt(unitPrice)), pow10(QuantityScale))
	nb := RoundHalfEven(n)
	if !nb.IsInt64() {
		return 0, 0, fmt.Errorf("line amount: %w", money.ErrRange)
	}
	t := new(big.Rat).Mul(new(big.Rat).SetInt(nb), ratePercent)
	t.Quo(t, big.NewRat(100, 1))
	tb := RoundHalfEven(t)
	if !tb.IsInt64() {
		return 0, 0, fmt.Errorf("line tax: %w", money.ErrRange)
	}
	return nb.Int64(), tb.Int64(), nil
}

// Percentage is amount × ratePercent / 100 rounded half to even, as
// withholding VAT is worked out on a taxable value.
func Percentage(amount int64, ratePercent *big.Rat) int64 {
	t := new(big.Rat).Mul(new(big.Rat).SetInt64(amount), ratePercent)
	t.Quo(t, big.NewRat(100, 1))
	return RoundHalfEven(t).Int64()
}

func pow10(n int) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}

// RoundHalfEven rounds r to an integer, a half to the even neighbour.
func RoundHalfEven(r *big.Rat) *big.Int {
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

// DocumentNumber is a document's number: its prefix, the year of its
// date and its place in that year's run, INV-2026-000001.
func DocumentNumber(prefix string, year int, n int64) string {
	return fmt.Sprintf("%s-%04d-%06d", prefix, year, n)
}

// Bucket is an aged report's column for a balance due on due, seen on
// asOf: "current" until the due date has passed, then by days overdue.
func Bucket(due, asOf time.Time) string {
	days := int(asOf.Sub(due).Hours() / 24)
	switch {
	case days <= 0:
		return BucketCurrent
	case days <= 30:
		return Bucket1To30
	case days <= 60:
		return Bucket31To60
	case days <= 90:
		return Bucket61To90
	}
	return BucketOver90
}

// The aged reports' buckets, in column order.
const (
	BucketCurrent = "current"
	Bucket1To30   = "1-30"
	Bucket31To60  = "31-60"
	Bucket61To90  = "61-90"
	BucketOver90  = "90+"
)

// Buckets are the aged reports' columns in order.
var Buckets = []string{BucketCurrent, Bucket1To30, Bucket31To60, Bucket61To90, BucketOver90}

func fmtAmount(v int64, scale int) string { return money.Format(v, scale) }
