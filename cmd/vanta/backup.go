package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"filippo.io/age"
	"golang.org/x/term"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/backup"
)

const backupUsage = `usage: vanta backup <command> [flags]

commands:
  now [--kind full|diff|incr] [--json]   make a backup set now (default full)
  list [--json]                           the sets in the backup directory
  verify [ID] [--json]                    check a set (default the newest): digests,
                                          decryption, pgbackrest verify

Every command takes --data DIR (env VANTA_DATA, default /var/lib/vanta) and
talks to the running 'vanta init' over DIR/run/vanta.sock. To restore, stop
the appliance and run 'vanta restore'.
`

func cmdBackup(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, backupUsage)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("vanta backup "+sub, flag.ContinueOnError)
	dataDir := defaultDataDir()
	fs.StringVar(&dataDir, "data", dataDir, "data directory of the running init (env VANTA_DATA)")
	asJSON := fs.Bool("json", false, "print JSON (now: the progress lines as they come)")
	var kind *string
	switch sub {
	case "now":
		kind = fs.String("kind", "full", "full, diff or incr")
	case "list", "verify":
	case "help", "-h", "--help":
		fmt.Print(backupUsage)
		return exitOK
	default:
		fmt.Fprintf(os.Stderr, "vanta backup: unknown command %q\n\n%s", sub, backupUsage)
		return exitUsage
	}
	if err := parseInterspersed(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	c := newCtlClient(dataDir)
	switch sub {
	case "now":
		if _, err := backup.ParseKind(*kind); err != nil {
			fmt.Fprintf(os.Stderr, "vanta backup now: %v\n", err)
			return exitUsage
		}
		return backupNow(c, *kind, *asJSON)
	case "list":
		return backupList(c, *asJSON)
	default:
		id := fs.Arg(0)
		return backupVerify(c, id, *asJSON)
	}
}

func defaultDataDir() string {
	if v := os.Getenv("VANTA_DATA"); v != "" {
		return v
	}
	return appliance.Defaults().DataDir
}

// progressBar draws "phase part [#####-----] 3/8" on a terminal.
type progressBar struct {
	w   io.Writer
	tty bool
}

func newProgressBar(w *os.File) *progressBar {
	return &progressBar{w: w, tty: term.IsTerminal(int(w.Fd()))}
}

func (b *progressBar) show(p backup.Progress) {
	if !b.tty || p.Steps == 0 {
		return
	}
	const width = 30
	n := width * p.Step / p.Steps
	what := p.Phase
	if p.Part != "" && p.Part != p.Phase {
		what += " " + p.Part
	}
	fmt.Fprintf(b.w, "\r[%s%s] %d/%d %-24s", strings.Repeat("#", n), strings.Repeat("-", width-n), p.Step, p.Steps, what)
	if p.Phase == "done" {
		fmt.Fprintln(b.w)
	}
}

func backupNow(c *ctlClient, kind string, asJSON bool) int {
	resp, err := c.do(http.MethodPost, "/v1/backups?kind="+url.QueryEscape(kind))
	if err != nil {
		fmt.Fprintf(os.Stderr, "vanta backup now: %v\n", err)
		return exitFailure
	}
	defer resp.Body.Close()
	bar := newProgressBar(os.Stderr)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if asJSON {
			fmt.Println(sc.Text())
		}
		var line struct {
			Progress *backup.Progress `json:"progress"`
			Set      *backup.Manifest `json:"set"`
			Error    *struct{ Message string }
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			fmt.Fprintf(os.Stderr, "vanta backup now: bad line from init: %v\n", err)
			return exitFailure
		}
		switch {
		case line.Progress != nil && !asJSON:
			bar.show(*line.Progress)
		case line.Error != nil:
			if !asJSON {
				fmt.Fprintf(os.Stderr, "\nvanta backup now: %s\n", line.Error.Message)
			}
			return exitFailure
		case line.Set != nil:
			if !asJSON {
				fmt.Printf("backup set %s (%s): %s in %s\n", line.Set.ID, line.Set.Kind, humanBytes(line.Set.TotalSize()), line.Set.Time.Sub(line.Set.Started).Round(time.Millisecond))
			}
			return exitOK
		}
	}
	fmt.Fprintf(os.Stderr, "vanta backup now: the connection ended before the set was complete: %v\n", sc.Err())
	return exitFailure
}

func backupList(c *ctlClient, asJSON bool) int {
	var body struct {
		Dir  string            `json:"dir"`
		Sets []backup.Manifest `json:"sets"`
	}
	if err := c.getJSON("/v1/backups", &body); err != nil {
		fmt.Fprintf(os.Stderr, "vanta backup list: %v\n", err)
		return exitFailure
	}
	if asJSON {
		_ = json.NewEncoder(os.Stdout).Encode(body)
		return exitOK
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tTIME\tSIZE\tPOSTGRES")
	for _, m := range body.Sets {
		pg := "-"
		if m.Postgres != nil {
			pg = m.Postgres.Label
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.ID, m.Kind, m.Time.Format(time.RFC3339), humanBytes(m.TotalSize()), pg)
	}
	tw.Flush()
	fmt.Printf("in %s\n", body.Dir)
	return exitOK
}

func backupVerify(c *ctlClient, id string, asJSON bool) int {
	if id == "" {
		var body struct {
			Sets []backup.Manifest `json:"sets"`
		}
		if err := c.getJSON("/v1/backups", &body); err != nil {
			fmt.Fprintf(os.Stderr, "vanta backup verify: %v\n", err)
			return exitFailure
		}
		if len(body.Sets) == 0 {
			fmt.Fprintln(os.Stderr, "vanta backup verify: there are no backup sets")
			return exitFailure
		}
		id = body.Sets[len(body.Sets)-1].ID
	}
	resp, err := c.do(http.MethodPost, "/v1/backups/"+url.PathEscape(id)+"/verify")
	if err != nil {
		fmt.Fprintf(os.Stderr, "vanta backup verify %s: %v\n", id, err)
		return exitFailure
	}
	defer resp.Body.Close()
	var rep backup.VerifyReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		fmt.Fprintf(os.Stderr, "vanta backup verify: %v\n", err)
		return exitFailure
	}
	if asJSON {
		_ = json.NewEncoder(os.Stdout).Encode(rep)
		return exitOK
	}
	fmt.Printf("set %s: %d parts match the manifest; decrypted: %v; pgbackrest verify: %v\n", rep.ID, rep.Parts, rep.Decrypted, rep.Postgres)
	for _, n := range rep.Notes {
		fmt.Printf("note: %s\n", n)
	}
	return exitOK
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

const restoreUsage = `usage: vanta restore [flags]

Restores a backup set onto a data directory, with the appliance STOPPED:
the document store, company files, seal, audit checkpoints, secrets and
TLS from the set, and PostgreSQL by pgBackRest, to --to TIME when given
(point-in-time recovery) or else to the end of the set's backup. The next
'vanta init' boots sealed and opens with the same custodians' shares.

flags:
`

func cmdRestore(args []string) int {
	fs := flag.NewFlagSet("vanta restore", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), restoreUsage); fs.PrintDefaults() }
	dataDir := defaultDataDir()
	fs.StringVar(&dataDir, "data", dataDir, "data directory to restore onto, existing or new (env VANTA_DATA)")
	from := fs.String("from", "", "backup directory (default DATA/backups)")
	setID := fs.String("set", "", "the set to restore, by id (vanta backup list)")
	to := fs.String("to", "", "restore to this time (RFC 3339, e.g. 2026-12-02T01:30:00Z): the newest set completed at or before it, PostgreSQL to the time itself")
	identity := fs.String("identity", "", "age identity file that opens the set (default DATA/secrets/backup-identity.age)")
	asJSON := fs.Bool("json", false, "print progress and the result as JSON lines")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "vanta restore: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	var target time.Time
	if *to != "" {
		var err error
		if target, err = time.Parse(time.RFC3339Nano, *to); err != nil {
			fmt.Fprintf(os.Stderr, "vanta restore: --to %q: want RFC 3339, e.g. 2026-12-02T01:30:00Z\n", *to)
			return exitUsage
		}
		if *setID != "" {
			fmt.Fprintln(os.Stderr, "vanta restore: give --set or --to, not both")
			return exitUsage
		}
	}
	if *from == "" {
		*from = filepath.Join(dataDir, "backups")
	}
	idFile := *identity
	if idFile == "" {
		idFile = backup.IdentityFile(dataDir)
	}
	ids, err := backup.LoadIdentities(idFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vanta restore: %v (on a new machine pass --identity FILE)\n", err)
		return exitUsage
	}
	code := restore(dataDir, *from, *setID, target, ids, *asJSON)
	return code
}

func restore(dataDir, from, setID string, target time.Time, ids []age.Identity, asJSON bool) int {
	fail := func(err error) int {
		if asJSON {
			_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"error": map[string]string{"message": err.Error()}})
		} else {
			fmt.Fprintf(os.Stderr, "\nvanta restore: %v\n", err)
		}
		return exitFailure
	}
	unlock, err := appliance.LockDataDir(dataDir)
	if err != nil {
		return fail(err)
	}
	defer unlock()
	cfg := appliance.Defaults()
	cfg.DataDir = dataDir
	pg, uid, gid, err := appliance.RestorePostgres(cfg, from)
	if err != nil {
		return fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	bar := newProgressBar(os.Stderr)
	enc := json.NewEncoder(os.Stdout)
	started := time.Now()
	m, err := backup.Restore(ctx, backup.RestoreOptions{
		DataDir: dataDir, From: from, SetID: setID, To: target, Identities: ids,
		PG: pg, PGUID: uid, PGGID: gid,
		Progress: func(p backup.Progress) {
			if asJSON {
				_ = enc.Encode(map[string]any{"progress": p})
				return
			}
			bar.show(p)
		},
	})
	if err != nil {
		return fail(err)
	}
	took := time.Since(started)
	if asJSON {
		_ = enc.Encode(map[string]any{"restored": m, "to": target, "seconds": took.Seconds()})
		return exitOK
	}
	fmt.Printf("restored set %s (%s, %s)", m.ID, m.Kind, m.Time.Format(time.RFC3339))
	if !target.IsZero() {
		fmt.Printf(", PostgreSQL to %s", target.UTC().Format(time.RFC3339Nano))
	}
	fmt.Printf(" in %s; start the appliance: it boots sealed\n", took.Round(time.Millisecond))
	return exitOK
}
