package extracttest

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	_ "image/jpeg" // DecodeConfig of the rendered scan
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// scanDPI keeps the rendered scans small (a short page is about 1240 x
// 400 pixels) while the 11 pt text stays about 23 pixels tall, which
// tesseract reads reliably.
const scanDPI = 150

// TB is the part of testing.TB the renderers use; declared here so that
// the package does not import "testing" and `vanta bench documents` can
// render its corpus with the same code (a *testing.T satisfies it).
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Image formats of Render.
const (
	FormatPNG  = "png"
	FormatJPEG = "jpeg"
	FormatTIFF = "tiff"
)

// Render draws PDF(lines)'s first page at dpi as a grey image in format,
// with pdftoppm, without anti-aliasing, as a scanner's black-and-white
// mode delivers it: tesseract reads the grey glyph edges of a clean
// render as stray underscores after wide gaps ("P051234567X_").
func Render(lines []string, format string, dpi int) ([]byte, error) {
	ext := map[string]string{FormatPNG: ".png", FormatJPEG: ".jpg", FormatTIFF: ".tif"}[format]
	if ext == "" {
		return nil, fmt.Errorf("extracttest: unknown image format %q", format)
	}
	dir, err := os.MkdirTemp("", "extracttest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	in := filepath.Join(dir, "doc.pdf")
	if err := os.WriteFile(in, PDF(lines), 0o600); err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "scan")
	cmd := exec.Command("pdftoppm", "-r", fmt.Sprint(dpi), "-gray", "-aa", "no", "-aaVector", "no", "-"+format, "-singlefile", in, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("extracttest: pdftoppm: %v: %s", err, b)
	}
	return os.ReadFile(out + ext)
}

func render(t TB, lines []string, format string) []byte {
	t.Helper()
	img, err := Render(lines, format, scanDPI)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return img
}

// Scan is a PNG of the first page of PDF(lines): a "scanned" document
// with no text layer, whose words the test knows.
func Scan(t TB, lines []string) []byte { return render(t, lines, FormatPNG) }

// ScanJPEG is Scan as a JPEG (what phones and most scanners send).
func ScanJPEG(t TB, lines []string) []byte { return render(t, lines, FormatJPEG) }

// ScanTIFF is Scan as a TIFF (what fax-era scanners send).
func ScanTIFF(t TB, lines []string) []byte { return render(t, lines, FormatTIFF) }

// ScanPDF is a PDF whose only page is the JPEG scan of lines, as a
// scanner's "scan to PDF" makes it: an image XObject (DCTDecode, the JPEG
// bytes as they are) and no text at all, so readers must OCR it.
func ScanPDF(t TB, lines []string) []byte {
	t.Helper()
	return pagesPDF(t, pdfPage{scan: lines})
}

// MixedPDF is a two-page PDF: page 1 has a text layer showing text, page
// 2 is the scan of scanned (a typed cover letter with a scanned receipt
// attached), so one document needs both pdftotext and OCR.
func MixedPDF(t TB, text, scanned []string) []byte {
	t.Helper()
	return pagesPDF(t, pdfPage{text: text}, pdfPage{scan: scanned})
}

// pdfPage is a page of pagesPDF: text drawn in Helvetica, or the lines
// rendered and embedded as a scan.
type pdfPage struct{ text, scan []string }

func pagesPDF(t TB, pages ...pdfPage) []byte {
	t.Helper()
	w := newWriter()
	catalog, tree, font := w.alloc(), w.alloc(), w.alloc()
	var kids []string
	for _, p := range pages {
		page, content := w.alloc(), w.alloc()
		kids = append(kids, fmt.Sprintf("%d 0 R", page))
		if p.scan == nil {
			h := a4Height
			w.object(page, fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>", tree, pageWidth, h, font, content))
			w.stream(content, "", textContent(p.text, h))
			continue
		}
		jpg := ScanJPEG(t, p.scan)
		cfg, _, err := image.DecodeConfig(bytes.NewReader(jpg))
		if err != nil {
			t.Fatalf("extracttest: rendered JPEG: %v", err)
		}
		cs := "/DeviceRGB"
		if cfg.ColorModel == color.GrayModel {
			cs = "/DeviceGray"
		}
		// The page has the size of the paper that was scanned.
		pw, ph := cfg.Width*72/scanDPI, cfg.Height*72/scanDPI
		img := w.alloc()
		w.object(page, fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %d %d] /Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>", tree, pw, ph, img, content))
		w.stream(content, "", fmt.Appendf(nil, "q %d 0 0 %d 0 0 cm /Im0 Do Q", pw, ph))
		w.stream(img, fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s /BitsPerComponent 8 /Filter /DCTDecode", cfg.Width, cfg.Height, cs), jpg)
	}
	w.object(catalog, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", tree))
	w.object(tree, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(pages)))
	w.object(font, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	return w.finish(catalog, "")
}

// ZipBomb is a zip archive (PK signature) holding one entry,
// "invoice.pdf", of 10 MB of zeros compressed to a few kilobytes: the
// "zip bomb renamed .pdf" of the acceptance list. Content sniffing must
// refuse it without ever inflating it.
func ZipBomb() []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	f, err := zw.Create("invoice.pdf")
	if err != nil {
		panic(err) // in-memory writer: cannot fail
	}
	zero := make([]byte, 1<<20)
	for range 10 {
		_, _ = f.Write(zero)
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// PNGBomb is a valid-looking PNG whose header declares width x height
// pixels with almost no data behind it: the decompression bomb that must
// be refused from the header, before a decoder allocates the pixels.
func PNGBomb(width, height uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		c := crc32.NewIEEE()
		c.Write([]byte(typ))
		c.Write(data)
		b.WriteString(typ)
		b.Write(data)
		_ = binary.Write(&b, binary.BigEndian, c.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], width)
	binary.BigEndian.PutUint32(ihdr[4:], height)
	ihdr[8], ihdr[9] = 8, 0 // 8-bit greyscale
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b.Bytes()
}
