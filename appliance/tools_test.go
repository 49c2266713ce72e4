package appliance

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vanta-ledger/vanta/supervisor"
)

// fakeMachine has node at /usr/bin/node, the files in have, and the
// pgadmin account when pgAccount is set.
func fakeMachine(node bool, pgAccount bool, have ...string) machine {
	return machine{
		lookPath: func(name string) (string, error) {
			if name == "node" && node {
				return "/usr/bin/node", nil
			}
			return "", errors.New("not found")
		},
		exists: func(p string) bool { return slices.Contains(have, p) },
		account: func(name string) (account, error) {
			if !pgAccount {
				return account{}, errors.New(`system user "pgadmin" is needed`)
			}
			return account{name: name, uid: 4242, gid: 4242}, nil
		},
		freePort: func() (int, error) { return 40001, nil },
	}
}

func TestPlanTools(t *testing.T) {
	const dir = "/opt/me"
	app := dir + "/node_modules/mongo-express/app.js"
	pga := []string{pgAdminPython, pgAdminWeb + "/pgAdmin4.py"}
	tests := []struct {
		name       string
		meDir      string
		mePort     int
		m          machine
		meReason   string // prefix; "" runs it
		wantMEPort int
		pgaReason  string
		wantPGPort int
	}{
		{"off", "off", 0, fakeMachine(true, false, app), "disabled: VANTA_MONGO_EXPRESS=off", 0, pgAdminNotInstalled, 0},
		{"not installed", dir, 0, fakeMachine(true, false), "not installed: no " + app, 0, pgAdminNotInstalled, 0},
		{"no node", dir, 0, fakeMachine(false, false, app), "not installed: node not found", 0, pgAdminNotInstalled, 0},
		{"installed, free port", dir, 0, fakeMachine(true, false, app), "", 40001, pgAdminNotInstalled, 0},
		{"installed, fixed port", dir, 9999, fakeMachine(true, false, app), "", 9999, pgAdminNotInstalled, 0},
		{"pgAdmin in the image", dir, 0, fakeMachine(true, true, append([]string{app}, pga...)...), "", 40001, "", 40001},
		{"pgAdmin without its user", "off", 0, fakeMachine(true, false, pga...), "disabled", 0, `not installed: system user "pgadmin"`, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Defaults()
			cfg.MongoExpress, cfg.MongoExpressPort = tc.meDir, tc.mePort
			got, err := planTools(&cfg, tc.m)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(got.meReason, tc.meReason) || (tc.meReason == "") != (got.meReason == "") || got.mePort != tc.wantMEPort {
				t.Errorf("mongo-express %q port %d, want %q port %d", got.meReason, got.mePort, tc.meReason, tc.wantMEPort)
			}
			if tc.meReason == "" && (got.meNode != "/usr/bin/node" || got.meApp != app) {
				t.Errorf("mongo-express runs %s %s", got.meNode, got.meApp)
			}
			if !strings.HasPrefix(got.pgaReason, tc.pgaReason) || (tc.pgaReason == "") != (got.pgaReason == "") || got.pgaPort != tc.wantPGPort {
				t.Errorf("pgadmin %q port %d, want %q port %d", got.pgaReason, got.pgaPort, tc.pgaReason, tc.wantPGPort)
			}
		})
	}
}

// toolsCatalog is a catalog whose tools both run, as in the image.
func toolsCatalog(t *testing.T) *catalog {
	t.Helper()
	cfg := Defaults()
	cfg.DataDir = t.TempDir()
	l := Layout{Root: cfg.DataDir}
	if err := os.MkdirAll(l.Path("secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{mongoExpressSecret, pgAdminSecret, pgAdminSecretKey, "postgres-superuser"} {
		if err := ensureSecret(l.Secret(s)); err != nil {
			t.Fatal(err)
		}
	}
	return &catalog{cfg: &cfg, layout: l, budget: splitBudget(10 * time.Second), engine: "docdb", mongoAcc: currentAccount(),
		tools: tools{meNode: "/usr/bin/node", meApp: "/opt/me/node_modules/mongo-express/app.js", mePort: 40001,
			pgaAcc: account{name: pgAdminUser, uid: 4242, gid: 4242}, pgaPort: 40002}}
}

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		m[k] = v
	}
	return m
}

func TestMongoExpressProgram(t *testing.T) {
	c := toolsCatalog(t)
	p := c.mongoExpress()
	if p.Disabled != "" || p.Command != "/usr/bin/node" || !slices.Equal(p.Args, []string{"--diagnostic-dir=" + c.layout.Path("mongo-express"), c.tools.meApp}) || p.Critical ||
		!slices.Equal(p.DependsOn, []string{ServiceMongo}) || p.Health == nil || p.Health.Func == nil || p.Restart != supervisor.RestartAlways {
		t.Fatalf("program %+v", p)
	}
	env := envMap(p.Env)
	pass, _ := readSecret(c.layout, mongoExpressSecret)
	want := map[string]string{
		"VCAP_APP_HOST":                     "127.0.0.1",
		"PORT":                              "40001",
		"ME_CONFIG_MONGODB_URL":             "mongodb://" + strings.ReplaceAll(c.layout.Path("run", "mongodb", "mongodb.sock"), "/", "%2F"),
		"ME_CONFIG_MONGODB_ENABLE_ADMIN":    "true",
		"ME_CONFIG_SITE_BASEURL":            "/admin/mongo/",
		"ME_CONFIG_BASICAUTH_USERNAME":      "vanta",
		"ME_CONFIG_BASICAUTH_PASSWORD_FILE": c.layout.Path("mongo-express", "password"),
		"ME_CONFIG_OPTIONS_READONLY":        "false",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
	for _, k := range []string{"ME_CONFIG_SITE_COOKIESECRET", "ME_CONFIG_SITE_SESSIONSECRET"} {
		if len(env[k]) != 64 || env[k] == "cookiesecret" || env[k] == "sessionsecret" {
			t.Errorf("%s=%q, want a fresh secret", k, env[k])
		}
	}
	if strings.Contains(strings.Join(p.Env, "\n"), pass) {
		t.Error("the password is in the environment; it belongs in the file")
	}
	// The file it names holds the password, for the account it runs as.
	if err := c.writeMongoExpressFiles(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(env["ME_CONFIG_BASICAUTH_PASSWORD_FILE"]); err != nil || strings.TrimSpace(string(b)) != pass {
		t.Errorf("password file %q %v", b, err)
	}

	// mongod's socket, and an external store, are what it browses then.
	c.engine = "mongod"
	if got := envMap(c.mongoExpress().Env)["ME_CONFIG_MONGODB_URL"]; !strings.HasSuffix(got, "mongodb-27017.sock") {
		t.Errorf("with mongod: %s", got)
	}
	c.cfg.MongoURL = "mongodb://10.0.0.9:27017"
	if p := c.mongoExpress(); envMap(p.Env)["ME_CONFIG_MONGODB_URL"] != c.cfg.MongoURL || len(p.DependsOn) != 0 {
		t.Errorf("with an external store: %v depends on %v", envMap(p.Env)["ME_CONFIG_MONGODB_URL"], p.DependsOn)
	}
}

func TestPgAdminFiles(t *testing.T) {
	c := toolsCatalog(t)
	p := c.pgAdmin()
	if p.Command != pgAdminPython || !slices.Equal(p.Args, []string{pgAdminWeb + "/pgAdmin4.py"}) || p.User != pgAdminUser ||
		!slices.Equal(p.DependsOn, []string{ServicePostgres}) || p.Critical || p.Health == nil {
		t.Fatalf("program %+v", p)
	}
	if env := envMap(p.Env); env["PYTHONPATH"] != c.pgAdminDir() {
		t.Errorf("PYTHONPATH=%q: config_local.py is in %s", env["PYTHONPATH"], c.pgAdminDir())
	}

	key, _ := readSecret(c.layout, pgAdminSecretKey)
	conf := c.pgAdminConfig(key)
	dir := c.layout.Path("pgadmin")
	for _, line := range []string{
		"SERVER_MODE = True",
		"DEFAULT_SERVER = '127.0.0.1'",
		"DEFAULT_SERVER_PORT = 40002",
		`DATA_DIR = "` + dir + `"`,
		`SQLITE_PATH = "` + dir + `/pgadmin4.db"`,
		`LOG_FILE = "` + dir + `/pgadmin4.log"`,
		`SESSION_DB_PATH = "` + dir + `/sessions"`,
		`STORAGE_DIR = "` + dir + `/storage"`,
		`SECRET_KEY = "` + key + `"`,
		"AUTHENTICATION_SOURCES = ['webserver']",
		`WEBSERVER_REMOTE_USER = "X-Vanta-Pgadmin-User"`,
		"MASTER_PASSWORD_REQUIRED = False",
	} {
		if !slices.Contains(strings.Split(conf, "\n"), line) {
			t.Errorf("config_local.py lacks %q:\n%s", line, conf)
		}
	}

	raw, err := c.pgAdminServers()
	if err != nil {
		t.Fatal(err)
	}
	var servers struct {
		Servers map[string]map[string]any
	}
	if err := json.Unmarshal(raw, &servers); err != nil {
		t.Fatal(err)
	}
	s := servers.Servers["1"]
	if len(servers.Servers) != 1 || s["Host"] != c.layout.Path("run", "postgres") || s["Port"] != 5432.0 ||
		s["MaintenanceDB"] != "vanta" || s["Username"] != "postgres" ||
		s["PasswordExecCommand"] != "cat '"+dir+"/postgres-password'" {
		t.Errorf("servers.json %s", raw)
	}

	cmds := c.pgAdminSetupCommands()
	var got []string
	for _, argv := range cmds {
		got = append(got, strings.Join(argv[2:], " "))
	}
	want := []string{"setup-db",
		"add-external-user vanta-god --auth-source webserver --admin",
		"load-servers " + dir + "/servers.json --user vanta-god --auth-source webserver --replace"}
	if !slices.Equal(got, want) {
		t.Errorf("setup commands %q, want %q", got, want)
	}
}

// The boot order: data services, model servers, pgAdmin, Mongo Express,
// then the operator's programs.
func TestToolsOrder(t *testing.T) {
	c := toolsCatalog(t)
	c.cfg.Programs = []ProgramConfig{{Name: "shipper", Command: "/bin/true"}}
	var names []string
	for _, p := range c.programs() {
		names = append(names, p.Name)
	}
	want := []string{"postgres", "redis", "mongodb", "llama", "pgadmin", "mongo-express", "shipper"}
	if !slices.Equal(names, want) {
		t.Fatalf("programs %v, want %v", names, want)
	}
}

func TestAdminTool(t *testing.T) {
	c := toolsCatalog(t)
	healthy := []supervisor.Status{{Name: ServicePgAdmin, State: supervisor.StateHealthy}, {Name: ServiceMongoExpress, State: supervisor.StateHealthy}}
	pass, _ := readSecret(c.layout, mongoExpressSecret)

	ep, err := c.adminTool(ServiceMongoExpress, healthy)
	if err != nil || ep.URL.String() != "http://127.0.0.1:40001" || ep.StripPrefix ||
		ep.Header.Get("Authorization") != "Basic "+base64.StdEncoding.EncodeToString([]byte("vanta:"+pass)) {
		t.Errorf("mongo-express %+v %v", ep, err)
	}
	ep, err = c.adminTool(ServicePgAdmin, healthy)
	if err != nil || ep.URL.String() != "http://127.0.0.1:40002" || !ep.StripPrefix ||
		ep.Header.Get("X-Script-Name") != "/admin/pgadmin" || ep.Header.Get("X-Vanta-Pgadmin-User") != "vanta-god" {
		t.Errorf("pgadmin %+v %v", ep, err)
	}

	starting := []supervisor.Status{{Name: ServiceMongoExpress, State: supervisor.StateBackoff, Reason: "exited 1 in " + c.layout.Root}}
	disabled := toolsCatalog(t)
	disabled.tools.pgaReason = pgAdminNotInstalled
	tests := []struct {
		name, tool string
		c          *catalog
		statuses   []supervisor.Status
		reason     string
	}{
		{"unknown tool", "phpmyadmin", c, healthy, "no such management tool"},
		{"disabled", ServicePgAdmin, disabled, healthy, pgAdminNotInstalled},
		{"not healthy", ServiceMongoExpress, c, starting, "not healthy: backoff: exited 1 in $DATA"},
		{"not supervised", ServiceMongoExpress, c, nil, "not supervised"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.c.adminTool(tc.tool, tc.statuses)
			var te *ToolUnavailableError
			if !errors.As(err, &te) || te.Tool != tc.tool || te.Reason != tc.reason {
				t.Fatalf("err %v, want ToolUnavailableError{%s, %q}", err, tc.tool, tc.reason)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("message %q lacks the reason", err)
			}
		})
	}
}

// The provisioning step writes pgAdmin's files for its account only.
func TestPgAdminFilesOnDisk(t *testing.T) {
	c := toolsCatalog(t)
	c.tools.pgaAcc = currentAccount()
	dir := c.pgAdminDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// A finished setup is not run again while servers.json is the same.
	servers, _ := c.pgAdminServers()
	if err := os.WriteFile(filepath.Join(dir, ".setup-done"), []byte(sha256Hex(string(servers)+pgAdminRemoteUser)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.setupPgAdmin(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	superPass, _ := readSecret(c.layout, "postgres-superuser")
	for name, want := range map[string]string{"config_local.py": "SERVER_MODE = True", "servers.json": `"Username": "postgres"`, "postgres-password": superPass} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s: %v\n%s", name, err, b)
		}
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v %v", name, st.Mode(), err)
		}
	}
}
