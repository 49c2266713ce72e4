package backup

import (
	"fmt"
	"strings"
)

// The kinds of backup set, pgBackRest's: a full copies everything, a diff
// what changed since the last full, an incr since the last backup of any
// kind.
const (
	KindFull Kind = "full"
	KindDiff Kind = "diff"
	KindIncr Kind = "incr"
)

// ParseKind checks a kind's name.
func ParseKind(s string) (Kind, error) {
	k := Kind(strings.ToLower(strings.TrimSpace(s)))
	if !k.valid() {
		return "", fmt.Errorf("backup kind %q: must be full, diff or incr", s)
	}
	return k, nil
}
