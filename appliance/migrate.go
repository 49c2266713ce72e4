package appliance

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vanta-ledger/vanta/internal/alerts"
	"github.com/vanta-ledger/vanta/internal/audit"
	"github.com/vanta-ledger/vanta/internal/auth"
	"github.com/vanta-ledger/vanta/internal/interchange"
	"github.com/vanta-ledger/vanta/internal/invoicing"
	"github.com/vanta-ledger/vanta/internal/jobs"
	"github.com/vanta-ledger/vanta/internal/ledger"
	"github.com/vanta-ledger/vanta/internal/migrate"
	"github.com/vanta-ledger/vanta/internal/seal"
	"github.com/vanta-ledger/vanta/internal/security"
	"github.com/vanta-ledger/vanta/internal/tenancy"
	"github.com/vanta-ledger/vanta/internal/trends"
)

// Migrations is every domain's migrations in one registry. A domain with
// SQL of its own adds its embedded folder here.
func Migrations() (*migrate.Registry, error) {
	reg, err := migrate.NewRegistry(
		migrate.Source{Name: "tenancy", FS: tenancy.Migrations},
		migrate.Source{Name: "audit", FS: audit.Migrations},
		migrate.Source{Name: "auth", FS: auth.Migrations},
		migrate.Source{Name: "seal", FS: seal.Migrations},
		migrate.Source{Name: "ledger", FS: ledger.Migrations},
		migrate.Source{Name: "invoicing", FS: invoicing.Migrations},
		migrate.Source{Name: "interchange", FS: interchange.Migrations},
		migrate.Source{Name: "jobs", Steps: jobs.Migrations()},
		migrate.Source{Name: "trends", FS: trends.Migrations},
		migrate.Source{Name: "security", FS: security.Migrations},
		migrate.Source{Name: "alerts", FS: alerts.Migrations},
	)
	if err != nil {
		return nil, err
	}
	if extraMigrations == nil {
		return reg, nil
	}
	extra, err := extraMigrations()
	if err != nil {
		return nil, err
	}
	return reg.With(extra...)
}

// extraMigrations is nil in every build the appliance ships. A build with
// the vantatest tag (migrate_testhook.go, only the integration tests make
// one) sets it so that a test can add a company migration after companies
// exist and watch boot bring them all to it.
var extraMigrations func() ([]migrate.Migration, error)

// TestCompanyMigrationsEnv names the directory of extra migrations
// (DIR/migrations/company/NNNN_name.sql) that a vantatest build reads. A
// shipped binary ignores it.
const TestCompanyMigrationsEnv = "VANTA_TEST_COMPANY_MIGRATIONS"

// migrationProgressEvery bounds how often boot logs progress through many
// companies.
const migrationProgressEvery = 5 * time.Second

// migrateAll brings the system line to head, then every active or
// provisioning company, logging progress. A company left behind head
// fails the boot's store opening: code of this version would meet tables
// of an older one.
func (a *Appliance) migrateAll(ctx context.Context, admin *pgxpool.Pool) (*migrate.Migrator, error) {
	reg, err := Migrations()
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	m := migrate.New(reg, tenancy.Roles, a.logger)
	begin := time.Now()
	n, err := m.System(ctx, admin)
	if err != nil {
		return nil, err
	}
	a.logger.Info("schema migrated", "line", migrate.System, "applied", n, "head", reg.Head(migrate.System), "took_ms", time.Since(begin).Milliseconds())

	companies, err := tenancy.MigrationCompanies(ctx, admin)
	if err != nil {
		return nil, err
	}
	targets := make([]migrate.Target, len(companies))
	for i, c := range companies {
		targets[i] = c.Target
	}
	begin = time.Now()
	step := max(1, len(targets)/10)
	last := time.Now()
	progress := func(done, applied int) {
		if done == len(targets) || done%step == 0 || time.Since(last) >= migrationProgressEvery {
			last = time.Now()
			a.logger.Info("companies migrated", "progress", fmt.Sprintf("%d/%d", done, len(targets)), "applied", applied)
		}
	}
	if err := m.Companies(ctx, admin, targets, progress); err != nil {
		return nil, err
	}
	a.logger.Info("schema migrated", "line", migrate.Company, "companies", len(targets), "head", reg.Head(migrate.Company), "took_ms", time.Since(begin).Milliseconds())
	return m, nil
}

// resumeState wakes the resumer when the appliance is unsealed.
type resumeState struct {
	unsealed chan struct{}
}

func (r *resumeState) wake() {
	select {
	case r.unsealed <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// noteSealEvent is told every seal event; an unseal resumes interrupted
// provisioning.
func (a *Appliance) noteSealEvent(action string) {
	if action == "seal.unsealed" {
		a.resume.wake()
	}
}

// OnSealEvent adds fn to what is told every seal event with its details
// (the API's and the control socket's alike): the security events take
// wrong unseal shares from here. Call it before the appliance serves.
func (a *Appliance) OnSealEvent(fn func(action string, details map[string]any)) {
	a.sealWatchers = append(a.sealWatchers, fn)
}

// resumeProvisioning finishes every company left in provisioning by a
// creation that was cut short (a crash, a store down). Its PostgreSQL part
// is at head already (boot migrated it); the rest (MongoDB, Redis, files)
// needs the company's data key, so it waits for the keyring: it runs at
// every unseal, and once at start if the appliance is already unsealed.
func (a *Appliance) resumeProvisioning(ctx context.Context, st *Stores) {
	if !a.seal.Sealed() {
		a.resume.wake()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.resume.unsealed:
		}
		kr, err := a.seal.Keyring()
		if err != nil {
			continue // sealed again before we got here
		}
		companies, err := tenancy.MigrationCompanies(ctx, st.Admin)
		if err != nil {
			a.logger.Error("resume provisioning", "error", err.Error())
			continue
		}
		prov := &tenancy.Provisioner{DB: st.Admin, Mongo: st.Mongo, Redis: st.Redis, FilesDir: st.Files, Keys: kr, Migrator: st.Migrator}
		for _, c := range companies {
			if c.Status != tenancy.StatusProvisioning {
				continue
			}
			if err := prov.Resume(ctx, c.Target.Company); err != nil {
				a.logger.Error("company provisioning resumed", "company", c.Target.Company.String(), "error", err.Error())
				continue
			}
			a.logger.Info("company provisioning resumed", "company", c.Target.Company.String(), "status", tenancy.StatusActive)
		}
	}
}

// MigrationReport is `vanta migrate status`: where the system line and
// every company the boot migrates stand against this binary's heads.
type MigrationReport struct {
	System    migrate.LineStatus `json:"system"`
	Companies []CompanyMigration `json:"companies"`
	AllAtHead bool               `json:"all_at_head"`
}

// CompanyMigration is one company on the company line.
type CompanyMigration struct {
	ID     uuid.UUID `json:"company_id"`
	Name   string    `json:"name"`
	Status string    `json:"status"`
	migrate.LineStatus
}

// ErrDataDir means the data directory is not an initialised appliance's.
var ErrDataDir = errors.New("not an initialised Vanta data directory")

// ErrPostgresDown means nothing answers on the data directory's
// PostgreSQL socket.
var ErrPostgresDown = errors.New("PostgreSQL is not running")

// MigrationStatus reads the migration state of the appliance in dataDir,
// as its superuser over its PostgreSQL socket; it changes nothing and
// takes no lock.
func MigrationStatus(ctx context.Context, dataDir string) (*MigrationReport, error) {
	conn, err := ConnectSuperuser(ctx, dataDir)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	reg, err := Migrations()
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	m := migrate.New(reg, tenancy.Roles, nil)
	rep := &MigrationReport{Companies: []CompanyMigration{}}
	if rep.System, err = m.SystemStatus(ctx, conn); err != nil {
		return nil, err
	}
	rep.AllAtHead = rep.System.AtHead
	var companies []tenancy.MigrationCompany
	if rep.System.Version > 0 { // before the first boot there are no companies
		if companies, err = tenancy.MigrationCompanies(ctx, conn); err != nil {
			return nil, err
		}
	}
	ids := make([]uuid.UUID, len(companies))
	for i, c := range companies {
		ids[i] = c.Target.Company
	}
	states, err := m.CompanyStatus(ctx, conn, ids)
	if err != nil {
		return nil, err
	}
	for _, c := range companies {
		s := states[c.Target.Company]
		rep.Companies = append(rep.Companies, CompanyMigration{ID: c.Target.Company, Name: c.Name, Status: c.Status, LineStatus: s})
		rep.AllAtHead = rep.AllAtHead && s.AtHead
	}
	return rep, nil
}
