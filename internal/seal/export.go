package seal

import "errors"

// WrapDataKey hands the raw bytes of a data key to wrap (a company
// export's age encryption to the operator) and returns what wrap made.
// The raw bytes are a copy, wiped once wrap returns: nothing else ever
// sees a data key unwrapped.
func (d *DataKey) WrapDataKey(wrap func(raw []byte) ([]byte, error)) ([]byte, error) {
	if d.aead == nil || d.key == nil {
		return nil, ErrSealed
	}
	raw := append([]byte(nil), d.key.bytes()...)
	defer wipe(raw)
	return wrap(raw)
}

// ImportDataKey makes a data key of owner from its raw bytes (a company
// export's key, unwrapped by the operator's age identity), in locked
// memory; raw is wiped. It is used to open the export and is never
// stored: an imported company gets a new key of its own.
func ImportDataKey(owner string, raw []byte) (*DataKey, error) {
	defer wipe(raw)
	if len(raw) != 32 {
		return nil, errors.New("seal: a data key is 32 bytes")
	}
	lk := lockedCopy(raw)
	aead, err := newGCM(lk.bytes())
	if err != nil {
		lk.destroy()
		return nil, err
	}
	return &DataKey{owner: owner, key: lk, aead: aead}, nil
}

// Owner is whom the data key belongs to (a company id).
func (d *DataKey) Owner() string { return d.owner }
