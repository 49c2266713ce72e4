package seal

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"
)

// KeyProvider makes and unlocks the key-encryption key from the master
// secret. The software provider derives the KEK itself; a hardware one
// keeps it inside a token that the secret unlocks.
type KeyProvider interface {
	Name() string
	// Create sets up a KEK that secret unlocks and returns the parameters
	// (never secret) that Open will need.
	Create(ctx context.Context, secret []byte) (KEK, json.RawMessage, error)
	// Open unlocks the KEK with the secret.
	Open(ctx context.Context, secret []byte, params json.RawMessage) (KEK, error)
	// Rekey makes newSecret, instead of the secret that opened kek,
	// unlock a KEK from now on, and returns it with its parameters. The
	// caller rewraps the keyring under the returned KEK.
	Rekey(ctx context.Context, kek KEK, params json.RawMessage, newSecret []byte) (KEK, json.RawMessage, error)
}

// ErrWrongSecret is what a provider's Open wraps when the secret is not the
// one that unlocks its KEK (a token refusing the derived PIN). Any other
// Open error is operational: a missing module, an absent token.
var ErrWrongSecret = errors.New("the secret does not unlock the key-encryption key")

// KEK wraps and unwraps the root keyring.
type KEK interface {
	Wrap(plaintext, aad []byte) ([]byte, error)
	Unwrap(ciphertext, aad []byte) ([]byte, error)
	// Destroy forgets the key (zeroes it, or logs out of the token).
	Destroy()
}

// Argon2Params are the Argon2id cost parameters, stored with the salt so
// that raising the defaults later leaves old seals openable.
type Argon2Params struct {
	Salt      []byte `json:"salt"`
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
}

// DefaultArgon2 follows RFC 9106's second recommended option.
var DefaultArgon2 = Argon2Params{Time: 3, MemoryKiB: 64 * 1024, Threads: 4}

// SoftwareProvider derives the KEK with Argon2id. It is the default.
type SoftwareProvider struct {
	Params Argon2Params // cost for new KEKs; zero means DefaultArgon2
}

// Name implements KeyProvider.
func (p SoftwareProvider) Name() string { return "software" }

// Create implements KeyProvider.
func (p SoftwareProvider) Create(ctx context.Context, secret []byte) (KEK, json.RawMessage, error) {
	params := p.Params
	if params.Time == 0 {
		params = DefaultArgon2
	}
	params.Salt = make([]byte, 16)
	if _, err := rand.Read(params.Salt); err != nil {
		return nil, nil, err
	}
	raw, err := json.Marshal(params)
	if err != nil {
		return nil, nil, err
	}
	kek, err := p.Open(ctx, secret, raw)
	return kek, raw, err
}

// Open implements KeyProvider.
func (p SoftwareProvider) Open(_ context.Context, secret []byte, raw json.RawMessage) (KEK, error) {
	var params Argon2Params
	if err := json.Unmarshal(raw, &params); err != nil {
		return nil, fmt.Errorf("argon2 parameters: %w", err)
	}
	if len(params.Salt) < 16 || params.Time == 0 || params.MemoryKiB < 8 || params.Threads == 0 {
		return nil, errors.New("argon2 parameters are incomplete")
	}
	key := argon2.IDKey(secret, params.Salt, params.Time, params.MemoryKiB, params.Threads, 32)
	return newAESKEK(lockedCopy(key))
}

// Rekey implements KeyProvider: a new secret simply derives a new KEK.
func (p SoftwareProvider) Rekey(ctx context.Context, _ KEK, _ json.RawMessage, newSecret []byte) (KEK, json.RawMessage, error) {
	return p.Create(ctx, newSecret)
}

// aesKEK is an AES-256-GCM key in locked memory.
type aesKEK struct {
	key  *lockedBytes
	aead cipher.AEAD
}

func newAESKEK(key *lockedBytes) (*aesKEK, error) {
	aead, err := newGCM(key.bytes())
	if err != nil {
		key.destroy()
		return nil, err
	}
	return &aesKEK{key: key, aead: aead}, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func (k *aesKEK) Wrap(plaintext, aad []byte) ([]byte, error) {
	return gcmSeal(k.aead, plaintext, aad)
}

func (k *aesKEK) Unwrap(ciphertext, aad []byte) ([]byte, error) {
	return gcmOpen(k.aead, ciphertext, aad)
}

func (k *aesKEK) Destroy() { k.key.destroy(); k.aead = nil }

// gcmSeal returns nonce || ciphertext.
func gcmSeal(aead cipher.AEAD, plaintext, aad []byte) ([]byte, error) {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plaintext, aad), nil
}

var errDecrypt = errors.New("ciphertext does not decrypt: wrong key, wrong context, or tampered")

func gcmOpen(aead cipher.AEAD, ciphertext, aad []byte) ([]byte, error) {
	if aead == nil {
		return nil, ErrSealed
	}
	n := aead.NonceSize()
	if len(ciphertext) < n+aead.Overhead() {
		return nil, errDecrypt
	}
	pt, err := aead.Open(nil, ciphertext[:n], ciphertext[n:], aad)
	if err != nil {
		return nil, errDecrypt
	}
	return pt, nil
}
