package seal

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
)

// Ciphertexts start with a format byte and the root key version, so that
// after a rotation old data still names the key that opens it.
const (
	formatV1  byte = 0x01
	headerLen      = 1 + 4
)

// Keyring is the versioned set of root AES-256 keys. New encryptions use
// the active version; any version opens what it sealed.
type Keyring struct {
	mu     sync.RWMutex
	active uint32
	keys   map[uint32]*rootKey // nil once destroyed
}

type rootKey struct {
	key  *lockedBytes
	aead cipher.AEAD
}

func newRootKey() (*rootKey, error) {
	k := newLocked(32)
	if _, err := rand.Read(k.bytes()); err != nil {
		k.destroy()
		return nil, err
	}
	aead, err := newGCM(k.bytes())
	if err != nil {
		k.destroy()
		return nil, err
	}
	return &rootKey{key: k, aead: aead}, nil
}

func newKeyring() (*Keyring, error) {
	k, err := newRootKey()
	if err != nil {
		return nil, err
	}
	return &Keyring{active: 1, keys: map[uint32]*rootKey{1: k}}, nil
}

// ActiveVersion is the version new encryptions use.
func (k *Keyring) ActiveVersion() uint32 {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.active
}

// rotate adds a version and makes it active.
func (k *Keyring) rotate() (uint32, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys == nil {
		return 0, ErrSealed
	}
	nk, err := newRootKey()
	if err != nil {
		return 0, err
	}
	k.active++
	k.keys[k.active] = nk
	return k.active, nil
}

type keyringDoc struct {
	Active uint32            `json:"active"`
	Keys   map[string][]byte `json:"keys"`
}

// marshal returns the plaintext keyring; the caller wraps and wipes it.
func (k *Keyring) marshal() ([]byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.keys == nil {
		return nil, ErrSealed
	}
	doc := keyringDoc{Active: k.active, Keys: make(map[string][]byte, len(k.keys))}
	for v, rk := range k.keys {
		doc.Keys[strconv.FormatUint(uint64(v), 10)] = rk.key.bytes()
	}
	return json.Marshal(doc)
}

// unmarshalKeyring parses a plaintext keyring into locked memory and wipes
// the plaintext.
func unmarshalKeyring(plain []byte) (*Keyring, error) {
	defer wipe(plain)
	var doc keyringDoc
	if err := json.Unmarshal(plain, &doc); err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	k := &Keyring{active: doc.Active, keys: make(map[uint32]*rootKey, len(doc.Keys))}
	for vs, raw := range doc.Keys {
		v, err := strconv.ParseUint(vs, 10, 32)
		if err != nil || len(raw) != 32 {
			k.destroy()
			return nil, errors.New("keyring: malformed key entry")
		}
		lk := lockedCopy(raw)
		aead, err := newGCM(lk.bytes())
		if err != nil {
			lk.destroy()
			k.destroy()
			return nil, err
		}
		k.keys[uint32(v)] = &rootKey{key: lk, aead: aead}
	}
	if _, ok := k.keys[k.active]; !ok {
		k.destroy()
		return nil, errors.New("keyring: active version missing")
	}
	return k, nil
}

// destroy zeroes every key; later use fails with ErrSealed.
func (k *Keyring) destroy() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, rk := range k.keys {
		rk.key.destroy()
	}
	k.keys = nil
}

// aadFor binds a ciphertext to its use: length-prefixed parts, so that
// ("ab","c") and ("a","bc") never collide.
func aadFor(parts ...string) []byte {
	var b []byte
	b = append(b, "vanta/v1"...)
	for _, p := range parts {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

// Seal encrypts plaintext under the active root key with AES-256-GCM,
// bound to purpose and aad: opening it with another purpose or aad fails.
func (k *Keyring) Seal(purpose string, aad, plaintext []byte) ([]byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.keys == nil {
		return nil, ErrSealed
	}
	ct, err := gcmSeal(k.keys[k.active].aead, plaintext, aadFor(purpose, string(aad)))
	if err != nil {
		return nil, err
	}
	out := make([]byte, headerLen, headerLen+len(ct))
	out[0] = formatV1
	binary.BigEndian.PutUint32(out[1:], k.active)
	return append(out, ct...), nil
}

// Open decrypts what Seal produced, with whichever version sealed it.
func (k *Keyring) Open(purpose string, aad, ciphertext []byte) ([]byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.keys == nil {
		return nil, ErrSealed
	}
	if len(ciphertext) < headerLen || ciphertext[0] != formatV1 {
		return nil, errDecrypt
	}
	rk, ok := k.keys[binary.BigEndian.Uint32(ciphertext[1:])]
	if !ok {
		return nil, fmt.Errorf("key version %d is not in the keyring", binary.BigEndian.Uint32(ciphertext[1:]))
	}
	return gcmOpen(rk.aead, ciphertext[headerLen:], aadFor(purpose, string(aad)))
}

// DataKey is a per-owner data-encryption key (a company's DEK).
type DataKey struct {
	owner string
	key   *lockedBytes
	aead  cipher.AEAD
}

const dekPurpose = "dek"

// NewDataKey makes a DEK for owner and returns it wrapped under the active
// root key, for storing beside the owner's records.
func (k *Keyring) NewDataKey(owner string) ([]byte, error) {
	raw := make([]byte, 32)
	defer wipe(raw)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	return k.Seal(dekPurpose, []byte(owner), raw)
}

// DataKey unwraps owner's DEK. A DEK wrapped for another owner fails.
func (k *Keyring) DataKey(owner string, wrapped []byte) (*DataKey, error) {
	raw, err := k.Open(dekPurpose, []byte(owner), wrapped)
	if err != nil {
		return nil, fmt.Errorf("unwrap data key of %s: %w", owner, err)
	}
	lk := lockedCopy(raw)
	aead, err := newGCM(lk.bytes())
	if err != nil {
		lk.destroy()
		return nil, err
	}
	return &DataKey{owner: owner, key: lk, aead: aead}, nil
}

// RewrapDataKey re-wraps a DEK under the active root key (after rotate).
func (k *Keyring) RewrapDataKey(owner string, wrapped []byte) ([]byte, error) {
	raw, err := k.Open(dekPurpose, []byte(owner), wrapped)
	if err != nil {
		return nil, err
	}
	defer wipe(raw)
	return k.Seal(dekPurpose, []byte(owner), raw)
}

// Seal encrypts a record's field; the AAD binds owner, purpose and record,
// so a ciphertext copied to another company or record does not open.
func (d *DataKey) Seal(purpose, recordID string, plaintext []byte) ([]byte, error) {
	if d.aead == nil {
		return nil, ErrSealed
	}
	return gcmSeal(d.aead, plaintext, aadFor(d.owner, purpose, recordID))
}

// Open decrypts what Seal produced for the same owner, purpose and record.
func (d *DataKey) Open(purpose, recordID string, ciphertext []byte) ([]byte, error) {
	return gcmOpen(d.aead, ciphertext, aadFor(d.owner, purpose, recordID))
}

// Destroy zeroes the key.
func (d *DataKey) Destroy() { d.key.destroy(); d.aead = nil }

// NewKeyring returns a fresh keyring with one root key, bound to no seal
// and never persisted: for tests and tools that need real encryption
// without a key ceremony.
func NewKeyring() (*Keyring, error) { return newKeyring() }

// Destroy zeroes every root key.
func (k *Keyring) Destroy() { k.destroy() }
