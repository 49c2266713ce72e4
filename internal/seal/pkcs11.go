//go:build cgo

package seal

// PKCS#11 key provider
//
// With PKCS11Provider the KEK is an AES-256 key that is generated inside a
// PKCS#11 token (an HSM; SoftHSM2 in the tests) and never leaves it: it is
// made with C_GenerateKey as a token object with CKA_SENSITIVE true and
// CKA_EXTRACTABLE false, so no one, the appliance included, can read its
// value. Wrap and Unwrap are C_Encrypt and C_Decrypt with CKM_AES_GCM: a
// 12-byte IV we draw, a 128-bit tag, the caller's aad as GCM's AAD, and
// IV||ciphertext||tag as the output, the same layout the software KEK uses.
//
// What the shares protect is the token's user PIN. The master secret that a
// threshold of shares rebuilds goes through Argon2id with a stored salt, and
// the hex of the result is the PIN. Create logs in as the security officer
// with the SO PIN the operator gives at setup and sets the user PIN to that
// derived value with C_InitPIN, so from then on only the shares can log in
// and use the key. Why a derived PIN rather than a KEK derived in software:
// a copy of seal.json plus the shares is then not enough to decrypt
// anything; the token has to be there too, and a hardware token
// rate-limits and locks out PIN guesses. Why Argon2id and not a bare hash:
// the salt and cost are stored in the same shape as the software
// provider's, and a leaked seal.json gives nothing cheaper to attack than
// the shares themselves.
//
// The provider parameters in seal.json hold the module path, the token
// label, the key's label (random per Create, so a reissued init never meets
// the key of the set it replaced), the PIN derivation's salt and cost, and
// the PIN length (64 hex digits, or the token's maximum if that is shorter).
// None of it is secret.
//
// Rekey changes the user PIN with C_SetPIN from the PIN of the old secret to
// the PIN of the new one. The key itself stays, so data keys and the wrapped
// keyring stay valid. C_SetPIN needs the old PIN, and Rekey is handed an
// open KEK rather than the old secret, so a KEK keeps its derived PIN in
// locked memory for pkcs11PINHold after it is made (the seal service calls
// Rekey right after opening the KEK, under its lock) and wipes it then, or
// at Destroy if that comes first.
//
// Note on timing: the seal service calls Rekey when the threshold of
// current shares is reached (RekeyUpdate), so with this provider the PIN
// change takes effect there, not at the last confirmation of the new share
// set as with the software provider. From that moment the old shares no
// longer open the token, even though seal.json lists the old set until the
// last new custodian confirms. A rekey cancelled past its threshold, or a
// restart before its last confirmation, therefore leaves a token that only
// the new shares open and a seal.json that only knows the old ones: the
// appliance cannot be unsealed until the SO sets the user PIN back to the
// one the old shares derive. Once past the threshold, finish the rekey.
//
// Other things an operator must know:
//   - The SO PIN can reset the user PIN (C_InitPIN) and so use the key
//     without the shares. Guard it like the shares, or change it after
//     setup to a value held under the same split control.
//   - A reissued init (Create again before the ceremony completes) leaves
//     the previous key object on the token; it is useless without the PIN
//     of the abandoned share set and may be deleted.
//   - Login state in PKCS#11 is per process and token, shared by all
//     sessions, so logins are counted per token: the token is logged out
//     when the last KEK on it is destroyed. A second Open while the token
//     is already logged in (break-glass while unsealed, a rekey) checks its
//     derived PIN against a SHA-256 of the PIN that logged in.
//   - A loaded module is initialised once per process and never finalised:
//     C_Finalize would end every other user's sessions in this process.
//   - The PIN is passed to the library as a string that aliases locked
//     memory; the library copies it into C memory that it frees without
//     zeroing, and likewise the plaintext of C_Decrypt. That is out of our
//     reach.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/miekg/pkcs11"
	"golang.org/x/crypto/argon2"
)

// Errors the PKCS#11 provider wraps, for callers that want to tell a
// missing or misconfigured token from wrong shares.
var (
	ErrPKCS11Module = errors.New("pkcs11: the module cannot be loaded")
	ErrPKCS11Token  = errors.New("pkcs11: token not found")
	ErrPKCS11PIN    = errors.New("pkcs11: the token refused the PIN")
	ErrPKCS11Key    = errors.New("pkcs11: key-encryption key not usable")
)

// pkcs11PINHold is how long a KEK keeps its derived PIN for Rekey.
var pkcs11PINHold = time.Minute

const (
	pkcs11PINMaxLen = 64 // hex digits of a 32-byte Argon2id output
	pkcs11PINMinLen = 32 // 128 bits: below that a token is refused
	pkcs11IVLen     = 12
	pkcs11TagBits   = 128
	pkcs11KeyPrefix = "vanta-kek-"
)

// PKCS11Provider keeps the KEK in a PKCS#11 token that the master secret
// unlocks through a derived user PIN. See the section comment above.
type PKCS11Provider struct {
	// Module is the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so.
	// Create stores it in the parameters; Open uses this one when set
	// (libraries move between OS releases), else the stored one.
	Module string
	// TokenLabel is the token Create sets up. Open uses the stored label.
	TokenLabel string
	// SOPIN is the token's security officer PIN, needed by Create only.
	SOPIN string
	// KDF is the cost of deriving the user PIN; zero means DefaultArgon2.
	KDF Argon2Params
}

// pkcs11Params are the provider parameters stored in seal.json.
type pkcs11Params struct {
	Module     string       `json:"module"`
	TokenLabel string       `json:"token_label"`
	KeyLabel   string       `json:"key_label"`
	PINKDF     Argon2Params `json:"pin_kdf"`
	PINLength  int          `json:"pin_length"`
}

func (pp *pkcs11Params) validate() error {
	k := pp.PINKDF
	switch {
	case pp.Module == "":
		return errors.New("pkcs11 parameters: no module")
	case pp.TokenLabel == "":
		return errors.New("pkcs11 parameters: no token label")
	case !strings.HasPrefix(pp.KeyLabel, pkcs11KeyPrefix):
		return fmt.Errorf("pkcs11 parameters: key label %q is not one of ours", pp.KeyLabel)
	case len(k.Salt) < 16 || k.Time == 0 || k.MemoryKiB < 8 || k.Threads == 0:
		return errors.New("pkcs11 parameters: PIN derivation parameters are incomplete")
	case pp.PINLength < pkcs11PINMinLen || pp.PINLength > pkcs11PINMaxLen:
		return fmt.Errorf("pkcs11 parameters: PIN length %d is not between %d and %d", pp.PINLength, pkcs11PINMinLen, pkcs11PINMaxLen)
	}
	return nil
}

// Name implements KeyProvider.
func (p PKCS11Provider) Name() string { return "pkcs11" }

func (p PKCS11Provider) kdf() Argon2Params {
	if p.KDF.Time == 0 {
		return DefaultArgon2
	}
	return p.KDF
}

// Create implements KeyProvider: it sets the token's user PIN to the one
// derived from secret and generates the KEK inside the token.
func (p PKCS11Provider) Create(ctx context.Context, secret []byte) (KEK, json.RawMessage, error) {
	switch {
	case p.Module == "":
		return nil, nil, fmt.Errorf("%w: no module path configured", ErrPKCS11Module)
	case p.TokenLabel == "":
		return nil, nil, fmt.Errorf("%w: no token label configured", ErrPKCS11Token)
	case p.SOPIN == "":
		return nil, nil, errors.New("pkcs11: the token's SO PIN is needed to set it up")
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	mod, err := loadPKCS11Module(p.Module)
	if err != nil {
		return nil, nil, err
	}
	slot, info, err := mod.findToken(p.TokenLabel)
	if err != nil {
		return nil, nil, err
	}
	pp := pkcs11Params{Module: p.Module, TokenLabel: p.TokenLabel, PINKDF: p.kdf(), PINLength: pkcs11PINMaxLen}
	if info.MaxPinLen != 0 { // 0: the token states no limit
		pp.PINLength = min(pp.PINLength, int(info.MaxPinLen))
	}
	if pp.PINLength < pkcs11PINMinLen || pp.PINLength < int(info.MinPinLen) {
		return nil, nil, fmt.Errorf("pkcs11: token %q takes PINs of %d to %d characters; a derived PIN needs %d to %d",
			p.TokenLabel, info.MinPinLen, info.MaxPinLen, pkcs11PINMinLen, pkcs11PINMaxLen)
	}
	pp.PINKDF.Salt = make([]byte, 16)
	labelRand := make([]byte, 8)
	if _, err := rand.Read(pp.PINKDF.Salt); err != nil {
		return nil, nil, err
	}
	if _, err := rand.Read(labelRand); err != nil {
		return nil, nil, err
	}
	pp.KeyLabel = pkcs11KeyPrefix + hex.EncodeToString(labelRand)
	raw, err := json.Marshal(pp)
	if err != nil {
		return nil, nil, err
	}

	pin := derivePKCS11PIN(secret, &pp)
	sess, err := mod.ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		pin.destroy()
		return nil, nil, fmt.Errorf("pkcs11: open a session with token %q: %w", p.TokenLabel, err)
	}
	if err := mod.setUserPIN(slot, sess, p.TokenLabel, p.SOPIN, pin.bytes()); err != nil {
		pin.destroy()
		_ = mod.ctx.CloseSession(sess)
		return nil, nil, err
	}
	if err := mod.acquireUser(slot, sess, p.TokenLabel, pin.bytes()); err != nil {
		pin.destroy()
		_ = mod.ctx.CloseSession(sess)
		return nil, nil, err
	}
	k := newPKCS11KEK(mod, slot, sess, pin)
	if k.key, err = generatePKCS11Key(mod.ctx, sess, pp.KeyLabel, labelRand); err != nil {
		k.Destroy()
		return nil, nil, fmt.Errorf("%w: generate it in token %q: %v", ErrPKCS11Key, p.TokenLabel, err)
	}
	return k, raw, nil
}

// Open implements KeyProvider: it logs in with the PIN derived from secret
// and finds the KEK by its label.
func (p PKCS11Provider) Open(ctx context.Context, secret []byte, raw json.RawMessage) (KEK, error) {
	var pp pkcs11Params
	if err := json.Unmarshal(raw, &pp); err != nil {
		return nil, fmt.Errorf("pkcs11 parameters: %w", err)
	}
	if err := pp.validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	module := pp.Module
	if p.Module != "" {
		module = p.Module
	}
	mod, err := loadPKCS11Module(module)
	if err != nil {
		return nil, err
	}
	slot, _, err := mod.findToken(pp.TokenLabel)
	if err != nil {
		return nil, err
	}
	pin := derivePKCS11PIN(secret, &pp)
	sess, err := mod.ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		pin.destroy()
		return nil, fmt.Errorf("pkcs11: open a session with token %q: %w", pp.TokenLabel, err)
	}
	if err := mod.acquireUser(slot, sess, pp.TokenLabel, pin.bytes()); err != nil {
		pin.destroy()
		_ = mod.ctx.CloseSession(sess)
		return nil, err
	}
	k := newPKCS11KEK(mod, slot, sess, pin)
	if k.key, err = findPKCS11Key(mod.ctx, sess, pp.TokenLabel, pp.KeyLabel); err != nil {
		k.Destroy()
		return nil, err
	}
	return k, nil
}

// Rekey implements KeyProvider: it changes the token's user PIN from the
// one kek was opened with to the one newSecret derives. The key stays.
// This happens now, when the seal service reaches the rekey threshold, not
// when the new share set is confirmed; see the section comment.
func (p PKCS11Provider) Rekey(ctx context.Context, kek KEK, raw json.RawMessage, newSecret []byte) (KEK, json.RawMessage, error) {
	old, ok := kek.(*pkcs11KEK)
	if !ok {
		return nil, nil, fmt.Errorf("pkcs11: cannot rekey a %T", kek)
	}
	var pp pkcs11Params
	if err := json.Unmarshal(raw, &pp); err != nil {
		return nil, nil, fmt.Errorf("pkcs11 parameters: %w", err)
	}
	if err := pp.validate(); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	next := pp
	next.PINKDF = p.kdf()
	next.PINKDF.Salt = make([]byte, 16)
	if _, err := rand.Read(next.PINKDF.Salt); err != nil {
		return nil, nil, err
	}
	newRaw, err := json.Marshal(next)
	if err != nil {
		return nil, nil, err
	}
	newPIN := derivePKCS11PIN(newSecret, &next)
	k, err := old.changePIN(pp.TokenLabel, pp.KeyLabel, newPIN)
	if err != nil {
		newPIN.destroy()
		return nil, nil, err
	}
	return k, newRaw, nil
}

// derivePKCS11PIN is the hex of Argon2id(secret, salt), cut to the stored
// length, in locked memory.
func derivePKCS11PIN(secret []byte, pp *pkcs11Params) *lockedBytes {
	k := pp.PINKDF
	raw := lockedCopy(argon2.IDKey(secret, k.Salt, k.Time, k.MemoryKiB, k.Threads, pkcs11PINMaxLen/2))
	defer raw.destroy()
	pin := newLocked(pkcs11PINMaxLen)
	hex.Encode(pin.bytes(), raw.bytes())
	wipe(pin.bytes()[pp.PINLength:])
	pin.b = pin.b[:pp.PINLength]
	return pin
}

// pinString lets the library read the PIN without a copy on Go's heap; the
// string must not outlive the call it is passed to.
func pinString(pin []byte) string {
	if len(pin) == 0 {
		return ""
	}
	return unsafe.String(&pin[0], len(pin))
}

// pkcs11Module is one loaded and initialised PKCS#11 library.
type pkcs11Module struct {
	path string
	ctx  *pkcs11.Ctx

	mu     sync.Mutex // guards logins, and orders logins and logouts
	logins map[uint]*pkcs11Login
}

// pkcs11Login is the user's login to one token, shared by every KEK on it.
type pkcs11Login struct {
	refs     int
	verifier [sha256.Size]byte // SHA-256 of the PIN now in force
}

var pkcs11Modules struct {
	sync.Mutex
	m map[string]*pkcs11Module
}

// loadPKCS11Module loads and initialises a library once per process.
func loadPKCS11Module(path string) (*pkcs11Module, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: no module path", ErrPKCS11Module)
	}
	// dlopen hands out one library per file however it is named; so do we.
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrPKCS11Module, path, err)
	}
	if resolved, err = filepath.Abs(resolved); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrPKCS11Module, path, err)
	}
	pkcs11Modules.Lock()
	defer pkcs11Modules.Unlock()
	if m := pkcs11Modules.m[resolved]; m != nil {
		return m, nil
	}
	if st, err := os.Stat(resolved); err != nil || st.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a file", ErrPKCS11Module, path)
	}
	ctx := pkcs11.New(resolved)
	if ctx == nil {
		return nil, fmt.Errorf("%w: %s is not a shared library for this machine, or one of its dependencies is missing", ErrPKCS11Module, path)
	}
	if err := ctx.Initialize(); err != nil && !isCKR(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		ctx.Destroy()
		return nil, fmt.Errorf("%w: %s: C_Initialize: %v", ErrPKCS11Module, path, err)
	}
	m := &pkcs11Module{path: path, ctx: ctx, logins: map[uint]*pkcs11Login{}}
	if pkcs11Modules.m == nil {
		pkcs11Modules.m = map[string]*pkcs11Module{}
	}
	pkcs11Modules.m[resolved] = m
	return m, nil
}

func isCKR(err error, rv uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == rv
}

// findToken returns the slot of the one initialised token with label.
func (m *pkcs11Module) findToken(label string) (uint, pkcs11.TokenInfo, error) {
	slots, err := m.ctx.GetSlotList(true)
	if err != nil {
		return 0, pkcs11.TokenInfo{}, fmt.Errorf("%w: list the slots of %s: %v", ErrPKCS11Token, m.path, err)
	}
	var found []uint
	var info pkcs11.TokenInfo
	var seen []string
	for _, s := range slots {
		ti, err := m.ctx.GetTokenInfo(s)
		if err != nil || ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			continue
		}
		seen = append(seen, fmt.Sprintf("%q", ti.Label))
		if ti.Label == label {
			found, info = append(found, s), ti
		}
	}
	switch len(found) {
	case 0:
		have := "none"
		if len(seen) > 0 {
			have = strings.Join(seen, ", ")
		}
		return 0, info, fmt.Errorf("%w: no initialised token labelled %q in %s (tokens present: %s)", ErrPKCS11Token, label, m.path, have)
	case 1:
		return found[0], info, nil
	}
	return 0, info, fmt.Errorf("%w: %d tokens are labelled %q in %s; labels must be unique", ErrPKCS11Token, len(found), label, m.path)
}

// setUserPIN logs in as SO and sets the user PIN.
func (m *pkcs11Module) setUserPIN(slot uint, sess pkcs11.SessionHandle, label, soPIN string, pin []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l := m.logins[slot]; l != nil && l.refs > 0 {
		return fmt.Errorf("pkcs11: token %q is in use by an open key-encryption key in this process; seal first", label)
	}
	if err := m.ctx.Login(sess, pkcs11.CKU_SO, soPIN); err != nil {
		switch {
		case isCKR(err, pkcs11.CKR_PIN_INCORRECT):
			return fmt.Errorf("%w: token %q refused the SO PIN", ErrPKCS11PIN, label)
		case isCKR(err, pkcs11.CKR_PIN_LOCKED):
			return fmt.Errorf("%w: the SO PIN of token %q is locked", ErrPKCS11PIN, label)
		}
		return fmt.Errorf("pkcs11: log in to token %q as SO: %w", label, err)
	}
	err := m.ctx.InitPIN(sess, pinString(pin))
	_ = m.ctx.Logout(sess)
	if err != nil {
		return fmt.Errorf("pkcs11: set the user PIN of token %q: %w", label, err)
	}
	return nil
}

// acquireUser logs the user in to slot with pin, or, when a KEK on it is
// already logged in, checks pin against the login's; either way it counts
// one more holder of the login.
func (m *pkcs11Module) acquireUser(slot uint, sess pkcs11.SessionHandle, label string, pin []byte) error {
	sum := sha256.Sum256(pin)
	m.mu.Lock()
	defer m.mu.Unlock()
	if l := m.logins[slot]; l != nil && l.refs > 0 {
		if subtle.ConstantTimeCompare(sum[:], l.verifier[:]) != 1 {
			return fmt.Errorf("%w (%w): the PIN derived from these shares is not token %q's", ErrPKCS11PIN, ErrWrongSecret, label)
		}
		l.refs++
		return nil
	}
	err := m.ctx.Login(sess, pkcs11.CKU_USER, pinString(pin))
	if isCKR(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
		// Logged in by no KEK we know of: log out, so that the PIN is checked.
		_ = m.ctx.Logout(sess)
		err = m.ctx.Login(sess, pkcs11.CKU_USER, pinString(pin))
	}
	switch {
	case err == nil:
	case isCKR(err, pkcs11.CKR_PIN_INCORRECT):
		return fmt.Errorf("%w (%w): token %q refused the PIN derived from these shares", ErrPKCS11PIN, ErrWrongSecret, label)
	case isCKR(err, pkcs11.CKR_PIN_LOCKED):
		return fmt.Errorf("%w: the user PIN of token %q is locked after too many wrong tries; its SO must reset it", ErrPKCS11PIN, label)
	case isCKR(err, pkcs11.CKR_USER_PIN_NOT_INITIALIZED):
		return fmt.Errorf("%w: token %q has no user PIN; it was never set up for this appliance", ErrPKCS11PIN, label)
	default:
		return fmt.Errorf("pkcs11: log in to token %q: %w", label, err)
	}
	m.logins[slot] = &pkcs11Login{refs: 1, verifier: sum}
	return nil
}

// releaseUser drops one holder of the login; the last one logs out.
func (m *pkcs11Module) releaseUser(slot uint, sess pkcs11.SessionHandle) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.logins[slot]
	if l == nil {
		return
	}
	if l.refs--; l.refs <= 0 {
		_ = m.ctx.Logout(sess)
		delete(m.logins, slot)
	}
}

func generatePKCS11Key(ctx *pkcs11.Ctx, sess pkcs11.SessionHandle, label string, id []byte) (pkcs11.ObjectHandle, error) {
	mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
	}
	return ctx.GenerateKey(sess, mech, tmpl)
}

// findPKCS11Key finds the KEK by label and refuses a key that someone
// could read out of the token.
func findPKCS11Key(ctx *pkcs11.Ctx, sess pkcs11.SessionHandle, token, label string) (pkcs11.ObjectHandle, error) {
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}
	if err := ctx.FindObjectsInit(sess, tmpl); err != nil {
		return 0, fmt.Errorf("%w: search token %q: %v", ErrPKCS11Key, token, err)
	}
	objs, _, err := ctx.FindObjects(sess, 2)
	_ = ctx.FindObjectsFinal(sess)
	if err != nil {
		return 0, fmt.Errorf("%w: search token %q: %v", ErrPKCS11Key, token, err)
	}
	switch len(objs) {
	case 0:
		return 0, fmt.Errorf("%w: token %q has no key labelled %q", ErrPKCS11Key, token, label)
	case 1:
	default:
		return 0, fmt.Errorf("%w: token %q has several keys labelled %q", ErrPKCS11Key, token, label)
	}
	attrs, err := ctx.GetAttributeValue(sess, objs[0], []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
	})
	if err != nil {
		return 0, fmt.Errorf("%w: read the attributes of key %q: %v", ErrPKCS11Key, label, err)
	}
	if !bytes.Equal(attrs[0].Value, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES).Value) ||
		!ckTrue(attrs[1].Value) || ckTrue(attrs[2].Value) {
		return 0, fmt.Errorf("%w: key %q in token %q is not a sensitive, non-extractable AES key", ErrPKCS11Key, label, token)
	}
	return objs[0], nil
}

func ckTrue(v []byte) bool { return len(v) == 1 && v[0] != 0 }

// pkcs11KEK is a session with the token, logged in, and the key's handle.
type pkcs11KEK struct {
	mod  *pkcs11Module
	slot uint

	mu     sync.Mutex // a session runs one operation at a time
	sess   pkcs11.SessionHandle
	key    pkcs11.ObjectHandle
	open   bool
	pin    *lockedBytes // for Rekey; wiped after pkcs11PINHold
	forget *time.Timer
}

func newPKCS11KEK(mod *pkcs11Module, slot uint, sess pkcs11.SessionHandle, pin *lockedBytes) *pkcs11KEK {
	k := &pkcs11KEK{mod: mod, slot: slot, sess: sess, open: true, pin: pin}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.forget = time.AfterFunc(pkcs11PINHold, k.forgetPIN)
	return k
}

func (k *pkcs11KEK) forgetPIN() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pin.destroy()
	k.pin = nil
}

// Wrap implements KEK: C_Encrypt with AES-GCM, IV || ciphertext || tag.
func (k *pkcs11KEK) Wrap(plaintext, aad []byte) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.open {
		return nil, ErrSealed
	}
	iv := make([]byte, pkcs11IVLen)
	if _, err := rand.Read(iv); err != nil {
		return nil, err
	}
	gcm := pkcs11.NewGCMParams(iv, aad, pkcs11TagBits)
	defer gcm.Free()
	if err := k.mod.ctx.EncryptInit(k.sess, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, gcm)}, k.key); err != nil {
		return nil, fmt.Errorf("pkcs11: C_EncryptInit: %w", err)
	}
	ct, err := k.mod.ctx.Encrypt(k.sess, plaintext)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: C_Encrypt: %w", err)
	}
	// Some tokens write an IV of their own; keep the one that was used.
	if used := gcm.IV(); len(used) == pkcs11IVLen {
		iv = used
	}
	return append(iv, ct...), nil
}

// Unwrap implements KEK.
func (k *pkcs11KEK) Unwrap(ciphertext, aad []byte) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.open {
		return nil, ErrSealed
	}
	if len(ciphertext) < pkcs11IVLen+pkcs11TagBits/8 {
		return nil, errDecrypt
	}
	iv := append([]byte(nil), ciphertext[:pkcs11IVLen]...)
	gcm := pkcs11.NewGCMParams(iv, aad, pkcs11TagBits)
	defer gcm.Free()
	if err := k.mod.ctx.DecryptInit(k.sess, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, gcm)}, k.key); err != nil {
		return nil, fmt.Errorf("pkcs11: C_DecryptInit: %w", err)
	}
	pt, err := k.mod.ctx.Decrypt(k.sess, ciphertext[pkcs11IVLen:])
	if err != nil {
		return nil, fmt.Errorf("%w (pkcs11: %v)", errDecrypt, err)
	}
	return pt, nil
}

// Destroy implements KEK: it wipes the PIN, gives up its share of the
// login (the last one logs out) and closes the session. Safe to call twice.
func (k *pkcs11KEK) Destroy() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.forget.Stop()
	k.pin.destroy()
	k.pin = nil
	if !k.open {
		return
	}
	k.open = false
	k.mod.releaseUser(k.slot, k.sess)
	_ = k.mod.ctx.CloseSession(k.sess)
}

// changePIN sets the user PIN to newPIN and returns a KEK of its own for
// the same key, which takes newPIN over.
func (k *pkcs11KEK) changePIN(token, keyLabel string, newPIN *lockedBytes) (*pkcs11KEK, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.open {
		return nil, ErrSealed
	}
	if k.pin == nil {
		return nil, fmt.Errorf("pkcs11: the key-encryption key was opened more than %s ago and no longer holds the PIN it needs to change; enter the shares again", pkcs11PINHold)
	}
	m := k.mod
	sess, err := m.ctx.OpenSession(k.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: open a session with token %q: %w", token, err)
	}
	m.mu.Lock()
	l := m.logins[k.slot]
	if l == nil || l.refs == 0 {
		m.mu.Unlock()
		_ = m.ctx.CloseSession(sess)
		return nil, fmt.Errorf("pkcs11: token %q is not logged in", token)
	}
	if err := m.ctx.SetPIN(k.sess, pinString(k.pin.bytes()), pinString(newPIN.bytes())); err != nil {
		m.mu.Unlock()
		_ = m.ctx.CloseSession(sess)
		return nil, fmt.Errorf("pkcs11: change the user PIN of token %q: %w", token, err)
	}
	l.verifier = sha256.Sum256(newPIN.bytes())
	l.refs++ // the new KEK's share of the login
	m.mu.Unlock()
	k.pin.destroy() // the old PIN opens nothing any more
	k.pin = nil

	nk := newPKCS11KEK(m, k.slot, sess, newPIN)
	if nk.key, err = findPKCS11Key(m.ctx, sess, token, keyLabel); err != nil {
		nk.Destroy()
		return nil, err
	}
	return nk, nil
}
