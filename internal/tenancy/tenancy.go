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

	"github.com/vanta-ledger/vanta/internal/migrate"
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
//
// Entering the scope costs no round trip of its own: the three settings
// travel in the same simple-protocol message as BEGIN (pgx sends a
// BeginQuery without arguments that way), so a transaction on company
// data pays what any transaction pays. set_config('role', r, true) is SET
// LOCAL ROLE r: the grammar turns SET ROLE into the same "role" setting,
// with the same membership check, and the settings are applied left to
// right, so search_path and app.company_id are set as the company's role.
// If any of them fails (the company's role is gone), the whole message
// fails, pgx closes that connection and nothing runs outside the scope.
func InTx(ctx context.Context, db interface {
	BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error)
}, s Scope, fn func(pgx.Tx) error) error {
	if !s.Valid() {
		return ErrNoScope
	}
	tx, err := db.BeginTx(ctx, pgx.TxOptions{BeginQuery: s.beginQuery()})
	if err != nil {
		return fmt.Errorf("enter company %s: %w", s.company, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// beginQuery opens a transaction already inside the scope. Every value in
// it is derived from the UUID alone (hex digits, dashes and "company_"),
// never from input, so it can be a literal: a simple-protocol message
// takes no bind parameters, and the role could not be one anyway.
func (s Scope) beginQuery() string {
	return "BEGIN; SELECT set_config('role', '" + s.role() + "', true), set_config('search_path', '" + s.schema() +
		"', true), set_config('app.company_id', '" + s.company.String() + "', true)"
}

// Roles are the owner and runtime roles, as the migrator needs them.
var Roles = migrate.Roles{Owner: OwnerRole, App: AppRole}

// MigrationTarget is a company's schema and role, for the migrator.
func MigrationTarget(id uuid.UUID) migrate.Target {
	return migrate.Target{Company: id, Schema: schemaOf(id), Role: schemaOf(id)}
}

// Provision creates a company's schema and role and brings it to the head
// of the company line (internal/tenancy/migrations/company and every other
// domain's), inside tx; the migrator then secures every table of the
// schema: owner, forced row-level security, the tenant policies, grants to
// the company's role alone. Provisioner.Create does that and every other
// store. It is idempotent: run again, it changes nothing; interrupted, it
// is finished by the next run. It must run as a superuser or the owner.
func Provision(ctx context.Context, tx pgx.Tx, m *migrate.Migrator, id uuid.UUID) (Scope, error) {
	if id == uuid.Nil {
		return Scope{}, errors.New("tenancy: company id is nil")
	}
	if m == nil {
		return Scope{}, errors.New("tenancy: provision without a migrator")
	}
	if _, err := m.CompanyTx(ctx, tx, MigrationTarget(id)); err != nil {
		return Scope{}, fmt.Errorf("provision company %s: %w", id, err)
	}
	return Scope{company: id}, nil
}

// MigrationCompany is a company that boot brings to the head of the
// company line.
type MigrationCompany struct {
	Target migrate.Target
	Name   string
	Status string // StatusActive or StatusProvisioning
}

// MigrationCompanies lists the companies boot migrates: active ones and
// those still provisioning (an archived company is never opened again; a
// purged one has no schema), oldest first.
func MigrationCompanies(ctx context.Context, db interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}) ([]MigrationCompany, error) {
	rows, err := db.Query(ctx, "SELECT id, name, status FROM vanta.companies WHERE status IN ($1, $2) ORDER BY created_at, id",
		StatusActive, StatusProvisioning)
	if err != nil {
		return nil, fmt.Errorf("list companies to migrate: %w", err)
	}
	var out []MigrationCompany
	var id uuid.UUID
	var name, status string
	if _, err := pgx.ForEachRow(rows, []any{&id, &name, &status}, func() error {
		out = append(out, MigrationCompany{Target: MigrationTarget(id), Name: name, Status: status})
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list companies to migrate: %w", err)
	}
	return out, nil
}
