package transfer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/vanta-ledger/vanta/internal/documents"
	"github.com/vanta-ledger/vanta/internal/migrate"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// Member is who belonged to the company on the source appliance.
type Member struct {
	Email string `json:"email"`
	Role  string `json:"role"`
}

// companyRow is the company's row of the register, as a bundle carries
// it: no key, no status.
type companyRow struct {
	Name               string          `json:"company_name"`
	RegistrationNumber string          `json:"registration_number"`
	TaxID              string          `json:"tax_id"`
	Industry           string          `json:"industry"`
	Address            string          `json:"address"`
	Phone              string          `json:"phone"`
	Email              string          `json:"email"`
	Settings           json.RawMessage `json:"settings"`
	CreatedAt          time.Time       `json:"created_at"`
}

// ExportSummary counts what an export wrote.
type ExportSummary struct {
	Company      uuid.UUID      `json:"company_id"`
	Tables       map[string]int `json:"tables"` // rows per table
	AuditRecords int            `json:"audit_records"`
	Documents    map[string]int `json:"documents"` // documents per collection
	Files        int            `json:"files"`
}

// Export writes the bundle of an active company to w, its data key
// encrypted to recipient. The PostgreSQL part is one snapshot (a
// repeatable-read transaction); the document store and files are read
// after it, as they are then.
func Export(ctx context.Context, st Stores, id uuid.UUID, recipient age.Recipient, w io.Writer) (ExportSummary, error) {
	sum := ExportSummary{Company: id, Tables: map[string]int{}, Documents: map[string]int{}}
	sc, err := tenancy.OperatorScope(ctx, st.Admin, id)
	if err != nil {
		return sum, err
	}
	kr, err := st.Keyring()
	if err != nil {
		return sum, fmt.Errorf("export company %s: %w", id, err)
	}
	key, err := documents.CompanyKeys{DB: st.Admin, Root: kr}.DataKey(ctx, sc)
	if err != nil {
		return sum, fmt.Errorf("export company %s: %w", id, err)
	}
	defer key.Destroy()
	h := Header{Format: FormatVersion, Company: id, SourceAppliance: st.Appliance,
		CompanyMigration: st.Migrator.Registry().Head(migrate.Company), Created: time.Now().UTC().Truncate(time.Second)}
	bw, err := NewWriter(w, h, key, recipient)
	if err != nil {
		return sum, err
	}
	err = pgx.BeginTxFunc(ctx, st.Admin, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		return exportRows(ctx, tx, bw, id, &sum)
	})
	if err != nil {
		return sum, fmt.Errorf("export company %s: %w", id, err)
	}
	if err := exportMongo(ctx, st, sc, bw, &sum); err != nil {
		return sum, fmt.Errorf("export company %s: %w", id, err)
	}
	if err := exportFiles(st, sc, bw, &sum); err != nil {
		return sum, fmt.Errorf("export company %s: %w", id, err)
	}
	return sum, bw.Close()
}

func writeJSONSection(bw *Writer, s Section, v any) error {
	sw, err := bw.Section(s)
	if err != nil {
		return err
	}
	return json.NewEncoder(sw).Encode(v)
}

func exportRows(ctx context.Context, tx pgx.Tx, bw *Writer, id uuid.UUID, sum *ExportSummary) error {
	var c companyRow
	if err := tx.QueryRow(ctx, `SELECT name, registration_number, tax_id, industry, address, phone, email, settings, created_at
		FROM vanta.companies WHERE id = $1`, id).Scan(&c.Name, &c.RegistrationNumber, &c.TaxID, &c.Industry, &c.Address, &c.Phone,
		&c.Email, &c.Settings, &c.CreatedAt); err != nil {
		return fmt.Errorf("company row: %w", err)
	}
	if err := writeJSONSection(bw, Section{Kind: KindCompany, Name: "company"}, c); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `SELECT u.email, m.role FROM auth.memberships m JOIN auth.users u ON u.id = m.user_id
		WHERE m.company_id = $1 ORDER BY u.email`, id)
	if err != nil {
		return fmt.Errorf("members: %w", err)
	}
	members, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Member])
	if err != nil {
		return fmt.Errorf("members: %w", err)
	}
	if err := writeJSONSection(bw, Section{Kind: KindMembers, Name: "members"}, members); err != nil {
		return err
	}
	schema := tenancy.MigrationTarget(id).Schema
	tables, err := companyTables(ctx, tx, schema)
	if err != nil {
		return err
	}
	for _, t := range tables {
		sw, err := bw.Section(Section{Kind: KindTable, Name: t.name, Columns: t.columns})
		if err != nil {
			return err
		}
		tag, err := tx.Conn().PgConn().CopyTo(ctx, sw, "COPY "+pgx.Identifier{schema, t.name}.Sanitize()+" ("+columnList(t.columns)+") TO STDOUT")
		if err != nil {
			return fmt.Errorf("copy %s: %w", t.name, err)
		}
		sum.Tables[t.name] = int(tag.RowsAffected())
	}
	sw, err := bw.Section(Section{Kind: KindAudit, Name: id.String(), Columns: auditColumns})
	if err != nil {
		return err
	}
	// The chain name is the company's UUID: hex digits and dashes only.
	tag, err := tx.Conn().PgConn().CopyTo(ctx, sw, "COPY (SELECT "+columnList(auditColumns)+" FROM audit.records WHERE chain = '"+
		id.String()+"' ORDER BY seq) TO STDOUT")
	if err != nil {
		return fmt.Errorf("copy audit chain: %w", err)
	}
	sum.AuditRecords = int(tag.RowsAffected())
	return nil
}

func columnList(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = pgx.Identifier{c}.Sanitize()
	}
	return strings.Join(q, ", ")
}

func exportMongo(ctx context.Context, st Stores, sc tenancy.Scope, bw *Writer, sum *ExportSummary) error {
	db := st.Mongo.Database(sc.MongoDatabase())
	for _, coll := range documents.Collections() {
		sw, err := bw.Section(Section{Kind: KindCollection, Name: coll})
		if err != nil {
			return err
		}
		cur, err := db.Collection(coll).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
		if err != nil {
			return fmt.Errorf("read %s: %w", coll, err)
		}
		n := 0
		for cur.Next(ctx) {
			if _, err := sw.Write(cur.Current); err != nil {
				cur.Close(ctx)
				return err
			}
			n++
		}
		err = cur.Err()
		cur.Close(ctx)
		if err != nil {
			return fmt.Errorf("read %s: %w", coll, err)
		}
		sum.Documents[coll] = n
	}
	return nil
}

func exportFiles(st Stores, sc tenancy.Scope, bw *Writer, sum *ExportSummary) error {
	root := sc.Files(st.Files)
	err := filepath.WalkDir(filepath.Join(root, "documents"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !documents.FilePath(rel) { // an intake's temporary file, or a stranger
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sw, err := bw.Section(Section{Kind: KindFile, Name: rel})
		if err != nil {
			return err
		}
		if _, err := io.Copy(sw, f); err != nil {
			return fmt.Errorf("file %s: %w", rel, err)
		}
		sum.Files++
		return nil
	})
	return err
}
