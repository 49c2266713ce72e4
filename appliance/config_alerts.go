package appliance

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/vanta-ledger/vanta/internal/alerts"
)

// AlertConfig is the alert rules and where alerts go. The built-in rules
// (internal/alerts.DefaultRules) apply unless a rule of the same name here
// changes them; rules with other names are added.
type AlertConfig struct {
	AlertRules []AlertRuleConfig `yaml:"alerts"`
	// AlertWebhook receives Alertmanager-shaped JSON on fire and resolve.
	AlertWebhook string `yaml:"alert_webhook"`
	// AlertSMTP is smtp://user:pass@host:port; with AlertEmailTo and
	// AlertEmailFrom, alerts are mailed as plain text.
	AlertSMTP      string `yaml:"alert_smtp"`
	AlertEmailTo   string `yaml:"alert_email_to"` // comma-separated addresses
	AlertEmailFrom string `yaml:"alert_email_from"`
	// AlertInterval is how often the rules are evaluated.
	AlertInterval Duration `yaml:"alert_interval"`
}

// AlertRuleConfig is one rule in appliance.yaml. Naming a built-in rule
// changes only the fields given; disabled: true turns it off.
type AlertRuleConfig struct {
	Name      string            `yaml:"name"`
	Series    string            `yaml:"series"`
	Labels    map[string]string `yaml:"labels"`
	Op        string            `yaml:"op"`
	Threshold *float64          `yaml:"threshold"`
	For       *Duration         `yaml:"for"`
	Level     string            `yaml:"level"`
	Summary   string            `yaml:"summary"`
	Disabled  bool              `yaml:"disabled"`
}

// Defaults is the alerts section when nothing is set: the built-in rules,
// evaluated every 30 seconds, delivered nowhere (listed by the API only).
func (AlertConfig) Defaults() AlertConfig {
	return AlertConfig{AlertInterval: Duration(30 * time.Second)}
}

// Rules are the built-in rules with this section's changes, checked.
func (c *AlertConfig) Rules() ([]alerts.Rule, error) {
	defaults := alerts.DefaultRules()
	byName := map[string]alerts.Rule{}
	for _, r := range defaults {
		byName[r.Name] = r
	}
	disabled := map[string]bool{}
	var overrides []alerts.Rule
	for _, rc := range c.AlertRules {
		r := byName[rc.Name] // zero for a new rule
		r.Name = rc.Name
		if rc.Disabled {
			disabled[rc.Name] = true
			continue
		}
		if rc.Series != "" {
			r.Series = rc.Series
		}
		if rc.Labels != nil {
			r.Match = rc.Labels
		}
		if rc.Op != "" {
			r.Op = rc.Op
		}
		if rc.Threshold != nil {
			r.Threshold = *rc.Threshold
		}
		if rc.For != nil {
			r.For = time.Duration(*rc.For)
		}
		if rc.Level != "" {
			r.Level = alerts.Level(rc.Level)
		}
		if rc.Summary != "" {
			r.Summary = rc.Summary
		}
		overrides = append(overrides, r)
	}
	merged, err := alerts.MergeRules(defaults, overrides)
	if err != nil {
		return nil, err
	}
	out := merged[:0]
	for _, r := range merged {
		if !disabled[r.Name] {
			out = append(out, r)
		}
	}
	return out, nil
}

// EmailTo is AlertEmailTo split into addresses.
func (c *AlertConfig) EmailTo() []string {
	var out []string
	for _, a := range strings.Split(c.AlertEmailTo, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

func (c *AlertConfig) validate(bad badFunc) {
	if _, err := c.Rules(); err != nil {
		var re *alerts.RuleError
		if errors.As(err, &re) {
			field := "alerts"
			for i, rc := range c.AlertRules {
				if rc.Name == re.Rule {
					field = fmt.Sprintf("alerts[%d].%s", i, re.Field)
				}
			}
			bad(field, re.Value, re.Err)
		} else {
			bad("alerts", "", err)
		}
	}
	if c.AlertWebhook != "" {
		u, err := url.Parse(c.AlertWebhook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("alert_webhook", redactedURL(c.AlertWebhook), errors.New("want an http or https URL"))
		}
	}
	if c.AlertSMTP != "" {
		if _, _, _, err := alerts.ParseSMTP(c.AlertSMTP); err != nil {
			bad("alert_smtp", redactedURL(c.AlertSMTP), err)
		}
		if len(c.EmailTo()) == 0 {
			bad("alert_email_to", c.AlertEmailTo, errors.New("required with alert_smtp: who gets the alerts"))
		}
		if c.AlertEmailFrom == "" {
			bad("alert_email_from", c.AlertEmailFrom, errors.New("required with alert_smtp: the sender address"))
		}
	} else if c.AlertEmailTo != "" {
		bad("alert_smtp", "", errors.New("required with alert_email_to: the server that sends the mail"))
	}
	for _, a := range c.EmailTo() {
		if _, err := mail.ParseAddress(a); err != nil {
			bad("alert_email_to", a, errors.New("not an email address"))
		}
	}
	if c.AlertEmailFrom != "" {
		if _, err := mail.ParseAddress(c.AlertEmailFrom); err != nil {
			bad("alert_email_from", c.AlertEmailFrom, errors.New("not an email address"))
		}
	}
	if d := time.Duration(c.AlertInterval); d < time.Second || d > time.Hour {
		bad("alert_interval", d.String(), errors.New("must be from 1s to 1h"))
	}
}

// redactedURL hides a URL's password, for messages and logs.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(not a URL)"
	}
	return u.Redacted()
}
