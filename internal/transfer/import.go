package transfer

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/vanta-ledger/vanta/internal/audit"
	"github.com/vanta-ledger/vanta/internal/documents"
	"github.com/vanta-ledger/vanta/internal/migrate"
	"github.com/vanta-ledger/vanta/internal/seal"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// ImportResult says what an import brought in.
type ImportResult struct {
	Company      uuid.UUID            `json:"company_id"`
	Name         string               `json:"company_name"`
	Source       string               `json:"source_appliance,omitempty"`
	Tables       map[string]int       `json:"tables"`
	AuditRecords int                  `json:"audit_records"`
	Documents    map[string]int       `json:"documents"`
	Files        int                  `json:"files"`
	Rekeyed      documents.RekeyStats `json:"rekeyed"`
	Interrupted  int                  `json:"interrupted_documents"` // unfinished on the source: failed here, to retry
	AuditChain   audit.Result         `json:"audit_chain"`
	Members      []Member             `json:"source_members"`
}

// keysNow is tenancy.Keys over the keyring of the moment.
type keysNow func() (*seal.Keyring, error)

func (k keysNow) NewDataKey(owner string) ([]byte, error) {
	kr, err := k()
	if err != nil {
		return nil, err
	}
	return kr.NewDataKey(owner)
}

func (k keysNow) DataKey(owner string, wrapped []byte) (*seal.DataKey, error) {
	kr, err := k()
	if err != nil {
		return nil, err
	}
	return kr.DataKey(owner, wrapped)
}

// Import reads a bundle from r, opened with rawKey (the company key the
// operator's identity unwrapped from it; wiped here), and makes the
// company in this appliance under a new data key. Nothing of it is left
// if the import fails: the PostgreSQL part is one transaction, and the
// document database and files directory it wrote are removed.
func Import(ctx context.Context, st Stores, r io.Reader, rawKey []byte, by tenancy.Actor) (ImportResult, error) {
	res := ImportResult{Tables: map[string]int{}, Documents: map[string]int{}}
	br, err := NewReader(r)
	if err != nil {
		return res, err
	}
	id := br.Header.Company
	res.Company, res.Source = id, br.Header.SourceAppliance
	oldKey, err := seal.ImportDataKey(id.String(), rawKey)
	if err != nil {
		return res, err
	}
	defer oldKey.Destroy()
	if err := br.Open(oldKey); err != nil {
		return res, err
	}
	if here := st.Migrator.Registry().Head(migrate.Company); here != br.Header.CompanyMigration {
		return res, &VersionError{Bundle: br.Header.CompanyMigration, Here: here}
	}
	exists := func(q interface {
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}) error {
		var found bool
		if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT FROM vanta.companies WHERE id = $1)
			OR EXISTS (SELECT FROM audit.records WHERE chain = $2)`, id, id.String()).Scan(&found); err != nil {
			return fmt.Errorf("import company %s: %w", id, err)
		}
		if found {
			return fmt.Errorf("company %s: %w", id, ErrCompanyExists)
		}
		return nil
	}
	if err := exists(st.Admin); err != nil { // before the keys are touched
		return res, err
	}
	kr, err := st.Keyring()
	if err != nil {
		return res, fmt.Errorf("import company %s: %w", id, err)
	}
	dek, err := kr.NewDataKey(id.String())
	if err != nil {
		return res, fmt.Errorf("import company %s: data key: %w", id, err)
	}
	newKey, err := kr.DataKey(id.String(), dek)
	if err != nil {
		return res, err
	}
	defer newKey.Destroy()
	secret := make([]byte, 24)
	if _, err := rand.Read(secret); err != nil {
		return res, err
	}
	sealedSecret, err := newKey.Seal("redis-password", id.String(), []byte(hex.EncodeToString(secret)))
	if err != nil {
		return res, err
	}

	var sc tenancy.Scope
	cleanup := func() {
		bg := context.WithoutCancel(ctx)
		if sc.Valid() {
			_ = st.Mongo.Database(sc.MongoDatabase()).Drop(bg)
			_ = os.RemoveAll(sc.Files(st.Files))
		}
	}
	err = pgx.BeginFunc(ctx, st.Admin, func(tx pgx.Tx) error {
		// Two imports of one bundle at once: the second waits here, then
		// finds the first's company, and touches none of its stores.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('vanta.transfer:' || $1, 0))", id.String()); err != nil {
			return err
		}
		if err := exists(tx); err != nil {
			return err
		}
		var err error
		if sc, err = tenancy.Provision(ctx, tx, st.Migrator, id); err != nil {
			return err
		}
		// What the bundle brings is loaded as it was: triggers (the
		// ledger's checks and running balances) and foreign keys are
		// not replayed, as in a restore.
		if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
			return err
		}
		schema := tenancy.MigrationTarget(id).Schema
		tables, err := companyTables(ctx, tx, schema)
		if err != nil {
			return err
		}
		names := make([]string, len(tables))
		for i, t := range tables {
			names[i] = pgx.Identifier{schema, t.name}.Sanitize()
		}
		if len(names) > 0 { // the rows provisioning seeded make way for the bundle's
			if _, err := tx.Exec(ctx, "TRUNCATE "+joinComma(names)); err != nil {
				return fmt.Errorf("clear the new schema: %w", err)
			}
		}
		// A document database or files left by an import that died.
		if err := st.Mongo.Database(sc.MongoDatabase()).Drop(ctx); err != nil {
			return fmt.Errorf("clear the document database: %w", err)
		}
		if err := os.RemoveAll(sc.Files(st.Files)); err != nil {
			return err
		}
		if err := loadBody(ctx, tx, st, sc, br, tables, dek, sealedSecret, &res); err != nil {
			return err
		}
		if res.Name == "" {
			return fmt.Errorf("%w: no company section", ErrMalformed)
		}
		docs := documents.Store{Mongo: st.Mongo, Files: st.Files}
		if res.Rekeyed, err = docs.Rekey(ctx, sc, oldKey, newKey); err != nil {
			return err
		}
		// Their jobs stayed in the source's queue: a reviewer retries them.
		if res.Interrupted, err = docs.InterruptUnfinished(ctx, sc, "the company was moved to this appliance while the document was processed: retry it"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = origin"); err != nil {
			return err
		}
		if res.AuditChain, err = audit.Verify(ctx, tx, id.String(), nil); err != nil {
			return err
		}
		if !res.AuditChain.OK {
			return fmt.Errorf("the bundle's audit chain does not verify: %s", res.AuditChain.Reason)
		}
		entry := audit.Entry{Actor: by.UserID, Role: by.Role, IP: by.IP, Action: "company.import", Resource: "company/" + id.String(),
			Outcome: "ok", Details: map[string]any{"name": res.Name, "source_appliance": res.Source, "exported_at": br.Header.Created,
				"rekeyed_documents": res.Rekeyed.Documents}}
		if _, err := audit.Append(ctx, tx, "system", entry); err != nil {
			return err
		}
		if _, err := audit.Append(ctx, tx, id.String(), entry); err != nil {
			return err
		}
		res.AuditChain.Records++
		return nil
	})
	if err != nil {
		cleanup()
		return res, fmt.Errorf("import company %s: %w", id, err)
	}
	p := tenancy.Provisioner{DB: st.Admin, Mongo: st.Mongo, Redis: st.Redis, FilesDir: st.Files, Keys: keysNow(st.Keyring), Migrator: st.Migrator}
	if err := p.Resume(ctx, id); err != nil {
		return res, fmt.Errorf("import company %s: finish (it stays provisioning; the next unseal finishes it): %w", id, err)
	}
	if res.Rekeyed.Bytes > 0 { // the storage quota counts the originals
		if err := st.Redis.IncrBy(ctx, sc.RedisPrefix()+"quota:storage", res.Rekeyed.Bytes).Err(); err != nil {
			return res, fmt.Errorf("import company %s: storage count: %w", id, err)
		}
	}
	macKey, err := seal.KeyTable{DB: st.Admin}.Key(ctx, kr, "audit-mac")
	if err != nil {
		return res, fmt.Errorf("import company %s: checkpoint: %w", id, err)
	}
	cps := audit.Checkpoints{Dir: st.Audit, Key: macKey}
	if _, err := cps.Save(ctx, st.Admin, id.String()); err != nil {
		return res, fmt.Errorf("import company %s: checkpoint: %w", id, err)
	}
	return res, nil
}

func joinComma(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(x)
	}
	return b.String()
}

// loadBody reads every section into the new company.
func loadBody(ctx context.Context, tx pgx.Tx, st Stores, sc tenancy.Scope, br *Reader, tables []table, dek, sealedSecret []byte, res *ImportResult) error {
	id := sc.Company()
	schema := tenancy.MigrationTarget(id).Schema
	byName := map[string]table{}
	for _, t := range tables {
		byName[t.name] = t
	}
	for {
		s, data, err := br.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch s.Kind {
		case KindCompany:
			var c companyRow
			if err := json.NewDecoder(data).Decode(&c); err != nil {
				return fmt.Errorf("%w: company section", ErrMalformed)
			}
			if c.Settings == nil {
				c.Settings = json.RawMessage("{}")
			}
			if _, err := tx.Exec(ctx, `INSERT INTO vanta.companies
				(id, name, registration_number, tax_id, industry, address, phone, email, settings, status, dek, redis_secret, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
				id, c.Name, c.RegistrationNumber, c.TaxID, c.Industry, c.Address, c.Phone, c.Email, c.Settings, tenancy.StatusProvisioning,
				dek, sealedSecret, c.CreatedAt); err != nil {
				return fmt.Errorf("insert company: %w", taxIDTaken(err))
			}
			res.Name = c.Name
		case KindMembers:
			if err := json.NewDecoder(data).Decode(&res.Members); err != nil {
				return fmt.Errorf("%w: members section", ErrMalformed)
			}
		case KindTable:
			t, ok := byName[s.Name]
			if !ok {
				return fmt.Errorf("%w: table %q is not in this appliance's company schema", ErrMalformed, s.Name)
			}
			for _, c := range s.Columns {
				if !slices.Contains(t.columns, c) {
					return fmt.Errorf("%w: table %s has no column %q here", ErrMalformed, s.Name, c)
				}
			}
			tag, err := tx.Conn().PgConn().CopyFrom(ctx, data, "COPY "+pgx.Identifier{schema, t.name}.Sanitize()+" ("+columnList(s.Columns)+") FROM STDIN")
			if err != nil {
				return fmt.Errorf("load %s: %w", t.name, err)
			}
			res.Tables[t.name] = int(tag.RowsAffected())
		case KindAudit:
			if s.Name != id.String() || !slices.Equal(s.Columns, auditColumns) {
				return fmt.Errorf("%w: audit chain %q", ErrMalformed, s.Name)
			}
			// Only the company's own chain goes in, whatever the rows say.
			if _, err := tx.Exec(ctx, `CREATE TEMPORARY TABLE import_audit (LIKE audit.records) ON COMMIT DROP`); err != nil {
				return err
			}
			if _, err := tx.Conn().PgConn().CopyFrom(ctx, data, "COPY import_audit ("+columnList(auditColumns)+") FROM STDIN"); err != nil {
				return fmt.Errorf("load audit chain: %w", err)
			}
			tag, err := tx.Exec(ctx, "INSERT INTO audit.records SELECT * FROM import_audit WHERE chain = $1", id.String())
			if err != nil {
				return fmt.Errorf("load audit chain: %w", err)
			}
			res.AuditRecords = int(tag.RowsAffected())
		case KindCollection:
			if !slices.Contains(documents.Collections(), s.Name) {
				return fmt.Errorf("%w: collection %q", ErrMalformed, s.Name)
			}
			n, err := loadCollection(ctx, st, sc, s.Name, data)
			if err != nil {
				return err
			}
			res.Documents[s.Name] = n
		case KindFile:
			if !documents.FilePath(s.Name) {
				return fmt.Errorf("%w: file %q", ErrMalformed, s.Name)
			}
			if err := loadFile(filepath.Join(sc.Files(st.Files), filepath.FromSlash(s.Name)), data); err != nil {
				return fmt.Errorf("file %s: %w", s.Name, err)
			}
			res.Files++
		default:
			return fmt.Errorf("%w: section kind %q", ErrMalformed, s.Kind)
		}
	}
}

// taxIDTaken is the register's refusal of a second live company with the
// same KRA PIN (its unique index companies_tax_id_active).
func taxIDTaken(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "companies_tax_id_active" {
		return tenancy.ErrTaxIDTaken
	}
	return err
}

// loadCollection inserts the section's BSON documents, a batch at a time.
func loadCollection(ctx context.Context, st Stores, sc tenancy.Scope, name string, data io.Reader) (int, error) {
	coll := st.Mongo.Database(sc.MongoDatabase()).Collection(name)
	var batch []any
	size, n := 0, 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if _, err := coll.InsertMany(ctx, batch); err != nil {
			return fmt.Errorf("load %s: %w", name, err)
		}
		n += len(batch)
		batch, size = batch[:0], 0
		return nil
	}
	for {
		var l [4]byte
		if _, err := io.ReadFull(data, l[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return n, flush()
			}
			return n, fmt.Errorf("%w: collection %s", ErrMalformed, name)
		}
		dl := binary.LittleEndian.Uint32(l[:])
		if dl < 5 || dl > 16<<20 {
			return n, fmt.Errorf("%w: collection %s: a document of %d bytes", ErrMalformed, name, dl)
		}
		doc := make([]byte, dl)
		copy(doc, l[:])
		if _, err := io.ReadFull(data, doc[4:]); err != nil {
			return n, fmt.Errorf("%w: collection %s", ErrMalformed, name)
		}
		if err := bson.Raw(doc).Validate(); err != nil {
			return n, fmt.Errorf("%w: collection %s: %v", ErrMalformed, name, err)
		}
		batch = append(batch, bson.Raw(doc))
		size += len(doc)
		if len(batch) >= 500 || size >= 4<<20 {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
}

func loadFile(path string, data io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
