package extract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
	"unicode"
)

// Limits bound what one document may cost. They are checked before the
// expensive step (pages counted before any is rendered, pixels read from
// an image header before tesseract decodes it), because a decompression
// bomb or a 10,000-page PDF does its damage in the tool, not in our code.
type Limits struct {
	MaxPages  int           // pages of a PDF or multi-page TIFF
	MaxPixels int64         // pixels of one image or one rendered page
	Timeout   time.Duration // the whole ReadText, every command included
}

// DefaultLimits fit a 2-core appliance: 200 pages is a thick contract, 64
// megapixels takes a 48 MP phone photo of a receipt, and 5 minutes is half
// of the job queue's per-job timeout so a slow OCR fails here, with a
// clear message, before the queue gives up on the job.
func DefaultLimits() Limits {
	return Limits{MaxPages: 200, MaxPixels: 64_000_000, Timeout: 5 * time.Minute}
}

// Word is one word and how sure the reader is of it: tesseract's 0..100,
// and 100 for words from a PDF's text layer (they are what the file says).
type Word struct {
	Text       string  `json:"text"`
	Confidence float64 `json:"confidence"`
}

// Page is the text of one page, 1-based.
type Page struct {
	Number int    `json:"number"`
	Text   string `json:"text"`
	Words  []Word `json:"words"`
}

// Text is what ReadText read. Method is "pdftotext" when every page came
// from the text layer and "tesseract" as soon as any page was OCRed, since
// the confidences are then no longer all 100.
type Text struct {
	Pages  []Page `json:"pages"`
	Method string `json:"method"`
}

// Methods of Text.
const (
	MethodPDFText   = "pdftotext"
	MethodTesseract = "tesseract"
)

// String is the pages joined by form feeds, as pdftotext writes them.
func (t Text) String() string {
	s := make([]string, len(t.Pages))
	for i, p := range t.Pages {
		s[i] = p.Text
	}
	return strings.Join(s, "\f")
}

// MeanConfidence is the mean word confidence over all pages (0..100), 0
// when there are no words at all.
func (t Text) MeanConfidence() float64 {
	var sum float64
	var n int
	for _, p := range t.Pages {
		for _, w := range p.Words {
			sum += w.Confidence
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// ReadText reads a file on disk (plaintext, in a private temp dir): PDFs
// with a text layer via `pdftotext -layout`, scans and images via
// tesseract (PDF pages rendered with pdftoppm), pages in parallel up to
// runtime.NumCPU() with OMP_THREAD_LIMIT=1. Rendered pages are written to
// a directory made next to path, so plaintext stays inside the caller's
// private directory, and removed before returning.
//
// The kind is sniffed again from the file: the content decides, and kind
// only has to agree with it. Bad files give *BadFileError (permanent);
// a deadline or a failing tool gives an ordinary wrapped error (a retry
// may succeed on a quieter machine).
func ReadText(ctx context.Context, path string, kind Kind, lim Limits) (Text, error) {
	if lim.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, lim.Timeout)
		defer cancel()
	}
	sniffed, err := sniffFile(path)
	if err != nil {
		return Text{}, err
	}
	if kind != "" && kind != sniffed {
		return Text{}, &BadFileError{Reason: fmt.Sprintf("file is %s, not %s", sniffed, kind)}
	}
	work, err := os.MkdirTemp(filepath.Dir(path), ".extract-")
	if err != nil {
		return Text{}, fmt.Errorf("extract: work directory: %w", err)
	}
	defer os.RemoveAll(work)
	var t Text
	if sniffed == KindPDF {
		t, err = readPDF(ctx, path, work, lim)
	} else {
		t, err = readImage(ctx, path, sniffed, work, lim)
	}
	if err != nil {
		return Text{}, deadline(ctx, lim, err)
	}
	return t, nil
}

// deadline names our own timeout in the error, so the user reads "timed
// out after 5m0s" and not a killed child's "signal: killed".
func deadline(ctx context.Context, lim Limits, err error) error {
	var bad *BadFileError
	if errors.As(err, &bad) || ctx.Err() == nil {
		return err
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && lim.Timeout > 0 {
		return fmt.Errorf("extract: reading text timed out after %s: %w", lim.Timeout, ctx.Err())
	}
	return fmt.Errorf("extract: reading text: %w", ctx.Err())
}

func sniffFile(path string) (Kind, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("extract: %w", err)
	}
	defer f.Close()
	head := make([]byte, SniffLen)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("extract: read %s: %w", filepath.Base(path), err)
	}
	k, err := Sniff(head[:n])
	if errors.Is(err, ErrUnsupportedType) {
		// At intake this is a 415; here, a file already accepted, it can
		// only be a permanent failure of the job.
		return "", &BadFileError{Reason: ErrUnsupportedType.Error()}
	}
	return k, err
}

// toolError is a command that ran and failed: its stderr is what tells
// pdfinfo's "Incorrect password" from "Couldn't read xref table".
type toolError struct {
	Tool   string
	Err    error
	Stderr string
	// Exited is true when the tool ran and exited with a failure status:
	// only then did it reject the file. A tool that could not start (not
	// installed) or was killed by a signal (out of memory, our deadline)
	// says nothing about the file, and the job may be retried.
	Exited bool
}

func (e *toolError) Error() string {
	if e.Stderr == "" {
		return fmt.Sprintf("%s: %v", e.Tool, e.Err)
	}
	return fmt.Sprintf("%s: %v: %s", e.Tool, e.Err, e.Stderr)
}

func (e *toolError) Unwrap() error { return e.Err }

// maxStderr keeps a tool that complains per object (a corrupt PDF makes
// poppler print thousands of lines) from filling memory and the error.
const maxStderr = 4 << 10

// limitedBuffer keeps the first maxStderr bytes and drops the rest.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxStderr - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// run runs one tool under ctx (killed when it ends), single-threaded, and
// returns its stdout; a failure carries the tool's stderr.
func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	if Runner != nil {
		var stdout bytes.Buffer
		var stderr limitedBuffer
		if err := Runner(ctx, name, args, append(os.Environ(), "OMP_THREAD_LIMIT=1"), &stdout, &stderr); err != nil {
			// A CommandRunner's error does not say how the tool ended;
			// every failure under a live ctx is taken as the tool's verdict.
			return nil, &toolError{Tool: name, Err: err, Stderr: strings.TrimSpace(stderr.String()), Exited: ctx.Err() == nil}
		}
		return stdout.Bytes(), nil
	}
	cmd := exec.CommandContext(ctx, name, args...)
	// One thread per tool: we already run one tool per core, and
	// tesseract's OpenMP threads would fight each other for the same
	// cores (it is slower, not faster, when oversubscribed).
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
	// A killed child's pipes are closed after this long even if it
	// left a grandchild holding them.
	cmd.WaitDelay = 2 * time.Second
	var stdout bytes.Buffer
	var stderr limitedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		exited := errors.As(err, &exit) && exit.Exited() && ctx.Err() == nil
		return nil, &toolError{Tool: name, Err: err, Stderr: strings.TrimSpace(stderr.String()), Exited: exited}
	}
	return stdout.Bytes(), nil
}

// parallel runs fn(0..n-1) on up to NumCPU goroutines and returns the
// first error; the others are cancelled through ctx.
func parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range min(n, runtime.NumCPU()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}

// wordsOf splits text-layer text into words of full confidence.
func wordsOf(s string) []Word {
	f := strings.Fields(s)
	w := make([]Word, len(f))
	for i, t := range f {
		w[i] = Word{Text: t, Confidence: 100}
	}
	return w
}

// meaningful counts letters and digits: a page with fewer than
// minTextChars of them in its text layer is a scan (perhaps with a stamp,
// a page number or a scanner's name printed on it) and is OCRed.
func meaningful(s string) int {
	n := 0
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			n++
		}
	}
	return n
}

const minTextChars = 16
