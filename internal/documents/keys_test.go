package documents

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/seal"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// CompanyKeys opens each company's own key from vanta.companies, and
// nothing for a purged or unknown company or without a scope.
func TestCompanyKeys(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	keys := e.store.Keys.(CompanyKeys)
	ka, err := keys.DataKey(ctx, e.a)
	if err != nil {
		t.Fatal(err)
	}
	defer ka.Destroy()
	ct, err := ka.Seal("probe", "r", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	ka2, err := keys.DataKey(ctx, e.a)
	if err != nil {
		t.Fatal(err)
	}
	defer ka2.Destroy()
	if pt, err := ka2.Open("probe", "r", ct); err != nil || !bytes.Equal(pt, []byte("hello")) {
		t.Fatalf("the same company's key again does not open: %v", err)
	}
	kb, err := keys.DataKey(ctx, e.b)
	if err != nil {
		t.Fatal(err)
	}
	defer kb.Destroy()
	if _, err := kb.Open("probe", "r", ct); err == nil {
		t.Fatal("company B's key opens A's data")
	}

	purged := tenancy.NewScopeForTest(uuid.New())
	if _, err := e.db.Super.Exec(ctx, "INSERT INTO vanta.companies (id, name, status, dek) VALUES ($1, 'gone', 'archived', NULL)", purged.Company()); err != nil {
		t.Fatal(err)
	}
	other, err := seal.NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Destroy()
	cases := []struct {
		name string
		keys CompanyKeys
		sc   tenancy.Scope
		want error
	}{
		{"purged", keys, purged, tenancy.ErrCompanyNotFound},
		{"unknown", keys, tenancy.NewScopeForTest(uuid.New()), tenancy.ErrCompanyNotFound},
		{"no scope", keys, tenancy.Scope{}, tenancy.ErrNoScope},
		{"another root keyring", CompanyKeys{DB: e.db.App, Root: other}, e.a, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, err := c.keys.DataKey(ctx, c.sc)
			if err == nil {
				k.Destroy()
				t.Fatal("opened a key")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}
