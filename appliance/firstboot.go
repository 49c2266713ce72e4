package appliance

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base32"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vanta-ledger/vanta/internal/atomicfile"
)

// First boot: the one-time setup token that keeps the first visitor from
// owning the appliance, and the self-signed certificate that keeps the
// token (and everything after it) off the wire in clear.

// SetupTokenHeader carries the setup token on sys/init and sys/setup/god.
const SetupTokenHeader = "X-Vanta-Setup-Token"

const (
	setupTokenFile  = "setup-token"
	setupTokenSpent = "setup-token.spent" // present once a GOD exists: never make another
	setupTokenPref  = "vst_"
)

// ErrSetupTokenSpent says the setup token was used: a GOD exists.
var ErrSetupTokenSpent = errors.New("a GOD exists: the one-time setup token was used and removed")

// ErrSetupTokenRequired says a request lacked the setup token or had a wrong one.
var ErrSetupTokenRequired = errors.New("until the creator account (GOD) exists, this needs the one-time setup token in the " +
	SetupTokenHeader + " header: it is printed in the boot log, and `vanta ctl setup-token` shows it on the appliance")

// SetupTokenPath is where the setup token is kept under a data directory
// while it is unspent.
func SetupTokenPath(dataDir string) string { return Layout{Root: dataDir}.Secret(setupTokenFile) }

// ReadSetupToken reads the setup token from a data directory, as `vanta
// ctl setup-token` does when the control socket does not answer.
func ReadSetupToken(dataDir string) (string, error) {
	l := Layout{Root: dataDir}
	b, err := os.ReadFile(l.Secret(setupTokenFile))
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(l.Secret(setupTokenSpent)); serr == nil {
			return "", ErrSetupTokenSpent
		}
	}
	if err != nil {
		return "", fmt.Errorf("read the setup token: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// SetupGate holds the setup token in memory for the API: Check before a
// first-boot route does anything, Spend once the GOD exists.
type SetupGate struct {
	layout Layout
	logger *slog.Logger

	mu    sync.Mutex
	token string // "" once spent
}

// Check reports whether got is the setup token, or nil when it is spent
// (a GOD exists and the routes decide for themselves). Constant time.
func (g *SetupGate) Check(got string) error {
	g.mu.Lock()
	want := g.token
	g.mu.Unlock()
	if want == "" {
		return nil
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return ErrSetupTokenRequired
	}
	return nil
}

// Needed reports whether the first-boot routes still need the token.
func (g *SetupGate) Needed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.token != ""
}

// Token returns the unspent token, or ErrSetupTokenSpent.
func (g *SetupGate) Token() (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.token == "" {
		return "", ErrSetupTokenSpent
	}
	return g.token, nil
}

// Spend forgets the token and removes its file, leaving a marker so that
// no later boot makes a new one: from now on GOD's own credentials guard
// the appliance.
func (g *SetupGate) Spend() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.token == "" {
		return
	}
	g.token = ""
	if err := atomicfile.Write(g.layout.Secret(setupTokenSpent), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o600); err != nil {
		g.logger.Error("setup token", "error", fmt.Sprintf("record that it is spent: %v", err))
	}
	if err := os.Remove(g.layout.Secret(setupTokenFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		g.logger.Error("setup token", "error", fmt.Sprintf("remove: %v", err))
	}
	g.logger.Info("setup token spent", "reason", "the creator account (GOD) exists")
}

// makeSetupToken creates the setup token unless it exists or was spent.
// It reports whether it made a new one.
func (p *provisioner) makeSetupToken() (made bool, err error) {
	if _, err := os.Stat(p.layout.Secret(setupTokenSpent)); err == nil {
		return false, nil
	}
	if _, err := os.Stat(p.layout.Secret(setupTokenFile)); err == nil {
		return false, nil
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return false, err
	}
	tok := setupTokenPref + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(buf))
	return true, atomicfile.Write(p.layout.Secret(setupTokenFile), []byte(tok+"\n"), 0o600)
}

// openSetupGate loads the token for the API and says in the log where it
// is; the token itself is printed once, at the boot that made it.
func (a *Appliance) openSetupGate(made bool) error {
	a.setup = &SetupGate{layout: a.layout, logger: a.logger}
	tok, err := ReadSetupToken(a.cfg.DataDir)
	switch {
	case errors.Is(err, ErrSetupTokenSpent):
		return nil
	case err != nil:
		return err
	}
	a.setup.token = tok
	attrs := []any{"file", a.layout.Secret(setupTokenFile), "header", SetupTokenHeader,
		"hint", "open /setup and enter it, or send it as " + SetupTokenHeader + "; `vanta ctl setup-token` prints it; it is spent when the creator account (GOD) is made"}
	if made {
		attrs = append([]any{"token", tok}, attrs...)
	}
	a.logger.Info("setup token", attrs...)
	return nil
}

// spendSetupTokenIfGOD spends the token of an appliance whose GOD was made
// before the token existed (an upgrade): the routes would refuse a second
// GOD anyway, but the token should not linger on disk.
func (a *Appliance) spendSetupTokenIfGOD(ctx context.Context, st *Stores) {
	if !a.setup.Needed() {
		return
	}
	var exists bool
	err := st.App.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM auth.users WHERE is_god)").Scan(&exists)
	if err != nil {
		a.logger.Debug("setup token: look for a GOD", "error", err.Error())
		return
	}
	if exists {
		a.setup.Spend()
	}
}

// SetupGate is the first-boot token check for the API.
func (a *Appliance) SetupGate() *SetupGate { return a.setup }

// ---- TLS ----

// TLS modes as `vanta ctl status` reports them.
const (
	TLSSelfSigned = "self-signed"
	TLSOperator   = "operator"
	TLSOff        = "off"
)

// TLSInfo is the listener's certificate as `vanta ctl status` shows it.
type TLSInfo struct {
	Mode        string    `json:"mode"`
	Fingerprint string    `json:"fingerprint_sha256,omitempty"`
	Cert        string    `json:"cert,omitempty"`
	Subject     string    `json:"subject,omitempty"`
	DNSNames    []string  `json:"dns_names,omitempty"`
	NotAfter    time.Time `json:"not_after,omitzero"`
}

// SelfSignedCert and SelfSignedKey are where the certificate made at first
// boot is kept under a data directory.
func SelfSignedCert(dataDir string) string { return Layout{Root: dataDir}.Path("tls", "cert.pem") }
func SelfSignedKey(dataDir string) string  { return Layout{Root: dataDir}.Path("tls", "key.pem") }

// selfSignedValidity is how long a made certificate lasts; it is remade at
// a boot within selfSignedRenew of its end, so an appliance left running
// for years needs only a restart, not an operator.
const (
	selfSignedValidity = 825 * 24 * time.Hour
	selfSignedRenew    = 30 * 24 * time.Hour
)

// makeSelfSigned makes the first-boot certificate unless a usable one is
// there: ECDSA P-256, for localhost, the loopback addresses and the host's
// name, the key 0600.
func (p *provisioner) makeSelfSigned() error {
	if p.cfg.TLS == TLSOff || p.cfg.TLSCert != "" {
		return nil
	}
	certPath, keyPath := SelfSignedCert(p.cfg.DataDir), SelfSignedKey(p.cfg.DataDir)
	if pair, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil && time.Until(pair.Leaf.NotAfter) > selfSignedRenew {
		return nil
	}
	if err := os.MkdirAll(p.layout.Path("tls"), 0o700); err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	dns := []string{"localhost"}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		dns = append(dns, h)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Vanta Ledger appliance (self-signed)", Organization: []string{"Vanta Ledger"}},
		NotBefore:             now.Add(-time.Hour), // a clock slightly behind still accepts it
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dns,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	// Key first: a crash between the two leaves a certificate that does not
	// match it, which the next boot sees and remakes.
	if err := atomicfile.Write(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return atomicfile.Write(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// loadTLS loads the listener's certificate (the operator's or the one
// made at first boot); nil with TLS off.
func (a *Appliance) loadTLS() (*tls.Config, error) {
	if a.cfg.TLS == TLSOff {
		a.tls = TLSInfo{Mode: TLSOff}
		a.logger.Warn("tls", "mode", TLSOff, "hint", "plain HTTP: run this only behind a TLS proxy (VANTA_TLS=off)")
		return nil, nil
	}
	certPath, keyPath, mode := a.cfg.TLSCert, a.cfg.TLSKey, TLSOperator
	if certPath == "" {
		certPath, keyPath, mode = SelfSignedCert(a.cfg.DataDir), SelfSignedKey(a.cfg.DataDir), TLSSelfSigned
	}
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("tls certificate %s: %w", certPath, err)
	}
	a.tls = TLSInfo{Mode: mode, Fingerprint: Fingerprint(pair.Leaf.Raw), Cert: certPath,
		Subject: pair.Leaf.Subject.String(), DNSNames: pair.Leaf.DNSNames, NotAfter: pair.Leaf.NotAfter.UTC()}
	a.logger.Info("tls", "mode", mode, "fingerprint_sha256", a.tls.Fingerprint, "cert", certPath,
		"not_after", a.tls.NotAfter.Format(time.RFC3339), "hint", "compare this fingerprint with the one your browser shows before you trust it")
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}, nil
}

// TLSInfo reports the listener's certificate.
func (a *Appliance) TLSInfo() TLSInfo { return a.tls }

// Fingerprint is a certificate's SHA-256 in the colon-separated upper-case
// hex that browsers and `openssl x509 -fingerprint -sha256` show.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// checkTLSFiles validates an operator's certificate and key at start, so
// a wrong path or a mismatched pair fails before anything is touched.
func checkTLSFiles(certPath, keyPath string) (field string, err error) {
	if _, err := os.ReadFile(certPath); err != nil {
		return "tls_cert", fmt.Errorf("unreadable (VANTA_TLS_CERT): %w", err)
	}
	if _, err := os.ReadFile(keyPath); err != nil {
		return "tls_key", fmt.Errorf("unreadable (VANTA_TLS_KEY): %w", err)
	}
	if _, err := tls.LoadX509KeyPair(certPath, keyPath); err != nil {
		return "tls_key", fmt.Errorf("does not match tls_cert %s, or is not PEM (VANTA_TLS_KEY, VANTA_TLS_CERT): %w", certPath, err)
	}
	return "", nil
}
