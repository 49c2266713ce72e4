package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/vanta-ledger/vanta/internal/auth"
	"github.com/vanta-ledger/vanta/internal/seal"
)

// godAppliance is a booted appliance past the ceremony (unsealed) with a
// GOD, logged in.
type godAppliance struct {
	in         *instance
	data       string
	shares     []string
	god        tokens
	godID      string
	totpSecret string
}

func newGODAppliance(t *testing.T, n, k int) *godAppliance {
	t.Helper()
	data := dataDir(t)
	in := boot(t, data)
	in.waitReady()
	shares := in.initSeal(n, k)
	in.unseal(shares)
	var god struct {
		User struct{ ID string }     `json:"user"`
		TOTP struct{ Secret string } `json:"totp"`
	}
	in.mustCall("POST", "/api/v1/sys/setup/god", "", map[string]string{"email": "god@vanta.test", "name": "Creator", "password": "correct horse battery staple"}, 201, &god)
	return &godAppliance{in: in, data: data, shares: shares, godID: god.User.ID, totpSecret: god.TOTP.Secret,
		god: in.login("god@vanta.test", "correct horse battery staple", god.TOTP.Secret)}
}

// operator runs `vanta operator` against in with stdin and extra
// environment, never inheriting a VANTA_TOKEN from the test's own.
func (in *instance) operator(stdin string, env []string, args ...string) (string, error) {
	cmd := exec.Command(vantaBin, append(append([]string{"operator"}, args...), "--addr", in.addr, "--data", in.data)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VANTA_TOKEN=") && !strings.HasPrefix(kv, "VANTA_CEREMONY_TOKEN=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestRekeyNeedsGODOrShares (hole 2): once a GOD exists, nobody else can
// start or cancel a rekey while unsealed; while sealed a proposal is
// visible in seal-status with its recipients and origin, and cancelling
// takes the threshold of current shares.
func TestRekeyNeedsGODOrShares(t *testing.T) {
	g := newGODAppliance(t, 3, 2)
	in := g.in
	attacker, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	evil := map[string]any{"shares": 2, "threshold": 2, "custodians": []map[string]string{
		{"name": "Mallory", "age_recipient": attacker.Recipient().String()}, {"name": "Trudy", "age_recipient": attacker.Recipient().String()}}}

	if code, body := in.call("POST", "/api/v1/sys/rekey/init", "", evil); code != http.StatusUnauthorized {
		t.Errorf("anonymous rekey/init while unsealed: %d %s", code, body)
	}
	if st := in.sealStatus(); st.Rekey != nil {
		t.Fatalf("an anonymous rekey is pending: %+v", st.Rekey)
	}
	if out, err := in.operator("", nil, "rekey", "start", "--shares", "2", "--threshold", "2"); err == nil || !strings.Contains(out, "unauthenticated") {
		t.Errorf("operator rekey start without VANTA_TOKEN: %v %s", err, out)
	}

	// GOD starts one; status shows whom it encrypts to and who started it.
	var st seal.Status
	in.mustCall("POST", "/api/v1/sys/rekey/init", g.god.AccessToken, map[string]any{"shares": 3, "threshold": 2,
		"custodians": []map[string]string{{"name": "Amina", "age_recipient": attacker.Recipient().String()}}}, 200, &st)
	r := in.sealStatus().Rekey
	if r == nil || r.StartedBy != "god" || r.StartedByUser != g.godID || r.StartedIP != "127.0.0.1" || r.StartedAt.IsZero() ||
		len(r.NewCustodians) != 3 || r.NewCustodians[0].Name != "Amina" || r.NewCustodians[0].AgeRecipient != attacker.Recipient().String() ||
		!r.ExpiresAt.After(r.StartedAt) {
		t.Fatalf("seal-status rekey: %+v", r)
	}
	if code, body := in.call("POST", "/api/v1/sys/rekey/cancel", "", nil); code != http.StatusUnauthorized {
		t.Errorf("anonymous rekey/cancel: %d %s", code, body)
	}
	if in.sealStatus().Rekey == nil {
		t.Fatal("an anonymous cancel cancelled GOD's rekey")
	}
	in.mustCall("POST", "/api/v1/sys/rekey/cancel", g.god.AccessToken, nil, 200, nil)
	if out, err := in.operator("", []string{"VANTA_TOKEN=" + g.god.AccessToken}, "rekey", "start", "--shares", "2", "--threshold", "2"); err != nil || !strings.Contains(out, "started by god") {
		t.Errorf("operator rekey start with VANTA_TOKEN: %v %s", err, out)
	}
	if out, err := in.operator("", []string{"VANTA_TOKEN=" + g.god.AccessToken}, "rekey", "cancel"); err != nil {
		t.Errorf("operator rekey cancel with VANTA_TOKEN: %v %s", err, out)
	}

	// Sealed: anyone may propose, and everyone sees what it is.
	in.mustCall("POST", "/api/v1/sys/seal", g.god.AccessToken, nil, 200, nil)
	in.mustCall("POST", "/api/v1/sys/rekey/init", "", evil, 200, &st)
	r = in.sealStatus().Rekey
	if r == nil || r.StartedBy != "unauthenticated while sealed" || r.StartedIP != "127.0.0.1" || r.StartedByUser != "" ||
		len(r.NewCustodians) != 2 || r.NewCustodians[1].Name != "Trudy" || r.NewCustodians[1].AgeRecipient != attacker.Recipient().String() {
		t.Fatalf("seal-status of a proposal while sealed: %+v", r)
	}
	if code, body := in.call("POST", "/api/v1/sys/rekey/cancel", "", nil); code < 400 || in.sealStatus().Rekey == nil {
		t.Fatalf("anonymous cancel with no share while sealed: %d %s", code, body)
	}
	in.mustCall("POST", "/api/v1/sys/rekey/cancel", "", map[string]string{"share": g.shares[0]}, 200, &st)
	if st.Rekey == nil || st.Rekey.CancelProgress != 1 {
		t.Fatalf("one cancel share: %+v", st.Rekey)
	}
	out, err := in.operator(g.shares[2], nil, "rekey", "cancel")
	if err != nil || strings.Contains(out, "Rekey:") {
		t.Errorf("operator rekey cancel with the threshold's last share: %v %s", err, out)
	}
	if st := in.sealStatus(); st.Rekey != nil {
		t.Fatalf("the threshold of cancel shares left the rekey: %+v", st.Rekey)
	}
}

// TestCeremonyReissueNeedsProof (hole 3): while confirmations are
// pending, a reissue without the ceremony token or a pending share is
// refused and changes nothing.
func TestCeremonyReissueNeedsProof(t *testing.T) {
	in := boot(t, dataDir(t))
	in.waitReady()
	var first seal.InitResult
	in.mustCall("POST", "/api/v1/sys/init", "", map[string]any{"shares": 3, "threshold": 2}, 200, &first)
	if !strings.HasPrefix(first.CeremonyToken, "vct_") {
		t.Fatalf("init gave no ceremony token: %+v", first)
	}
	in.mustCall("POST", "/api/v1/sys/init/confirm", "", map[string]string{"share": first.Shares[0].Share}, 200, nil)
	before := in.sealStatus()
	for name, body := range map[string]map[string]any{
		"no proof":    {"shares": 2, "threshold": 2, "reissue": true},
		"wrong token": {"shares": 2, "threshold": 2, "reissue": true, "ceremony_token": "vct_" + strings.Repeat("A", 43)},
		"not a share": {"shares": 2, "threshold": 2, "reissue": true, "share": strings.Repeat("0", 125)},
	} {
		code, data := in.call("POST", "/api/v1/sys/init", "", body)
		if code < 400 || strings.Contains(string(data), `"shares"`) {
			t.Errorf("reissue with %s: %d %s", name, code, data)
		}
		if name != "not a share" && errorCode(data) != "ceremony_proof_required" {
			t.Errorf("reissue with %s: %s", name, data)
		}
		after := in.sealStatus()
		if after.Shares != before.Shares || after.PendingConfirmations != before.PendingConfirmations {
			t.Fatalf("a refused reissue (%s) changed the state: %+v", name, after)
		}
	}
	in.mustCall("POST", "/api/v1/sys/init/confirm", "", map[string]string{"share": first.Shares[1].Share}, 200, nil)

	var byToken seal.InitResult
	in.mustCall("POST", "/api/v1/sys/init", "", map[string]any{"shares": 2, "threshold": 2, "reissue": true, "ceremony_token": first.CeremonyToken}, 200, &byToken)
	if len(byToken.Shares) != 2 || byToken.CeremonyToken == "" || byToken.CeremonyToken == first.CeremonyToken {
		t.Fatalf("reissue with the token: %+v", byToken)
	}
	if code, body := in.call("POST", "/api/v1/sys/init/confirm", "", map[string]string{"share": first.Shares[2].Share}); code != 400 {
		t.Errorf("a share of the replaced set still confirms: %d %s", code, body)
	}
	// The operator CLI: a pending share is proof too.
	out, err := in.operator(byToken.Shares[1].Share, nil, "init", "--shares", "2", "--threshold", "2", "--reissue", "--json")
	var byShare seal.InitResult
	if err != nil || json.Unmarshal([]byte(out), &byShare) != nil || len(byShare.Shares) != 2 {
		t.Fatalf("operator init --reissue with a pending share: %v %s", err, out)
	}
	for _, sh := range byShare.Shares {
		in.mustCall("POST", "/api/v1/sys/init/confirm", "", map[string]string{"share": sh.Share}, 200, nil)
	}
	// Hole 5 of the ceremony: the last confirmation leaves it unsealed.
	if st := in.sealStatus(); !st.Initialized || st.Sealed {
		t.Fatalf("after the last confirmation: %+v", st)
	}
}

// TestGODRoutesFailClosed (hole 4): once a GOD exists, the GOD-only
// routes answer 503 without a token when no token can be checked: while
// sealed, and while the identity service cannot be built because
// PostgreSQL refuses the appliance. The custodians' routes stay open.
func TestGODRoutesFailClosed(t *testing.T) {
	g := newGODAppliance(t, 2, 2)
	in := g.in
	in.mustCall("GET", "/api/v1/sys/services", g.god.AccessToken, nil, 200, nil)
	in.mustCall("POST", "/api/v1/sys/seal", g.god.AccessToken, nil, 200, nil)

	closed := func(when string) {
		t.Helper()
		for _, route := range []struct{ method, path string }{
			{"GET", "/api/v1/sys/services"}, {"POST", "/api/v1/sys/seal"}, {"POST", "/api/v1/sys/rotate"}, {"POST", "/api/v1/sys/rekey/cancel"},
		} {
			req := in.request(route.method, route.path, nil)
			resp, err := in.client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var e struct{ Error struct{ Code string } }
			_ = json.NewDecoder(resp.Body).Decode(&e)
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable || e.Error.Code != "unavailable" || resp.Header.Get("Retry-After") == "" {
				t.Errorf("%s: %s %s answered %d %q (Retry-After %q), want 503 unavailable", when, route.method, route.path, resp.StatusCode, e.Error.Code, resp.Header.Get("Retry-After"))
			}
		}
		if code, body := in.get("/api/v1/sys/seal-status"); code != 200 {
			t.Errorf("%s: seal-status %d %s", when, code, body)
		}
	}
	closed("sealed")

	// PostgreSQL refuses the appliance's role, and drops its connections.
	pg := pgConnect(t, g.data)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := pg.Exec(ctx, "ALTER ROLE vanta_app NOLOGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := pg.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'vanta_app'"); err != nil {
		t.Fatal(err)
	}
	if st := in.unseal(g.shares); st.Sealed {
		t.Fatalf("unseal: %+v", st)
	}
	closed("unsealed, PostgreSQL refusing")
	if _, err := pg.Exec(ctx, "ALTER ROLE vanta_app LOGIN"); err != nil {
		t.Fatal(err)
	}
	// Back: GOD signs in again (the pool reconnects on demand; the token
	// from before the seal ended with it) and the routes answer GOD.
	deadline := time.Now().Add(guard)
	for {
		code, body := in.call("GET", "/api/v1/sys/services", g.god.AccessToken, nil)
		if code == http.StatusUnauthorized {
			break // tokens can be checked again, and the old one is refused
		}
		if code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("services with GOD's token from before the seal, once PostgreSQL is back: %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The next step's code: the one newGODAppliance signed in with may
	// still be current, and a code works once.
	code, err := auth.TOTPCode(g.totpSecret, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var fresh tokens
	in.mustCall("POST", "/api/v1/auth/login", "", map[string]string{"email": "god@vanta.test", "password": "correct horse battery staple", "totp": code}, 200, &fresh)
	in.mustCall("GET", "/api/v1/sys/services", fresh.AccessToken, nil, 200, nil)
	if code, body := in.call("GET", "/api/v1/sys/services", "", nil); code != http.StatusUnauthorized {
		t.Errorf("services without a token: %d %s", code, body)
	}
}

// TestUnsealResetNeedsAShare (hole 6): an anonymous reset is refused;
// the custodian who entered a share resets with it, on the API and with
// `vanta operator unseal --reset`; the audit names slot and IP.
func TestUnsealResetNeedsAShare(t *testing.T) {
	data := dataDir(t)
	in := boot(t, data)
	in.waitReady()
	shares := in.initSeal(3, 3)
	in.mustCall("POST", "/api/v1/sys/seal", "", nil, 200, nil) // no GOD yet
	in.mustCall("POST", "/api/v1/sys/unseal", "", map[string]string{"share": shares[0]}, 200, nil)
	for name, body := range map[string]map[string]any{
		"no share":            {"reset": true},
		"a share not entered": {"reset": true, "share": shares[1]},
	} {
		code, data := in.call("POST", "/api/v1/sys/unseal", "", body)
		if code != http.StatusForbidden || errorCode(data) != "reset_not_allowed" {
			t.Errorf("reset with %s: %d %s", name, code, data)
		}
		if st := in.sealStatus(); st.Progress != 1 {
			t.Fatalf("reset with %s discarded progress: %+v", name, st)
		}
	}
	var st seal.Status
	in.mustCall("POST", "/api/v1/sys/unseal", "", map[string]any{"reset": true, "share": shares[0]}, 200, &st)
	if st.Progress != 0 {
		t.Fatalf("reset by the custodian: %+v", st)
	}
	in.mustCall("POST", "/api/v1/sys/unseal", "", map[string]string{"share": shares[2]}, 200, nil)
	if out, err := in.operator(shares[1], nil, "unseal", "--reset"); err == nil || !strings.Contains(out, "reset_not_allowed") {
		t.Errorf("operator unseal --reset with a share not entered: %v %s", err, out)
	}
	if out, err := in.operator(shares[2], nil, "unseal", "--reset"); err != nil || !strings.Contains(out, "Progress:    0 of 3") {
		t.Errorf("operator unseal --reset: %v %s", err, out)
	}

	// The system chain names who reset, from where.
	pg := pgConnect(t, data)
	deadline := time.Now().Add(guard)
	for {
		var slot, ip string
		err := pg.QueryRow(context.Background(), `SELECT details::jsonb->>'slot', ip FROM audit.records
			WHERE chain = 'system' AND action = 'seal.unseal_reset' AND outcome = 'reset' ORDER BY seq LIMIT 1`).Scan(&slot, &ip)
		if err == nil {
			if slot != "1" || ip != "127.0.0.1" {
				t.Errorf("audit of the reset: slot %q ip %q", slot, ip)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit record of the reset: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
