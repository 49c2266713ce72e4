// Package extracttest makes the documents the document tests read: PDFs
// with a text layer written by hand (so the bytes are known and need no
// tool), "scans" rendered from them with pdftoppm (images with no text
// layer, so OCR is exercised on text whose content the test knows), and
// the bad files the intake and the queue must refuse: encrypted, corrupt,
// 10,000 pages, a zip renamed .pdf.
package extracttest

import (
	"bytes"
	"crypto/md5"
	"crypto/rc4"
	"encoding/binary"
	"fmt"
	"strings"
)

// Page geometry of the PDFs written here, in points.
const (
	pageWidth    = 595 // A4 width
	a4Height     = 842
	fontSize     = 11
	leading      = 14
	margin       = 50
	linesPerPage = (a4Height - 2*margin) / leading
)

// writer assembles a PDF object by object and writes the xref table from
// the offsets it recorded, so the files are valid without any repair by
// the reader (poppler would silently reconstruct a wrong xref and hide a
// bug in the fixture).
type writer struct {
	buf     bytes.Buffer
	offsets map[int]int
	next    int
	key     []byte // RC4 file key when the file is encrypted
}

func newWriter() *writer {
	w := &writer{offsets: map[int]int{}, next: 1}
	// The binary comment marks the file as binary for transfer tools.
	w.buf.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	return w
}

// alloc reserves an object number, for objects that refer to each other.
func (w *writer) alloc() int {
	n := w.next
	w.next++
	return n
}

func (w *writer) object(n int, body string) {
	w.offsets[n] = w.buf.Len()
	fmt.Fprintf(&w.buf, "%d 0 obj\n%s\nendobj\n", n, body)
}

func (w *writer) stream(n int, dict string, data []byte) {
	if w.key != nil {
		data = w.encrypt(n, data)
	}
	w.offsets[n] = w.buf.Len()
	fmt.Fprintf(&w.buf, "%d 0 obj\n<< %s /Length %d >>\nstream\n", n, dict, len(data))
	w.buf.Write(data)
	w.buf.WriteString("\nendstream\nendobj\n")
}

// finish writes the xref table and trailer; extra goes into the trailer
// dictionary (/Encrypt, /ID).
func (w *writer) finish(root int, extra string) []byte {
	xref := w.buf.Len()
	fmt.Fprintf(&w.buf, "xref\n0 %d\n0000000000 65535 f \n", w.next)
	for n := 1; n < w.next; n++ {
		off, ok := w.offsets[n]
		if !ok {
			panic(fmt.Sprintf("extracttest: object %d allocated but never written", n))
		}
		fmt.Fprintf(&w.buf, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&w.buf, "trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n", w.next, root, extra, xref)
	return w.buf.Bytes()
}

// escape makes a PDF literal string of ASCII text; anything else becomes
// '?' because the standard Helvetica only has a one-byte encoding and the
// test texts are ASCII anyway.
func escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\' || r == '(' || r == ')':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

// textContent is the content stream drawing lines top-down from the top
// left margin of a page of the given height.
func textContent(lines []string, height int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "BT\n/F1 %d Tf\n%d TL\n%d %d Td\n", fontSize, leading, margin, height-margin)
	for _, l := range lines {
		fmt.Fprintf(&b, "(%s) Tj T*\n", escape(l))
	}
	b.WriteString("ET")
	return b.Bytes()
}

// PDF is a valid PDF with a Helvetica text layer showing lines, one per
// text line, top to bottom. A short text gets one page only as tall as it
// needs (keeps the rendered scans small and OCR fast); a long text gets
// A4 pages of linesPerPage lines each.
func PDF(lines []string) []byte { return textPDF(lines, nil) }

func textPDF(lines []string, enc *encryption) []byte {
	w := newWriter()
	var pages [][]string
	for len(lines) > linesPerPage {
		pages = append(pages, lines[:linesPerPage])
		lines = lines[linesPerPage:]
	}
	pages = append(pages, lines)
	height := a4Height
	if len(pages) == 1 {
		height = min(a4Height, 2*margin+leading*max(len(lines), 1))
	}
	var extra string
	if enc != nil {
		extra = enc.setUp(w)
	}
	catalog, tree, font := w.alloc(), w.alloc(), w.alloc()
	var kids []string
	for _, p := range pages {
		page, content := w.alloc(), w.alloc()
		kids = append(kids, fmt.Sprintf("%d 0 R", page))
		w.object(page, fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>", tree, pageWidth, height, font, content))
		w.stream(content, "", textContent(p, height))
	}
	w.object(catalog, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", tree))
	w.object(tree, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(pages)))
	w.object(font, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	return w.finish(catalog, extra)
}

// ManyPagesPDF is a valid PDF of n pages that stays small: every page
// shares one content stream and one font, so a page costs one short
// dictionary and one xref row (about 120 bytes; 10,000 pages ≈ 1.2 MB).
// It is the "absurd file" the page limit must refuse before any page is
// rendered.
func ManyPagesPDF(n int) []byte {
	w := newWriter()
	catalog, tree, font, content := w.alloc(), w.alloc(), w.alloc(), w.alloc()
	kids := make([]string, n)
	for i := range n {
		page := w.alloc()
		kids[i] = fmt.Sprintf("%d 0 R", page)
		w.object(page, fmt.Sprintf("<< /Type /Page /Parent %d 0 R /Contents %d 0 R >>", tree, content))
	}
	w.object(catalog, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", tree))
	w.object(tree, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d /MediaBox [0 0 %d 200] /Resources << /Font << /F1 %d 0 R >> >> >>", strings.Join(kids, " "), n, pageWidth, font))
	w.object(font, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	w.stream(content, "", textContent([]string{"One of many identical pages."}, 200))
	return w.finish(catalog, "")
}

// CorruptPDF starts like a PDF and then is not one: no objects, no xref,
// no trailer; nothing a reader can reconstruct.
func CorruptPDF() []byte {
	return []byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\nthis is not a PDF body: the upload was cut off here\x00\x01\x02\n")
}

// EncryptedPDF is PDF(lines) encrypted with the standard security handler
// (revision 2, 40-bit RC4) under a user password, so no reader opens it
// without the password. The password is returned for tests that want to
// prove the fixture is a real encrypted file and not just a broken one.
func EncryptedPDF(lines []string) (pdf []byte, password string) {
	const user, owner = "kra-2026", "owner-secret"
	return textPDF(lines, &encryption{user: user, owner: owner}), user
}

// padding is the 32-byte string of the PDF standard security handler.
var padding = []byte{
	0x28, 0xBF, 0x4E, 0x5E, 0x4E, 0x75, 0x8A, 0x41, 0x64, 0x00, 0x4E, 0x56, 0xFF, 0xFA, 0x01, 0x08,
	0x2E, 0x2E, 0x00, 0xB6, 0xD0, 0x68, 0x3E, 0x80, 0x2F, 0x0C, 0xA9, 0xFE, 0x64, 0x53, 0x69, 0x7A,
}

type encryption struct{ user, owner string }

func pad(password string) []byte {
	p := append([]byte(password), padding...)
	return p[:32]
}

func rc4Crypt(key, data []byte) []byte {
	c, err := rc4.NewCipher(key)
	if err != nil {
		panic(err) // only for a key length outside 1..256, which we never make
	}
	out := make([]byte, len(data))
	c.XORKeyStream(out, data)
	return out
}

// setUp computes O, U and the file key (PDF 1.4 spec, algorithms 3.2, 3.3
// and 3.4), writes the /Encrypt dictionary and returns the trailer entries.
func (e *encryption) setUp(w *writer) string {
	const perms = int32(-4) // everything allowed once opened
	id := md5.Sum([]byte("vanta extracttest " + e.user))
	ownerKey := md5.Sum(pad(e.owner))
	o := rc4Crypt(ownerKey[:5], pad(e.user))
	h := md5.New()
	h.Write(pad(e.user))
	h.Write(o)
	_ = binary.Write(h, binary.LittleEndian, perms)
	h.Write(id[:])
	w.key = h.Sum(nil)[:5]
	u := rc4Crypt(w.key, padding)
	n := w.alloc()
	w.object(n, fmt.Sprintf("<< /Filter /Standard /V 1 /R 2 /O <%x> /U <%x> /P %d >>", o, u, perms))
	return fmt.Sprintf("/Encrypt %d 0 R /ID [<%x> <%x>] ", n, id, id)
}

// encrypt is algorithm 3.1: each object's data under a key made from the
// file key and the object number.
func (w *writer) encrypt(n int, data []byte) []byte {
	k := append([]byte{}, w.key...)
	k = append(k, byte(n), byte(n>>8), byte(n>>16), 0, 0)
	sum := md5.Sum(k)
	return rc4Crypt(sum[:min(len(w.key)+5, 16)], data)
}
