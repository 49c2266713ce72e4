package extract

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// ocrDPI is the resolution tesseract is best at for body text.
const ocrDPI = 300

// minDPI is the lowest resolution worth OCRing; a page that needs less to
// fit MaxPixels is a poster, not a business document.
const minDPI = 100

type pdfInfo struct {
	pages     int
	encrypted bool
}

// readPDF: pdfinfo decides whether the file is readable at all and how
// many pages it has (before anything is rendered), pdftotext reads the
// text layer of every page at once, and pages whose layer is (nearly)
// empty are rendered and OCRed in parallel.
func readPDF(ctx context.Context, path, work string, lim Limits) (Text, error) {
	info, err := readPDFInfo(ctx, path)
	if err != nil {
		return Text{}, err
	}
	if lim.MaxPages > 0 && info.pages > lim.MaxPages {
		return Text{}, &BadFileError{Reason: fmt.Sprintf("too many pages: %d (limit %d)", info.pages, lim.MaxPages)}
	}
	out, err := run(ctx, "pdftotext", "-layout", "-enc", "UTF-8", path, "-")
	if err != nil {
		return Text{}, pdfError(ctx, err)
	}
	layer := strings.Split(string(out), "\f")
	t := Text{Pages: make([]Page, info.pages), Method: MethodPDFText}
	var scans []int
	for i := range t.Pages {
		var s string
		if i < len(layer) {
			s = strings.TrimRight(layer[i], "\n")
		}
		t.Pages[i] = Page{Number: i + 1, Text: s, Words: wordsOf(s)}
		if meaningful(s) < minTextChars {
			scans = append(scans, i)
		}
	}
	if len(scans) == 0 {
		return t, nil
	}
	t.Method = MethodTesseract
	sizes, err := pdfPageSizes(ctx, path, info.pages)
	if err != nil {
		return Text{}, err
	}
	err = parallel(ctx, len(scans), func(ctx context.Context, j int) error {
		i := scans[j]
		p, err := ocrPDFPage(ctx, path, work, i+1, sizes[i], lim)
		if err != nil {
			return err
		}
		t.Pages[i] = p
		return nil
	})
	if err != nil {
		return Text{}, err
	}
	return t, nil
}

func readPDFInfo(ctx context.Context, path string) (pdfInfo, error) {
	out, err := run(ctx, "pdfinfo", path)
	if err != nil {
		return pdfInfo{}, pdfError(ctx, err)
	}
	var info pdfInfo
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Pages":
			info.pages, _ = strconv.Atoi(v)
		case "Encrypted":
			info.encrypted = strings.HasPrefix(v, "yes")
		}
	}
	if info.pages < 1 {
		return pdfInfo{}, &BadFileError{Reason: "corrupt PDF: no pages"}
	}
	return info, nil
}

// pdfError turns a poppler failure into the user's reason. Poppler prints
// "Incorrect password" for a file encrypted with a user password (we
// never have it) and "Syntax Error: …" for a file it cannot parse. A
// failure after our deadline or cancellation is not the file's fault.
func pdfError(ctx context.Context, err error) error {
	var te *toolError
	if ctx.Err() != nil || !errors.As(err, &te) || !te.Exited {
		return fmt.Errorf("extract: %w", err)
	}
	switch {
	case strings.Contains(te.Stderr, "Incorrect password"),
		strings.Contains(te.Stderr, "not allowed"): // copying forbidden by the owner password
		return &BadFileError{Reason: "encrypted PDF"}
	case te.Stderr != "":
		return &BadFileError{Reason: "corrupt PDF: " + firstLine(lastSyntaxError(te.Stderr))}
	}
	return &BadFileError{Reason: fmt.Sprintf("corrupt PDF: %s: %v", te.Tool, te.Err)}
}

// lastSyntaxError picks the most telling line: poppler's last complaint
// is the one that made it give up ("Couldn't read xref table").
func lastSyntaxError(stderr string) string {
	lines := strings.Split(stderr, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return strings.TrimPrefix(l, "Syntax Error: ")
		}
	}
	return stderr
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// pageSize is a page's size in points.
type pageSize struct{ w, h float64 }

var pageSizeLine = regexp.MustCompile(`^Page\s+(\d+) size:\s+([\d.]+) x ([\d.]+) pts`)

// pdfPageSizes asks pdfinfo for every page's size (a mixed document can
// have an A4 letter and an A3 drawing) so that each page is rendered at
// the highest resolution that fits MaxPixels.
func pdfPageSizes(ctx context.Context, path string, pages int) ([]pageSize, error) {
	out, err := run(ctx, "pdfinfo", "-f", "1", "-l", strconv.Itoa(pages), path)
	if err != nil {
		return nil, pdfError(ctx, err)
	}
	sizes := make([]pageSize, pages)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := pageSizeLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		w, _ := strconv.ParseFloat(m[2], 64)
		h, _ := strconv.ParseFloat(m[3], 64)
		if n >= 1 && n <= pages {
			sizes[n-1] = pageSize{w, h}
		}
	}
	return sizes, nil
}

// renderDPI is ocrDPI, or less when the page at ocrDPI would exceed
// maxPixels; a page needing less than minDPI is refused.
func renderDPI(number int, size pageSize, maxPixels int64) (int, error) {
	if size.w <= 0 || size.h <= 0 {
		return 0, &BadFileError{Reason: fmt.Sprintf("corrupt PDF: page %d has no size", number)}
	}
	dpi := ocrDPI
	if maxPixels > 0 {
		fit := int(72 * math.Sqrt(float64(maxPixels)/(size.w*size.h)))
		dpi = min(dpi, fit)
	}
	if dpi < minDPI {
		return 0, &BadFileError{Reason: fmt.Sprintf("image too large: page %d is %.0f x %.0f pts", number, size.w, size.h)}
	}
	return dpi, nil
}

// ocrPDFPage renders one page as a grey image (tesseract binarises it
// anyway; colour would triple the bytes) and OCRs it.
func ocrPDFPage(ctx context.Context, path, work string, number int, size pageSize, lim Limits) (Page, error) {
	dpi, err := renderDPI(number, size, lim.MaxPixels)
	if err != nil {
		return Page{}, err
	}
	base := filepath.Join(work, fmt.Sprintf("page-%d", number))
	n := strconv.Itoa(number)
	if _, err := run(ctx, "pdftoppm", "-r", strconv.Itoa(dpi), "-gray", "-f", n, "-l", n, "-singlefile", path, base); err != nil {
		return Page{}, pdfError(ctx, err)
	}
	img := base + ".pgm"
	defer os.Remove(img)
	pages, err := tesseract(ctx, img, base, dpi)
	if err != nil {
		return Page{}, err
	}
	if len(pages) == 0 {
		return Page{Number: number}, nil
	}
	p := pages[0]
	p.Number = number
	return p, nil
}
