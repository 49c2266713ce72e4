package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// entryHash covers everything a posted entry says (its content, lines and
// actors) and the hash of the entry posted before it, each field
// length-prefixed: changing, inserting, deleting or reordering posted
// entries breaks the chain at the first one touched. The reversal link is
// left out: it is set on a posted entry later, and the reversing entry,
// which names what it reverses, is itself in the chain.
func entryHash(e Entry, prev []byte) []byte {
	h := sha256.New()
	field := func(s string) { writeField(h, s) }
	id := func(u uuid.UUID) {
		if u == uuid.Nil {
			field("")
			return
		}
		field(u.String())
	}
	at := func(t *time.Time) {
		if t == nil {
			field("")
			return
		}
		field(t.UTC().Format(time.RFC3339Nano))
	}
	field("vanta ledger entry v1")
	id(e.ID)
	field(strconv.FormatInt(e.Number, 10))
	for _, s := range []string{e.Date, e.Description, e.Reference, string(e.Source)} {
		field(s)
	}
	id(e.SourceID)
	field(e.IdempotencyKey)
	id(e.ReversesID)
	field(e.CreatedBy)
	at(&e.CreatedAt)
	field(e.ApprovedBy)
	at(e.ApprovedAt)
	field(e.PostedBy)
	at(e.PostedAt)
	field(strconv.Itoa(len(e.Lines)))
	for _, l := range e.Lines {
		field(strconv.Itoa(l.LineNo))
		id(l.AccountID)
		field(strconv.FormatInt(l.Amount, 10))
		field(l.Currency)
		field(l.Rate)
		field(strconv.FormatInt(l.Base, 10))
		id(l.ContactID)
		field(l.TaxCode)
		field(l.Memo)
	}
	field(hex.EncodeToString(prev))
	return h.Sum(nil)
}

func writeField(h hash.Hash, s string) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}
