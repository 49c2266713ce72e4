package tenancy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/vanta-ledger/vanta/internal/audit"
	"github.com/vanta-ledger/vanta/internal/migrate"
	"github.com/vanta-ledger/vanta/internal/seal"
)

// Keys makes and opens company data keys: the root keyring.
type Keys interface {
	NewDataKey(owner string) ([]byte, error)
	DataKey(owner string, wrapped []byte) (*seal.DataKey, error)
}

// Provisioner creates a company in every store at once: its PostgreSQL
// schema, role and policies, its data key, its MongoDB database, its Redis
// ACL user, its files directory and its audit chain. Each step checks
// before it acts, so Resume finishes a creation that was cut short.
type Provisioner struct {
	DB       *pgxpool.Pool // a role that may create roles and schemas
	Mongo    *mongo.Client
	Redis    *redis.Client // a user allowed ACL SETUSER and ACL SAVE
	FilesDir string        // $DATA/companies
	Keys     Keys
	Migrator *migrate.Migrator // runs the company line for a new company
}

// Actor is who asked, for the audit record.
type Actor struct {
	UserID string
	Role   string
	IP     string
}

// MongoDatabase is a company's MongoDB database name.
func (s Scope) MongoDatabase() string {
	return "vanta_c_" + strings.ReplaceAll(s.company.String(), "-", "")
}

// RedisUser is a company's Redis ACL user; RedisPrefix its key space.
func (s Scope) RedisUser() string   { return schemaOf(s.company) }
func (s Scope) RedisPrefix() string { return RedisPrefixOf(s.company) }

// Files is a company's files directory under root.
func (s Scope) Files(root string) string { return filepath.Join(root, s.company.String()) }

// Create validates c and provisions the company everywhere. The company
// row and its audit records commit with the PostgreSQL objects; the other
// stores follow, and the status turns active when all are ready.
func (p *Provisioner) Create(ctx context.Context, c Company, by Actor) (Company, error) {
	if err := c.Normalize(); err != nil {
		return Company{}, err
	}
	if c.ID == uuid.Nil {
		c.ID = uuid.New()
	}
	c.Status = StatusProvisioning
	scope := Scope{company: c.ID}
	dek, err := p.Keys.NewDataKey(c.ID.String())
	if err != nil {
		return Company{}, fmt.Errorf("create company: data key: %w", err)
	}
	secret := make([]byte, 24)
	if _, err := rand.Read(secret); err != nil {
		return Company{}, err
	}
	key, err := p.Keys.DataKey(c.ID.String(), dek)
	if err != nil {
		return Company{}, err
	}
	sealedSecret, err := key.Seal("redis-password", c.ID.String(), []byte(hex.EncodeToString(secret)))
	key.Destroy()
	if err != nil {
		return Company{}, err
	}
	settings, _ := json.Marshal(c.Settings)
	err = pgx.BeginFunc(ctx, p.DB, func(tx pgx.Tx) error {
		if _, err := Provision(ctx, tx, p.Migrator, c.ID); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `INSERT INTO vanta.companies
			(id, name, registration_number, tax_id, industry, address, phone, email, settings, status, dek, redis_secret)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING created_at`,
			c.ID, c.Name, c.RegistrationNumber, c.TaxID, c.Industry, c.Address, c.Phone, c.Email, settings, c.Status, dek, sealedSecret,
		).Scan(&c.CreatedAt)
		if err != nil {
			return fmt.Errorf("insert company: %w", taxIDConflict(err))
		}
		entry := audit.Entry{Actor: by.UserID, Role: by.Role, IP: by.IP, Action: "company.create", Resource: "company/" + c.ID.String(),
			Outcome: "ok", Details: map[string]any{"name": c.Name}}
		if _, err := audit.Append(ctx, tx, "system", entry); err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, c.ID.String(), entry)
		return err
	})
	if err != nil {
		return Company{}, fmt.Errorf("create company %s: %w", c.ID, err)
	}
	if err := p.finish(ctx, scope, sealedSecret, dek); err != nil {
		return c, fmt.Errorf("create company %s: %w (it stays %s; Resume finishes it)", c.ID, err, StatusProvisioning)
	}
	c.Status = StatusActive
	return c, nil
}

// Resume finishes a company left in provisioning.
func (p *Provisioner) Resume(ctx context.Context, id uuid.UUID) error {
	var dek, sealedSecret []byte
	var status string
	err := p.DB.QueryRow(ctx, "SELECT status, dek, redis_secret FROM vanta.companies WHERE id = $1", id).Scan(&status, &dek, &sealedSecret)
	if err != nil {
		return fmt.Errorf("resume company %s: %w", id, err)
	}
	if status != StatusProvisioning {
		return nil
	}
	err = pgx.BeginFunc(ctx, p.DB, func(tx pgx.Tx) error {
		_, err := Provision(ctx, tx, p.Migrator, id)
		return err
	})
	if err != nil {
		return err
	}
	return p.finish(ctx, Scope{company: id}, sealedSecret, dek)
}

// finish prepares the stores outside PostgreSQL, then marks the company
// active.
func (p *Provisioner) finish(ctx context.Context, s Scope, sealedSecret, dek []byte) error {
	key, err := p.Keys.DataKey(s.company.String(), dek)
	if err != nil {
		return err
	}
	secret, err := key.Open("redis-password", s.company.String(), sealedSecret)
	key.Destroy()
	if err != nil {
		return fmt.Errorf("open redis password: %w", err)
	}
	steps := []struct {
		name string
		fn   func() error
	}{
		{"mongodb", func() error { return p.provisionMongo(ctx, s) }},
		{"redis", func() error { return p.provisionRedis(ctx, s, string(secret)) }},
		{"files", func() error { return os.MkdirAll(filepath.Join(s.Files(p.FilesDir), "documents"), 0o700) }},
	}
	for _, step := range steps {
		if err := step.fn(); err != nil {
			return fmt.Errorf("%s: %w", step.name, err)
		}
	}
	_, err = p.DB.Exec(ctx, "UPDATE vanta.companies SET status = $2 WHERE id = $1 AND status = $3", s.company, StatusActive, StatusProvisioning)
	return err
}

// provisionMongo creates the company's database, collections and indexes.
func (p *Provisioner) provisionMongo(ctx context.Context, s Scope) error {
	db := p.Mongo.Database(s.MongoDatabase())
	indexes := map[string][]mongo.IndexModel{
		"documents":   {{Keys: bson.D{{Key: "status", Value: 1}, {Key: "created_at", Value: -1}}}},
		"analyses":    {{Keys: bson.D{{Key: "document_id", Value: 1}}}},
		"extractions": {{Keys: bson.D{{Key: "document_id", Value: 1}}}},
	}
	for coll, models := range indexes {
		err := db.CreateCollection(ctx, coll)
		var ce mongo.CommandError
		if err != nil && !(errors.As(err, &ce) && ce.Name == "NamespaceExists") {
			return fmt.Errorf("collection %s: %w", coll, err)
		}
		if _, err := db.Collection(coll).Indexes().CreateMany(ctx, models, options.CreateIndexes()); err != nil {
			return fmt.Errorf("indexes of %s: %w", coll, err)
		}
	}
	return nil
}

// provisionRedis creates the company's ACL user, confined to its prefix
// and to data commands, and saves the ACL file so it survives a restart.
func (p *Provisioner) provisionRedis(ctx context.Context, s Scope, password string) error {
	prefix := s.RedisPrefix()
	args := []any{"ACL", "SETUSER", s.RedisUser(), "reset", "on", ">" + password,
		"~" + prefix + "*", "&" + prefix + "*", "+@all", "-@admin", "-@dangerous", "-@scripting"}
	if err := p.Redis.Do(ctx, args...).Err(); err != nil {
		return fmt.Errorf("acl setuser: %w", err)
	}
	if err := p.Redis.Do(ctx, "ACL", "SAVE").Err(); err != nil {
		return fmt.Errorf("acl save: %w", err)
	}
	return nil
}

// RedisPassword returns a company's Redis ACL password, for connecting as
// its user.
func (p *Provisioner) RedisPassword(ctx context.Context, s Scope) (string, error) {
	var dek, sealedSecret []byte
	if err := p.DB.QueryRow(ctx, "SELECT dek, redis_secret FROM vanta.companies WHERE id = $1", s.company).Scan(&dek, &sealedSecret); err != nil {
		return "", err
	}
	key, err := p.Keys.DataKey(s.company.String(), dek)
	if err != nil {
		return "", err
	}
	defer key.Destroy()
	secret, err := key.Open("redis-password", s.company.String(), sealedSecret)
	return string(secret), err
}

// Update changes a company's configuration; fields left nil keep their
// value. The audit record commits with the change.
func Update(ctx context.Context, db *pgxpool.Pool, s Scope, patch CompanyPatch, by Actor) (Company, error) {
	var c Company
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT id, name, registration_number, tax_id, industry, address, phone, email, settings, status, created_at
			FROM vanta.companies WHERE id = $1 FOR UPDATE`, s.company).Scan(&c.ID, &c.Name, &c.RegistrationNumber, &c.TaxID,
			&c.Industry, &c.Address, &c.Phone, &c.Email, &c.Settings, &c.Status, &c.CreatedAt)
		if err != nil {
			return err
		}
		patch.apply(&c)
		if err := c.Normalize(); err != nil {
			return err
		}
		settings, _ := json.Marshal(c.Settings)
		// A twin from before the rule (tax_id_twin) keeps its mark only
		// while its PIN stays the same: a new PIN must be unique.
		if _, err := tx.Exec(ctx, `UPDATE vanta.companies SET name = $2, registration_number = $3, tax_id = $4, industry = $5,
			address = $6, phone = $7, email = $8, settings = $9, tax_id_twin = (tax_id_twin AND tax_id = $4) WHERE id = $1`,
			c.ID, c.Name, c.RegistrationNumber, c.TaxID, c.Industry, c.Address, c.Phone, c.Email, settings); err != nil {
			return fmt.Errorf("update company %s: %w", c.ID, taxIDConflict(err))
		}
		_, err = audit.Append(ctx, tx, s.company.String(), audit.Entry{Actor: by.UserID, Role: by.Role, IP: by.IP,
			Action: "company.update", Resource: "company/" + s.company.String(), Outcome: "ok", Details: patch.fields()})
		return err
	})
	return c, err
}

// CompanyPatch is a partial update; nil fields are kept.
type CompanyPatch struct {
	Name               *string   `json:"company_name"`
	RegistrationNumber *string   `json:"registration_number"`
	TaxID              *string   `json:"tax_id"`
	Industry           *string   `json:"industry"`
	Address            *string   `json:"address"`
	Phone              *string   `json:"phone"`
	Email              *string   `json:"email"`
	Settings           *Settings `json:"settings"`
}

func (p CompanyPatch) apply(c *Company) {
	for _, f := range []struct {
		src *string
		dst *string
	}{{p.Name, &c.Name}, {p.RegistrationNumber, &c.RegistrationNumber}, {p.TaxID, &c.TaxID}, {p.Industry, &c.Industry},
		{p.Address, &c.Address}, {p.Phone, &c.Phone}, {p.Email, &c.Email}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	if p.Settings != nil {
		c.Settings = *p.Settings
	}
}

// fields names what the patch changes, for the audit record.
func (p CompanyPatch) fields() map[string]any {
	out := map[string]any{}
	b, _ := json.Marshal(p)
	_ = json.Unmarshal(b, &out)
	for k, v := range out {
		if v == nil {
			delete(out, k)
		}
	}
	return out
}

// Archive hides a company: its data stays, encrypted, and nobody reaches
// it. With purge, its data key is destroyed first (crypto-shredding: every
// ciphertext of it becomes unreadable, backups included), then its
// schema, role, document database, Redis user and files are dropped.
func (p *Provisioner) Archive(ctx context.Context, s Scope, purge bool, by Actor) error {
	action := "company.archive"
	if purge {
		action = "company.purge"
	}
	err := pgx.BeginFunc(ctx, p.DB, func(tx pgx.Tx) error {
		set := "status = 'archived'"
		if purge {
			set += ", dek = NULL, redis_secret = NULL"
		}
		tag, err := tx.Exec(ctx, "UPDATE vanta.companies SET "+set+" WHERE id = $1", s.company)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("archive company %s: %w", s.company, pgx.ErrNoRows)
		}
		if purge {
			for _, stmt := range []string{
				"DROP SCHEMA IF EXISTS " + s.schema() + " CASCADE",
				"DROP ROLE IF EXISTS " + s.role(),
			} {
				if _, err := tx.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("purge company %s: %w", s.company, err)
				}
			}
		}
		if purge { // nothing is left to migrate
			if _, err := tx.Exec(ctx, "DELETE FROM vanta.company_migrations WHERE company_id = $1", s.company); err != nil {
				return fmt.Errorf("purge company %s: %w", s.company, err)
			}
		}
		entry := audit.Entry{Actor: by.UserID, Role: by.Role, IP: by.IP, Action: action, Resource: "company/" + s.company.String(), Outcome: "ok"}
		if _, err := audit.Append(ctx, tx, "system", entry); err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, s.company.String(), entry)
		return err
	})
	if err != nil || !purge {
		return err
	}
	if err := p.Mongo.Database(s.MongoDatabase()).Drop(ctx); err != nil {
		return fmt.Errorf("purge documents of %s: %w", s.company, err)
	}
	if err := p.Redis.Do(ctx, "ACL", "DELUSER", s.RedisUser()).Err(); err != nil {
		return fmt.Errorf("purge redis user of %s: %w", s.company, err)
	}
	if err := p.Redis.Do(ctx, "ACL", "SAVE").Err(); err != nil {
		return err
	}
	return os.RemoveAll(s.Files(p.FilesDir))
}
