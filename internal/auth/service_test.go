package auth

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

func TestGODIsUnique(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	god, secret := e.god()
	if !god.IsGOD || !god.HasTOTP || secret == "" {
		t.Fatalf("GOD %+v secret %q", god, secret)
	}
	if ev, ok := e.lastEvent(EvGODCreate); !ok || ev.UserID != god.ID {
		t.Errorf("GOD creation not audited: %+v", ev)
	}
	if _, _, _, err := e.svc.CreateGOD(ctx, "other@vanta.example", "Baraka Ouma", goodPassword); !errors.Is(err, ErrGODExists) {
		t.Fatalf("second GOD: %v", err)
	}
	// The database refuses a second GOD however it is written.
	_, err := e.pool.Exec(ctx, `INSERT INTO auth.users (id, email, name, password_hash, is_god) VALUES ($1, 'sneaky@vanta.example', 'x', 'x', true)`, uuid.New())
	if err == nil || !strings.Contains(err.Error(), "users_one_god") {
		t.Fatalf("raw insert of a second GOD: %v", err)
	}
}

func TestGODCreationRace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 8
	won := raceWinners(t, n, ErrGODExists, func(i int) error {
		_, _, _, err := e.svc.CreateGOD(context.Background(), fmt.Sprintf("god%d@vanta.example", i), "Amina Otieno", goodPassword)
		return err
	})
	var gods int
	if err := e.pool.QueryRow(context.Background(), "SELECT count(*) FROM auth.users WHERE is_god").Scan(&gods); err != nil {
		t.Fatal(err)
	}
	if won != 1 || gods != 1 {
		t.Fatalf("%d creations succeeded, %d GODs stored", won, gods)
	}
}

func TestCreateUserValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	u := e.user("  Achieng@Example.CO.KE ")
	if u.Email != "achieng@example.co.ke" || u.IsGOD || u.HasTOTP || u.Status != StatusActive {
		t.Fatalf("user %+v", u)
	}
	for _, tc := range []struct {
		email, name, pw string
		want            error
	}{
		{"ACHIENG@example.co.ke", "Other", goodPassword, ErrEmailTaken},
		{"not-an-email", "X", goodPassword, ErrInvalidEmail},
		{"a b@example.com", "X", goodPassword, ErrInvalidEmail},
		{"a@localhost", "X", goodPassword, ErrInvalidEmail},
		{"ok@example.com", "", goodPassword, ErrInvalidName},
		{"ok@example.com", "Bad\x00Name", goodPassword, ErrInvalidName},
	} {
		if _, err := e.svc.CreateUser(ctx, tc.email, tc.name, tc.pw); !errors.Is(err, tc.want) {
			t.Errorf("%q %q: %v, want %v", tc.email, tc.name, err, tc.want)
		}
	}
	var pe *PolicyError
	if _, err := e.svc.CreateUser(ctx, "ok@example.com", "Ok", "password1234"); !errors.As(err, &pe) || pe.Rule != RuleCommon {
		t.Errorf("weak password: %v", err)
	}
}

func TestLoginOutcomes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	u := e.user("kamau@example.co.ke")

	pair := e.login("KAMAU@example.co.ke", "")
	if pair.TokenType != "Bearer" || pair.ExpiresIn != 900 || pair.UserID != u.ID || pair.AccessToken == "" || pair.RefreshToken == "" {
		t.Fatalf("pair %+v", pair)
	}
	p, err := e.svc.Authenticate(ctx, pair.AccessToken)
	if err != nil || p.UserID != u.ID || p.IsGOD || p.JTI != pair.JTI || p.SessionID != pair.SessionID {
		t.Fatalf("authenticate: %+v %v", p, err)
	}
	if ev, _ := e.lastEvent(EvLogin); ev.Outcome != "ok" || ev.UserID != u.ID || ev.IP != "192.0.2.10" {
		t.Errorf("login event %+v", ev)
	}

	// A wrong password and an unknown email: the same error, told apart
	// only in the audit detail.
	_, errWrong := e.svc.Login(ctx, "kamau@example.co.ke", "Not the password 42", "", "192.0.2.10")
	_, errUnknown := e.svc.Login(ctx, "nobody@example.co.ke", "Not the password 42", "", "192.0.2.10")
	var aw, au *AttemptError
	if !errors.As(errWrong, &aw) || !errors.As(errUnknown, &au) {
		t.Fatalf("not attempt errors: %v / %v", errWrong, errUnknown)
	}
	if !errors.Is(errWrong, ErrInvalidCredentials) || !errors.Is(errUnknown, ErrInvalidCredentials) || errWrong.Error() != errUnknown.Error() {
		t.Fatalf("errors differ: %q / %q", errWrong, errUnknown)
	}
	if aw.Reason != ReasonBadPassword || aw.UserID != u.ID || au.Reason != ReasonUnknownEmail || au.UserID != uuid.Nil {
		t.Errorf("audit detail: %+v / %+v", aw, au)
	}
	if ev, _ := e.lastEvent(EvLogin); ev.Outcome != ReasonUnknownEmail || ev.Email != e.svc.auditEmail("nobody@example.co.ke") {
		t.Errorf("failure event %+v", ev)
	}
	if aw.Failures.Account != 1 || au.Failures.IP != 2 {
		t.Errorf("failures counted: %+v / %+v", aw.Failures, au.Failures)
	}
}

// An unknown email costs an argon2 verification like a wrong password:
// measured with the real parameters, the two take about as long.
// TestUnknownEmailCostsWhatAWrongPasswordCosts: an unknown email is
// checked against a dummy hash with the same Argon2id parameters as a real
// account's, once, as a wrong password is; so the answer's timing cannot
// tell whether an account exists. Counted, never timed.
func TestUnknownEmailCostsWhatAWrongPasswordCosts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.Argon2 = DefaultArgon2 })
	ctx := context.Background()
	e.user("timing@example.co.ke")
	e.svc.Limiter().Threshold = 1000
	var stored string
	if err := e.pool.QueryRow(ctx, "SELECT password_hash FROM auth.users WHERE email = 'timing@example.co.ke'").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	// $argon2id$v=19$m=…,t=…,p=…$salt$hash: the first four fields are the cost.
	cost := func(encoded string) string { return strings.Join(strings.Split(encoded, "$")[:4], "$") }
	if cost(e.svc.dummyHash) != cost(stored) {
		t.Errorf("dummy hash costs %s, a real account's %s", cost(e.svc.dummyHash), cost(stored))
	}
	for _, email := range []string{"timing@example.co.ke", "nobody@example.co.ke"} {
		before := e.svc.hashes.Load()
		if _, err := e.svc.Login(ctx, email, "Not the password 42", "", ""); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("%s: %v", email, err)
		}
		if n := e.svc.hashes.Load() - before; n != 1 {
			t.Errorf("%s: %d password hashes computed, want 1", email, n)
		}
	}
}

func TestLoginLockout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.user("otieno@example.co.ke")
	for i := 1; i <= 5; i++ {
		_, err := e.svc.Login(ctx, "otieno@example.co.ke", "Guess number "+fmt.Sprint(i)+" !!", "", "198.51.100.1")
		var ae *AttemptError
		if !errors.As(err, &ae) || !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("guess %d: %v", i, err)
		}
		if ae.Engaged != (i == 5) {
			t.Errorf("guess %d: engaged=%v", i, ae.Engaged)
		}
	}
	// Locked from that address: even the right password is not looked at.
	_, err := e.svc.Login(ctx, "otieno@example.co.ke", goodPassword, "", "198.51.100.1")
	var lo ErrLockedOut
	if !errors.As(err, &lo) || lo.RetryAfter != time.Second {
		t.Fatalf("locked account: %v", err)
	}
	if ev, _ := e.lastEvent(EvLogin); ev.Outcome != ReasonLockedOut {
		t.Errorf("lockout not audited: %+v", ev)
	}
	e.clock.Advance(time.Second)
	if _, err := e.svc.Login(ctx, "otieno@example.co.ke", "Guess number 6 !!", "", "198.51.100.1"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("after the delay: %v", err)
	}
	_, err = e.svc.Login(ctx, "otieno@example.co.ke", goodPassword, "", "198.51.100.1")
	if !errors.As(err, &lo) || lo.RetryAfter != 2*time.Second {
		t.Fatalf("doubled delay: %v", err)
	}
	// Hole 7: the owner elsewhere is not locked out by the guesser.
	if _, err := e.svc.Login(ctx, "otieno@example.co.ke", goodPassword, "", "203.0.113.50"); err != nil {
		t.Fatalf("owner from another address: %v", err)
	}
	e.clock.Advance(2 * time.Second)
	e.login("otieno@example.co.ke", "")
	// A success elsewhere does not clear the guesser's count.
	var n int
	if err := e.pool.QueryRow(ctx, "SELECT count(*) FROM auth.login_failures WHERE key = $1",
		e.svc.Limiter().PairKey("otieno@example.co.ke", "198.51.100.1")).Scan(&n); err != nil || n != 1 {
		t.Errorf("guesser's failures after the owner's success: %d %v", n, err)
	}
}

func TestTOTPRequiredForGODAndAdmins(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	_, godSecret := e.god()
	// A missing code answers like a wrong password: no oracle.
	_, err := e.svc.Login(ctx, "god@vanta.example", goodPassword, "", "")
	var ae *AttemptError
	if !errors.As(err, &ae) || ae.Reason != ReasonTOTPRequired || !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("GOD without code: %v", err)
	}
	code := e.code(godSecret)
	pair := e.login("god@vanta.example", code)
	if !pair.IsGOD {
		t.Error("GOD token without god")
	}
	// The same code again, within its window: refused.
	_, err = e.svc.Login(ctx, "god@vanta.example", goodPassword, code, "")
	if !errors.As(err, &ae) || ae.Reason != ReasonTOTPReplayed || !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("replayed code: %v", err)
	}

	company := uuid.New()
	u := e.user("admin@example.co.ke")
	if err := e.svc.SetMembership(ctx, u.ID, company, RoleAdmin); !errors.Is(err, ErrTOTPNotEnrolled) {
		t.Fatalf("admin without TOTP: %v", err)
	}
	secret, uri, err := e.svc.EnrollTOTP(ctx, u.ID)
	if err != nil || !strings.HasPrefix(uri, "otpauth://totp/") {
		t.Fatalf("enrol: %q %v", uri, err)
	}
	if err := e.svc.SetMembership(ctx, u.ID, company, RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Login(ctx, "admin@example.co.ke", goodPassword, "", ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("admin without code: %v", err)
	}
	if _, err := e.svc.Login(ctx, "admin@example.co.ke", goodPassword, "12345x", ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("admin with a bad code: %v", err)
	}
	e.login("admin@example.co.ke", e.code(secret))
	if _, _, err := e.svc.EnrollTOTP(ctx, pair.UserID); !errors.Is(err, ErrGODImmutable) {
		t.Errorf("GOD TOTP re-enrolled outside break-glass: %v", err)
	}
}

func TestGODNetworkAllowList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.GODAllow = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	ctx := context.Background()
	_, secret := e.god()
	if _, err := e.svc.Login(ctx, "god@vanta.example", goodPassword, e.code(secret), "192.0.2.10"); !errors.Is(err, ErrGODNetwork) {
		t.Fatalf("GOD from outside: %v", err)
	}
	if _, err := e.svc.Login(ctx, "god@vanta.example", goodPassword, e.code(secret), "10.1.2.3"); err != nil {
		t.Fatalf("GOD from inside: %v", err)
	}
	if e.svc.GODAllowed("garbage") || !e.svc.GODAllowed("::ffff:10.9.9.9") {
		t.Error("GODAllowed")
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.user("njeri@example.co.ke")
	first := e.login("njeri@example.co.ke", "")

	e.clock.Advance(time.Minute)
	second, err := e.svc.Refresh(ctx, first.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if second.SessionID != first.SessionID || second.RefreshToken == first.RefreshToken || second.JTI == first.JTI {
		t.Fatalf("rotation: %+v → %+v", first, second)
	}
	if _, err := e.svc.Authenticate(ctx, second.AccessToken); err != nil {
		t.Fatalf("refreshed access token: %v", err)
	}
	var parent uuid.UUID
	if err := e.pool.QueryRow(ctx, "SELECT parent FROM auth.refresh_tokens WHERE token_hash = $1", hashToken(second.RefreshToken)).Scan(&parent); err != nil || parent == uuid.Nil {
		t.Fatalf("child has no parent: %v", err)
	}

	// The first token again: someone copied it. The family is revoked.
	_, err = e.svc.Refresh(ctx, first.RefreshToken)
	var ae *AttemptError
	if !errors.Is(err, ErrRefreshReuse) || !errors.Is(err, ErrRefreshInvalid) || !errors.As(err, &ae) || ae.SessionID != first.SessionID {
		t.Fatalf("reuse: %v", err)
	}
	if ev, _ := e.lastEvent(EvRefresh); ev.Outcome != ReasonRefreshReuse {
		t.Errorf("reuse not audited: %+v", ev)
	}
	if _, err := e.svc.Refresh(ctx, second.RefreshToken); !errors.Is(err, ErrRefreshInvalid) || errors.Is(err, ErrRefreshReuse) {
		t.Fatalf("current token of a revoked family: %v", err)
	}
	// The session's access tokens die with it.
	if _, err := e.svc.Authenticate(ctx, second.AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("access token of a revoked session: %v", err)
	}
	if _, err := e.svc.Refresh(ctx, "made-up-token"); !errors.Is(err, ErrRefreshInvalid) {
		t.Fatalf("unknown token: %v", err)
	}

	// Another session is untouched, and expires on time.
	other := e.login("njeri@example.co.ke", "")
	if _, err := e.svc.Authenticate(ctx, other.AccessToken); err != nil {
		t.Fatalf("other session: %v", err)
	}
	e.clock.Advance(AccessTokenTTL + time.Second)
	if _, err := e.svc.Authenticate(ctx, other.AccessToken); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("expired access token: %v", err)
	}
	e.clock.Advance(7 * 24 * time.Hour)
	if _, err := e.svc.Refresh(ctx, other.RefreshToken); !errors.Is(err, ErrRefreshInvalid) || !errors.As(err, &ae) || ae.Reason != ReasonRefreshExpiry {
		t.Fatalf("expired refresh token: %v", err)
	}
	if n, err := e.svc.Prune(ctx); err != nil || n == 0 {
		t.Errorf("prune: %d %v", n, err)
	}
}

func TestSessionHasAbsoluteLifetime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.RefreshTTL = time.Hour; o.SessionMaxAge = 150 * time.Minute })
	ctx := context.Background()
	e.user("muthoni@example.co.ke")
	pair := e.login("muthoni@example.co.ke", "")
	var err error
	for i := range 2 {
		e.clock.Advance(50 * time.Minute)
		if pair, err = e.svc.Refresh(ctx, pair.RefreshToken); err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
	}
	// 100 minutes in: the child may live only 50 more, not an hour.
	e.clock.Advance(55 * time.Minute)
	if _, err := e.svc.Refresh(ctx, pair.RefreshToken); !errors.Is(err, ErrRefreshInvalid) {
		t.Fatalf("refresh past the session's age: %v", err)
	}
}

func TestLogoutRevokesAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.user("wekesa@example.co.ke")
	pair := e.login("wekesa@example.co.ke", "")
	p, err := e.svc.Authenticate(ctx, pair.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Logout(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, pair.AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("after logout: %v", err)
	}
	if _, err := e.svc.Refresh(ctx, pair.RefreshToken); !errors.Is(err, ErrRefreshInvalid) {
		t.Fatalf("refresh after logout: %v", err)
	}
	// The revocation lives in PostgreSQL: a new process, with Redis
	// emptied, refuses the token too.
	clearPrefix(e.prefix)
	fresh := e.restart()
	if _, err := fresh.Authenticate(ctx, pair.AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("after logout, in a new process with Redis emptied: %v", err)
	}
	if ev, _ := e.lastEvent(EvLogout); ev.UserID != p.UserID {
		t.Errorf("logout event %+v", ev)
	}
}

func TestDisabledUsersTokensRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	u := e.user("kiprop@example.co.ke")
	pair := e.login("kiprop@example.co.ke", "")
	if err := e.svc.DisableUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, pair.AccessToken); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("token of a disabled user: %v", err)
	}
	if _, err := e.svc.Refresh(ctx, pair.RefreshToken); !errors.Is(err, ErrRefreshInvalid) {
		t.Fatalf("refresh of a disabled user: %v", err)
	}
	_, err := e.svc.Login(ctx, "kiprop@example.co.ke", goodPassword, "", "")
	var ae *AttemptError
	if !errors.Is(err, ErrInvalidCredentials) || !errors.As(err, &ae) || ae.Reason != ReasonDisabled {
		t.Fatalf("login of a disabled user: %v", err)
	}
	// Enabled again, the user signs in afresh; the old token stays dead.
	if err := e.svc.EnableUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	fresh := e.login("kiprop@example.co.ke", "")
	if _, err := e.svc.Authenticate(ctx, fresh.AccessToken); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	if _, err := e.svc.Authenticate(ctx, pair.AccessToken); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("old token after re-enabling: %v", err)
	}
	// Ending all sessions twice within a second still separates tokens.
	if err := e.svc.RevokeAllSessions(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	again := e.login("kiprop@example.co.ke", "")
	if err := e.svc.RevokeAllSessions(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	// Un-revoke the session, so that only tokens_valid_after stands
	// between the token and acceptance (in a process that did not see the
	// session revoked).
	if _, err := e.pool.Exec(ctx, "UPDATE auth.refresh_tokens SET revoked_at = NULL WHERE family = $1", again.SessionID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.restart().Authenticate(ctx, again.AccessToken); !errors.Is(err, ErrTokenStale) {
		t.Fatalf("token issued between two revocations in one second: %v", err)
	}
	god, _ := e.god()
	if err := e.svc.DisableUser(ctx, god.ID); !errors.Is(err, ErrGODImmutable) {
		t.Errorf("GOD disabled: %v", err)
	}
}

func TestMembershipsAndRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	god, _ := e.god()
	a, b := uuid.New(), uuid.New()
	u := e.user("moraa@example.co.ke")
	if r, err := e.svc.RoleIn(ctx, god.ID, a); err != nil || r != RoleGOD {
		t.Fatalf("GOD in any company: %v %v", r, err)
	}
	if _, err := e.svc.RoleIn(ctx, u.ID, a); !errors.Is(err, ErrNotMember) {
		t.Fatalf("non-member: %v", err)
	}
	if _, err := e.svc.RoleIn(ctx, uuid.New(), a); !errors.Is(err, ErrUserNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	if err := e.svc.SetMembership(ctx, u.ID, a, RoleViewer); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetMembership(ctx, u.ID, a, RoleManager); err != nil {
		t.Fatal(err)
	}
	if ev, _ := e.lastEvent(EvMembershipSet); ev.Role != RoleManager || ev.CompanyID != a || ev.Details["previous_role"] != "viewer" {
		t.Errorf("role change event %+v", ev)
	}
	if err := e.svc.SetMembership(ctx, u.ID, b, RoleUser); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Role{RoleGOD, "owner", ""} {
		if err := e.svc.SetMembership(ctx, u.ID, b, bad); err == nil {
			t.Errorf("role %q accepted", bad)
		}
	}
	if err := e.svc.SetMembership(ctx, uuid.New(), b, RoleUser); !errors.Is(err, ErrUserNotFound) {
		t.Errorf("unknown user: %v", err)
	}
	ms, err := e.svc.Memberships(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []Membership{{a, RoleManager}, {b, RoleUser}}
	sort.Slice(want, func(i, j int) bool { return want[i].CompanyID.String() < want[j].CompanyID.String() })
	if !slices.Equal(ms, want) {
		t.Fatalf("memberships %v, want %v", ms, want)
	}
	if r, err := e.svc.RoleIn(ctx, u.ID, b); err != nil || r != RoleUser {
		t.Fatalf("role in b: %v %v", r, err)
	}
	members, err := e.svc.Members(ctx, a)
	if err != nil || len(members) != 1 || members[0].ID != u.ID || members[0].Role != RoleManager {
		t.Fatalf("members of a: %+v %v", members, err)
	}
	if err := e.svc.RemoveMembership(ctx, u.ID, a); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RemoveMembership(ctx, u.ID, a); !errors.Is(err, ErrNotMember) {
		t.Fatalf("second removal: %v", err)
	}
	if _, err := e.svc.RoleIn(ctx, u.ID, a); !errors.Is(err, ErrNotMember) {
		t.Fatalf("after removal: %v", err)
	}
}

func TestAuditFailureRollsBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) {
		o.Audit = func(_ context.Context, _ pgx.Tx, ev Event) error {
			if ev.Action == EvUserCreate {
				return errors.New("audit store full")
			}
			return nil
		}
	})
	ctx := context.Background()
	if _, err := e.svc.CreateUser(ctx, "ghost@example.co.ke", "Ghost", goodPassword); err == nil {
		t.Fatal("user created without its audit record")
	}
	if _, err := e.svc.UserByEmail(ctx, "ghost@example.co.ke"); !errors.Is(err, ErrUserNotFound) {
		t.Fatalf("unaudited user stored: %v", err)
	}
}

func TestLoginRehashesOldParameters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	u := e.user("rehash@example.co.ke")
	newer := Argon2Params{MemoryKiB: 128, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	svc, err := New(ctx, Options{DB: e.pool, Redis: redisClient, RedisPrefix: e.prefix, Sealer: e.sealer, Now: e.clock.Now, Argon2: newer})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Login(ctx, u.Email, goodPassword, "", ""); err != nil {
		t.Fatal(err)
	}
	var h string
	if err := e.pool.QueryRow(ctx, "SELECT password_hash FROM auth.users WHERE id = $1", u.ID).Scan(&h); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h, "$m=128,t=1,p=1$") {
		t.Fatalf("hash not upgraded: %s", h)
	}
	if _, err := svc.Login(ctx, u.Email, goodPassword, "", ""); err != nil {
		t.Fatalf("login with the upgraded hash: %v", err)
	}
}

func TestResetGOD(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	_, oldSecret := e.god()
	pair := e.login("god@vanta.example", e.code(oldSecret))
	const newPassword = "Upepo wa Kusi unavuma 9"
	_, secret, _, err := e.svc.ResetGOD(ctx, newPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, pair.AccessToken); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("GOD token after reset: %v", err)
	}
	e.clock.Advance(30 * time.Second)
	if _, err := e.svc.Login(ctx, "god@vanta.example", goodPassword, e.code(secret), ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("old password after reset: %v", err)
	}
	if _, err := e.svc.Login(ctx, "god@vanta.example", newPassword, e.code(secret), ""); err != nil {
		t.Fatalf("new credentials: %v", err)
	}
}

func TestConcurrentRefreshIssuesOneChild(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.user("nduta@example.co.ke")
	pair := e.login("nduta@example.co.ke", "")
	const n = 6
	won := raceWinners(t, n, ErrRefreshInvalid, func(i int) error {
		_, err := e.svc.Refresh(ctx, pair.RefreshToken)
		return err
	})
	var children int
	if err := e.pool.QueryRow(ctx, "SELECT count(*) FROM auth.refresh_tokens WHERE parent IS NOT NULL").Scan(&children); err != nil {
		t.Fatal(err)
	}
	if won != 1 || children != 1 {
		t.Fatalf("%d refreshes succeeded and %d children issued from one token", won, children)
	}
}
