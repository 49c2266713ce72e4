package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ErrSessionEnded is a session that can no longer be used: logged out,
// revoked (a password change, all sessions ended, a reused refresh token,
// the appliance unsealed again), expired, or of a user disabled since.
var ErrSessionEnded = fmt.Errorf("%w: session ended", ErrInvalidToken)

// LiveSession checks that session (a refresh-token family) of user is
// still open, for a credential bound to a session rather than to one
// access token (the management tools' cookie, which outlives the access
// token it was made with). Open means: this process follows PostgreSQL's
// revocations, the session was not revoked lately, and in PostgreSQL
// the family still has a token that is neither revoked nor expired, none
// of its tokens was revoked, and the user is active. It reads PostgreSQL
// each time: a session revoked long ago is known there only. The
// principal it returns carries the user's GOD flag as it is now.
func (s *Service) LiveSession(ctx context.Context, user, session uuid.UUID) (Principal, error) {
	if _, err := s.revs.check("", session); err != nil {
		return Principal{}, err
	}
	var st Status
	var god, alive bool
	err := s.db.QueryRow(ctx, `SELECT u.status, u.is_god,
			EXISTS (SELECT 1 FROM auth.refresh_tokens f WHERE f.family = $2 AND f.user_id = $1
				AND f.revoked_at IS NULL AND f.expires_at > $3)
			AND NOT EXISTS (SELECT 1 FROM auth.refresh_tokens f WHERE f.family = $2 AND f.revoked_at IS NOT NULL)
		FROM auth.users u WHERE u.id = $1`, user, session, s.now().UTC()).Scan(&st, &god, &alive)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return Principal{}, fmt.Errorf("%w: unknown user", ErrInvalidToken)
	case err != nil:
		return Principal{}, fmt.Errorf("%w: %w", ErrRevocationUnavailable, err)
	case !alive:
		return Principal{}, ErrSessionEnded
	case st != StatusActive:
		return Principal{}, ErrUserInactive
	}
	return Principal{UserID: user, IsGOD: god, SessionID: session}, nil
}
