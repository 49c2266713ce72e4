package auth

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

func (e *env) invite(company uuid.UUID, email string, role Role) (Invitation, string) {
	e.t.Helper()
	inv, token, err := e.svc.Invite(context.Background(), company, email, role, uuid.New())
	if err != nil {
		e.t.Fatalf("invite %s: %v", email, err)
	}
	return inv, token
}

func (e *env) invitationStatus(company, id uuid.UUID) string {
	e.t.Helper()
	list, err := e.svc.Invitations(context.Background(), company)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, inv := range list {
		if inv.ID == id {
			return inv.Status
		}
	}
	e.t.Fatalf("invitation %s not listed in %s", id, company)
	return ""
}

func TestInvitationMakesAnAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	company := uuid.New()
	inv, token := e.invite(company, "Njeri@Example.co.ke", RoleAdmin)
	if inv.Email != "njeri@example.co.ke" || inv.Status != "pending" || !inv.ExpiresAt.Equal(inv.CreatedAt.Add(InvitationTTL)) {
		t.Fatalf("invitation %+v", inv)
	}
	// A weak password is refused and uses nothing up.
	var pe *PolicyError
	if _, err := e.svc.AcceptInvitation(ctx, Accept{Token: token, Name: "Njeri", Password: "password1234"}); !errors.As(err, &pe) {
		t.Fatalf("weak password: %v", err)
	}
	if st := e.invitationStatus(company, inv.ID); st != "pending" {
		t.Fatalf("after a refused acceptance: %s", st)
	}
	got, err := e.svc.AcceptInvitation(ctx, Accept{Token: token, Name: "Njeri Kamau", Password: goodPassword})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Created || got.Role != RoleAdmin || got.CompanyID != company || got.TOTP == nil || got.User.Email != "njeri@example.co.ke" {
		t.Fatalf("acceptance %+v", got)
	}
	if r, err := e.svc.RoleIn(ctx, got.User.ID, company); err != nil || r != RoleAdmin {
		t.Fatalf("role after accepting: %v %v", r, err)
	}
	// An admin signs in with the second factor enrolled on acceptance.
	code, _ := TOTPCode(got.TOTP.Secret, e.clock.Now())
	if _, err := e.svc.Login(ctx, "njeri@example.co.ke", goodPassword, code, ""); err != nil {
		t.Fatalf("login after accepting: %v", err)
	}
	if _, err := e.svc.AcceptInvitation(ctx, Accept{Token: token, Name: "Njeri", Password: goodPassword}); !errors.Is(err, ErrInvitationInvalid) {
		t.Fatalf("token used twice: %v", err)
	}
	if st := e.invitationStatus(company, inv.ID); st != "accepted" {
		t.Fatalf("status %s", st)
	}
	if ev, _ := e.lastEvent(EvInvitationAccept); ev.CompanyID != company || ev.UserID != got.User.ID {
		t.Errorf("acceptance event %+v", ev)
	}
}

// An existing account joins a second company only with its own password
// and second factor: the token alone is not enough.
func TestInvitationOfAnExistingAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	u := e.user("mutua@example.co.ke")
	first, second := uuid.New(), uuid.New()
	if err := e.svc.SetMembership(ctx, u.ID, first, RoleViewer); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.Invite(ctx, first, "mutua@example.co.ke", RoleUser, uuid.New()); !errors.Is(err, ErrAlreadyMember) {
		t.Fatalf("inviting a member: %v", err)
	}
	_, token := e.invite(second, "mutua@example.co.ke", RoleManager)
	for _, bad := range []Accept{
		{Token: token},
		{Token: token, Name: "Someone Else", Password: "an entirely new passphrase"},
	} {
		if _, err := e.svc.AcceptInvitation(ctx, bad); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("accepted without the account's password: %v", err)
		}
	}
	if _, err := e.svc.RoleIn(ctx, u.ID, second); !errors.Is(err, ErrNotMember) {
		t.Fatalf("refused acceptance left a membership: %v", err)
	}
	got, err := e.svc.AcceptInvitation(ctx, Accept{Token: token, Password: goodPassword})
	if err != nil {
		t.Fatal(err)
	}
	if got.Created || got.User.ID != u.ID || got.TOTP != nil {
		t.Fatalf("acceptance %+v", got)
	}
	ms, _ := e.svc.Memberships(ctx, u.ID)
	if len(ms) != 2 {
		t.Fatalf("memberships %v", ms)
	}
}

func TestInvitationLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	company, other := uuid.New(), uuid.New()
	old, oldToken := e.invite(company, "wambui@example.co.ke", RoleViewer)
	again, token := e.invite(company, "wambui@example.co.ke", RoleUser) // replaces the first
	if st := e.invitationStatus(company, old.ID); st != "revoked" {
		t.Fatalf("replaced invitation %s", st)
	}
	if _, err := e.svc.AcceptInvitation(ctx, Accept{Token: oldToken, Name: "Wambui", Password: goodPassword}); !errors.Is(err, ErrInvitationInvalid) {
		t.Fatalf("replaced token: %v", err)
	}
	// Another company cannot see or revoke it.
	if list, _ := e.svc.Invitations(ctx, other); len(list) != 0 {
		t.Fatalf("another company lists %v", list)
	}
	if err := e.svc.RevokeInvitation(ctx, other, again.ID); !errors.Is(err, ErrInvitationNotFound) {
		t.Fatalf("revoked from another company: %v", err)
	}
	e.clock.Advance(InvitationTTL + time.Second)
	if st := e.invitationStatus(company, again.ID); st != "expired" {
		t.Fatalf("after its lifetime: %s", st)
	}
	if _, err := e.svc.AcceptInvitation(ctx, Accept{Token: token, Name: "Wambui", Password: goodPassword}); !errors.Is(err, ErrInvitationInvalid) {
		t.Fatalf("expired token: %v", err)
	}
	fresh, freshToken := e.invite(company, "wambui@example.co.ke", RoleUser)
	if err := e.svc.RevokeInvitation(ctx, company, fresh.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AcceptInvitation(ctx, Accept{Token: freshToken, Name: "Wambui", Password: goodPassword}); !errors.Is(err, ErrInvitationInvalid) {
		t.Fatalf("revoked token: %v", err)
	}
	for _, bad := range []string{"", "vinv_", "not-an-invitation", freshToken + "x"} {
		if _, err := e.svc.AcceptInvitation(ctx, Accept{Token: bad, Name: "W", Password: goodPassword}); !errors.Is(err, ErrInvitationInvalid) {
			t.Errorf("token %q: %v", bad, err)
		}
	}
	list, _ := e.svc.Invitations(ctx, company)
	var states []string
	for _, inv := range list {
		states = append(states, inv.Status)
	}
	slices.Sort(states)
	if !slices.Equal(states, []string{"expired", "revoked", "revoked"}) {
		t.Errorf("states %v", states)
	}
	if _, _, err := e.svc.Invite(ctx, company, "god@example.co.ke", RoleGOD, uuid.New()); err == nil {
		t.Error("invited as GOD")
	}
}

// CreateMember is one transaction: when its last step (the membership's
// audit record) fails, no account is left behind.
func TestCreateMemberIsAtomic(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) {
		o.Audit = func(_ context.Context, _ pgx.Tx, ev Event) error {
			if ev.Action == EvMembershipSet {
				return errors.New("audit store full")
			}
			return nil
		}
	})
	ctx := context.Background()
	if _, _, err := e.svc.CreateMember(ctx, uuid.New(), "halfway@example.co.ke", "Half Way", goodPassword, RoleAdmin); err == nil {
		t.Fatal("member created without its audit record")
	}
	if _, err := e.svc.UserByEmail(ctx, "halfway@example.co.ke"); !errors.Is(err, ErrUserNotFound) {
		t.Fatalf("account left behind: %v", err)
	}
}
