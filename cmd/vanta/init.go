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
	"github.com/vanta-ledger/vanta/internal/extract"
	"github.com/vanta-ledger/vanta/internal/metrics"
	"github.com/vanta-ledger/vanta/internal/quota"
	"github.com/vanta-ledger/vanta/internal/security"
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

	app, err := appliance.Prepare(cfg, reaper, out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vanta init: invalid configuration:\n%v\n", err)
		return exitUsage
	}
	err = app.Run(context.Background(), reaper, func(a *appliance.Appliance) http.Handler {
		// One metrics registry and one security recorder: the API feeds
		// them, the metric history records the registry's live series,
		// and the alert evaluator reads both.
		reg, sec := newMetrics(cfg, a), securityRecorder(cfg, a)
		a.Always().Add(trendsRecorder(a, reg.AlertSource()))
		a.Always().Add(alertService(cfg, a, reg.AlertSource(), sec.AlertSource()))
		return api.NewRouter(apiDeps(cfg, a, reg, sec))
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
func apiDeps(cfg appliance.Config, a *appliance.Appliance, reg *metrics.Registry, sec *security.Recorder) api.Deps {
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
		Metrics:    reg,
		Security:   sec,
		AdminTools: a,
	}
}

// securityRecorder makes the recorder of security events: it writes
// through the runtime role's pool once the databases are open, takes the
// seal's events (wrong unseal shares), and runs for the life of the
// process (security events are recorded sealed or not).
func securityRecorder(cfg appliance.Config, a *appliance.Appliance) *security.Recorder {
	rec := security.NewRecorder(cfg.SecurityConfig.Security(), securityDB(a), nil, a.Logger())
	a.OnSealEvent(rec.SealEvent)
	go rec.Run(context.Background())
	return rec
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

// securityDB is the runtime role's pool once the databases are open, nil
// before: the security events' recorder and their alert source
// (security.NewAlertSource(securityDB(a))) write and read through it.
func securityDB(a *appliance.Appliance) func() security.DB {
	return func() security.DB {
		if st := a.Stores(); st != nil && st.App != nil {
			return st.App
		}
		return nil
	}
}
