package seal

import (
	"context"
	"encoding/json"
)

// rekeySession replaces the share set: the threshold of current shares
// authorises it, a new secret and share set are issued, and they take
// effect only once every new custodian has confirmed. Data keys do not
// change; only the KEK's wrap of the keyring does.
type rekeySession struct {
	req        InitRequest
	round      *collector
	pending    *sealFile // the new state, saved at the last confirmation
	pendingKEK KEK
}

func (r *rekeySession) destroy() {
	r.round.destroy()
	if r.pendingKEK != nil {
		r.pendingKEK.Destroy()
		r.pendingKEK = nil
	}
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

// RekeyUpdate adds a current share. At the threshold it returns the new
// shares, once; they still need confirming.
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
	oldKEK, kr, err := s.openLocked(ctx, r.round)
	r.round.destroy()
	if err != nil {
		return s.statusLocked(), nil, err
	}
	defer kr.destroy()
	defer oldKEK.Destroy()
	f, newKEK, res, err := s.issue(ctx, r.req, func(secret []byte) (KEK, json.RawMessage, error) {
		return s.opts.Provider.Rekey(ctx, oldKEK, s.file.ProviderParams, secret)
	})
	if err != nil {
		return s.statusLocked(), nil, err
	}
	if f.Keyring, err = wrapKeyring(newKEK, kr); err != nil {
		newKEK.Destroy()
		return s.statusLocked(), nil, err
	}
	f.KeyVersion, f.Created = s.file.KeyVersion, s.file.Created
	r.pending, r.pendingKEK = f, newKEK
	s.audit("seal.rekey_issued", "shares", f.Shares, "threshold", f.Threshold)
	return s.statusLocked(), &res, nil
}

// RekeyConfirm records a new custodian's confirmation; the last one makes
// the new share set the only one that works.
func (s *Service) RekeyConfirm(shareText string) (Status, error) {
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
	if err := s.save(r.pending); err != nil {
		r.pending.Confirmed = r.pending.Confirmed[:len(r.pending.Confirmed)-1]
		return s.statusLocked(), err
	}
	s.file = r.pending
	if s.kek != nil {
		s.kek.Destroy()
		s.kek = r.pendingKEK
	} else {
		r.pendingKEK.Destroy()
	}
	r.pendingKEK = nil
	s.rekey = nil
	if s.unseal != nil { // progress made with old shares means nothing now
		s.unseal.destroy()
		s.unseal = nil
	}
	s.audit("seal.rekey_done", "shares", s.file.Shares, "threshold", s.file.Threshold)
	return s.statusLocked(), nil
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
