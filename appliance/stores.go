package appliance

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/vanta-ledger/vanta/internal/audit"
	"github.com/vanta-ledger/vanta/internal/auth"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// Stores are the appliance's connections to its data services, opened
// once every service is healthy and the schema is migrated.
type Stores struct {
	App   *pgxpool.Pool // the runtime role: row-level security applies
	Admin *pgxpool.Pool // the superuser: migrations and company provisioning only
	Mongo *mongo.Client
	Redis *redis.Client // the appliance's own Redis user
	Files string        // $DATA/companies
	Audit string        // $DATA/audit: MACed audit chain checkpoints
}

// Close releases every connection.
func (s *Stores) Close(ctx context.Context) {
	s.App.Close()
	s.Admin.Close()
	_ = s.Mongo.Disconnect(ctx)
}

// migration is one versioned schema change. Each runs once, in order, in
// its own transaction, recorded in vanta.schema_migrations.
type migration struct {
	version int
	name    string
	sql     string
}

func migrations() []migration {
	return []migration{
		{1, "system schema", tenancy.SystemSchema},
		{2, "audit log", audit.Schema + `
ALTER SCHEMA audit OWNER TO ` + tenancy.OwnerRole + `;
ALTER TABLE audit.records OWNER TO ` + tenancy.OwnerRole + `;
ALTER FUNCTION audit.refuse_change() OWNER TO ` + tenancy.OwnerRole + `;`},
		{3, "runtime grants", `
GRANT USAGE ON SCHEMA vanta TO ` + tenancy.AppRole + `;
GRANT SELECT ON vanta.companies TO ` + tenancy.AppRole + `;
GRANT USAGE ON SCHEMA audit TO ` + tenancy.AppRole + `;
GRANT SELECT, INSERT ON audit.records TO ` + tenancy.AppRole + `;`},
		{4, "identity", auth.Schema + `
GRANT USAGE ON SCHEMA auth TO ` + tenancy.AppRole + `;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA auth TO ` + tenancy.AppRole + `;`},
		{5, "company settings by admins", `
GRANT UPDATE (name, registration_number, tax_id, industry, address, phone, email, settings) ON vanta.companies TO ` + tenancy.AppRole + `;`},
		{6, "system keys", `
CREATE TABLE IF NOT EXISTS vanta.keys (
	id         text PRIMARY KEY,
	wrapped    bytea NOT NULL,  -- sealed by the root keyring
	created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE vanta.keys OWNER TO ` + tenancy.OwnerRole + `;
GRANT SELECT, INSERT ON vanta.keys TO ` + tenancy.AppRole + `;`},
		{7, "revocation notices", auth.Notices + `
ALTER FUNCTION auth.notify_token_revoked() OWNER TO ` + tenancy.OwnerRole + `;
ALTER FUNCTION auth.notify_session_revoked() OWNER TO ` + tenancy.OwnerRole + `;
ALTER FUNCTION auth.notify_user_changed() OWNER TO ` + tenancy.OwnerRole + `;`},
		{8, "invitations", auth.InvitationsSchema + `
GRANT SELECT, INSERT, UPDATE ON auth.invitations TO ` + tenancy.AppRole + `;`},
		{9, "self-service TOTP enrolment", auth.PendingTOTPSchema},
		{10, "one active company per KRA PIN", tenancy.TaxIDSchema + `
GRANT UPDATE (tax_id_twin) ON vanta.companies TO ` + tenancy.AppRole + `;`},
		{11, "account security: initial passwords, reset links, login throttle", auth.AccountSecuritySchema + `
GRANT SELECT, INSERT, UPDATE, DELETE ON auth.password_resets, auth.login_failures, auth.known_clients TO ` + tenancy.AppRole + `;`},
	}
}

// migrate applies what is missing, serialised by an advisory lock so that
// two API replicas starting together do not race.
func migrate(ctx context.Context, db *pgxpool.Pool, list []migration) (applied int, err error) {
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('vanta.migrate', 0))"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS vanta;
			CREATE TABLE IF NOT EXISTS vanta.schema_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return err
		}
		for _, m := range list {
			var done bool
			if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM vanta.schema_migrations WHERE version = $1)", m.version).Scan(&done); err != nil {
				return err
			}
			if done {
				continue
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO vanta.schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
				return err
			}
			applied++
		}
		return nil
	})
	return applied, err
}

// openStores connects to every data service and migrates the schema.
func (a *Appliance) openStores(ctx context.Context) (*Stores, error) {
	superPass, err := readSecret(a.layout, "postgres-superuser")
	if err != nil {
		return nil, err
	}
	appPass, err := readSecret(a.layout, "postgres-app")
	if err != nil {
		return nil, err
	}
	pool := func(user, pass string, max int32) (*pgxpool.Pool, error) {
		cfg, err := pgxpool.ParseConfig(a.catalog.postgresDSN(user, pass, pgDatabase))
		if err != nil {
			return nil, err
		}
		cfg.MaxConns = max
		return pgxpool.NewWithConfig(ctx, cfg)
	}
	admin, err := pool(pgSuperuser, superPass, 4)
	if err != nil {
		return nil, fmt.Errorf("connect as superuser: %w", err)
	}
	begin := time.Now()
	n, err := migrate(ctx, admin, migrations())
	if err != nil {
		admin.Close()
		return nil, err
	}
	a.logger.Info("schema migrated", "applied", n, "took_ms", time.Since(begin).Milliseconds())
	app, err := pool(pgAppRole, appPass, 20)
	if err != nil {
		admin.Close()
		return nil, fmt.Errorf("connect as the runtime role: %w", err)
	}
	mc, err := mongo.Connect(options.Client().ApplyURI(a.catalog.mongoURI()))
	if err != nil {
		admin.Close()
		app.Close()
		return nil, err
	}
	return &Stores{App: app, Admin: admin, Mongo: mc, Redis: a.redis, Files: a.layout.Path("companies"), Audit: a.layout.Path("audit")}, nil
}
