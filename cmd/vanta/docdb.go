package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/vanta-ledger/vanta/internal/docdb"
)

func cmdDocDB(args []string) int {
	fs := flag.NewFlagSet("vanta docdb", flag.ContinueOnError)
	var cfg docdb.Config
	fs.StringVar(&cfg.Dir, "data", "", "directory for the SQLite databases (required)")
	fs.StringVar(&cfg.Socket, "socket", "", "unix socket to listen on")
	fs.StringVar(&cfg.TCP, "tcp", "", "host:port to listen on as well (loopback only, please)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	// SIGHUP means "reload" to a supervised service; we have nothing to
	// reload, and must not die of it.
	signal.Ignore(syscall.SIGHUP)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := docdb.Run(ctx, cfg); err != nil {
		fmt.Fprintf(os.Stderr, "vanta docdb: %v\n", err)
		return exitFailure
	}
	return exitOK
}
