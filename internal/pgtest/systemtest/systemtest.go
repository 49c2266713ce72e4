// Package systemtest makes pgtest templates migrated to the head of the
// system line, for the tests of packages whose tables live there. It is
// apart from pgtest because internal/migrate's own tests use pgtest.
package systemtest

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vanta-ledger/vanta/internal/migrate"
	"github.com/vanta-ledger/vanta/internal/pgtest"
)

// Template is a template of s whose system line is migrated to head
// with the migrations of sources, owned by pgtest's owner role and
// granted to its app role as in the appliance.
func Template(s *pgtest.Server, sources ...migrate.Source) *pgtest.Template {
	return Registry(s, func() (*migrate.Registry, error) { return migrate.NewRegistry(sources...) })
}

// Registry is Template for a registry made by registry (the appliance's
// whole one, say).
func Registry(s *pgtest.Server, registry func() (*migrate.Registry, error)) *pgtest.Template {
	return s.Template(func(ctx context.Context, dsn string) error {
		reg, err := registry()
		if err != nil {
			return err
		}
		db, err := pgxpool.New(ctx, dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		_, err = migrate.New(reg, migrate.Roles{Owner: pgtest.OwnerRole, App: pgtest.AppRole}, nil).System(ctx, db)
		return err
	})
}
