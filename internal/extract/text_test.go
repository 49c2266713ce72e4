package extract

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vanta-ledger/vanta/internal/extract/extracttest"
)

// writeFile puts a document in a private directory, as the pipeline does.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadTextPDF(t *testing.T) {
	inv := extracttest.Invoice().Lines
	var long []string
	for i := range 120 {
		long = append(long, "Ledger line "+strings.Repeat("x", i%7)+" number "+string(rune('A'+i%26)))
	}
	tests := []struct {
		name  string
		lines []string
		pages int
	}{
		{"invoice, one page", inv, 1},
		{"120 lines, three A4 pages", long, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "doc.pdf", extracttest.PDF(tc.lines))
			got, err := ReadText(context.Background(), path, KindPDF, DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			if got.Method != MethodPDFText {
				t.Errorf("method = %q", got.Method)
			}
			if len(got.Pages) != tc.pages {
				t.Fatalf("%d pages, want %d", len(got.Pages), tc.pages)
			}
			for i, p := range got.Pages {
				if p.Number != i+1 {
					t.Errorf("page %d numbered %d", i+1, p.Number)
				}
			}
			// Every non-blank line comes back, in order, with its words
			// (pdftotext -layout keeps the columns' spacing, so compare
			// words, not bytes).
			var want, have []string
			for _, l := range tc.lines {
				want = append(want, strings.Fields(l)...)
			}
			for _, w := range strings.Fields(got.String()) {
				have = append(have, w)
			}
			if !slices.Equal(have, want) {
				t.Errorf("words:\n got %q\nwant %q", have, want)
			}
			if c := got.MeanConfidence(); c != 100 {
				t.Errorf("mean confidence %v, want 100 for a text layer", c)
			}
			if n := strings.Count(got.String(), "\f"); n != tc.pages-1 {
				t.Errorf("%d form feeds, want %d", n, tc.pages-1)
			}
		})
	}
}

func TestReadTextOCR(t *testing.T) {
	inv := extracttest.Invoice()
	tests := []struct {
		name string
		file string
		data []byte
		kind Kind
	}{
		{"png scan", "scan.png", extracttest.Scan(t, inv.Lines), KindPNG},
		{"jpeg scan", "scan.jpg", extracttest.ScanJPEG(t, inv.Lines), KindJPEG},
		{"tiff scan", "scan.tif", extracttest.ScanTIFF(t, inv.Lines), KindTIFF},
		{"image-only pdf", "scan.pdf", extracttest.ScanPDF(t, inv.Lines), KindPDF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, tc.file, tc.data)
			got, err := ReadText(context.Background(), path, tc.kind, DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("OCR text:\n%s", got)
			if got.Method != MethodTesseract {
				t.Errorf("method = %q, want tesseract", got.Method)
			}
			if len(got.Pages) != 1 || got.Pages[0].Number != 1 {
				t.Fatalf("pages = %+v, want one page numbered 1", got.Pages)
			}
			// The tokens extraction depends on must be read exactly, each
			// as one word with a real confidence.
			for _, tok := range []string{inv.DocumentNumber, "8,990.00", "7,750.00", "1,240.00", inv.VendorPIN, "14/03/2026", "KES"} {
				if !strings.Contains(got.String(), tok) {
					t.Errorf("text lacks %q", tok)
				}
				i := slices.IndexFunc(got.Pages[0].Words, func(w Word) bool { return w.Text == tok })
				if i < 0 {
					t.Errorf("no word %q", tok)
				} else if c := got.Pages[0].Words[i].Confidence; c <= 0 || c > 100 {
					t.Errorf("word %q confidence %v, want in (0, 100]", tok, c)
				}
			}
			if c := got.MeanConfidence(); c <= 0 || c > 100 {
				t.Errorf("mean confidence %v", c)
			}
		})
	}
}

// tiffPages is a little-endian TIFF header chaining n directories of
// w x h each (no pixel data: only the headers are read before refusing).
func tiffPages(n int, w, h uint32) []byte {
	b := []byte("II*\x00")
	b = binary.LittleEndian.AppendUint32(b, 8)
	for i := range n {
		b = binary.LittleEndian.AppendUint16(b, 2)
		b = binary.LittleEndian.AppendUint16(b, 256)
		b = binary.LittleEndian.AppendUint16(b, 4)
		b = binary.LittleEndian.AppendUint32(b, 1)
		b = binary.LittleEndian.AppendUint32(b, w)
		b = binary.LittleEndian.AppendUint16(b, 257)
		b = binary.LittleEndian.AppendUint16(b, 4)
		b = binary.LittleEndian.AppendUint32(b, 1)
		b = binary.LittleEndian.AppendUint32(b, h)
		next := uint32(0)
		if i < n-1 {
			next = uint32(len(b) + 4)
		}
		b = binary.LittleEndian.AppendUint32(b, next)
	}
	return b
}

func TestReadTextBadFiles(t *testing.T) {
	enc, _ := extracttest.EncryptedPDF(extracttest.Invoice().Lines)
	png := extracttest.Scan(t, []string{"Receipt 42"})
	tests := []struct {
		name   string
		file   string
		data   []byte
		kind   Kind
		lim    Limits
		reason string // exact, or a prefix when it ends in "…"
	}{
		{"zero bytes", "empty.pdf", nil, KindPDF, DefaultLimits(), "empty file"},
		{"zip bomb renamed .pdf", "bomb.pdf", extracttest.ZipBomb(), KindPDF, DefaultLimits(), "unsupported file type"},
		{"corrupt pdf", "bad.pdf", extracttest.CorruptPDF(), KindPDF, DefaultLimits(), "corrupt PDF: Couldn't read xref table"},
		{"encrypted pdf", "enc.pdf", enc, KindPDF, DefaultLimits(), "encrypted PDF"},
		{"10,000 pages", "many.pdf", extracttest.ManyPagesPDF(10000), KindPDF, DefaultLimits(), "too many pages: 10000 (limit 200)"},
		{"png decompression bomb", "bomb.png", extracttest.PNGBomb(100000, 100000), KindPNG, DefaultLimits(), "image too large: 100000 x 100000 pixels (limit 64000000)"},
		{"tiff with too many pages", "many.tif", tiffPages(5, 10, 10), KindTIFF, Limits{MaxPages: 3, MaxPixels: 1e6, Timeout: time.Minute}, "too many pages: more than 3 (limit 3)"},
		{"tiff page too large", "big.tif", tiffPages(1, 20000, 20000), KindTIFF, DefaultLimits(), "image too large: 20000 x 20000 pixels (limit 64000000)"},
		{"truncated png", "cut.png", png[:len(png)/3], KindPNG, DefaultLimits(), "corrupt image: …"},
		{"claimed pdf is a png", "scan.pdf", png, KindPDF, DefaultLimits(), "file is png, not pdf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, tc.file, tc.data)
			_, err := ReadText(context.Background(), path, tc.kind, tc.lim)
			var bad *BadFileError
			if !errors.As(err, &bad) {
				t.Fatalf("err = %v, want *BadFileError", err)
			}
			if prefix, ok := strings.CutSuffix(tc.reason, "…"); ok {
				if !strings.HasPrefix(bad.Reason, prefix) || len(bad.Reason) == len(prefix) {
					t.Errorf("reason %q, want %q and a detail", bad.Reason, tc.reason)
				}
			} else if bad.Reason != tc.reason {
				t.Errorf("reason %q, want %q", bad.Reason, tc.reason)
			}
		})
	}
}

// TestReadTextDeadlineKillsTool puts a tesseract that never finishes first
// in PATH: ReadText must return at Limits.Timeout with a deadline error
// (not a bad file: a retry may succeed) and the child must be gone.
func TestReadTextDeadlineKillsTool(t *testing.T) {
	bin := t.TempDir()
	pidFile := filepath.Join(bin, "pid")
	script := "#!/bin/sh\necho $$ > " + pidFile + "\nexec sleep 600\n"
	if err := os.WriteFile(filepath.Join(bin, "tesseract"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	tests := []struct {
		name string
		file string
		data []byte
	}{
		{"image", "scan.png", extracttest.Scan(t, []string{"Receipt 42"})},
		{"scanned pdf page", "scan.pdf", extracttest.ScanPDF(t, []string{"Receipt 42"})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.Remove(pidFile); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			path := writeFile(t, tc.file, tc.data)
			lim := DefaultLimits()
			lim.Timeout = 2 * time.Second
			_, err := ReadText(context.Background(), path, "", lim)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want a deadline", err)
			}
			var bad *BadFileError
			if errors.As(err, &bad) {
				t.Fatalf("a timeout is not a bad file: %v", err)
			}
			if !strings.Contains(err.Error(), "timed out after 2s") {
				t.Errorf("err = %v, want it to name the timeout", err)
			}
			b, err := os.ReadFile(pidFile)
			if err != nil {
				t.Fatalf("the fake tesseract never ran: %v", err)
			}
			var pid int
			for _, c := range strings.TrimSpace(string(b)) {
				pid = pid*10 + int(c-'0')
			}
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("tesseract (pid %d) still exists after the deadline: kill 0 = %v", pid, err)
			}
		})
	}
}

func TestParseTSV(t *testing.T) {
	const head = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
	tests := []struct {
		name string
		tsv  string
		want [][]Word
	}{
		{"structure rows skipped", head +
			"1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t\n" +
			"4\t1\t1\t1\t1\t0\t0\t0\t100\t10\t-1\t\n" +
			"5\t1\t1\t1\t1\t1\t0\t0\t10\t10\t96.5\tTOTAL\n" +
			"5\t1\t1\t1\t1\t2\t0\t0\t10\t10\t91\t8,990.00\n",
			[][]Word{{{"TOTAL", 96.5}, {"8,990.00", 91}}}},
		{"two pages, blank word dropped", head +
			"5\t1\t1\t1\t1\t1\t0\t0\t10\t10\t50\tA\n" +
			"5\t1\t1\t1\t1\t2\t0\t0\t10\t10\t95\t \n" +
			"5\t2\t1\t1\t1\t1\t0\t0\t10\t10\t0\tB\n",
			[][]Word{{{"A", 50}}, {{"B", 0}}}},
		{"empty", head, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseTSV(strings.NewReader(tc.tsv))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if !slices.Equal(got[i], tc.want[i]) {
					t.Errorf("page %d: got %v, want %v", i+1, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestRenderDPI(t *testing.T) {
	tests := []struct {
		name   string
		size   pageSize
		max    int64
		want   int
		tooBig bool
	}{
		{"A4 at 300", pageSize{595, 842}, 64_000_000, 300, false},
		{"A0 scaled down", pageSize{2384, 3370}, 64_000_000, 203, false},
		{"banner refused", pageSize{14400, 14400}, 64_000_000, 0, true},
		{"no limit", pageSize{14400, 14400}, 0, 300, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := renderDPI(1, tc.size, tc.max)
			var bad *BadFileError
			if tc.tooBig {
				if !errors.As(err, &bad) || !strings.HasPrefix(bad.Reason, "image too large") {
					t.Fatalf("err = %v, want image too large", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("dpi = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestTextString(t *testing.T) {
	tests := []struct {
		name string
		text Text
		str  string
		conf float64
	}{
		{"none", Text{}, "", 0},
		{"pages joined by form feed", Text{Pages: []Page{
			{Number: 1, Text: "a b", Words: []Word{{"a", 100}, {"b", 50}}},
			{Number: 2, Text: "c", Words: []Word{{"c", 30}}},
		}}, "a b\fc", 60},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if s := tc.text.String(); s != tc.str {
				t.Errorf("String = %q, want %q", s, tc.str)
			}
			if c := tc.text.MeanConfidence(); c != tc.conf {
				t.Errorf("MeanConfidence = %v, want %v", c, tc.conf)
			}
		})
	}
}

// TestReadTextMixedPDF: a typed page and a scanned page in one PDF; the
// first keeps its text layer (confidence 100), the second is OCRed, and
// the document's method says OCR was involved.
func TestReadTextMixedPDF(t *testing.T) {
	letter := []string{"Dear Accounts Payable,", "Please find attached our invoice for March 2026.", "Kind regards, Wanjiku"}
	inv := extracttest.Invoice()
	path := writeFile(t, "mixed.pdf", extracttest.MixedPDF(t, letter, inv.Lines))
	got, err := ReadText(context.Background(), path, KindPDF, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if got.Method != MethodTesseract || len(got.Pages) != 2 {
		t.Fatalf("method %q, %d pages; want tesseract, 2", got.Method, len(got.Pages))
	}
	tests := []struct {
		name     string
		page     Page
		number   int
		contains []string
		allFull  bool // every word at confidence 100 (text layer)
	}{
		{"typed letter", got.Pages[0], 1, []string{"Please find attached our invoice for March 2026."}, true},
		{"scanned invoice", got.Pages[1], 2, []string{inv.DocumentNumber, "8,990.00", inv.VendorPIN}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.page.Number != tc.number {
				t.Errorf("number %d, want %d", tc.page.Number, tc.number)
			}
			for _, s := range tc.contains {
				if !strings.Contains(tc.page.Text, s) {
					t.Errorf("page lacks %q:\n%s", s, tc.page.Text)
				}
			}
			full := !slices.ContainsFunc(tc.page.Words, func(w Word) bool { return w.Confidence != 100 })
			if len(tc.page.Words) == 0 || full != tc.allFull {
				t.Errorf("%d words, all at 100: %v, want %v", len(tc.page.Words), full, tc.allFull)
			}
		})
	}
	if !strings.Contains(got.String(), "Wanjiku\f") {
		t.Errorf("pages not separated by a form feed: %q", got.String())
	}
}

// TestReadTextToolFailures: only a tool that ran and exited with a
// failure status condemns the file; a tool that is missing or dies of a
// signal is an ordinary error, so the job is retried rather than the
// document failed for good.
func TestReadTextToolFailures(t *testing.T) {
	png := extracttest.Scan(t, []string{"Receipt 42"})
	pdf := extracttest.PDF([]string{"Receipt 42"})
	tests := []struct {
		name   string
		tool   string // a fake of this tool goes first in PATH
		script string // "" = PATH has no tools at all
		file   string
		data   []byte
		reason string // "" = not a *BadFileError
	}{
		{"tesseract exits 1 silently", "tesseract", "exit 1", "scan.png", png, "corrupt image: tesseract: exit status 1"},
		{"tesseract killed by a signal", "tesseract", "kill -KILL $$", "scan.png", png, ""},
		{"pdfinfo exits 1 silently", "pdfinfo", "exit 1", "doc.pdf", pdf, "corrupt PDF: pdfinfo: exit status 1"},
		{"poppler not installed", "", "", "doc.pdf", pdf, ""},
		{"tesseract not installed", "", "", "scan.png", png, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bin := t.TempDir()
			path := bin
			if tc.tool != "" {
				if err := os.WriteFile(filepath.Join(bin, tc.tool), []byte("#!/bin/sh\n"+tc.script+"\n"), 0o755); err != nil {
					t.Fatal(err)
				}
				path += string(os.PathListSeparator) + os.Getenv("PATH")
			}
			t.Setenv("PATH", path)
			_, err := ReadText(context.Background(), writeFile(t, tc.file, tc.data), "", DefaultLimits())
			if err == nil {
				t.Fatal("no error")
			}
			var bad *BadFileError
			switch {
			case tc.reason == "" && errors.As(err, &bad):
				t.Errorf("err = %v, want an ordinary error (retryable)", err)
			case tc.reason != "" && (!errors.As(err, &bad) || bad.Reason != tc.reason):
				t.Errorf("err = %v, want BadFileError %q", err, tc.reason)
			}
		})
	}
}
