package documents

import (
	"encoding/hex"
	"strings"
	"unicode"

	"github.com/vanta-ledger/vanta/internal/seal"
)

// Search never keeps or sends a word of a document in the clear: the OCR
// text's words are folded (lower case, letters and digits only) and
// stored as keyed hashes (DataKey.MAC), and a query is hashed the same
// way. The same word hashes differently in another company.
const purposeTerm = "document-term"

// maxTerms bounds the distinct words indexed per document.
const maxTerms = 5000

// searchWords splits text into distinct folded words of at least two
// characters, in first-seen order.
func searchWords(text string) []string {
	seen := map[string]bool{}
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		if len([]rune(w)) < 2 || seen[w] {
			continue
		}
		seen[w] = true
		out = append(out, w)
		if len(out) == maxTerms {
			break
		}
	}
	return out
}

func termHashes(key *seal.DataKey, words []string) ([]string, error) {
	out := make([]string, 0, len(words))
	for _, w := range words {
		m, err := key.MAC(purposeTerm, []byte(w))
		if err != nil {
			return nil, err
		}
		out = append(out, hex.EncodeToString(m[:16])) // 128 bits: collisions are no concern
	}
	return out, nil
}
