package seal

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/hashicorp/vault/shamir"

	"github.com/vanta-ledger/vanta/internal/atomicfile"
)

// keyringAAD binds the wrapped keyring to its role.
var keyringAAD = []byte("vanta/keyring/v1")

// Custodian is a person who holds one share.
type Custodian struct {
	Name         string `json:"name"`
	AgeRecipient string `json:"age_recipient,omitempty"`
}

// InitRequest asks for a new share set (at init or at rekey).
type InitRequest struct {
	Shares     int         `json:"shares"`
	Threshold  int         `json:"threshold"`
	Custodians []Custodian `json:"custodians"`
	// Reissue replaces a share set still waiting for confirmations. It
	// needs proof of running the ceremony: CeremonyToken (returned by the
	// init that made the pending set) or Share (one share of that set).
	Reissue       bool   `json:"reissue"`
	CeremonyToken string `json:"ceremony_token,omitempty"`
	Share         string `json:"share,omitempty"`
}

// IssuedShare is one share as handed out, once.
type IssuedShare struct {
	Slot      int    `json:"slot"`
	Custodian string `json:"custodian"`
	Share     string `json:"share"`
	Encrypted bool   `json:"encrypted"`
}

// InitResult is what init and a completed rekey return.
type InitResult struct {
	Threshold int           `json:"threshold"`
	Shares    []IssuedShare `json:"shares"`
	// CeremonyToken (init only) is shown once to whoever ran init: it is
	// the proof a reissue needs. Only its hash is kept.
	CeremonyToken string `json:"ceremony_token,omitempty"`
}

// CustodianStatus is one slot as status shows it: never share content.
type CustodianStatus struct {
	Slot      int    `json:"slot"`
	Name      string `json:"name"`
	Entered   bool   `json:"entered"`
	Confirmed bool   `json:"confirmed"`
}

// RekeyStatus is the progress of a rekey.
type RekeyStatus struct {
	Nonce                string `json:"nonce"`
	Progress             int    `json:"progress"`
	Required             int    `json:"required"`
	EnteredSlots         []int  `json:"entered_slots"`
	NewShares            int    `json:"new_shares"`
	NewThreshold         int    `json:"new_threshold"`
	PendingConfirmations int    `json:"pending_confirmations"`
	// NewCustodians are the slots the new shares go to, in order, with the
	// age recipient each will be encrypted to: what a custodian authorises
	// by entering a share.
	NewCustodians []Custodian `json:"new_custodians"`
	// StartedBy is "god" (StartedByUser is GOD's user id), "before any
	// GOD existed" or "unauthenticated while sealed"; StartedIP the
	// client's address.
	StartedBy     string    `json:"started_by"`
	StartedByUser string    `json:"started_by_user,omitempty"`
	StartedIP     string    `json:"started_ip"`
	StartedAt     time.Time `json:"started_at"`
	ExpiresAt     time.Time `json:"expires_at"` // wiped if idle until then
	// Cancel progress: while sealed, cancelling takes the threshold of
	// current shares, collected in a round of its own.
	CancelNonce        string `json:"cancel_nonce"`
	CancelProgress     int    `json:"cancel_progress"`
	CancelEnteredSlots []int  `json:"cancel_entered_slots"`
}

// Status is seal-status.
type Status struct {
	Initialized          bool              `json:"initialized"`
	Sealed               bool              `json:"sealed"`
	Shares               int               `json:"shares"`
	Threshold            int               `json:"threshold"`
	Progress             int               `json:"progress"`
	EnteredSlots         []int             `json:"entered_slots"`
	Nonce                string            `json:"nonce"`
	PendingConfirmations int               `json:"pending_confirmations"`
	KeyVersion           uint32            `json:"key_version"`
	Custodians           []CustodianStatus `json:"custodians"`
	ProgressExpiresAt    *time.Time        `json:"progress_expires_at,omitempty"`
	Provider             string            `json:"provider"`
	MemoryLocked         bool              `json:"memory_locked"`
	Rekey                *RekeyStatus      `json:"rekey,omitempty"`
}

// TokenStore keeps break-glass token hashes with an expiry; Take must
// remove and report in one atomic step, so a token works exactly once.
type TokenStore interface {
	Put(ctx context.Context, hash string, ttl time.Duration) error
	Take(ctx context.Context, hash string) (bool, error)
}

// Options configure a Service.
type Options struct {
	Dir         string        // $DATA/seal
	Provider    KeyProvider   // default SoftwareProvider{}
	ProgressTTL time.Duration // unentered progress is wiped after this; default 15m
	RekeyTTL    time.Duration // a rekey idle this long is wiped; default 15m
	TokenTTL    time.Duration // break-glass token life; default 30s
	Tokens      TokenStore    // break-glass tokens; nil disables break-glass
	Logger      *slog.Logger  // audit events; never share or key content
	// Audit, when set, is also told every seal event (the appliance writes
	// them into the system audit chain). It must not block for long: it is
	// called with the seal's lock held.
	Audit func(action string, attrs map[string]any)
	Now   func() time.Time
}

// Service is the seal state machine: uninitialized → (pending
// confirmations) → sealed ⇄ unsealed.
type Service struct {
	opts Options

	mu      sync.Mutex
	file    *sealFile // nil: uninitialized
	kek     KEK       // set while unsealed
	keyring *Keyring  // set while unsealed
	unseal  *collector
	glass   *collector
	rekey   *rekeySession
	// ceremony is the secret made by init, kept in locked memory until
	// the last confirmation so the appliance opens then instead of asking
	// the same custodians for their shares again. Lost on restart.
	ceremony *lockedBytes
	// changed is closed, and replaced, whenever the keyring opens or is
	// forgotten: see Watch.
	changed chan struct{}
}

// sealFile is $DATA/seal/seal.json: everything needed to unseal except the
// secret itself.
type sealFile struct {
	Version        int             `json:"version"`
	Shares         int             `json:"shares"`
	Threshold      int             `json:"threshold"`
	Slots          []slot          `json:"slots"`
	Confirmed      []int           `json:"confirmed"`
	Provider       string          `json:"provider"`
	ProviderParams json.RawMessage `json:"provider_params"`
	Keyring        []byte          `json:"keyring"`
	KeyVersion     uint32          `json:"key_version"`
	Created        time.Time       `json:"created"`
	// CeremonyHash is the SHA-256 of the ceremony token while
	// confirmations are pending; it survives a restart, the token does not.
	CeremonyHash string `json:"ceremony_hash,omitempty"`
}

func (f *sealFile) initialized() bool { return len(f.Confirmed) == f.Shares }

func (f *sealFile) confirmed(slot int) bool {
	for _, c := range f.Confirmed {
		if c == slot {
			return true
		}
	}
	return false
}

// Open loads the seal state from opts.Dir. It always starts sealed.
func Open(opts Options) (*Service, error) {
	if opts.Provider == nil {
		opts.Provider = SoftwareProvider{}
	}
	if opts.ProgressTTL == 0 {
		opts.ProgressTTL = 15 * time.Minute
	}
	if opts.RekeyTTL == 0 {
		opts.RekeyTTL = 15 * time.Minute
	}
	if opts.TokenTTL == 0 {
		opts.TokenTTL = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{opts: opts, changed: make(chan struct{})}
	data, err := os.ReadFile(s.path())
	switch {
	case errors.Is(err, os.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("read seal state: %w", err)
	}
	var f sealFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("seal state %s is corrupt: %w", s.path(), err)
	}
	if f.Provider != opts.Provider.Name() {
		return nil, fmt.Errorf("seal state was made with the %q key provider, configured is %q", f.Provider, opts.Provider.Name())
	}
	s.file = &f
	return s, nil
}

func (s *Service) path() string { return filepath.Join(s.opts.Dir, "seal.json") }

func (s *Service) save(f *sealFile) error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.opts.Dir, 0o700); err != nil {
		return err
	}
	return atomicfile.Write(s.path(), data, 0o600)
}

// auditFrom records an event with who asked for it.
func (s *Service) auditFrom(o Origin, action string, attrs ...any) {
	s.audit(action, append(o.attrs(), attrs...)...)
}

func (s *Service) audit(action string, attrs ...any) {
	s.opts.Logger.Info("audit", append([]any{"action", action}, attrs...)...)
	if s.opts.Audit != nil {
		m := make(map[string]any, len(attrs)/2)
		for i := 0; i+1 < len(attrs); i += 2 {
			if k, ok := attrs[i].(string); ok {
				m[k] = attrs[i+1]
			}
		}
		s.opts.Audit(action, m)
	}
}

// Status reports the seal state.
func (s *Service) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statusLocked()
}

func (s *Service) statusLocked() Status {
	st := Status{Sealed: true, Provider: s.opts.Provider.Name(), EnteredSlots: []int{}, Custodians: []CustodianStatus{},
		MemoryLocked: lockedFailures.Load() == 0}
	f := s.file
	if f == nil {
		return st
	}
	s.expireLocked()
	st.Initialized = f.initialized()
	st.Sealed = s.keyring == nil
	st.Shares, st.Threshold, st.KeyVersion = f.Shares, f.Threshold, f.KeyVersion
	st.PendingConfirmations = f.Shares - len(f.Confirmed)
	for _, sl := range f.Slots {
		cs := CustodianStatus{Slot: sl.Slot, Name: sl.Custodian, Confirmed: f.confirmed(sl.Slot)}
		if s.unseal != nil {
			_, cs.Entered = s.unseal.shares[sl.Slot]
		}
		st.Custodians = append(st.Custodians, cs)
	}
	if s.unseal != nil {
		st.Progress, st.EnteredSlots, st.Nonce = len(s.unseal.shares), s.unseal.slots(), s.unseal.nonce
		if st.Progress > 0 {
			exp := s.unseal.started.Add(s.opts.ProgressTTL).UTC()
			st.ProgressExpiresAt = &exp
		}
	} else if st.Sealed && st.Initialized {
		st.Nonce = s.nextNonceLocked()
	}
	if r := s.rekey; r != nil {
		st.Rekey = r.status(f.Threshold, s.opts.RekeyTTL)
	}
	return st
}

// nextNonceLocked opens an empty unseal round so that status can hand out
// the nonce its first share must carry.
func (s *Service) nextNonceLocked() string {
	s.unseal = newCollector(s.opts.Now())
	return s.unseal.nonce
}

// expireLocked wipes unseal progress older than the TTL, and a rekey idle
// for longer than its TTL (so one started and left, by anyone, does not
// block GOD's rotate and rekey for ever).
func (s *Service) expireLocked() {
	now := s.opts.Now()
	if s.rekey != nil && now.Sub(s.rekey.last) > s.opts.RekeyTTL {
		s.rekey.destroy()
		s.rekey = nil
		s.audit("seal.rekey_expired", "outcome", "expired")
	}
	for _, c := range []**collector{&s.unseal, &s.glass} {
		if *c != nil && len((*c).shares) > 0 && now.Sub((*c).started) > s.opts.ProgressTTL {
			(*c).destroy()
			*c = nil
			s.audit("seal.progress_expired")
		}
	}
}

func validateRequest(req *InitRequest) error {
	if req.Shares == 0 {
		req.Shares = 7
	}
	if req.Threshold == 0 {
		req.Threshold = 5
	}
	switch {
	case req.Shares < 2 || req.Shares > 255:
		return &FieldError{Field: "shares", Problem: fmt.Sprintf("%d is not between 2 and 255", req.Shares)}
	case req.Threshold < 2 || req.Threshold > req.Shares:
		return &FieldError{Field: "threshold", Problem: fmt.Sprintf("%d is not between 2 and shares (%d)", req.Threshold, req.Shares)}
	case len(req.Custodians) > req.Shares:
		return &FieldError{Field: "custodians", Problem: fmt.Sprintf("%d custodians for %d shares", len(req.Custodians), req.Shares)}
	}
	seen := map[string]bool{}
	for i, c := range req.Custodians {
		name := strings.TrimSpace(c.Name)
		if name == "" || len(name) > 100 {
			return &FieldError{Field: fmt.Sprintf("custodians[%d].name", i), Problem: "must be 1 to 100 characters"}
		}
		if seen[name] {
			return &FieldError{Field: fmt.Sprintf("custodians[%d].name", i), Problem: fmt.Sprintf("%q is listed twice", name)}
		}
		seen[name] = true
		req.Custodians[i].Name = name
		if c.AgeRecipient != "" {
			if _, err := age.ParseX25519Recipient(c.AgeRecipient); err != nil {
				return &FieldError{Field: fmt.Sprintf("custodians[%d].age_recipient", i), Problem: err.Error()}
			}
		}
	}
	return nil
}

// issue makes a new master secret and its shares. The caller makes the KEK
// for the secret and destroys it.
func (s *Service) issue(req InitRequest) (*sealFile, *lockedBytes, InitResult, error) {
	secret, err := newMasterSecret()
	if err != nil {
		return nil, nil, InitResult{}, err
	}
	parts, slots, err := splitSecret(secret.bytes(), req.Shares, req.Threshold, req.Custodians)
	if err != nil {
		secret.destroy()
		return nil, nil, InitResult{}, err
	}
	defer func() {
		for _, p := range parts {
			wipe(p)
		}
	}()
	f := &sealFile{Version: 1, Shares: req.Shares, Threshold: req.Threshold, Slots: slots, Confirmed: []int{},
		Provider: s.opts.Provider.Name(), Created: s.opts.Now().UTC()}
	res := InitResult{Threshold: req.Threshold}
	for i, p := range parts {
		is := IssuedShare{Slot: slots[i].Slot, Custodian: slots[i].Custodian, Share: encodeShare(p)}
		if slots[i].AgeRecipient != "" {
			if is.Share, err = encryptToAge(is.Share, slots[i].AgeRecipient); err != nil {
				secret.destroy()
				return nil, nil, InitResult{}, err
			}
			is.Encrypted = true
		}
		res.Shares = append(res.Shares, is)
	}
	return f, secret, res, nil
}

func encryptToAge(text, recipient string) (string, error) {
	r, err := age.ParseX25519Recipient(recipient)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, r)
	if err != nil {
		return "", err
	}
	if _, err := w.Write([]byte(text)); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	if err := aw.Close(); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// Init creates the master secret, its shares and the root keyring. The
// shares are returned once, with a ceremony token for whoever runs the
// ceremony; init completes when every custodian has confirmed theirs, and
// the appliance then opens with the secret kept from here.
//
// Starting over (Reissue) while confirmations are pending needs proof of
// running this ceremony: its token or one of its shares. Without it anyone
// who can reach the API could swap the share set for one they hold.
func (s *Service) Init(ctx context.Context, req InitRequest) (InitResult, error) {
	o := OriginOf(ctx)
	if err := validateRequest(&req); err != nil {
		return InitResult{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	proof := ""
	if s.file != nil {
		if s.file.initialized() {
			return InitResult{}, ErrAlreadyInitialized
		}
		if !req.Reissue {
			return InitResult{}, ErrInitPending
		}
		var err error
		if proof, err = s.reissueProofLocked(req); err != nil {
			s.auditFrom(o, "seal.init", "reissue", true, "outcome", "refused: "+err.Error())
			return InitResult{}, err
		}
	}
	f, secret, res, err := s.issue(req)
	if err != nil {
		return InitResult{}, err
	}
	kek, params, err := s.opts.Provider.Create(ctx, secret.bytes())
	if err != nil {
		secret.destroy()
		return InitResult{}, fmt.Errorf("create key-encryption key: %w", err)
	}
	defer kek.Destroy()
	f.ProviderParams = params
	kr, err := newKeyring()
	if err != nil {
		secret.destroy()
		return InitResult{}, err
	}
	defer kr.destroy()
	if f.Keyring, err = wrapKeyring(kek, kr); err != nil {
		secret.destroy()
		return InitResult{}, err
	}
	f.KeyVersion = kr.ActiveVersion()
	token, err := newToken("vct_")
	if err != nil {
		secret.destroy()
		return InitResult{}, err
	}
	f.CeremonyHash = tokenHash(token)
	if err := s.save(f); err != nil {
		secret.destroy()
		return InitResult{}, fmt.Errorf("save seal state: %w", err)
	}
	s.file = f
	s.resetRoundsLocked()
	s.ceremony.destroy()
	s.ceremony = secret
	res.CeremonyToken = token
	s.auditFrom(o, "seal.init", "shares", f.Shares, "threshold", f.Threshold, "reissue", req.Reissue, "proof", proof, "outcome", "issued")
	return res, nil
}

// reissueProofLocked checks the proof a reissue carries and names it.
func (s *Service) reissueProofLocked(req InitRequest) (string, error) {
	if req.CeremonyToken != "" && s.file.CeremonyHash != "" &&
		subtle.ConstantTimeCompare([]byte(tokenHash(req.CeremonyToken)), []byte(s.file.CeremonyHash)) == 1 {
		return "ceremony_token", nil
	}
	if req.Share != "" {
		share, err := decodeShare(req.Share)
		if err != nil {
			return "", err
		}
		defer wipe(share)
		if sl, ok := matchSlot(s.file.Slots, share); ok {
			return fmt.Sprintf("share of slot %d", sl.Slot), nil
		}
	}
	return "", ErrCeremonyProof
}

// newToken returns prefix and 256 random bits, URL-safe.
func newToken(prefix string) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	return prefix + base64.RawURLEncoding.EncodeToString(raw), nil
}

func wrapKeyring(kek KEK, kr *Keyring) ([]byte, error) {
	plain, err := kr.marshal()
	if err != nil {
		return nil, err
	}
	defer wipe(plain)
	return kek.Wrap(plain, keyringAAD)
}

// Confirm records that a custodian re-entered their share after init.
// The last confirmation opens the appliance with the secret init kept
// (unless the process restarted since: then custodians unseal as usual).
func (s *Service) Confirm(ctx context.Context, shareText string) (Status, error) {
	o := OriginOf(ctx)
	share, err := decodeShare(shareText)
	if err != nil {
		return s.Status(), err
	}
	defer wipe(share)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil || s.file.initialized() {
		return s.statusLocked(), ErrNothingPending
	}
	sl, ok := matchSlot(s.file.Slots, share)
	if !ok {
		s.auditFrom(o, "seal.confirm", "outcome", "unknown share")
		return s.statusLocked(), &ShareError{Kind: ShareUnknown}
	}
	if s.file.confirmed(sl.Slot) {
		return s.statusLocked(), &ShareError{Kind: ShareDuplicate, Slot: sl.Slot, Custodian: sl.Custodian}
	}
	next := *s.file
	next.Confirmed = append(append([]int{}, s.file.Confirmed...), sl.Slot)
	if next.initialized() {
		next.CeremonyHash = "" // the ceremony is over: nothing left to reissue
	}
	if err := s.save(&next); err != nil {
		return s.statusLocked(), err
	}
	s.file = &next
	s.auditFrom(o, "seal.confirm", "slot", sl.Slot, "custodian", sl.Custodian, "outcome", "confirmed")
	if next.initialized() && s.ceremony != nil {
		secret := s.ceremony
		s.ceremony = nil
		kek, kr, err := s.openWith(ctx, secret.bytes())
		secret.destroy()
		if err != nil {
			// The shares are confirmed and work; custodians unseal.
			s.opts.Logger.Error("open after the ceremony", "error", err.Error())
			return s.statusLocked(), nil
		}
		s.kek, s.keyring = kek, kr
		s.notifyLocked()
		s.auditFrom(o, "seal.unsealed", "key_version", kr.ActiveVersion(), "outcome", "opened at the last confirmation")
	}
	return s.statusLocked(), nil
}

// Unseal adds one share to the current round; at the threshold it
// rebuilds the secret and opens the keyring. nonce, if not empty, must be
// the round's.
func (s *Service) Unseal(ctx context.Context, shareText, nonce string) (Status, error) {
	o := OriginOf(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.requireSealedLocked(); err != nil {
		return s.statusLocked(), err
	}
	share, err := decodeShare(shareText)
	if err != nil {
		s.auditFrom(o, "seal.unseal", "outcome", "malformed share")
		return s.statusLocked(), err
	}
	defer wipe(share)
	s.expireLocked()
	if s.unseal == nil {
		s.unseal = newCollector(s.opts.Now())
	}
	ready, err := s.unseal.add(s.file, share, nonce, s.opts.Now())
	if err != nil {
		s.auditFrom(o, "seal.unseal", "outcome", err.Error())
		return s.statusLocked(), err
	}
	s.auditFrom(o, "seal.unseal", "slot", s.unseal.last, "outcome", "accepted", "progress", len(s.unseal.shares))
	if !ready {
		return s.statusLocked(), nil
	}
	kek, kr, err := s.openLocked(ctx, s.unseal)
	s.unseal.destroy()
	s.unseal = nil
	if err != nil {
		s.auditFrom(o, "seal.unseal", "outcome", "wrong key")
		return s.statusLocked(), err
	}
	s.kek, s.keyring = kek, kr
	s.notifyLocked()
	s.auditFrom(o, "seal.unsealed", "key_version", kr.ActiveVersion())
	return s.statusLocked(), nil
}

func (s *Service) requireSealedLocked() error {
	switch {
	case s.file == nil || !s.file.initialized():
		return ErrNotInitialized
	case s.keyring != nil:
		return ErrAlreadyUnsealed
	}
	return nil
}

// openLocked combines a full round's shares and opens the KEK and keyring.
func (s *Service) openLocked(ctx context.Context, c *collector) (KEK, *Keyring, error) {
	secret, err := c.combine()
	if err != nil {
		return nil, nil, err
	}
	defer secret.destroy()
	return s.openWith(ctx, secret.bytes())
}

// openWith opens the KEK with a rebuilt secret and unwraps the keyring.
// A secret that is not the one is a wrong key; a provider that cannot work
// at all (its module or token gone) is an operational error.
func (s *Service) openWith(ctx context.Context, secret []byte) (KEK, *Keyring, error) {
	kek, err := s.opts.Provider.Open(ctx, secret, s.file.ProviderParams)
	if errors.Is(err, ErrWrongSecret) {
		return nil, nil, &ShareError{Kind: ShareWrongKey}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open the %s key provider: %w", s.opts.Provider.Name(), err)
	}
	plain, err := kek.Unwrap(s.file.Keyring, keyringAAD)
	if err != nil {
		kek.Destroy()
		return nil, nil, &ShareError{Kind: ShareWrongKey}
	}
	kr, err := unmarshalKeyring(plain)
	if err != nil {
		kek.Destroy()
		return nil, nil, err
	}
	return kek, kr, nil
}

// ResetUnseal discards the current round's shares. Only a custodian who
// entered a share in this round (shareText, matched against the round's
// entries) or GOD (the origin's checked user) may: otherwise anyone could
// keep custodians from ever reaching the threshold.
func (s *Service) ResetUnseal(ctx context.Context, shareText string) (Status, error) {
	o := OriginOf(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	by := []any{}
	switch {
	case shareText != "":
		share, err := decodeShare(shareText)
		if err != nil {
			return s.statusLocked(), err
		}
		defer wipe(share)
		sl, ok := slot{}, false
		if s.file != nil {
			sl, ok = matchSlot(s.file.Slots, share)
		}
		if ok && s.unseal != nil {
			_, ok = s.unseal.shares[sl.Slot]
		} else {
			ok = false
		}
		if !ok {
			s.auditFrom(o, "seal.unseal_reset", "outcome", "refused: share not entered in this round")
			return s.statusLocked(), ErrResetProof
		}
		by = []any{"slot", sl.Slot, "custodian", sl.Custodian}
	case o.UserID != "":
		by = []any{"by", "god"}
	default:
		s.auditFrom(o, "seal.unseal_reset", "outcome", "refused: no proof")
		return s.statusLocked(), ErrResetProof
	}
	if s.unseal != nil {
		s.unseal.destroy()
		s.unseal = nil
	}
	s.auditFrom(o, "seal.unseal_reset", append(by, "outcome", "reset")...)
	return s.statusLocked(), nil
}

// Seal forgets every key: the appliance needs the threshold again.
func (s *Service) Seal() (Status, error) { return s.SealFrom(context.Background()) }

// SealFrom is Seal on behalf of the origin ctx carries, for the audit.
func (s *Service) SealFrom(ctx context.Context) (Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil || !s.file.initialized() {
		return s.statusLocked(), ErrNotInitialized
	}
	s.sealLocked()
	s.auditFrom(OriginOf(ctx), "seal.sealed")
	return s.statusLocked(), nil
}

// SealBy seals like Seal, and names in the audit event who sealed (attrs
// are key, value pairs, such as "actor", "operator via control socket"):
// the control socket has no token to name anyone by.
func (s *Service) SealBy(attrs ...any) (Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil || !s.file.initialized() {
		return s.statusLocked(), ErrNotInitialized
	}
	s.sealLocked()
	s.audit("seal.sealed", attrs...)
	return s.statusLocked(), nil
}

func (s *Service) sealLocked() {
	if s.keyring != nil {
		s.keyring.destroy()
		s.keyring = nil
		s.notifyLocked()
	}
	if s.kek != nil {
		s.kek.Destroy()
		s.kek = nil
	}
	s.resetRoundsLocked()
}

func (s *Service) resetRoundsLocked() {
	for _, c := range []**collector{&s.unseal, &s.glass} {
		if *c != nil {
			(*c).destroy()
			*c = nil
		}
	}
	if s.rekey != nil {
		s.rekey.destroy()
		s.rekey = nil
	}
}

// Close seals, for shutdown.
func (s *Service) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sealLocked()
	s.ceremony.destroy()
	s.ceremony = nil
}

// Keyring returns the root keyring while unsealed.
func (s *Service) Keyring() (*Keyring, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keyring == nil {
		return nil, ErrSealed
	}
	return s.keyring, nil
}

// Watch reports whether the appliance is unsealed and returns a channel
// that is closed at the next seal or unseal. Work bound to the keyring
// (background services) follows the seal with it, without polling and
// without missing a seal and unseal in quick succession.
func (s *Service) Watch() (unsealed bool, changed <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keyring != nil, s.changed
}

// notifyLocked wakes every watcher of the seal state.
func (s *Service) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Sealed reports whether the keys are locked away.
func (s *Service) Sealed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keyring == nil
}

// Rotate adds a root key version; new encryptions use it, old data stays
// readable. The KEK wrap of the keyring is renewed.
func (s *Service) Rotate(ctx context.Context) (Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keyring == nil {
		return s.statusLocked(), ErrSealed
	}
	if s.rekey != nil {
		// The rekey's pending state wraps the keyring as it was.
		return s.statusLocked(), ErrRekeyInProgress
	}
	v, err := s.keyring.rotate()
	if err != nil {
		return s.statusLocked(), err
	}
	next := *s.file
	if next.Keyring, err = wrapKeyring(s.kek, s.keyring); err != nil {
		return s.statusLocked(), err
	}
	next.KeyVersion = v
	if err := s.save(&next); err != nil {
		return s.statusLocked(), err
	}
	s.file = &next
	s.auditFrom(OriginOf(ctx), "seal.rotate", "key_version", v)
	return s.statusLocked(), nil
}

// BreakGlass adds a share to the break-glass round; at the threshold it
// returns a single-use token, of which only a hash is stored.
func (s *Service) BreakGlass(ctx context.Context, shareText, nonce string) (progress int, token string, err error) {
	o := OriginOf(ctx)
	share, err := decodeShare(shareText)
	if err != nil {
		return 0, "", err
	}
	defer wipe(share)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.Tokens == nil {
		return 0, "", errors.New("break-glass is not available: no token store")
	}
	if s.file == nil || !s.file.initialized() {
		return 0, "", ErrNotInitialized
	}
	s.expireLocked()
	if s.glass == nil {
		s.glass = newCollector(s.opts.Now())
	}
	ready, err := s.glass.add(s.file, share, nonce, s.opts.Now())
	if err != nil {
		s.auditFrom(o, "seal.break_glass", "outcome", err.Error())
		return len(s.glass.shares), "", err
	}
	if !ready {
		s.auditFrom(o, "seal.break_glass", "slot", s.glass.last, "outcome", "accepted")
		return len(s.glass.shares), "", nil
	}
	kek, kr, err := s.openLocked(ctx, s.glass)
	s.glass.destroy()
	s.glass = nil
	if err != nil {
		return 0, "", err
	}
	kek.Destroy()
	kr.destroy()
	if token, err = newToken("vbg_"); err != nil {
		return 0, "", err
	}
	if err := s.opts.Tokens.Put(ctx, tokenHash(token), s.opts.TokenTTL); err != nil {
		return 0, "", fmt.Errorf("store break-glass token: %w", err)
	}
	s.auditFrom(o, "seal.break_glass", "outcome", "token issued", "ttl", s.opts.TokenTTL.String())
	return s.file.Threshold, token, nil
}

// UseBreakGlass consumes a break-glass token: it works once, within its TTL.
func (s *Service) UseBreakGlass(ctx context.Context, token string) error {
	if s.opts.Tokens == nil || !strings.HasPrefix(token, "vbg_") {
		return ErrTokenInvalid
	}
	ok, err := s.opts.Tokens.Take(ctx, tokenHash(token))
	if err != nil {
		return fmt.Errorf("check break-glass token: %w", err)
	}
	if !ok {
		s.auditFrom(OriginOf(ctx), "seal.break_glass_use", "outcome", "refused")
		return ErrTokenInvalid
	}
	s.auditFrom(OriginOf(ctx), "seal.break_glass_use", "outcome", "accepted")
	return nil
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// collector gathers shares for one round (unseal, break-glass or rekey).
type collector struct {
	nonce   string
	started time.Time
	shares  map[int]*lockedBytes
	last    int
}

func newCollector(now time.Time) *collector {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return &collector{nonce: hex.EncodeToString(b), started: now, shares: map[int]*lockedBytes{}}
}

// add checks a share against the slots and keeps it; ready reports the
// threshold reached.
func (c *collector) add(f *sealFile, share []byte, nonce string, now time.Time) (ready bool, err error) {
	sl, ok := matchSlot(f.Slots, share)
	if !ok {
		return false, &ShareError{Kind: ShareUnknown}
	}
	if nonce != "" && nonce != c.nonce {
		return false, ErrStaleNonce
	}
	if _, dup := c.shares[sl.Slot]; dup {
		return false, &ShareError{Kind: ShareDuplicate, Slot: sl.Slot, Custodian: sl.Custodian}
	}
	if len(c.shares) == 0 {
		c.started = now // progress expires counting from the first share
	}
	c.shares[sl.Slot] = lockedCopy(append([]byte(nil), share...))
	c.last = sl.Slot
	return len(c.shares) >= f.Threshold, nil
}

func (c *collector) slots() []int {
	out := []int{}
	for slot := range c.shares {
		out = append(out, slot)
	}
	slices.Sort(out)
	return out
}

func (c *collector) combine() (*lockedBytes, error) {
	parts := make([][]byte, 0, len(c.shares))
	for _, sh := range c.shares {
		parts = append(parts, sh.bytes())
	}
	secret, err := shamir.Combine(parts)
	if err != nil {
		return nil, &ShareError{Kind: ShareWrongKey}
	}
	return lockedCopy(secret), nil
}

func (c *collector) destroy() {
	for _, sh := range c.shares {
		sh.destroy()
	}
	c.shares = map[int]*lockedBytes{}
}
