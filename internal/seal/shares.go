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

// Shares are written for people: Crockford's base32 (no I, L, O or U, so
// nothing reads as something else) in groups of five characters, each
// followed by a check character. A mistyped character is caught and
// located to its group before the share is even compared with a slot.
//
// The check of group g (1-based) over its values v₀…v₄ is, in GF(32),
// g ⊕ Σ α^(i+1)·vᵢ. Changing any one value changes the sum (α^(i+1) is
// never zero and GF(32) has no zero divisors), so every single-character
// substitution, check character included, is caught in its own group; the
// group number in the sum also catches two whole groups swapped.
const (
	crockford    = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	groupData    = 5                                        // data characters per group
	shareChars   = (shareLen*8 + 4) / 5                     // 104 data characters
	shareGroups  = (shareChars + groupData - 1) / groupData // 21 groups, the last of four
	shareTextLen = shareChars + shareGroups                 // 125 characters without dashes
)

// gfMul multiplies in GF(32) modulo x⁵+x²+1.
func gfMul(a, b byte) byte {
	var p byte
	for i := 0; i < 5; i++ {
		if b&1 != 0 {
			p ^= a
		}
		b >>= 1
		a <<= 1
		if a&0x20 != 0 {
			a ^= 0x25
		}
	}
	return p & 0x1f
}

// groupCheck is the check value of group g (1-based) over its values.
func groupCheck(g int, vals []byte) byte {
	c := byte(g) & 0x1f
	alpha := byte(1)
	for _, v := range vals {
		alpha = gfMul(alpha, 2)
		c ^= gfMul(alpha, v)
	}
	return c
}

// crockfordValue reads one character: case does not matter, O is 0 and I
// and L are 1 (what a person copying by hand means by them).
func crockfordValue(r byte) (byte, bool) {
	switch r {
	case 'o', 'O':
		r = '0'
	case 'i', 'I', 'l', 'L':
		r = '1'
	}
	if r >= 'a' && r <= 'z' {
		r -= 'a' - 'A'
	}
	i := strings.IndexByte(crockford, r)
	return byte(i), i >= 0
}

// encodeShare is the text a custodian keeps: 21 dash-separated groups.
func encodeShare(share []byte) string {
	vals := make([]byte, 0, shareChars)
	var acc uint32
	bits := 0
	for _, b := range share {
		acc = acc<<8 | uint32(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			vals = append(vals, byte(acc>>bits)&0x1f)
		}
	}
	if bits > 0 {
		vals = append(vals, byte(acc<<(5-bits))&0x1f)
	}
	var sb strings.Builder
	for g := 0; g*groupData < len(vals); g++ {
		group := vals[g*groupData : min((g+1)*groupData, len(vals))]
		if g > 0 {
			sb.WriteByte('-')
		}
		for _, v := range group {
			sb.WriteByte(crockford[v])
		}
		sb.WriteByte(crockford[groupCheck(g+1, group)])
	}
	return sb.String()
}

// decodeShare parses a custodian's share, telling what is wrong with a
// malformed one and, for a typed share, in which group. Shares issued
// before the typed form (88 base64 characters) are still accepted.
func decodeShare(text string) ([]byte, error) {
	text = strings.Join(strings.Fields(text), "") // tolerate wrapped lines
	if text == "" {
		return nil, &ShareError{Kind: ShareMalformed, Problem: "share is empty"}
	}
	if strings.HasSuffix(text, "=") || strings.ContainsAny(text, "+/") {
		return decodeBase64Share(text)
	}
	return decodeTypedShare(strings.ReplaceAll(text, "-", ""))
}

func decodeBase64Share(text string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, &ShareError{Kind: ShareMalformed, Problem: "share is not valid base64: " + err.Error()}
	}
	if len(b) != shareLen {
		return nil, &ShareError{Kind: ShareMalformed, Problem: fmt.Sprintf("share decodes to %d bytes, want %d", len(b), shareLen)}
	}
	return b, nil
}

func decodeTypedShare(text string) ([]byte, error) {
	vals := make([]byte, 0, shareChars)
	var bad []int // groups whose check fails, 1-based
	for g := 0; g*(groupData+1) < len(text); g++ {
		chunk := text[g*(groupData+1) : min((g+1)*(groupData+1), len(text))]
		group := make([]byte, len(chunk))
		for i := 0; i < len(chunk); i++ {
			v, ok := crockfordValue(chunk[i])
			if !ok {
				return nil, &ShareError{Kind: ShareMalformed, Group: g + 1,
					Problem: fmt.Sprintf("group %d: %q is not a share character (they are 0-9 and A-Z without I, L, O, U)", g+1, chunk[i])}
			}
			group[i] = v
		}
		if len(group) < 2 || groupCheck(g+1, group[:len(group)-1]) != group[len(group)-1] {
			bad = append(bad, g+1)
			continue
		}
		vals = append(vals, group[:len(group)-1]...)
	}
	if len(text) != shareTextLen {
		problem := fmt.Sprintf("share has %d characters (not counting dashes and spaces), want %d", len(text), shareTextLen)
		group := 0
		if len(bad) > 0 {
			group = bad[0]
			problem += fmt.Sprintf("; a character is missing or extra in or before group %d", group)
		}
		return nil, &ShareError{Kind: ShareMalformed, Group: group, Problem: problem}
	}
	if len(bad) > 0 {
		problem := fmt.Sprintf("group %d looks mistyped", bad[0])
		if len(bad) > 1 {
			problem = fmt.Sprintf("groups %s look mistyped", joinInts(bad))
		}
		return nil, &ShareError{Kind: ShareMalformed, Group: bad[0], Problem: problem + "; check it against the share as issued"}
	}
	out := make([]byte, 0, shareLen)
	var acc uint32
	bits := 0
	for _, v := range vals {
		acc = acc<<5 | uint32(v)
		bits += 5
		if bits >= 8 {
			bits -= 8
			out = append(out, byte(acc>>bits))
		}
	}
	if acc&(1<<bits-1) != 0 { // the last character's spare bits are zero
		wipe(out)
		return nil, &ShareError{Kind: ShareMalformed, Group: shareGroups, Problem: fmt.Sprintf("group %d looks mistyped; check it against the share as issued", shareGroups)}
	}
	return out, nil
}

func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}
