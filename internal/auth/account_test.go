package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

const ownPassword = "Kahawa chungu asubuhi 9"

// member creates a member of company as an admin (actor) would, with a
// password the admin chose.
func (e *env) member(company uuid.UUID, email string, role Role, actor uuid.UUID) User {
	e.t.Helper()
	ctx := WithActor(context.Background(), Actor{UserID: actor, Role: RoleAdmin})
	u, _, err := e.svc.CreateMember(ctx, company, email, "Achieng Test", goodPassword, role)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// Hole 1: a password an admin chose is an initial one. It opens no
// session and joins no company; its owner replaces it, and then it is
// worthless.
func TestInitialPasswordMustBeChanged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	a, b := uuid.New(), uuid.New()
	u := e.member(a, "achieng@example.co.ke", RoleUser, uuid.New())

	_, err := e.svc.Login(ctx, "achieng@example.co.ke", goodPassword, "", "192.0.2.10")
	var ae *AttemptError
	if !errors.Is(err, ErrPasswordChangeRequired) || !errors.As(err, &ae) || ae.Reason != ReasonMustChange {
		t.Fatalf("login with the initial password: %v", err)
	}
	// Another company's invitation cannot be accepted with it.
	_, token, err := e.svc.Invite(ctx, b, "achieng@example.co.ke", RoleManager, uuid.New())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AcceptInvitation(ctx, Accept{Token: token, Password: goodPassword, IP: "192.0.2.10"}); !errors.Is(err, ErrPasswordChangeRequired) {
		t.Fatalf("invitation accepted with an initial password: %v", err)
	}
	// A weak new password is refused and changes nothing.
	if _, err := e.svc.ChangePassword(ctx, PasswordChange{Email: u.Email, Password: goodPassword, NewPassword: "short", IP: "192.0.2.10"}); !errors.As(err, new(*NewPasswordError)) {
		t.Fatalf("weak new password: %v", err)
	}
	// So is the same password again.
	if _, err := e.svc.ChangePassword(ctx, PasswordChange{Email: u.Email, Password: goodPassword, NewPassword: goodPassword, IP: "192.0.2.10"}); !errors.As(err, new(*NewPasswordError)) {
		t.Fatalf("unchanged password: %v", err)
	}
	pair, err := e.svc.ChangePassword(ctx, PasswordChange{Email: u.Email, Password: goodPassword, NewPassword: ownPassword, IP: "192.0.2.10"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, pair.AccessToken); err != nil {
		t.Fatalf("token from the change: %v", err)
	}
	if ev, _ := e.lastEvent(EvPasswordChange); ev.Outcome != "ok" || ev.Details["was_initial"] != true || ev.IP != "192.0.2.10" {
		t.Errorf("change audited as %+v", ev)
	}
	if _, err := e.svc.Login(ctx, u.Email, goodPassword, "", "192.0.2.10"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("the admin's password still works: %v", err)
	}
	if _, err := e.svc.Login(ctx, u.Email, ownPassword, "", "192.0.2.10"); err != nil {
		t.Fatalf("own password: %v", err)
	}
	if _, err := e.svc.AcceptInvitation(ctx, Accept{Token: token, Password: ownPassword, IP: "192.0.2.10"}); err != nil {
		t.Fatalf("invitation with the own password: %v", err)
	}
}

// A self-service change ends every other session of the account.
func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.user("baraka@example.co.ke")
	old := e.login("baraka@example.co.ke", "")
	pair, err := e.svc.ChangePassword(ctx, PasswordChange{Email: "baraka@example.co.ke", Password: goodPassword, NewPassword: ownPassword, IP: "192.0.2.10"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, old.AccessToken); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("old access token after a change: %v", err)
	}
	if _, err := e.svc.Refresh(ctx, old.RefreshToken); !errors.Is(err, ErrRefreshInvalid) {
		t.Fatalf("old refresh token after a change: %v", err)
	}
	if _, err := e.svc.Authenticate(ctx, pair.AccessToken); err != nil {
		t.Fatalf("new token: %v", err)
	}
	// Wrong current password: refused like a login, counted.
	_, err = e.svc.ChangePassword(ctx, PasswordChange{Email: "baraka@example.co.ke", Password: goodPassword, NewPassword: "Another fine passphrase 3", IP: "192.0.2.10"})
	var ae *AttemptError
	if !errors.Is(err, ErrInvalidCredentials) || !errors.As(err, &ae) || ae.Failures.Pair != 1 {
		t.Fatalf("wrong current password: %v", err)
	}
}

// A reset link: only an admin of every company of the user, or GOD,
// makes one; it is single-use and expires.
func TestPasswordResetLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	a, b := uuid.New(), uuid.New()
	adminA := e.user("admin-a@example.co.ke")
	if _, _, err := e.svc.EnrollTOTP(ctx, adminA.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetMembership(ctx, adminA.ID, a, RoleAdmin); err != nil {
		t.Fatal(err)
	}
	u := e.member(a, "wanjiru@example.co.ke", RoleViewer, adminA.ID)
	asA := WithActor(ctx, Actor{UserID: adminA.ID, Role: RoleAdmin})
	asOther := WithActor(ctx, Actor{UserID: uuid.New(), Role: RoleAdmin})

	// Not a member of company b: nothing to reset there.
	if _, err := e.svc.CreatePasswordReset(asA, b, u.ID); !errors.Is(err, ErrNotMember) {
		t.Fatalf("reset of a non-member: %v", err)
	}
	r, err := e.svc.CreatePasswordReset(asA, a, u.ID)
	if err != nil || !strings.HasPrefix(r.Token, "vpr_") {
		t.Fatalf("reset: %q %v", r.Token, err)
	}
	var stored int
	if err := e.pool.QueryRow(ctx, "SELECT count(*) FROM auth.password_resets WHERE token_hash = $1", hashToken(r.Token)).Scan(&stored); err != nil || stored != 1 {
		t.Fatalf("stored by hash: %d %v", stored, err)
	}
	if _, err := e.svc.ResetPassword(ctx, r.Token, "weak", "192.0.2.10"); !errors.As(err, new(*NewPasswordError)) {
		t.Fatalf("weak password: %v", err)
	}
	if _, err := e.svc.ResetPassword(ctx, r.Token, ownPassword, "192.0.2.10"); err != nil {
		t.Fatalf("reset with a link unspent by the weak attempt: %v", err)
	}
	if _, err := e.svc.ResetPassword(ctx, r.Token, "Yet another passphrase 5", "192.0.2.10"); !errors.Is(err, ErrResetInvalid) {
		t.Fatalf("link used twice: %v", err)
	}
	if _, err := e.svc.Login(ctx, u.Email, ownPassword, "", "192.0.2.10"); err != nil {
		t.Fatalf("login after reset (no longer initial): %v", err)
	}

	// Expiry.
	r, err = e.svc.CreatePasswordReset(asA, a, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(ResetTTL + time.Second)
	if _, err := e.svc.ResetPassword(ctx, r.Token, "Yet another passphrase 5", "192.0.2.10"); !errors.Is(err, ErrResetInvalid) {
		t.Fatalf("expired link: %v", err)
	}

	// Once the user belongs to a company the admin does not administer,
	// only GOD may reset (the admin holding the link could otherwise take
	// over that membership too).
	if err := e.svc.SetMembership(ctx, u.ID, b, RoleUser); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreatePasswordReset(asA, a, u.ID); !errors.Is(err, ErrResetNeedsGOD) {
		t.Fatalf("reset across companies by a company admin: %v", err)
	}
	if _, err := e.svc.CreatePasswordReset(asOther, a, u.ID); !errors.Is(err, ErrResetNeedsGOD) {
		t.Fatalf("reset by an admin of nothing: %v", err)
	}
	god, _ := e.god()
	asGOD := WithActor(ctx, Actor{UserID: god.ID, Role: RoleGOD})
	if _, err := e.svc.CreatePasswordReset(asGOD, a, u.ID); err != nil {
		t.Fatalf("GOD's reset: %v", err)
	}
	if _, err := e.svc.CreatePasswordReset(asGOD, a, god.ID); !errors.Is(err, ErrGODImmutable) {
		t.Fatalf("GOD's own password by link: %v", err)
	}
}

// Hole 8: oversized login fields are refused before anything is audited;
// an unknown email is audited as a bounded keyed hash.
func TestLoginInputBoundsAndUnknownEmails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	huge := strings.Repeat("a", 60<<10) + "@example.co.ke"
	for _, tc := range []struct{ email, password, totp, field string }{
		{huge, "x", "", "email"},
		{"a@example.co.ke", strings.Repeat("p", MaxPasswordInput+1), "", "password"},
		{"a@example.co.ke", "x", "12345678901", "totp"},
		{"a\x00@example.co.ke", "x", "", "email"},
	} {
		_, err := e.svc.Login(ctx, tc.email, tc.password, tc.totp, "192.0.2.10")
		var ie *InputError
		if !errors.As(err, &ie) || ie.Field != tc.field {
			t.Errorf("field %s: %v", tc.field, err)
		}
	}
	if len(e.events) != 0 {
		t.Fatalf("refused input audited: %+v", e.events)
	}
	_, _ = e.svc.Login(ctx, "Nobody@Example.co.ke", "Some guess 1234", "", "192.0.2.10")
	ev, _ := e.lastEvent(EvLogin)
	if !strings.HasPrefix(ev.Email, "unknown:") || len(ev.Email) != len("unknown:")+32 || strings.Contains(ev.Email, "nobody") {
		t.Fatalf("unknown email audited as %q", ev.Email)
	}
	_, _ = e.svc.Login(ctx, "nobody@example.co.ke", "Another guess 99", "", "192.0.2.11")
	if again, _ := e.lastEvent(EvLogin); again.Email != ev.Email {
		t.Errorf("the same unknown email hashes apart: %q %q", again.Email, ev.Email)
	}
}

// Hole 10: refresh events carry the client's address, reuse included.
func TestRefreshAuditsTheAddress(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.user("refresh@example.co.ke")
	pair := e.login("refresh@example.co.ke", "")
	if _, err := e.svc.RefreshFrom(ctx, pair.RefreshToken, "192.0.2.10"); err != nil {
		t.Fatal(err)
	}
	if ev, _ := e.lastEvent(EvRefresh); ev.IP != "192.0.2.10" || ev.Outcome != "ok" {
		t.Errorf("refresh event %+v", ev)
	}
	_, err := e.svc.RefreshFrom(ctx, pair.RefreshToken, "198.51.100.9")
	var ae *AttemptError
	if !errors.As(err, &ae) || ae.Reason != ReasonRefreshReuse || ae.IP != "198.51.100.9" {
		t.Fatalf("reuse: %v", err)
	}
	if ev, _ := e.lastEvent(EvRefresh); ev.IP != "198.51.100.9" || ev.Outcome != ReasonRefreshReuse {
		t.Errorf("reuse event %+v", ev)
	}
}

// Hole 10: creating a member for an email that has an account (in another
// company) answers as for a fresh one and joins nobody: it becomes an
// invitation the person sees when signed in.
func TestCreateMemberForExistingAccountInvites(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	a, b := uuid.New(), uuid.New()
	existing := e.member(a, "shared@example.co.ke", RoleUser, uuid.New())
	asB := WithActor(ctx, Actor{UserID: uuid.New(), Role: RoleAdmin})
	fresh, freshTOTP, err := e.svc.CreateMember(asB, b, "fresh@example.co.ke", "Fresh Person", goodPassword, RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	got, gotTOTP, err := e.svc.CreateMember(asB, b, "shared@example.co.ke", "Shared Person", goodPassword, RoleAdmin)
	if err != nil {
		t.Fatalf("existing email: %v", err)
	}
	if got.Email != "shared@example.co.ke" || got.Name != "Shared Person" || got.Status != fresh.Status || got.ID == existing.ID ||
		(gotTOTP == nil) != (freshTOTP == nil) {
		t.Fatalf("answers differ: %+v %v vs %+v %v", got, gotTOTP, fresh, freshTOTP)
	}
	if role, err := e.svc.RoleIn(ctx, existing.ID, b); !errors.Is(err, ErrNotMember) {
		t.Fatalf("joined on an admin's say-so: %v %v", role, err)
	}
	if _, err := e.svc.ChangePassword(ctx, PasswordChange{Email: existing.Email, Password: goodPassword, NewPassword: ownPassword, IP: "192.0.2.10"}); err != nil {
		t.Fatal(err)
	}
	invs, err := e.svc.PendingInvitations(ctx, existing.ID)
	if err != nil || len(invs) != 1 || invs[0].CompanyID != b || invs[0].Role != RoleAdmin {
		t.Fatalf("pending invitations %+v %v", invs, err)
	}
	acc, err := e.svc.AcceptInvitationAsUser(ctx, existing.ID, invs[0].ID, "192.0.2.10")
	if err != nil || acc.TOTP == nil {
		t.Fatalf("accept signed in: %+v %v", acc, err)
	}
	if role, err := e.svc.RoleIn(ctx, existing.ID, b); err != nil || role != RoleAdmin {
		t.Fatalf("after accepting: %v %v", role, err)
	}
	if _, err := e.svc.AcceptInvitationAsUser(ctx, existing.ID, invs[0].ID, "192.0.2.10"); !errors.Is(err, ErrInvitationInvalid) {
		t.Fatalf("accepted twice: %v", err)
	}
}

// Hole 10: sessions end when the appliance is unsealed again.
func TestEndAllSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.user("seal@example.co.ke")
	pair := e.login("seal@example.co.ke", "")
	if err := e.svc.EndAllSessions(ctx, "unsealed"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, pair.AccessToken); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("access token from before: %v", err)
	}
	if _, err := e.svc.Refresh(ctx, pair.RefreshToken); !errors.Is(err, ErrRefreshInvalid) {
		t.Fatalf("refresh token from before: %v", err)
	}
	after := e.login("seal@example.co.ke", "")
	if _, err := e.svc.Authenticate(ctx, after.AccessToken); err != nil {
		t.Fatalf("token after: %v", err)
	}
}
