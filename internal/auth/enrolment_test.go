package auth

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
)

func TestSelfServiceTOTPEnrolment(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	u := e.user("kamau@example.co.ke")
	company := uuid.New()
	if err := e.svc.SetMembership(ctx, u.ID, company, RoleAdmin); !errors.Is(err, ErrTOTPNotEnrolled) {
		t.Fatalf("admin without a second factor: %v", err)
	}
	if err := e.svc.ConfirmTOTPEnrolment(ctx, u.ID, "123456"); !errors.Is(err, ErrNoPendingEnrolment) {
		t.Fatalf("confirm before begin: %v", err)
	}
	if _, err := e.svc.BeginTOTPEnrolment(ctx, u.ID, "not the password", "", "192.0.2.1"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("begin with a wrong password: %v", err)
	}
	en, err := e.svc.BeginTOTPEnrolment(ctx, u.ID, goodPassword, "", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	// Until confirmed, nothing changed: login needs no code.
	if _, err := e.svc.Login(ctx, "kamau@example.co.ke", goodPassword, "", ""); err != nil {
		t.Fatalf("login before confirming: %v", err)
	}
	if err := e.svc.ConfirmTOTPEnrolment(ctx, u.ID, "000000"); !errors.Is(err, ErrTOTPInvalid) {
		t.Fatalf("confirm with a wrong code: %v", err)
	}
	code, _ := TOTPCode(en.Secret, e.clock.Now())
	if err := e.svc.ConfirmTOTPEnrolment(ctx, u.ID, code); err != nil {
		t.Fatal(err)
	}
	if ev, _ := e.lastEvent(EvTOTPEnroll); ev.UserID != u.ID {
		t.Errorf("enrolment event %+v", ev)
	}
	if _, err := e.svc.Login(ctx, "kamau@example.co.ke", goodPassword, "", ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("login without a code once enrolled: %v", err)
	}
	// The confirming code is spent.
	if _, err := e.svc.Login(ctx, "kamau@example.co.ke", goodPassword, code, ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("the confirming code reused: %v", err)
	}
	if err := e.svc.SetMembership(ctx, u.ID, company, RoleAdmin); err != nil {
		t.Fatalf("admin after enrolling: %v", err)
	}
	// Replacing the factor needs a current code as well.
	if _, err := e.svc.BeginTOTPEnrolment(ctx, u.ID, goodPassword, "", ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("replace without a code: %v", err)
	}
	god, _ := e.god()
	if _, err := e.svc.BeginTOTPEnrolment(ctx, god.ID, goodPassword, "", ""); !errors.Is(err, ErrGODImmutable) {
		t.Fatalf("GOD's factor: %v", err)
	}
}
