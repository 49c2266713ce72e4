package alerts

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"text/template"
	"time"
)

// Level is how urgent an alert is.
type Level string

// The levels, most urgent first.
const (
	Critical Level = "critical"
	Warning  Level = "warning"
	Info     Level = "info"
)

// Rule raises an alert for every sample of Series whose labels match Match
// and whose value compares to Threshold by Op, once the condition has held
// for For. Each distinct label set is an alert of its own.
type Rule struct {
	Name      string            `json:"name"`
	Series    string            `json:"series"`
	Match     map[string]string `json:"labels,omitempty"` // every key must equal; nil matches all
	Op        string            `json:"op"`               // >, >=, <, <=
	Threshold float64           `json:"threshold"`
	For       time.Duration     `json:"for"`
	Level     Level             `json:"level"`
	// Summary is a text/template over .Value, .Threshold, .Labels and
	// .Rule; empty: a sentence made of the rule.
	Summary string `json:"summary,omitempty"`

	tmpl *template.Template
}

// RuleError names the field of a rule that is wrong.
type RuleError struct {
	Rule  string // the rule's name ("" when the name itself is wrong)
	Field string // name, series, labels, op, threshold, for, level, summary
	Value string
	Err   error
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("alert rule %q: %s=%q: %v", e.Rule, e.Field, e.Value, e.Err)
}

func (e *RuleError) Unwrap() error { return e.Err }

var snake = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// Check validates the rule and compiles its summary.
func (r *Rule) Check() error {
	bad := func(field, value string, err error) error {
		return &RuleError{Rule: r.Name, Field: field, Value: value, Err: err}
	}
	if !snake.MatchString(r.Name) {
		return bad("name", r.Name, errors.New("must be snake_case: a lower-case letter, then letters, digits or _ (at most 63)"))
	}
	if !snake.MatchString(r.Series) {
		return bad("series", r.Series, errors.New("must be a snake_case series name such as disk_used_percent"))
	}
	for k := range r.Match {
		if !snake.MatchString(k) {
			return bad("labels", k, errors.New("label names are snake_case"))
		}
	}
	switch r.Op {
	case ">", ">=", "<", "<=":
	default:
		return bad("op", r.Op, errors.New("must be one of >, >=, <, <="))
	}
	if math.IsNaN(r.Threshold) || math.IsInf(r.Threshold, 0) {
		return bad("threshold", fmt.Sprint(r.Threshold), errors.New("must be a finite number"))
	}
	if r.For < 0 || r.For > 24*time.Hour {
		return bad("for", r.For.String(), errors.New("must be from 0s to 24h"))
	}
	switch r.Level {
	case Critical, Warning, Info:
	default:
		return bad("level", string(r.Level), errors.New("must be critical, warning or info"))
	}
	text := r.Summary
	if text == "" {
		text = "{{.Rule}}: " + r.Series + " is {{.Value}} (" + r.Op + " {{.Threshold}})"
	}
	t, err := template.New(r.Name).Option("missingkey=zero").Parse(text)
	if err != nil {
		return bad("summary", r.Summary, fmt.Errorf("not a template: %w", err))
	}
	r.tmpl = t
	if _, err := r.summary(Sample{Series: r.Series, Value: r.Threshold}); err != nil {
		return bad("summary", r.Summary, err)
	}
	return nil
}

// matches reports whether s is of the rule's series and carries its labels.
func (r *Rule) matches(s Sample) bool {
	if s.Series != r.Series {
		return false
	}
	for k, v := range r.Match {
		if s.Labels[k] != v {
			return false
		}
	}
	return true
}

// holds reports whether v breaks the threshold.
func (r *Rule) holds(v float64) bool {
	switch r.Op {
	case ">":
		return v > r.Threshold
	case ">=":
		return v >= r.Threshold
	case "<":
		return v < r.Threshold
	case "<=":
		return v <= r.Threshold
	}
	return false
}

// summaryData is what a summary template sees.
type summaryData struct {
	Rule      string
	Value     string
	Threshold string
	Labels    map[string]string
}

func (r *Rule) summary(s Sample) (string, error) {
	if r.tmpl == nil {
		if err := r.Check(); err != nil {
			return "", err
		}
	}
	labels := s.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	var b bytes.Buffer
	err := r.tmpl.Execute(&b, summaryData{Rule: r.Name, Value: formatValue(s.Value), Threshold: formatValue(r.Threshold), Labels: labels})
	if err != nil {
		return "", fmt.Errorf("summary: %w", err)
	}
	return b.String(), nil
}

// formatValue writes a value the way people read it: whole numbers
// without decimals, others with at most two.
func formatValue(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%.0f", v)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}

// DefaultRules are the built-in rules; configuration overrides them by
// name and adds others. The thresholds are the product's defaults.
func DefaultRules() []Rule {
	return []Rule{
		{Name: "host_cpu_high", Series: "host_cpu_percent", Op: ">", Threshold: 80, For: 5 * time.Minute, Level: Warning,
			Summary: "CPU at {{.Value}}% (over {{.Threshold}}% for 5 minutes)"},
		{Name: "host_memory_high", Series: "host_memory_percent", Op: ">", Threshold: 85, For: 5 * time.Minute, Level: Warning,
			Summary: "memory at {{.Value}}% (over {{.Threshold}}% for 5 minutes)"},
		{Name: "disk_full", Series: "disk_used_percent", Op: ">", Threshold: 90, For: time.Minute, Level: Critical,
			Summary: "disk of {{.Labels.path}} is {{.Value}}% full (over {{.Threshold}}%)"},
		{Name: "api_slow", Series: "api_request_p95_seconds", Op: ">", Threshold: 2, For: 5 * time.Minute, Level: Warning,
			Summary: "API p95 latency is {{.Value}}s (over {{.Threshold}}s)"},
		{Name: "api_errors", Series: "api_error_ratio", Op: ">", Threshold: 0.05, For: 5 * time.Minute, Level: Warning,
			Summary: "API error ratio is {{.Value}} (over {{.Threshold}})"},
		{Name: "job_queue_deep", Series: "jobs_queue_depth", Op: ">", Threshold: 100, For: 10 * time.Minute, Level: Warning,
			Summary: "{{.Value}} jobs waiting (over {{.Threshold}} for 10 minutes)"},
		{Name: "users_many_active", Series: "users_active", Op: ">", Threshold: 240, Level: Info,
			Summary: "{{.Value}} users active in the last 15 minutes (over {{.Threshold}})"},
		{Name: "service_restart_loop", Series: "service_restarts_recent", Op: ">=", Threshold: 3, Level: Critical,
			Summary: "service {{.Labels.service}} is restarting in a loop ({{.Value}} restarts in 10 minutes)"},
		// A day's schedule (the default's daily differential) times 1.5;
		// a weekly-only schedule wants its own threshold in the config.
		{Name: "backup_stale", Series: "backup_age_seconds", Op: ">", Threshold: 1.5 * 86400, Level: Warning,
			Summary: "the last successful backup is {{.Value}}s old (over {{.Threshold}}s)"},
		{Name: "backup_failed", Series: "backup_failed", Op: ">=", Threshold: 1, Level: Critical,
			Summary: "the last backup failed"},
		{Name: "audit_verify_failed", Series: "audit_verify_failed", Op: ">=", Threshold: 1, Level: Critical,
			Summary: "audit chain {{.Labels.chain}} failed verification"},
		// One rule for every kind; a rule per kind (labels: {kind: …}) in
		// the config sets a threshold of its own.
		{Name: "security_events", Series: "security_events_recent", Op: ">=", Threshold: 10, Level: Warning,
			Summary: "{{.Value}} security events of kind {{.Labels.kind}} in 15 minutes{{if .Labels.company}} (company {{.Labels.company}}){{end}}"},
		{Name: "advice_disk_full_soon", Series: "advice_disk_full_days", Op: "<", Threshold: 14, Level: Info,
			Summary: "disk of {{.Labels.path}} is full in {{.Value}} days at the current rate"},
		{Name: "advice_company_storage", Series: "advice_company_storage_ratio", Op: ">", Threshold: 0.8, Level: Info,
			Summary: "company {{.Labels.company}} uses {{.Value}} of its storage quota"},
		{Name: "advice_route_slowdown", Series: "advice_route_slowdown_ratio", Op: ">", Threshold: 1.5, Level: Info,
			Summary: "route {{.Labels.route}} is {{.Value}} times slower than its 7-day p95"},
	}
}

// MergeRules returns the defaults with each override replacing the
// default of its name, then the overrides that name no default, in their
// order. Every rule is checked.
func MergeRules(defaults, overrides []Rule) ([]Rule, error) {
	out := make([]Rule, 0, len(defaults)+len(overrides))
	index := map[string]int{}
	for _, r := range defaults {
		index[r.Name] = len(out)
		out = append(out, r)
	}
	seen := map[string]bool{}
	for _, r := range overrides {
		if seen[r.Name] {
			return nil, &RuleError{Rule: r.Name, Field: "name", Value: r.Name, Err: errors.New("named twice")}
		}
		seen[r.Name] = true
		if i, ok := index[r.Name]; ok {
			out[i] = r
			continue
		}
		out = append(out, r)
	}
	for i := range out {
		if err := out[i].Check(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// sortedKeys lists a label set's names in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
