package jobs

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/vanta-ledger/vanta/internal/migrate"
)

// Schema is where River's tables live: a schema of their own, so the
// runtime role's grants on it reach nothing else.
const Schema = "river"

// riverVersion is River's own migration version that the system line
// brings the schema to: pinned, so that the line makes the same tables
// whichever River a later binary links.
//
// River's migrations run in two system steps because its version 4 adds
// an enum value that its version 6 uses, which PostgreSQL allows only
// after a commit: 0012 brings River to 5, 0013 to 8.
//
// Upgrading River: when a new River release brings migrations (the test
// TestRiverSchemaIsPinned fails), add a system step at the next free
// version whose Go calls riverUp with the new River version, and raise
// riverVersion. Each system step runs River's missing migrations inside
// the system line's transaction, as the owner role, and default
// privileges give the runtime role its grants on whatever they create. A
// River migration that needs a commit before a later one gets a step of
// its own, as above.
const riverVersion = 8

// ownerRole and appRole are the appliance's roles (tenancy.Roles); named
// here as constants so that no SQL below is built from input.
const (
	ownerRole = "vanta_owner"
	appRole   = "vanta_app"
)

// Migrations are this domain's system migrations, Go steps because River
// writes its own schema.
func Migrations() []migrate.Migration {
	step := func(version int, name string, river int, sql string) migrate.Migration {
		return migrate.Migration{Line: migrate.System, Version: version, Name: name, Go: func(ctx context.Context, tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, prepareSQL); err != nil {
				return fmt.Errorf("job queue schema: %w", err)
			}
			if err := riverUp(ctx, tx, river); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, grantsSQL+sql); err != nil {
				return fmt.Errorf("job queue grants: %w", err)
			}
			return nil
		}}
	}
	return []migrate.Migration{
		step(12, "job queue", 5, clocksSQL),
		step(13, "job queue: river 6 to 8", riverVersion, ""),
	}
}

// prepareSQL makes the schema, owned like every other system schema by
// the owner role, and arranges that whatever the owner makes in it later
// (River's future migrations) is granted to the runtime role without a
// grant of its own.
const prepareSQL = `
CREATE SCHEMA IF NOT EXISTS ` + Schema + ` AUTHORIZATION ` + ownerRole + `;
ALTER DEFAULT PRIVILEGES FOR ROLE ` + ownerRole + ` IN SCHEMA ` + Schema + `
	GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ` + appRole + `;
ALTER DEFAULT PRIVILEGES FOR ROLE ` + ownerRole + ` IN SCHEMA ` + Schema + `
	GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO ` + appRole + `;
`

// grantsSQL: the runtime role works the queue (insert, fetch, complete,
// elect a leader, clean up) but owns nothing, so it can neither alter
// River's tables nor reindex them (Config turns River's reindexer off).
const grantsSQL = `
GRANT USAGE ON SCHEMA ` + Schema + ` TO ` + appRole + `;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ` + Schema + ` TO ` + appRole + `;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA ` + Schema + ` TO ` + appRole + `;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ` + Schema + ` TO ` + appRole + `;
`

// clocksSQL is the per-company virtual clock of the fair order (fair.go).
// It holds company ids and a time only, so it lives beside the companies
// in the vanta schema.
const clocksSQL = `
CREATE TABLE IF NOT EXISTS vanta.job_clocks (
	company_id uuid PRIMARY KEY,
	next_start timestamptz NOT NULL
);
ALTER TABLE vanta.job_clocks OWNER TO ` + ownerRole + `;
GRANT SELECT, INSERT, UPDATE ON vanta.job_clocks TO ` + appRole + `;
`

// riverUp runs River's migrations up to version in tx, as the owner role
// (SET LOCAL: it ends with the transaction), so River's tables, types and
// functions belong to the owner like every other system table.
func riverUp(ctx context.Context, tx pgx.Tx, version int) error {
	if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+ownerRole); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	m, err := rivermigrate.New(riverpgxv5.New(nil), &rivermigrate.Config{Schema: Schema, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	// MigrateTx, not Migrate: the version and River's own migrations
	// commit together or not at all, which is the migration line's promise.
	//lint:ignore SA1019 see above
	if _, err := m.MigrateTx(ctx, tx, rivermigrate.DirectionUp, &rivermigrate.MigrateOpts{TargetVersion: version}); err != nil {
		return fmt.Errorf("river migrations up to %d: %w", version, err)
	}
	if _, err := tx.Exec(ctx, "RESET ROLE"); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	return nil
}
