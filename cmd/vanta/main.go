// Command vanta is the whole appliance in one binary: `vanta init` is PID 1
// of the container, `vanta ctl` talks to it, `vanta docdb` is the embedded
// document store it supervises.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes shared by the subcommands.
const (
	exitOK      = 0
	exitFailure = 1 // runtime failure, or an unclean stop
	exitUsage   = 2 // bad flags or configuration: nothing was started
	exitFatal   = 3 // a critical service gave up
)

const usage = `usage: vanta <command> [flags]

commands:
  init      run the appliance: supervise services, serve the API (PID 1)
  ctl       inspect and control a running init: status, restart, logs, events
  operator  the seal: init, confirm, unseal, seal, seal-status, rekey, rotate
  migrate   schema migrations: status of the system line and every company
  ledger    a company's books: import and export (hledger/ledger-cli journals, CSV)
  docdb     run the embedded MongoDB-protocol document store
  bench     measure the appliance (bench boot)
  company   move one company: export to a bundle, import from one
  backup    backup sets: now, list, verify (over the control socket)
  restore   restore a backup set, with the appliance stopped
  version   print the version

Run 'vanta <command> -h' for a command's flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(exitUsage)
	}
	cmd, args := os.Args[1], os.Args[2:]
	var code int
	switch cmd {
	case "init":
		code = cmdInit(args)
	case "ctl":
		code = cmdCtl(args)
	case "operator":
		code = cmdOperator(args)
	case "migrate":
		code = cmdMigrate(args)
	case "docdb":
		code = cmdDocDB(args)
	case "ledger":
		code = cmdLedger(args)
	case "bench":
		code = cmdBench(args)
	case "company":
		code = cmdCompany(args)
	case "backup":
		code = cmdBackup(args)
	case "restore":
		code = cmdRestore(args)
	case "version", "-version", "--version":
		fmt.Printf("vanta %s (%s, %s/%s)\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "vanta: unknown command %q\n\n%s", cmd, usage)
		code = exitUsage
	}
	os.Exit(code)
}

func buildVersion() string {
	if version != "dev" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return version
}
