package extract

import (
	"bytes"
	"errors"
)

// Kind is a file type we can read, decided from the file's content: a name
// or a client's Content-Type is only a claim.
type Kind string

const (
	KindPDF  Kind = "pdf"
	KindPNG  Kind = "png"
	KindJPEG Kind = "jpeg"
	KindTIFF Kind = "tiff"
)

// ErrUnsupportedType is returned by Sniff for content that is none of the
// kinds above (a zip renamed .pdf, a Word file, plain text).
var ErrUnsupportedType = errors.New("unsupported file type")

// BadFileError is a file that can never be read, whatever the retry: the
// queue fails its job permanently and the reason is shown to the user.
type BadFileError struct{ Reason string }

func (e *BadFileError) Error() string { return "bad file: " + e.Reason }

// SniffLen is how many leading bytes Sniff wants to see.
const SniffLen = 512

var (
	magicPDF    = []byte("%PDF-")
	magicPNG    = []byte("\x89PNG\r\n\x1a\n")
	magicJPEG   = []byte{0xFF, 0xD8, 0xFF}
	magicTIFFLE = []byte("II*\x00")
	magicTIFFBE = []byte("MM\x00*")
)

// Sniff decides the kind from the first bytes of a file (SniffLen or all
// of a shorter file). The signature must be at offset 0: readers that
// accept a PDF header anywhere in the first kilobyte would also accept a
// zip whose first stored member is a PDF, which is exactly the kind of
// file we refuse. An empty file is a *BadFileError, not an unknown type,
// so that the user is told what is actually wrong.
func Sniff(head []byte) (Kind, error) {
	switch {
	case len(head) == 0:
		return "", &BadFileError{Reason: "empty file"}
	case bytes.HasPrefix(head, magicPDF):
		return KindPDF, nil
	case bytes.HasPrefix(head, magicPNG):
		return KindPNG, nil
	case bytes.HasPrefix(head, magicJPEG):
		return KindJPEG, nil
	case bytes.HasPrefix(head, magicTIFFLE), bytes.HasPrefix(head, magicTIFFBE):
		return KindTIFF, nil
	}
	return "", ErrUnsupportedType
}
