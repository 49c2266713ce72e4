package auth

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestPreviewInvitation: a pending invitation's token shows its company,
// email and role and spends nothing; every other token is the same
// ErrInvitationInvalid.
func TestPreviewInvitation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	company := uuid.New()
	inv, token := e.invite(company, "wanjiru@example.co.ke", RoleManager)
	for range 2 {
		got, err := e.svc.PreviewInvitation(ctx, token)
		if err != nil || got.ID != inv.ID || got.CompanyID != company || got.Email != "wanjiru@example.co.ke" || got.Role != RoleManager || got.Status != "pending" {
			t.Fatalf("preview: %+v %v", got, err)
		}
	}
	if st := e.invitationStatus(company, inv.ID); st != "pending" {
		t.Errorf("previewing changed the invitation: %s", st)
	}
	_, revokedToken := e.invite(uuid.New(), "revoked@example.co.ke", RoleUser)
	revoked, _ := e.svc.PreviewInvitation(ctx, revokedToken)
	if err := e.svc.RevokeInvitation(ctx, revoked.CompanyID, revoked.ID); err != nil {
		t.Fatal(err)
	}
	_, usedToken := e.invite(uuid.New(), "used@example.co.ke", RoleUser)
	if _, err := e.svc.AcceptInvitation(ctx, Accept{Token: usedToken, Name: "Used", Password: goodPassword}); err != nil {
		t.Fatal(err)
	}
	_, expiredToken := e.invite(uuid.New(), "late@example.co.ke", RoleUser)
	e.clock.Advance(InvitationTTL + 1)
	for name, bad := range map[string]string{
		"empty": "", "no prefix": strings.TrimPrefix(token, invitationPrefix), "unknown": invitationPrefix + "AAAA",
		"huge": invitationPrefix + strings.Repeat("A", 70000), "revoked": revokedToken, "used": usedToken, "expired": expiredToken,
	} {
		if got, err := e.svc.PreviewInvitation(ctx, bad); !errors.Is(err, ErrInvitationInvalid) || got.ID != uuid.Nil {
			t.Errorf("%s token: %+v %v, want ErrInvitationInvalid", name, got, err)
		}
	}
}
