package auth

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPasswordPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, pw, email, user string
		rule                  string // "" = accepted
	}{
		{"passphrase", "Mvua ya Machi inanyesha 7", "wanjiku@example.co.ke", "Wanjiku Kamau", ""},
		{"random", "vK9#qL2!xR7@", "a@b.example", "Al", ""},
		{"unicode counts characters", "ñandú€ñandú€ñ", "x@y.example", "", ""},
		{"too short", "Tr0ub4dor&3", "x@y.example", "", RuleMinLength},
		{"twelve bytes but eleven characters", "ñandúñandú1", "x@y.example", "", RuleMinLength},
		{"too long", strings.Repeat("kiboko-mto ", 24), "x@y.example", "", RuleMaxLength},
		{"invalid utf-8", "abcdefghijk\xff", "x@y.example", "", RuleEncoding},
		{"listed", "qwertyuiopasdfgh", "x@y.example", "", RuleCommon},
		{"listed, any case", "QwErTyUiOp[]", "x@y.example", "", RuleCommon},
		{"word plus digits", "Password2024!", "x@y.example", "", RuleCommon},
		{"leet", "P@55w0rd12345", "x@y.example", "", RuleCommon},
		{"digits before", "2026!nairobi", "x@y.example", "", RuleCommon},
		{"kenyan", "Nairobi2024!!", "x@y.example", "", RuleCommon},
		{"kenyan phrase", "hakunamatata2025", "x@y.example", "", RuleCommon},
		{"admin variant", "Administrator1", "x@y.example", "", RuleCommon},
		{"welcome variant", "Welcome@12345", "x@y.example", "", RuleCommon},
		{"keyboard walk", "1qaz2wsx3edc", "x@y.example", "", RuleCommon},
		{"digit run", "123456789012", "x@y.example", "", RuleCommon},
		{"repeated character", "jjjjjjjjjjjjjj", "x@y.example", "", RuleRepetitive},
		{"repeated unit", "kiwikiwikiwi", "x@y.example", "", RuleRepetitive},
		{"repeated digits", "858585858585", "x@y.example", "", RuleRepetitive},
		{"email local part", "otieno.kevin-secure-9", "Otieno.Kevin@example.com", "", RuleContainsEmail},
		{"name part", "mypetisWAFULA!42", "w@example.com", "Jane Wafula", RuleContainsName},
		{"leet name", "mypetisw4fu1a!42", "w@example.com", "Jane Wafula", RuleContainsName},
		{"short name parts ignored", "Jo-Ng-mbuzi-mweupe", "jo@example.com", "Jo Ng", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckPasswordPolicy(tc.pw, tc.email, tc.user)
			var pe *PolicyError
			switch {
			case tc.rule == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.rule != "" && !errors.As(err, &pe):
				t.Fatalf("got %v, want rule %s", err, tc.rule)
			case tc.rule != "" && pe.Rule != tc.rule:
				t.Fatalf("rule %s (%v), want %s", pe.Rule, err, tc.rule)
			}
		})
	}
}

func TestCommonListIsSubstantial(t *testing.T) {
	t.Parallel()
	n := 0
	for _, line := range strings.Split(commonPasswordsFile, "\n") {
		if s := strings.TrimSpace(line); s != "" && !strings.HasPrefix(s, "#") {
			n++
		}
	}
	if n < 300 {
		t.Errorf("common-password list has %d entries", n)
	}
}

func FuzzCheckPasswordPolicy(f *testing.F) {
	for _, s := range []string{"", "password", "Mvua ya Machi inanyesha 7", "\xff\xfe", "P@55w0rd12345", "ñandú€ñandú€ñ", strings.Repeat("a", 300)} {
		f.Add(s, "user@example.com", "Jane Wafula")
	}
	f.Fuzz(func(t *testing.T, pw, email, name string) {
		err := CheckPasswordPolicy(pw, email, name)
		if err == nil {
			n := utf8.RuneCountInString(pw)
			if !utf8.ValidString(pw) || n < MinPasswordLen || n > MaxPasswordLen {
				t.Fatalf("accepted %q", pw)
			}
			return
		}
		var pe *PolicyError
		if !errors.As(err, &pe) || pe.Rule == "" {
			t.Fatalf("untyped refusal %v", err)
		}
	})
}
