package money

import (
	"errors"
	"math"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in    string
		scale int
		want  int64
		err   error
	}{
		{"1053.52", 2, 105352, nil},
		{"-0.05", 2, -5, nil},
		{"+3.1", 2, 310, nil},
		{"7", 2, 700, nil},
		{"0", 2, 0, nil},
		{".5", 2, 50, nil},
		{"1.500", 2, 150, nil},
		{"10", 0, 10, nil},
		{"0.0001", 4, 1, nil},
		{"92233720368547758.07", 2, math.MaxInt64, nil},
		{"1.005", 2, 0, ErrPrecision},
		{"92233720368547758.08", 2, 0, ErrRange},
		{"1,000.00", 2, 0, ErrSyntax},
		{"1e3", 2, 0, ErrSyntax},
		{"", 2, 0, ErrSyntax},
		{"-", 2, 0, ErrSyntax},
		{".", 2, 0, ErrSyntax},
		{"5.", 2, 0, ErrSyntax},
		{" 5", 2, 0, ErrSyntax},
		{"--5", 2, 0, ErrSyntax},
	} {
		got, err := Parse(tc.in, tc.scale)
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("Parse(%q, %d) = %d, %v; want %d, %v", tc.in, tc.scale, got, err, tc.want, tc.err)
		}
	}
}

func TestFormatRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		minor int64
		scale int
		want  string
	}{
		{105352, 2, "1053.52"}, {-5, 2, "-0.05"}, {0, 2, "0.00"}, {10, 0, "10"},
		{1, 4, "0.0001"}, {math.MinInt64, 2, "-92233720368547758.08"},
	} {
		got := Format(tc.minor, tc.scale)
		if got != tc.want {
			t.Errorf("Format(%d, %d) = %q, want %q", tc.minor, tc.scale, got, tc.want)
		}
		back, err := Parse(got, tc.scale)
		if err != nil || back != tc.minor {
			t.Errorf("Parse(Format(%d)) = %d, %v", tc.minor, back, err)
		}
	}
}

func TestConvertRoundsHalfToEven(t *testing.T) {
	for _, tc := range []struct {
		minor int64
		from  int
		rate  string
		to    int
		want  int64
	}{
		{10000, 2, "129.45", 2, 1294500}, // USD 100.00 at 129.45 = KES 12,945.00
		{1, 2, "0.5", 2, 0},              // 0.005 → 0.00 (half, even)
		{3, 2, "0.5", 2, 2},              // 0.015 → 0.02 (half, even)
		{-3, 2, "0.5", 2, -2},            // symmetric for credits
		{10, 0, "5", 2, 5000},            // 10 shares at 5.00
		{12345, 4, "2", 2, 247},          // 1.2345 × 2 = 2.469 → 2.47
	} {
		r, err := ParseRate(tc.rate)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Convert(tc.minor, tc.from, r, tc.to)
		if err != nil || got != tc.want {
			t.Errorf("Convert(%d, %d, %s, %d) = %d, %v; want %d", tc.minor, tc.from, tc.rate, tc.to, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "0", "-1", "1e2", "1/2", "+2"} {
		if _, err := ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q) accepted", bad)
		}
	}
}
