package alerts

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"net/url"
	"strings"
	"time"
)

// Notifier delivers a batch of alert events (firing or resolved, as each
// alert's State says). An error means none of the batch counts as
// delivered: the next round sends it again.
type Notifier interface {
	// Channel names the notifier in the deliveries table: each channel
	// delivers each event once.
	Channel() string
	Notify(ctx context.Context, alerts []Alert) error
}

// Webhook posts Alertmanager-shaped JSON to a URL. Any answer but 2xx is
// a failure.
type Webhook struct {
	URL     string
	Timeout time.Duration // 0: 10s
	Client  *http.Client  // nil: http.DefaultClient's transport
}

// Channel is "webhook".
func (w *Webhook) Channel() string { return "webhook" }

// webhookBody is Alertmanager's webhook payload, version 4.
type webhookBody struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	Receiver          string            `json:"receiver"`
	Status            string            `json:"status"`
	Alerts            []webhookAlert    `json:"alerts"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
}

type webhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"` // zero while firing
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// notifyLabels are an alert's labels with alertname and severity added,
// as Alertmanager receivers expect.
func notifyLabels(a Alert) map[string]string {
	l := make(map[string]string, len(a.Labels)+2)
	for k, v := range a.Labels {
		l[k] = v
	}
	l["alertname"] = a.Rule
	l["severity"] = string(a.Level)
	return l
}

// WebhookPayload is the JSON body the webhook posts for alerts.
func WebhookPayload(alerts []Alert) ([]byte, error) {
	body := webhookBody{Version: "4", GroupKey: "vanta", Receiver: "vanta", Status: string(Resolved),
		GroupLabels: map[string]string{}, CommonLabels: map[string]string{}, CommonAnnotations: map[string]string{}}
	for _, a := range alerts {
		wa := webhookAlert{Status: string(a.State), Labels: notifyLabels(a), Fingerprint: a.Fingerprint,
			Annotations: map[string]string{"summary": a.Summary, "value": formatValue(a.Value)}}
		if a.StartedAt != nil {
			wa.StartsAt = a.StartedAt.UTC()
		}
		if a.ResolvedAt != nil {
			wa.EndsAt = a.ResolvedAt.UTC()
		}
		if a.State == Firing {
			body.Status = string(Firing)
		}
		body.Alerts = append(body.Alerts, wa)
	}
	return json.Marshal(body)
}

// Notify posts one request carrying every alert.
func (w *Webhook) Notify(ctx context.Context, alerts []Alert) error {
	payload, err := WebhookPayload(alerts)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	timeout := w.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vanta-alerts")
	client := w.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the URL, query (a token) and all
		}
		return fmt.Errorf("webhook %s: %w", redactURL(w.URL), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook %s: answered %s", redactURL(w.URL), resp.Status)
	}
	return nil
}

// redactURL drops a URL's user info and query, where tokens live.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery = nil, ""
	return u.String()
}

// Email sends a plain-text message through an SMTP server, with STARTTLS
// whenever the server offers it and AUTH PLAIN when a user is given
// (net/smtp refuses to send a password in clear to any host but
// localhost).
type Email struct {
	Addr       string // host:port
	User, Pass string
	From       string
	To         []string
	Timeout    time.Duration // 0: 30s
	// TLS, when set, is the config STARTTLS uses (tests give their own
	// roots); nil: the system's roots and the server's host name.
	TLS *tls.Config
}

// ParseSMTP reads smtp://user:pass@host:port (port 25 when left out).
func ParseSMTP(raw string) (addr, user, pass string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "smtp" || u.Hostname() == "" || u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return "", "", "", errors.New("want smtp://user:pass@host:port")
	}
	port := u.Port()
	if port == "" {
		port = "25"
	}
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
	}
	return net.JoinHostPort(u.Hostname(), port), user, pass, nil
}

// Channel is "email".
func (m *Email) Channel() string { return "email" }

// Message is the plain-text message for alerts, headers included.
func (m *Email) Message(alerts []Alert, now time.Time) []byte {
	firing := 0
	for _, a := range alerts {
		if a.State == Firing {
			firing++
		}
	}
	subject := fmt.Sprintf("[vanta] %d firing, %d resolved", firing, len(alerts)-firing)
	if len(alerts) == 1 {
		subject = fmt.Sprintf("[vanta] %s %s: %s", strings.ToUpper(string(alerts[0].State)), alerts[0].Rule, alerts[0].Summary)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
		m.From, strings.Join(m.To, ", "), oneLine(subject), now.UTC().Format(time.RFC1123Z))
	for _, a := range alerts {
		fmt.Fprintf(&b, "%s  %s (%s)\r\n  %s\r\n", strings.ToUpper(string(a.State)), a.Rule, a.Level, oneLine(a.Summary))
		for _, k := range sortedKeys(a.Labels) {
			fmt.Fprintf(&b, "  %s=%s\r\n", k, oneLine(a.Labels[k]))
		}
		if a.StartedAt != nil {
			fmt.Fprintf(&b, "  started %s\r\n", a.StartedAt.UTC().Format(time.RFC3339))
		}
		if a.ResolvedAt != nil {
			fmt.Fprintf(&b, "  resolved %s\r\n", a.ResolvedAt.UTC().Format(time.RFC3339))
		}
		b.WriteString("\r\n")
	}
	return []byte(b.String())
}

// oneLine keeps a value on its line: a header or body line cannot be split.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

// Notify sends one message listing every alert.
func (m *Email) Notify(ctx context.Context, alerts []Alert) error {
	timeout := m.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := m.send(ctx, m.Message(alerts, time.Now())); err != nil {
		return fmt.Errorf("email via %s: %w", m.Addr, err)
	}
	return nil
}

func (m *Email) send(ctx context.Context, msg []byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.Addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	host, _, _ := net.SplitHostPort(m.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("vanta"); err != nil {
		return err
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := m.TLS
		if cfg == nil {
			cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	}
	if m.User != "" {
		if err := c.Auth(smtp.PlainAuth("", m.User, m.Pass, host)); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(m.From); err != nil {
		return err
	}
	for _, to := range m.To {
		if err := c.Rcpt(to); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
