package extract

import (
	"errors"
	"testing"
)

func TestSniff(t *testing.T) {
	tests := []struct {
		name    string
		head    []byte
		want    Kind
		wantErr error
		reason  string
	}{
		{"pdf", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"), KindPDF, nil, ""},
		{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), KindPNG, nil, ""},
		{"jpeg", []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F'}, KindJPEG, nil, ""},
		{"tiff little-endian", []byte("II*\x00\x08\x00\x00\x00"), KindTIFF, nil, ""},
		{"tiff big-endian", []byte("MM\x00*\x00\x00\x00\x08"), KindTIFF, nil, ""},
		{"empty", nil, "", nil, "empty file"},
		{"zip renamed pdf", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00invoice.pdf%PDF-"), "", ErrUnsupportedType, ""},
		{"pdf header not at start", []byte("junk\n%PDF-1.4\n"), "", ErrUnsupportedType, ""},
		{"text", []byte("Invoice INV-1 total 100.00"), "", ErrUnsupportedType, ""},
		{"truncated png signature", []byte("\x89PN"), "", ErrUnsupportedType, ""},
		{"gif", []byte("GIF89a"), "", ErrUnsupportedType, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Sniff(tc.head)
			if got != tc.want {
				t.Errorf("kind = %q, want %q", got, tc.want)
			}
			switch {
			case tc.reason != "":
				var bad *BadFileError
				if !errors.As(err, &bad) || bad.Reason != tc.reason {
					t.Errorf("err = %v, want BadFileError %q", err, tc.reason)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("err = %v, want %v", err, tc.wantErr)
				}
			case err != nil:
				t.Errorf("err = %v", err)
			}
		})
	}
}
