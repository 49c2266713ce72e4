package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/auth"
	"github.com/vanta-ledger/vanta/internal/seal"
)

// setupTokenFromCtl is what an operator on the box runs to read the token.
func setupTokenFromCtl(t *testing.T, data string) string {
	t.Helper()
	out, err := exec.Command(vantaBin, "ctl", "setup-token", "--data", data).Output()
	if err != nil {
		t.Fatalf("vanta ctl setup-token: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// postSetup posts body to path with the setup token header as given:
// nil sends no header at all.
func (in *instance) postSetup(path string, body any, token *string) (int, []byte) {
	in.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		in.t.Fatal(err)
	}
	req := in.request("POST", path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token == nil {
		req.Header[appliance.SetupTokenHeader] = nil // the harness then sends none
	} else {
		req.Header.Set(appliance.SetupTokenHeader, *token)
	}
	return in.do(req)
}

// TestFirstBootNeedsTheSetupToken attacks a fresh appliance as the first
// visitor on the network would: without the setup token (or with a wrong
// one) neither the key ceremony nor the creator account can be started,
// and nothing changes; with it, both work, and making the GOD spends it.
// Before the token, both answered anyone.
func TestFirstBootNeedsTheSetupToken(t *testing.T) {
	data := dataDir(t)
	in := boot(t, data)
	logged := in.waitLine("setup token log line", msg("setup token"))
	in.waitReady()

	// The token: 0600, printed once in the boot log, shown by ctl.
	tok := setupTokenFromCtl(t, data)
	if !strings.HasPrefix(tok, "vst_") || len(tok) < 4+50 {
		t.Fatalf("setup token %q", tok)
	}
	if fi, err := os.Stat(appliance.SetupTokenPath(data)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	if logged["token"] != tok || logged["file"] != appliance.SetupTokenPath(data) || logged["header"] != appliance.SetupTokenHeader {
		t.Errorf("boot log line %v does not give the token and its file", logged)
	}
	out, err := exec.Command(vantaBin, "ctl", "setup-token", "--json", "--data", data).Output()
	var asJSON struct{ Token, File, Header string }
	if err != nil || json.Unmarshal(out, &asJSON) != nil || asJSON.Token != tok || asJSON.Header != appliance.SetupTokenHeader {
		t.Errorf("ctl setup-token --json: %v %s", err, out)
	}
	if code, body := in.get("/api/v1/sys/setup-token"); code != 200 || !strings.Contains(string(body), `"required":true`) || strings.Contains(string(body), tok) {
		t.Errorf("setup-token status: %d %s", code, body)
	}
	// Hole 11: /readyz tells strangers nothing about where the data is.
	if _, body := in.get("/readyz"); strings.Contains(string(body), data) {
		t.Errorf("/readyz shows the data directory: %s", body)
	}

	refused := func(what string, code int, body []byte) {
		t.Helper()
		if code != http.StatusUnauthorized || errorCode(body) != "setup_token_required" || !strings.Contains(string(body), appliance.SetupTokenHeader) {
			t.Errorf("%s: %d %s, want 401 setup_token_required naming the header", what, code, body)
		}
	}
	uninitialized := func(what string) {
		t.Helper()
		if st := in.sealStatus(); st.Initialized || st.Shares != 0 || st.PendingConfirmations != 0 {
			t.Fatalf("%s changed the seal: %+v", what, st)
		}
	}
	wrong := "vst_" + strings.Repeat("a", len(tok)-4)
	truncated := tok[:len(tok)-1]
	initBody := map[string]any{"shares": 2, "threshold": 2}
	code, body := in.postSetup("/api/v1/sys/init", initBody, nil)
	refused("init without the token", code, body)
	uninitialized("init without the token")
	for _, bad := range []string{wrong, truncated, "", strings.ToUpper(tok)} {
		code, body := in.postSetup("/api/v1/sys/init", initBody, &bad)
		refused(fmt.Sprintf("init with %q", bad), code, body)
	}
	uninitialized("init with a wrong token")

	// The operator on the box: https, trusting the appliance's own
	// certificate, the token read from the data directory.
	cmd := exec.Command(vantaBin, "operator", "init", "--addr", in.addr, "--data", data, "--shares", "2", "--threshold", "2", "--json")
	cmd.Env = append(os.Environ(), "VANTA_SETUP_TOKEN=", "VANTA_TLS=")
	out, err = cmd.Output()
	var res seal.InitResult
	if err != nil || json.Unmarshal(out, &res) != nil || len(res.Shares) != 2 {
		t.Fatalf("vanta operator init: %v %s", err, out)
	}
	// A reissue is an init too: without the token it hands out nothing.
	code, body = in.postSetup("/api/v1/sys/init", map[string]any{"shares": 2, "threshold": 2, "reissue": true}, nil)
	refused("reissue without the token", code, body)
	var shares []string
	for _, s := range res.Shares {
		shares = append(shares, s.Share)
		if code, body := in.post("/api/v1/sys/init/confirm", map[string]string{"share": s.Share}, nil); code != 200 {
			t.Fatalf("confirm (the reissue must not have replaced the shares): %d %s", code, body)
		}
	}
	if in.sealStatus().Sealed {
		in.unseal(shares)
	}

	god := map[string]string{"email": "god@vanta.test", "name": "Creator", "password": "correct horse battery staple"}
	code, body = in.postSetup("/api/v1/sys/setup/god", god, nil)
	refused("setup/god without the token", code, body)
	code, body = in.postSetup("/api/v1/sys/setup/god", god, &wrong)
	refused("setup/god with a wrong token", code, body)
	if _, err := os.Stat(appliance.SetupTokenPath(data)); err != nil {
		t.Fatalf("a refused setup/god spent the token: %v", err)
	}
	var made struct {
		TOTP struct{ Secret string } `json:"totp"`
	}
	code, body = in.postSetup("/api/v1/sys/setup/god", god, &tok)
	if code != http.StatusCreated || json.Unmarshal(body, &made) != nil {
		t.Fatalf("setup/god with the token: %d %s", code, body)
	}
	in.login(god["email"], god["password"], made.TOTP.Secret)

	// Spent: the file is gone, ctl says why, and the routes are back to
	// their own answers (no second GOD, no second init).
	in.waitLine("setup token spent", msg("setup token spent"))
	if _, err := os.Stat(appliance.SetupTokenPath(data)); !os.IsNotExist(err) {
		t.Errorf("token file after GOD: %v", err)
	}
	out, err = exec.Command(vantaBin, "ctl", "setup-token", "--data", data).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "a GOD exists") {
		t.Errorf("ctl setup-token after GOD: %v %s", err, out)
	}
	if code, body := in.get("/api/v1/sys/setup-token"); code != 200 || !strings.Contains(string(body), `"required":false`) {
		t.Errorf("setup-token status after GOD: %d %s", code, body)
	}
	if code, body := in.postSetup("/api/v1/sys/setup/god", god, nil); code != http.StatusConflict || errorCode(body) != "god_exists" {
		t.Errorf("setup/god after GOD: %d %s", code, body)
	}
	if code, body := in.postSetup("/api/v1/sys/init", initBody, &tok); code != http.StatusConflict {
		t.Errorf("init after GOD with the spent token: %d %s", code, body)
	}

	// A reboot makes no new token.
	in.stop()
	again := boot(t, data)
	again.waitReady()
	again.mu.Lock()
	for _, l := range again.lines {
		if l["msg"] == "setup token" {
			t.Errorf("a reboot after GOD logged a setup token: %v", l)
		}
	}
	again.mu.Unlock()
	if _, err := os.Stat(appliance.SetupTokenPath(data)); !os.IsNotExist(err) {
		t.Errorf("token file after reboot: %v", err)
	}
}

// TestSelfSignedCertificateAtFirstBoot: the listener speaks TLS by
// default with a certificate made at first boot, whose fingerprint is in
// the boot log and in `vanta ctl status`, and which a reboot keeps.
func TestSelfSignedCertificateAtFirstBoot(t *testing.T) {
	data := dataDir(t)
	in := boot(t, data)
	logged := in.waitLine("tls log line", msg("tls"))
	in.waitReady()
	if !strings.HasPrefix(in.url("/"), "https://") {
		t.Fatalf("the harness speaks %s", in.url("/"))
	}
	cert := in.certificate()
	fp := appliance.Fingerprint(cert.Raw)
	if logged["mode"] != "self-signed" || logged["fingerprint_sha256"] != fp {
		t.Errorf("boot log %v, want fingerprint %s", logged, fp)
	}
	host, _ := os.Hostname()
	for _, name := range []string{"localhost", host} {
		if !slices.Contains(cert.DNSNames, name) {
			t.Errorf("certificate names %v, lacks %q", cert.DNSNames, name)
		}
	}
	for _, ip := range []string{"127.0.0.1", "::1"} {
		if !slices.ContainsFunc(cert.IPAddresses, func(a net.IP) bool { return a.Equal(net.ParseIP(ip)) }) {
			t.Errorf("certificate addresses %v, lack %s", cert.IPAddresses, ip)
		}
	}
	if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("certificate key %T, want ECDSA P-256", cert.PublicKey)
	}
	if fi, err := os.Stat(appliance.SelfSignedKey(data)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", fi, err)
	}
	if code, _ := in.get("/healthz"); code != 200 {
		t.Errorf("healthz over TLS: %d", code)
	}
	// Plain HTTP to the TLS port gets no API answer.
	if resp, err := http.Get("http://" + in.addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the TLS port: %d", resp.StatusCode)
		}
	}

	out, err := exec.Command(vantaBin, "ctl", "status", "--json", "--data", data).Output()
	var st struct {
		appliance.ServicesReport
		TLS appliance.TLSInfo `json:"tls"`
	}
	if err != nil || json.Unmarshal(out, &st) != nil || st.TLS.Fingerprint != fp || st.TLS.Mode != "self-signed" || len(st.Services) == 0 {
		t.Errorf("ctl status --json: %v %s", err, out)
	}
	if out, err := exec.Command(vantaBin, "ctl", "status", "--data", data).Output(); err != nil || !strings.Contains(string(out), fp) {
		t.Errorf("ctl status does not show the fingerprint: %v\n%s", err, out)
	}

	in.stop()
	again := boot(t, data)
	if l := again.waitLine("tls log line", msg("tls")); l["fingerprint_sha256"] != fp {
		t.Errorf("reboot changed the certificate: %v, was %s", l["fingerprint_sha256"], fp)
	}
	again.waitReady()
}

// writeCert makes a certificate and key for 127.0.0.1 in dir.
func writeCert(t *testing.T, dir, name string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	certPath, keyPath = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

// TestTLSSettingsAreCheckedAtStart: a wrong TLS setting stops `vanta init`
// with exit 2 naming it, before anything is made.
func TestTLSSettingsAreCheckedAtStart(t *testing.T) {
	dir := t.TempDir()
	certA, keyA := writeCert(t, dir, "a")
	_, keyB := writeCert(t, dir, "b")
	for _, tc := range []struct {
		name string
		env  []string
		want []string
	}{
		{"unknown switch", []string{"VANTA_TLS=maybe"}, []string{"tls", "maybe", "on or off"}},
		{"unreadable cert", []string{"VANTA_TLS_CERT=/nonexistent/cert.pem", "VANTA_TLS_KEY=" + keyA}, []string{"tls_cert", "/nonexistent/cert.pem", "VANTA_TLS_CERT"}},
		{"unreadable key", []string{"VANTA_TLS_CERT=" + certA, "VANTA_TLS_KEY=/nonexistent/key.pem"}, []string{"tls_key", "/nonexistent/key.pem"}},
		{"mismatched pair", []string{"VANTA_TLS_CERT=" + certA, "VANTA_TLS_KEY=" + keyB}, []string{"tls_key", "does not match"}},
		{"cert without key", []string{"VANTA_TLS_CERT=" + certA}, []string{"tls_key", "required with tls_cert"}},
		{"cert with tls off", []string{"VANTA_TLS=off", "VANTA_TLS_CERT=" + certA, "VANTA_TLS_KEY=" + keyA}, []string{"tls", "tls_cert is set"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			cmd := exec.Command(vantaBin, "init", "--data", data, "--listen", "127.0.0.1:0")
			cmd.Env = append(append(os.Environ(), "VANTA_CONFIG=/dev/null"), tc.env...)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != exitUsage {
				t.Fatalf("exit %v, want %d:\n%s", err, exitUsage, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Errorf("data directory made despite the bad setting: %v", err)
			}
		})
	}
}

// TestOperatorCertificateAndPlainHTTP: the operator's certificate is the
// one served (none is made), and VANTA_TLS=off serves plain HTTP, for a
// TLS proxy in front.
func TestOperatorCertificateAndPlainHTTP(t *testing.T) {
	certPath, keyPath := writeCert(t, t.TempDir(), "operator")
	data := dataDir(t)
	in := bootWith(t, data, []string{"VANTA_TLS_CERT=" + certPath, "VANTA_TLS_KEY=" + keyPath})
	logged := in.waitLine("tls log line", msg("tls"))
	in.waitReady()
	if logged["mode"] != "operator" || logged["cert"] != certPath {
		t.Errorf("boot log %v", logged)
	}
	if code, _ := in.get("/healthz"); code != 200 { // the harness trusts exactly certPath
		t.Errorf("healthz with the operator's certificate: %d", code)
	}
	if _, err := os.Stat(appliance.SelfSignedCert(data)); !os.IsNotExist(err) {
		t.Errorf("a self-signed certificate was made beside the operator's: %v", err)
	}
	// operator --ca trusts it; without it, off the box, the error says what to do.
	cmd := exec.Command(vantaBin, "operator", "seal-status", "--addr", in.addr, "--ca", certPath, "--data", filepath.Join(data, "elsewhere"))
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "not initialized") {
		t.Errorf("operator --ca: %v %s", err, out)
	}
	cmd = exec.Command(vantaBin, "operator", "seal-status", "--addr", in.addr, "--data", filepath.Join(data, "elsewhere"))
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "--ca FILE") {
		t.Errorf("operator without trust: %v %s", err, out)
	}

	plain := bootWith(t, dataDir(t), []string{"VANTA_TLS=off"})
	if l := plain.waitLine("tls log line", msg("tls")); l["mode"] != "off" {
		t.Errorf("boot log with VANTA_TLS=off: %v", l)
	}
	plain.waitReady()
	if !strings.HasPrefix(plain.url("/"), "http://") {
		t.Fatalf("harness url %s", plain.url("/"))
	}
	if code, body := plain.get("/healthz"); code != 200 {
		t.Errorf("plain healthz: %d %s", code, body)
	}
	cmd = exec.Command(vantaBin, "operator", "seal-status", "--addr", "http://"+plain.addr)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "not initialized") {
		t.Errorf("operator over http: %v %s", err, out)
	}
}

// TestFirstBootOverTLSInBrowser is the whole first boot as an operator
// does it, in Chromium trusting the appliance's own certificate (its key's
// hash, nothing blanket): https /setup asks for the setup token, a wrong
// one is refused, the one `vanta ctl setup-token` prints is accepted; the
// key ceremony, the creator account and the first company follow; then
// the token is spent.
func TestFirstBootOverTLSInBrowser(t *testing.T) {
	data := dataDir(t)
	in := boot(t, data)
	in.waitReady()
	url := in.url("/setup")
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("setup at %s", url)
	}
	page := newTab(t, browser(t), "first boot", false)
	page.do("open https /setup", chromedp.Navigate(url))
	page.waitShown("#step-token")
	page.waitText("#step-token", "vanta ctl setup-token")
	page.waitText("#step-token", "boot log")
	if proto := eval[string](page, `location.protocol`); proto != "https:" {
		t.Fatalf("the page is on %s", proto)
	}
	page.screenshot("firstboot-token.png")

	// A wrong token is taken, and refused at the first call that needs it.
	page.do("enter a wrong token",
		chromedp.SendKeys(chromedp.CSS("#setup-token"), "vst_not-the-token"),
		chromedp.Click(chromedp.CSS("#token-submit")))
	page.waitShown("#step-configure")
	_ = eval[bool](page, `(() => { for (const [id, v] of [["shares", "3"], ["threshold", "2"]]) {
		const e = document.querySelector("#" + id); e.value = v; e.dispatchEvent(new Event("input", {bubbles: true})); } return true; })()`)
	page.do("create the shares", chromedp.Click(chromedp.CSS("#init-submit")))
	page.waitShown(`#token-error[data-code="setup_token_required"]`)
	page.waitText("#token-error", "did not accept")
	page.extraScreenshot("firstboot-token-refused.png")
	if st := in.sealStatus(); st.Shares != 0 || st.Initialized {
		t.Fatalf("a wrong token started the ceremony: %+v", st)
	}
	page.enterSetupToken(in)
	page.waitShown("#step-configure")
	if n, k := page.value("#shares"), page.value("#threshold"); n != "3" || k != "2" {
		t.Errorf("the form lost its values: %s of %s", k, n)
	}
	page.do("create the shares", chromedp.Click(chromedp.CSS("#init-submit")))

	var shares []string
	for slot := 1; slot <= 3; slot++ {
		page.waitShown(fmt.Sprintf(`#share-card[data-slot="%d"]`, slot))
		shown := strings.TrimSpace(page.text("#share-text"))
		if shown == "" {
			t.Fatalf("slot %d: no share on the page", slot)
		}
		shares = append(shares, shown)
		if slot == 1 {
			page.screenshot("firstboot-share.png")
		}
		// Typed back as shown: whatever the grouping, the appliance reads it.
		page.do("save, continue and confirm",
			chromedp.Click(chromedp.CSS("#share-saved")),
			chromedp.WaitEnabled(chromedp.CSS("#share-continue")),
			chromedp.Click(chromedp.CSS("#share-continue")),
			chromedp.WaitVisible(chromedp.CSS("#confirm-share")),
			chromedp.SetValue(chromedp.CSS("#confirm-share"), shown),
			chromedp.Click(chromedp.CSS("#confirm-submit")))
	}
	// After the last confirmation the appliance is sealed (custodians then
	// unseal) or already unsealed (the secret was just rebuilt): either way
	// the wizard goes on to the creator account.
	page.waitFor("the end of the ceremony",
		`["#step-done", "#step-god", "#step-token"].some((s) => { const e = document.querySelector(s); return !!e && !e.closest("[hidden]"); })`,
		`document.querySelector("main").innerText`)
	page.extraScreenshot("firstboot-ceremony-done.png")
	if st := in.sealStatus(); !st.Initialized || st.Shares != 3 || st.Threshold != 2 {
		t.Fatalf("after the ceremony: %+v", st)
	} else if st.Sealed {
		in.unseal(shares[:2])
		page.do("back to /setup", chromedp.Navigate(url))
	} else {
		// Unsealed by the last confirmation: the page says so and goes on.
		page.waitShown("#done-unsealed")
		page.do("continue to the creator account", chromedp.Click(chromedp.CSS("#done-continue")))
	}
	page.waitFor("the creator account or the token",
		`["#step-god", "#step-token"].some((s) => { const e = document.querySelector(s); return !!e && !e.closest("[hidden]"); })`,
		`document.querySelector("main").innerText`)
	if eval[bool](page, `!document.querySelector("#step-token").hidden`) {
		page.enterSetupToken(in) // a new page load: the token lives in the page's memory only
	}
	page.waitShown("#step-god")

	const email, name, password = "operator@vanta.test", "Achieng Otieno", "tea estates above kericho"
	page.do("create the creator account",
		chromedp.SendKeys(chromedp.CSS("#god-email"), email),
		chromedp.SendKeys(chromedp.CSS("#god-name"), name),
		chromedp.SendKeys(chromedp.CSS("#god-password"), password),
		chromedp.SendKeys(chromedp.CSS("#god-password2"), password),
		chromedp.Click(chromedp.CSS("#god-submit")))
	page.waitShown("#step-totp")
	secret := strings.Join(strings.Fields(page.text("#totp-secret")), "")
	code, err := auth.TOTPCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	page.do("enter the authenticator's code",
		chromedp.SendKeys(chromedp.CSS("#totp-code"), code),
		chromedp.Click(chromedp.CSS("#totp-submit")))
	page.waitShown("#step-company")
	page.do("create the first company",
		chromedp.SendKeys(chromedp.CSS("#company-name"), "Kericho Tea Traders Ltd"),
		chromedp.SendKeys(chromedp.CSS("#tax-id"), "P051234567Z"),
		chromedp.Click(chromedp.CSS("#company-submit")))
	page.waitShown("#step-finish")
	page.waitText("#finish-summary", "Kericho Tea Traders Ltd is created")
	page.screenshot("firstboot-finish.png")
	page.checkErrors()

	// The token is spent: gone from disk, and ctl says why.
	if _, err := os.Stat(appliance.SetupTokenPath(data)); !os.IsNotExist(err) {
		t.Errorf("token file after the creator account: %v", err)
	}
	out, err := exec.Command(vantaBin, "ctl", "setup-token", "--data", data).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "a GOD exists") {
		t.Errorf("ctl setup-token after the first boot: %v %s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	var n int
	if err := pgConnect(t, data).QueryRow(ctx, "SELECT count(*) FROM vanta.companies").Scan(&n); err != nil || n != 1 {
		t.Errorf("companies after the first boot: %d %v", n, err)
	}
}

// TestDockerignoreKeepsTheDataOut: after scripts/run, ./var holds the
// database, secrets, seal file and setup token; `docker build .` must not
// send them as build context (hole 11).
func TestDockerignoreKeepsTheDataOut(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		switch strings.TrimSpace(l) {
		case "var", "var/", "/var", "/var/", "var/**":
			return
		}
	}
	t.Errorf(".dockerignore does not exclude var/:\n%s", b)
}
