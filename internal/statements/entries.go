package statements

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"strconv"

	"github.com/vanta-ledger/vanta/internal/ledger"
	"github.com/vanta-ledger/vanta/internal/money"
)

// Template account codes, used by Entries when the options carry no code
// and nobody called Resolve: the Kenyan SME chart a new company is
// seeded with. Resolve looks the codes up by role instead, so a company
// that renumbered its chart is still right.
var templateCodes = map[string]string{
	"bank":     "1100",
	"mpesa":    "1110",
	"suspense": "1900",
}

// Entries makes one draft entry per row: the statement account takes the
// row's amount (money in is a debit to the bank or M-Pesa account, money
// out a credit) and suspense the other side, for an accountant to
// re-point and approve. Amounts are in currency ("" = the company's) at
// scale; rows read at another scale are converted (an exact shift when
// the currency has more digits; rounded half to even when it has fewer,
// which Resolve avoids by setting Options.Scale before Read).
//
// Idempotency keys make a re-import post nothing twice:
//   - a transaction id that occurs once in the file:
//     statement:<account>:<id>
//   - an id shared by several rows (M-Pesa writes a transaction's charge
//     as a row with the transaction's receipt number):
//     statement:<account>:<id>:<amount>, with :<n> added for the n-th
//     (n ≥ 2) row of the same id and amount;
//   - a row without an id: statement:<account>:<date>:<amount>:<h>:<n>,
//     h the first 12 hex digits of SHA-256 of the description and n the
//     row's occurrence (1, 2, …) among rows of the file with the same
//     date, amount and description. Two identical bank charges on one day
//     stay two entries, and a later statement that repeats the day
//     repeats their keys.
//
// Amounts in keys are minor units at scale. A key longer than the
// ledger's 200 characters becomes statement:sha256:<hex of the key>.
func Entries(rows []Row, o Options, currency string, scale int) []ledger.EntryInput {
	account := o.Account
	if account == "" {
		account = templateCodes[o.Role()]
	}
	suspense := o.Suspense
	if suspense == "" {
		suspense = templateCodes["suspense"]
	}
	amounts := make([]int64, 0, len(rows))
	kept := make([]Row, 0, len(rows))
	for _, r := range rows {
		a, err := rescale(r.Amount, r.Scale, scale)
		if err != nil || a == 0 {
			// Out of range or rounded to nothing at the currency's
			// scale: there is no entry to make for it.
			continue
		}
		amounts = append(amounts, a)
		kept = append(kept, r)
	}
	keys := idempotencyKeys(kept, amounts, account)
	out := make([]ledger.EntryInput, 0, len(kept))
	for i, r := range kept {
		desc := r.Description
		if desc == "" {
			desc = "Statement transaction"
			if r.TransactionID != "" {
				desc += " " + r.TransactionID
			}
		}
		out = append(out, ledger.EntryInput{
			Date:           r.Date,
			Description:    desc,
			Reference:      r.TransactionID,
			IdempotencyKey: keys[i],
			Source:         ledger.SourceStatement,
			Status:         ledger.StatusDraft,
			Lines: []ledger.LineInput{
				// Nothing here depends on where the row sits in the file:
				// the same row in an overlapping statement must make the
				// same request, or the ledger would call the key reused.
				{Account: account, Amount: amounts[i], Currency: currency},
				{Account: suspense, Amount: -amounts[i], Currency: currency, Memo: "to classify"},
			},
		})
	}
	return out
}

func idempotencyKeys(rows []Row, amounts []int64, account string) []string {
	idCount := map[string]int{}
	for _, r := range rows {
		if r.TransactionID != "" {
			idCount[r.TransactionID]++
		}
	}
	type idAmount struct {
		id     string
		amount int64
	}
	type noID struct {
		date, desc string
		amount     int64
	}
	seenIDAmount := map[idAmount]int{}
	seenNoID := map[noID]int{}
	keys := make([]string, len(rows))
	prefix := "statement:" + account + ":"
	for i, r := range rows {
		a := strconv.FormatInt(amounts[i], 10)
		switch {
		case r.TransactionID != "" && idCount[r.TransactionID] == 1:
			keys[i] = prefix + r.TransactionID
		case r.TransactionID != "":
			k := idAmount{r.TransactionID, amounts[i]}
			seenIDAmount[k]++
			keys[i] = prefix + r.TransactionID + ":" + a
			if n := seenIDAmount[k]; n > 1 {
				keys[i] += ":" + strconv.Itoa(n)
			}
		default:
			k := noID{r.Date, r.Description, amounts[i]}
			seenNoID[k]++
			h := sha256.Sum256([]byte(r.Description))
			keys[i] = fmt.Sprintf("%s%s:%s:%s:%d", prefix, r.Date, a, hex.EncodeToString(h[:6]), seenNoID[k])
		}
	}
	for i, k := range keys {
		if len(k) > maxKeyLen {
			h := sha256.Sum256([]byte(k))
			keys[i] = "statement:sha256:" + hex.EncodeToString(h[:])
		}
	}
	return keys
}

// maxKeyLen is the ledger's bound on an idempotency key; a longer key
// (a long account code and id) is replaced by its SHA-256, which is as
// stable.
const maxKeyLen = 200

// rescale moves minor units from one scale to another.
func rescale(v int64, from, to int) (int64, error) {
	if from == to {
		return v, nil
	}
	return money.Convert(v, from, big.NewRat(1, 1), to)
}
