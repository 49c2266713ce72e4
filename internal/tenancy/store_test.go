package tenancy

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"
)

// TestCompaniesStore covers the register's reads the API makes: status
// before a scope exists, the name on an invitation's page, one company by
// scope, and the keyset listing (all, or only the caller's companies;
// never archived ones).
func TestCompaniesStore(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	store := Companies{DB: e.super}
	archived := uuid.New()
	for _, co := range []struct {
		id           uuid.UUID
		name, status string
	}{{e.a.Company(), "Amani Ltd", StatusActive}, {e.b.Company(), "Baraka Ltd", StatusActive}, {archived, "Zamani Ltd", StatusArchived}} {
		if _, err := e.super.Exec(ctx, "INSERT INTO vanta.companies (id, name, status) VALUES ($1, $2, $3)", co.id, co.name, co.status); err != nil {
			t.Fatal(err)
		}
	}

	if st, err := store.Status(ctx, archived); err != nil || st != StatusArchived {
		t.Errorf("Status(archived) = %q, %v", st, err)
	}
	if _, err := store.Status(ctx, uuid.New()); !errors.Is(err, ErrCompanyNotFound) {
		t.Errorf("Status(nonexistent) = %v, want ErrCompanyNotFound", err)
	}
	if name, err := store.NameIfNotArchived(ctx, e.a.Company()); err != nil || name != "Amani Ltd" {
		t.Errorf("NameIfNotArchived(a) = %q, %v", name, err)
	}
	if _, err := store.NameIfNotArchived(ctx, archived); !errors.Is(err, ErrCompanyNotFound) {
		t.Errorf("NameIfNotArchived(archived) = %v, want ErrCompanyNotFound", err)
	}
	if co, err := store.Get(ctx, e.b); err != nil || co.ID != e.b.Company() || co.Name != "Baraka Ltd" {
		t.Errorf("Get(b) = %+v, %v", co, err)
	}
	if _, err := store.Get(ctx, Scope{}); !errors.Is(err, ErrNoScope) {
		t.Errorf("Get(no scope) = %v, want ErrNoScope", err)
	}

	// Pages of one: both live companies, in id order, then no more.
	var seen []uuid.UUID
	after := ""
	for range 3 {
		items, more, err := store.List(ctx, CompanyQuery{After: after, Limit: 1, All: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, co := range items {
			seen = append(seen, co.ID)
			after = co.ID.String()
		}
		if !more {
			break
		}
	}
	if len(seen) != 2 || seen[0].String() >= seen[1].String() {
		t.Errorf("paged listing = %v, want a and b in id order, without the archived one", seen)
	}
	// A member sees their own companies only; none is none.
	items, more, err := store.List(ctx, CompanyQuery{Limit: 10, Among: []uuid.UUID{e.b.Company(), archived}})
	if err != nil || more || len(items) != 1 || items[0].ID != e.b.Company() {
		t.Errorf("listing among b and archived = %+v, %v, %v; want b alone", items, more, err)
	}
	if items, _, err := store.List(ctx, CompanyQuery{Limit: 10}); err != nil || len(items) != 0 {
		t.Errorf("listing among none = %+v, %v; want nothing", items, err)
	}
}

// TestCompaniesLiveAndNames covers GOD's overview's read (every company
// that is not archived, by name, in one query) and the names on a
// person's pending invitations (never an archived company's).
func TestCompaniesLiveAndNames(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	store := Companies{DB: e.app}
	archived, missing := uuid.New(), uuid.New()
	for _, co := range []struct {
		id           uuid.UUID
		name, status string
	}{{e.b.Company(), "Baraka Ltd", StatusActive}, {e.a.Company(), "Amani Ltd", StatusProvisioning}, {archived, "Zamani Ltd", StatusArchived}} {
		if _, err := e.super.Exec(ctx, "INSERT INTO vanta.companies (id, name, status) VALUES ($1, $2, $3)", co.id, co.name, co.status); err != nil {
			t.Fatal(err)
		}
	}
	live, err := store.Live(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, co := range live {
		got = append(got, co.Name+":"+co.Status)
	}
	if want := "[Amani Ltd:provisioning Baraka Ltd:active]"; fmt.Sprint(got) != want {
		t.Errorf("Live = %v, want %s", got, want)
	}

	names, err := store.NamesIfNotArchived(ctx, []uuid.UUID{e.a.Company(), archived, missing, e.b.Company()})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 2 || names[e.a.Company()] != "Amani Ltd" || names[e.b.Company()] != "Baraka Ltd" {
		t.Errorf("NamesIfNotArchived = %v, want Amani and Baraka only", names)
	}
	if names, err := store.NamesIfNotArchived(ctx, nil); err != nil || len(names) != 0 {
		t.Errorf("NamesIfNotArchived(none) = %v, %v", names, err)
	}
	if RedisPrefixOf(e.a.Company()) != e.a.RedisPrefix() {
		t.Errorf("RedisPrefixOf %q differs from the scope's %q", RedisPrefixOf(e.a.Company()), e.a.RedisPrefix())
	}
}
