package seal

import (
	"errors"
	"fmt"
)

// Errors a caller branches on. The API maps each to a status code.
var (
	ErrSealed             = errors.New("the appliance is sealed")
	ErrNotInitialized     = errors.New("the appliance is not initialized")
	ErrAlreadyInitialized = errors.New("the appliance is already initialized")
	ErrInitPending        = errors.New("initialization is waiting for custodians to confirm their shares; send reissue:true to start over")
	ErrNothingPending     = errors.New("no initialization or rekey is waiting for confirmation")
	ErrAlreadyUnsealed    = errors.New("the appliance is already unsealed")
	ErrNoRekey            = errors.New("no rekey is in progress")
	ErrRekeyInProgress    = errors.New("a rekey is already in progress; cancel it first")
	ErrStaleNonce         = errors.New("nonce does not match the current round; fetch seal-status and start again")
	ErrTokenInvalid       = errors.New("break-glass token is invalid, used or expired")
	// ErrCeremonyProof: reissuing a pending share set needs the ceremony
	// token init returned, or a share of the pending set.
	ErrCeremonyProof = errors.New("starting the ceremony over needs the ceremony_token init returned, or one share of the pending set (share)")
	// ErrResetProof: only a custodian who entered a share in the round,
	// or GOD, may discard it.
	ErrResetProof = errors.New(`resetting a round needs a share entered in it ({"reset":true,"share":"…"}) or GOD's token`)
	// ErrRekeyNeedsGOD: while unsealed, only GOD starts or cancels a rekey
	// without shares.
	ErrRekeyNeedsGOD = errors.New("while unsealed, starting or cancelling a rekey needs GOD's token; while sealed, cancelling needs the threshold of current shares")
)

// ShareKind classifies a refused share.
type ShareKind int

// Share refusals.
const (
	ShareMalformed ShareKind = iota // not a share at all
	ShareUnknown                    // well-formed, but no slot's check value matches
	ShareDuplicate                  // its slot was entered already this round
	ShareWrongKey                   // the threshold combined to a key that opens nothing
)

// ShareError says why a share was refused, and whose slot it concerns.
type ShareError struct {
	Kind      ShareKind
	Slot      int
	Custodian string
	Problem   string
	// Group is the 1-based group of a typed share that looks mistyped
	// (ShareMalformed); 0 when no one group is at fault.
	Group int
}

func (e *ShareError) Error() string {
	switch e.Kind {
	case ShareUnknown:
		return "share does not match any custodian slot"
	case ShareDuplicate:
		return fmt.Sprintf("share for slot %d (%s) was already entered; it is not counted twice", e.Slot, e.Custodian)
	case ShareWrongKey:
		return "the shares combine to a key that does not open the keyring; progress was reset"
	}
	return e.Problem
}

// FieldError is a request value out of range.
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }
