package appliance

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vanta-ledger/vanta/internal/quota"
)

// Each section refuses its bad values with a FieldError naming the field
// and the value.
func TestSectionsNameTheBadValue(t *testing.T) {
	tests := []struct {
		name, field, value string
		edit               func(*Config)
	}{
		{"negative user quota", "quota_user_rpm", "-1", func(c *Config) { c.QuotaUserRPM = -1 }},
		{"negative company quota", "quota_company_rpm", "-2", func(c *Config) { c.QuotaCompanyRPM = -2 }},
		{"negative AI quota", "quota_ai_per_hour", "-3", func(c *Config) { c.QuotaAIPerHour = -3 }},
		{"negative storage", "quota_storage_bytes", "-4", func(c *Config) { c.QuotaStorageBytes = -4 }},
		{"too many proxies", "trusted_proxies", "11", func(c *Config) { c.TrustedProxies = 11 }},
		{"GOD network", "god_allow[1]", "10.0.0.0/33", func(c *Config) { c.GODAllow = []string{"10.0.0.0/8", "10.0.0.0/33"} }},
		{"TLS switch", "tls", "maybe", func(c *Config) { c.TLS = "maybe" }},
		{"key without certificate", "tls_cert", "", func(c *Config) { c.TLSKey = "/k.pem" }},
		{"negative brute-force count", "security_brute_force_failures", "-1", func(c *Config) { c.SecurityBruteForceFailures = -1 }},
		{"brute-force window too short", "security_brute_force_window", "30s", func(c *Config) { c.SecurityBruteForceWindow = Duration(30 * time.Second) }},
		{"retention below GOD's days", "security_retention_days", "7", func(c *Config) { c.SecurityRetentionDays = 7 }},
		{"backup recipient", "backup_recipients", "age1nope", func(c *Config) { c.BackupRecipients = "age1nope" }},
		{"backup schedule", "backup_schedule", "full yearly", func(c *Config) { c.BackupSchedule = "full yearly" }},
		{"backup retention", "backup_retention", "daily=-1", func(c *Config) { c.BackupRetention = "daily=-1" }},
		{"Mongo Express where", "mongo_express", "node_modules", func(c *Config) { c.MongoExpress = "node_modules" }},
		{"Mongo Express port", "mongo_express_port", "70000", func(c *Config) { c.MongoExpressPort = 70000 }},
		{"pgAdmin port", "pgadmin_port", "-1", func(c *Config) { c.PgAdminPort = -1 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Defaults()
			tc.edit(&cfg)
			err := cfg.Validate()
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field || fe.Value != tc.value {
				t.Fatalf("err %v, want a FieldError for %s=%q", err, tc.field, tc.value)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%s=%q", tc.field, tc.value)) {
				t.Fatalf("message %q does not name %s=%q", err, tc.field, tc.value)
			}
		})
	}
}

// The quota defaults have one source, internal/quota: the configuration
// shows them, and 0 from a variable means them.
func TestQuotaDefaultsHaveOneSource(t *testing.T) {
	def := Defaults()
	if def.QuotaUserRPM != quota.DefaultUserPerMinute || def.QuotaCompanyRPM != quota.DefaultCompanyPerMinute ||
		def.QuotaAIPerHour != quota.DefaultAIPerHour || def.QuotaStorageBytes != quota.DefaultStorageBytes {
		t.Fatalf("Defaults() quotas %+v differ from internal/quota's", def.QuotaConfig)
	}
	cfg := Defaults()
	env := map[string]string{"VANTA_QUOTA_USER_RPM": "0", "VANTA_QUOTA_STORAGE_BYTES": "0", "VANTA_QUOTA_AI_PER_HOUR": "7"}
	if err := cfg.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	want := def.QuotaConfig
	want.QuotaAIPerHour = 7
	if cfg.QuotaConfig != want {
		t.Fatalf("after 0, 0 and 7: %+v, want %+v", cfg.QuotaConfig, want)
	}
}

// TestREADMEConfigTable keeps the README's configuration table in step
// with the code: every flag, variable and YAML key it lists exists, every
// one that exists is listed, and a default it quotes is Defaults()'s.
func TestREADMEConfigTable(t *testing.T) {
	text, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| (`--[a-z-]+`)? ?\\| (`VANTA_[A-Z0-9_]+`)? ?\\| (`[a-z0-9_]+`)? ?\\| ([^|]*)\\|")
	code := regexp.MustCompile("`([^`]*)`")
	unquote := func(s string) string {
		if m := code.FindStringSubmatch(s); m != nil {
			return m[1]
		}
		return ""
	}

	var defaults map[string]any
	raw, err := yaml.Marshal(Defaults())
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &defaults); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	cfg := Defaults()
	cfg.RegisterFlags(fs)
	flags := map[string]bool{"config": true} // read before the others, in cmd/vanta
	fs.VisitAll(func(f *flag.Flag) { flags[f.Name] = true })
	vars := map[string]bool{"VANTA_CONFIG": true}
	for _, v := range cfg.envVars() {
		vars[v.name] = true
	}
	keys := map[string]bool{}
	for _, k := range yamlKeys(reflect.TypeOf(Config{})) {
		keys[k] = true
	}

	listed := map[string]bool{}
	rows := row.FindAllStringSubmatch(string(text), -1)
	if len(rows) < 20 {
		t.Fatalf("found %d rows in the README's configuration table", len(rows))
	}
	for _, r := range rows {
		fl, v, key, def := unquote(r[1]), unquote(r[2]), unquote(r[3]), strings.TrimSpace(r[4])
		switch {
		case fl != "" && !flags[strings.TrimPrefix(fl, "--")]:
			t.Errorf("README lists the flag %s, which does not exist", fl)
		case v != "" && !vars[v]:
			t.Errorf("README lists the variable %s, which nothing reads", v)
		case key != "" && !keys[key]:
			t.Errorf("README lists the YAML key %s, which the config refuses", key)
		}
		listed[fl], listed[v], listed[key] = true, true, true
		if key == "" || !strings.HasPrefix(def, "`") {
			continue // no default, or one in words ("found", "anywhere")
		}
		if got := fmt.Sprint(defaults[key]); got != unquote(def) {
			t.Errorf("README says %s defaults to %s; Defaults() has %s", key, unquote(def), got)
		}
	}
	for f := range flags {
		if !listed["--"+f] {
			t.Errorf("the flag --%s is not in the README's table", f)
		}
	}
	for v := range vars {
		if !listed[v] {
			t.Errorf("the variable %s is not in the README's table", v)
		}
	}
	for k := range keys {
		if !listed[k] {
			t.Errorf("the YAML key %s is not in the README's table", k)
		}
	}
}

// The tools section from the environment: off, a directory, ports.
func TestToolsFromEnv(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want ToolsConfig
	}{
		{nil, ToolsConfig{MongoExpress: DefaultMongoExpressDir}},
		{map[string]string{"VANTA_MONGO_EXPRESS": "off"}, ToolsConfig{MongoExpress: "off"}},
		{map[string]string{"VANTA_MONGO_EXPRESS": "/opt/me", "VANTA_MONGO_EXPRESS_PORT": "8091", "VANTA_PGADMIN_PORT": "5050"},
			ToolsConfig{MongoExpress: "/opt/me", MongoExpressPort: 8091, PgAdminPort: 5050}},
	}
	for _, tc := range tests {
		cfg := Defaults()
		if err := cfg.LoadEnv(func(k string) string { return tc.env[k] }); err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		if cfg.ToolsConfig != tc.want {
			t.Errorf("%v: %+v, want %+v", tc.env, cfg.ToolsConfig, tc.want)
		}
	}
}
