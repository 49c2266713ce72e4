// Package tenancy keeps companies apart in PostgreSQL. Each company has a
// schema and a NOLOGIN role of its own; every company table carries
// company_id under a forced row-level-security policy; and every
// transaction on company data runs as that company's role with its
// search_path and app.company_id set locally, from a Scope.
//
// A Scope names exactly one company and is the only way into company data:
// store functions take one, and nothing builds a schema, role or key name
// from raw input. The names below are derived from the company's UUID, so
// they are always plain identifiers.
package tenancy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Roles of the system. The owner owns every table and is never used by
// requests; the app role logs in, is no superuser, has no BYPASSRLS, owns
// nothing, is not a member of the owner, and is NOINHERIT: it is a member
// of every company role so that it can SET ROLE, but holds none of their
// rights until it does.
const (
	OwnerRole = "vanta_owner"
	AppRole   = "vanta_app"
)

// Scope is one company, as resolved by the auth middleware from a member's
// request. Its zero value names no company and opens nothing.
type Scope struct {
	company uuid.UUID
}

// NewScope makes the scope of a company. Only the API's company middleware
// calls it, after checking that the caller may act in that company; a
// test (TestNewScopeHasOneCaller) fails the build of anything else.
func NewScope(company uuid.UUID) Scope { return Scope{company: company} }

// NewScopeForTest makes a scope in tests of other packages; its name says
// where it belongs, and the guard test refuses it outside _test.go files.
func NewScopeForTest(company uuid.UUID) Scope { return Scope{company: company} }

// Company is the scope's company id.
func (s Scope) Company() uuid.UUID { return s.company }

// Valid reports whether the scope names a company.
func (s Scope) Valid() bool { return s.company != uuid.Nil }

// schema and role names, derived only from the UUID.
func (s Scope) schema() string { return schemaOf(s.company) }
func (s Scope) role() string   { return schemaOf(s.company) }

func schemaOf(id uuid.UUID) string { return "company_" + strings.ReplaceAll(id.String(), "-", "") }

// ErrNoScope is returned when company data is touched without a company.
var ErrNoScope = errors.New("tenancy: no company scope")

// InTx runs fn in a transaction confined to the scope's company: as the
// company's role, with its schema alone on the search_path and
// app.company_id set, all with SET LOCAL semantics so that nothing
// survives on the pooled connection.
func InTx(ctx context.Context, db interface {
	BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error)
}, s Scope, fn func(pgx.Tx) error) error {
	if !s.Valid() {
		return ErrNoScope
	}
	tx, err := db.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return fmt.Errorf("begin for company %s: %w", s.company, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	// The role is an identifier and cannot be a bind parameter; it is
	// built from the UUID alone, never from input.
	if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+s.role()); err != nil {
		return fmt.Errorf("enter company %s: %w", s.company, err)
	}
	if _, err := tx.Exec(ctx, "SELECT set_config('search_path', $1, true), set_config('app.company_id', $2, true)",
		s.schema(), s.company.String()); err != nil {
		return fmt.Errorf("enter company %s: %w", s.company, err)
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// SystemSchema is the system's own schema: companies and, later, users,
// memberships and key material.
const SystemSchema = `
DO $$ BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '` + OwnerRole + `') THEN CREATE ROLE ` + OwnerRole + ` NOLOGIN; END IF;
END $$;
CREATE SCHEMA IF NOT EXISTS vanta AUTHORIZATION ` + OwnerRole + `;
CREATE TABLE IF NOT EXISTS vanta.companies (
	id                  uuid PRIMARY KEY,
	name                text NOT NULL,
	registration_number text NOT NULL DEFAULT '',
	tax_id              text NOT NULL DEFAULT '',
	industry            text NOT NULL DEFAULT '',
	address             text NOT NULL DEFAULT '',
	phone               text NOT NULL DEFAULT '',
	email               text NOT NULL DEFAULT '',
	settings            jsonb NOT NULL DEFAULT '{}',
	status              text NOT NULL DEFAULT 'provisioning' CHECK (status IN ('provisioning', 'active', 'archived')),
	dek                 bytea,  -- the company's data key, wrapped by the root keyring
	redis_secret        bytea,  -- its Redis ACL password, sealed with its data key
	created_at          timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE vanta.companies OWNER TO ` + OwnerRole + `;
`

// companyTables are the tables every company has, each with company_id.
// Later features add theirs here; Provision applies RLS to all of them.
var companyTables = []struct{ name, ddl string }{
	{"settings", `CREATE TABLE IF NOT EXISTS %[1]s.settings (
		company_id uuid NOT NULL,
		key        text NOT NULL,
		value      jsonb NOT NULL,
		PRIMARY KEY (company_id, key))`},
}

// Provision creates a company's schema, role, tables, grants and policies
// in PostgreSQL; Provisioner.Create does that and every other store.
// It is idempotent: run again, it changes nothing; interrupted, it is
// finished by the next run. It must run as a superuser or the owner.
func Provision(ctx context.Context, tx pgx.Tx, id uuid.UUID) (Scope, error) {
	if id == uuid.Nil {
		return Scope{}, errors.New("tenancy: company id is nil")
	}
	s := Scope{company: id}
	schema, role := s.schema(), s.role()
	stmts := []string{
		fmt.Sprintf(`DO $$ BEGIN
			IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '%[1]s') THEN CREATE ROLE %[1]s NOLOGIN; END IF;
		END $$`, role),
		// The app role may become the company role (SET LOCAL ROLE) but
		// does not inherit its rights outside that.
		fmt.Sprintf("GRANT %s TO %s", role, AppRole),
		fmt.Sprintf("CREATE SCHEMA IF NOT EXISTS %s AUTHORIZATION %s", schema, OwnerRole),
		fmt.Sprintf("REVOKE ALL ON SCHEMA %s FROM PUBLIC", schema),
		fmt.Sprintf("GRANT USAGE ON SCHEMA %s TO %s", schema, role),
	}
	for _, t := range companyTables {
		table := schema + "." + t.name
		stmts = append(stmts,
			fmt.Sprintf(t.ddl, schema),
			fmt.Sprintf("ALTER TABLE %s OWNER TO %s", table, OwnerRole),
			fmt.Sprintf("ALTER TABLE %s ENABLE ROW LEVEL SECURITY", table),
			fmt.Sprintf("ALTER TABLE %s FORCE ROW LEVEL SECURITY", table),
			fmt.Sprintf("DROP POLICY IF EXISTS tenant ON %s", table),
			// current_setting(…, true) is NULL when unset, and NULL
			// matches nothing: no company set, no rows.
			fmt.Sprintf(`CREATE POLICY tenant ON %s AS RESTRICTIVE FOR ALL TO PUBLIC
				USING (company_id = nullif(current_setting('app.company_id', true), '')::uuid)
				WITH CHECK (company_id = nullif(current_setting('app.company_id', true), '')::uuid)`, table),
			// A restrictive policy alone grants nothing; this permissive
			// one lets the same rows through.
			fmt.Sprintf("DROP POLICY IF EXISTS tenant_rows ON %s", table),
			fmt.Sprintf(`CREATE POLICY tenant_rows ON %s FOR ALL TO PUBLIC
				USING (company_id = nullif(current_setting('app.company_id', true), '')::uuid)`, table),
			fmt.Sprintf("REVOKE ALL ON %s FROM PUBLIC", table),
			fmt.Sprintf("GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO %s", table, role),
		)
	}
	for _, stmt := range stmts {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return Scope{}, fmt.Errorf("provision company %s: %w", id, err)
		}
	}
	return s, nil
}

// CompanyTables lists the qualified tables of a company, for checks.
func CompanyTables(s Scope) []string {
	out := make([]string, 0, len(companyTables))
	for _, t := range companyTables {
		out = append(out, s.schema()+"."+t.name)
	}
	return out
}
