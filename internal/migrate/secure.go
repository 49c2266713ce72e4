package migrate

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

var plainIdent = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// check refuses a target whose names could be anything but the plain
// identifiers tenancy derives from a UUID: they are written into SQL.
func (t Target) check() error {
	if t.Company == uuid.Nil {
		return errors.New("migrate: company target without a company id")
	}
	if !plainIdent.MatchString(t.Schema) || !plainIdent.MatchString(t.Role) {
		return fmt.Errorf("migrate: company %s: schema %q or role %q is not a plain identifier", t.Company, t.Schema, t.Role)
	}
	return nil
}

// prepare creates the company's role and schema when missing. The app
// role may become the company role (SET LOCAL ROLE) but, being
// NOINHERIT, holds none of its rights outside that.
func (m *Migrator) prepare(ctx context.Context, tx pgx.Tx, t Target) error {
	for _, stmt := range []string{
		fmt.Sprintf(`DO $$ BEGIN
			IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '%[1]s') THEN CREATE ROLE %[1]s NOLOGIN; END IF;
		END $$`, t.Role),
		fmt.Sprintf("GRANT %s TO %s", t.Role, m.roles.App),
		fmt.Sprintf("CREATE SCHEMA IF NOT EXISTS %s AUTHORIZATION %s", t.Schema, m.roles.Owner),
		fmt.Sprintf("REVOKE ALL ON SCHEMA %s FROM PUBLIC", t.Schema),
		fmt.Sprintf("GRANT USAGE ON SCHEMA %s TO %s", t.Schema, t.Role),
	} {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("prepare company %s: %w", t.Company, err)
		}
	}
	return nil
}

// secure applies the tenancy rules to every table of the company schema,
// whichever migration made it: owned by the owner role, row-level
// security enabled and forced (the owner is bound too), a restrictive
// policy on company_id with its permissive twin, nothing for PUBLIC, and
// data rights for the company's role alone. A table without company_id
// is refused: its rows could not be tied to the company.
func (m *Migrator) secure(ctx context.Context, tx pgx.Tx, t Target) error {
	rows, err := tx.Query(ctx, `SELECT c.relname, EXISTS (
			SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'company_id' AND NOT a.attisdropped
				AND a.atttypid = 'uuid'::regtype AND a.attnotnull)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY c.relname`, t.Schema)
	if err != nil {
		return fmt.Errorf("secure company %s: %w", t.Company, err)
	}
	type table struct {
		name      string
		companyID bool
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (table, error) {
		var tb table
		return tb, r.Scan(&tb.name, &tb.companyID)
	})
	if err != nil {
		return fmt.Errorf("secure company %s: %w", t.Company, err)
	}
	var stmts []string
	for _, tb := range tables {
		if !tb.companyID {
			return fmt.Errorf("secure company %s: table %s has no company_id uuid NOT NULL column", t.Company, tb.name)
		}
		q := pgx.Identifier{t.Schema, tb.name}.Sanitize()
		stmts = append(stmts,
			fmt.Sprintf("ALTER TABLE %s OWNER TO %s", q, m.roles.Owner),
			fmt.Sprintf("ALTER TABLE %s ENABLE ROW LEVEL SECURITY", q),
			fmt.Sprintf("ALTER TABLE %s FORCE ROW LEVEL SECURITY", q),
			fmt.Sprintf("DROP POLICY IF EXISTS tenant ON %s", q),
			// current_setting(…, true) is NULL when unset, and NULL
			// matches nothing: no company set, no rows.
			fmt.Sprintf(`CREATE POLICY tenant ON %s AS RESTRICTIVE FOR ALL TO PUBLIC
				USING (company_id = nullif(current_setting('app.company_id', true), '')::uuid)
				WITH CHECK (company_id = nullif(current_setting('app.company_id', true), '')::uuid)`, q),
			// A restrictive policy alone grants nothing; this permissive
			// one lets the same rows through.
			fmt.Sprintf("DROP POLICY IF EXISTS tenant_rows ON %s", q),
			fmt.Sprintf(`CREATE POLICY tenant_rows ON %s FOR ALL TO PUBLIC
				USING (company_id = nullif(current_setting('app.company_id', true), '')::uuid)`, q),
			fmt.Sprintf("REVOKE ALL ON %s FROM PUBLIC", q),
			fmt.Sprintf("GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO %s", q, t.Role),
		)
	}
	// Sequences behind serial columns: the company role draws from them.
	stmts = append(stmts,
		fmt.Sprintf("REVOKE ALL ON ALL SEQUENCES IN SCHEMA %s FROM PUBLIC", t.Schema),
		fmt.Sprintf("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %s TO %s", t.Schema, t.Role),
	)
	for _, stmt := range stmts {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("secure company %s: %w", t.Company, err)
		}
	}
	return nil
}
