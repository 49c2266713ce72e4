package appliance

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vanta-ledger/vanta/internal/backup"
	"github.com/vanta-ledger/vanta/internal/quota"
	"github.com/vanta-ledger/vanta/internal/security"
	"github.com/vanta-ledger/vanta/supervisor"
)

// DefaultConfigFile is where the image keeps the appliance config.
const DefaultConfigFile = "/etc/vanta/appliance.yaml"

// Config is the appliance configuration: defaults, then the YAML file,
// then VANTA_* environment variables, then flags, each overriding the last.
// It is made of sections, each with its own Defaults and checks; they are
// embedded inline, so YAML keys stay flat and fields are reached as
// before (cfg.KeyProvider).
type Config struct {
	DataDir     string   `yaml:"data"`
	Listen      string   `yaml:"listen"`
	StopTimeout Duration `yaml:"stop_timeout"`
	// MongoEngine picks the document store: auto (mongod when on PATH,
	// else the embedded docdb), mongod, or docdb.
	MongoEngine string `yaml:"mongo_engine"`
	// PostgresBin is the directory holding initdb and postgres; empty
	// means the first of PATH and /usr/lib/postgresql/*/bin that has them.
	PostgresBin string `yaml:"postgres_bin"`

	KeyConfig      `yaml:",inline"`
	AccessConfig   `yaml:",inline"`
	QuotaConfig    `yaml:",inline"`
	DocumentConfig `yaml:",inline"`
	ExternalConfig `yaml:",inline"`
	LLMConfig      `yaml:",inline"`
	BackupConfig   `yaml:",inline"`
	SecurityConfig `yaml:",inline"`

	// Programs are extra programs an operator adds beside the built-in
	// services (a log shipper, a metrics agent).
	Programs []ProgramConfig `yaml:"programs"`

	TLSConfig `yaml:",inline"`

	AlertConfig `yaml:",inline"`

	ToolsConfig `yaml:",inline"`

	// Executable is the path of our own binary, run as `vanta docdb`.
	Executable string `yaml:"-"`
}

// KeyConfig is where the key-encryption key lives.
type KeyConfig struct {
	// KeyProvider holds the key-encryption key: software (Argon2id, the
	// default) or pkcs11 (an HSM token that the shares unlock).
	KeyProvider  string `yaml:"key_provider"`
	PKCS11Module string `yaml:"pkcs11_module"`
	PKCS11Token  string `yaml:"pkcs11_token"`
	// PKCS11SOPIN is the token's security-officer PIN, needed once, at
	// init; only ever from the environment, never from a file in the image.
	PKCS11SOPIN string `yaml:"-"`
}

// Defaults is the key section when nothing is set.
func (KeyConfig) Defaults() KeyConfig { return KeyConfig{KeyProvider: "software"} }

// AccessConfig is how the API sees its clients and names itself.
type AccessConfig struct {
	// TrustedProxies is how many reverse proxies stand in front of the
	// API: the client address is read that many hops from the right of
	// X-Forwarded-For. Zero trusts no header.
	TrustedProxies int `yaml:"trusted_proxies"`
	// GODAllow, when set, lists the networks (CIDR) GOD may log in and act
	// from; anywhere else is refused and recorded.
	GODAllow []string `yaml:"god_allow"`
	// PublicURL is where people reach the console (https://ledger.example.co.ke),
	// for the absolute links the appliance hands out (accept_url of an
	// invitation); empty: links are relative paths only.
	PublicURL string `yaml:"public_url"`
}

// Defaults is the access section when nothing is set: no proxy, GOD from
// anywhere, relative links.
func (AccessConfig) Defaults() AccessConfig { return AccessConfig{} }

// QuotaConfig is the request quotas and per-company allowances; 0 (as a
// variable or flag) means the default, which internal/quota defines.
type QuotaConfig struct {
	// Request quotas per minute, per user and per company.
	QuotaUserRPM    int `yaml:"quota_user_rpm"`
	QuotaCompanyRPM int `yaml:"quota_company_rpm"`
	// Per-company allowances for AI requests an hour and stored bytes.
	QuotaAIPerHour    int   `yaml:"quota_ai_per_hour"`
	QuotaStorageBytes int64 `yaml:"quota_storage_bytes"`
}

// Defaults is the quota section when nothing is set.
func (QuotaConfig) Defaults() QuotaConfig {
	return QuotaConfig{QuotaUserRPM: quota.DefaultUserPerMinute, QuotaCompanyRPM: quota.DefaultCompanyPerMinute,
		QuotaAIPerHour: quota.DefaultAIPerHour, QuotaStorageBytes: quota.DefaultStorageBytes}
}

// DocumentConfig is document intake and its pipeline; 0 means the
// default.
type DocumentConfig struct {
	// DocumentMaxBytes is the largest document an upload may carry (413
	// beyond).
	DocumentMaxBytes int64 `yaml:"document_max_bytes"`
	// DocumentWorkers is how many documents the pipeline reads at once;
	// each OCRs its pages in parallel too, so a few are enough.
	DocumentWorkers int `yaml:"document_workers"`
}

// DefaultDocumentMaxBytes is 50 MiB: a phone's scan of a long invoice is
// a few MiB, and a larger PDF is an archive, not a document.
const DefaultDocumentMaxBytes = 50 << 20

// Defaults is the documents section when nothing is set: 50 MiB, and two
// workers (the appliance's smallest machine has two cores).
func (DocumentConfig) Defaults() DocumentConfig {
	return DocumentConfig{DocumentMaxBytes: DefaultDocumentMaxBytes, DocumentWorkers: 2}
}

func (c *DocumentConfig) validate(bad badFunc) {
	def := DocumentConfig{}.Defaults()
	switch {
	case c.DocumentMaxBytes < 0:
		bad("document_max_bytes", strconv.FormatInt(c.DocumentMaxBytes, 10), errors.New("must not be negative (0: the default)"))
	case c.DocumentMaxBytes == 0:
		c.DocumentMaxBytes = def.DocumentMaxBytes
	}
	switch {
	case c.DocumentWorkers < 0 || c.DocumentWorkers > 64:
		bad("document_workers", strconv.Itoa(c.DocumentWorkers), errors.New("must be between 0 and 64 (0: the default)"))
	case c.DocumentWorkers == 0:
		c.DocumentWorkers = def.DocumentWorkers
	}
}

// ExternalConfig names external servers: when set, that service is not
// started here.
type ExternalConfig struct {
	PostgresURL string `yaml:"postgres_url"`
	RedisURL    string `yaml:"redis_url"`
	MongoURL    string `yaml:"mongo_url"`
}

// Defaults is the external section when nothing is set: every service
// runs here.
func (ExternalConfig) Defaults() ExternalConfig { return ExternalConfig{} }

// LLMConfig is the local model servers: one llama-server per GGUF model
// in $DATA/models, and model servers run elsewhere.
type LLMConfig struct {
	// LlamaServer is the llama-server command: a name looked up in PATH
	// or a path (the test bed's wrapper, scripts/llm-testbed).
	LlamaServer string `yaml:"llama_server"`
	// LLMMemoryMB is the memory the model servers may take together; a
	// model whose file does not fit in what is left is not started (and
	// status says why). 0: half of the machine's memory.
	LLMMemoryMB int `yaml:"llm_memory_mb"`
	// LLMContext caps each server's context (-c): the model's own
	// context length, at most this many tokens. The KV cache grows with
	// it, and a document's fields never need more.
	LLMContext int `yaml:"llm_context"`
	// LLMPort is the first model server's loopback port; the i-th model
	// (by file name) listens on LLMPort+i.
	LLMPort int `yaml:"llm_port"`
	// LLMURLs are llama-server base URLs run elsewhere (a GPU box), used
	// besides the local servers.
	LLMURLs []string `yaml:"llm_urls"`
}

// Defaults is the LLM section when nothing is set.
func (LLMConfig) Defaults() LLMConfig {
	return LLMConfig{LlamaServer: "llama-server", LLMContext: 4096, LLMPort: 8081}
}

func (c *LLMConfig) validate(bad badFunc) {
	if strings.TrimSpace(c.LlamaServer) == "" {
		bad("llama_server", c.LlamaServer, errors.New("must name the llama-server command (default llama-server, from PATH)"))
	}
	if c.LLMMemoryMB < 0 {
		bad("llm_memory_mb", strconv.Itoa(c.LLMMemoryMB), errors.New("must not be negative (0: half of the machine's memory)"))
	}
	if c.LLMContext < 256 || c.LLMContext > 131072 {
		bad("llm_context", strconv.Itoa(c.LLMContext), errors.New("must be from 256 to 131072 tokens"))
	}
	if c.LLMPort < 1 || c.LLMPort > 65535-64 {
		bad("llm_port", strconv.Itoa(c.LLMPort), errors.New("must be a port from 1 to 65471 (models take the ports after it)"))
	}
	for i, u := range c.LLMURLs {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.User != nil || p.RawQuery != "" || p.Fragment != "" {
			bad(fmt.Sprintf("llm_urls[%d]", i), u, errors.New("want a base URL like http://10.0.0.5:8080"))
			continue
		}
		c.LLMURLs[i] = strings.TrimRight(u, "/")
	}
}

// BackupConfig is where backups go: the pgBackRest repository (WAL
// archive included) under BackupDir/pgbackrest.
type BackupConfig struct {
	// BackupDir holds the backups; empty: $DATA/backups. Validate makes
	// it absolute.
	BackupDir string `yaml:"backup_dir"`
	// BackupRecipients are age public keys (age1…), comma separated; empty:
	// an identity generated on the box ($DATA/secrets/backup-identity.age).
	BackupRecipients string `yaml:"backup_recipients"`
	// BackupSchedule is "KIND PERIOD [at HH:MM]" entries (UTC), or "off".
	BackupSchedule string `yaml:"backup_schedule"`
	// BackupRetention is daily=N,weekly=N,monthly=N.
	BackupRetention string `yaml:"backup_retention"`
}

// Defaults is the backup section when nothing is set.
func (BackupConfig) Defaults() BackupConfig {
	return BackupConfig{BackupSchedule: backup.DefaultSchedule, BackupRetention: backup.DefaultRetention}
}

func (c *BackupConfig) validate(bad badFunc, dataDir string) {
	if c.BackupDir == "" {
		if dataDir != "" {
			c.BackupDir = filepath.Join(dataDir, "backups")
		}
		return
	}
	abs, err := filepath.Abs(c.BackupDir)
	if err != nil {
		bad("backup_dir", c.BackupDir, err)
		return
	}
	c.BackupDir = abs
}

// TLSConfig is the listener's TLS: on (the default: the operator's
// certificate, or one made at first boot) or off (plain HTTP, only behind
// a TLS proxy).
type TLSConfig struct {
	TLS     TLSSwitch `yaml:"tls"`
	TLSCert string    `yaml:"tls_cert"`
	TLSKey  string    `yaml:"tls_key"`
}

// Defaults is the TLS section when nothing is set.
func (TLSConfig) Defaults() TLSConfig { return TLSConfig{TLS: "on"} }

// ProgramConfig is an operator-defined program in appliance.yaml.
type ProgramConfig struct {
	Name       string       `yaml:"name"`
	Command    string       `yaml:"command"`
	Args       []string     `yaml:"args"`
	Env        []string     `yaml:"env"`
	Dir        string       `yaml:"dir"`
	User       string       `yaml:"user"`
	DependsOn  []string     `yaml:"depends_on"`
	Critical   bool         `yaml:"critical"`
	Restart    string       `yaml:"restart"`
	StopSignal string       `yaml:"stop_signal"`
	StopGrace  string       `yaml:"stop_grace"`
	Health     *HealthCheck `yaml:"health"`
	Backoff    *Backoff     `yaml:"backoff"`
}

// Backoff is a program's restart backoff in appliance.yaml.
type Backoff struct {
	Initial string `yaml:"initial"`
	Max     string `yaml:"max"`
	Retries int    `yaml:"retries"`
}

// HealthCheck is a program's health check in appliance.yaml.
type HealthCheck struct {
	Exec             []string `yaml:"exec"`
	TCP              string   `yaml:"tcp"`
	HTTP             string   `yaml:"http"`
	Interval         string   `yaml:"interval"`
	Timeout          string   `yaml:"timeout"`
	StartPeriod      string   `yaml:"start_period"`
	FailureThreshold int      `yaml:"failure_threshold"`
}

// Duration is a time.Duration written as "10s" or "1m30s" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(node *yaml.Node) error {
	v, err := time.ParseDuration(node.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 10s or 1m30s", node.Line, node.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as it is read, "10s".
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Defaults returns the configuration used when nothing is set: the one
// place defaults come from (each section's Defaults).
func Defaults() Config {
	return Config{
		DataDir:        "/var/lib/vanta",
		Listen:         ":8443",
		StopTimeout:    Duration(10 * time.Second),
		MongoEngine:    "auto",
		KeyConfig:      KeyConfig{}.Defaults(),
		AccessConfig:   AccessConfig{}.Defaults(),
		QuotaConfig:    QuotaConfig{}.Defaults(),
		DocumentConfig: DocumentConfig{}.Defaults(),
		ExternalConfig: ExternalConfig{}.Defaults(),
		LLMConfig:      LLMConfig{}.Defaults(),
		SecurityConfig: SecurityConfig{}.Defaults(),
		TLSConfig:      TLSConfig{}.Defaults(),
		BackupConfig:   BackupConfig{}.Defaults(),
		AlertConfig:    AlertConfig{}.Defaults(),
		ToolsConfig:    ToolsConfig{}.Defaults(),
	}
}

// TLSSwitch is on or off; YAML's bare on/off/true/false all read as such.
type TLSSwitch string

// UnmarshalYAML takes the scalar as written, so `tls: off` and `tls: false`
// are the same.
func (s *TLSSwitch) UnmarshalYAML(node *yaml.Node) error {
	*s = TLSSwitch(node.Value)
	return nil
}

// FieldError names the configuration field (or flag, or variable) at fault.
type FieldError struct {
	Source string // file path, "environment" or "flags"
	Field  string
	Value  string
	Err    error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("config %s: %s=%q: %v", e.Source, e.Field, e.Value, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// LoadFile merges the YAML file at path into c. A missing file is fine
// when optional is true; unknown keys are errors, so a typo is not silently
// ignored.
func (c *Config) LoadFile(path string, optional bool) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && optional {
		return nil
	}
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) { // EOF: an empty file
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// envVars maps each VANTA_* variable to the field it sets.
func (c *Config) envVars() []struct {
	name string
	set  func(string) error
} {
	str := func(p *string) func(string) error { return func(v string) error { *p = v; return nil } }
	return []struct {
		name string
		set  func(string) error
	}{
		{"VANTA_DATA", str(&c.DataDir)},
		{"VANTA_LISTEN", str(&c.Listen)},
		{"VANTA_STOP_TIMEOUT", func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return errors.New("want a duration like 10s or 1m30s")
			}
			c.StopTimeout = Duration(d)
			return nil
		}},
		{"VANTA_MONGO_ENGINE", str(&c.MongoEngine)},
		{"VANTA_POSTGRES_BIN", str(&c.PostgresBin)},
		{"VANTA_TRUSTED_PROXIES", intVar(&c.TrustedProxies)},
		{"VANTA_QUOTA_USER_RPM", intVar(&c.QuotaUserRPM)},
		{"VANTA_QUOTA_COMPANY_RPM", intVar(&c.QuotaCompanyRPM)},
		{"VANTA_QUOTA_AI_PER_HOUR", intVar(&c.QuotaAIPerHour)},
		{"VANTA_QUOTA_STORAGE_BYTES", func(v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return errors.New("want a whole number of bytes, like 10737418240 (0: the default)")
			}
			c.QuotaStorageBytes = n
			return nil
		}},
		{"VANTA_DOCUMENT_MAX_BYTES", func(v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return errors.New("want a whole number of bytes, like 52428800 (0: the default)")
			}
			c.DocumentMaxBytes = n
			return nil
		}},
		{"VANTA_DOCUMENT_WORKERS", intVar(&c.DocumentWorkers)},
		{"VANTA_GOD_ALLOW", func(v string) error {
			c.GODAllow = nil
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					c.GODAllow = append(c.GODAllow, p)
				}
			}
			return nil
		}},
		{"VANTA_PUBLIC_URL", str(&c.PublicURL)},
		{"VANTA_KEY_PROVIDER", str(&c.KeyProvider)},
		{"VANTA_PKCS11_MODULE", str(&c.PKCS11Module)},
		{"VANTA_PKCS11_TOKEN", str(&c.PKCS11Token)},
		{"VANTA_PKCS11_SO_PIN", str(&c.PKCS11SOPIN)},
		{"VANTA_POSTGRES_URL", str(&c.PostgresURL)},
		{"VANTA_REDIS_URL", str(&c.RedisURL)},
		{"VANTA_MONGO_URL", str(&c.MongoURL)},
		{"VANTA_TLS", func(v string) error { c.TLS = TLSSwitch(v); return nil }},
		{"VANTA_TLS_CERT", str(&c.TLSCert)},
		{"VANTA_TLS_KEY", str(&c.TLSKey)},
		{"VANTA_LLAMA_SERVER", str(&c.LlamaServer)},
		{"VANTA_LLM_MEMORY_MB", intVar(&c.LLMMemoryMB)},
		{"VANTA_BACKUP_RECIPIENTS", str(&c.BackupRecipients)},
		{"VANTA_BACKUP_SCHEDULE", str(&c.BackupSchedule)},
		{"VANTA_BACKUP_RETENTION", str(&c.BackupRetention)},
		{"VANTA_LLM_CONTEXT", intVar(&c.LLMContext)},
		{"VANTA_LLM_PORT", intVar(&c.LLMPort)},
		{"VANTA_SECURITY_BRUTE_FORCE_FAILURES", intVar(&c.SecurityBruteForceFailures)},
		{"VANTA_SECURITY_BRUTE_FORCE_WINDOW", func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return errors.New("want a duration like 10m")
			}
			c.SecurityBruteForceWindow = Duration(d)
			return nil
		}},
		{"VANTA_SECURITY_GOD_NEW_ADDRESS_DAYS", intVar(&c.SecurityGODNewAddressDays)},
		{"VANTA_SECURITY_RETENTION_DAYS", intVar(&c.SecurityRetentionDays)},
		{"VANTA_ALERT_WEBHOOK", str(&c.AlertWebhook)},
		{"VANTA_ALERT_SMTP", str(&c.AlertSMTP)},
		{"VANTA_ALERT_EMAIL_TO", str(&c.AlertEmailTo)},
		{"VANTA_ALERT_EMAIL_FROM", str(&c.AlertEmailFrom)},
		{"VANTA_ALERT_INTERVAL", func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return errors.New("want a duration like 30s or 1m")
			}
			c.AlertInterval = Duration(d)
			return nil
		}},
		{"VANTA_LLM_URLS", func(v string) error {
			c.LLMURLs = nil
			for _, u := range strings.Split(v, ",") {
				if u = strings.TrimSpace(u); u != "" {
					c.LLMURLs = append(c.LLMURLs, u)
				}
			}
			return nil
		}},
		{"VANTA_BACKUP_DIR", str(&c.BackupDir)},
		{"VANTA_MONGO_EXPRESS", str(&c.MongoExpress)},
		{"VANTA_MONGO_EXPRESS_PORT", intVar(&c.MongoExpressPort)},
		{"VANTA_PGADMIN_PORT", intVar(&c.PgAdminPort)},
	}
}

// intVar parses a whole number; the error says what is wanted rather than
// quoting strconv, since FieldError already names the variable and value.
func intVar(p *int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("want a whole number, like 600 (0: the default)")
		}
		*p = n
		return nil
	}
}

// LoadEnv merges VANTA_* variables from getenv into c.
func (c *Config) LoadEnv(getenv func(string) string) error {
	for _, v := range c.envVars() {
		if val := getenv(v.name); val != "" {
			if err := v.set(val); err != nil {
				return &FieldError{Source: "environment", Field: v.name, Value: val, Err: err}
			}
		}
	}
	return nil
}

// RegisterFlags defines the flags that override c on fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data", c.DataDir, "data directory (env VANTA_DATA)")
	fs.StringVar(&c.Listen, "listen", c.Listen, "API listen address (env VANTA_LISTEN)")
	fs.DurationVar((*time.Duration)(&c.StopTimeout), "stop-timeout", time.Duration(c.StopTimeout), "total shutdown budget; match docker's --stop-timeout (env VANTA_STOP_TIMEOUT)")
	fs.StringVar(&c.MongoEngine, "mongo-engine", c.MongoEngine, "document store: auto, mongod or docdb (env VANTA_MONGO_ENGINE)")
	fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "where people reach the console, for absolute links such as invitations' (env VANTA_PUBLIC_URL)")
	fs.StringVar((*string)(&c.TLS), "tls", string(c.TLS), "on: HTTPS (self-signed at first boot unless VANTA_TLS_CERT is set); off: plain HTTP, only behind a TLS proxy (env VANTA_TLS)")
}

// checkPublicURL accepts an absolute http or https URL of a host, with an
// optional path, and returns it without a trailing slash. Anything a link
// could be bent with (user info, query, fragment) is refused.
func checkPublicURL(v string) (string, error) {
	u, err := url.Parse(v)
	switch {
	case err != nil:
		return "", errors.New("not a URL")
	case u.Scheme != "https" && u.Scheme != "http":
		return "", errors.New("must be an absolute http or https URL like https://ledger.example.co.ke")
	case u.Host == "" || u.Hostname() == "":
		return "", errors.New("names no host")
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(v, "#"):
		return "", errors.New("must not carry user info, a query or a fragment")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", errors.New("port must be 1 to 65535")
		}
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// GODNetworks is GODAllow parsed; call after Validate.
func (c *AccessConfig) GODNetworks() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range c.GODAllow {
		if pr, err := netip.ParsePrefix(p); err == nil {
			out = append(out, pr.Masked())
		}
	}
	return out
}

// Validate checks every field and resolves DataDir to an absolute path.
func (c *Config) Validate() error {
	var errs []error
	var bad badFunc = func(field, value string, err error) {
		errs = append(errs, &FieldError{Source: "config", Field: field, Value: value, Err: err})
	}
	if c.DataDir == "" {
		bad("data", c.DataDir, errors.New("must not be empty"))
	} else if abs, err := filepath.Abs(c.DataDir); err != nil {
		bad("data", c.DataDir, err)
	} else {
		c.DataDir = abs
		// Unix socket paths are limited to 107 bytes; ours are the longest
		// paths under DataDir.
		if sock := c.socketPath("postgres") + "/.s.PGSQL.5432"; len(sock) > 107 {
			bad("data", c.DataDir, fmt.Errorf("too long: socket path %s exceeds 107 bytes", sock))
		}
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", c.Listen, fmt.Errorf("want host:port like :8443 or 127.0.0.1:8443 (--listen, VANTA_LISTEN): %w", err))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		// net.Listen would refuse it only after provisioning.
		bad("listen", c.Listen, errors.New("port must be a number from 0 to 65535 (--listen, VANTA_LISTEN)"))
	}
	if time.Duration(c.StopTimeout) < 2*time.Second {
		bad("stop_timeout", time.Duration(c.StopTimeout).String(), errors.New("must be at least 2s"))
	}
	switch c.MongoEngine {
	case "auto", "mongod", "docdb":
	default:
		bad("mongo_engine", c.MongoEngine, errors.New("must be auto, mongod or docdb"))
	}
	c.KeyConfig.validate(bad)
	c.AccessConfig.validate(bad)
	c.QuotaConfig.validate(bad)
	c.DocumentConfig.validate(bad)
	c.TLSConfig.validate(bad)
	c.LLMConfig.validate(bad)
	c.BackupConfig.validate(bad, c.DataDir)
	c.SecurityConfig.validate(bad)
	c.AlertConfig.validate(bad)
	c.ToolsConfig.validate(bad)
	c.BackupConfig.validateSets(bad)
	for i, p := range c.Programs {
		if _, err := p.program(); err != nil {
			bad(fmt.Sprintf("programs[%d]", i), p.Name, err)
		}
	}
	return errors.Join(errs...)
}

// badFunc records a bad value of a field.
type badFunc func(field, value string, err error)

func (c *KeyConfig) validate(bad badFunc) {
	switch c.KeyProvider {
	case "software":
	case "pkcs11":
		if c.PKCS11Module == "" {
			bad("pkcs11_module", c.PKCS11Module, errors.New("required with key_provider pkcs11 (the token's PKCS#11 library)"))
		}
		if c.PKCS11Token == "" {
			bad("pkcs11_token", c.PKCS11Token, errors.New("required with key_provider pkcs11 (the token's label)"))
		}
	default:
		bad("key_provider", c.KeyProvider, errors.New("must be software or pkcs11"))
	}
}

func (c *AccessConfig) validate(bad badFunc) {
	if c.PublicURL != "" {
		if u, err := checkPublicURL(c.PublicURL); err != nil {
			bad("public_url", c.PublicURL, err)
		} else {
			c.PublicURL = u
		}
	}
	for i, p := range c.GODAllow {
		if _, err := netip.ParsePrefix(p); err != nil {
			bad(fmt.Sprintf("god_allow[%d]", i), p, errors.New("not a CIDR like 10.0.0.0/8"))
		}
	}
	if c.TrustedProxies < 0 || c.TrustedProxies > 10 {
		bad("trusted_proxies", strconv.Itoa(c.TrustedProxies), errors.New("must be between 0 and 10"))
	}
}

// validate refuses a negative quota and gives 0 its default.
func (c *QuotaConfig) validate(bad badFunc) {
	def := QuotaConfig{}.Defaults()
	ints := []struct {
		field string
		v     *int
		def   int
	}{
		{"quota_user_rpm", &c.QuotaUserRPM, def.QuotaUserRPM},
		{"quota_company_rpm", &c.QuotaCompanyRPM, def.QuotaCompanyRPM},
		{"quota_ai_per_hour", &c.QuotaAIPerHour, def.QuotaAIPerHour},
	}
	for _, f := range ints {
		switch {
		case *f.v < 0:
			bad(f.field, strconv.Itoa(*f.v), errors.New("must not be negative (0: the default)"))
		case *f.v == 0:
			*f.v = f.def
		}
	}
	switch {
	case c.QuotaStorageBytes < 0:
		bad("quota_storage_bytes", strconv.FormatInt(c.QuotaStorageBytes, 10), errors.New("must not be negative (0: the default)"))
	case c.QuotaStorageBytes == 0:
		c.QuotaStorageBytes = def.QuotaStorageBytes
	}
}

func (c *TLSConfig) validate(bad badFunc) {
	switch strings.ToLower(string(c.TLS)) {
	case "on", "true", "yes", "":
		c.TLS = "on"
	case "off", "false", "no":
		c.TLS = TLSOff
	default:
		bad("tls", string(c.TLS), errors.New("must be on or off (VANTA_TLS)"))
	}
	switch {
	case c.TLSCert != "" && c.TLSKey == "":
		bad("tls_key", c.TLSKey, errors.New("required with tls_cert (VANTA_TLS_KEY)"))
	case c.TLSKey != "" && c.TLSCert == "":
		bad("tls_cert", c.TLSCert, errors.New("required with tls_key (VANTA_TLS_CERT)"))
	case c.TLSCert != "" && c.TLS == TLSOff:
		bad("tls", string(c.TLS), errors.New("is off, yet tls_cert is set: say which one you mean"))
	case c.TLSCert != "":
		if field, err := checkTLSFiles(c.TLSCert, c.TLSKey); err != nil {
			v := c.TLSCert
			if field == "tls_key" {
				v = c.TLSKey
			}
			bad(field, v, err)
		}
	}
}

func (c *Config) socketPath(service string) string {
	return filepath.Join(c.DataDir, "run", service)
}

// program converts an operator's program to the supervisor's form.
func (p ProgramConfig) program() (supervisor.Program, error) {
	prog := supervisor.Program{
		Name: p.Name, Command: p.Command, Args: p.Args, Env: p.Env, Dir: p.Dir, User: p.User,
		DependsOn: p.DependsOn, Critical: p.Critical, Restart: supervisor.RestartPolicy(p.Restart),
	}
	dur := func(field, v string, dst *time.Duration) error {
		if v == "" {
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
		*dst = d
		return nil
	}
	if err := dur("stop_grace", p.StopGrace, &prog.StopGrace); err != nil {
		return prog, err
	}
	if b := p.Backoff; b != nil {
		prog.Backoff.Retries = b.Retries
		if err := dur("backoff.initial", b.Initial, &prog.Backoff.Initial); err != nil {
			return prog, err
		}
		if err := dur("backoff.max", b.Max, &prog.Backoff.Max); err != nil {
			return prog, err
		}
	}
	if p.StopSignal != "" {
		sig, ok := signalNames[strings.TrimPrefix(strings.ToUpper(p.StopSignal), "SIG")]
		if !ok {
			return prog, fmt.Errorf("stop_signal: unknown signal %q", p.StopSignal)
		}
		prog.StopSignal = sig
	}
	if h := p.Health; h != nil {
		prog.Health = &supervisor.HealthCheck{Exec: h.Exec, TCP: h.TCP, HTTP: h.HTTP, FailureThreshold: h.FailureThreshold}
		for _, d := range []struct {
			field, v string
			dst      *time.Duration
		}{
			{"health.interval", h.Interval, &prog.Health.Interval},
			{"health.timeout", h.Timeout, &prog.Health.Timeout},
			{"health.start_period", h.StartPeriod, &prog.Health.StartPeriod},
		} {
			if err := dur(d.field, d.v, d.dst); err != nil {
				return prog, err
			}
		}
	}
	return prog, nil
}

var signalNames = map[string]syscall.Signal{
	"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT,
	"HUP": syscall.SIGHUP, "KILL": syscall.SIGKILL, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2,
}

// SecurityConfig is how security events are detected and kept
// (internal/security); 0 means the default.
type SecurityConfig struct {
	// SecurityBruteForceFailures failed sign-ins for one account, or from
	// one address, within SecurityBruteForceWindow are a brute_force event.
	SecurityBruteForceFailures int      `yaml:"security_brute_force_failures"`
	SecurityBruteForceWindow   Duration `yaml:"security_brute_force_window"`
	// SecurityGODNewAddressDays: GOD acting from an address unused for
	// this many days is a god_new_address event.
	SecurityGODNewAddressDays int `yaml:"security_god_new_address_days"`
	// SecurityRetentionDays is how long events are kept.
	SecurityRetentionDays int `yaml:"security_retention_days"`
}

// Defaults is the security section when nothing is set: internal/security's.
func (SecurityConfig) Defaults() SecurityConfig {
	return SecurityConfig{SecurityBruteForceFailures: security.DefaultBruteForce.Failures,
		SecurityBruteForceWindow:  Duration(security.DefaultBruteForce.Window),
		SecurityGODNewAddressDays: int(security.DefaultGODNewAfter / (24 * time.Hour)),
		SecurityRetentionDays:     int(security.DefaultRetention / (24 * time.Hour))}
}

// Security is the section as internal/security takes it.
func (c SecurityConfig) Security() security.Config {
	return security.Config{
		BruteForce:  security.BruteForceRule{Failures: c.SecurityBruteForceFailures, Window: time.Duration(c.SecurityBruteForceWindow)},
		GODNewAfter: time.Duration(c.SecurityGODNewAddressDays) * 24 * time.Hour,
		Retention:   time.Duration(c.SecurityRetentionDays) * 24 * time.Hour,
	}
}

// validate refuses values out of range and gives 0 its default.
func (c *SecurityConfig) validate(bad badFunc) {
	def := SecurityConfig{}.Defaults()
	ints := []struct {
		field    string
		v        *int
		def, max int
	}{
		{"security_brute_force_failures", &c.SecurityBruteForceFailures, def.SecurityBruteForceFailures, 100000},
		{"security_god_new_address_days", &c.SecurityGODNewAddressDays, def.SecurityGODNewAddressDays, 3650},
		{"security_retention_days", &c.SecurityRetentionDays, def.SecurityRetentionDays, 3650},
	}
	for _, f := range ints {
		switch {
		case *f.v < 0 || *f.v > f.max:
			bad(f.field, strconv.Itoa(*f.v), fmt.Errorf("must be from 1 to %d (0: the default)", f.max))
		case *f.v == 0:
			*f.v = f.def
		}
	}
	switch w := time.Duration(c.SecurityBruteForceWindow); {
	case w == 0:
		c.SecurityBruteForceWindow = def.SecurityBruteForceWindow
	case w < time.Minute || w > 24*time.Hour:
		bad("security_brute_force_window", w.String(), errors.New("must be from 1m to 24h"))
	}
	if c.SecurityRetentionDays < c.SecurityGODNewAddressDays {
		bad("security_retention_days", strconv.Itoa(c.SecurityRetentionDays), errors.New("must be at least security_god_new_address_days: the addresses GOD used are kept as long as events"))
	}
}
