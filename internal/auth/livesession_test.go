package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
)

// A session-bound credential (the management tools' cookie) lives while
// its session does: refreshes keep it, logout, revocation, disabling
// and the session's expiry end it, in this process and in a fresh one
// that reads PostgreSQL alone.
func TestLiveSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	u := e.user("akinyi@example.co.ke")
	session := func() (TokenPair, Principal) {
		pair := e.login("akinyi@example.co.ke", "")
		p, err := e.svc.Authenticate(ctx, pair.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		return pair, p
	}
	live := func(svc *Service, s uuid.UUID) error { _, err := svc.LiveSession(ctx, u.ID, s); return err }

	pair, p := session()
	if got, err := e.svc.LiveSession(ctx, u.ID, p.SessionID); err != nil || got.UserID != u.ID || got.IsGOD {
		t.Fatalf("fresh session: %+v %v", got, err)
	}
	if _, err := e.svc.Refresh(ctx, pair.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if err := live(e.svc, p.SessionID); err != nil {
		t.Errorf("after a refresh: %v", err)
	}
	if err := live(e.svc, uuid.New()); !errors.Is(err, ErrSessionEnded) {
		t.Errorf("unknown session: %v", err)
	}
	if _, err := e.svc.LiveSession(ctx, uuid.New(), p.SessionID); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("someone else's session: %v", err)
	}
	if err := e.svc.Logout(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := live(e.svc, p.SessionID); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("after logout: %v", err)
	}
	// Long after the logout (no access token of it can be alive, so no
	// process keeps the revocation in memory), PostgreSQL still says so.
	e.clock.Advance(AccessTokenTTL + time.Minute)
	if err := live(e.restart(), p.SessionID); !errors.Is(err, ErrSessionEnded) {
		t.Errorf("long after logout, another process: %v", err)
	}

	_, p2 := session()
	if err := e.svc.RevokeAllSessions(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := live(e.svc, p2.SessionID); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("after revocation: %v", err)
	}

	_, p3 := session()
	e.clock.Advance(31 * 24 * time.Hour) // past any refresh token's life
	if err := live(e.svc, p3.SessionID); !errors.Is(err, ErrSessionEnded) {
		t.Errorf("expired session: %v", err)
	}
}
