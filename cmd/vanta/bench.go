package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/vanta-ledger/vanta/appliance"
)

const benchUsage = `usage: vanta bench boot [--runs N] [--json]
       vanta bench ledger [--clients 1,8,32,64] [--duration 10s] [--json] (--help for all)
       vanta bench extract --data FILE [--engine rules|llm] [--split train|holdout|all] [--json]
       vanta bench documents [--data DIR] [--count N] [--json] (--help for all)
       vanta bench backup [--lines 1000000] [--json]

backup a full backup set of a company of --lines journal lines, its
       restore onto a fresh data directory and that one's boot
boot   cold first boot, warm boot to ready and shutdown of 'vanta init',
       beside PostgreSQL and Redis started bare in the same data directory
ledger posting, batches, a hot account and reports through the API of a
       throwaway appliance, beside pgbench on the same PostgreSQL
extract field extraction's precision, recall and F1 per field on labelled
       receipts (SROIE format)
documents
       documents per minute through the whole pipeline of a throwaway
       appliance, beside bare tesseract on the same files
`

func cmdBench(args []string) int {
	if len(args) > 0 && args[0] == "ledger" {
		return cmdBenchLedger(args[1:])
	}
	if len(args) > 0 && args[0] == "extract" {
		return cmdBenchExtract(args[1:])
	}
	if len(args) > 0 && args[0] == "backup" {
		return cmdBenchBackup(args[1:])
	}
	if len(args) > 0 && args[0] == "documents" {
		return cmdBenchDocuments(args[1:])
	}
	if len(args) == 0 || args[0] != "boot" {
		fmt.Fprint(os.Stderr, benchUsage)
		return exitUsage
	}
	fs := flag.NewFlagSet("vanta bench boot", flag.ContinueOnError)
	runs := fs.Int("runs", 5, "number of runs")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *runs < 1 {
		fmt.Fprintln(os.Stderr, "vanta bench boot: --runs must be at least 1")
		return exitUsage
	}
	res, err := benchBoot(*runs, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vanta bench boot: %v\n", err)
		return exitFailure
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
	} else {
		res.print(os.Stdout)
	}
	return exitOK
}

// stat is min, median and max over the runs, in milliseconds.
type stat struct {
	MinMS    float64 `json:"min_ms"`
	MedianMS float64 `json:"median_ms"`
	MaxMS    float64 `json:"max_ms"`
}

func summarize(ds []time.Duration) stat {
	s := slices.Clone(ds)
	slices.Sort(s)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return stat{MinMS: ms(s[0]), MedianMS: ms(s[len(s)/2]), MaxMS: ms(s[len(s)-1])}
}

type bootResult struct {
	Runs       int     `json:"runs"`
	CPUs       int     `json:"cpus"`
	Version    string  `json:"version"`
	Cold       stat    `json:"cold_boot"`
	Warm       stat    `json:"warm_boot"`
	Shutdown   stat    `json:"shutdown"`
	Bare       stat    `json:"bare_postgres_redis"`
	PgCtl      stat    `json:"pg_ctl_start"`
	Redis      stat    `json:"redis_server_start"`
	WarmOnBare float64 `json:"warm_over_bare"`
}

func (r bootResult) print(w io.Writer) {
	fmt.Fprintf(w, "vanta %s, %d runs, %d CPUs\n", r.Version, r.Runs, r.CPUs)
	fmt.Fprintf(w, "%-44s %9s %9s %9s\n", "", "min", "median", "max")
	row := func(name string, s stat) {
		fmt.Fprintf(w, "%-44s %7.0fms %7.0fms %7.0fms\n", name, s.MinMS, s.MedianMS, s.MaxMS)
	}
	row("cold first boot to ready (initdb included)", r.Cold)
	row("warm boot to ready", r.Warm)
	row("shutdown, SIGTERM to exit", r.Shutdown)
	row("bare postgres + redis-server, in parallel", r.Bare)
	row("bare pg_ctl start -w", r.PgCtl)
	row("bare redis-server", r.Redis)
	fmt.Fprintf(w, "warm boot / bare services (medians): %.2fx\n", r.WarmOnBare)
}

func benchBoot(runs int, progress io.Writer) (bootResult, error) {
	self, err := os.Executable()
	if err != nil {
		return bootResult{}, err
	}
	pgBin, err := appliance.FindPostgresBin("")
	if err != nil {
		return bootResult{}, err
	}
	var cold, warm, shutdown, bare, pgctl, redisStart []time.Duration
	for i := range runs {
		fmt.Fprintf(progress, "run %d/%d\n", i+1, runs)
		dir, err := os.MkdirTemp("", "vanta-bench-")
		if err != nil {
			return bootResult{}, err
		}
		if err := os.Chmod(dir, 0o711); err != nil {
			return bootResult{}, err
		}
		err = func() error {
			defer os.RemoveAll(dir)
			up, down, err := timeBoot(self, dir)
			if err != nil {
				return fmt.Errorf("cold boot: %w", err)
			}
			cold, shutdown = append(cold, up), append(shutdown, down)
			up, down, err = timeBoot(self, dir)
			if err != nil {
				return fmt.Errorf("warm boot: %w", err)
			}
			warm, shutdown = append(warm, up), append(shutdown, down)
			b, p, r, err := timeBare(pgBin, dir)
			if err != nil {
				return fmt.Errorf("bare services: %w", err)
			}
			bare, pgctl, redisStart = append(bare, b), append(pgctl, p), append(redisStart, r)
			return nil
		}()
		if err != nil {
			return bootResult{}, err
		}
	}
	res := bootResult{
		Runs: runs, CPUs: runtime.NumCPU(), Version: buildVersion(),
		Cold: summarize(cold), Warm: summarize(warm), Shutdown: summarize(shutdown),
		Bare: summarize(bare), PgCtl: summarize(pgctl), Redis: summarize(redisStart),
	}
	res.WarmOnBare = res.Warm.MedianMS / res.Bare.MedianMS
	return res, nil
}

// timeBoot runs `vanta init` until it logs that every service is healthy
// (it stays sealed: unsealing waits on people), then stops it.
func timeBoot(self, dir string) (up, down time.Duration, err error) {
	cmd := exec.Command(self, "init", "--data", dir, "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "VANTA_CONFIG=/dev/null")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct{ Msg string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "services healthy" {
			up = time.Since(begin)
			break
		}
	}
	if up == 0 {
		_ = cmd.Wait()
		return 0, 0, fmt.Errorf("vanta init exited before its services were healthy")
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	stopAt := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, 0, err
	}
	if err := cmd.Wait(); err != nil {
		return 0, 0, fmt.Errorf("vanta init exit: %w", err)
	}
	return up, time.Since(stopAt), nil
}

// timeBare starts the same PostgreSQL cluster and Redis config without the
// appliance, each polled every millisecond with the checks vanta uses, then
// pg_ctl start -w and redis-server alone for reference.
func timeBare(pgBin, dir string) (parallel, pgctl, redisUp time.Duration, err error) {
	pgCred, err := credential("postgres")
	if err != nil {
		return 0, 0, 0, err
	}
	redisCred, _ := credential("redis")
	pgdata := filepath.Join(dir, "postgres")
	pgPass, err := os.ReadFile(filepath.Join(dir, "secrets", "postgres-app"))
	if err != nil {
		return 0, 0, 0, err
	}
	redisPass, err := os.ReadFile(filepath.Join(dir, "secrets", "redis"))
	if err != nil {
		return 0, 0, 0, err
	}
	q := url.Values{"host": {filepath.Join(dir, "run", "postgres")}, "sslmode": {"disable"}}
	dsn := (&url.URL{Scheme: "postgres", User: url.UserPassword("vanta_app", strings.TrimSpace(string(pgPass))), Path: "/vanta", RawQuery: q.Encode()}).String()
	pgReady := func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return false
		}
		defer conn.Close(ctx)
		var db string
		return conn.QueryRow(ctx, "SELECT current_database()").Scan(&db) == nil
	}
	redisReady := func() bool {
		c := redis.NewClient(&redis.Options{Network: "unix", Addr: filepath.Join(dir, "run", "redis", "redis.sock"), Username: "vanta", Password: strings.TrimSpace(string(redisPass)), MaxRetries: -1, DialerRetries: 1})
		defer c.Close()
		info, err := c.Info(context.Background(), "persistence").Result()
		return err == nil && strings.Contains(info, "loading:0")
	}
	start := func(cred *syscall.Credential, path string, args ...string) (*exec.Cmd, error) {
		cmd := exec.Command(path, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
		return cmd, cmd.Start()
	}
	waitUntil := func(ready func() bool) time.Duration {
		begin := time.Now()
		for !ready() {
			time.Sleep(time.Millisecond) // the baseline's own polling, not a test
		}
		return time.Since(begin)
	}
	stop := func(cmd *exec.Cmd, sig syscall.Signal) {
		_ = cmd.Process.Signal(sig)
		_ = cmd.Wait()
	}

	// Both at once, as vanta init starts them.
	begin := time.Now()
	pg, err := start(pgCred, filepath.Join(pgBin, "postgres"), "-D", pgdata)
	if err != nil {
		return 0, 0, 0, err
	}
	rd, err := start(redisCred, "redis-server", filepath.Join(dir, "redis", "redis.conf"))
	if err != nil {
		stop(pg, syscall.SIGINT)
		return 0, 0, 0, err
	}
	waitUntil(pgReady)
	waitUntil(redisReady)
	parallel = time.Since(begin)
	stop(pg, syscall.SIGINT)
	stop(rd, syscall.SIGTERM)

	begin = time.Now()
	ctl := exec.Command(filepath.Join(pgBin, "pg_ctl"), "start", "-w", "-D", pgdata, "-l", filepath.Join(dir, "run", "postgres", "pg_ctl.log"))
	ctl.SysProcAttr = &syscall.SysProcAttr{Credential: pgCred}
	if out, err := ctl.CombinedOutput(); err != nil {
		return 0, 0, 0, fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
	pgctl = time.Since(begin)
	stopCtl := exec.Command(filepath.Join(pgBin, "pg_ctl"), "stop", "-m", "fast", "-w", "-D", pgdata)
	stopCtl.SysProcAttr = &syscall.SysProcAttr{Credential: pgCred}
	if out, err := stopCtl.CombinedOutput(); err != nil {
		return 0, 0, 0, fmt.Errorf("pg_ctl stop: %v: %s", err, out)
	}

	begin = time.Now()
	rd, err = start(redisCred, "redis-server", filepath.Join(dir, "redis", "redis.conf"))
	if err != nil {
		return 0, 0, 0, err
	}
	waitUntil(redisReady)
	redisUp = time.Since(begin)
	stop(rd, syscall.SIGTERM)
	return parallel, pgctl, redisUp, nil
}

// credential returns the credential of a system user, or nil when we are
// not root (then everything runs as ourselves).
func credential(name string) (*syscall.Credential, error) {
	if os.Getuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}
