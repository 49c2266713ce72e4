package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the cost of a password hash. They are written into
// every hash, so raising them later leaves old hashes verifiable; a login
// that verifies an old hash rewrites it with the current parameters.
type Argon2Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
	SaltLen   uint32
	KeyLen    uint32
}

// DefaultArgon2 is OWASP's argon2id recommendation: 19 MiB, 2 passes, one
// lane.
var DefaultArgon2 = Argon2Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds on parameters read back from a stored hash: a row edited to ask
// for a terabyte of memory must fail, not take the process down.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 16
	maxThreads   = 16
	maxSaltLen   = 64
	maxKeyLen    = 64
)

// ErrMalformedHash means a stored password hash could not be parsed.
var ErrMalformedHash = errors.New("auth: malformed password hash")

var b64 = base64.RawStdEncoding

// HashPassword derives an argon2id hash of pw with a fresh salt and returns
// it in the PHC string format:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
func HashPassword(pw string, p Argon2Params) (string, error) {
	if p.SaltLen == 0 {
		p.SaltLen = DefaultArgon2.SaltLen
	}
	if p.KeyLen == 0 {
		p.KeyLen = DefaultArgon2.KeyLen
	}
	if p.MemoryKiB == 0 || p.Time == 0 || p.Threads == 0 {
		return "", fmt.Errorf("auth: argon2 parameters must be positive: %+v", p)
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// parsedHash is a PHC string taken apart.
type parsedHash struct {
	params Argon2Params
	salt   []byte
	key    []byte
}

func parseHash(encoded string) (parsedHash, error) {
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, key
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return parsedHash{}, ErrMalformedHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return parsedHash{}, fmt.Errorf("%w: unsupported version %q", ErrMalformedHash, parts[2])
	}
	var ph parsedHash
	seen := map[string]bool{}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || seen[k] {
			return parsedHash{}, ErrMalformedHash
		}
		seen[k] = true
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return parsedHash{}, ErrMalformedHash
		}
		switch k {
		case "m":
			ph.params.MemoryKiB = uint32(n)
		case "t":
			ph.params.Time = uint32(n)
		case "p":
			if n > maxThreads {
				return parsedHash{}, ErrMalformedHash
			}
			ph.params.Threads = uint8(n)
		default:
			return parsedHash{}, ErrMalformedHash
		}
	}
	p := ph.params
	if len(seen) != 3 || p.MemoryKiB == 0 || p.MemoryKiB > maxMemoryKiB || p.Time == 0 || p.Time > maxTime ||
		p.Threads == 0 || p.MemoryKiB < 8*uint32(p.Threads) {
		return parsedHash{}, fmt.Errorf("%w: parameters out of range", ErrMalformedHash)
	}
	var err error
	if ph.salt, err = b64.DecodeString(parts[4]); err != nil || len(ph.salt) < 8 || len(ph.salt) > maxSaltLen {
		return parsedHash{}, fmt.Errorf("%w: salt", ErrMalformedHash)
	}
	if ph.key, err = b64.DecodeString(parts[5]); err != nil || len(ph.key) < 16 || len(ph.key) > maxKeyLen {
		return parsedHash{}, fmt.Errorf("%w: key", ErrMalformedHash)
	}
	ph.params.SaltLen, ph.params.KeyLen = uint32(len(ph.salt)), uint32(len(ph.key))
	return ph, nil
}

// VerifyPassword reports whether pw matches the encoded hash, comparing in
// constant time. A malformed hash is an error, never a match.
func VerifyPassword(pw, encoded string) (bool, error) {
	ph, err := parseHash(encoded)
	if err != nil {
		return false, err
	}
	p := ph.params
	key := argon2.IDKey([]byte(pw), ph.salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	return subtle.ConstantTimeCompare(key, ph.key) == 1, nil
}

// NeedsRehash reports whether encoded was made with parameters other than
// p (so a successful login should store a fresh hash).
func NeedsRehash(encoded string, p Argon2Params) bool {
	ph, err := parseHash(encoded)
	if err != nil {
		return true
	}
	q := ph.params
	return q.MemoryKiB != p.MemoryKiB || q.Time != p.Time || q.Threads != p.Threads ||
		(p.SaltLen != 0 && q.SaltLen != p.SaltLen) || (p.KeyLen != 0 && q.KeyLen != p.KeyLen)
}
