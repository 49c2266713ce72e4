package appliance

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestConfigLayering(t *testing.T) {
	file := filepath.Join(t.TempDir(), "appliance.yaml")
	if err := os.WriteFile(file, []byte("data: /from/file\nlisten: ':1111'\nstop_timeout: 20s\nmongo_engine: docdb\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Defaults()
	if err := cfg.LoadFile(file, false); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"VANTA_LISTEN": ":2222", "VANTA_STOP_TIMEOUT": "30s"}
	if err := cfg.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := fs.Parse([]string{"--stop-timeout", "40s"}); err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/from/file" || cfg.Listen != ":2222" || time.Duration(cfg.StopTimeout) != 40*time.Second || cfg.MongoEngine != "docdb" {
		t.Errorf("layered config %+v", cfg)
	}
}

func TestLoadFileErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "listen_adress: ':1'\n", "field listen_adress not found"},
		{"bad duration", "stop_timeout: soon\n", `"soon" is not a duration`},
		{"not yaml", "data: [unclosed\n", "config"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "appliance.yaml")
			if err := os.WriteFile(file, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := Defaults()
			err := cfg.LoadFile(file, false)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), file) {
				t.Errorf("err %v, want it to name %s and say %q", err, file, tc.want)
			}
		})
	}
	cfg := Defaults()
	if err := cfg.LoadFile(filepath.Join(t.TempDir(), "absent.yaml"), true); err != nil {
		t.Errorf("optional missing file: %v", err)
	}
	if err := cfg.LoadFile(filepath.Join(t.TempDir(), "absent.yaml"), false); err == nil {
		t.Error("explicit missing file accepted")
	}
}

func TestValidate(t *testing.T) {
	long := "/" + strings.Repeat("d", 90)
	tests := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"empty data", func(c *Config) { c.DataDir = "" }, "data"},
		{"socket path too long", func(c *Config) { c.DataDir = long }, "data"},
		{"listen without port", func(c *Config) { c.Listen = "localhost" }, "listen"},
		{"listen port out of range", func(c *Config) { c.Listen = ":99999" }, "listen"},
		{"listen port not a number", func(c *Config) { c.Listen = "127.0.0.1:http-ish" }, "listen"},
		{"tiny stop timeout", func(c *Config) { c.StopTimeout = Duration(time.Second) }, "stop_timeout"},
		{"engine", func(c *Config) { c.MongoEngine = "couchdb" }, "mongo_engine"},
		{"key provider", func(c *Config) { c.KeyProvider = "vault" }, "key_provider"},
		{"pkcs11 without module", func(c *Config) { c.KeyProvider, c.PKCS11Token = "pkcs11", "t" }, "pkcs11_module"},
		{"pkcs11 without token", func(c *Config) { c.KeyProvider, c.PKCS11Module = "pkcs11", "/lib/x.so" }, "pkcs11_token"},
		{"program duration", func(c *Config) {
			c.Programs = []ProgramConfig{{Name: "x", Command: "sleep", StopGrace: "soon"}}
		}, "programs[0]"},
		{"program signal", func(c *Config) {
			c.Programs = []ProgramConfig{{Name: "x", Command: "sleep", StopSignal: "SIGNOPE"}}
		}, "programs[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Defaults()
			tc.edit(&cfg)
			err := cfg.Validate()
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Errorf("err %v, want a FieldError for %s", err, tc.field)
			}
		})
	}
	cfg := Defaults()
	cfg.DataDir = "relative/dir"
	if err := cfg.Validate(); err != nil || !filepath.IsAbs(cfg.DataDir) {
		t.Errorf("relative data dir: %v, %q", err, cfg.DataDir)
	}
}

func TestProgramConfigConversion(t *testing.T) {
	pc := ProgramConfig{
		Name: "shipper", Command: "sleep", StopSignal: "sigquit", StopGrace: "3s",
		Backoff: &Backoff{Initial: "10ms", Max: "1s", Retries: 2},
		Health:  &HealthCheck{TCP: "127.0.0.1:9", Interval: "2s", Timeout: "1s", StartPeriod: "5s", FailureThreshold: 4},
	}
	p, err := pc.program()
	if err != nil {
		t.Fatal(err)
	}
	if p.StopSignal != syscall.SIGQUIT || p.StopGrace != 3*time.Second || p.Backoff.Initial != 10*time.Millisecond ||
		p.Backoff.Retries != 2 || p.Health.Interval != 2*time.Second || p.Health.StartPeriod != 5*time.Second || p.Health.FailureThreshold != 4 {
		t.Errorf("converted %+v health %+v", p, p.Health)
	}
}

func TestSplitBudget(t *testing.T) {
	for _, total := range []time.Duration{2 * time.Second, 10 * time.Second, time.Minute} {
		b := splitBudget(total)
		if b.Drain+b.Services+b.Postgres != total || b.Drain > time.Second || b.Postgres < b.Services {
			t.Errorf("split of %s: %+v", total, b)
		}
	}
}

func TestModelName(t *testing.T) {
	for in, want := range map[string]string{
		"/m/TinyLlama-1.1B-Chat.Q4_K_M.gguf": "tinyllama-1.1b-chat.q4_k_m",
		"/m/phi 3 (mini).gguf":               "phi-3--mini-",
	} {
		if got := modelName(in); got != want {
			t.Errorf("modelName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPublicURL: only an absolute http(s) URL of a host is a base for
// links; anything else stops the boot naming public_url.
func TestPublicURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://ledger.example.co.ke/":      "https://ledger.example.co.ke",
		"http://10.0.0.5:8443":               "http://10.0.0.5:8443",
		"https://example.co.ke/vanta/":       "https://example.co.ke/vanta",
		"https://[2001:db8::1]:8443/console": "https://[2001:db8::1]:8443/console",
	} {
		cfg := Defaults()
		cfg.PublicURL = in
		if err := cfg.Validate(); err != nil || cfg.PublicURL != want {
			t.Errorf("public_url %q: %q %v, want %q", in, cfg.PublicURL, err, want)
		}
	}
	for _, in := range []string{"ledger.example.co.ke", "/accept", "ftp://example.co.ke", "javascript:alert(1)", "https://",
		"https://user:pw@example.co.ke", "https://example.co.ke/?next=x", "https://example.co.ke/#x", "https://example.co.ke:99999", "https://:8443"} {
		cfg := Defaults()
		cfg.PublicURL = in
		var fe *FieldError
		if err := cfg.Validate(); !errors.As(err, &fe) || fe.Field != "public_url" {
			t.Errorf("public_url %q: %v, want a FieldError for public_url", in, err)
		}
	}
	cfg := Defaults()
	if err := cfg.LoadEnv(func(k string) string {
		return map[string]string{"VANTA_PUBLIC_URL": "https://books.example.co.ke"}[k]
	}); err != nil || cfg.PublicURL != "https://books.example.co.ke" {
		t.Errorf("VANTA_PUBLIC_URL: %q %v", cfg.PublicURL, err)
	}
}

func TestRedisDefaultUserLine(t *testing.T) {
	// An ACL file from before the fix, as Redis's ACL SAVE writes it.
	old := "user company_1 on #ab ~company:1:* resetchannels &company:1:* +@all -@dangerous\nuser default off resetchannels -@all\nuser vanta on #cd ~* &* +@all\n"
	got := string(withRedisDefaultUser([]byte(old)))
	want := redisDefaultUser + "\nuser company_1 on #ab ~company:1:* resetchannels &company:1:* +@all -@dangerous\nuser vanta on #cd ~* &* +@all\n"
	if got != want {
		t.Errorf("rewritten ACL file:\n%s\nwant:\n%s", got, want)
	}
	if again := string(withRedisDefaultUser([]byte(got))); again != got {
		t.Errorf("not idempotent:\n%s", again)
	}
}

func TestLoadEnvErrorsSayWhatIsWanted(t *testing.T) {
	for name, want := range map[string]string{
		"VANTA_QUOTA_USER_RPM":      "want a whole number",
		"VANTA_TRUSTED_PROXIES":     "want a whole number",
		"VANTA_QUOTA_STORAGE_BYTES": "want a whole number of bytes",
		"VANTA_STOP_TIMEOUT":        "want a duration",
		"VANTA_MONGO_EXPRESS_PORT":  "want a whole number",
	} {
		cfg := Defaults()
		err := cfg.LoadEnv(func(k string) string {
			if k == name {
				return "abc"
			}
			return ""
		})
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != name || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "strconv") || strings.Contains(err.Error(), "time:") {
			t.Errorf("%s=abc: %v, want a FieldError naming it and saying %q", name, err, want)
		}
	}
}
