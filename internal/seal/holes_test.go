package seal

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
)

// TestTypedShareCatchesEverySubstitution: every single-character
// substitution anywhere in a share, check characters included, is caught
// and named by the group it is in (hole: 88 base64 characters nobody can
// type or check).
func TestTypedShareCatchesEverySubstitution(t *testing.T) {
	for trial := range 5 {
		raw := make([]byte, shareLen)
		for i := range raw {
			raw[i] = byte(trial*31 + i*7)
		}
		text := encodeShare(raw)
		groups := strings.Split(text, "-")
		if len(groups) != shareGroups || len(strings.ReplaceAll(text, "-", "")) != shareTextLen {
			t.Fatalf("share %q: %d groups", text, len(groups))
		}
		back, err := decodeShare(strings.ToLower(strings.ReplaceAll(text, "-", " ")))
		if err != nil || string(back) != string(raw) {
			t.Fatalf("round trip: %v", err)
		}
		for g, group := range groups {
			for i := range group {
				for _, sub := range crockford + "U*" {
					if byte(sub) == group[i] {
						continue
					}
					typo := []byte(group)
					typo[i] = byte(sub)
					mistyped := append(append(append([]string{}, groups[:g]...), string(typo)), groups[g+1:]...)
					_, err := decodeShare(strings.Join(mistyped, "-"))
					var se *ShareError
					if !errors.As(err, &se) || se.Kind != ShareMalformed || se.Group != g+1 ||
						!strings.Contains(err.Error(), fmt.Sprintf("group %d", g+1)) {
						t.Fatalf("%q for %q at group %d char %d: %v", sub, group[i], g+1, i+1, err)
					}
				}
			}
		}
	}
}

// TestTypedShareReadsWhatPeopleType: O is 0, I and L are 1, case, spaces
// and dashes do not matter; shares issued as base64 still work.
func TestTypedShareReadsWhatPeopleType(t *testing.T) {
	raw := make([]byte, shareLen)
	for i := range raw {
		raw[i] = byte(i * 13)
	}
	text := encodeShare(raw)
	loose := strings.NewReplacer("0", "o", "1", "l").Replace(strings.ToLower(text))
	loose = strings.ReplaceAll(loose, "-", " - ")
	if b, err := decodeShare(loose); err != nil || string(b) != string(raw) {
		t.Fatalf("%q: %v", loose, err)
	}
	if b, err := decodeShare(base64.StdEncoding.EncodeToString(raw)); err != nil || string(b) != string(raw) {
		t.Fatalf("old base64 share: %v", err)
	}
	_, err := decodeShare(text[:30] + text[31:])
	var se *ShareError
	if !errors.As(err, &se) || se.Group != 5 || !strings.Contains(err.Error(), "want 125") {
		t.Errorf("a dropped character: %v", err)
	}
}

// auditLog collects the seal's audit events.
type auditLog struct{ events []map[string]any }

func (a *auditLog) record(action string, attrs map[string]any) {
	attrs["action"] = action
	a.events = append(a.events, attrs)
}

func (a *auditLog) last(action string) map[string]any {
	for i := len(a.events) - 1; i >= 0; i-- {
		if a.events[i]["action"] == action {
			return a.events[i]
		}
	}
	return nil
}

func openAudited(t *testing.T, c *clock, log *auditLog) *Service {
	t.Helper()
	s, err := Open(Options{Dir: t.TempDir(), Provider: fastProvider, Now: c.Now, Audit: log.record,
		Tokens: RedisTokens{Client: redisClient, Prefix: "test:" + t.Name() + ":"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func from(ip string) context.Context { return WithOrigin(context.Background(), Origin{IP: ip}) }

// TestRekeyNeedsGODOrShares (hole 2): while unsealed an untrusted caller
// can neither start nor cancel a rekey; while sealed anyone may start one,
// status shows whom it encrypts to and who started it, cancelling takes
// GOD or the threshold of current shares, and an idle one expires.
func TestRekeyNeedsGODOrShares(t *testing.T) {
	log := &auditLog{}
	c := &clock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	s := openAudited(t, c, log)
	res, err := s.Init(from("192.0.2.9"), InitRequest{Shares: 3, Threshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	var shares []string
	for _, sh := range res.Shares {
		shares = append(shares, sh.Share)
		if _, err := s.Confirm(from("192.0.2.9"), sh.Share); err != nil {
			t.Fatal(err)
		}
	}
	if s.Sealed() {
		t.Fatal("sealed after the ceremony")
	}
	attacker := age.GenerateX25519Identity
	id, _ := attacker()
	evil := InitRequest{Shares: 2, Threshold: 2, Custodians: []Custodian{{Name: "Mallory", AgeRecipient: id.Recipient().String()}}}

	if _, err := s.RekeyStart(from("203.0.113.7"), evil); !errors.Is(err, ErrRekeyNeedsGOD) {
		t.Fatalf("anonymous rekey start while unsealed: %v", err)
	}
	if st := s.Status(); st.Rekey != nil {
		t.Fatalf("a refused start left a rekey: %+v", st.Rekey)
	}
	if ev := log.last("seal.rekey_start"); ev["ip"] != "203.0.113.7" {
		t.Errorf("refusal not audited with the IP: %v", ev)
	}

	st, err := s.RekeyStart(trusted, InitRequest{Shares: 3, Threshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	if st.Rekey.StartedBy != "god" || st.Rekey.StartedByUser != "god-user" || st.Rekey.StartedIP != "192.0.2.1" || len(st.Rekey.NewCustodians) != 3 {
		t.Errorf("status of GOD's rekey: %+v", st.Rekey)
	}
	if _, err := s.RekeyCancel(from("203.0.113.7"), "", ""); !errors.Is(err, ErrRekeyNeedsGOD) {
		t.Errorf("anonymous cancel: %v", err)
	}
	if s.Status().Rekey == nil {
		t.Fatal("an anonymous cancel cancelled")
	}
	if _, err := s.RekeyCancel(trusted, "", ""); err != nil || s.Status().Rekey != nil {
		t.Fatalf("GOD's cancel: %v", err)
	}

	// Sealed: no token can be checked; a start is words until shares.
	if _, err := s.SealFrom(from("192.0.2.9")); err != nil {
		t.Fatal(err)
	}
	st, err = s.RekeyStart(from("203.0.113.7"), evil)
	if err != nil {
		t.Fatalf("start while sealed: %v", err)
	}
	r := st.Rekey
	if r.StartedBy != "unauthenticated while sealed" || r.StartedIP != "203.0.113.7" || !r.StartedAt.Equal(c.now) ||
		len(r.NewCustodians) != 2 || r.NewCustodians[0].Name != "Mallory" || r.NewCustodians[0].AgeRecipient != id.Recipient().String() ||
		r.NewCustodians[1].Name != "custodian 2" || !r.ExpiresAt.Equal(c.now.Add(15*time.Minute)) {
		t.Errorf("status shows %+v", r)
	}
	if _, err := s.RekeyCancel(from("203.0.113.7"), "", ""); !errors.Is(err, ErrRekeyNeedsGOD) {
		t.Errorf("anonymous cancel while sealed: %v", err)
	}
	st, err = s.RekeyCancel(from("192.0.2.10"), shares[0], "")
	if err != nil || st.Rekey == nil || st.Rekey.CancelProgress != 1 {
		t.Fatalf("first cancel share: %+v %v", st.Rekey, err)
	}
	if _, err := s.RekeyCancel(from("192.0.2.10"), shares[0], ""); err == nil {
		t.Error("the same share counted twice towards cancelling")
	}
	if st, err = s.RekeyCancel(from("192.0.2.11"), shares[2], st.Rekey.CancelNonce); err != nil || st.Rekey != nil {
		t.Fatalf("threshold of cancel shares: %+v %v", st.Rekey, err)
	}
	if ev := log.last("seal.rekey_cancel"); ev["by"] != "shares" || ev["ip"] != "192.0.2.11" {
		t.Errorf("cancel audit %v", ev)
	}

	// Idle rekeys expire, counting from the last activity.
	if _, err := s.RekeyStart(from("203.0.113.7"), evil); err != nil {
		t.Fatal(err)
	}
	c.now = c.now.Add(10 * time.Minute)
	if _, _, err := s.RekeyUpdate(from("192.0.2.10"), shares[1], ""); err != nil {
		t.Fatal(err)
	}
	c.now = c.now.Add(14 * time.Minute)
	if st := s.Status(); st.Rekey == nil || st.Rekey.Progress != 1 {
		t.Fatalf("expired before 15 idle minutes: %+v", st.Rekey)
	}
	c.now = c.now.Add(2 * time.Minute)
	if st := s.Status(); st.Rekey != nil {
		t.Fatalf("kept after 15 idle minutes: %+v", st.Rekey)
	}
	if log.last("seal.rekey_expired") == nil {
		t.Error("expiry not audited")
	}
	if _, err := s.RekeyStart(from("192.0.2.10"), InitRequest{Shares: 3, Threshold: 2}); err != nil {
		t.Errorf("a new rekey after expiry: %v", err)
	}
}

// TestUnsealResetNeedsProof (hole 6): only a custodian who entered a share
// in this round, or GOD, discards it; the audit says who.
func TestUnsealResetNeedsProof(t *testing.T) {
	log := &auditLog{}
	c := &clock{now: time.Now()}
	s := openAudited(t, c, log)
	res, err := s.Init(from("192.0.2.9"), InitRequest{Shares: 3, Threshold: 3, Custodians: []Custodian{{Name: "Amina"}, {Name: "Baraka"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range res.Shares {
		if _, err := s.Confirm(from("192.0.2.9"), sh.Share); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SealFrom(from("192.0.2.9")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Unseal(from("192.0.2.20"), res.Shares[0].Share, ""); err != nil {
		t.Fatal(err)
	}
	for name, share := range map[string]string{"no share": "", "a share not entered": res.Shares[1].Share} {
		if st, err := s.ResetUnseal(from("203.0.113.7"), share); !errors.Is(err, ErrResetProof) || st.Progress != 1 {
			t.Errorf("reset with %s: %v, progress %d", name, err, st.Progress)
		}
	}
	if ev := log.last("seal.unseal_reset"); ev["ip"] != "203.0.113.7" || !strings.HasPrefix(fmt.Sprint(ev["outcome"]), "refused") {
		t.Errorf("refused reset audit %v", ev)
	}
	st, err := s.ResetUnseal(from("192.0.2.20"), res.Shares[0].Share)
	if err != nil || st.Progress != 0 {
		t.Fatalf("reset by the custodian who entered: %+v %v", st, err)
	}
	if ev := log.last("seal.unseal_reset"); ev["slot"] != 1 || ev["custodian"] != "Amina" || ev["ip"] != "192.0.2.20" {
		t.Errorf("reset audit %v", ev)
	}
	if _, err := s.Unseal(from("192.0.2.20"), res.Shares[1].Share, ""); err != nil {
		t.Fatal(err)
	}
	if st, err := s.ResetUnseal(trusted, ""); err != nil || st.Progress != 0 {
		t.Fatalf("reset by GOD: %v", err)
	}
	if ev := log.last("seal.unseal_reset"); ev["by"] != "god" || ev["user"] != "god-user" {
		t.Errorf("GOD's reset audit %v", ev)
	}
	// Every seal event names the client.
	for _, ev := range log.events {
		if ev["action"] == "seal.progress_expired" || ev["action"] == "seal.rekey_expired" {
			continue
		}
		if ip, _ := ev["ip"].(string); ip == "" {
			t.Errorf("event without an IP: %v", ev)
		}
	}
}
