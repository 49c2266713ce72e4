package appliance

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/vanta-ledger/vanta/internal/migrate"
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
	// Migrator runs the company line: a new company is provisioned at its
	// head (tenancy.Provisioner.Migrator).
	Migrator *migrate.Migrator
}

// Close releases every connection.
func (s *Stores) Close(ctx context.Context) {
	s.App.Close()
	s.Admin.Close()
	_ = s.Mongo.Disconnect(ctx)
}

// openStores connects to every data service and migrates the schema: the
// system line, then every company (migrate.go).
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
	migrator, err := a.migrateAll(ctx, admin)
	if err != nil {
		admin.Close()
		return nil, err
	}
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
	return &Stores{App: app, Admin: admin, Mongo: mc, Redis: a.redis, Files: a.layout.Path("companies"), Audit: a.layout.Path("audit"),
		Migrator: migrator}, nil
}
