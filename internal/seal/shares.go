package seal

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/hashicorp/vault/shamir"
)

// secretLen is the length of the master secret in characters; each share
// is one byte longer (Shamir's x coordinate).
const (
	secretLen = 64
	shareLen  = secretLen + 1
)

const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newMasterSecret returns 64 characters drawn uniformly from 62 (about 381
// bits), in locked memory.
func newMasterSecret() (*lockedBytes, error) {
	out := newLocked(secretLen)
	var buf [1]byte
	for i := 0; i < secretLen; {
		if _, err := rand.Read(buf[:]); err != nil {
			out.destroy()
			return nil, err
		}
		// Rejection sampling: 248 = 4×62 keeps the draw unbiased.
		if buf[0] >= 248 {
			continue
		}
		out.b[i] = secretAlphabet[int(buf[0])%len(secretAlphabet)]
		i++
	}
	return out, nil
}

// slot is one custodian's place in a share set.
type slot struct {
	Slot         int    `json:"slot"`
	Custodian    string `json:"custodian"`
	AgeRecipient string `json:"age_recipient,omitempty"`
	CheckSalt    []byte `json:"check_salt"`
	Check        []byte `json:"check"`
}

// checkValue is the salted hash that lets a share be recognised as its
// slot's the moment it is entered. Shares are uniformly random 520-bit
// strings, so a fast hash leaves nothing to brute-force.
func checkValue(salt, share []byte) []byte {
	h := sha256.New()
	h.Write([]byte("vanta share check v1\x00"))
	h.Write(salt)
	h.Write(share)
	return h.Sum(nil)
}

// matchSlot returns the slot whose check value the share matches.
func matchSlot(slots []slot, share []byte) (slot, bool) {
	for _, s := range slots {
		if subtle.ConstantTimeCompare(checkValue(s.CheckSalt, share), s.Check) == 1 {
			return s, true
		}
	}
	return slot{}, false
}

// splitSecret splits the secret and returns the shares with their slots.
func splitSecret(secret []byte, n, k int, custodians []Custodian) ([][]byte, []slot, error) {
	parts, err := shamir.Split(secret, n, k)
	if err != nil {
		return nil, nil, err
	}
	slots := make([]slot, n)
	for i, p := range parts {
		salt := make([]byte, 16)
		if _, err := rand.Read(salt); err != nil {
			return nil, nil, err
		}
		slots[i] = slot{Slot: i + 1, Custodian: fmt.Sprintf("custodian %d", i+1), CheckSalt: salt, Check: checkValue(salt, p)}
		if i < len(custodians) {
			slots[i].Custodian = custodians[i].Name
			slots[i].AgeRecipient = custodians[i].AgeRecipient
		}
	}
	return parts, slots, nil
}

// encodeShare is the text a custodian keeps.
func encodeShare(share []byte) string { return base64.StdEncoding.EncodeToString(share) }

// decodeShare parses a custodian's share, telling what is wrong with a
// malformed one.
func decodeShare(text string) ([]byte, error) {
	text = strings.Join(strings.Fields(text), "") // tolerate wrapped lines
	if text == "" {
		return nil, &ShareError{Kind: ShareMalformed, Problem: "share is empty"}
	}
	b, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, &ShareError{Kind: ShareMalformed, Problem: "share is not valid base64: " + err.Error()}
	}
	if len(b) != shareLen {
		return nil, &ShareError{Kind: ShareMalformed, Problem: fmt.Sprintf("share decodes to %d bytes, want %d", len(b), shareLen)}
	}
	return b, nil
}
