package seal

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
)

// macInfo prefixes the HKDF info of every MAC subkey, so that no subkey
// derived for a MAC can equal a key used elsewhere.
const macInfo = "vanta/v1/mac/"

// MAC is a keyed hash of data for purpose: HMAC-SHA-256 under a subkey
// derived from the data key by HKDF, one subkey per purpose. It lets a
// store find equal values (a duplicate document, a search term) without
// keeping them: without the company's key the MAC says nothing about the
// value, and the same value gives different MACs in two companies or for
// two purposes. The data key itself never keys an HMAC directly, so its
// use for AES-GCM and for hashing stay independent.
func (d *DataKey) MAC(purpose string, data []byte) ([]byte, error) {
	if d.aead == nil || d.key == nil || len(d.key.bytes()) == 0 {
		return nil, ErrSealed
	}
	sub, err := hkdf.Key(sha256.New, d.key.bytes(), []byte(d.owner), macInfo+purpose, 32)
	if err != nil {
		return nil, err
	}
	defer wipe(sub)
	h := hmac.New(sha256.New, sub)
	h.Write(data)
	return h.Sum(nil), nil
}
