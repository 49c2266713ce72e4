package alerts_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vanta-ledger/vanta/internal/alerts"
)

// hookBody is what a receiver reads of the webhook's JSON.
type hookBody struct {
	Version string `json:"version"`
	Status  string `json:"status"`
	Alerts  []struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		StartsAt    time.Time         `json:"startsAt"`
		EndsAt      time.Time         `json:"endsAt"`
		Fingerprint string            `json:"fingerprint"`
	} `json:"alerts"`
}

// webhookReceiver answers fails 500s first, then 200s; every body it
// accepts goes to the channel.
func webhookReceiver(t *testing.T, fails int32) (url string, got <-chan hookBody, attempts *atomic.Int32) {
	ch := make(chan hookBody, 16)
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= fails {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		var b hookBody
		if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&b) != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		ch <- b
	}))
	t.Cleanup(srv.Close)
	return srv.URL, ch, &n
}

func TestWebhookNotifiesOnceEachRetriesAfterFailure(t *testing.T) {
	db := appDB(t)
	ctx := context.Background()
	url, got, attempts := webhookReceiver(t, 1)
	hook := []alerts.Notifier{&alerts.Webhook{URL: url, Timeout: 5 * time.Second}}
	src := &fakeSource{}
	e := evaluator(t, db, []alerts.Rule{{Name: "disk_full", Series: "disk_used_percent", Op: ">", Threshold: 90, Level: alerts.Critical,
		Summary: "{{.Labels.path}} at {{.Value}}%"}}, src)
	labels := map[string]string{"path": "/var/lib/vanta"}
	src.set(alerts.Sample{Series: "disk_used_percent", Labels: labels, Value: 96.5})
	evaluate(t, e, t0)
	if err := e.Deliver(ctx, t0, hook); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("first delivery against a failing receiver: %v", err)
	}
	// Next round: retried, accepted.
	evaluate(t, e, t0.Add(30*time.Second))
	if err := e.Deliver(ctx, t0.Add(30*time.Second), hook); err != nil {
		t.Fatal(err)
	}
	b := receive(t, got)
	if b.Version != "4" || b.Status != "firing" || len(b.Alerts) != 1 {
		t.Fatalf("body %+v", b)
	}
	a := b.Alerts[0]
	if a.Status != "firing" || a.Labels["alertname"] != "disk_full" || a.Labels["severity"] != "critical" || a.Labels["path"] != labels["path"] ||
		a.Annotations["summary"] != "/var/lib/vanta at 96.5%" || !a.StartsAt.Equal(t0) || !a.EndsAt.IsZero() ||
		a.Fingerprint != alerts.Fingerprint("disk_full", labels) {
		t.Fatalf("alert %+v", a)
	}
	for i := range 3 {
		at := t0.Add(time.Duration(i+2) * 30 * time.Second)
		evaluate(t, e, at)
		if err := e.Deliver(ctx, at, hook); err != nil {
			t.Fatal(err)
		}
	}
	if n := attempts.Load(); n != 2 {
		t.Fatalf("%d requests while firing, want 2 (one failed, one delivered)", n)
	}
	src.set(alerts.Sample{Series: "disk_used_percent", Labels: labels, Value: 40})
	end := t0.Add(5 * time.Minute)
	for i := range 3 {
		evaluate(t, e, end.Add(time.Duration(i)*time.Second))
		if err := e.Deliver(ctx, end.Add(time.Duration(i)*time.Second), hook); err != nil {
			t.Fatal(err)
		}
	}
	b = receive(t, got)
	if b.Status != "resolved" || len(b.Alerts) != 1 || b.Alerts[0].Status != "resolved" || !b.Alerts[0].EndsAt.Equal(end) {
		t.Fatalf("resolution %+v", b)
	}
	if n := attempts.Load(); n != 3 {
		t.Fatalf("%d requests in all, want 3", n)
	}
}

func receive[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("nothing received in 10s")
	}
	var zero T
	return zero
}

// smtpReceiver is a tiny SMTP server on loopback: it refuses the first
// refuse messages (451 at MAIL), then accepts, sending each message's
// data to the channel. It offers no STARTTLS and no AUTH.
func smtpReceiver(t *testing.T, refuse int32) (addr string, got <-chan string, sessions *atomic.Int32) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan string, 16)
	var n atomic.Int32
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go serveSMTP(conn, n.Add(1) <= refuse, ch)
		}
	}()
	return ln.Addr().String(), ch, &n
}

func serveSMTP(conn net.Conn, refuse bool, ch chan<- string) { serveSMTPWith(conn, refuse, nil, ch) }

// serveSMTPWith serves one session; with tlsConf it offers STARTTLS and
// AUTH PLAIN (after TLS only), and each message it passes on starts with
// "tls=<bool> auth=<credentials>".
func serveSMTPWith(conn net.Conn, refuse bool, tlsConf *tls.Config, ch chan<- string) {
	defer func() { conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	tp := textproto.NewConn(conn)
	_ = tp.PrintfLine("220 test ESMTP")
	var rcpt []string
	secure, creds := false, ""
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			_ = tp.PrintfLine("250-test greets %s", arg)
			switch {
			case tlsConf != nil && !secure:
				_ = tp.PrintfLine("250-STARTTLS")
			case tlsConf != nil:
				_ = tp.PrintfLine("250-AUTH PLAIN")
			}
			_ = tp.PrintfLine("250 8BITMIME")
		case "STARTTLS":
			_ = tp.PrintfLine("220 go ahead")
			tc := tls.Server(conn, tlsConf)
			if tc.Handshake() != nil {
				return
			}
			conn, secure = tc, true
			tp = textproto.NewConn(tc)
		case "AUTH":
			mech, b64, _ := strings.Cut(arg, " ")
			raw, err := base64.StdEncoding.DecodeString(b64)
			if !secure || mech != "PLAIN" || err != nil {
				_ = tp.PrintfLine("535 no")
				continue
			}
			creds = strings.ReplaceAll(string(raw), "\x00", ":")
			_ = tp.PrintfLine("235 ok")
		case "MAIL":
			if refuse {
				_ = tp.PrintfLine("451 try again later")
				continue
			}
			_ = tp.PrintfLine("250 ok")
		case "RCPT":
			rcpt = append(rcpt, arg)
			_ = tp.PrintfLine("250 ok")
		case "DATA":
			_ = tp.PrintfLine("354 go on")
			data, err := io.ReadAll(tp.DotReader())
			if err != nil {
				return
			}
			_ = tp.PrintfLine("250 queued")
			if tlsConf != nil {
				ch <- fmt.Sprintf("tls=%v auth=%s\n", secure, creds) + string(data)
				continue
			}
			ch <- strings.Join(rcpt, ",") + "\n" + string(data)
		case "QUIT":
			_ = tp.PrintfLine("221 bye")
			return
		default:
			_ = tp.PrintfLine("502 not here")
		}
	}
}

// selfSigned is a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtp.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// A server that offers STARTTLS gets the message over TLS, and the
// password only then.
func TestEmailUsesSTARTTLSWhenOffered(t *testing.T) {
	cert, pool := selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		serveSMTPWith(conn, false, &tls.Config{Certificates: []tls.Certificate{cert}}, got)
	}()
	m := &alerts.Email{Addr: ln.Addr().String(), User: "alerts", Pass: "s3cret", From: "v@example.test", To: []string{"ops@example.test"},
		TLS: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if err := m.Notify(context.Background(), []alerts.Alert{{Rule: "disk_full", Level: alerts.Critical, State: alerts.Firing, Summary: "disk 97% full", StartedAt: &now}}); err != nil {
		t.Fatal(err)
	}
	msg := receive(t, got)
	if !strings.HasPrefix(msg, "tls=true auth=:alerts:s3cret\n") || !strings.Contains(msg, "FIRING  disk_full (critical)") {
		t.Fatalf("message %q", msg)
	}
}

func TestEmailNotifiesOnceEachRetriesAfterFailure(t *testing.T) {
	db := appDB(t)
	ctx := context.Background()
	addr, got, sessions := smtpReceiver(t, 1)
	mail := []alerts.Notifier{&alerts.Email{Addr: addr, From: "vanta@appliance.test", To: []string{"ops@example.test", "cfo@example.test"}, Timeout: 5 * time.Second}}
	src := &fakeSource{}
	e := evaluator(t, db, []alerts.Rule{{Name: "backup_failed", Series: "backup_failed", Op: ">=", Threshold: 1, Level: alerts.Critical,
		Summary: "the last backup failed"}}, src)
	src.set(alerts.Sample{Series: "backup_failed", Value: 1})
	evaluate(t, e, t0)
	if err := e.Deliver(ctx, t0, mail); err == nil || !strings.Contains(err.Error(), "451") {
		t.Fatalf("first delivery against a refusing server: %v", err)
	}
	for i := range 3 {
		at := t0.Add(time.Duration(i+1) * 30 * time.Second)
		evaluate(t, e, at)
		if err := e.Deliver(ctx, at, mail); err != nil {
			t.Fatal(err)
		}
	}
	msg := receive(t, got)
	head, body, _ := strings.Cut(msg, "\n\n")
	if !strings.HasPrefix(head, "TO:<ops@example.test>,TO:<cfo@example.test>\n") {
		t.Fatalf("recipients: %q", head)
	}
	if !strings.Contains(head, "Subject: [vanta] FIRING backup_failed: the last backup failed") || !strings.Contains(head, "Content-Type: text/plain") {
		t.Fatalf("headers %q", head)
	}
	if !strings.Contains(body, "FIRING  backup_failed (critical)") || !strings.Contains(body, "started 2026-03-01T12:00:00Z") {
		t.Fatalf("body %q", body)
	}
	if n := sessions.Load(); n != 2 {
		t.Fatalf("%d SMTP sessions while firing, want 2", n)
	}
	src.set(alerts.Sample{Series: "backup_failed", Value: 0})
	for i := range 2 {
		at := t0.Add(5*time.Minute + time.Duration(i)*time.Second)
		evaluate(t, e, at)
		if err := e.Deliver(ctx, at, mail); err != nil {
			t.Fatal(err)
		}
	}
	msg = receive(t, got)
	if !strings.Contains(msg, "RESOLVED  backup_failed") || !strings.Contains(msg, "resolved 2026-03-01T12:05:00Z") {
		t.Fatalf("resolution %q", msg)
	}
	if n := sessions.Load(); n != 3 {
		t.Fatalf("%d SMTP sessions in all, want 3", n)
	}
	select {
	case m := <-got:
		t.Fatalf("an extra message: %q", m)
	default:
	}
}

func TestParseSMTP(t *testing.T) {
	tests := []struct {
		in, addr, user, pass string
		ok                   bool
	}{
		{"smtp://alerts:s3cret@mail.example.co.ke:587", "mail.example.co.ke:587", "alerts", "s3cret", true},
		{"smtp://mail.example.co.ke", "mail.example.co.ke:25", "", "", true},
		{"https://mail.example.co.ke", "", "", "", false},
		{"smtp://", "", "", "", false},
		{"smtp://h:25/x", "", "", "", false},
	}
	for _, tc := range tests {
		addr, user, pass, err := alerts.ParseSMTP(tc.in)
		if (err == nil) != tc.ok || addr != tc.addr || user != tc.user || pass != tc.pass {
			t.Errorf("ParseSMTP(%q) = %q %q %q %v", tc.in, addr, user, pass, err)
		}
	}
}

// A webhook URL's query (where receivers keep their token) never shows in
// a delivery error, which is logged.
func TestWebhookErrorHidesToken(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/hook?token=s3cret"
	srv.Close() // nobody answers
	err := (&alerts.Webhook{URL: url, Timeout: time.Second}).Notify(context.Background(), []alerts.Alert{{Rule: "r", State: alerts.Firing}})
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "/hook") {
		t.Fatalf("error %v", err)
	}
}
