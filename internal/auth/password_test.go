package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestPasswordHashRoundTrip(t *testing.T) {
	t.Parallel()
	h, err := HashPassword("Nyota za Usiku 2026", DefaultArgon2)
	if err != nil {
		t.Fatal(err)
	}
	// The parameters travel with the hash, so they can change later.
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash does not carry OWASP parameters: %s", h)
	}
	if ok, err := VerifyPassword("Nyota za Usiku 2026", h); err != nil || !ok {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, err := VerifyPassword("Nyota za Usiku 2027", h); err != nil || ok {
		t.Fatalf("wrong password: %v %v", ok, err)
	}
	again, _ := HashPassword("Nyota za Usiku 2026", DefaultArgon2)
	if again == h {
		t.Error("two hashes of one password are equal: salt not random")
	}
	if NeedsRehash(h, DefaultArgon2) {
		t.Error("a current hash needs rehashing")
	}
	if !NeedsRehash(h, Argon2Params{MemoryKiB: 64 * 1024, Time: 3, Threads: 1}) {
		t.Error("a hash with old parameters does not need rehashing")
	}
	// A hash made with other parameters verifies with those parameters.
	cheap, _ := HashPassword("pw", fastArgon)
	if !strings.Contains(cheap, "$m=64,t=1,p=1$") {
		t.Fatalf("cheap hash: %s", cheap)
	}
	if ok, _ := VerifyPassword("pw", cheap); !ok {
		t.Error("cheap hash does not verify")
	}
}

func TestMalformedHashesNeverMatch(t *testing.T) {
	t.Parallel()
	good, _ := HashPassword("pw", fastArgon)
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	for _, h := range []string{
		"",
		"plaintext",
		"$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=99999999,t=1,p=1$" + salt + "$" + key, // a terabyte: refused, not attempted
		"$argon2id$v=19$m=64,t=1000,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$!!",
		good + "$extra",
	} {
		ok, err := VerifyPassword("pw", h)
		if ok || !errors.Is(err, ErrMalformedHash) {
			t.Errorf("%q: ok=%v err=%v", h, ok, err)
		}
	}
}
