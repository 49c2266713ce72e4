//go:build cgo

package seal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
)

// The PKCS#11 provider is tested against Debian's SoftHSM2 (package
// softhsm2, which scripts/install-deps installs), in a token directory of
// this test run's own.
const (
	softHSMModule  = "/usr/lib/softhsm/libsofthsm2.so"
	softHSMSOPIN   = "vanta-so-pin"
	softHSMUserPIN = "vanta-user-pin" // what softhsm2-util sets; Create replaces it
	softHSMToken   = "vanta-test"     // made with softhsm2-util by the setup
)

var pkcs11Case = &providerCase{name: "pkcs11", setup: setupSoftHSM, forDir: softHSMProvider}

func init() { providerCases = append(providerCases, pkcs11Case) }

// setupSoftHSM points SoftHSM2 at a fresh token directory and makes the
// vanta-test token there with softhsm2-util. It runs before anything in
// this process loads the library: SoftHSM2 reads its configuration, and
// the tokens made by other processes, at C_Initialize only.
func setupSoftHSM() (func(), error) {
	if _, err := os.Stat(softHSMModule); err != nil {
		return nil, fmt.Errorf("%s is missing: install softhsm2 (scripts/install-deps does)", softHSMModule)
	}
	if _, err := exec.LookPath("softhsm2-util"); err != nil {
		return nil, errors.New("softhsm2-util is not on PATH: install softhsm2 (scripts/install-deps does)")
	}
	dir, err := os.MkdirTemp("", "seal-softhsm-")
	if err != nil {
		return nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	tokens := filepath.Join(dir, "tokens")
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		cleanup()
		return nil, err
	}
	text := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		cleanup()
		return nil, err
	}
	if err := os.Setenv("SOFTHSM2_CONF", conf); err != nil {
		cleanup()
		return nil, err
	}
	out, err := exec.Command("softhsm2-util", "--init-token", "--free", "--label", softHSMToken,
		"--so-pin", softHSMSOPIN, "--pin", softHSMUserPIN).CombinedOutput()
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("softhsm2-util --init-token: %v: %s", err, out)
	}
	return cleanup, nil
}

// softHSMTokens gives each appliance directory a token of its own: two
// appliances on one token would reset each other's user PIN.
var softHSMTokens struct {
	sync.Mutex
	byDir map[string]string
	n     int
}

// cheapKDF keeps the tests about the token, not about Argon2's cost.
var cheapKDF = Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}

func softHSMProvider(t *testing.T, dir string) KeyProvider {
	t.Helper()
	softHSMTokens.Lock()
	defer softHSMTokens.Unlock()
	label, ok := softHSMTokens.byDir[dir]
	if !ok {
		softHSMTokens.n++
		label = fmt.Sprintf("vanta-test-%d", softHSMTokens.n)
		newSoftHSMToken(t, label)
		if softHSMTokens.byDir == nil {
			softHSMTokens.byDir = map[string]string{}
		}
		softHSMTokens.byDir[dir] = label
	}
	return PKCS11Provider{Module: softHSMModule, TokenLabel: label, SOPIN: softHSMSOPIN, KDF: cheapKDF}
}

// newSoftHSMToken initialises SoftHSM2's free slot in this process (a token
// made by softhsm2-util now would stay invisible to it); SoftHSM2 then
// offers a new free slot.
func newSoftHSMToken(t *testing.T, label string) {
	t.Helper()
	mod, err := loadPKCS11Module(softHSMModule)
	if err != nil {
		t.Fatal(err)
	}
	slots, err := mod.ctx.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slots {
		ti, err := mod.ctx.GetTokenInfo(s)
		if err == nil && ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			if err := mod.ctx.InitToken(s, softHSMSOPIN, label); err != nil {
				t.Fatalf("C_InitToken %s: %v", label, err)
			}
			return
		}
	}
	t.Fatal("SoftHSM2 offers no free slot")
}

func freshPKCS11(t *testing.T) PKCS11Provider {
	t.Helper()
	return softHSMProvider(t, t.TempDir()).(PKCS11Provider)
}

func secretOf(s string) []byte { return bytes.Repeat([]byte(s), 64/len(s)) }

// loginWith logs in to a token with a raw PIN and out again, reporting the
// token's answer. No KEK may be open on the token.
func loginWith(t *testing.T, label, pin string) error {
	t.Helper()
	mod, err := loadPKCS11Module(softHSMModule)
	if err != nil {
		t.Fatal(err)
	}
	slot, _, err := mod.findToken(label)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := mod.ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.ctx.CloseSession(sess)
	err = mod.ctx.Login(sess, pkcs11.CKU_USER, pin)
	if err == nil {
		_ = mod.ctx.Logout(sess)
	}
	return err
}

// softHSMTokenSetUp says a Create has replaced vanta-test's user PIN.
var softHSMTokenSetUp bool

func TestPKCS11KeyStaysInTheToken(t *testing.T) {
	ctx := context.Background()
	// The token softhsm2-util made, with the user PIN it set (until the
	// first run of this test in the process replaces it: see -count).
	if !softHSMTokenSetUp {
		if err := loginWith(t, softHSMToken, softHSMUserPIN); err != nil {
			t.Fatalf("the PIN softhsm2-util set: %v", err)
		}
		softHSMTokenSetUp = true
	}
	p := PKCS11Provider{Module: softHSMModule, TokenLabel: softHSMToken, SOPIN: softHSMSOPIN, KDF: cheapKDF}
	kek, raw, err := p.Create(ctx, secretOf("create-"))
	if err != nil {
		t.Fatal(err)
	}
	var pp pkcs11Params
	if err := json.Unmarshal(raw, &pp); err != nil {
		t.Fatal(err)
	}
	if pp.Module != softHSMModule || pp.TokenLabel != softHSMToken || !strings.HasPrefix(pp.KeyLabel, "vanta-kek-") ||
		pp.PINLength != 64 || len(pp.PINKDF.Salt) != 16 || pp.PINKDF.Time != 1 {
		t.Errorf("params %s", raw)
	}
	if bytes.Contains(raw, secretOf("create-")) {
		t.Error("the secret is in the params")
	}

	k := kek.(*pkcs11KEK)
	attrs, err := k.mod.ctx.GetAttributeValue(k.sess, k.key, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, nil),
		pkcs11.NewAttribute(pkcs11.CKA_NEVER_EXTRACTABLE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_ALWAYS_SENSITIVE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []bool{false, true, true, true, true}
	for i, name := range []string{"CKA_EXTRACTABLE", "CKA_SENSITIVE", "CKA_TOKEN", "CKA_NEVER_EXTRACTABLE", "CKA_ALWAYS_SENSITIVE"} {
		if got := ckTrue(attrs[i].Value); got != want[i] {
			t.Errorf("%s = %v, want %v", name, got, want[i])
		}
	}
	if !bytes.Equal(attrs[5].Value, pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32).Value) {
		t.Errorf("CKA_VALUE_LEN %x", attrs[5].Value)
	}
	if _, err := k.mod.ctx.GetAttributeValue(k.sess, k.key, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)}); !isCKR(err, pkcs11.CKR_ATTRIBUTE_SENSITIVE) {
		t.Errorf("reading CKA_VALUE: %v, want CKR_ATTRIBUTE_SENSITIVE", err)
	}

	// Wrap's output is IV || ciphertext || tag, and the aad binds it.
	ct, err := kek.Wrap([]byte("root keyring"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ct) != 12+len("root keyring")+16 {
		t.Errorf("wrapped length %d", len(ct))
	}
	ct2, _ := kek.Wrap([]byte("root keyring"), []byte("aad"))
	if bytes.Equal(ct[:12], ct2[:12]) {
		t.Error("two wraps used the same IV")
	}
	if _, err := kek.Unwrap(ct, []byte("other aad")); !errors.Is(err, errDecrypt) {
		t.Errorf("unwrap under another aad: %v", err)
	}
	flipped := append([]byte(nil), ct...)
	flipped[len(flipped)-1] ^= 1
	if _, err := kek.Unwrap(flipped, []byte("aad")); !errors.Is(err, errDecrypt) {
		t.Errorf("unwrap of a tampered tag: %v", err)
	}
	if _, err := kek.Unwrap(ct[:20], []byte("aad")); !errors.Is(err, errDecrypt) {
		t.Errorf("unwrap of a short ciphertext: %v", err)
	}
	kek.Destroy()
	kek.Destroy() // twice is harmless
	if _, err := kek.Wrap([]byte("x"), nil); !errors.Is(err, ErrSealed) {
		t.Errorf("wrap after Destroy: %v", err)
	}

	// Only the shares open the token now: the PIN softhsm2-util set is gone.
	if err := loginWith(t, softHSMToken, softHSMUserPIN); !isCKR(err, pkcs11.CKR_PIN_INCORRECT) {
		t.Errorf("the replaced user PIN: %v", err)
	}
	again, err := p.Open(ctx, secretOf("create-"), raw)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Destroy()
	if pt, err := again.Unwrap(ct, []byte("aad")); err != nil || string(pt) != "root keyring" {
		t.Errorf("unwrap after reopening: %q %v", pt, err)
	}
}

func TestPKCS11Errors(t *testing.T) {
	ctx := context.Background()
	p := freshPKCS11(t)
	kek, raw, err := p.Create(ctx, secretOf("right-"))
	if err != nil {
		t.Fatal(err)
	}
	kek.Destroy()
	var pp pkcs11Params
	_ = json.Unmarshal(raw, &pp)

	for _, tc := range []struct {
		name string
		run  func() error
		want error
		text string
	}{
		{"wrong secret", func() error { return openErr(p.Open(ctx, secretOf("wrong-"), raw)) }, ErrPKCS11PIN, "refused the PIN"},
		{"no such module", func() error {
			return openErr(PKCS11Provider{Module: "/nonexistent/libnothing.so"}.Open(ctx, secretOf("right-"), raw))
		}, ErrPKCS11Module, "/nonexistent/libnothing.so"},
		{"not a library", func() error {
			bogus := filepath.Join(t.TempDir(), "bogus.so")
			_ = os.WriteFile(bogus, []byte("not ELF"), 0o600)
			return openErr(PKCS11Provider{Module: bogus}.Open(ctx, secretOf("right-"), raw))
		}, ErrPKCS11Module, "not a shared library"},
		{"unknown token", func() error {
			q := pp
			q.TokenLabel = "no-such-token"
			b, _ := json.Marshal(q)
			return openErr(p.Open(ctx, secretOf("right-"), b))
		}, ErrPKCS11Token, `no initialised token labelled "no-such-token"`},
		{"unknown key", func() error {
			q := pp
			q.KeyLabel = "vanta-kek-0000000000000000"
			b, _ := json.Marshal(q)
			return openErr(p.Open(ctx, secretOf("right-"), b))
		}, ErrPKCS11Key, "has no key labelled"},
		{"wrong SO PIN", func() error {
			q := p
			q.SOPIN = "not-the-so-pin"
			k, _, err := q.Create(ctx, secretOf("right-"))
			return openErr(k, err)
		}, ErrPKCS11PIN, "refused the SO PIN"},
		{"no SO PIN", func() error {
			q := p
			q.SOPIN = ""
			k, _, err := q.Create(ctx, secretOf("right-"))
			return openErr(k, err)
		}, nil, "SO PIN is needed"},
		{"create on an unknown token", func() error {
			q := p
			q.TokenLabel = "no-such-token"
			k, _, err := q.Create(ctx, secretOf("right-"))
			return openErr(k, err)
		}, ErrPKCS11Token, "tokens present"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %v, want %v containing %q", err, tc.want, tc.text)
			}
		})
	}
	// The failed attempts left the token as it was.
	k, err := p.Open(ctx, secretOf("right-"), raw)
	if err != nil {
		t.Fatalf("the right secret after the failures: %v", err)
	}
	k.Destroy()
}

func openErr(k KEK, err error) error {
	if k != nil {
		k.Destroy()
	}
	return err
}

// Tampered provider parameters derive another PIN: the seal service must
// report that as a wrong key and stay sealed.
func TestPKCS11WrongPINIsAWrongKey(t *testing.T) {
	ctx := context.Background()
	s, shares, dir, c := pkcs11Case.initialized(t, 3, 2)
	s.Close()
	path := filepath.Join(dir, "seal.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]json.RawMessage
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	var pp pkcs11Params
	if err := json.Unmarshal(f["provider_params"], &pp); err != nil {
		t.Fatal(err)
	}
	pp.PINKDF.Salt[0] ^= 1
	f["provider_params"], _ = json.Marshal(pp)
	data, _ = json.Marshal(f)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	again := pkcs11Case.open(t, dir, c)
	if _, err := again.Unseal(ctx, shares[0], ""); err != nil {
		t.Fatal(err)
	}
	var se *ShareError
	st, err := again.Unseal(ctx, shares[1], "")
	if !errors.As(err, &se) || se.Kind != ShareWrongKey {
		t.Fatalf("unseal with a PIN the token refuses: %v", err)
	}
	if !st.Sealed || st.Progress != 0 {
		t.Errorf("status %+v", st)
	}
}

func TestPKCS11Rekey(t *testing.T) {
	ctx := context.Background()
	p := freshPKCS11(t)
	kek, raw, err := p.Create(ctx, secretOf("old-"))
	if err != nil {
		t.Fatal(err)
	}
	ct, err := kek.Wrap([]byte("keyring"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	kek.Destroy()

	// As the seal service does it: open with the old secret, rekey at once.
	old, err := p.Open(ctx, secretOf("old-"), raw)
	if err != nil {
		t.Fatal(err)
	}
	nk, newRaw, err := p.Rekey(ctx, old, raw, secretOf("new-"))
	if err != nil {
		t.Fatal(err)
	}
	old.Destroy()
	var a, b pkcs11Params
	_ = json.Unmarshal(raw, &a)
	_ = json.Unmarshal(newRaw, &b)
	if a.KeyLabel != b.KeyLabel || bytes.Equal(a.PINKDF.Salt, b.PINKDF.Salt) {
		t.Errorf("rekey params %s → %s", raw, newRaw)
	}
	// The returned KEK outlives the one it came from: same key.
	if pt, err := nk.Unwrap(ct, []byte("aad")); err != nil || string(pt) != "keyring" {
		t.Errorf("unwrap with the rekeyed KEK: %q %v", pt, err)
	}
	// While it is open, a second Open is checked against the new PIN.
	if err := openErr(p.Open(ctx, secretOf("old-"), raw)); !errors.Is(err, ErrPKCS11PIN) {
		t.Errorf("old secret while logged in: %v", err)
	}
	nk.Destroy()

	// Logged out: the token itself judges the PINs.
	if err := openErr(p.Open(ctx, secretOf("old-"), raw)); !errors.Is(err, ErrPKCS11PIN) {
		t.Errorf("old secret after rekey: %v", err)
	}
	k, err := p.Open(ctx, secretOf("new-"), newRaw)
	if err != nil {
		t.Fatalf("new secret: %v", err)
	}
	defer k.Destroy()
	if pt, err := k.Unwrap(ct, []byte("aad")); err != nil || string(pt) != "keyring" {
		t.Errorf("data wrapped before the rekey: %q %v", pt, err)
	}
}

// A KEK wipes its PIN after pkcs11PINHold; Rekey then asks for the shares.
func TestPKCS11PINIsNotHeld(t *testing.T) {
	ctx := context.Background()
	saved := pkcs11PINHold
	pkcs11PINHold = 20 * time.Millisecond
	defer func() { pkcs11PINHold = saved }()
	p := freshPKCS11(t)
	kek, raw, err := p.Create(ctx, secretOf("held-"))
	if err != nil {
		t.Fatal(err)
	}
	defer kek.Destroy()
	deadline := time.Now().Add(5 * time.Second)
	for {
		k := kek.(*pkcs11KEK)
		k.mu.Lock()
		gone := k.pin == nil
		k.mu.Unlock()
		if gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the PIN is still held")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, _, err := p.Rekey(ctx, kek, raw, secretOf("next-")); err == nil || !strings.Contains(err.Error(), "enter the shares again") {
		t.Errorf("rekey without the PIN: %v", err)
	}
	// The token is unchanged and the KEK still works.
	if _, err := kek.Wrap([]byte("x"), nil); err != nil {
		t.Error(err)
	}
}

// Sessions on one token share one login: destroying one KEK must not log
// the others out.
func TestPKCS11SharedLogin(t *testing.T) {
	ctx := context.Background()
	p := freshPKCS11(t)
	first, raw, err := p.Create(ctx, secretOf("shared-"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := p.Open(ctx, secretOf("shared-"), raw)
	if err != nil {
		t.Fatal(err)
	}
	first.Destroy()
	ct, err := second.Wrap([]byte("still logged in"), nil)
	if err != nil {
		t.Fatalf("wrap after another KEK on the token was destroyed: %v", err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if pt, err := second.Unwrap(ct, nil); err != nil || string(pt) != "still logged in" {
				t.Errorf("concurrent unwrap: %q %v", pt, err)
			}
		})
	}
	wg.Wait()
	second.Destroy()
	// Both gone: the token is logged out, so an SO login for a new Create works.
	k, _, err := p.Create(ctx, secretOf("again-"))
	if err != nil {
		t.Fatalf("create after every KEK was destroyed: %v", err)
	}
	k.Destroy()
}
