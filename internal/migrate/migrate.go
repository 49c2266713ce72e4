package migrate

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Roles name the owner of every table (never used by requests) and the
// runtime role that may become a company's role.
type Roles struct {
	Owner string
	App   string
}

// Migrator applies a registry's migrations. It runs as a superuser (or a
// role that may create roles and schemas), never as the runtime role.
type Migrator struct {
	reg    *Registry
	roles  Roles
	logger *slog.Logger
}

// New returns a migrator; a nil logger logs nothing.
func New(reg *Registry, roles Roles, logger *slog.Logger) *Migrator {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Migrator{reg: reg, roles: roles, logger: logger}
}

// Registry is the migrator's registry.
func (m *Migrator) Registry() *Registry { return m.reg }

// Target is one company schema. Its names come from the tenancy package,
// which derives them from the company's UUID alone: they are plain
// identifiers, safe to write into SQL.
type Target struct {
	Company uuid.UUID
	Schema  string
	Role    string
}

// systemLock serialises whole runs (boot, status excluded) across
// processes; the key is the one the appliance has always used, so a
// replica running an older binary waits as well.
const systemLock = "SELECT pg_advisory_lock(hashtextextended('vanta.migrate', 0))"
const systemUnlock = "SELECT pg_advisory_unlock(hashtextextended('vanta.migrate', 0))"

// companyLock serialises changes to one company: boot against a
// provisioning that resumes it, two replicas against each other.
const companyLock = "SELECT pg_advisory_xact_lock(hashtextextended('vanta.migrate.company.' || $1::text, 0))"

// books are the tables that record what was applied. schema_migrations
// is the table every installed appliance already has (versions 1..11);
// its shape does not change.
const books = `
CREATE SCHEMA IF NOT EXISTS vanta;
CREATE TABLE IF NOT EXISTS vanta.schema_migrations (
	version    int PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS vanta.company_migrations (
	company_id uuid        NOT NULL,
	version    int         NOT NULL,
	name       text        NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (company_id, version)
);`

// System brings the system line to head and returns how many migrations
// it applied.
func (m *Migrator) System(ctx context.Context, db *pgxpool.Pool) (int, error) {
	c, err := db.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate system: %w", err)
	}
	defer c.Release()
	unlock, err := lock(ctx, c.Conn())
	if err != nil {
		return 0, err
	}
	defer unlock()
	return m.system(ctx, c.Conn())
}

func lock(ctx context.Context, c *pgx.Conn) (func(), error) {
	if _, err := c.Exec(ctx, systemLock); err != nil {
		return nil, fmt.Errorf("migrate: take the lock: %w", err)
	}
	return func() { _, _ = c.Exec(context.WithoutCancel(ctx), systemUnlock) }, nil
}

func (m *Migrator) system(ctx context.Context, c *pgx.Conn) (int, error) {
	if _, err := c.Exec(ctx, books); err != nil {
		return 0, fmt.Errorf("migrate system: bookkeeping tables: %w", err)
	}
	done, err := applied(ctx, c, "SELECT version FROM vanta.schema_migrations")
	if err != nil {
		return 0, fmt.Errorf("migrate system: %w", err)
	}
	n := 0
	for _, mig := range m.reg.Line(System) {
		if done[mig.Version] {
			continue
		}
		begin := time.Now()
		err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if err := run(ctx, tx, mig); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO vanta.schema_migrations (version, name) VALUES ($1, $2)", mig.Version, mig.Name)
			return err
		})
		if err != nil {
			return n, fmt.Errorf("system migration %04d %s (%s): %w", mig.Version, mig.Name, mig.Source, err)
		}
		m.logger.Info("migration applied", "line", System, "version", mig.Version, "name", mig.Name, "took_ms", time.Since(begin).Milliseconds())
		n++
	}
	return n, nil
}

// run applies one migration's SQL, then its Go step, in tx.
func run(ctx context.Context, tx pgx.Tx, mig Migration) error {
	if mig.SQL != "" {
		if _, err := tx.Exec(ctx, mig.SQL); err != nil {
			return err
		}
	}
	if mig.Go != nil {
		return mig.Go(ctx, tx)
	}
	return nil
}

func applied(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, sql string, args ...any) (map[int]bool, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, err
	}
	done := make(map[int]bool, len(versions))
	for _, v := range versions {
		done[v] = true
	}
	return done, nil
}

// CompanyTx brings one company to head inside tx, the caller's
// transaction: provisioning creates the company row and its schema in one
// commit. It creates the company's role and schema first when they are
// missing. The system line must be at head (its bookkeeping table exists).
func (m *Migrator) CompanyTx(ctx context.Context, tx pgx.Tx, t Target) (int, error) {
	if err := t.check(); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, companyLock, t.Company); err != nil {
		return 0, fmt.Errorf("migrate company %s: lock: %w", t.Company, err)
	}
	if err := m.prepare(ctx, tx, t); err != nil {
		return 0, err
	}
	done, err := applied(ctx, tx, "SELECT version FROM vanta.company_migrations WHERE company_id = $1", t.Company)
	if err != nil {
		return 0, fmt.Errorf("migrate company %s: %w", t.Company, err)
	}
	n := 0
	for _, mig := range m.reg.Line(Company) {
		if done[mig.Version] {
			continue
		}
		if err := m.step(ctx, tx, t, mig); err != nil {
			return n, err
		}
		n++
	}
	// A company at head is secured even when nothing was applied: a
	// company provisioned by an older binary gets today's policies.
	if n == 0 {
		if err := m.secure(ctx, tx, t); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// Company brings one company to head, one transaction per migration.
func (m *Migrator) Company(ctx context.Context, db *pgxpool.Pool, t Target) (int, error) {
	c, err := db.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate company %s: %w", t.Company, err)
	}
	defer c.Release()
	return m.company(ctx, c.Conn(), t)
}

func (m *Migrator) company(ctx context.Context, c *pgx.Conn, t Target) (int, error) {
	if err := t.check(); err != nil {
		return 0, err
	}
	var done map[int]bool
	err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, companyLock, t.Company); err != nil {
			return err
		}
		if err := m.prepare(ctx, tx, t); err != nil {
			return err
		}
		var err error
		done, err = applied(ctx, tx, "SELECT version FROM vanta.company_migrations WHERE company_id = $1", t.Company)
		if err != nil {
			return err
		}
		return m.secure(ctx, tx, t)
	})
	if err != nil {
		return 0, fmt.Errorf("migrate company %s: %w", t.Company, err)
	}
	n := 0
	for _, mig := range m.reg.Line(Company) {
		if done[mig.Version] {
			continue
		}
		err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, companyLock, t.Company); err != nil {
				return err
			}
			// Another process may have applied it while we waited.
			var again bool
			if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM vanta.company_migrations WHERE company_id = $1 AND version = $2)",
				t.Company, mig.Version).Scan(&again); err != nil || again {
				return err
			}
			if err := m.step(ctx, tx, t, mig); err != nil {
				return err
			}
			n++
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Companies brings every target to head under the system lock, calling
// progress after each company. It stops at the first failure: a company
// behind head would run code that expects tables it does not have.
func (m *Migrator) Companies(ctx context.Context, db *pgxpool.Pool, targets []Target, progress func(done, applied int)) error {
	c, err := db.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate companies: %w", err)
	}
	defer c.Release()
	unlock, err := lock(ctx, c.Conn())
	if err != nil {
		return err
	}
	defer unlock()
	total := 0
	for i, t := range targets {
		n, err := m.company(ctx, c.Conn(), t)
		total += n
		if err != nil {
			return err
		}
		if progress != nil {
			progress(i+1, total)
		}
	}
	return nil
}

// step applies one company migration in tx and secures the schema.
func (m *Migrator) step(ctx context.Context, tx pgx.Tx, t Target, mig Migration) error {
	begin := time.Now()
	// SET LOCAL: the search_path ends with the transaction and never
	// leaks to the pooled connection's next user. Company SQL is written
	// unqualified; it lands in this company's schema alone.
	if _, err := tx.Exec(ctx, "SELECT set_config('search_path', $1, true), set_config('app.company_id', $2, true)", t.Schema, t.Company.String()); err != nil {
		return fmt.Errorf("company %s migration %04d: %w", t.Company, mig.Version, err)
	}
	if err := run(ctx, tx, mig); err != nil {
		return fmt.Errorf("company %s migration %04d %s (%s): %w", t.Company, mig.Version, mig.Name, mig.Source, err)
	}
	if _, err := tx.Exec(ctx, "SELECT set_config('search_path', 'pg_catalog', true)"); err != nil {
		return err
	}
	if err := m.secure(ctx, tx, t); err != nil {
		return fmt.Errorf("company %s migration %04d %s (%s): %w", t.Company, mig.Version, mig.Name, mig.Source, err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO vanta.company_migrations (company_id, version, name) VALUES ($1, $2, $3)", t.Company, mig.Version, mig.Name); err != nil {
		return fmt.Errorf("company %s migration %04d: record: %w", t.Company, mig.Version, err)
	}
	m.logger.Debug("migration applied", "line", Company, "company", t.Company, "version", mig.Version, "name", mig.Name, "took_ms", time.Since(begin).Milliseconds())
	return nil
}
