package auth

import (
	_ "embed"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Password length bounds, in characters. The upper bound keeps the cost of
// hashing an attacker's input fixed; it is far above any passphrase.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// Policy rule names carried by PolicyError.
const (
	RuleEncoding      = "encoding"
	RuleMinLength     = "min_length"
	RuleMaxLength     = "max_length"
	RuleCommon        = "common"
	RuleRepetitive    = "repetitive"
	RuleContainsEmail = "contains_email"
	RuleContainsName  = "contains_name"
)

// PolicyError names the password rule that was broken, for the caller to
// show to the person choosing the password (field "password").
type PolicyError struct {
	Rule    string
	Message string
}

func (e *PolicyError) Error() string { return "password " + e.Message }

//go:embed common_passwords.txt
var commonPasswordsFile string

// commonPasswords holds each listed password lower-cased and also in its
// stripped, de-leeted form, so a lookup of a candidate's canonical form
// finds "Nairobi2024!" through "nairobi".
var commonPasswords = func() map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(commonPasswordsFile, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, c := range candidates(line) {
			m[c] = true
		}
	}
	return m
}()

// candidates are the forms of pw compared with the list: lower-cased, with
// digits and punctuation stripped from both ends, and with common
// character substitutions undone (p@ssw0rd → password).
func candidates(pw string) []string {
	lower := strings.ToLower(pw)
	out := []string{lower}
	stripped := strings.TrimFunc(lower, func(r rune) bool {
		return unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsSpace(r)
	})
	if stripped != "" && stripped != lower {
		out = append(out, stripped)
	}
	if stripped != "" {
		for _, one := range []rune{'i', 'l'} {
			if d := deleet(stripped, one); d != stripped {
				out = append(out, d)
			}
		}
	}
	return out
}

// deleet undoes the usual substitutions; '1' stands for one (i or l).
func deleet(s string, one rune) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '@', '4':
			return 'a'
		case '0':
			return 'o'
		case '1', '!', '|':
			return one
		case '3':
			return 'e'
		case '$', '5':
			return 's'
		case '7', '+':
			return 't'
		case '8':
			return 'b'
		case '9':
			return 'g'
		}
		return r
	}, s)
}

// repetitive reports whether s is one short unit repeated ("aaaa…",
// "abcabc…", "12121212…").
func repetitive(s string) bool {
	r := []rune(s)
	for unit := 1; unit <= 4 && unit*2 <= len(r); unit++ {
		if len(r)%unit != 0 {
			continue
		}
		same := true
		for i := unit; i < len(r) && same; i++ {
			same = r[i] == r[i-unit]
		}
		if same {
			return true
		}
	}
	return false
}

// CheckPasswordPolicy returns a *PolicyError when pw may not be used by the
// person with this email and name: too short or too long, on the common
// list (after lower-casing, trimming digits and punctuation at the ends and
// undoing character substitutions), one unit repeated, or containing the
// email's local part or a part of the name.
func CheckPasswordPolicy(pw, email, name string) error {
	if !utf8.ValidString(pw) {
		return &PolicyError{RuleEncoding, "is not valid UTF-8 text"}
	}
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLen {
		return &PolicyError{RuleMinLength, fmt.Sprintf("must be at least %d characters", MinPasswordLen)}
	}
	if n > MaxPasswordLen {
		return &PolicyError{RuleMaxLength, fmt.Sprintf("must be at most %d characters", MaxPasswordLen)}
	}
	cands := candidates(pw)
	for _, c := range cands {
		if commonPasswords[c] {
			return &PolicyError{RuleCommon, "is too common: it is on the list of passwords attackers try first"}
		}
	}
	for _, c := range cands {
		// A short remnant ("aa" of "aa7391048265") says little.
		if utf8.RuneCountInString(c) >= 6 && repetitive(c) {
			return &PolicyError{RuleRepetitive, "is one short pattern repeated"}
		}
	}
	local, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(email)), "@")
	if utf8.RuneCountInString(local) >= 3 && containsAny(cands, local) {
		return &PolicyError{RuleContainsEmail, "must not contain your email address"}
	}
	for _, part := range strings.FieldsFunc(strings.ToLower(name), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		if utf8.RuneCountInString(part) >= 3 && containsAny(cands, part) {
			return &PolicyError{RuleContainsName, "must not contain your name"}
		}
	}
	return nil
}

func containsAny(haystacks []string, needle string) bool {
	for _, h := range haystacks {
		if strings.Contains(h, needle) {
			return true
		}
	}
	return false
}
