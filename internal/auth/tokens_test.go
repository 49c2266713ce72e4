package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// claimsAt are well-formed claims for user, issued at now.
func claimsAt(user uuid.UUID, now time.Time) accessClaims {
	return accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: Issuer, Subject: user.String(), Audience: jwt.ClaimStrings{Audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(AccessTokenTTL)), IssuedAt: jwt.NewNumericDate(now), ID: "test-jti",
		},
		SID: uuid.NewString(),
	}
}

func sign(t *testing.T, method jwt.SigningMethod, kid string, c accessClaims, key any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAccessTokenRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.user("refuse@example.co.ke")
	k := e.svc.signer
	now := e.clock.Now()
	pub := k.pubs[k.kid]
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)

	tests := []struct {
		name    string
		token   func() string
		wantErr error // beyond ErrInvalidToken
	}{
		{"alg none", func() string {
			return sign(t, jwt.SigningMethodNone, k.kid, claimsAt(u.ID, now), jwt.UnsafeAllowNoneSignatureType)
		}, jwt.ErrTokenSignatureInvalid},
		{"HS256 keyed with the public key", func() string {
			return sign(t, jwt.SigningMethodHS256, k.kid, claimsAt(u.ID, now), []byte(pub))
		}, jwt.ErrTokenSignatureInvalid},
		{"signed by another key", func() string {
			return sign(t, jwt.SigningMethodEdDSA, k.kid, claimsAt(u.ID, now), otherKey)
		}, jwt.ErrTokenSignatureInvalid},
		{"unknown key id", func() string {
			return sign(t, jwt.SigningMethodEdDSA, "ed25519-nope", claimsAt(u.ID, now), k.priv)
		}, jwt.ErrTokenUnverifiable},
		{"wrong audience", func() string {
			c := claimsAt(u.ID, now)
			c.Audience = jwt.ClaimStrings{"another-api"}
			return sign(t, jwt.SigningMethodEdDSA, k.kid, c, k.priv)
		}, jwt.ErrTokenInvalidAudience},
		{"no audience", func() string {
			c := claimsAt(u.ID, now)
			c.Audience = nil
			return sign(t, jwt.SigningMethodEdDSA, k.kid, c, k.priv)
		}, jwt.ErrTokenRequiredClaimMissing},
		{"wrong issuer", func() string {
			c := claimsAt(u.ID, now)
			c.Issuer = "mallory"
			return sign(t, jwt.SigningMethodEdDSA, k.kid, c, k.priv)
		}, jwt.ErrTokenInvalidIssuer},
		{"missing exp", func() string {
			c := claimsAt(u.ID, now)
			c.ExpiresAt = nil
			return sign(t, jwt.SigningMethodEdDSA, k.kid, c, k.priv)
		}, jwt.ErrTokenRequiredClaimMissing},
		{"expired", func() string {
			c := claimsAt(u.ID, now.Add(-AccessTokenTTL-time.Second))
			return sign(t, jwt.SigningMethodEdDSA, k.kid, c, k.priv)
		}, jwt.ErrTokenExpired},
		{"issued in the future", func() string {
			c := claimsAt(u.ID, now.Add(time.Hour))
			return sign(t, jwt.SigningMethodEdDSA, k.kid, c, k.priv)
		}, jwt.ErrTokenUsedBeforeIssued},
		{"subject not a user id", func() string {
			c := claimsAt(u.ID, now)
			c.Subject = "admin"
			return sign(t, jwt.SigningMethodEdDSA, k.kid, c, k.priv)
		}, nil},
		{"no jti", func() string {
			c := claimsAt(u.ID, now)
			c.ID = ""
			return sign(t, jwt.SigningMethodEdDSA, k.kid, c, k.priv)
		}, nil},
		{"tampered payload", func() string {
			good := sign(t, jwt.SigningMethodEdDSA, k.kid, claimsAt(u.ID, now), k.priv)
			c := claimsAt(u.ID, now)
			c.God = true
			forged := sign(t, jwt.SigningMethodEdDSA, k.kid, c, otherKey)
			g, f := strings.Split(good, "."), strings.Split(forged, ".")
			return g[0] + "." + f[1] + "." + g[2]
		}, jwt.ErrTokenSignatureInvalid},
		{"garbage", func() string { return "not.a.token" }, jwt.ErrTokenMalformed},
		{"empty", func() string { return "" }, jwt.ErrTokenMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.Authenticate(context.Background(), tc.token())
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("accepted or wrong error: %v", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
		})
	}

	// The control: the same construction, done right, is accepted.
	t.Run("well-formed but not issued by a login", func(t *testing.T) {
		c := claimsAt(u.ID, now)
		_, err := e.svc.Authenticate(context.Background(), sign(t, jwt.SigningMethodEdDSA, k.kid, c, k.priv))
		// Well signed, but its tv does not match the user's.
		if !errors.Is(err, ErrTokenStale) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestSigningKeyPersistsWrapped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.user("persist@example.co.ke")
	pair := e.login("persist@example.co.ke", "")
	var n int
	var id string
	var wrapped []byte
	if err := e.pool.QueryRow(ctx, "SELECT count(*) OVER (), id, wrapped FROM auth.signing_keys").Scan(&n, &id, &wrapped); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d signing keys", n)
	}
	if _, err := e.sealer.Open("another-purpose", []byte(id), wrapped); err == nil {
		t.Error("wrapped key opens under another purpose")
	}
	if seed, err := e.sealer.Open(signingPurpose, []byte(id), wrapped); err != nil || len(seed) != ed25519.SeedSize {
		t.Fatalf("unwrap: %v", err)
	}
	// A second service on the same database (another replica, or the next
	// boot) loads the same key and accepts the first one's tokens.
	again, err := New(ctx, Options{DB: e.pool, Redis: redisClient, RedisPrefix: e.prefix, Sealer: e.sealer, Now: e.clock.Now, Argon2: fastArgon})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := again.Authenticate(ctx, pair.AccessToken); err != nil {
		t.Fatalf("second service refuses the first's token: %v", err)
	}
	if err := e.pool.QueryRow(ctx, "SELECT count(*) FROM auth.signing_keys").Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d signing keys after reload (%v)", n, err)
	}
	// Without the right sealer (another keyring) the key does not load.
	if _, err := New(ctx, Options{DB: e.pool, Redis: redisClient, Sealer: newTestSealer(t), Argon2: fastArgon}); err == nil {
		t.Error("signing key loaded with a foreign sealer")
	}
}

func FuzzParseAccessToken(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	k := &signer{kid: "k1", priv: priv, pubs: map[string]ed25519.PublicKey{"k1": pub}, now: func() time.Time { return now }}
	valid, _ := k.issue(claimsAt(uuid.New(), now))
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claimsAt(uuid.New(), now)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	for _, s := range []string{valid, none, "", ".", "..", "a.b.c", "eyJhbGciOiJFZERTQSJ9..", valid[:len(valid)/2], valid + "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := k.parse(token)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error does not wrap ErrInvalidToken: %v", err)
			}
			return
		}
		if c.Issuer != Issuer || c.ExpiresAt == nil || c.ID == "" {
			t.Fatalf("accepted incomplete claims %+v", c)
		}
	})
}
