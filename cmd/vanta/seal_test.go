package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vanta-ledger/vanta/internal/seal"
)

// post sends a JSON body and decodes the answer into out (if not nil).
func (in *instance) post(path string, body any, out any) (int, []byte) {
	in.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		in.t.Fatal(err)
	}
	req := in.request("POST", path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	status, data := in.do(req)
	if out != nil && status < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			in.t.Fatalf("%s: %v in %s", path, err, data)
		}
	}
	return status, data
}

func (in *instance) sealStatus() seal.Status {
	in.t.Helper()
	_, body := in.get("/api/v1/sys/seal-status")
	var st seal.Status
	if err := json.Unmarshal(body, &st); err != nil {
		in.t.Fatal(err)
	}
	return st
}

// initSeal runs the key ceremony and returns the plain shares.
func (in *instance) initSeal(n, k int) []string {
	in.t.Helper()
	var res seal.InitResult
	if code, body := in.post("/api/v1/sys/init", map[string]any{"shares": n, "threshold": k}, &res); code != 200 {
		in.t.Fatalf("init: %d %s", code, body)
	}
	var shares []string
	for _, s := range res.Shares {
		shares = append(shares, s.Share)
		if code, body := in.post("/api/v1/sys/init/confirm", map[string]string{"share": s.Share}, nil); code != 200 {
			in.t.Fatalf("confirm: %d %s", code, body)
		}
	}
	return shares
}

// unseal enters shares until unsealed; the ceremony leaves a fresh
// appliance unsealed, and then there is nothing to do.
func (in *instance) unseal(shares []string) seal.Status {
	in.t.Helper()
	if st := in.sealStatus(); st.Initialized && !st.Sealed {
		return st
	}
	var st seal.Status
	for _, s := range shares {
		if code, body := in.post("/api/v1/sys/unseal", map[string]string{"share": s}, &st); code != 200 {
			in.t.Fatalf("unseal: %d %s", code, body)
		}
	}
	return st
}

// errorCode returns the code of an API error body.
func errorCode(body []byte) string {
	var e struct {
		Error struct{ Code, Field string } `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error.Code
}

func TestSealLifecycle(t *testing.T) { sealLifecycle(t, nil) }

// TestSealLifecyclePKCS11 runs the same lifecycle with the KEK in a
// SoftHSM2 token.
func TestSealLifecyclePKCS11(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.MkdirAll(filepath.Join(dir, "tokens"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dir, "tokens")+"\nobjectstore.backend = file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	initToken := exec.Command("softhsm2-util", "--init-token", "--free", "--label", "vanta-appliance", "--so-pin", "so-pin-1234", "--pin", "initial-user-pin")
	initToken.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf)
	if out, err := initToken.CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util: %v %s", err, out)
	}
	sealLifecycle(t, []string{
		"SOFTHSM2_CONF=" + conf,
		"VANTA_KEY_PROVIDER=pkcs11",
		"VANTA_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so",
		"VANTA_PKCS11_TOKEN=vanta-appliance",
		"VANTA_PKCS11_SO_PIN=so-pin-1234",
	})
}

func sealLifecycle(t *testing.T, env []string) {
	data := dataDir(t)
	t.Setenv("VANTA_DATA", data) // vanta operator, on the box, trusts this appliance's certificate
	in := bootWith(t, data, env)
	in.waitReady()

	wantProvider := "software"
	if len(env) > 0 {
		wantProvider = "pkcs11"
	}
	if st := in.sealStatus(); st.Initialized || !st.Sealed || st.Provider != wantProvider {
		t.Fatalf("fresh appliance: %+v", st)
	}
	code, body := in.get("/api/v1/companies")
	if code != http.StatusServiceUnavailable || errorCode(body) != "sealed" {
		t.Fatalf("protected route while sealed: %d %s", code, body)
	}
	if code, body := in.get("/readyz"); code != 503 || !strings.Contains(string(body), `"status":"sealed"`) {
		t.Errorf("readyz while sealed: %d %s", code, body)
	}

	var res seal.InitResult
	if code, body := in.post("/api/v1/sys/init", map[string]any{"shares": 7, "threshold": 5,
		"custodians": []map[string]string{{"name": "Amina"}, {"name": "Baraka"}}}, &res); code != 200 {
		t.Fatalf("init: %d %s", code, body)
	}
	if len(res.Shares) != 7 || res.Shares[0].Custodian != "Amina" {
		t.Fatalf("init result %+v", res)
	}
	if code, body := in.post("/api/v1/sys/init", map[string]any{}, nil); code != 409 || errorCode(body) != "confirmation_pending" {
		t.Errorf("init again while pending: %d %s", code, body)
	}
	var shares []string
	for _, s := range res.Shares {
		shares = append(shares, s.Share)
		if code, body := in.post("/api/v1/sys/init/confirm", map[string]string{"share": s.Share}, nil); code != 200 {
			t.Fatalf("confirm: %d %s", code, body)
		}
	}
	// The secret was just rebuilt from the confirmations: it is open.
	if st := in.sealStatus(); !st.Initialized || st.Sealed || st.PendingConfirmations != 0 {
		t.Fatalf("after the ceremony %+v", st)
	}
	// No GOD exists yet, so sealing needs no token.
	if code, body := in.post("/api/v1/sys/seal", nil, nil); code != 200 {
		t.Fatalf("seal after the ceremony: %d %s", code, body)
	}

	in.unseal(shares[:2])
	foreign := make([]byte, 65)
	_, _ = rand.Read(foreign)
	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"share of another appliance", map[string]string{"share": base64.StdEncoding.EncodeToString(foreign)}, 400, "unknown_share"},
		{"duplicate", map[string]string{"share": shares[1]}, 409, "duplicate_share"},
		{"malformed", map[string]string{"share": "%%%"}, 400, "malformed_share"},
		{"missing share", map[string]string{}, 400, "validation_failed"},
		{"unknown field", map[string]string{"shard": shares[2]}, 400, "unknown_field"},
		{"reset with a share not entered", map[string]any{"share": shares[2], "reset": true}, 403, "reset_not_allowed"},
		{"reset with no share", map[string]any{"reset": true}, 403, "reset_not_allowed"},
		{"stale nonce", map[string]string{"share": shares[2], "nonce": "old"}, 409, "stale_nonce"},
	} {
		code, body := in.post("/api/v1/sys/unseal", tc.body, nil)
		if code != tc.status || errorCode(body) != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, code, body, tc.status, tc.code)
		}
		if st := in.sealStatus(); st.Progress != 2 || !st.Sealed {
			t.Fatalf("%s changed progress: %+v", tc.name, st)
		}
	}
	if st := in.unseal(shares[2:4]); !st.Sealed || st.Progress != 4 {
		t.Fatalf("after 4 shares: %+v", st)
	}
	if code, _ := in.get("/api/v1/companies"); code != 503 {
		t.Errorf("protected route with 4 of 5 shares: %d", code)
	}
	if st := in.unseal(shares[6:7]); st.Sealed {
		t.Fatalf("5th share left it sealed: %+v", st)
	}
	if code, body := in.get("/readyz"); code != 200 {
		t.Errorf("readyz after unseal: %d %s", code, body)
	}
	if code, body := in.get("/api/v1/companies"); code != 401 || errorCode(body) != "unauthenticated" {
		t.Errorf("past the seal gate: %d %s", code, body)
	}
	if code, body := in.post("/api/v1/sys/unseal", map[string]string{"share": shares[5]}, nil); code != 409 || errorCode(body) != "already_unsealed" {
		t.Errorf("unseal while unsealed: %d %s", code, body)
	}
	if code, body := in.post("/api/v1/sys/init", map[string]any{}, nil); code != 409 || errorCode(body) != "already_initialized" {
		t.Errorf("init twice: %d %s", code, body)
	}

	// Break-glass: the threshold buys one token that works once.
	var bg struct {
		Token     string `json:"token"`
		ExpiresIn int    `json:"expires_in"`
	}
	for _, s := range shares[:5] {
		if code, body := in.post("/api/v1/sys/break-glass", map[string]string{"share": s}, &bg); code != 200 {
			t.Fatalf("break-glass: %d %s", code, body)
		}
	}
	if bg.Token == "" || bg.ExpiresIn != 30 {
		t.Fatalf("break-glass answer %+v", bg)
	}
	if code, body := in.post("/api/v1/sys/break-glass/use", map[string]string{"token": bg.Token}, nil); code != 200 {
		t.Errorf("first use: %d %s", code, body)
	}
	if code, body := in.post("/api/v1/sys/break-glass/use", map[string]string{"token": bg.Token}, nil); code != 401 || errorCode(body) != "invalid_token" {
		t.Errorf("second use: %d %s", code, body)
	}

	// Restart: sealed again; custodians unseal with the CLI, share on stdin.
	in.stop()
	again := bootWith(t, data, env)
	again.waitReady()
	if st := again.sealStatus(); !st.Sealed || !st.Initialized {
		t.Fatalf("after restart %+v", st)
	}
	for i, s := range shares[2:7] {
		cmd := exec.Command(vantaBin, "operator", "unseal", "--addr", again.addr)
		cmd.Stdin = strings.NewReader(s + "\n")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("operator unseal %d: %v\n%s", i+1, err, out)
		}
		want := "State:       sealed"
		if i == 4 {
			want = "State:       unsealed"
		}
		if !strings.Contains(string(out), want) {
			t.Errorf("operator unseal %d printed:\n%s", i+1, out)
		}
	}
	out, err := exec.Command(vantaBin, "operator", "seal-status", "--json", "--addr", again.addr).Output()
	var st seal.Status
	if err != nil || json.Unmarshal(out, &st) != nil || st.Sealed {
		t.Errorf("seal-status --json: %v %s", err, out)
	}
	cmd := exec.Command(vantaBin, "operator", "unseal", "--addr", again.addr)
	cmd.Stdin = strings.NewReader("garbage\n")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "already unsealed") {
		t.Errorf("operator unseal while unsealed: %v %s", err, out)
	}
	again.stop()

	// Nothing written during all this holds a share.
	var logs []byte
	for _, inst := range []*instance{in, again} {
		inst.mu.Lock()
		for _, l := range inst.lines {
			b, _ := json.Marshal(l)
			logs = append(append(logs, b...), '\n')
		}
		inst.mu.Unlock()
	}
	files, _ := filepath.Glob(filepath.Join(data, "log", "*"))
	files = append(files, filepath.Join(data, "seal", "seal.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		logs = append(logs, b...)
	}
	if len(logs) < 1000 || !bytes.Contains(logs, []byte(`"action"`)) {
		t.Fatalf("too little log to search (%d bytes)", len(logs))
	}
	for i, s := range shares {
		for _, piece := range []string{s, s[:24], s[len(s)-24:]} {
			if bytes.Contains(logs, []byte(piece)) {
				t.Errorf("share %d appears in the logs", i+1)
			}
		}
	}
	if bytes.Contains(logs, []byte(bg.Token)) {
		t.Error("the break-glass token appears in the logs")
	}
	if res.CeremonyToken == "" || bytes.Contains(logs, []byte(res.CeremonyToken[4:])) {
		t.Errorf("the ceremony token (%d characters) is missing or appears in the logs or the seal state", len(res.CeremonyToken))
	}
}

func TestOperatorInitAndBadFlags(t *testing.T) {
	data := dataDir(t)
	t.Setenv("VANTA_DATA", data) // vanta operator on the box: the certificate and the setup token
	in := boot(t, data)
	in.waitReady()
	out, err := exec.Command(vantaBin, "operator", "init", "--shares", "3", "--threshold", "2", "--custodian", "Amina", "--json", "--addr", in.addr).Output()
	if err != nil {
		t.Fatalf("operator init: %v", err)
	}
	var res seal.InitResult
	if err := json.Unmarshal(out, &res); err != nil || len(res.Shares) != 3 || res.Shares[0].Custodian != "Amina" {
		t.Fatalf("operator init --json: %v %s", err, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"operator", "init", "--shares", "3", "--threshold", "4", "--reissue"}, "threshold"},
		{[]string{"operator", "init", "--shares", "3", "--threshold", "2"}, "confirmation_pending"},
		{[]string{"operator", "frobnicate"}, "unknown command"},
	} {
		out, err := exec.Command(vantaBin, append(tc.args, "--addr", in.addr)...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("vanta %v: %v %s, want %q", tc.args, err, out, tc.want)
		}
	}
	cmd := exec.Command(vantaBin, "operator", "confirm", "--addr", in.addr)
	cmd.Stdin = strings.NewReader(res.Shares[1].Share)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "2 confirmations pending") {
		t.Errorf("operator confirm: %v %s", err, out)
	}
	if out, err := exec.Command(vantaBin, "operator", "seal-status", "--addr", "127.0.0.1:1").CombinedOutput(); err == nil || !strings.Contains(string(out), "cannot reach the API") {
		t.Errorf("unreachable API: %v %s", err, out)
	}
}
