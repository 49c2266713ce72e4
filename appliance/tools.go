package appliance

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vanta-ledger/vanta/supervisor"
)

// The management tools: Mongo Express (the document store's console) and
// pgAdmin 4 (PostgreSQL's, in the image only). Both listen on loopback
// only and are reached through the API's GOD-only reverse proxy, which
// logs in to them with AdminTool's header.

// AdminToolEndpoint is where a management tool listens and how the proxy logs in to it.
type AdminToolEndpoint struct {
	URL         *url.URL    // loopback base, e.g. http://127.0.0.1:8081
	StripPrefix bool        // true: the tool gets the path without /admin/<tool>
	Header      http.Header // set on every proxied request (replacing any client value): the tool's login
}

// ToolUnavailableError: the tool is disabled or not healthy; Reason says why.
type ToolUnavailableError struct{ Tool, Reason string }

func (e *ToolUnavailableError) Error() string {
	return fmt.Sprintf("management tool %s is unavailable: %s", e.Tool, e.Reason)
}

// Where the tools are served through the API's proxy.
const (
	MongoExpressBaseURL = "/admin/mongo/"  // Mongo Express serves under it itself
	PgAdminScriptName   = "/admin/pgadmin" // pgAdmin is told it (X-Script-Name)
)

// Mongo Express's login: the user is fixed, the password a secret made at
// first boot, which the proxy sends with every request.
const (
	mongoExpressUser   = "vanta"
	mongoExpressSecret = "mongo-express"
)

// pgAdmin's install in the image (the vendor's pgadmin4-server package),
// its first user, and the header through which the proxy names the user
// pgAdmin's webserver authentication logs in.
const (
	pgAdminPython       = "/usr/pgadmin4/venv/bin/python3"
	pgAdminWeb          = "/usr/pgadmin4/web"
	pgAdminUser         = "pgadmin"
	pgAdminSecret       = "pgadmin"
	pgAdminSecretKey    = "pgadmin-secret-key"
	pgAdminSetupEmail   = "god@vanta.example"
	pgAdminRemoteUser   = "vanta-god"
	pgAdminRemoteHeader = "X-Vanta-Pgadmin-User"
	pgAdminNotInstalled = "not installed: pgAdmin 4 ships in the image only (Debian 12 has no package)"
)

// tools is what the catalog decided about the management tools at Prepare.
type tools struct {
	meReason string // why Mongo Express is disabled; "" runs it
	meNode   string // the node executable
	meApp    string // its app.js
	mePort   int

	pgaReason string // why pgAdmin is disabled; "" runs it
	pgaAcc    account
	pgaPort   int
}

// machine is what planTools looks at, as parameters so that tests can be
// any machine.
type machine struct {
	lookPath func(string) (string, error)
	exists   func(string) bool
	account  func(name string) (account, error) // the service account to run as
	freePort func() (int, error)
}

func realMachine() machine {
	return machine{lookPath: exec.LookPath, exists: fileExists,
		account: func(name string) (account, error) { return serviceAccount(name, true) }, freePort: freeLoopbackPort}
}

// freeLoopbackPort asks the kernel for a free loopback port. Another
// process could take it before the tool binds it; the tool then fails
// its start and is restarted, and a fixed port (VANTA_*_PORT) avoids that.
func freeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// planTools decides whether each tool runs, with what, and on which port.
func planTools(cfg *Config, m machine) (tools, error) {
	var t tools
	switch dir := cfg.MongoExpress; {
	case dir == "off":
		t.meReason = "disabled: VANTA_MONGO_EXPRESS=off"
	default:
		app := filepath.Join(dir, "node_modules", "mongo-express", "app.js")
		node, err := m.lookPath("node")
		switch {
		case !m.exists(app):
			t.meReason = fmt.Sprintf("not installed: no %s (scripts/install-deps installs it; VANTA_MONGO_EXPRESS)", app)
		case err != nil:
			t.meReason = "not installed: node not found in PATH (scripts/install-deps installs nodejs)"
		default:
			t.meNode, t.meApp, t.mePort = node, app, cfg.MongoExpressPort
		}
	}
	if !m.exists(pgAdminPython) || !m.exists(filepath.Join(pgAdminWeb, "pgAdmin4.py")) {
		t.pgaReason = pgAdminNotInstalled
	} else if acc, err := m.account(pgAdminUser); err != nil {
		t.pgaReason = "not installed: " + err.Error()
	} else {
		t.pgaAcc, t.pgaPort = acc, cfg.PgAdminPort
	}
	var err error
	if t.meReason == "" && t.mePort == 0 {
		if t.mePort, err = m.freePort(); err != nil {
			return t, err
		}
	}
	if t.pgaReason == "" && t.pgaPort == 0 {
		if t.pgaPort, err = m.freePort(); err != nil {
			return t, err
		}
	}
	return t, nil
}

// mongoExpressURI is the document store Mongo Express browses: the
// external one, or the appliance's own over its private socket.
func (c *catalog) mongoExpressURI() string {
	if c.cfg.MongoURL != "" {
		return c.cfg.MongoURL
	}
	return c.mongoURI()
}

// mongoExpressDir holds what Mongo Express reads at start (its password
// file), owned by the account it runs as.
func (c *catalog) mongoExpressDir() string { return c.layout.Path("mongo-express") }

// mongoExpressEnv is Mongo Express's whole configuration (it reads only
// ME_CONFIG_* variables, PORT and VCAP_APP_HOST). The cookie and session
// secrets are new at every boot: the proxy logs in on every request, so
// a lost session costs nothing.
func (c *catalog) mongoExpressEnv(cookieSecret, sessionSecret string) []string {
	return []string{
		"NODE_ENV=production",
		"VCAP_APP_HOST=127.0.0.1",
		"PORT=" + strconv.Itoa(c.tools.mePort),
		"ME_CONFIG_MONGODB_URL=" + c.mongoExpressURI(),
		"ME_CONFIG_MONGODB_ENABLE_ADMIN=true", // list every database
		"ME_CONFIG_SITE_BASEURL=" + MongoExpressBaseURL,
		"ME_CONFIG_BASICAUTH_USERNAME=" + mongoExpressUser,
		"ME_CONFIG_BASICAUTH_PASSWORD_FILE=" + filepath.Join(c.mongoExpressDir(), "password"),
		"ME_CONFIG_SITE_COOKIESECRET=" + cookieSecret,
		"ME_CONFIG_SITE_SESSIONSECRET=" + sessionSecret,
		// GOD may edit documents: the tool is for repairs, and every
		// request through the proxy is in the system audit chain.
		"ME_CONFIG_OPTIONS_READONLY=false",
		"ME_CONFIG_SITE_GRIDFS_ENABLED=false",
	}
}

func (c *catalog) mongoExpress() supervisor.Program {
	p := supervisor.Program{Name: ServiceMongoExpress, Disabled: c.tools.meReason}
	if c.cfg.MongoURL == "" {
		p.DependsOn = []string{ServiceMongo}
	}
	if p.Disabled != "" {
		return p
	}
	p.Command = c.tools.meNode
	// Diagnostic reports go beside its password file; the data
	// directory in its command line also names whose it is (ps).
	p.Args = []string{"--diagnostic-dir=" + c.mongoExpressDir(), c.tools.meApp}
	p.Dir = filepath.Dir(c.tools.meApp)
	p.Env = c.mongoExpressEnv(randomHex(), randomHex())
	if !c.mongoAcc.self() {
		p.User = c.mongoAcc.name // the one who may reach the store's socket
	}
	c.toolProgram(&p, c.checkMongoExpress)
	return p
}

// toolProgram makes a tool non-critical, restarted with backoff, and
// health-checked.
func (c *catalog) toolProgram(p *supervisor.Program, check func(context.Context) error) {
	p.Critical = false
	p.Restart = supervisor.RestartAlways
	p.Backoff = supervisor.Backoff{Initial: time.Second, Max: 30 * time.Second, Retries: 10}
	p.StopGrace = c.budget.Services
	p.Health = &supervisor.HealthCheck{
		Func:          check,
		StartInterval: 100 * time.Millisecond,
		Interval:      10 * time.Second,
		Timeout:       3 * time.Second,
		StartPeriod:   2 * time.Minute,
	}
}

// checkMongoExpress asks for the database list with the tool's login:
// healthy means it serves and reaches the document store.
func (c *catalog) checkMongoExpress(ctx context.Context) error {
	h, err := c.mongoExpressHeader()
	if err != nil {
		return err
	}
	return checkHTTP(ctx, fmt.Sprintf("http://127.0.0.1:%d%s", c.tools.mePort, MongoExpressBaseURL), h)
}

func (c *catalog) mongoExpressHeader() (http.Header, error) {
	pass, err := readSecret(c.layout, mongoExpressSecret)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(mongoExpressUser+":"+pass)))
	return h, nil
}

func checkHTTP(ctx context.Context, url string, h http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// writeMongoExpressFiles puts the tool's password where the account it
// runs as can read it (the secrets directory is the appliance's alone).
func (c *catalog) writeMongoExpressFiles() error {
	if c.tools.meReason != "" {
		return nil
	}
	dir := c.mongoExpressDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if !c.mongoAcc.self() {
		if err := os.Chown(dir, c.mongoAcc.uid, c.mongoAcc.gid); err != nil {
			return err
		}
	}
	pass, err := readSecret(c.layout, mongoExpressSecret)
	if err != nil {
		return err
	}
	return writeConfigFile(filepath.Join(dir, "password"), []byte(pass+"\n"), c.mongoAcc)
}

// randomHex is 32 random bytes, hex-encoded, that live in memory only.
func randomHex() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// pgAdmin

func (c *catalog) pgAdminDir() string { return c.layout.Path("pgadmin") }

func (c *catalog) pgAdmin() supervisor.Program {
	p := supervisor.Program{Name: ServicePgAdmin, Disabled: c.tools.pgaReason}
	if c.cfg.PostgresURL == "" {
		p.DependsOn = []string{ServicePostgres}
	}
	if p.Disabled != "" {
		return p
	}
	p.Command = pgAdminPython
	p.Args = []string{filepath.Join(pgAdminWeb, "pgAdmin4.py")}
	p.Dir = c.pgAdminDir()
	p.Env = c.pgAdminEnv()
	if !c.tools.pgaAcc.self() {
		p.User = c.tools.pgaAcc.name
	}
	c.toolProgram(&p, c.checkPgAdmin)
	return p
}

// pgAdminEnv finds config_local.py in $DATA/pgadmin (the web directory
// has none of its own).
func (c *catalog) pgAdminEnv() []string {
	return []string{"PYTHONPATH=" + c.pgAdminDir(), "HOME=" + c.pgAdminDir()}
}

// checkPgAdmin uses pgAdmin's unauthenticated ping.
func (c *catalog) checkPgAdmin(ctx context.Context) error {
	return checkHTTP(ctx, fmt.Sprintf("http://127.0.0.1:%d/misc/ping", c.tools.pgaPort), http.Header{})
}

// pyStr quotes s as a Python string literal (JSON's escapes are Python's).
func pyStr(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// pgAdminConfig is config_local.py: server mode, everything under
// $DATA/pgadmin, loopback only, and logged in only by the header the
// proxy sets (pgAdmin's webserver authentication).
func (c *catalog) pgAdminConfig(secretKey string) string {
	dir := c.pgAdminDir()
	return fmt.Sprintf(`# Written by vanta init at every boot.
import logging
SERVER_MODE = True
DEFAULT_SERVER = '127.0.0.1'
DEFAULT_SERVER_PORT = %d
DATA_DIR = %s
LOG_FILE = %s
SQLITE_PATH = %s
SESSION_DB_PATH = %s
STORAGE_DIR = %s
AZURE_CREDENTIAL_CACHE_DIR = %s
KERBEROS_CCACHE_DIR = %s
CONSOLE_LOG_LEVEL = logging.WARNING
FILE_LOG_LEVEL = logging.WARNING
SECRET_KEY = %s
AUTHENTICATION_SOURCES = ['webserver']
WEBSERVER_AUTO_CREATE_USER = True
WEBSERVER_REMOTE_USER = %s
MASTER_PASSWORD_REQUIRED = False
ENABLE_SERVER_PASS_EXEC_CMD = True
UPGRADE_CHECK_ENABLED = False
`, c.tools.pgaPort, pyStr(dir), pyStr(filepath.Join(dir, "pgadmin4.log")), pyStr(filepath.Join(dir, "pgadmin4.db")),
		pyStr(filepath.Join(dir, "sessions")), pyStr(filepath.Join(dir, "storage")),
		pyStr(filepath.Join(dir, "azure")), pyStr(filepath.Join(dir, "krb5")),
		pyStr(secretKey), pyStr(pgAdminRemoteHeader))
}

// pgAdminServers is servers.json: the appliance's database, as
// PostgreSQL's superuser over the private socket, its password read from
// a file only pgAdmin's account can read (docs/SECURITY.md says why a
// GOD's tool gets the superuser).
func (c *catalog) pgAdminServers() ([]byte, error) {
	type server struct {
		Name                string
		Group               string
		Host                string
		Port                int
		MaintenanceDB       string
		Username            string
		SSLMode             string
		PasswordExecCommand string
	}
	servers := map[string]map[string]server{"Servers": {"1": {
		Name: "Vanta (superuser)", Group: "Vanta",
		Host: c.layout.Path("run", "postgres"), Port: 5432,
		MaintenanceDB: pgDatabase, Username: pgSuperuser, SSLMode: "disable",
		PasswordExecCommand: "cat " + shellQuote(filepath.Join(c.pgAdminDir(), "postgres-password")),
	}}}
	return json.MarshalIndent(servers, "", "  ")
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// pgAdminSetupCommands are the setup.py runs that make pgAdmin's
// configuration database with its first user, the user the proxy logs in
// as, and the registered servers. Each is idempotent.
func (c *catalog) pgAdminSetupCommands() [][]string {
	setup := filepath.Join(pgAdminWeb, "setup.py")
	servers := filepath.Join(c.pgAdminDir(), "servers.json")
	return [][]string{
		{pgAdminPython, setup, "setup-db"},
		{pgAdminPython, setup, "add-external-user", pgAdminRemoteUser, "--auth-source", "webserver", "--admin"},
		{pgAdminPython, setup, "load-servers", servers, "--user", pgAdminRemoteUser, "--auth-source", "webserver", "--replace"},
	}
}

// setupPgAdmin writes pgAdmin's files under $DATA/pgadmin and, when they
// changed (or the first time), runs its setup as its account.
func (c *catalog) setupPgAdmin(ctx context.Context, p *provisioner) error {
	if c.tools.pgaReason != "" {
		return nil
	}
	acc := c.tools.pgaAcc
	dir := c.pgAdminDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if !acc.self() {
		if err := os.Chown(dir, acc.uid, acc.gid); err != nil {
			return err
		}
	}
	key, err := readSecret(c.layout, pgAdminSecretKey)
	if err != nil {
		return err
	}
	superPass, err := readSecret(c.layout, "postgres-superuser")
	if err != nil {
		return err
	}
	firstPass, err := readSecret(c.layout, pgAdminSecret)
	if err != nil {
		return err
	}
	servers, err := c.pgAdminServers()
	if err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
	}{
		{"config_local.py", []byte(c.pgAdminConfig(key))},
		{"servers.json", servers},
		{"postgres-password", []byte(superPass + "\n")},
	}
	for _, f := range files {
		if err := writeConfigFile(filepath.Join(dir, f.name), f.data, acc); err != nil {
			return err
		}
	}
	// The setup runs again only when what it loads changed.
	stamp := filepath.Join(dir, ".setup-done")
	want := sha256Hex(string(servers) + pgAdminRemoteUser)
	if old, err := os.ReadFile(stamp); err == nil && strings.TrimSpace(string(old)) == want {
		return nil
	}
	env := append(c.pgAdminEnv(), "PGADMIN_SETUP_EMAIL="+pgAdminSetupEmail, "PGADMIN_SETUP_PASSWORD="+firstPass)
	for _, argv := range c.pgAdminSetupCommands() {
		if _, err := p.runAs(ctx, acc, "pgadmin "+argv[2], env, dir, argv[0], argv[1:]...); err != nil {
			return err
		}
	}
	return writeConfigFile(stamp, []byte(want+"\n"), acc)
}

// AdminTool answers for "mongo-express" or "pgadmin".
func (a *Appliance) AdminTool(name string) (AdminToolEndpoint, error) {
	return a.catalog.adminTool(name, a.sup.Status())
}

// adminTool is AdminTool given the supervisor's statuses.
func (c *catalog) adminTool(name string, statuses []supervisor.Status) (AdminToolEndpoint, error) {
	var ep AdminToolEndpoint
	var reason string
	var port int
	switch name {
	case ServiceMongoExpress:
		reason, port = c.tools.meReason, c.tools.mePort
	case ServicePgAdmin:
		reason, port = c.tools.pgaReason, c.tools.pgaPort
	default:
		return ep, &ToolUnavailableError{Tool: name, Reason: "no such management tool"}
	}
	if reason != "" {
		return ep, &ToolUnavailableError{Tool: name, Reason: reason}
	}
	healthy := false
	for _, st := range statuses {
		if st.Name != name {
			continue
		}
		if st.State != supervisor.StateHealthy {
			why := "not healthy: " + string(st.State)
			if st.Reason != "" {
				why += ": " + strings.ReplaceAll(st.Reason, c.layout.Root, "$DATA")
			}
			return ep, &ToolUnavailableError{Tool: name, Reason: why}
		}
		healthy = true
	}
	if !healthy {
		return ep, &ToolUnavailableError{Tool: name, Reason: "not supervised"}
	}
	ep.URL = &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	switch name {
	case ServiceMongoExpress:
		h, err := c.mongoExpressHeader()
		if err != nil {
			return AdminToolEndpoint{}, &ToolUnavailableError{Tool: name, Reason: err.Error()}
		}
		ep.Header = h
	case ServicePgAdmin:
		ep.StripPrefix = true
		ep.Header = http.Header{}
		ep.Header.Set("X-Script-Name", PgAdminScriptName)
		ep.Header.Set(pgAdminRemoteHeader, pgAdminRemoteUser)
	}
	return ep, nil
}

// runAs runs a one-off command through the reaper as acc, in dir, with
// env added to ours; its output is in the error when it fails.
func (p *provisioner) runAs(ctx context.Context, acc account, step string, env []string, dir, path string, args ...string) (string, error) {
	var cred *syscall.Credential
	if !acc.self() {
		cred = &syscall.Credential{Uid: uint32(acc.uid), Gid: uint32(acc.gid), Groups: []uint32{}}
	}
	return p.start(ctx, step, supervisor.Command{
		Path: path, Args: append([]string{path}, args...),
		Env: append(os.Environ(), env...), Dir: dir, Cred: cred,
	}, nil)
}
