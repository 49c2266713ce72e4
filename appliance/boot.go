package appliance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sys/unix"

	"github.com/vanta-ledger/vanta/internal/audit"
	"github.com/vanta-ledger/vanta/internal/background"
	"github.com/vanta-ledger/vanta/internal/backup"
	"github.com/vanta-ledger/vanta/internal/seal"
	"github.com/vanta-ledger/vanta/supervisor"
)

// Appliance is a booted `vanta init`: its services and their state.
type Appliance struct {
	cfg     Config
	layout  Layout
	catalog *catalog
	sup     *supervisor.Supervisor
	logger  *slog.Logger

	seal  *seal.Service
	redis *redis.Client // the appliance's own client: break-glass tokens
	setup *SetupGate    // the first-boot token, until a GOD exists
	tls   TLSInfo       // the listener's certificate, for ctl status

	background *background.Runner // services bound to the seal
	// always runs the services that need no keys (alert evaluation) from
	// the moment the stores are open, sealed or not.
	always     *background.Runner
	storesOpen openOnce

	// apiLn is bound by Prepare, before anything touches the disk, so a
	// port in use fails the boot as a configuration error, not after initdb.
	apiLn net.Listener

	everReady atomic.Bool // every service was healthy once
	stopping  atomic.Bool
	stores    atomic.Pointer[Stores] // set once the schema is migrated

	// Seal events that happen before the database is open wait here, and
	// go into the system chain, in order, once it is.
	earlyMu    sync.Mutex
	early      []earlyEvent
	earlyLost  int
	earlyFlush bool

	resume resumeState // interrupted provisioning, finished at unseal (migrate.go)

	pgbr         *backup.PGBackRest // WAL archiving and PostgreSQL's backups (pgbackrest.go)
	stanza       pgStanza
	sealWatchers []func(action string, details map[string]any) // OnSealEvent

	backups *backupSets // backup sets and their schedule (backupset.go)
}

type earlyEvent struct {
	at      time.Time
	action  string
	details map[string]any
}

// maxEarlyEvents bounds what waits for the database; more than that
// before it opens is someone hammering the unseal route, and the count of
// what was dropped is recorded instead.
const maxEarlyEvents = 256

// HandlerFunc builds the public HTTP handler once the appliance exists;
// it lives in internal/api, which the appliance does not import.
type HandlerFunc func(*Appliance) http.Handler

// Prepare validates the whole configuration, including every program the
// supervisor would run, and touches nothing on disk. A bad config fails
// here, naming the program or field, before anything starts.
func Prepare(cfg Config, reaper *supervisor.Reaper, out io.Writer) (*Appliance, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewJSONHandler(out, nil))
	redis.SetLogger(redisLog{logger})
	pgBin, err := FindPostgresBin(cfg.PostgresBin)
	if err != nil {
		return nil, err
	}
	pgUser, err := serviceAccount("postgres", true)
	if err != nil {
		return nil, &supervisor.ConfigError{Program: ServicePostgres, Field: "user", Problem: err.Error()}
	}
	redisAcc, _ := serviceAccount("redis", false)
	pgbackrestBin, err := exec.LookPath("pgbackrest")
	if err != nil {
		return nil, &supervisor.ConfigError{Program: ServicePostgres, Field: "archive_command",
			Problem: "pgbackrest, which archives PostgreSQL's WAL and takes its backups, is not installed (scripts/install-deps installs it)"}
	}
	engine := cfg.MongoEngine
	if engine == "auto" {
		engine = "docdb"
		if _, err := exec.LookPath("mongod"); err == nil {
			engine = "mongod"
		}
	}
	if cfg.Executable == "" {
		if cfg.Executable, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("locate own executable for docdb: %w", err)
		}
	}
	// mongod runs as its package's account when we are root; the
	// embedded engine is this binary, run as ourselves.
	mongoAcc := currentAccount()
	if engine == "mongod" {
		mongoAcc, _ = serviceAccount("mongodb", false)
	}
	tools, err := planTools(&cfg, realMachine())
	if err != nil {
		return nil, err
	}
	layout := Layout{Root: cfg.DataDir}
	cat := &catalog{cfg: &cfg, layout: layout, budget: splitBudget(time.Duration(cfg.StopTimeout)), pgBin: pgBin, pgUser: pgUser, redis: redisAcc, engine: engine,
		mongoAcc: mongoAcc, tools: tools}
	sup, err := supervisor.New(supervisor.Config{
		Programs: cat.programs(),
		Reaper:   reaper,
		Output:   out,
		Logger:   logger,
		Logs:     supervisor.LogConfig{Dir: layout.Path("log")},
	})
	if err != nil {
		return nil, err
	}
	apiLn, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, &FieldError{Source: "config", Field: "listen", Value: cfg.Listen,
			Err: fmt.Errorf("cannot listen (set --listen or VANTA_LISTEN to a free address): %w", err)}
	}
	pgbr := newPGBackRest(cfg, layout, pgbackrestBin, pgUser)
	pgbr.Run = reaperBackupRunner(reaper) // we reap every child: never os/exec
	return &Appliance{cfg: cfg, layout: layout, catalog: cat, sup: sup, logger: logger, apiLn: apiLn,
		resume: resumeState{unsealed: make(chan struct{}, 1)},
		pgbr:   pgbr}, nil
}

// Run provisions the data directory, starts every service and serves
// handler on the listen address until a stop signal; then it stops in
// order within the budget. It returns nil after a clean stop.
func (a *Appliance) Run(ctx context.Context, reaper *supervisor.Reaper, handler HandlerFunc) error {
	a.logger.Info("boot", "data", a.cfg.DataDir, "listen", a.cfg.Listen, "mongodb_engine", a.catalog.engine, "pid", os.Getpid())
	a.logger.Info("shutdown budget", "budget", a.catalog.budget.String(),
		"hint", "docker stops after 10s by default: raise both `docker run --stop-timeout N` and VANTA_STOP_TIMEOUT together")

	defer a.apiLn.Close() // on every early return; closing twice is harmless
	if err := os.MkdirAll(a.cfg.DataDir, 0o711); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	unlock, err := lockDataDir(a.layout.Path(".lock"))
	if err != nil {
		return err
	}
	defer unlock()

	prov := &provisioner{cfg: &a.cfg, layout: a.layout, reaper: reaper, logger: a.logger,
		pgBin: a.catalog.pgBin, pgUser: a.catalog.pgUser, redisAcc: a.catalog.redis, pgbr: a.pgbr,
		mongoAcc: a.catalog.mongoAcc, pgSocketShared: a.catalog.tools.pgaReason == ""}
	if a.catalog.engine == "mongod" {
		prov.extra = append(prov.extra, a.catalog.writeMongodConfig)
	}
	// The tools are a convenience: their setup failing costs the tool,
	// which then fails its start and says so, never the boot.
	prov.extra = append(prov.extra, func() error {
		if err := a.catalog.writeMongoExpressFiles(); err != nil {
			a.logger.Error("mongo-express setup", "error", err.Error())
		}
		if err := a.catalog.setupPgAdmin(ctx, prov); err != nil {
			a.logger.Error("pgadmin setup", "error", err.Error())
		}
		return nil
	})
	if err := prov.run(ctx); err != nil {
		return err
	}
	if err := a.setupBackups(reaper); err != nil {
		return err
	}
	if err := a.openSetupGate(prov.madeSetupToken); err != nil {
		return err
	}
	tlsConfig, err := a.loadTLS()
	if err != nil {
		return err
	}
	if err := a.openSeal(); err != nil {
		return err
	}
	defer a.seal.Close() // zero every key on the way out
	defer a.redis.Close()

	// Prepare bound the API's address before anything was provisioned.
	apiLn := a.apiLn
	ctl, err := a.listenControl()
	if err != nil {
		apiLn.Close()
		return err
	}
	// The handler registers its background services on the runners.
	a.background = background.NewRunner(a.logger)
	a.always = background.NewRunner(a.logger)
	a.storesOpen.init()
	api := &http.Server{Handler: handler(a), ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsConfig,
		// Failed handshakes (a browser that does not trust the certificate
		// yet, a scanner) are the network's noise, not the appliance's.
		ErrorLog: slog.NewLogLogger(a.logger.Handler(), slog.LevelDebug)}
	ctlSrv := &http.Server{Handler: a.controlHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if tlsConfig != nil {
			_ = api.ServeTLS(apiLn, "", "") // the certificate is in TLSConfig
			return
		}
		_ = api.Serve(apiLn)
	}()
	go func() { _ = ctlSrv.Serve(ctl) }()

	// The background services (registered by handler) run while
	// unsealed; they stop before the stores they use close.
	bgCtx, stopBackground := context.WithCancel(context.Background())
	bgDone := make(chan struct{})
	go func() {
		defer close(bgDone)
		alwaysDone := make(chan struct{})
		go func() {
			defer close(alwaysDone)
			a.always.Follow(bgCtx, &a.storesOpen)
		}()
		a.background.Follow(bgCtx, a.seal)
		<-alwaysDone
	}()
	defer func() { stopBackground(); <-bgDone }()

	supCtx, stopServices := context.WithCancel(context.Background())
	defer stopServices()
	supDone := make(chan error, 1)
	go func() { supDone <- a.sup.Run(supCtx) }()
	go a.watchReady(supCtx)

	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(signals)

	var runErr error
	shuttingDown := false
	var drained sync.WaitGroup
	beginShutdown := func(why string) {
		if shuttingDown {
			return
		}
		shuttingDown = true
		a.stopping.Store(true)
		a.logger.Info("shutdown", "reason", why, "budget", a.catalog.budget.String())
		drained.Add(1)
		go func() {
			defer drained.Done()
			drainCtx, cancel := context.WithTimeout(context.Background(), a.catalog.budget.Drain)
			defer cancel()
			_ = api.Shutdown(drainCtx)
			stopBackground()
			<-bgDone
			if st := a.stores.Swap(nil); st != nil {
				st.Close(drainCtx)
			}
			a.catalog.closeClients(drainCtx)
			stopServices()
		}()
	}
	for done := false; !done; {
		select {
		case <-ctx.Done():
			beginShutdown("context ended")
		case sig := <-signals:
			switch {
			case sig == syscall.SIGHUP:
				a.logger.Info("reload", "signalled", a.sup.Reload())
			case shuttingDown && sig == syscall.SIGINT:
				a.logger.Warn("second interrupt: killing every service now")
				a.sup.Kill()
			default:
				beginShutdown(sig.String())
			}
		case runErr = <-supDone:
			done = true
		}
	}
	drained.Wait()
	_ = api.Close()
	_ = ctlSrv.Close()

	var fatal *supervisor.FatalError
	switch {
	case errors.As(runErr, &fatal):
		a.logger.Error("fatal", "program", fatal.Program, "reason", fatal.Reason)
	case runErr != nil:
		a.logger.Error("unclean stop", "error", runErr.Error())
	default:
		a.logger.Info("stopped cleanly")
	}
	return runErr
}

// auditSystem records an event in the system audit chain. Until the
// database is open, events wait in memory (and are in the JSON log).
func (a *Appliance) auditSystem(action string, details map[string]any) {
	a.noteSealEvent(action)
	for _, fn := range a.sealWatchers {
		fn(action, details)
	}
	a.earlyMu.Lock()
	if !a.earlyFlush {
		if len(a.early) < maxEarlyEvents {
			a.early = append(a.early, earlyEvent{time.Now().UTC(), action, details})
		} else {
			a.earlyLost++
		}
		a.earlyMu.Unlock()
		return
	}
	a.earlyMu.Unlock()
	a.appendSystem(a.stores.Load(), action, details)
}

// flushEarlyEvents writes what waited for the database, each marked with
// when it happened, and lets later events go straight in.
func (a *Appliance) flushEarlyEvents(st *Stores) {
	a.earlyMu.Lock()
	defer a.earlyMu.Unlock()
	for _, e := range a.early {
		d := map[string]any{"happened_at": e.at.Format(time.RFC3339Nano), "recorded_late": true}
		maps.Copy(d, e.details)
		a.appendSystem(st, e.action, d)
	}
	if a.earlyLost > 0 {
		a.appendSystem(st, "audit.events_dropped", map[string]any{"outcome": "dropped", "count": a.earlyLost})
	}
	a.early, a.earlyLost, a.earlyFlush = nil, 0, true
}

func (a *Appliance) appendSystem(st *Stores, action string, details map[string]any) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	outcome, _ := details["outcome"].(string)
	if outcome == "" {
		outcome = "ok"
	}
	// Custodians act through the API without a name; the operator's own
	// actions (the control socket) say so in "actor" and "role".
	actor, role := "custodian", "custodian"
	if v, ok := details["actor"].(string); ok && v != "" {
		actor = v
	}
	if v, ok := details["role"].(string); ok && v != "" {
		role = v
	}
	err := pgx.BeginFunc(ctx, st.App, func(tx pgx.Tx) error {
		// The seal names the client (ip) and GOD (user) when it knows them.
		e := audit.Entry{Actor: actor, Role: role, Action: action, Resource: "seal", Outcome: outcome, Details: details}
		e.IP, _ = details["ip"].(string)
		if user, _ := details["user"].(string); user != "" {
			e.Actor, e.Role = "user/"+user, "god"
		}
		_, err := audit.Append(ctx, tx, "system", e)
		return err
	})
	if err != nil {
		a.logger.Error("audit append", "action", action, "error", err.Error())
	}
}

// redisLog takes go-redis's own messages into our JSON log at debug level:
// dial failures while Redis starts are expected, and health checks report
// what matters.
type redisLog struct{ l *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.l.Debug("redis client", "message", fmt.Sprintf(format, v...))
}

// openSeal loads the seal state; the appliance always boots sealed.
func (a *Appliance) openSeal() error {
	pass, err := readSecret(a.layout, "redis")
	if err != nil {
		return err
	}
	a.redis = redis.NewClient(a.catalog.redisOptions(pass))
	var provider seal.KeyProvider = seal.SoftwareProvider{}
	if a.cfg.KeyProvider == "pkcs11" {
		provider = seal.PKCS11Provider{Module: a.cfg.PKCS11Module, TokenLabel: a.cfg.PKCS11Token, SOPIN: a.cfg.PKCS11SOPIN}
	}
	a.seal, err = seal.Open(seal.Options{
		Dir:      a.layout.Path("seal"),
		Provider: provider,
		Tokens:   seal.RedisTokens{Client: a.redis},
		Logger:   a.logger,
		Audit:    a.auditSystem,
	})
	if err != nil {
		a.redis.Close()
		return fmt.Errorf("seal: %w", err)
	}
	return nil
}

// watchReady records the first time every service is healthy, which turns
// later outages from "starting" into "degraded", and logs it once.
func (a *Appliance) watchReady(ctx context.Context) {
	events, cancel := a.sup.Subscribe()
	defer cancel()
	for {
		if servicesHealthy(a.sup.Status()) {
			a.everReady.Store(true)
			go a.ensureStanza(ctx) // beside the stores: a backup's first need, not theirs
			stores, err := a.openStores(ctx)
			if err != nil {
				// Readiness stays below ready; the log says why.
				a.logger.Error("open stores", "error", err.Error())
				return
			}
			a.stores.Store(stores)
			a.storesOpen.open()
			go a.resumeProvisioning(ctx, stores)
			a.flushEarlyEvents(stores)
			a.spendSetupTokenIfGOD(ctx, stores)
			a.startBackupSchedule(ctx)
			a.logger.Info("services healthy", "sealed", a.seal.Sealed())
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-events:
		}
	}
}

// Services reports every service.
func (a *Appliance) Services() ServicesReport {
	now := time.Now()
	statuses := a.sup.Status()
	out := ServicesReport{Services: make([]ServiceReport, 0, len(statuses))}
	for _, st := range statuses {
		out.Services = append(out.Services, report(st, a.catalog.engine, now))
	}
	return out
}

// Readiness reports whether the appliance serves.
func (a *Appliance) Readiness() Readiness {
	r := readiness(a.sup.Status(), a.everReady.Load(), a.stopping.Load(), a.seal.Sealed())
	// /readyz answers strangers: a reason may name a path, and where the
	// data lives is none of their business.
	for i := range r.Services {
		r.Services[i].Reason = strings.ReplaceAll(r.Services[i].Reason, a.cfg.DataDir, "$DATA")
	}
	if (r.Status == StatusReady || r.Status == StatusSealed) && a.stores.Load() == nil {
		r.Status = StatusStarting // services up, schema not migrated yet
	}
	return r
}

// Stores returns the data-service connections, or nil before they are open.
func (a *Appliance) Stores() *Stores { return a.stores.Load() }

// Background is the runner of the services bound to the seal: they start
// when it is unsealed and stop when it is sealed or the appliance stops.
// A service joins with one Add before the appliance serves.
func (a *Appliance) Background() *background.Runner { return a.background }

// Always is the runner of the services that run sealed or not, from the
// moment the stores are open until the appliance stops (alert evaluation:
// a full disk or a crashing service matters most while nobody has
// unsealed). A service joins with one Add before the appliance serves.
func (a *Appliance) Always() *background.Runner { return a.always }

// openOnce is a background.Gate that opens once and stays open.
type openOnce struct {
	ch   chan struct{}
	once sync.Once
}

func (g *openOnce) init() { g.ch = make(chan struct{}) }

func (g *openOnce) open() { g.once.Do(func() { close(g.ch) }) }

// Watch reports whether the gate is open; an open gate never changes
// again (a nil channel).
func (g *openOnce) Watch() (bool, <-chan struct{}) {
	select {
	case <-g.ch:
		return true, nil
	default:
		return false, g.ch
	}
}

// Seal is the appliance's seal, for the API.
func (a *Appliance) Seal() *seal.Service { return a.seal }

// Logger is where the appliance writes its JSON log lines.
func (a *Appliance) Logger() *slog.Logger { return a.logger }

// Supervisor gives the control socket its program operations.
func (a *Appliance) Supervisor() *supervisor.Supervisor { return a.sup }

// lockDataDir holds an exclusive lock on the data directory for the life
// of the process, so two inits never run one cluster.
func lockDataDir(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data directory %s is in use by another vanta init: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// BecomeInit does what PID 1 must before anything else: a restrictive
// umask, and no core dumps, which would write key material to disk.
func BecomeInit() error {
	unix.Umask(0o077)
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0}); err != nil {
		return fmt.Errorf("disable core dumps: %w", err)
	}
	return nil
}
