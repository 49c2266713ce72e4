package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/vanta-ledger/vanta/appliance"
)

const migrateUsage = `usage: vanta migrate <command> [flags]

commands:
  status [--json]   the system line's version and head, and every active or
                    provisioning company's, and whether all are at head

Every command takes --data DIR (env VANTA_DATA, default /var/lib/vanta). It
reads DIR/secrets/postgres-superuser and connects to the appliance's
PostgreSQL on DIR/run/postgres, so 'vanta init' must be running; it changes
nothing. Boot applies migrations ('vanta init'); there is no command to.
`

func cmdMigrate(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, migrateUsage)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "status":
	case "help", "-h", "--help":
		fmt.Print(migrateUsage)
		return exitOK
	default:
		fmt.Fprintf(os.Stderr, "vanta migrate: unknown command %q\n\n%s", sub, migrateUsage)
		return exitUsage
	}
	fs := flag.NewFlagSet("vanta migrate status", flag.ContinueOnError)
	dataDir := appliance.Defaults().DataDir
	if v := os.Getenv("VANTA_DATA"); v != "" {
		dataDir = v
	}
	fs.StringVar(&dataDir, "data", dataDir, "data directory of the appliance (env VANTA_DATA)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "vanta migrate status: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := appliance.MigrationStatus(ctx, dataDir)
	if err != nil {
		hint := ""
		if errors.Is(err, appliance.ErrDataDir) {
			hint = " (set --data DIR or VANTA_DATA to the appliance's data directory)"
		}
		fmt.Fprintf(os.Stderr, "vanta migrate status: %v%s\n", err, hint)
		return exitFailure
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
		return exitOK
	}
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "NO"
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "LINE\tCOMPANY\tNAME\tSTATUS\tVERSION\tHEAD\tAT HEAD")
	fmt.Fprintf(w, "system\t-\t-\t-\t%d\t%d\t%s\n", rep.System.Version, rep.System.Head, yes(rep.System.AtHead))
	for _, c := range rep.Companies {
		fmt.Fprintf(w, "company\t%s\t%s\t%s\t%d\t%d\t%s\n", c.ID, c.Name, c.Status, c.Version, c.Head, yes(c.AtHead))
	}
	_ = w.Flush()
	fmt.Printf("\n%d companies; all at head: %s\n", len(rep.Companies), yes(rep.AllAtHead))
	return exitOK
}
