package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vanta-ledger/vanta/appliance"
)

const benchLedgerUsage = `usage: vanta bench ledger [--clients 1,8,32,64] [--duration 10s] [--companies 10]
                         [--batch 1000] [--lines 1000000] [--report-runs 5]
                         [--pgbench-scale 10] [--json]

ledger posting through the HTTP API of a throwaway appliance (real tokens,
one manager per company): single posts, batches, one hot account, trial
balance and P&L over --lines lines, and pgbench -b tpcb-like on the same
PostgreSQL at each client count, printed as a ratio
`

// ledgerBenchConfig is what the flags ask for.
type ledgerBenchConfig struct {
	Clients      []int         `json:"clients"`
	Duration     time.Duration `json:"-"`
	Companies    int           `json:"companies"`
	Batch        int           `json:"batch"`
	Lines        int           `json:"lines"`
	ReportRuns   int           `json:"report_runs"`
	PgbenchScale int           `json:"pgbench_scale"`
}

func parseLedgerBenchFlags(args []string) (ledgerBenchConfig, bool, error) {
	fs := flag.NewFlagSet("vanta bench ledger", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	clients := fs.String("clients", "1,8,32,64", "comma-separated client counts")
	duration := fs.Duration("duration", 10*time.Second, "load time per measurement")
	companies := fs.Int("companies", 10, "companies the single posts and batches spread over")
	batch := fs.Int("batch", 1000, "entries per POST journal-entries/batch (at most 1000)")
	lines := fs.Int("lines", 1_000_000, "journal lines under the timed trial balance and P&L (0: skip)")
	reportRuns := fs.Int("report-runs", 5, "timed runs of each report")
	scale := fs.Int("pgbench-scale", 10, "pgbench -i scale (branches)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return ledgerBenchConfig{}, false, err
	}
	if fs.NArg() > 0 {
		return ledgerBenchConfig{}, false, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg := ledgerBenchConfig{Duration: *duration, Companies: *companies, Batch: *batch, Lines: *lines, ReportRuns: *reportRuns, PgbenchScale: *scale}
	for _, f := range strings.Split(*clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 256 {
			return cfg, false, fmt.Errorf("--clients: %q is not a client count between 1 and 256", f)
		}
		cfg.Clients = append(cfg.Clients, n)
	}
	switch {
	case cfg.Duration < time.Second:
		return cfg, false, fmt.Errorf("--duration: %s is under 1s", cfg.Duration)
	case cfg.Companies < 1 || cfg.Companies > 100:
		return cfg, false, fmt.Errorf("--companies: %d is not between 1 and 100", cfg.Companies)
	case cfg.Batch < 1 || cfg.Batch > 1000:
		return cfg, false, fmt.Errorf("--batch: %d is not between 1 and 1000 (the API's limit)", cfg.Batch)
	case cfg.Lines < 0:
		return cfg, false, fmt.Errorf("--lines: %d is negative", cfg.Lines)
	case cfg.ReportRuns < 1:
		return cfg, false, fmt.Errorf("--report-runs: %d is under 1", cfg.ReportRuns)
	case cfg.PgbenchScale < 1:
		return cfg, false, fmt.Errorf("--pgbench-scale: %d is under 1", cfg.PgbenchScale)
	}
	return cfg, *asJSON, nil
}

func cmdBenchLedger(args []string) int {
	cfg, asJSON, err := parseLedgerBenchFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(os.Stdout, benchLedgerUsage)
			return exitOK
		}
		fmt.Fprintf(os.Stderr, "vanta bench ledger: %v\n%s", err, benchLedgerUsage)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := benchLedger(ctx, cfg, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vanta bench ledger: %v\n", err)
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

// loadStat is one measured load: how many operations answered 2xx (each
// of Unit), per second, and the latency of each request.
type loadStat struct {
	Requests int            `json:"requests"`
	Units    int            `json:"units"` // entries: one per single post, --batch per batch
	PerS     float64        `json:"units_per_s"`
	P50MS    float64        `json:"p50_ms"`
	P99MS    float64        `json:"p99_ms"`
	MaxMS    float64        `json:"max_ms"`
	Errors   int            `json:"errors"`
	Statuses map[string]int `json:"error_statuses,omitempty"`
	Sample   string         `json:"error_sample,omitempty"`
}

type ledgerClientRun struct {
	Clients        int      `json:"clients"`
	Single         loadStat `json:"single_posts"`
	Batch          loadStat `json:"batch_entries"`
	Hot            loadStat `json:"hot_account_posts"`
	PgbenchTPS     float64  `json:"pgbench_tps"`
	PgbenchCommand string   `json:"pgbench_command"`
	SingleOverPg   float64  `json:"single_over_pgbench"`
}

type ledgerReportTimes struct {
	Lines        int     `json:"lines"`
	BuildS       float64 `json:"build_s"`
	TrialBalance stat    `json:"trial_balance"`
	ProfitLoss   stat    `json:"profit_and_loss"`
	TBCached     stat    `json:"trial_balance_cached"`
	Error        string  `json:"error,omitempty"`
}

type ledgerBenchResult struct {
	Version  string             `json:"version"`
	CPUs     int                `json:"cpus"`
	Config   ledgerBenchConfig  `json:"config"`
	Duration string             `json:"duration"`
	Runs     []ledgerClientRun  `json:"runs"`
	Reports  *ledgerReportTimes `json:"reports,omitempty"`
}

func (r ledgerBenchResult) print(w io.Writer) {
	fmt.Fprintf(w, "vanta %s, %d CPUs, %d companies, %s per measurement, batches of %d\n",
		r.Version, r.CPUs, r.Config.Companies, r.Duration, r.Config.Batch)
	fmt.Fprintf(w, "%7s | %9s %7s %7s | %9s %8s | %9s %7s %7s | %9s %7s | %s\n",
		"clients", "posts/s", "p50 ms", "p99 ms", "entries/s", "p99 ms", "hot /s", "p50 ms", "p99 ms", "pgbench", "ratio", "errors")
	for _, run := range r.Runs {
		fmt.Fprintf(w, "%7d | %9.0f %7.1f %7.1f | %9.0f %8.1f | %9.0f %7.1f %7.1f | %9.0f %6.2fx | %d/%d/%d\n",
			run.Clients, run.Single.PerS, run.Single.P50MS, run.Single.P99MS, run.Batch.PerS, run.Batch.P99MS,
			run.Hot.PerS, run.Hot.P50MS, run.Hot.P99MS, run.PgbenchTPS, run.SingleOverPg,
			run.Single.Errors, run.Batch.Errors, run.Hot.Errors)
		for name, s := range map[string]loadStat{"single": run.Single, "batch": run.Batch, "hot": run.Hot} {
			if s.Errors > 0 {
				fmt.Fprintf(w, "        %s errors %v, e.g. %s\n", name, s.Statuses, s.Sample)
			}
		}
	}
	if rep := r.Reports; rep != nil {
		if rep.Error != "" {
			fmt.Fprintf(w, "reports over %d lines: %s\n", rep.Lines, rep.Error)
			return
		}
		fmt.Fprintf(w, "reports over %d lines (built in %.0fs), min / median / max of %d runs, each after a post (no cache):\n", rep.Lines, rep.BuildS, r.Config.ReportRuns)
		fmt.Fprintf(w, "  trial balance    %7.1f / %7.1f / %7.1f ms\n", rep.TrialBalance.MinMS, rep.TrialBalance.MedianMS, rep.TrialBalance.MaxMS)
		fmt.Fprintf(w, "  profit and loss  %7.1f / %7.1f / %7.1f ms\n", rep.ProfitLoss.MinMS, rep.ProfitLoss.MedianMS, rep.ProfitLoss.MaxMS)
		fmt.Fprintf(w, "  trial balance, cached %7.1f / %7.1f / %7.1f ms\n", rep.TBCached.MinMS, rep.TBCached.MedianMS, rep.TBCached.MaxMS)
	}
}

func benchLedger(ctx context.Context, cfg ledgerBenchConfig, progress io.Writer) (ledgerBenchResult, error) {
	res := ledgerBenchResult{Version: buildVersion(), CPUs: runtime.NumCPU(), Config: cfg, Duration: cfg.Duration.String()}
	pgBin, err := appliance.FindPostgresBin("")
	if err != nil {
		return res, err
	}
	a, err := startBenchAppliance(ctx, progress)
	if err != nil {
		return res, err
	}
	defer a.stop()
	all, err := a.setUp(ctx, cfg.Companies, progress)
	if err != nil {
		return res, fmt.Errorf("set up: %w", err)
	}
	companies, reports := all[:cfg.Companies], all[cfg.Companies]
	if err := a.pgbenchInit(ctx, pgBin, cfg.PgbenchScale, progress); err != nil {
		return res, err
	}
	today := time.Now().UTC().Format(time.DateOnly)
	for _, n := range cfg.Clients {
		if err := a.relogin(ctx, companies); err != nil {
			return res, err
		}
		run := ledgerClientRun{Clients: n}
		fmt.Fprintf(progress, "%d clients: single posts\n", n)
		run.Single = a.load(ctx, n, cfg.Duration, 1, func(w int, rng *rand.Rand) (string, string, []byte) {
			c := companies[w%len(companies)]
			return c.path("/journal-entries"), c.token, c.entryJSON(rng, today, "")
		})
		fmt.Fprintf(progress, "%d clients: batches of %d\n", n, cfg.Batch)
		run.Batch = a.load(ctx, n, cfg.Duration, cfg.Batch, func(w int, rng *rand.Rand) (string, string, []byte) {
			c := companies[w%len(companies)]
			return c.path("/journal-entries/batch"), c.token, c.batchJSON(rng, cfg.Batch, func() string { return today })
		})
		fmt.Fprintf(progress, "%d clients: one hot account\n", n)
		hot := companies[0]
		ar := hot.byRole("ar")
		run.Hot = a.load(ctx, n, cfg.Duration, 1, func(w int, rng *rand.Rand) (string, string, []byte) {
			return hot.path("/journal-entries"), hot.token, hot.entryJSON(rng, today, ar)
		})
		fmt.Fprintf(progress, "%d clients: pgbench\n", n)
		run.PgbenchTPS, run.PgbenchCommand, err = a.pgbenchTPS(ctx, pgBin, n, cfg.Duration)
		if err != nil {
			return res, err
		}
		if run.PgbenchTPS > 0 {
			run.SingleOverPg = run.Single.PerS / run.PgbenchTPS
		}
		res.Runs = append(res.Runs, run)
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	if cfg.Lines > 0 {
		rep, err := a.reportTimes(ctx, cfg, reports, progress)
		if err != nil {
			return res, err
		}
		res.Reports = rep
	}
	return res, nil
}

func (c *benchCompany) path(p string) string { return "/api/v1/companies/" + c.ID + p }

// entryJSON is one posted entry of two lines; with hot set, its debit is
// always that account, as every M-Pesa receipt hits the same receivable.
func (c *benchCompany) entryJSON(rng *rand.Rand, date, hot string) []byte {
	b, _ := json.Marshal(c.entry(rng, date, hot))
	return b
}

func (c *benchCompany) entry(rng *rand.Rand, date, hot string) map[string]any {
	dr := hot
	if dr == "" {
		dr = c.accounts[rng.IntN(len(c.accounts))].Code
	}
	cr := c.accounts[rng.IntN(len(c.accounts))].Code
	for cr == dr {
		cr = c.accounts[rng.IntN(len(c.accounts))].Code
	}
	amount := fmt.Sprintf("%d.%02d", 1+rng.IntN(100000), rng.IntN(100))
	return map[string]any{
		"date": date, "description": "bench", "status": "posted",
		"lines": []map[string]string{{"account": dr, "debit": amount}, {"account": cr, "credit": amount}},
	}
}

func (c *benchCompany) batchJSON(rng *rand.Rand, n int, date func() string) []byte {
	entries := make([]map[string]any, n)
	for i := range entries {
		entries[i] = c.entry(rng, date(), "")
	}
	b, _ := json.Marshal(map[string]any{"entries": entries})
	return b
}

// load runs clients workers for d, each sending the request next makes as
// soon as its previous one is answered, and counts units per 2xx answer.
// Bodies are made before the clock starts for each request, so their
// JSON is not timed.
func (a *benchAppliance) load(ctx context.Context, clients int, d time.Duration, units int, next func(worker int, rng *rand.Rand) (path, token string, body []byte)) loadStat {
	type result struct {
		lat      []time.Duration
		ok, errs int
		statuses map[string]int
		sample   string
	}
	results := make([]result, clients)
	begin := time.Now()
	deadline := begin.Add(d)
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(begin.UnixNano())))
			r := &results[w]
			r.statuses = map[string]int{}
			for time.Now().Before(deadline) && ctx.Err() == nil {
				path, token, body := next(w, rng)
				t0 := time.Now()
				code, data, err := a.call(ctx, "POST", path, token, body)
				r.lat = append(r.lat, time.Since(t0))
				switch {
				case err != nil:
					r.errs++
					r.statuses["transport"]++
					r.sample = err.Error()
				case code/100 != 2:
					r.errs++
					r.statuses[strconv.Itoa(code)]++
					r.sample = fmt.Sprintf("%d %.300s", code, data)
				default:
					r.ok++
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	var s loadStat
	var lat []time.Duration
	s.Statuses = map[string]int{}
	for _, r := range results {
		lat = append(lat, r.lat...)
		s.Requests += len(r.lat)
		s.Units += r.ok * units
		s.Errors += r.errs
		for k, v := range r.statuses {
			s.Statuses[k] += v
		}
		if r.sample != "" {
			s.Sample = r.sample
		}
	}
	if len(s.Statuses) == 0 {
		s.Statuses = nil
	}
	s.PerS = float64(s.Units) / elapsed.Seconds()
	if len(lat) > 0 {
		slices.Sort(lat)
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		s.P50MS = ms(lat[len(lat)/2])
		s.P99MS = ms(lat[len(lat)*99/100])
		s.MaxMS = ms(lat[len(lat)-1])
	}
	return s
}

// reportTimes builds a company of its own with cfg.Lines lines (two per
// entry, dated over the last year so that the daily sums are a year
// deep), then times the trial balance and the P&L, each run after one
// more post so that the generation moves and no cache answers.
func (a *benchAppliance) reportTimes(ctx context.Context, cfg ledgerBenchConfig, c *benchCompany, progress io.Writer) (*ledgerReportTimes, error) {
	rep := &ledgerReportTimes{Lines: cfg.Lines}
	if err := a.relogin(ctx, []*benchCompany{c}); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	build, err := a.fillLines(ctx, c, cfg.Lines, cfg.Batch, progress)
	if err != nil {
		return nil, err
	}
	rep.BuildS = build.Seconds()
	if err := a.relogin(ctx, []*benchCompany{c}); err != nil {
		return nil, err
	}
	today := now.Format(time.DateOnly)
	yearAgo := now.AddDate(-1, 0, 0).Format(time.DateOnly)
	timed := func(path string) (time.Duration, error) {
		t0 := time.Now()
		code, data, err := a.call(ctx, "GET", c.path(path), c.token, nil)
		d := time.Since(t0)
		if err == nil && code != 200 {
			err = fmt.Errorf("GET %s: %d %.300s", path, code, data)
		}
		return d, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var tb, pl, cached []time.Duration
	for range cfg.ReportRuns {
		if err := a.must(ctx, "POST", c.path("/journal-entries"), c.token, c.entry(rng, today, ""), 201, nil); err != nil {
			return nil, err
		}
		d, err := timed("/reports/trial-balance?as_of=" + today)
		if err != nil {
			rep.Error = err.Error()
			return rep, nil
		}
		tb = append(tb, d)
		if d, err = timed("/reports/trial-balance?as_of=" + today); err != nil {
			rep.Error = err.Error()
			return rep, nil
		}
		cached = append(cached, d)
		if d, err = timed("/reports/profit-and-loss?from=" + yearAgo + "&to=" + today); err != nil {
			rep.Error = err.Error()
			return rep, nil
		}
		pl = append(pl, d)
	}
	rep.TrialBalance, rep.ProfitLoss, rep.TBCached = summarize(tb), summarize(pl), summarize(cached)
	return rep, nil
}

// fillLines posts about lines journal lines (two per entry, dated over
// the last year) into c, in batches from four workers, and returns how
// long it took.
func (a *benchAppliance) fillLines(ctx context.Context, c *benchCompany, lines, batch int, progress io.Writer) (time.Duration, error) {
	entries := (lines + 1) / 2
	batches := (entries + batch - 1) / batch
	now := time.Now().UTC()
	begin := time.Now()
	workers := 4
	jobs := make(chan int)
	var mu sync.Mutex
	var firstErr error
	done := 0
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for n := range jobs {
				size := min(batch, entries-n*batch)
				body := c.batchJSON(rng, size, func() string { return now.AddDate(0, 0, -rng.IntN(365)).Format(time.DateOnly) })
				code, data, err := a.call(ctx, "POST", c.path("/journal-entries/batch"), c.token, body)
				mu.Lock()
				if err == nil && code != 201 {
					err = fmt.Errorf("batch: %d %.300s", code, data)
				}
				if err != nil && firstErr == nil {
					firstErr = err
				}
				done++
				if done%50 == 0 {
					fmt.Fprintf(progress, "lines:  %d/%d batches\n", done, batches)
				}
				mu.Unlock()
			}
		}()
	}
	for n := range batches {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed || ctx.Err() != nil {
			break
		}
		jobs <- n
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return 0, fmt.Errorf("building %d lines: %w", lines, firstErr)
	}
	return time.Since(begin), nil
}
