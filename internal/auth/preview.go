package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// PreviewInvitation returns the pending invitation a token stands for,
// for the page that accepts it to say what is offered. It changes
// nothing. A token that is malformed, unknown, used, revoked or expired is
// ErrInvitationInvalid, whichever it is, so the answer tells a guesser
// nothing.
func (s *Service) PreviewInvitation(ctx context.Context, token string) (Invitation, error) {
	if !strings.HasPrefix(token, invitationPrefix) || len(token) > 200 {
		return Invitation{}, ErrInvitationInvalid
	}
	inv, err := scanInvitation(s.db.QueryRow(ctx, "SELECT "+invitationColumns+
		" FROM auth.invitations WHERE token_hash = $2 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $1",
		s.now().UTC(), hashToken(token)))
	if errors.Is(err, pgx.ErrNoRows) {
		return Invitation{}, ErrInvitationInvalid
	}
	if err != nil {
		return Invitation{}, fmt.Errorf("auth: preview invitation: %w", err)
	}
	return inv, nil
}
