package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"syscall"

	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/interchange"
	"github.com/vanta-ledger/vanta/internal/statements"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

const ledgerUsage = `usage: vanta ledger <command> [flags] FILE

commands:
  import --company ID [--format journal|csv] FILE
        posts FILE (an hledger or ledger-cli journal, or with --format csv a
        bank or M-Pesa statement) into the company, all in one transaction:
        a refusal anywhere names its line and changes nothing. FILE "-" is
        standard input. Progress goes to standard error.
        csv flags: --preset mpesa|bank, --mapping field:Column,…,
        --account CODE, --date-format LAYOUT
  export --company ID [--format journal|csv] [FILE]
        writes the company's posted books to FILE (standard output when
        absent or "-"): a journal hledger and ledger-cli read, or CSV

Every command takes --data DIR (env VANTA_DATA, default /var/lib/vanta) and
--json (import: print the finished import as JSON). It reads
DIR/secrets/postgres-superuser and connects to the appliance's PostgreSQL on
DIR/run/postgres, so 'vanta init' must be running; the seal does not matter.
Entries are recorded as made by operator:<your user name>.
`

func cmdLedger(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, ledgerUsage)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "import", "export":
	case "help", "-h", "--help":
		fmt.Print(ledgerUsage)
		return exitOK
	default:
		fmt.Fprintf(os.Stderr, "vanta ledger: unknown command %q\n\n%s", sub, ledgerUsage)
		return exitUsage
	}
	name := "vanta ledger " + sub
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	dataDir := appliance.Defaults().DataDir
	if v := os.Getenv("VANTA_DATA"); v != "" {
		dataDir = v
	}
	fs.StringVar(&dataDir, "data", dataDir, "data directory of the appliance (env VANTA_DATA)")
	companyFlag := fs.String("company", "", "the company's id (required)")
	format := fs.String("format", interchange.FormatJournal, "journal or csv")
	asJSON := fs.Bool("json", false, "print the finished import as JSON")
	preset := fs.String("preset", "", "csv import: mpesa or bank")
	mapping := fs.String("mapping", "", "csv import: field:Column,…")
	account := fs.String("account", "", "csv import: the statement's account code")
	dateFormat := fs.String("date-format", "", "csv import: a Go date layout")
	// Flags may follow FILE too: parse what comes before it, then after.
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK
			}
			return exitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	company, err := uuid.Parse(*companyFlag)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: --company must be a company id (a UUID), not %q\n", name, *companyFlag)
		return exitUsage
	}
	if *format != interchange.FormatJournal && *format != interchange.FormatCSV {
		fmt.Fprintf(os.Stderr, "%s: --format must be journal or csv, not %q\n", name, *format)
		return exitUsage
	}
	if len(files) > 1 || sub == "import" && len(files) == 0 {
		fmt.Fprintf(os.Stderr, "%s: give one FILE (\"-\" for standard %s)\n", name, map[string]string{"import": "input", "export": "output"}[sub])
		return exitUsage
	}
	file := "-"
	if len(files) == 1 {
		file = files[0]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if sub == "export" {
		return ledgerExport(ctx, name, dataDir, company, *format, file)
	}
	var csvOpts statements.Options
	if *format == interchange.FormatCSV {
		if csvOpts, err = statements.ParseOptions(*preset, *mapping, *account, *dateFormat); err != nil {
			var oe *statements.OptionError
			if errors.As(err, &oe) {
				flagName := oe.Field
				if flagName == "date_format" {
					flagName = "date-format"
				}
				fmt.Fprintf(os.Stderr, "%s: --%s: %s\n", name, flagName, oe.Message)
			} else {
				fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			}
			return exitUsage
		}
	}
	var data []byte
	if file == "-" {
		data, err = io.ReadAll(io.LimitReader(os.Stdin, interchange.MaxImportBytes+1))
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: read %s: %v\n", name, file, err)
		return exitFailure
	}
	if len(data) > interchange.MaxImportBytes {
		fmt.Fprintf(os.Stderr, "%s: %s is larger than %d bytes\n", name, file, interchange.MaxImportBytes)
		return exitFailure
	}
	return ledgerImport(ctx, name, dataDir, company, interchange.Request{Format: *format, Data: data, CSV: csvOpts, By: operatorActor()}, file, *asJSON)
}

// operatorActor is who an operator's import is recorded as.
func operatorActor() tenancy.Actor {
	who := "unknown"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	return tenancy.Actor{UserID: "operator:" + who, Role: "operator"}
}

// operatorRunner opens the two connections an import needs (its
// transaction, and the status row's writes outside it) and the company's
// scope.
func operatorRunner(ctx context.Context, name, dataDir string, company uuid.UUID) (interchange.Runner, func(), int) {
	fail := func(err error) (interchange.Runner, func(), int) {
		hint := ""
		if errors.Is(err, appliance.ErrDataDir) {
			hint = " (set --data DIR or VANTA_DATA to the appliance's data directory)"
		}
		if errors.Is(err, tenancy.ErrCompanyNotFound) {
			hint = " (--company: no active company has this id; `vanta migrate status` lists them)"
		}
		fmt.Fprintf(os.Stderr, "%s: %v%s\n", name, err, hint)
		return interchange.Runner{}, nil, exitFailure
	}
	main, err := appliance.ConnectSuperuser(ctx, dataDir)
	if err != nil {
		return fail(err)
	}
	status, err := appliance.ConnectSuperuser(ctx, dataDir)
	if err != nil {
		_ = main.Close(ctx)
		return fail(err)
	}
	closeAll := func() {
		_ = main.Close(context.WithoutCancel(ctx))
		_ = status.Close(context.WithoutCancel(ctx))
	}
	scope, err := tenancy.OperatorScope(ctx, main, company)
	if err != nil {
		closeAll()
		return fail(err)
	}
	return interchange.Runner{DB: main, Status: status, Scope: scope}, closeAll, exitOK
}

func ledgerExport(ctx context.Context, name, dataDir string, company uuid.UUID, format, file string) int {
	r, closeAll, code := operatorRunner(ctx, name, dataDir, company)
	if code != exitOK {
		return code
	}
	defer closeAll()
	var b bytes.Buffer
	if err := r.Export(ctx, format, &b); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return exitFailure
	}
	var err error
	if file == "-" {
		_, err = os.Stdout.Write(b.Bytes())
	} else {
		err = os.WriteFile(file, b.Bytes(), 0o600)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: write %s: %v\n", name, file, err)
		return exitFailure
	}
	return exitOK
}

func ledgerImport(ctx context.Context, name, dataDir string, company uuid.UUID, req interchange.Request, file string, asJSON bool) int {
	r, closeAll, code := operatorRunner(ctx, name, dataDir, company)
	if code != exitOK {
		return code
	}
	defer closeAll()
	im, err := r.Run(ctx, req, func(id uuid.UUID, err error) {
		if err == nil {
			fmt.Fprintf(os.Stderr, "%s: import %s of %s started\n", name, id, file)
		}
	}, func(done, total int) {
		fmt.Fprintf(os.Stderr, "%s: %d/%d entries\n", name, done, total)
	})
	if asJSON && im.ID != uuid.Nil {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{"id": im.ID, "format": im.Format, "status": im.Status,
			"progress": map[string]int{"done": im.Done, "total": im.Total}, "errors": im.Errors, "entries": im.Entries})
	}
	if err != nil {
		if len(im.Errors) > 0 {
			for _, e := range im.Errors {
				if e.Line > 0 {
					fmt.Fprintf(os.Stderr, "%s: %s:%d: %s\n", name, file, e.Line, e.Message)
				} else {
					fmt.Fprintf(os.Stderr, "%s: %s: %s\n", name, file, e.Message)
				}
			}
			fmt.Fprintf(os.Stderr, "%s: nothing was imported\n", name)
		} else {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		}
		return exitFailure
	}
	fmt.Fprintf(os.Stderr, "%s: %d entries posted\n", name, im.Entries)
	return exitOK
}
