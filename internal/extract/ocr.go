package extract

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// ocrLanguage is tesseract's language: Debian's tesseract-ocr-eng. Kenyan
// business documents are in English; Swahili (tesseract-ocr-swa) can be
// installed but doubles the OCR time when combined, so it is not used by
// default.
const ocrLanguage = "eng"

// readImage checks the image's size from its header, then OCRs it with
// one tesseract run (a multi-page TIFF is read page after page by that
// run; images are one page in practice).
func readImage(ctx context.Context, path string, kind Kind, work string, lim Limits) (Text, error) {
	if err := checkImage(path, kind, lim); err != nil {
		return Text{}, err
	}
	pages, err := tesseract(ctx, path, work+"/image", 0)
	if err != nil {
		var te *toolError
		if ctx.Err() == nil && errors.As(err, &te) && te.Exited {
			// The header was fine but leptonica could not decode the
			// pixels: a truncated or corrupt image, not a passing fault.
			detail := lastSyntaxError(te.Stderr)
			if te.Stderr == "" {
				detail = fmt.Sprintf("%s: %v", te.Tool, te.Err)
			}
			return Text{}, &BadFileError{Reason: "corrupt image: " + firstLine(detail)}
		}
		return Text{}, err
	}
	if len(pages) == 0 {
		pages = []Page{{Number: 1}}
	}
	return Text{Pages: pages, Method: MethodTesseract}, nil
}

// tesseract OCRs img into base.txt (the text, laid out by tesseract, pages
// separated by form feeds) and base.tsv (one row per word with its
// confidence) in one run, and returns the pages. dpi 0 lets tesseract use
// the image's own resolution.
func tesseract(ctx context.Context, img, base string, dpi int) ([]Page, error) {
	args := []string{img, base, "-l", ocrLanguage}
	if dpi > 0 {
		args = append(args, "--dpi", strconv.Itoa(dpi))
	}
	args = append(args, "txt", "tsv")
	if _, err := run(ctx, "tesseract", args...); err != nil {
		return nil, fmt.Errorf("extract: ocr: %w", err)
	}
	defer os.Remove(base + ".txt")
	defer os.Remove(base + ".tsv")
	txt, err := os.ReadFile(base + ".txt")
	if err != nil {
		return nil, fmt.Errorf("extract: ocr output: %w", err)
	}
	f, err := os.Open(base + ".tsv")
	if err != nil {
		return nil, fmt.Errorf("extract: ocr output: %w", err)
	}
	defer f.Close()
	words, err := parseTSV(f)
	if err != nil {
		return nil, fmt.Errorf("extract: ocr output: %w", err)
	}
	texts := strings.Split(strings.TrimRight(string(txt), "\f\n"), "\f")
	n := max(len(texts), len(words))
	pages := make([]Page, n)
	for i := range pages {
		pages[i].Number = i + 1
		if i < len(texts) {
			pages[i].Text = strings.Trim(texts[i], "\n")
		}
		if i < len(words) {
			pages[i].Words = words[i]
		}
	}
	return pages, nil
}

// parseTSV reads tesseract's TSV (level, page_num, block_num, par_num,
// line_num, word_num, left, top, width, height, conf, text) and returns
// the words of each page in reading order, by page index. Rows of
// levels 1-4 (page, block, paragraph, line) carry conf -1 and no text.
func parseTSV(r io.Reader) ([][]Word, error) {
	var pages [][]Word
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	header := true
	for sc.Scan() {
		if header {
			header = false
			if strings.HasPrefix(sc.Text(), "level") {
				continue
			}
		}
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 12 || cols[0] != "5" {
			continue
		}
		text := strings.TrimSpace(cols[11])
		if text == "" {
			continue
		}
		page, err := strconv.Atoi(cols[1])
		if err != nil || page < 1 {
			return nil, fmt.Errorf("tsv: bad page number %q", cols[1])
		}
		conf, err := strconv.ParseFloat(cols[10], 64)
		if err != nil {
			return nil, fmt.Errorf("tsv: bad confidence %q", cols[10])
		}
		for len(pages) < page {
			pages = append(pages, nil)
		}
		pages[page-1] = append(pages[page-1], Word{Text: text, Confidence: max(0, min(100, conf))})
	}
	return pages, sc.Err()
}

// checkImage refuses, from the header alone, an image whose pixels would
// exceed lim.MaxPixels once decoded (a decompression bomb is a few
// kilobytes of PNG declaring 100,000 x 100,000 pixels) or a TIFF with
// more pages than lim.MaxPages.
func checkImage(path string, kind Kind, lim Limits) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	defer f.Close()
	var dims [][2]int64
	switch kind {
	case KindPNG:
		dims, err = pngSize(f)
	case KindJPEG:
		dims, err = jpegSize(f)
	case KindTIFF:
		dims, err = tiffSizes(f, lim.MaxPages)
	default:
		return &BadFileError{Reason: ErrUnsupportedType.Error()}
	}
	if err != nil {
		return &BadFileError{Reason: fmt.Sprintf("corrupt image: %v", err)}
	}
	if lim.MaxPages > 0 && len(dims) > lim.MaxPages {
		return &BadFileError{Reason: fmt.Sprintf("too many pages: more than %d (limit %d)", lim.MaxPages, lim.MaxPages)}
	}
	for _, d := range dims {
		if d[0] <= 0 || d[1] <= 0 {
			return &BadFileError{Reason: "corrupt image: zero width or height"}
		}
		if lim.MaxPixels > 0 && d[0]*d[1] > lim.MaxPixels {
			return &BadFileError{Reason: fmt.Sprintf("image too large: %d x %d pixels (limit %d)", d[0], d[1], lim.MaxPixels)}
		}
	}
	return nil
}

func pngSize(r io.Reader) ([][2]int64, error) {
	var h [24]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, errors.New("truncated PNG header")
	}
	if string(h[12:16]) != "IHDR" {
		return nil, errors.New("PNG without IHDR")
	}
	w := int64(binary.BigEndian.Uint32(h[16:20]))
	ht := int64(binary.BigEndian.Uint32(h[20:24]))
	return [][2]int64{{w, ht}}, nil
}

// jpegSize walks the JPEG markers to the first start-of-frame, skipping
// APPn segments (EXIF thumbnails among them) by their lengths.
func jpegSize(r io.Reader) ([][2]int64, error) {
	br := bufio.NewReader(r)
	if _, err := br.Discard(2); err != nil { // FF D8
		return nil, errors.New("truncated JPEG")
	}
	for {
		b, err := br.ReadByte()
		if err != nil {
			return nil, errors.New("JPEG without a frame header")
		}
		if b != 0xFF {
			continue // entropy-coded bytes or padding between segments
		}
		m, err := br.ReadByte()
		for err == nil && m == 0xFF { // fill bytes
			m, err = br.ReadByte()
		}
		if err != nil {
			return nil, errors.New("JPEG without a frame header")
		}
		switch {
		case m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD8):
			continue // stuffed byte, TEM, RSTn, SOI: no length
		case m == 0xD9:
			return nil, errors.New("JPEG without a frame header")
		}
		var seg [2]byte
		if _, err := io.ReadFull(br, seg[:]); err != nil {
			return nil, errors.New("truncated JPEG segment")
		}
		n := int(binary.BigEndian.Uint16(seg[:]))
		if n < 2 {
			return nil, errors.New("bad JPEG segment length")
		}
		if m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC {
			var sof [5]byte // precision, height, width
			if _, err := io.ReadFull(br, sof[:]); err != nil {
				return nil, errors.New("truncated JPEG frame header")
			}
			h := int64(binary.BigEndian.Uint16(sof[1:3]))
			w := int64(binary.BigEndian.Uint16(sof[3:5]))
			return [][2]int64{{w, h}}, nil
		}
		if _, err := br.Discard(n - 2); err != nil {
			return nil, errors.New("truncated JPEG segment")
		}
	}
}

// tiffSizes reads every IFD (page) of a TIFF, stopping after maxPages+1
// so that a file claiming a million pages costs nothing to refuse.
func tiffSizes(r io.ReaderAt, maxPages int) ([][2]int64, error) {
	var h [8]byte
	if _, err := r.ReadAt(h[:], 0); err != nil {
		return nil, errors.New("truncated TIFF header")
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if h[0] == 'M' {
		bo = binary.BigEndian
	}
	off := int64(bo.Uint32(h[4:8]))
	seen := map[int64]bool{}
	var dims [][2]int64
	for off != 0 {
		if seen[off] {
			return nil, errors.New("TIFF page loop")
		}
		seen[off] = true
		if maxPages > 0 && len(dims) > maxPages {
			break
		}
		var c [2]byte
		if _, err := r.ReadAt(c[:], off); err != nil {
			return nil, errors.New("truncated TIFF directory")
		}
		n := int64(bo.Uint16(c[:]))
		entries := make([]byte, n*12+4)
		if _, err := r.ReadAt(entries, off+2); err != nil {
			return nil, errors.New("truncated TIFF directory")
		}
		var w, ht int64
		for i := range n {
			e := entries[i*12 : i*12+12]
			tag, typ := bo.Uint16(e[0:2]), bo.Uint16(e[2:4])
			var v int64
			switch typ {
			case 3: // SHORT, left-justified in the value field
				v = int64(bo.Uint16(e[8:10]))
			case 4: // LONG
				v = int64(bo.Uint32(e[8:12]))
			default:
				continue
			}
			switch tag {
			case 256:
				w = v
			case 257:
				ht = v
			}
		}
		dims = append(dims, [2]int64{w, ht})
		off = int64(bo.Uint32(entries[n*12:]))
	}
	if len(dims) == 0 {
		return nil, errors.New("TIFF without pages")
	}
	return dims, nil
}
