package seal

import (
	"context"
	"fmt"
	"time"
)

// rekeySession replaces the share set: the threshold of current shares
// authorises it, a new secret and share set are issued, and they take
// effect only once every new custodian has confirmed. Data keys do not
// change; only the KEK (or, with a token, its PIN) and its wrap of the
// keyring do.
//
// Nothing outside this session changes before the last confirmation: a
// provider whose rekey has effects of its own (a token's PIN) is rekeyed
// only then, so a rekey abandoned or interrupted by a restart leaves the
// old shares working. Until then both secrets wait in locked memory.
//
// Who may start one: GOD (its token checked by the API) while unsealed;
// anyone while sealed, since no token can be checked then and the rekey
// is only words until the threshold of current custodians enters shares,
// having seen in seal-status whom the new shares go to and who started
// it. Cancelling likewise takes GOD, or the threshold (its own round).
// A session idle for Options.RekeyTTL is wiped.
type rekeySession struct {
	req       InitRequest
	round     *collector
	cancel    *collector   // shares towards cancelling, while no GOD can
	pending   *sealFile    // the new share set, saved at the last confirmation
	oldSecret *lockedBytes // rebuilt from the current shares
	newSecret *lockedBytes

	by      Origin
	started time.Time
	last    time.Time // last activity; the session expires counting from it
}

func (r *rekeySession) destroy() {
	r.round.destroy()
	r.cancel.destroy()
	r.oldSecret.destroy()
	r.newSecret.destroy()
}

func (r *rekeySession) status(required int, ttl time.Duration) *RekeyStatus {
	rs := &RekeyStatus{Nonce: r.round.nonce, Progress: len(r.round.shares), Required: required, EnteredSlots: r.round.slots(),
		NewShares: r.req.Shares, NewThreshold: r.req.Threshold, NewCustodians: []Custodian{},
		StartedIP: r.by.IP, StartedAt: r.started.UTC(), ExpiresAt: r.last.Add(ttl).UTC(),
		CancelNonce: r.cancel.nonce, CancelProgress: len(r.cancel.shares), CancelEnteredSlots: r.cancel.slots()}
	switch {
	case r.by.UserID != "":
		rs.StartedBy, rs.StartedByUser = "god", r.by.UserID
	case r.by.Trusted:
		rs.StartedBy = "before any GOD existed"
	default:
		rs.StartedBy = "unauthenticated while sealed"
	}
	for i := 0; i < r.req.Shares; i++ {
		c := Custodian{Name: fmt.Sprintf("custodian %d", i+1)}
		if i < len(r.req.Custodians) {
			c = r.req.Custodians[i]
		}
		rs.NewCustodians = append(rs.NewCustodians, c)
	}
	if r.pending != nil {
		rs.PendingConfirmations = r.pending.Shares - len(r.pending.Confirmed)
	}
	return rs
}

// RekeyStart begins a rekey to the requested share set, on behalf of the
// origin ctx carries: while unsealed it must be trusted (GOD's token).
func (s *Service) RekeyStart(ctx context.Context, req InitRequest) (Status, error) {
	o := OriginOf(ctx)
	switch {
	case req.Reissue:
		return s.Status(), &FieldError{Field: "reissue", Problem: "is for init only"}
	case req.CeremonyToken != "":
		return s.Status(), &FieldError{Field: "ceremony_token", Problem: "is for init only"}
	case req.Share != "":
		return s.Status(), &FieldError{Field: "share", Problem: "current shares go to rekey/update"}
	}
	if err := validateRequest(&req); err != nil {
		return s.Status(), err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil || !s.file.initialized() {
		return s.statusLocked(), ErrNotInitialized
	}
	if s.keyring != nil && !o.Trusted {
		s.auditFrom(o, "seal.rekey_start", "outcome", "refused: not GOD")
		return s.statusLocked(), ErrRekeyNeedsGOD
	}
	s.expireLocked()
	if s.rekey != nil {
		return s.statusLocked(), ErrRekeyInProgress
	}
	now := s.opts.Now()
	s.rekey = &rekeySession{req: req, round: newCollector(now), cancel: newCollector(now), by: o, started: now, last: now}
	recipients := 0
	for _, c := range req.Custodians {
		if c.AgeRecipient != "" {
			recipients++
		}
	}
	s.auditFrom(o, "seal.rekey_start", "new_shares", req.Shares, "new_threshold", req.Threshold,
		"age_recipients", recipients, "trusted", o.Trusted, "outcome", "started")
	return s.statusLocked(), nil
}

// RekeyUpdate adds a current share. At the threshold it checks the rebuilt
// secret and returns the new shares, once; they still need confirming.
func (s *Service) RekeyUpdate(ctx context.Context, shareText, nonce string) (Status, *InitResult, error) {
	o := OriginOf(ctx)
	share, err := decodeShare(shareText)
	if err != nil {
		return s.Status(), nil, err
	}
	defer wipe(share)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	r := s.rekey
	if r == nil {
		return s.statusLocked(), nil, ErrNoRekey
	}
	if r.pending != nil {
		return s.statusLocked(), nil, ErrInitPending
	}
	ready, err := r.round.add(s.file, share, nonce, s.opts.Now())
	if err != nil {
		s.auditFrom(o, "seal.rekey_update", "outcome", err.Error())
		return s.statusLocked(), nil, err
	}
	r.last = s.opts.Now()
	s.auditFrom(o, "seal.rekey_update", "slot", r.round.last, "outcome", "accepted")
	if !ready {
		return s.statusLocked(), nil, nil
	}
	oldSecret, err := r.round.combine()
	r.round.destroy()
	if err != nil {
		return s.statusLocked(), nil, err
	}
	kek, kr, err := s.openWith(ctx, oldSecret.bytes()) // proves the shares
	if err != nil {
		oldSecret.destroy()
		return s.statusLocked(), nil, err
	}
	kek.Destroy()
	kr.destroy()
	f, newSecret, res, err := s.issue(r.req)
	if err != nil {
		oldSecret.destroy()
		return s.statusLocked(), nil, err
	}
	r.pending, r.oldSecret, r.newSecret = f, oldSecret, newSecret
	s.auditFrom(o, "seal.rekey_issued", "shares", f.Shares, "threshold", f.Threshold)
	return s.statusLocked(), &res, nil
}

// RekeyConfirm records a new custodian's confirmation; the last one makes
// the new share set the only one that works.
func (s *Service) RekeyConfirm(ctx context.Context, shareText string) (Status, error) {
	share, err := decodeShare(shareText)
	if err != nil {
		return s.Status(), err
	}
	defer wipe(share)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	r := s.rekey
	if r == nil || r.pending == nil {
		return s.statusLocked(), ErrNothingPending
	}
	sl, ok := matchSlot(r.pending.Slots, share)
	if !ok {
		return s.statusLocked(), &ShareError{Kind: ShareUnknown}
	}
	if r.pending.confirmed(sl.Slot) {
		return s.statusLocked(), &ShareError{Kind: ShareDuplicate, Slot: sl.Slot, Custodian: sl.Custodian}
	}
	r.pending.Confirmed = append(r.pending.Confirmed, sl.Slot)
	r.last = s.opts.Now()
	s.auditFrom(OriginOf(ctx), "seal.rekey_confirm", "slot", sl.Slot, "custodian", sl.Custodian)
	if !r.pending.initialized() {
		return s.statusLocked(), nil
	}
	if err := s.commitRekeyLocked(ctx, r); err != nil {
		r.pending.Confirmed = r.pending.Confirmed[:len(r.pending.Confirmed)-1]
		return s.statusLocked(), err
	}
	s.auditFrom(OriginOf(ctx), "seal.rekey_done", "shares", s.file.Shares, "threshold", s.file.Threshold)
	return s.statusLocked(), nil
}

// commitRekeyLocked moves the KEK to the new secret and saves the new set.
func (s *Service) commitRekeyLocked(ctx context.Context, r *rekeySession) error {
	oldKEK, kr, err := s.openWith(ctx, r.oldSecret.bytes())
	if err != nil {
		return err
	}
	defer kr.destroy()
	newKEK, params, err := s.opts.Provider.Rekey(ctx, oldKEK, s.file.ProviderParams, r.newSecret.bytes())
	oldKEK.Destroy()
	if err != nil {
		return fmt.Errorf("rekey the %s key provider: %w", s.opts.Provider.Name(), err)
	}
	next := *r.pending
	next.ProviderParams = params
	next.KeyVersion, next.Created = s.file.KeyVersion, s.file.Created
	if next.Keyring, err = wrapKeyring(newKEK, kr); err != nil {
		newKEK.Destroy()
		return err
	}
	if err := s.save(&next); err != nil {
		newKEK.Destroy()
		return fmt.Errorf("save seal state: %w", err)
	}
	s.file = &next
	if s.kek != nil {
		s.kek.Destroy()
		s.kek = newKEK
	} else {
		newKEK.Destroy()
	}
	r.destroy()
	s.rekey = nil
	if s.unseal != nil { // progress made with old shares means nothing now
		s.unseal.destroy()
		s.unseal = nil
	}
	return nil
}

// RekeyCancel abandons a rekey; the current shares stay valid. With no
// share it needs a trusted origin (GOD's token, or no GOD yet); otherwise
// each call enters one current share into the cancel round, and the
// threshold of them, proven to open the keyring, cancels.
func (s *Service) RekeyCancel(ctx context.Context, shareText, nonce string) (Status, error) {
	o := OriginOf(ctx)
	var share []byte
	if shareText != "" {
		var err error
		if share, err = decodeShare(shareText); err != nil {
			return s.Status(), err
		}
		defer wipe(share)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	r := s.rekey
	if r == nil {
		return s.statusLocked(), ErrNoRekey
	}
	if share == nil {
		if !o.Trusted {
			s.auditFrom(o, "seal.rekey_cancel", "outcome", "refused: no GOD token and no share")
			return s.statusLocked(), ErrRekeyNeedsGOD
		}
		r.destroy()
		s.rekey = nil
		s.auditFrom(o, "seal.rekey_cancel", "by", "token", "outcome", "cancelled")
		return s.statusLocked(), nil
	}
	ready, err := r.cancel.add(s.file, share, nonce, s.opts.Now())
	if err != nil {
		s.auditFrom(o, "seal.rekey_cancel", "outcome", err.Error())
		return s.statusLocked(), err
	}
	r.last = s.opts.Now()
	s.auditFrom(o, "seal.rekey_cancel", "slot", r.cancel.last, "outcome", "accepted", "progress", len(r.cancel.shares))
	if !ready {
		return s.statusLocked(), nil
	}
	kek, kr, err := s.openLocked(ctx, r.cancel)
	if err != nil {
		r.cancel.destroy()
		r.cancel = newCollector(s.opts.Now())
		return s.statusLocked(), err
	}
	kek.Destroy()
	kr.destroy()
	r.destroy()
	s.rekey = nil
	s.auditFrom(o, "seal.rekey_cancel", "by", "shares", "outcome", "cancelled")
	return s.statusLocked(), nil
}
