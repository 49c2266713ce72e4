// Package extract turns a document file into text and the text into the
// fields an accountant needs.
//
// The text half (kind.go, text.go, pdf.go, ocr.go) is deliberately a thin
// layer over the Debian tools that do the hard part: poppler's pdfinfo,
// pdftotext and pdftoppm for PDFs, and tesseract for scans and images. The
// tools run as child processes under a deadline, one per page in parallel
// up to the core count, each pinned to one thread (OMP_THREAD_LIMIT=1) so
// that N pages on N cores do not oversubscribe the machine. Files that can
// never be read (empty, encrypted, corrupt, absurdly large) are reported as
// *BadFileError so the job queue fails them once instead of retrying.
//
// The fields half (classification, extraction engines, checks, templates)
// works on the text alone and never touches files or commands.
package extract
