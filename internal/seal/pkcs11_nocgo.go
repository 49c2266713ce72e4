//go:build !cgo

package seal

import (
	"context"
	"encoding/json"
	"errors"
)

// PKCS11Provider needs cgo to reach a PKCS#11 library; a binary built
// without it keeps the type, so configuration can name it, and says why it
// cannot work.
type PKCS11Provider struct {
	Module     string
	TokenLabel string
	SOPIN      string
	KDF        Argon2Params
}

var errNoPKCS11 = errors.New("pkcs11: this vanta was built without cgo, so without PKCS#11 support")

// Name implements KeyProvider.
func (PKCS11Provider) Name() string { return "pkcs11" }

// Create implements KeyProvider.
func (PKCS11Provider) Create(context.Context, []byte) (KEK, json.RawMessage, error) {
	return nil, nil, errNoPKCS11
}

// Open implements KeyProvider.
func (PKCS11Provider) Open(context.Context, []byte, json.RawMessage) (KEK, error) {
	return nil, errNoPKCS11
}

// Rekey implements KeyProvider.
func (PKCS11Provider) Rekey(context.Context, KEK, json.RawMessage, []byte) (KEK, json.RawMessage, error) {
	return nil, nil, errNoPKCS11
}
