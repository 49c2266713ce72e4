package invoicing

import (
	"math/big"
	"testing"
	"time"
)

// TestLineAmountsHalfEven: VAT per line in minor units, rounded half to
// even, on quantities with decimals.
func TestLineAmountsHalfEven(t *testing.T) {
	pct := func(s string) *big.Rat {
		r, err := ParsePercent(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		qty      string
		price    int64
		rate     string
		net, tax int64
		why      string
	}{
		{"3", 100000, "16", 300000, 48000, "3 × 1,000.00 at 16% = 480.00"},
		{"1", 3125, "16", 3125, 500, "31.25 × 16% = 5.00 exactly"},
		{"1", 3128, "16", 3128, 500, "31.28 × 16% = 5.0048 → 5.00"},
		{"1", 3150, "16", 3150, 504, "31.50 × 16% = 5.04"},
		{"1", 1, "50", 1, 0, "0.005 → 0.00 (half to even, 0 is even)"},
		{"1", 3, "50", 3, 2, "0.015 → 0.02 (half to even, 2 is even)"},
		{"1", 5, "50", 5, 2, "0.025 → 0.02 (half to even)"},
		{"2.5", 1999, "16", 4998, 800, "2.5 × 19.99 = 49.975 → 49.98 (8 is even); 49.98 × 16% = 7.9968 → 8.00"},
		{"0.3333", 100, "0", 33, 0, "0.3333 × 1.00 = 0.3333 → 0.33, zero-rated"},
		{"1", 1000000, "8", 1000000, 80000, "10,000.00 at 8% = 800.00"},
	}
	for _, tt := range tests {
		q, err := ParseQuantity(tt.qty)
		if err != nil {
			t.Fatal(err)
		}
		net, tax, err := LineAmounts(q, tt.price, pct(tt.rate))
		if err != nil || net != tt.net || tax != tt.tax {
			t.Errorf("%s: net %d tax %d (%v); want %d %d", tt.why, net, tax, err, tt.net, tt.tax)
		}
	}
	for _, bad := range []string{"0", "-1", "1.00001", "abc", ""} {
		if _, err := ParseQuantity(bad); err == nil {
			t.Errorf("quantity %q accepted", bad)
		}
	}
	for _, bad := range []string{"-1", "100", "1e2", "x"} {
		if _, err := ParsePercent(bad); err == nil {
			t.Errorf("rate %q accepted", bad)
		}
	}
	if got := Percentage(1000000, pct("2")); got != 20000 {
		t.Errorf("2%% of 10,000.00 = %d, want 20000", got)
	}
}

func TestDocumentNumberAndBuckets(t *testing.T) {
	if got := DocumentNumber("INV", 2026, 1); got != "INV-2026-000001" {
		t.Errorf("number %q", got)
	}
	if got := DocumentNumber("BILL", 2026, 1234567); got != "BILL-2026-1234567" {
		t.Errorf("number %q", got)
	}
	d := func(s string) time.Time { v, _ := time.Parse("2006-01-02", s); return v }
	due := d("2026-03-31")
	for asOf, want := range map[string]string{
		"2026-03-01": BucketCurrent, "2026-03-31": BucketCurrent, "2026-04-01": Bucket1To30, "2026-04-30": Bucket1To30,
		"2026-05-01": Bucket31To60, "2026-05-30": Bucket31To60, "2026-05-31": Bucket61To90, "2026-06-29": Bucket61To90,
		"2026-06-30": BucketOver90,
	} {
		if got := Bucket(due, d(asOf)); got != want {
			t.Errorf("due %s as of %s: %s, want %s", "2026-03-31", asOf, got, want)
		}
	}
}
