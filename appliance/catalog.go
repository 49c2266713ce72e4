package appliance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/vanta-ledger/vanta/internal/ai"
	"github.com/vanta-ledger/vanta/supervisor"
)

// Service names, as reported by status and the API.
const (
	ServicePostgres     = "postgres"
	ServiceRedis        = "redis"
	ServiceMongo        = "mongodb"
	ServiceMongoExpress = "mongo-express"
	ServicePgAdmin      = "pgadmin"
	llamaPrefix         = "llama-"
)

// Budget splits the shutdown time: the HTTP drain first, then every
// service but PostgreSQL in parallel, then PostgreSQL alone. A database is
// given the whole of its share and never killed inside it.
type Budget struct {
	Total, Drain, Services, Postgres time.Duration
}

func splitBudget(total time.Duration) Budget {
	drain := min(total/10, time.Second)
	services := (total - drain) * 4 / 10
	return Budget{Total: total, Drain: drain, Services: services, Postgres: total - drain - services}
}

func (b Budget) String() string {
	return fmt.Sprintf("%s: http drain %s, services %s, postgres %s", b.Total, b.Drain, b.Services, b.Postgres)
}

// catalog describes the services vanta init runs.
type catalog struct {
	cfg    *Config
	layout Layout
	budget Budget
	pgBin  string
	pgUser account
	redis  account
	engine string // mongod or docdb
	// mongoAcc runs the document store, and Mongo Express, which must
	// reach its private socket: mongod's own account when init is root
	// and it exists, else ourselves.
	mongoAcc account
	tools    tools // the management tools (tools.go)

	llamaMu        sync.Mutex
	llamaEndpoints []ai.Endpoint // the model servers started, for the router

	mongoUp     atomic.Bool // the last check's ping passed
	mongoOnce   sync.Once
	mongoClient *mongo.Client
	mongoErr    error
}

// Connection details the appliance's own clients use.
func (c *catalog) postgresDSN(user, password, db string) string {
	q := url.Values{"host": {c.layout.Path("run", "postgres")}, "sslmode": {"disable"}}
	return (&url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Path: "/" + db, RawQuery: q.Encode()}).String()
}

func (c *catalog) redisOptions(password string) *redis.Options {
	return &redis.Options{Network: "unix", Addr: c.layout.Path("run", "redis", "redis.sock"), Username: redisUser, Password: password}
}

func (c *catalog) mongoSocket() string {
	if c.engine == "mongod" {
		return c.layout.Path("run", "mongodb", "mongodb-27017.sock")
	}
	return c.layout.Path("run", "mongodb", "mongodb.sock")
}

func (c *catalog) mongoURI() string { return "mongodb://" + url.PathEscape(c.mongoSocket()) }

// FindPostgresBin returns the directory with initdb and postgres.
func FindPostgresBin(configured string) (string, error) {
	var candidates []string
	if configured != "" {
		candidates = []string{configured}
	} else {
		if p, err := exec.LookPath("initdb"); err == nil {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				candidates = append(candidates, filepath.Dir(real))
			}
		}
		matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
		// Newest major first, by number: "15" sorts after "9.6".
		major := func(dir string) float64 {
			v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
			return v
		}
		sort.Slice(matches, func(i, j int) bool { return major(matches[i]) > major(matches[j]) })
		candidates = append(candidates, matches...)
	}
	for _, dir := range candidates {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	if configured != "" {
		return "", &FieldError{Source: "config", Field: "postgres_bin", Value: configured, Err: fmt.Errorf("no initdb and postgres there")}
	}
	return "", fmt.Errorf("PostgreSQL server binaries not found in PATH or /usr/lib/postgresql/*/bin (scripts/install-deps installs postgresql-15)")
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// programs returns the supervisor's view of every service.
func (c *catalog) programs() []supervisor.Program {
	progs := []supervisor.Program{c.postgres(), c.redisProgram(), c.mongo()}
	progs = append(progs, c.llamaServers()...)
	progs = append(progs, c.pgAdmin(), c.mongoExpress())

	for _, pc := range c.cfg.Programs {
		p, _ := pc.program() // validated with the config
		if p.StopGrace == 0 {
			p.StopGrace = c.budget.Services // fit docker's stop timeout
		}
		progs = append(progs, p)
	}
	// PostgreSQL is stopped last: everything else may still be writing
	// to it until it is gone.
	for _, p := range progs[1:] {
		progs[0].StopAfter = append(progs[0].StopAfter, p.Name)
	}
	return progs
}

// dataService is what the three data services share: critical, restarted
// with backoff, checked every 5 ms while starting so that boot waits on
// them no longer than it must, then every 5 s.
func (c *catalog) dataService(name string, check func(context.Context) error, startPeriod, grace time.Duration, stop syscall.Signal) supervisor.Program {
	return supervisor.Program{
		Name:       name,
		Critical:   true,
		StopSignal: stop,
		StopGrace:  grace,
		Backoff:    supervisor.Backoff{Initial: 500 * time.Millisecond, Max: 10 * time.Second, Retries: 5},
		Health: &supervisor.HealthCheck{
			Func:          check,
			StartInterval: 5 * time.Millisecond,
			Interval:      5 * time.Second,
			Timeout:       3 * time.Second,
			StartPeriod:   startPeriod,
		},
	}
}

func (c *catalog) postgres() supervisor.Program {
	// SIGINT is PostgreSQL's fast shutdown: roll back open transactions,
	// checkpoint, exit; no crash recovery next boot. The start budget
	// allows crash recovery of a large WAL.
	p := c.dataService(ServicePostgres, c.checkPostgres, 2*time.Minute, c.budget.Postgres, syscall.SIGINT)
	p.Command = filepath.Join(c.pgBin, "postgres")
	p.Args = []string{"-D", c.layout.Path("postgres")}
	p.User = c.pgUser.name
	p.ReloadSignal = syscall.SIGHUP // re-reads postgresql.conf and pg_hba.conf
	if c.cfg.PostgresURL != "" {
		p.Disabled = "external: VANTA_POSTGRES_URL"
	}
	return p
}

// checkPostgres runs a query on the application database over the real
// socket, as the application role: it fails during initdb's temporary
// server, recovery, or before the database exists, where pg_isready lies.
func (c *catalog) checkPostgres(ctx context.Context) error {
	pass, err := readSecret(c.layout, "postgres-app")
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, c.postgresDSN(pgAppRole, pass, pgDatabase))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var db string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		return err
	}
	if db != pgDatabase {
		return fmt.Errorf("connected to %q, want %q", db, pgDatabase)
	}
	return nil
}

func (c *catalog) redisProgram() supervisor.Program {
	bin, _ := exec.LookPath("redis-server")
	if bin == "" {
		bin = "redis-server"
	}
	// SIGTERM with shutdown-on-sigterm save: AOF fsync and an RDB save. The
	// start budget allows loading a large AOF.
	p := c.dataService(ServiceRedis, c.checkRedis, time.Minute, c.budget.Services, syscall.SIGTERM)
	p.Command = bin
	p.Args = []string{c.layout.Path("redis", "redis.conf")}
	p.User = c.redis.name
	if c.cfg.RedisURL != "" {
		p.Disabled = "external: VANTA_REDIS_URL"
	}
	return p
}

// checkRedis is healthy only once the dataset is loaded: Redis answers
// PING while still replaying its AOF.
func (c *catalog) checkRedis(ctx context.Context) error {
	pass, err := readSecret(c.layout, "redis")
	if err != nil {
		return err
	}
	opts := c.redisOptions(pass)
	// The supervisor is the one retrying: the client's own dial retries
	// would hold a failed check for 100ms each and delay boot by as much.
	opts.MaxRetries = -1
	opts.DialerRetries = 1
	client := redis.NewClient(opts)
	defer client.Close()
	info, err := client.Info(ctx, "persistence").Result()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "loading:0") {
		return fmt.Errorf("still loading its dataset")
	}
	return nil
}

func (c *catalog) mongo() supervisor.Program {
	p := c.dataService(ServiceMongo, c.checkMongo, time.Minute, c.budget.Services, syscall.SIGTERM)
	if c.engine == "mongod" {
		p.Command = "mongod"
		p.Args = []string{"--config", c.layout.Path("mongodb", "mongod.conf")}
		if !c.mongoAcc.self() {
			p.User = c.mongoAcc.name
		}
	} else {
		p.Command = c.cfg.Executable
		p.Args = []string{"docdb", "--data", c.layout.Path("docdb"), "--socket", c.layout.Path("run", "mongodb", "mongodb.sock")}
	}
	if c.cfg.MongoURL != "" {
		p.Disabled = "external: VANTA_MONGO_URL"
	}
	return p
}

func (c *catalog) checkMongo(ctx context.Context) (err error) {
	// Dial first while the server is not known to be up: the driver,
	// finding no server, would wait for its next heartbeat (500ms) before
	// the ping could succeed. Once a ping has passed, the client's pooled
	// connection is enough; a connection opened and dropped every few
	// seconds would only churn the server (see docdb's quiet handler).
	if !c.mongoUp.Load() {
		conn, err := (&net.Dialer{}).DialContext(ctx, "unix", c.mongoSocket())
		if err != nil {
			return err
		}
		conn.Close()
	}
	defer func() { c.mongoUp.Store(err == nil) }()
	// One client for all checks: a client per check would end its
	// sessions on every disconnect, which docdb logs as an unknown command.
	c.mongoOnce.Do(func() {
		c.mongoClient, c.mongoErr = mongo.Connect(options.Client().ApplyURI(c.mongoURI()).SetServerSelectionTimeout(time.Second))
	})
	if c.mongoErr != nil {
		return c.mongoErr
	}
	return c.mongoClient.Ping(ctx, nil)
}

// closeClients hangs up the health checkers' long-lived connections, so
// that no server waits on them while stopping.
func (c *catalog) closeClients(ctx context.Context) {
	c.mongoOnce.Do(func() { c.mongoErr = errors.New("shutting down") })
	if c.mongoClient != nil {
		_ = c.mongoClient.Disconnect(ctx)
	}
}

// llamaServers returns one program per GGUF model in $DATA/models, or a
// single disabled entry saying why there are none. It also records the
// endpoints the router may use (ModelEndpoints).
func (c *catalog) llamaServers() []supervisor.Program {
	progs, endpoints := c.llamaPlan(exec.LookPath, memTotalMB, fileExists(gpuDevice))
	c.llamaMu.Lock()
	c.llamaEndpoints = endpoints
	c.llamaMu.Unlock()
	return progs
}

// gpuDevice is the device whose presence means llama-server can offload
// layers to an NVIDIA GPU (-ngl).
const gpuDevice = "/dev/nvidia0"

// llamaPlan decides the model servers: which run, with what arguments,
// and why the others do not. lookPath, memMB and gpu are the machine, as
// parameters so that tests can be any machine.
func (c *catalog) llamaPlan(lookPath func(string) (string, error), memMB func() int, gpu bool) ([]supervisor.Program, []ai.Endpoint) {
	paths, _ := filepath.Glob(c.layout.Path("models", "*.gguf"))
	if len(paths) == 0 {
		return []supervisor.Program{{Name: "llama", Disabled: "no models in " + c.layout.Path("models")}}, nil
	}
	sort.Strings(paths)
	llm := c.cfg.LLMConfig
	bin, binErr := lookPath(llm.LlamaServer)
	budget := llm.LLMMemoryMB
	if budget == 0 {
		budget = memMB() / 2
	}
	// Read every header first: the budget admits models smallest first,
	// so that a big model left out does not starve the small ones.
	models := make([]ai.Model, len(paths))
	errs := make([]error, len(paths))
	for i, p := range paths {
		models[i], errs[i] = ai.ReadGGUF(p)
	}
	order := make([]int, 0, len(paths))
	for i := range paths {
		if errs[i] == nil {
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return models[order[a]].FileSize < models[order[b]].FileSize })
	overBudget := map[int]string{}
	left := int64(budget) << 20
	for _, i := range order {
		if models[i].FileSize > left {
			overBudget[i] = fmt.Sprintf("over the memory budget: the model takes %d MB, %d MB of %d MB left (VANTA_LLM_MEMORY_MB)",
				models[i].FileSize>>20, left>>20, budget)
			continue
		}
		left -= models[i].FileSize
	}

	var progs []supervisor.Program
	var endpoints []ai.Endpoint
	for i, p := range paths {
		name := llamaPrefix + ai.ModelName(p)
		switch {
		case errs[i] != nil:
			progs = append(progs, supervisor.Program{Name: name, Disabled: "unreadable model: " + errs[i].Error()})
			continue
		case binErr != nil:
			progs = append(progs, supervisor.Program{Name: name, Disabled: fmt.Sprintf("not installed: %s not found (VANTA_LLAMA_SERVER)", llm.LlamaServer)})
			continue
		case overBudget[i] != "":
			progs = append(progs, supervisor.Program{Name: name, Disabled: overBudget[i]})
			continue
		}
		m := models[i]
		ctx := llm.LLMContext
		if m.ContextLength > 0 && m.ContextLength < ctx {
			ctx = m.ContextLength
		}
		port := llm.LLMPort + i
		args := []string{"-m", p, "--host", "127.0.0.1", "--port", strconv.Itoa(port),
			"-c", strconv.Itoa(ctx), "--threads", strconv.Itoa(runtime.NumCPU())}
		if gpu {
			// Offload every layer the GPU takes; llama-server keeps the
			// rest on the CPU.
			args = append(args, "-ngl", "999")
		}
		url := fmt.Sprintf("http://127.0.0.1:%d", port)
		progs = append(progs, supervisor.Program{
			Name:    name,
			Command: bin,
			Args:    args,
			Health: &supervisor.HealthCheck{
				// 503 while the model loads, 200 once it serves.
				HTTP:          url + "/health",
				StartInterval: 200 * time.Millisecond,
				Interval:      10 * time.Second,
				Timeout:       3 * time.Second,
				StartPeriod:   5 * time.Minute,
			},
			StopGrace: c.budget.Services,
		})
		endpoints = append(endpoints, ai.Endpoint{Model: m, URL: url, Context: ctx})
	}
	return progs, endpoints
}

// memTotalMB is the machine's memory from /proc/meminfo (0 if unknown).
func memTotalMB() int {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.Atoi(f[1])
			return kb >> 10
		}
	}
	return 0
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// writeMongodConfig writes mongod's config for the image, where mongod is
// installed: data under $DATA/mongodb, loopback and a private socket only.
func (c *catalog) writeMongodConfig() error {
	conf := fmt.Sprintf(`# Written by vanta init at every boot.
storage:
  dbPath: %s
net:
  bindIp: 127.0.0.1
  port: 27017
  unixDomainSocket:
    enabled: true
    pathPrefix: %s
    filePermissions: 0700
processManagement:
  fork: false
`, c.layout.Path("mongodb"), c.layout.Path("run", "mongodb"))
	return writeConfigFile(c.layout.Path("mongodb", "mongod.conf"), []byte(conf), c.mongoAcc)
}

// modelName makes a program name from a model file name (ai.ModelName).
func modelName(path string) string { return ai.ModelName(path) }
