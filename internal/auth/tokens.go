package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Access-token constants. The method is pinned: a token naming any other
// algorithm ("none", HS256 keyed with our public key, …) is refused before
// its signature is looked at.
const (
	Issuer         = "vanta"
	Audience       = "vanta-api"
	AccessTokenTTL = 15 * time.Minute
	signingPurpose = "auth.jwt-signing-key"
)

var validMethods = []string{jwt.SigningMethodEdDSA.Alg()}

// ErrInvalidToken is every reason an access token is refused: malformed,
// badly signed, expired, for another audience, revoked, stale or of a
// disabled user. The more specific errors below wrap it.
var (
	ErrInvalidToken = errors.New("auth: invalid access token")
	ErrTokenRevoked = fmt.Errorf("%w: revoked", ErrInvalidToken)
	ErrTokenStale   = fmt.Errorf("%w: issued before the user's tokens were invalidated", ErrInvalidToken)
	ErrUserInactive = fmt.Errorf("%w: user is disabled", ErrInvalidToken)
)

// accessClaims is the access token's payload. TV is the user's
// tokens_valid_after (unix seconds) at issue; SID is the refresh-token
// family (the session) the token belongs to, so logout can end both.
type accessClaims struct {
	jwt.RegisteredClaims
	God bool   `json:"god"`
	TV  int64  `json:"tv"`
	SID string `json:"sid"`
}

// signer holds the Ed25519 keys: the newest signs, all verify (by kid).
type signer struct {
	kid  string
	priv ed25519.PrivateKey
	pubs map[string]ed25519.PublicKey
	now  func() time.Time
}

func (k *signer) issue(c accessClaims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	t.Header["kid"] = k.kid
	s, err := t.SignedString(k.priv)
	if err != nil {
		return "", fmt.Errorf("auth: sign access token: %w", err)
	}
	return s, nil
}

func (k *signer) parse(token string) (*accessClaims, error) {
	var c accessClaims
	_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		pub, ok := k.pubs[kid]
		if !ok {
			return nil, fmt.Errorf("unknown signing key %q", kid)
		}
		return pub, nil
	},
		jwt.WithValidMethods(validMethods),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(Audience),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(k.now),
		jwt.WithStrictDecoding(),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if _, err := uuid.Parse(c.Subject); err != nil {
		return nil, fmt.Errorf("%w: subject is not a user id", ErrInvalidToken)
	}
	if _, err := uuid.Parse(c.SID); err != nil {
		return nil, fmt.Errorf("%w: no session id", ErrInvalidToken)
	}
	if c.ID == "" || len(c.ID) > 64 {
		return nil, fmt.Errorf("%w: no token id", ErrInvalidToken)
	}
	return &c, nil
}

// loadSigner reads the signing keys, creating the first one if there is
// none. Creation is serialised with an advisory lock so that API replicas
// starting together agree on one key.
func loadSigner(ctx context.Context, db DB, sealer Sealer, now func() time.Time) (*signer, error) {
	k := &signer{pubs: map[string]ed25519.PublicKey{}, now: now}
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('vanta.auth.signing_keys', 0))"); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, "SELECT id, wrapped FROM auth.signing_keys ORDER BY created_at, id")
		if err != nil {
			return err
		}
		type stored struct {
			id      string
			wrapped []byte
		}
		var keys []stored
		for rows.Next() {
			var s stored
			if err := rows.Scan(&s.id, &s.wrapped); err != nil {
				return err
			}
			keys = append(keys, s)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(keys) == 0 {
			id, wrapped, err := newSigningKey(sealer)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "INSERT INTO auth.signing_keys (id, wrapped, created_at) VALUES ($1, $2, $3)", id, wrapped, now()); err != nil {
				return err
			}
			keys = append(keys, stored{id, wrapped})
		}
		for _, s := range keys {
			seed, err := sealer.Open(signingPurpose, []byte(s.id), s.wrapped)
			if err != nil {
				return fmt.Errorf("unwrap signing key %s: %w", s.id, err)
			}
			if len(seed) != ed25519.SeedSize {
				wipe(seed)
				return fmt.Errorf("signing key %s: wrong size", s.id)
			}
			priv := ed25519.NewKeyFromSeed(seed)
			wipe(seed)
			k.pubs[s.id] = priv.Public().(ed25519.PublicKey)
			k.kid, k.priv = s.id, priv // the newest wins
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("auth: load signing key: %w", err)
	}
	return k, nil
}

func newSigningKey(sealer Sealer) (id string, wrapped []byte, err error) {
	seed := make([]byte, ed25519.SeedSize)
	defer wipe(seed)
	if _, err := rand.Read(seed); err != nil {
		return "", nil, err
	}
	kidBytes := make([]byte, 8)
	if _, err := rand.Read(kidBytes); err != nil {
		return "", nil, err
	}
	id = "ed25519-" + hex.EncodeToString(kidBytes)
	wrapped, err = sealer.Seal(signingPurpose, []byte(id), seed)
	if err != nil {
		return "", nil, fmt.Errorf("wrap signing key: %w", err)
	}
	return id, wrapped, nil
}

// Refresh tokens are 32 random bytes, base64url; only their SHA-256 is
// stored, so a copy of the table opens no session.
const refreshTokenBytes = 32

func newRefreshToken() (token string, hash []byte, err error) {
	b := make([]byte, refreshTokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("auth: refresh token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashToken(token), nil
}

// hashToken is how opaque tokens (refresh, invitation) are stored: a
// SHA-256 of 256 random bits needs no salt or stretching.
func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func randomID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: token id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
