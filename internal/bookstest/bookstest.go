// Package bookstest gives the package tests of the books (ledger,
// invoicing, reports, interchange, statements) a real PostgreSQL whose
// system line is migrated once into a template, and per test a database
// of its own with companies provisioned by the real migrator. The domain
// packages pass their own migrations in, so that a package's in-package
// tests can use it without an import cycle.
package bookstest

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vanta-ledger/vanta/internal/audit"
	"github.com/vanta-ledger/vanta/internal/migrate"
	"github.com/vanta-ledger/vanta/internal/pgtest"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// Server is one PostgreSQL with the migrated template.
type Server struct {
	pg       *pgtest.Server
	migrator *migrate.Migrator
	migrated *pgtest.Template
}

// Start starts PostgreSQL and builds the template from tenancy's and
// audit's migrations and those of sources (the books' domains, in line
// order).
func Start(sources ...migrate.Source) (*Server, error) {
	pg, err := pgtest.Start()
	if err != nil {
		return nil, err
	}
	all := append([]migrate.Source{{Name: "tenancy", FS: tenancy.Migrations}, {Name: "audit", FS: audit.Migrations}}, sources...)
	reg, err := migrate.NewRegistry(all...)
	if err != nil {
		pg.Stop()
		return nil, err
	}
	s := &Server{pg: pg, migrator: migrate.New(reg, tenancy.Roles, nil)}
	s.migrated = pg.Template(func(ctx context.Context, dsn string) error {
		db, err := pgxpool.New(ctx, dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		_, err = s.migrator.System(ctx, db)
		return err
	})
	return s, nil
}

// Stop stops PostgreSQL.
func (s *Server) Stop() { s.pg.Stop() }

// DB is one test's database: a superuser pool (provisioning, tampering,
// ANALYZE) and a pool of the runtime role, as the appliance uses.
type DB struct {
	Super *pgxpool.Pool
	App   *pgxpool.Pool
	DSN   string // the superuser's
}

// Database makes a database for the test from the template; the runtime
// pool holds at most conns connections. Both pools close with the test.
func (s *Server) Database(t testing.TB, conns int32) *DB {
	t.Helper()
	ctx := context.Background()
	name, dsn := s.migrated.Database(t)
	super, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(super.Close)
	cfg, err := pgxpool.ParseConfig(s.pg.AppDSN(name))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = conns
	app, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	return &DB{Super: super, App: app, DSN: dsn}
}

// Company provisions a new company at the head of the company line.
func (s *Server) Company(t testing.TB, db *DB) tenancy.Scope {
	t.Helper()
	ctx := context.Background()
	var sc tenancy.Scope
	err := pgx.BeginFunc(ctx, db.Super, func(tx pgx.Tx) error {
		var err error
		sc, err = tenancy.Provision(ctx, tx, s.migrator, uuid.New())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}
