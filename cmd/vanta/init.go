package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/api"
	"github.com/vanta-ledger/vanta/internal/backup"
	"github.com/vanta-ledger/vanta/internal/extract"
	"github.com/vanta-ledger/vanta/internal/quota"
	"github.com/vanta-ledger/vanta/internal/web"
	"github.com/vanta-ledger/vanta/supervisor"
)

func cmdInit(args []string) int {
	cfg, err := loadConfig(args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "vanta init: %v\n", err)
		return exitUsage
	}
	if err := appliance.BecomeInit(); err != nil {
		fmt.Fprintf(os.Stderr, "vanta init: %v\n", err)
		return exitFailure
	}
	out := os.Stdout
	reaper, err := supervisor.NewReaper(func(pid int, st supervisor.ExitStatus) {
		slog.New(slog.NewJSONHandler(out, nil)).Debug("reaped orphan", "pid", pid, "exit", st.String())
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "vanta init: %v\n", err)
		return exitFailure
	}
	go reaper.Run(context.Background())
	// The document pipeline's tools are children too: the reaper starts them.
	extract.Runner = reaperRunner(reaper)
	backup.DefaultRunner = backupRunner(reaper) // pgbackrest, as PostgreSQL's account

	app, err := appliance.Prepare(cfg, reaper, out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vanta init: invalid configuration:\n%v\n", err)
		return exitUsage
	}
	err = app.Run(context.Background(), reaper, func(a *appliance.Appliance) http.Handler {
		return api.NewRouter(apiDeps(cfg, a))
	})
	var fatal *supervisor.FatalError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &fatal):
		fmt.Fprintf(os.Stderr, "vanta init: %v\n", err)
		return exitFatal
	default:
		fmt.Fprintf(os.Stderr, "vanta init: %v\n", err)
		return exitFailure
	}
}

// apiDeps wires the API: its settings come from the configuration's
// sections, its collaborators from the running appliance.
func apiDeps(cfg appliance.Config, a *appliance.Appliance) api.Deps {
	q := cfg.QuotaConfig
	return api.Deps{
		Appliance: a, Seal: a.Seal(), Logger: a.Logger(), Pages: web.Handler(), SetupGate: a.SetupGate(),
		Background:     a.Background(),
		TrustedProxies: cfg.TrustedProxies, GODAllow: cfg.GODNetworks(), PublicURL: cfg.PublicURL,
		Quotas: api.Quotas{UserPerMinute: q.QuotaUserRPM, CompanyPerMinute: q.QuotaCompanyRPM,
			Company: quota.Limits{AIPerHour: q.QuotaAIPerHour, StorageBytes: q.QuotaStorageBytes}},
		Documents: api.DocumentsConfig{MaxBytes: cfg.DocumentMaxBytes, Workers: cfg.DocumentWorkers, Models: a.ModelEndpoints,
			// Replicas share an outside PostgreSQL; a local one is ours alone.
			SoleWorker: cfg.PostgresURL == ""},
	}
}

// loadConfig layers defaults, the YAML file, VANTA_* variables and flags,
// each overriding the one before.
func loadConfig(args []string) (appliance.Config, error) {
	cfg := appliance.Defaults()
	configFile, explicit := configPath(args)
	if err := cfg.LoadFile(configFile, !explicit); err != nil {
		return cfg, err
	}
	if err := cfg.LoadEnv(os.Getenv); err != nil {
		return cfg, err
	}
	fs := flag.NewFlagSet("vanta init", flag.ContinueOnError)
	fs.String("config", configFile, "YAML config file (env VANTA_CONFIG; default "+appliance.DefaultConfigFile+" when present)")
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return cfg, cfg.Validate()
}

// configPath finds the config file before the flags are parsed, since the
// file's values must sit below the flags'.
func configPath(args []string) (path string, explicit bool) {
	for i, a := range args {
		for _, name := range []string{"-config", "--config"} {
			if a == name && i+1 < len(args) {
				return args[i+1], true
			}
			if v, ok := strings.CutPrefix(a, name+"="); ok {
				return v, true
			}
		}
	}
	if v := os.Getenv("VANTA_CONFIG"); v != "" {
		return v, true
	}
	return appliance.DefaultConfigFile, false
}
