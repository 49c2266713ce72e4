package appliance

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vanta-ledger/vanta/internal/alerts"
)

// The alerts section refuses bad values with a FieldError naming the
// field and the value (the password of an SMTP URL never shows).
func TestAlertConfigNamesTheBadValue(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name, field, value string
		edit               func(*Config)
	}{
		{"bad op", "alerts[0].op", "=>", func(c *Config) { c.AlertRules = []AlertRuleConfig{{Name: "disk_full", Op: "=>"}} }},
		{"new rule without level", "alerts[1].level", "", func(c *Config) {
			c.AlertRules = []AlertRuleConfig{{Name: "disk_full", Threshold: f(80)}, {Name: "mine", Series: "jobs_queue_depth", Op: ">", Threshold: f(5)}}
		}},
		{"bad summary", "alerts[0].summary", "{{.Value", func(c *Config) { c.AlertRules = []AlertRuleConfig{{Name: "api_slow", Summary: "{{.Value"}} }},
		{"bad name", "alerts[0].name", "Disk Full", func(c *Config) { c.AlertRules = []AlertRuleConfig{{Name: "Disk Full"}} }},
		{"webhook", "alert_webhook", "ftp://x", func(c *Config) { c.AlertWebhook = "ftp://x" }},
		{"smtp", "alert_smtp", "smtp://u:xxxxx@h:25/path", func(c *Config) {
			c.AlertSMTP, c.AlertEmailTo, c.AlertEmailFrom = "smtp://u:secret@h:25/path", "ops@example.test", "v@example.test"
		}},
		{"smtp without recipients", "alert_email_to", "", func(c *Config) { c.AlertSMTP, c.AlertEmailFrom = "smtp://h:25", "v@example.test" }},
		{"recipients without smtp", "alert_smtp", "", func(c *Config) { c.AlertEmailTo = "ops@example.test" }},
		{"bad recipient", "alert_email_to", "not an address", func(c *Config) {
			c.AlertSMTP, c.AlertEmailTo, c.AlertEmailFrom = "smtp://h:25", "ops@example.test, not an address", "v@example.test"
		}},
		{"interval", "alert_interval", "500ms", func(c *Config) { c.AlertInterval = Duration(500 * time.Millisecond) }},
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
			if !strings.Contains(err.Error(), fmt.Sprintf("%s=%q", tc.field, tc.value)) || strings.Contains(err.Error(), "secret") {
				t.Fatalf("message %q", err)
			}
		})
	}
}

// A rule named like a built-in one changes only what it gives; disabled
// turns one off; a new name adds a rule; env sets the delivery.
func TestAlertRulesFromConfig(t *testing.T) {
	cfg := Defaults()
	f := 85.0
	five := Duration(5 * time.Minute)
	cfg.AlertRules = []AlertRuleConfig{
		{Name: "disk_full", Threshold: &f},
		{Name: "users_many_active", Disabled: true},
		{Name: "backup_disk", Series: "disk_used_percent", Labels: map[string]string{"path": "/b"}, Op: ">", Threshold: &f, For: &five, Level: "warning"},
	}
	env := map[string]string{"VANTA_ALERT_WEBHOOK": "https://hooks.example.test/a?token=x", "VANTA_ALERT_INTERVAL": "2s",
		"VANTA_ALERT_SMTP": "smtp://a:b@mail.example.test:587", "VANTA_ALERT_EMAIL_TO": "ops@example.test, cfo@example.test",
		"VANTA_ALERT_EMAIL_FROM": "vanta@example.test"}
	if err := cfg.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	rules, err := cfg.Rules()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]alerts.Rule{}
	for _, r := range rules {
		byName[r.Name] = r
	}
	if len(rules) != len(alerts.DefaultRules()) { // one off, one added
		t.Fatalf("%d rules", len(rules))
	}
	if d := byName["disk_full"]; d.Threshold != 85 || d.Series != "disk_used_percent" || d.For != time.Minute || d.Level != alerts.Critical {
		t.Fatalf("disk_full %+v", d)
	}
	if _, ok := byName["users_many_active"]; ok {
		t.Fatal("a disabled rule is there")
	}
	if b := byName["backup_disk"]; b.Match["path"] != "/b" || b.For != 5*time.Minute {
		t.Fatalf("backup_disk %+v", b)
	}
	if time.Duration(cfg.AlertInterval) != 2*time.Second || len(cfg.EmailTo()) != 2 || cfg.AlertWebhook == "" {
		t.Fatalf("%+v", cfg.AlertConfig)
	}
	if err := cfg.LoadEnv(func(k string) string { return map[string]string{"VANTA_ALERT_INTERVAL": "soon"}[k] }); err == nil {
		t.Fatal("VANTA_ALERT_INTERVAL=soon accepted")
	}
}
