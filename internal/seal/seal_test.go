package seal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/hashicorp/vault/shamir"
	"github.com/redis/go-redis/v9"

	"github.com/vanta-ledger/vanta/internal/redistest"
)

var redisClient *redis.Client

// TestMain starts one real Redis for the break-glass tests; each test
// uses its own key prefix.
func TestMain(m *testing.M) {
	rs, err := redistest.Start(false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	redisClient = redis.NewClient(&redis.Options{Network: "unix", Addr: rs.Socket})
	code := runWithProviders(m)
	redisClient.Close()
	rs.Stop()
	os.Exit(code)
}

// cheap KDF parameters: the tests exercise the flow, not Argon2's cost.
var fastProvider = SoftwareProvider{Params: Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}}

// providerCase is a key provider the flow tests run against. forDir gives
// an appliance directory its provider, the same one every time it is
// reopened (for PKCS#11: the same token).
type providerCase struct {
	name   string
	setup  func() (cleanup func(), err error) // run once by TestMain; may be nil
	forDir func(t *testing.T, dir string) KeyProvider
}

// providerCases are the providers every flow test runs with; a file that
// adds one (pkcs11_test.go) appends it in its init.
var providerCases = []*providerCase{
	{name: "software", forDir: func(*testing.T, string) KeyProvider { return fastProvider }},
}

// runWithProviders sets up each provider case, runs the tests, tears down.
func runWithProviders(m *testing.M) int {
	for _, pc := range providerCases {
		if pc.setup == nil {
			continue
		}
		cleanup, err := pc.setup()
		if err != nil {
			fmt.Fprintf(os.Stderr, "set up the %s key provider: %v\n", pc.name, err)
			return 1
		}
		defer cleanup()
	}
	return m.Run()
}

// eachProvider runs a flow test once per provider case, as subtests.
func eachProvider(t *testing.T, test func(t *testing.T, pc *providerCase)) {
	for _, pc := range providerCases {
		t.Run(pc.name, func(t *testing.T) { test(t, pc) })
	}
}

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// open and initialized use the software provider; flow tests that run
// with every provider call the providerCase methods of the same names.
func open(t *testing.T, dir string, c *clock) *Service {
	t.Helper()
	return providerCases[0].open(t, dir, c)
}

func initialized(t *testing.T, n, k int) (*Service, []string, string, *clock) {
	t.Helper()
	return providerCases[0].initialized(t, n, k)
}

func (pc *providerCase) open(t *testing.T, dir string, c *clock) *Service {
	t.Helper()
	s, err := Open(Options{Dir: dir, Provider: pc.forDir(t, dir), Now: c.Now,
		Tokens: RedisTokens{Client: redisClient, Prefix: "test:" + t.Name() + ":"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// initialized returns a service past the key ceremony and its plain shares.
func (pc *providerCase) initialized(t *testing.T, n, k int) (*Service, []string, string, *clock) {
	t.Helper()
	dir := t.TempDir()
	c := &clock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	s := pc.open(t, dir, c)
	res, err := s.Init(context.Background(), InitRequest{Shares: n, Threshold: k})
	if err != nil {
		t.Fatal(err)
	}
	var shares []string
	for _, sh := range res.Shares {
		shares = append(shares, sh.Share)
		if _, err := s.Confirm(context.Background(), sh.Share); err != nil {
			t.Fatalf("confirm slot %d: %v", sh.Slot, err)
		}
	}
	// The last confirmation opened it; the flow tests start sealed, as
	// after a restart.
	if s.Sealed() {
		t.Fatal("sealed after the last confirmation")
	}
	if _, err := s.Seal(); err != nil {
		t.Fatal(err)
	}
	return s, shares, dir, c
}

// trusted is the context of a caller whose GOD token the API checked.
var trusted = WithOrigin(context.Background(), Origin{IP: "192.0.2.1", UserID: "god-user", Trusted: true})

func unsealWith(t *testing.T, s *Service, shares []string) Status {
	t.Helper()
	var st Status
	var err error
	for _, sh := range shares {
		if st, err = s.Unseal(context.Background(), sh, ""); err != nil {
			t.Fatalf("unseal: %v", err)
		}
	}
	return st
}

func TestShamirProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 40 {
		n := 2 + r.IntN(6) // 2..7: every subset is enumerable
		k := 2 + r.IntN(n-1)
		secret := make([]byte, secretLen)
		for i := range secret {
			secret[i] = secretAlphabet[r.IntN(len(secretAlphabet))]
		}
		parts, slots, err := splitSecret(secret, n, k, nil)
		if err != nil {
			t.Fatal(err)
		}
		for mask := 1; mask < 1<<n; mask++ {
			var subset [][]byte
			for i := range n {
				if mask&(1<<i) != 0 {
					subset = append(subset, parts[i])
				}
			}
			if len(subset) < 2 {
				continue // Combine needs two points to say anything
			}
			got, err := shamir.Combine(subset)
			rebuilt := err == nil && bytes.Equal(got, secret)
			if len(subset) >= k && !rebuilt {
				t.Fatalf("trial %d: %d of %d (threshold %d) did not rebuild the secret", trial, len(subset), n, k)
			}
			if len(subset) < k && rebuilt {
				t.Fatalf("trial %d: %d shares below threshold %d rebuilt the secret", trial, len(subset), k)
			}
		}
		for i, p := range parts {
			if sl, ok := matchSlot(slots, p); !ok || sl.Slot != i+1 {
				t.Fatalf("share %d matched slot %d, %v", i+1, sl.Slot, ok)
			}
			flipped := append([]byte(nil), p...)
			flipped[r.IntN(len(flipped))] ^= byte(1 + r.IntN(255))
			if _, ok := matchSlot(slots, flipped); ok {
				t.Fatalf("trial %d: share with a flipped byte still matched a slot", trial)
			}
		}
	}
}

func TestMasterSecretAlphabet(t *testing.T) {
	s, err := newMasterSecret()
	if err != nil {
		t.Fatal(err)
	}
	defer s.destroy()
	if len(s.bytes()) != 64 || strings.Trim(string(s.bytes()), secretAlphabet) != "" {
		t.Errorf("secret %q", s.bytes())
	}
}

func TestCeremonyUnsealRestart(t *testing.T) { eachProvider(t, testCeremonyUnsealRestart) }

func testCeremonyUnsealRestart(t *testing.T, pc *providerCase) {
	ctx := context.Background()
	dir := t.TempDir()
	c := &clock{now: time.Now()}
	s := pc.open(t, dir, c)
	if st := s.Status(); st.Initialized || !st.Sealed {
		t.Fatalf("fresh status %+v", st)
	}
	res, err := s.Init(ctx, InitRequest{Custodians: []Custodian{{Name: "Amina"}, {Name: "Baraka"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Threshold != 5 || len(res.Shares) != 7 || res.Shares[0].Custodian != "Amina" || res.Shares[2].Custodian != "custodian 3" {
		t.Fatalf("init result %+v", res)
	}
	st := s.Status()
	if st.Initialized || st.PendingConfirmations != 7 {
		t.Fatalf("after init, before confirmations: %+v", st)
	}
	if _, err := s.Unseal(ctx, res.Shares[0].Share, ""); !errors.Is(err, ErrNotInitialized) {
		t.Errorf("unseal before the ceremony: %v", err)
	}
	for i, sh := range res.Shares {
		st, err = s.Confirm(context.Background(), sh.Share)
		if err != nil {
			t.Fatal(err)
		}
		if st.PendingConfirmations != 6-i {
			t.Errorf("pending %d after %d confirmations", st.PendingConfirmations, i+1)
		}
	}
	// The secret was just rebuilt: the last confirmation opens it.
	if !st.Initialized || st.Sealed {
		t.Fatalf("after the ceremony: %+v", st)
	}
	if _, err := s.Keyring(); err != nil {
		t.Errorf("keyring after the ceremony: %v", err)
	}
	if st, err = s.Seal(); err != nil || !st.Sealed {
		t.Fatalf("seal after the ceremony: %+v %v", st, err)
	}
	if _, err := s.Keyring(); !errors.Is(err, ErrSealed) {
		t.Errorf("keyring while sealed: %v", err)
	}
	for i := range 4 {
		st, err = s.Unseal(ctx, res.Shares[i].Share, st.Nonce)
		if err != nil || !st.Sealed || st.Progress != i+1 {
			t.Fatalf("share %d: %+v %v", i+1, st, err)
		}
	}
	if !st.Custodians[0].Entered || st.Custodians[6].Entered || st.ProgressExpiresAt == nil {
		t.Errorf("custodian progress %+v", st.Custodians)
	}
	if st, err = s.Unseal(ctx, res.Shares[6].Share, st.Nonce); err != nil || st.Sealed {
		t.Fatalf("5th share: %+v %v", st, err)
	}
	kr, err := s.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	ct, err := kr.Seal("document", []byte("doc-1"), []byte("KRA PIN P051234567Z"))
	if err != nil {
		t.Fatal(err)
	}

	// A restart: a new process reads the same directory and comes up sealed.
	s.Close()
	again := pc.open(t, dir, c)
	if st := again.Status(); !st.Initialized || !st.Sealed || st.Progress != 0 {
		t.Fatalf("after restart %+v", st)
	}
	unsealWith(t, again, []string{res.Shares[6].Share, res.Shares[5].Share, res.Shares[4].Share, res.Shares[3].Share, res.Shares[2].Share})
	kr, err = again.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	pt, err := kr.Open("document", []byte("doc-1"), ct)
	if err != nil || string(pt) != "KRA PIN P051234567Z" {
		t.Errorf("data sealed before the restart: %q %v", pt, err)
	}
	if _, err := kr.Open("document", []byte("doc-2"), ct); err == nil {
		t.Error("ciphertext opened under another record's AAD")
	}
	if _, err := again.Seal(); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Open("document", []byte("doc-1"), ct); !errors.Is(err, ErrSealed) {
		t.Errorf("keyring still usable after seal: %v", err)
	}
}

func TestRefusedSharesChangeNothing(t *testing.T) { eachProvider(t, testRefusedSharesChangeNothing) }

func testRefusedSharesChangeNothing(t *testing.T, pc *providerCase) {
	ctx := context.Background()
	s, shares, _, _ := pc.initialized(t, 7, 5)
	other, otherShares, _, _ := pc.initialized(t, 7, 5)
	_ = other
	if _, err := s.Unseal(ctx, shares[0], ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Unseal(ctx, shares[1], ""); err != nil {
		t.Fatal(err)
	}
	var se *ShareError
	tests := []struct {
		name  string
		share string
		check func(error) bool
	}{
		{"another appliance's share", otherShares[0], func(err error) bool { return errors.As(err, &se) && se.Kind == ShareUnknown }},
		{"duplicate", shares[1], func(err error) bool { return errors.As(err, &se) && se.Kind == ShareDuplicate && se.Slot == 2 }},
		{"not a share", "not a share!", func(err error) bool {
			return errors.As(err, &se) && se.Kind == ShareMalformed && strings.Contains(err.Error(), "not a share character") && se.Group == 2
		}},
		{"truncated", shares[2][:40], func(err error) bool {
			return errors.As(err, &se) && se.Kind == ShareMalformed && strings.Contains(err.Error(), "want 125")
		}},
		{"old base64 truncated", "QUJD" + strings.Repeat("QUJD", 10) + "=", func(err error) bool {
			return errors.As(err, &se) && se.Kind == ShareMalformed && strings.Contains(err.Error(), "base64")
		}},
		{"empty", "  ", func(err error) bool { return errors.As(err, &se) && se.Kind == ShareMalformed }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := s.Unseal(ctx, tc.share, "")
			if !tc.check(err) {
				t.Errorf("error %v", err)
			}
			if st.Progress != 2 || !st.Sealed || fmt.Sprint(st.EnteredSlots) != "[1 2]" {
				t.Errorf("progress changed: %+v", st)
			}
		})
	}
	if _, err := s.Unseal(ctx, shares[2], "stale-nonce"); !errors.Is(err, ErrStaleNonce) {
		t.Errorf("stale nonce: %v", err)
	}
	st := unsealWith(t, s, shares[2:5])
	if st.Sealed {
		t.Fatal("still sealed after 5 distinct shares")
	}
	if _, err := s.Unseal(ctx, shares[5], ""); !errors.Is(err, ErrAlreadyUnsealed) {
		t.Errorf("unseal while unsealed: %v", err)
	}
	if _, err := s.Init(ctx, InitRequest{}); !errors.Is(err, ErrAlreadyInitialized) {
		t.Errorf("init twice: %v", err)
	}
}

func TestInitValidationAndReissue(t *testing.T) { eachProvider(t, testInitValidationAndReissue) }

func testInitValidationAndReissue(t *testing.T, pc *providerCase) {
	ctx := context.Background()
	s := pc.open(t, t.TempDir(), &clock{now: time.Now()})
	var fe *FieldError
	for _, req := range []InitRequest{
		{Shares: 1, Threshold: 1},
		{Shares: 256, Threshold: 5},
		{Shares: 5, Threshold: 6},
		{Shares: 3, Threshold: 1},
		{Shares: 2, Threshold: 2, Custodians: []Custodian{{Name: "a"}, {Name: "b"}, {Name: "c"}}},
		{Custodians: []Custodian{{Name: "a"}, {Name: "a"}}},
		{Custodians: []Custodian{{Name: " "}}},
		{Custodians: []Custodian{{Name: "a", AgeRecipient: "age1notakey"}}},
	} {
		if _, err := s.Init(ctx, req); !errors.As(err, &fe) {
			t.Errorf("Init(%+v) = %v, want a FieldError", req, err)
		}
	}
	if st := s.Status(); st.Shares != 0 {
		t.Fatalf("a refused init left state: %+v", st)
	}
	first, err := s.Init(ctx, InitRequest{Shares: 3, Threshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Init(ctx, InitRequest{Shares: 3, Threshold: 2}); !errors.Is(err, ErrInitPending) {
		t.Errorf("second init while pending: %v", err)
	}
	if !strings.HasPrefix(first.CeremonyToken, "vct_") {
		t.Fatalf("ceremony token %q", first.CeremonyToken)
	}
	saved, err := os.ReadFile(filepath.Join(s.opts.Dir, "seal.json"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(saved, []byte(first.CeremonyToken)) || bytes.Contains(saved, []byte(first.CeremonyToken[4:])) {
		t.Error("the ceremony token itself is stored; only its hash should be")
	}
	// Hole 3: reissue with no proof, a wrong token or another set's share
	// is refused and changes nothing.
	foreign, err := pc.open(t, t.TempDir(), &clock{now: time.Now()}).Init(ctx, InitRequest{Shares: 2, Threshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	for name, req := range map[string]InitRequest{
		"no proof":            {Shares: 3, Threshold: 2, Reissue: true},
		"wrong token":         {Shares: 3, Threshold: 2, Reissue: true, CeremonyToken: foreign.CeremonyToken},
		"another set's share": {Shares: 3, Threshold: 2, Reissue: true, Share: foreign.Shares[0].Share},
	} {
		if res, err := s.Init(ctx, req); !errors.Is(err, ErrCeremonyProof) || len(res.Shares) != 0 {
			t.Errorf("reissue with %s: %v", name, err)
		}
		after, _ := os.ReadFile(filepath.Join(s.opts.Dir, "seal.json"))
		if !bytes.Equal(after, saved) {
			t.Fatalf("a refused reissue (%s) changed the seal state", name)
		}
	}
	if _, err := s.Confirm(ctx, first.Shares[2].Share); err != nil {
		t.Fatalf("the pending set stopped working after refused reissues: %v", err)
	}
	byShare, err := s.Init(ctx, InitRequest{Shares: 3, Threshold: 2, Reissue: true, Share: first.Shares[1].Share})
	if err != nil || len(byShare.Shares) != 3 {
		t.Fatalf("reissue with a pending share: %v", err)
	}
	if byShare.CeremonyToken == first.CeremonyToken {
		t.Error("the reissued set kept the old ceremony token")
	}
	if _, err := s.Init(ctx, InitRequest{Shares: 3, Threshold: 2, Reissue: true, CeremonyToken: first.CeremonyToken}); !errors.Is(err, ErrCeremonyProof) {
		t.Errorf("the replaced set's token still reissues: %v", err)
	}
	second, err := s.Init(ctx, InitRequest{Shares: 3, Threshold: 2, Reissue: true, CeremonyToken: byShare.CeremonyToken})
	if err != nil {
		t.Fatal(err)
	}
	var se *ShareError
	if _, err := s.Confirm(context.Background(), first.Shares[0].Share); !errors.As(err, &se) || se.Kind != ShareUnknown {
		t.Errorf("a share of the replaced set confirmed: %v", err)
	}
	if _, err := s.Confirm(context.Background(), second.Shares[0].Share); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Confirm(context.Background(), second.Shares[0].Share); !errors.As(err, &se) || se.Kind != ShareDuplicate {
		t.Errorf("double confirmation: %v", err)
	}
}

func TestProgressExpires(t *testing.T) {
	ctx := context.Background()
	s, shares, _, c := initialized(t, 5, 3)
	st, err := s.Unseal(ctx, shares[0], "")
	if err != nil || st.Progress != 1 {
		t.Fatal(st, err)
	}
	c.now = c.now.Add(14 * time.Minute)
	if st := s.Status(); st.Progress != 1 {
		t.Fatalf("progress lost before its time: %+v", st)
	}
	c.now = c.now.Add(2 * time.Minute)
	if st := s.Status(); st.Progress != 0 || st.ProgressExpiresAt != nil {
		t.Fatalf("progress kept past 15 minutes: %+v", st)
	}
	if st, err := s.ResetUnseal(trusted, ""); err != nil || st.Progress != 0 {
		t.Error(st, err)
	}
}

func TestRekey(t *testing.T) { eachProvider(t, testRekey) }

func testRekey(t *testing.T, pc *providerCase) {
	ctx := context.Background()
	s, old, dir, c := pc.initialized(t, 5, 3)
	unsealWith(t, s, old[:3])
	kr, _ := s.Keyring()
	ct, err := kr.Seal("backup", nil, []byte("ledger"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.RekeyUpdate(ctx, old[0], ""); !errors.Is(err, ErrNoRekey) {
		t.Errorf("update without start: %v", err)
	}
	st, err := s.RekeyStart(trusted, InitRequest{Shares: 4, Threshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	var res *InitResult
	for _, sh := range old[2:5] {
		if st, res, err = s.RekeyUpdate(ctx, sh, st.Rekey.Nonce); err != nil {
			t.Fatal(err)
		}
	}
	if res == nil || len(res.Shares) != 4 || res.Threshold != 2 || st.Rekey.PendingConfirmations != 4 {
		t.Fatalf("rekey result %+v status %+v", res, st.Rekey)
	}
	// Until every new custodian confirms, the old set is the one that works.
	for _, sh := range res.Shares {
		if _, err := s.RekeyConfirm(ctx, sh.Share); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Status(); st.Rekey != nil || st.Shares != 4 || st.Threshold != 2 || st.Sealed {
		t.Fatalf("after rekey %+v", st)
	}
	s.Close()
	again := pc.open(t, dir, c)
	var se *ShareError
	if _, err := again.Unseal(ctx, old[0], ""); !errors.As(err, &se) || se.Kind != ShareUnknown {
		t.Errorf("old share after rekey: %v", err)
	}
	unsealWith(t, again, []string{res.Shares[3].Share, res.Shares[1].Share})
	kr, err = again.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := kr.Open("backup", nil, ct); err != nil || string(pt) != "ledger" {
		t.Errorf("data from before the rekey: %q %v", pt, err)
	}
}

func TestRekeyCancelKeepsOldShares(t *testing.T) { eachProvider(t, testRekeyCancelKeepsOldShares) }

func testRekeyCancelKeepsOldShares(t *testing.T, pc *providerCase) {
	ctx := context.Background()
	s, old, _, _ := pc.initialized(t, 3, 2)
	st, err := s.RekeyStart(trusted, InitRequest{Shares: 3, Threshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.RekeyUpdate(ctx, old[0], st.Rekey.Nonce); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RekeyStart(trusted, InitRequest{}); !errors.Is(err, ErrRekeyInProgress) {
		t.Errorf("second rekey: %v", err)
	}
	if _, err := s.RekeyCancel(trusted, "", ""); err != nil {
		t.Fatal(err)
	}
	if st := unsealWith(t, s, old[1:3]); st.Sealed {
		t.Error("old shares stopped working after a cancelled rekey")
	}
}

// A rekey abandoned after its new shares were issued (cancelled, or cut
// short by a restart) must leave the old shares working, with every
// provider: a token's PIN changes only at the last confirmation.
func TestRekeyAbandonedAfterThreshold(t *testing.T) {
	eachProvider(t, testRekeyAbandonedAfterThreshold)
}

func testRekeyAbandonedAfterThreshold(t *testing.T, pc *providerCase) {
	ctx := context.Background()
	s, old, dir, c := pc.initialized(t, 3, 2)
	st, err := s.RekeyStart(trusted, InitRequest{Shares: 3, Threshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	var res *InitResult
	for _, sh := range old[:2] {
		if _, res, err = s.RekeyUpdate(ctx, sh, st.Rekey.Nonce); err != nil {
			t.Fatal(err)
		}
	}
	if res == nil {
		t.Fatal("no new shares at the threshold")
	}
	if _, err := s.RekeyConfirm(ctx, res.Shares[0].Share); err != nil {
		t.Fatal(err)
	}
	s.Close() // a restart before the last confirmation
	again := pc.open(t, dir, c)
	var se *ShareError
	if _, err := again.Unseal(ctx, res.Shares[1].Share, ""); !errors.As(err, &se) || se.Kind != ShareUnknown {
		t.Errorf("an unconfirmed new share was accepted: %v", err)
	}
	if st := unsealWith(t, again, old[1:3]); st.Sealed {
		t.Error("old shares stopped working after an abandoned rekey")
	}
}

func TestRotate(t *testing.T) { eachProvider(t, testRotate) }

func testRotate(t *testing.T, pc *providerCase) {
	s, shares, dir, c := pc.initialized(t, 3, 2)
	if _, err := s.Rotate(context.Background()); !errors.Is(err, ErrSealed) {
		t.Errorf("rotate while sealed: %v", err)
	}
	unsealWith(t, s, shares[:2])
	kr, _ := s.Keyring()
	v1, _ := kr.Seal("field", []byte("r1"), []byte("old"))
	st, err := s.Rotate(context.Background())
	if err != nil || st.KeyVersion != 2 {
		t.Fatalf("rotate: %+v %v", st, err)
	}
	v2, _ := kr.Seal("field", []byte("r2"), []byte("new"))
	if v1[4] != 1 || v2[4] != 2 {
		t.Errorf("ciphertext key versions %d, %d", v1[4], v2[4])
	}
	s.Close()
	again := pc.open(t, dir, c)
	unsealWith(t, again, shares[1:3])
	kr, _ = again.Keyring()
	for ct, want := range map[string]string{string(v1): "old", string(v2): "new"} {
		rec := "r1"
		if want == "new" {
			rec = "r2"
		}
		if pt, err := kr.Open("field", []byte(rec), []byte(ct)); err != nil || string(pt) != want {
			t.Errorf("open %s after rotate and restart: %q %v", want, pt, err)
		}
	}
	if again.Status().KeyVersion != 2 {
		t.Error("key version not persisted")
	}
}

func TestDataKeysAreBoundToTheirOwner(t *testing.T) {
	s, shares, _, _ := initialized(t, 3, 2)
	unsealWith(t, s, shares[:2])
	kr, _ := s.Keyring()
	wrappedA, _ := kr.NewDataKey("company-a")
	wrappedB, _ := kr.NewDataKey("company-b")
	a, err := kr.DataKey("company-a", wrappedA)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := kr.DataKey("company-b", wrappedB)
	if _, err := kr.DataKey("company-b", wrappedA); err == nil {
		t.Error("company A's wrapped DEK unwrapped as company B's")
	}
	ct, _ := a.Seal("receipt", "doc-9", []byte("KES 1,053.52"))
	if _, err := b.Open("receipt", "doc-9", ct); err == nil {
		t.Error("company A's ciphertext opened with company B's key")
	}
	if _, err := a.Open("receipt", "doc-10", ct); err == nil {
		t.Error("ciphertext moved to another record opened")
	}
	if pt, err := a.Open("receipt", "doc-9", ct); err != nil || string(pt) != "KES 1,053.52" {
		t.Errorf("own ciphertext: %q %v", pt, err)
	}
	rewrapped, err := kr.RewrapDataKey("company-a", wrappedA)
	if err != nil {
		t.Fatal(err)
	}
	again, err := kr.DataKey("company-a", rewrapped)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := again.Open("receipt", "doc-9", ct); err != nil || string(pt) != "KES 1,053.52" {
		t.Errorf("after rewrap: %q %v", pt, err)
	}
}

func TestAgeEncryptedShares(t *testing.T) {
	ctx := context.Background()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, t.TempDir(), &clock{now: time.Now()})
	res, err := s.Init(ctx, InitRequest{Shares: 2, Threshold: 2, Custodians: []Custodian{{Name: "Amina", AgeRecipient: id.Recipient().String()}}})
	if err != nil {
		t.Fatal(err)
	}
	enc := res.Shares[0]
	if !enc.Encrypted || !strings.Contains(enc.Share, "BEGIN AGE ENCRYPTED FILE") || res.Shares[1].Encrypted {
		t.Fatalf("shares %+v", res.Shares)
	}
	r, err := age.Decrypt(armor.NewReader(strings.NewReader(enc.Share)), id)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(r)
	// Proving she can decrypt it is confirming with what she decrypted.
	if _, err := s.Confirm(context.Background(), string(plain)); err != nil {
		t.Fatalf("confirm with the decrypted share: %v", err)
	}
}

func TestBreakGlass(t *testing.T) { eachProvider(t, testBreakGlass) }

func testBreakGlass(t *testing.T, pc *providerCase) {
	ctx := context.Background()
	s, shares, _, _ := pc.initialized(t, 3, 2)
	n, token, err := s.BreakGlass(ctx, shares[0], "")
	if err != nil || n != 1 || token != "" {
		t.Fatalf("first share: %d %q %v", n, token, err)
	}
	var se *ShareError
	if _, _, err := s.BreakGlass(ctx, shares[0], ""); !errors.As(err, &se) || se.Kind != ShareDuplicate {
		t.Errorf("duplicate: %v", err)
	}
	if _, token, err = s.BreakGlass(ctx, shares[2], ""); err != nil || !strings.HasPrefix(token, "vbg_") {
		t.Fatalf("threshold: %q %v", token, err)
	}
	if err := s.UseBreakGlass(ctx, token); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if err := s.UseBreakGlass(ctx, token); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("second use: %v", err)
	}
	if err := s.UseBreakGlass(ctx, "vbg_forged"); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("forged: %v", err)
	}

	// Expiry: the key carries a TTL of at most 30 s; a token past it is refused.
	_, _, _ = s.BreakGlass(ctx, shares[1], "")
	_, late, err := s.BreakGlass(ctx, shares[2], "")
	if err != nil {
		t.Fatal(err)
	}
	key := "test:" + t.Name() + ":" + tokenHash(late)
	if ttl := redisClient.PTTL(ctx, key).Val(); ttl <= 0 || ttl > 30*time.Second {
		t.Errorf("token TTL %s", ttl)
	}
	if err := redisClient.PExpireAt(ctx, key, time.Now().Add(-time.Second)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.UseBreakGlass(ctx, late); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("expired token: %v", err)
	}
}

func TestStateFileHoldsNoSecret(t *testing.T) {
	s, shares, dir, _ := initialized(t, 3, 2)
	unsealWith(t, s, shares[:2])
	data, err := os.ReadFile(filepath.Join(dir, "seal.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range shares {
		if bytes.Contains(data, []byte(sh)) {
			t.Fatal("a share is in seal.json")
		}
	}
	st, _ := os.Stat(filepath.Join(dir, "seal.json"))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("seal.json mode %v", st.Mode())
	}
}
