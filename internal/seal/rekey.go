package seal

import (
	"context"
	"fmt"
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
type rekeySession struct {
	req       InitRequest
	round     *collector
	pending   *sealFile    // the new share set, saved at the last confirmation
	oldSecret *lockedBytes // rebuilt from the current shares
	newSecret *lockedBytes
}

func (r *rekeySession) destroy() {
	r.round.destroy()
	r.oldSecret.destroy()
	r.newSecret.destroy()
}

// RekeyStart begins a rekey to the requested share set.
func (s *Service) RekeyStart(req InitRequest) (Status, error) {
	if err := validateRequest(&req); err != nil {
		return s.Status(), err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil || !s.file.initialized() {
		return s.statusLocked(), ErrNotInitialized
	}
	if s.rekey != nil {
		return s.statusLocked(), ErrRekeyInProgress
	}
	s.rekey = &rekeySession{req: req, round: newCollector(s.opts.Now())}
	s.audit("seal.rekey_start", "new_shares", req.Shares, "new_threshold", req.Threshold)
	return s.statusLocked(), nil
}

// RekeyUpdate adds a current share. At the threshold it checks the rebuilt
// secret and returns the new shares, once; they still need confirming.
func (s *Service) RekeyUpdate(ctx context.Context, shareText, nonce string) (Status, *InitResult, error) {
	share, err := decodeShare(shareText)
	if err != nil {
		return s.Status(), nil, err
	}
	defer wipe(share)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rekey
	if r == nil {
		return s.statusLocked(), nil, ErrNoRekey
	}
	if r.pending != nil {
		return s.statusLocked(), nil, ErrInitPending
	}
	ready, err := r.round.add(s.file, share, nonce, s.opts.Now())
	if err != nil {
		s.audit("seal.rekey_update", "outcome", err.Error())
		return s.statusLocked(), nil, err
	}
	s.audit("seal.rekey_update", "slot", r.round.last, "outcome", "accepted")
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
	s.audit("seal.rekey_issued", "shares", f.Shares, "threshold", f.Threshold)
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
	s.audit("seal.rekey_confirm", "slot", sl.Slot, "custodian", sl.Custodian)
	if !r.pending.initialized() {
		return s.statusLocked(), nil
	}
	if err := s.commitRekeyLocked(ctx, r); err != nil {
		r.pending.Confirmed = r.pending.Confirmed[:len(r.pending.Confirmed)-1]
		return s.statusLocked(), err
	}
	s.audit("seal.rekey_done", "shares", s.file.Shares, "threshold", s.file.Threshold)
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

// RekeyCancel abandons a rekey; the current shares stay valid.
func (s *Service) RekeyCancel() (Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rekey == nil {
		return s.statusLocked(), ErrNoRekey
	}
	s.rekey.destroy()
	s.rekey = nil
	s.audit("seal.rekey_cancel")
	return s.statusLocked(), nil
}
