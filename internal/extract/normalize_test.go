package extract

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vanta-ledger/vanta/internal/money"
)

func TestParseAmount(t *testing.T) {
	for _, tc := range []struct {
		in, want, currency string
		ok                 bool
	}{
		{"1,053.52", "1053.52", "", true},
		{"1.053,52", "1053.52", "", true},
		{"1 053.52", "1053.52", "", true},
		{"RM 31.00", "31.00", "MYR", true},
		{"RM31.00", "31.00", "MYR", true},
		{"KES 1,234", "1234.00", "KES", true},
		{"KSh 1,160.00", "1160.00", "KES", true},
		{"Ksh. 500", "500.00", "KES", true},
		{"(12.50)", "-12.50", "", true},
		{"12.50-", "-12.50", "", true},
		{"-7", "-7.00", "", true},
		{"$8.20", "8.20", "USD", true},
		{"EUR 9,99", "9.99", "EUR", true},
		{"12,5", "12.50", "", true},
		{"0.125", "0.125", "", true},
		{"1,234,567.89", "1234567.89", "", true},
		{"1.234.567,89", "1234567.89", "", true},
		{"007.10", "7.10", "", true},
		{".02", "0.02", "", true},
		{"(0.00)", "0.00", "", true},
		{"", "", "", false},
		{"abc", "", "", false},
		{"1,23,4", "", "", false},
		{"12.34.56", "", "", false},
		{"1,053.52.1", "", "", false},
		{"12.", "", "", false},
		{"1  053.52", "", "", false},
		{"RM", "", "", false},
		{"1e5", "", "", false},
	} {
		got, cur, ok := ParseAmount(tc.in)
		if got != tc.want || cur != tc.currency || ok != tc.ok {
			t.Errorf("ParseAmount(%q) = %q, %q, %v; want %q, %q, %v", tc.in, got, cur, ok, tc.want, tc.currency, tc.ok)
		}
	}
}

// FuzzParseAmount: any minor-unit amount written in any local style reads
// back exactly, and whatever ParseAmount accepts is a plain decimal the
// books can parse.
func FuzzParseAmount(f *testing.F) {
	f.Add(int64(105352), uint8(0), "")
	f.Add(int64(-1250), uint8(4), "RM ")
	f.Add(int64(123400), uint8(2), "KSh ")
	f.Add(int64(0), uint8(1), "")
	f.Fuzz(func(t *testing.T, minor int64, style uint8, prefix string) {
		if minor == -1<<63 {
			return
		}
		plain := money.Format(minor, 2)
		written := writeAmount(plain, style%6)
		got, _, ok := ParseAmount(written)
		if !ok || got != plain {
			t.Fatalf("ParseAmount(%q) = %q, %v; want %q", written, got, ok, plain)
		}
		// Arbitrary input never panics and never yields a non-decimal.
		if v, _, ok := ParseAmount(prefix + written); ok {
			if _, err := money.Parse(v, max(2, len(v)-strings.IndexByte(v, '.')-1)); err != nil {
				t.Fatalf("ParseAmount(%q) = %q, which is not a decimal: %v", prefix+written, v, err)
			}
		}
	})
}

// writeAmount spells a plain decimal ("-1053.52") in a local style.
func writeAmount(plain string, style uint8) string {
	neg := strings.HasPrefix(plain, "-")
	plain = strings.TrimPrefix(plain, "-")
	whole, frac, _ := strings.Cut(plain, ".")
	group := func(sep string) string {
		var parts []string
		for len(whole) > 3 {
			parts = append([]string{whole[len(whole)-3:]}, parts...)
			whole = whole[:len(whole)-3]
		}
		return strings.Join(append([]string{whole}, parts...), sep)
	}
	var s string
	switch style {
	case 0:
		s = group(",") + "." + frac // 1,053.52
	case 1:
		s = group(".") + "," + frac // 1.053,52
	case 2:
		s = group(" ") + "." + frac // 1 053.52
	case 3:
		s = "KSh " + group(",") + "." + frac
	case 4:
		s = "RM" + whole + "." + frac
	default:
		s = whole + "." + frac
	}
	if neg {
		return fmt.Sprintf("(%s)", s)
	}
	return s
}

func TestParseDate(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"14/03/2018", "2018-03-14", true},
		{"14-03-2018", "2018-03-14", true},
		{"14.03.18", "2018-03-14", true},
		{"14 Mar 2018", "2018-03-14", true},
		{"14-MAR-2018", "2018-03-14", true},
		{"14th March 2018", "2018-03-14", true},
		{"March 14, 2018", "2018-03-14", true},
		{"Mar 14 2018", "2018-03-14", true},
		{"2018-03-14", "2018-03-14", true},
		{"2018/03/14", "2018-03-14", true},
		{"14/03/2018 8:01:11 PM", "2018-03-14", true},
		{"DATE: 09/01/2019 8:01:11 PM", "2019-01-09", true}, // day first
		{"03/14/2018", "2018-03-14", true},                  // day-first impossible, month-first not
		{"4/02/2017", "2017-02-04", true},
		{"20180428/191204", "2018-04-28", true},
		{"29/02/2016", "2016-02-29", true},
		{"29/02/2018", "", false},
		{"31/04/2018", "", false},
		{"32/01/2018", "", false},
		{"14/13/2018", "", false},
		{"00/01/2018", "", false},
		{"14/03/2018x", "2018-03-14", true},
		{"31 Feb 2018", "", false},
		{"no date here", "", false},
		{"12:30:45", "", false},
	} {
		got, ok := ParseDate(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseDate(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestValidKRAPIN(t *testing.T) {
	for _, tc := range []struct {
		pin string
		ok  bool
	}{
		{"P051234567X", true},
		{"A123456789Z", true},
		{"B051234567X", false}, // only A (individual) or P (non-individual)
		{"P05123456X", false},  // eight digits
		{"P0512345678X", false},
		{"P051234567", false},
		{"p051234567x", false},
		{"P051234567X ", false},
	} {
		if got := ValidKRAPIN(tc.pin); got != tc.ok {
			t.Errorf("ValidKRAPIN(%q) = %v, want %v", tc.pin, got, tc.ok)
		}
	}
}

func TestDetectCurrency(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"TOTAL KES 1,160.00\nVAT 16% KSh 160.00", "KES"},
		{"Total: Ksh 500", "KES"},
		{"TOTAL RM 31.00\nCASH RM50.00", "MYR"},
		{"Amount due $1,200.00", "USD"},
		{"Total USD 100", "USD"},
		{"Summe EUR 12,50", "EUR"},
		{"Total 12.00", ""},
		{"PERMANENT ADDRESS", ""}, // "RM" inside a word is not ringgit
	} {
		if got := DetectCurrency(tc.text); got != tc.want {
			t.Errorf("DetectCurrency(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestFindAmounts(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"TOTAL : 31.00", []string{"31.00"}},
		{"TOTAL INCL. GST@6% RM 28.00", []string{"28.00"}}, // 6% is a rate
		{"RM7.90 RM0.47 -RM0.02", []string{"7.90", "0.47", "-0.02"}},
		{"RM-0.20", []string{"-0.20"}},
		{"9.80 SR", []string{"9.80"}},
		{"14.85SR", []string{"14.85"}},
		{"SKU A123 X4", nil},
		{"KSh 1,160.00", []string{"1160.00"}},
		{"Total 1 053.52", []string{"1053.52"}},
	} {
		var got []string
		for _, a := range newDoc(tc.line).amounts[0] {
			got = append(got, a.Value)
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("amounts in %q = %v, want %v", tc.line, got, tc.want)
		}
	}
}
