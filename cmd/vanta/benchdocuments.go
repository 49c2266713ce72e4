package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vanta-ledger/vanta/internal/extract"
	"github.com/vanta-ledger/vanta/internal/extract/extracttest"
)

const benchDocumentsUsage = `usage: vanta bench documents [--data DIR] [--count N] [--dpi 300]
                            [--appliance=true] [--llm-url URL] [--json]

documents per minute, on the same files in the same run, through:
  bare tesseract   the tools alone (tesseract per image; pdftotext, or
                   pdftoppm + tesseract for PDFs without text), NumCPU
                   documents at a time, OMP_THREAD_LIMIT=1
  text stage       extract.ReadText in this process, as the pipeline calls it
  pipeline         upload to done through the API of a throwaway appliance
                   (intake, queue, OCR, classification, extraction), with
                   p50/p99 upload-to-done and one document alone first
and, with --llm-url, a llama-server's tokens/s on a fixed prompt.

--data DIR reads the PDF, PNG, JPEG and TIFF files of DIR (at most
--count when given); without it --count (default 20) distinct scanned
invoices are rendered at --dpi.
`

// docBenchConfig is what the flags ask for.
type docBenchConfig struct {
	Data      string `json:"data,omitempty"`
	Count     int    `json:"count"`
	DPI       int    `json:"dpi"`
	Appliance bool   `json:"appliance"`
	LLMURL    string `json:"llm_url,omitempty"`
}

func parseDocBenchFlags(args []string) (docBenchConfig, bool, error) {
	fs := flag.NewFlagSet("vanta bench documents", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	data := fs.String("data", "", "directory of documents (default: render scanned invoices)")
	count := fs.Int("count", 0, "documents to render, or at most this many from --data")
	dpi := fs.Int("dpi", 300, "resolution of the rendered scans")
	app := fs.Bool("appliance", true, "also measure the whole pipeline through a throwaway appliance")
	llm := fs.String("llm-url", "", "base URL of a running llama-server to measure")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return docBenchConfig{}, false, err
	}
	if fs.NArg() > 0 {
		return docBenchConfig{}, false, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg := docBenchConfig{Data: *data, Count: *count, DPI: *dpi, Appliance: *app, LLMURL: strings.TrimRight(*llm, "/")}
	if cfg.Count == 0 && cfg.Data == "" {
		cfg.Count = 20
	}
	switch {
	case cfg.Count < 0 || cfg.Count > 10000:
		return cfg, false, fmt.Errorf("--count: %d is not between 1 and 10000", cfg.Count)
	case cfg.DPI < 72 || cfg.DPI > 600:
		return cfg, false, fmt.Errorf("--dpi: %d is not between 72 and 600", cfg.DPI)
	}
	return cfg, *asJSON, nil
}

func cmdBenchDocuments(args []string) int {
	cfg, asJSON, err := parseDocBenchFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(os.Stdout, benchDocumentsUsage)
			return exitOK
		}
		fmt.Fprintf(os.Stderr, "vanta bench documents: %v\n%s", err, benchDocumentsUsage)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := benchDocuments(ctx, cfg, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vanta bench documents: %v\n", err)
		return exitFailure
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
	} else {
		res.print(os.Stdout)
	}
	return exitOK
}

// docRate is one way through the same documents: how many, how long in
// all, documents per minute and each document's latency (start of its
// work, or its upload, to its text or its "done").
type docRate struct {
	Documents int     `json:"documents"`
	Failed    int     `json:"failed"`
	WallMS    float64 `json:"wall_ms"`
	PerMin    float64 `json:"docs_per_min"`
	P50MS     float64 `json:"p50_ms"`
	P99MS     float64 `json:"p99_ms"`
	// CPUPerDocMS is CPU time (user + system, tools included) per
	// document that came through: unlike the wall time it hardly moves
	// when other work shares the machine, so it is the fairer comparison
	// on a busy host.
	CPUPerDocMS float64 `json:"cpu_per_doc_ms"`
	// Pipeline only: the idle appliance's CPU (seconds per second) and
	// CPUPerDocMS without that share over the run's wall time.
	IdleCPUShare   float64  `json:"idle_cpu_share,omitempty"`
	NetCPUPerDocMS *float64 `json:"net_cpu_per_doc_ms,omitempty"`
}

// newDocRate summarises one run: n documents (failed of them) in wall,
// with the latency of each that succeeded.
func newDocRate(n, failed int, wall time.Duration, lat []time.Duration) docRate {
	r := docRate{Documents: n, Failed: failed, WallMS: ms(wall)}
	if wall > 0 {
		r.PerMin = float64(n-failed) / wall.Minutes()
	}
	r.P50MS, r.P99MS = ms(percentile(lat, 0.50)), ms(percentile(lat, 0.99))
	return r
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// percentile is the nearest-rank percentile (the smallest value with at
// least p of the values at or below it): with 20 documents p99 is the
// slowest one, not an interpolation between samples that never happened.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// setCPU records cpu spent on the documents that came through.
func (r *docRate) setCPU(cpu time.Duration) {
	if n := r.Documents - r.Failed; n > 0 {
		r.CPUPerDocMS = ms(cpu) / float64(n)
	}
}

// processCPU is the CPU time of this process and of its children that
// have been waited for (every tool the bare and text sides ran).
func processCPU() time.Duration {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(children.Utime) + tv(children.Stime)
}

// setIdle records the idle appliance's CPU share (CPU-seconds per
// second) and the CPU per document net of it over the run's wall time.
func (r *docRate) setIdle(share float64) {
	r.IdleCPUShare = share
	if n := r.Documents - r.Failed; n > 0 {
		net := r.CPUPerDocMS - share*r.WallMS/float64(n)
		r.NetCPUPerDocMS = &net
	}
}

// ratio is a/b, 0 when b is 0 (a side that did not run).
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

type docBenchResult struct {
	Version   string         `json:"version"`
	CPUs      int            `json:"cpus"`
	Source    string         `json:"source"`
	Documents int            `json:"documents"`
	Kinds     map[string]int `json:"kinds"`
	Bare      docRate        `json:"bare_tesseract"`
	Text      docRate        `json:"text_stage"`
	Pipeline  *docRate       `json:"pipeline,omitempty"`
	// SingleMS is one document alone, upload to done, after the bulk
	// (in a second company, so it is no duplicate).
	SingleMS         float64 `json:"single_upload_to_done_ms,omitempty"`
	PipelineNote     string  `json:"pipeline_note,omitempty"`
	TextOverBare     float64 `json:"text_over_bare"`
	PipelineOverBare float64 `json:"pipeline_over_bare,omitempty"`
	// The same ratios by CPU per document (bare's CPU / the side's):
	// what the sides would give each other on an otherwise idle machine.
	TextOverBareCPU     float64 `json:"text_over_bare_cpu"`
	PipelineOverBareCPU float64 `json:"pipeline_over_bare_cpu,omitempty"`
	// ... and net of the idle appliance's own CPU.
	PipelineOverBareNetCPU float64  `json:"pipeline_over_bare_net_cpu,omitempty"`
	LLM                    *llmRate `json:"llm,omitempty"`
}

// pipelineGoal is the goal for pipeline / bare tesseract.
const pipelineGoal = 0.9

func (r docBenchResult) print(w io.Writer) {
	var kinds []string
	for k, n := range r.Kinds {
		kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(kinds)
	fmt.Fprintf(w, "vanta %s, %d CPUs, %d documents (%s): %s\n", r.Version, r.CPUs, r.Documents, strings.Join(kinds, ", "), r.Source)
	fmt.Fprintf(w, "%-34s %6s %9s %10s %9s %9s %9s %s\n", "", "failed", "wall", "docs/min", "p50", "p99", "cpu/doc", "vs bare: by wall, by cpu")
	row := func(name string, d docRate, vs string) {
		fmt.Fprintf(w, "%-34s %6d %8.1fs %10.1f %8.0fms %8.0fms %7.0fms %s\n", name, d.Failed, d.WallMS/1000, d.PerMin, d.P50MS, d.P99MS, d.CPUPerDocMS, vs)
	}
	row("bare tesseract / poppler", r.Bare, "1.00x 1.00x")
	row("text stage (extract.ReadText)", r.Text, fmt.Sprintf("%.2fx %.2fx", r.TextOverBare, r.TextOverBareCPU))
	if r.Pipeline != nil {
		verdict := "goal >= 0.90x: met"
		if min(r.PipelineOverBare, r.PipelineOverBareCPU) < pipelineGoal {
			verdict = "goal >= 0.90x: NOT met"
		}
		row("pipeline, upload to done", *r.Pipeline, fmt.Sprintf("%.2fx %.2fx (%s)", r.PipelineOverBare, r.PipelineOverBareCPU, verdict))
		if n := r.Pipeline.NetCPUPerDocMS; n != nil {
			fmt.Fprintf(w, "pipeline CPU per document net of the idle appliance (%.3f CPU-s/s): %.0fms, %.2fx bare\n", r.Pipeline.IdleCPUShare, *n, r.PipelineOverBareNetCPU)
		}
		fmt.Fprintf(w, "one document alone, upload to done: %.0fms\n", r.SingleMS)
	}
	if r.PipelineNote != "" {
		fmt.Fprintf(w, "pipeline: %s\n", r.PipelineNote)
	}
	if r.LLM != nil {
		r.LLM.print(w)
	}
}

// benchDoc is one file of the corpus.
type benchDoc struct {
	Path string
	Kind extract.Kind
}

func benchDocuments(ctx context.Context, cfg docBenchConfig, progress io.Writer) (docBenchResult, error) {
	work, err := os.MkdirTemp("", "vanta-bench-documents-")
	if err != nil {
		return docBenchResult{}, err
	}
	defer os.RemoveAll(work)
	docs, source, err := benchCorpus(cfg, work, progress)
	if err != nil {
		return docBenchResult{}, err
	}
	res := docBenchResult{Version: buildVersion(), CPUs: runtime.NumCPU(), Source: source, Documents: len(docs), Kinds: map[string]int{}}
	for _, d := range docs {
		res.Kinds[string(d.Kind)]++
	}
	fmt.Fprintf(progress, "bare tesseract on %d documents\n", len(docs))
	cpu := processCPU()
	if res.Bare, err = runDocs(ctx, docs, func(ctx context.Context, d benchDoc) error { return bareText(ctx, d, work) }); err != nil {
		return res, err
	}
	res.Bare.setCPU(processCPU() - cpu)
	fmt.Fprintf(progress, "extract.ReadText on %d documents\n", len(docs))
	lim := extract.DefaultLimits()
	cpu = processCPU()
	if res.Text, err = runDocs(ctx, docs, func(ctx context.Context, d benchDoc) error {
		_, err := extract.ReadText(ctx, d.Path, d.Kind, lim)
		return err
	}); err != nil {
		return res, err
	}
	res.Text.setCPU(processCPU() - cpu)
	res.TextOverBare = ratio(res.Text.PerMin, res.Bare.PerMin)
	res.TextOverBareCPU = ratio(res.Bare.CPUPerDocMS, res.Text.CPUPerDocMS)
	if cfg.Appliance {
		p, single, note, err := benchPipeline(ctx, docs, progress)
		if err != nil {
			return res, err
		}
		res.Pipeline, res.SingleMS, res.PipelineNote = p, single, note
		if p != nil {
			res.PipelineOverBare = ratio(p.PerMin, res.Bare.PerMin)
			res.PipelineOverBareCPU = ratio(res.Bare.CPUPerDocMS, p.CPUPerDocMS)
			if p.NetCPUPerDocMS != nil {
				res.PipelineOverBareNetCPU = ratio(res.Bare.CPUPerDocMS, *p.NetCPUPerDocMS)
			}
			if p.NetCPUPerDocMS != nil {
				res.PipelineOverBareNetCPU = ratio(res.Bare.CPUPerDocMS, *p.NetCPUPerDocMS)
			}
		}
	} else {
		res.PipelineNote = "not measured (--appliance=false)"
	}
	if cfg.LLMURL != "" {
		fmt.Fprintf(progress, "llama-server at %s\n", cfg.LLMURL)
		l, err := benchLLM(ctx, cfg.LLMURL)
		if err != nil {
			return res, err
		}
		res.LLM = &l
	}
	return res, nil
}

// benchCorpus lists --data's documents, or renders --count scanned
// invoices, each different (the intake answers a duplicate from the
// first copy, which would flatter the pipeline).
func benchCorpus(cfg docBenchConfig, work string, progress io.Writer) ([]benchDoc, string, error) {
	if cfg.Data == "" {
		fmt.Fprintf(progress, "rendering %d scanned invoices at %d dpi\n", cfg.Count, cfg.DPI)
		var docs []benchDoc
		for i := range cfg.Count {
			img, err := extracttest.Render(extracttest.InvoiceVariant(i+1).Lines, extracttest.FormatPNG, cfg.DPI)
			if err != nil {
				return nil, "", err
			}
			p := filepath.Join(work, fmt.Sprintf("invoice-%04d.png", i+1))
			if err := os.WriteFile(p, img, 0o600); err != nil {
				return nil, "", err
			}
			docs = append(docs, benchDoc{Path: p, Kind: extract.KindPNG})
		}
		return docs, fmt.Sprintf("scanned invoices rendered at %d dpi", cfg.DPI), nil
	}
	entries, err := os.ReadDir(cfg.Data)
	if err != nil {
		return nil, "", err
	}
	var docs []benchDoc
	for _, e := range entries {
		if !e.Type().IsRegular() || (cfg.Count > 0 && len(docs) == cfg.Count) {
			continue
		}
		p := filepath.Join(cfg.Data, e.Name())
		head := make([]byte, extract.SniffLen)
		f, err := os.Open(p)
		if err != nil {
			return nil, "", err
		}
		n, _ := io.ReadFull(f, head)
		f.Close()
		k, err := extract.Sniff(head[:n])
		if err != nil {
			fmt.Fprintf(progress, "skipping %s: %v\n", e.Name(), err)
			continue
		}
		docs = append(docs, benchDoc{Path: p, Kind: k})
	}
	if len(docs) == 0 {
		return nil, "", fmt.Errorf("--data %s: no PDF, PNG, JPEG or TIFF files", cfg.Data)
	}
	return docs, cfg.Data, nil
}

// runDocs runs fn on every document, NumCPU at a time (the same
// concurrency the pipeline's workers get), and times each and the whole.
// A document that fails is counted, not fatal: the rate is of the
// documents that came through.
func runDocs(ctx context.Context, docs []benchDoc, fn func(context.Context, benchDoc) error) (docRate, error) {
	next := make(chan benchDoc)
	var (
		mu     sync.Mutex
		lat    []time.Duration
		failed int
		wg     sync.WaitGroup
	)
	begin := time.Now()
	for range min(runtime.NumCPU(), len(docs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range next {
				t := time.Now()
				err := fn(ctx, d)
				mu.Lock()
				if err != nil {
					failed++
				} else {
					lat = append(lat, time.Since(t))
				}
				mu.Unlock()
			}
		}()
	}
	for _, d := range docs {
		select {
		case next <- d:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return docRate{}, err
	}
	return newDocRate(len(docs), failed, time.Since(begin), lat), nil
}

// bareText is what one would run by hand: tesseract on an image; on a
// PDF pdftotext, and when that finds no text, pdftoppm at 300 dpi and
// tesseract on each page. One thread per tool, as in the pipeline.
func bareText(ctx context.Context, d benchDoc, work string) error {
	tool := func(name string, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", name, filepath.Base(d.Path), err)
		}
		return out, nil
	}
	if d.Kind != extract.KindPDF {
		_, err := tool("tesseract", d.Path, "stdout", "-l", "eng")
		return err
	}
	out, err := tool("pdftotext", "-layout", d.Path, "-")
	if err != nil {
		return err
	}
	if len(strings.Join(strings.Fields(string(out)), "")) >= 16 {
		return nil
	}
	dir, err := os.MkdirTemp(work, "bare-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if _, err := tool("pdftoppm", "-r", "300", "-gray", d.Path, filepath.Join(dir, "p")); err != nil {
		return err
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "p*.pgm"))
	for _, p := range pages {
		if _, err := tool("tesseract", p, "stdout", "-l", "eng"); err != nil {
			return err
		}
	}
	return nil
}
