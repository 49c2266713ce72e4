package extracttest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// poppler repairs broken files silently and says so on stderr; a fixture
// must be valid as written, so any stderr output fails the test.
func popplerRun(t *testing.T, data []byte, tool string, args ...string) (string, string, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tool, append(args, p, "-")...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func TestFixtures(t *testing.T) {
	inv := Invoice()
	enc, password := EncryptedPDF(inv.Lines)
	tests := []struct {
		name     string
		data     []byte
		tool     string
		args     []string
		contains string
		wantErr  string // stderr of a tool that must fail
		maxBytes int
	}{
		{"text pdf", PDF(inv.Lines), "pdftotext", []string{"-layout"}, "TOTAL                        KES 8,990.00", "", 4 << 10},
		{"encrypted pdf opens with its password", enc, "pdftotext", []string{"-upw", password}, "INV-2026-0042", "", 4 << 10},
		{"encrypted pdf refuses without it", enc, "pdftotext", nil, "", "Incorrect password", 4 << 10},
		{"10,000 pages, small", ManyPagesPDF(10000), "pdftotext", []string{"-f", "10000", "-l", "10000"}, "One of many identical pages.", "", 1 << 20},
		{"scanned pdf has no text", ScanPDF(t, inv.Lines), "pdftotext", nil, "", "", 256 << 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.data) > tc.maxBytes {
				t.Errorf("%d bytes, want at most %d", len(tc.data), tc.maxBytes)
			}
			out, stderr, err := popplerRun(t, tc.data, tc.tool, tc.args...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(stderr, tc.wantErr) {
					t.Fatalf("err = %v, stderr %q; want a failure with %q", err, stderr, tc.wantErr)
				}
				return
			}
			if err != nil || stderr != "" {
				t.Fatalf("%s: %v: %s", tc.tool, err, stderr)
			}
			if tc.contains == "" && strings.TrimSpace(out) != "" {
				t.Errorf("text %q, want none", out)
			}
			if !strings.Contains(out, tc.contains) {
				t.Errorf("text %q lacks %q", out, tc.contains)
			}
		})
	}
}

func TestBadFixtures(t *testing.T) {
	tests := []struct {
		name   string
		data   []byte
		prefix string
		max    int
	}{
		{"zip bomb is a zip", ZipBomb(), "PK\x03\x04", 64 << 10},
		{"corrupt pdf looks like a pdf", CorruptPDF(), "%PDF-", 1 << 10},
		{"png bomb is a png", PNGBomb(100000, 100000), "\x89PNG\r\n\x1a\n", 1 << 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.HasPrefix(tc.data, []byte(tc.prefix)) || len(tc.data) > tc.max {
				t.Errorf("%d bytes starting %q", len(tc.data), tc.data[:min(8, len(tc.data))])
			}
		})
	}
}

// The invoice's numbers add up, so a totals check on it must pass.
func TestInvoiceAddsUp(t *testing.T) {
	inv := Invoice()
	cents := func(s string) int64 {
		var n int64
		for _, c := range s {
			if c >= '0' && c <= '9' {
				n = n*10 + int64(c-'0')
			}
		}
		return n
	}
	var items int64
	for _, it := range inv.Items {
		items += cents(it.Amount)
	}
	if items != cents(inv.Subtotal) || cents(inv.Subtotal)+cents(inv.VATAmount) != cents(inv.Total) || cents(inv.Subtotal)*16/100 != cents(inv.VATAmount) {
		t.Errorf("items %d, subtotal %s + VAT %s != total %s", items, inv.Subtotal, inv.VATAmount, inv.Total)
	}
	text := strings.Join(inv.Lines, "\n")
	for _, v := range []string{inv.VendorName, inv.VendorPIN, inv.Customer, inv.DocumentNumber, inv.PaymentMethod, "14/03/2026", "13/04/2026", "8,990.00"} {
		if !strings.Contains(text, v) {
			t.Errorf("text lacks %q", v)
		}
	}
}

// Other packages' tests assert these literals; InvoiceVariant must keep
// producing them for 42.
func TestInvoiceLiterals(t *testing.T) {
	inv := Invoice()
	got := []string{inv.DocumentNumber, inv.Subtotal, inv.VATAmount, inv.Total, inv.Items[0].Quantity, inv.Items[0].Amount}
	want := []string{"INV-2026-0042", "7750.00", "1240.00", "8990.00", "5", "3250.00"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	text := strings.Join(inv.Lines, "\n")
	for _, s := range []string{"TOTAL", "8,990.00", "3,250.00", "4,500.00", "VAT 16%"} {
		if !strings.Contains(text, s) {
			t.Errorf("text lacks %q:\n%s", s, text)
		}
	}
	if a, b := InvoiceVariant(1), InvoiceVariant(2); a.Total == b.Total || a.DocumentNumber == b.DocumentNumber {
		t.Errorf("variants 1 and 2 are alike: %s %s", a.Total, b.Total)
	}
}
