// Package transfer moves one company between appliances: a logical
// export of everything the company has — the rows of every table of its
// PostgreSQL schema (COPY, in foreign-key order, from one snapshot), its
// row of the company register, its MongoDB database, its files and its
// audit chain — into one bundle, and the import of such a bundle into
// this or another appliance.
//
// The bundle (bundle.go) is encrypted with the company's own data key,
// chunk by chunk with AES-256-GCM (the AAD binds the company id, the
// purpose "company-export", the header and the chunk's place), and the
// data key travels beside it encrypted with age to the operator's
// recipient: the operator's identity opens it, nothing else does. A
// SHA-256 trailer lets the operator's tools check a bundle without keys.
// Everything streams: a company of any size passes in constant memory.
//
// Import re-keys: the company gets a new data key of this appliance; every
// sealed value and every encrypted original is opened with the bundle's
// key and sealed again with the new one, and every keyed hash (search
// terms, duplicate detection, template ids) is recomputed
// (documents.Store.Rekey). The company's audit chain is copied record for
// record (the chain's hashes are plain, so it verifies as it did), the
// import is appended to it and to the system chain, and its checkpoint is
// taken. A company id this appliance already has, or once had (its audit
// chain remains after a purge), is refused with ErrCompanyExists.
//
// Rows are loaded as they were stored, with triggers and foreign keys off
// (session_replication_role = replica), as a restore loads them: the
// ledger's running balances come with the rows rather than being posted
// again. The company schema has no sequences (its keys are UUIDs and its
// counters are rows), so there is none to advance after the load.
//
// The operator runs it over the running, unsealed appliance's control
// socket (appliance/transfer.go):
//
//	vanta company export --company ID --out FILE --recipient AGE_RECIPIENT [--data DIR] [--json]
//	vanta company import --in FILE --identity FILE [--data DIR] [--json]
//
// The identity never leaves the operator's command: it checks the bundle's
// checksum, unwraps the company key and sends the bundle with that key.
//
// Users and memberships are not carried: they are the appliance's, not
// the company's. An account has one password, second factor and sessions
// across every company it belongs to; making accounts on the target from
// the source's, or matching them by email, would hand the company to
// whoever holds that address there. The bundle lists the source's members
// (email and role) so that GOD can invite them; until then only GOD sees
// the company.
package transfer

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/vanta-ledger/vanta/internal/migrate"
	"github.com/vanta-ledger/vanta/internal/seal"
)

// Stores are the appliance's stores an export or import works on.
type Stores struct {
	Admin    *pgxpool.Pool // the superuser: reads and loads any schema
	Mongo    *mongo.Client
	Redis    *redis.Client
	Files    string // $DATA/companies
	Audit    string // $DATA/audit: checkpoints
	Migrator *migrate.Migrator
	// Keyring is the root keyring of the moment; sealed, it fails with
	// seal.ErrSealed.
	Keyring func() (*seal.Keyring, error)
	// Appliance names this appliance in a bundle's header ("" = none).
	Appliance string
}

// ErrCompanyExists is an import of a company id this appliance has, or
// had: its audit chain is still here.
var ErrCompanyExists = errors.New("transfer: this appliance already has a company with the bundle's id")

// VersionError is a bundle made at another company migration version
// than this appliance's.
type VersionError struct{ Bundle, Here int }

func (e *VersionError) Error() string {
	if e.Bundle > e.Here {
		return fmt.Sprintf("transfer: the bundle's company schema is at migration %d, this appliance's at %d: upgrade this appliance first", e.Bundle, e.Here)
	}
	return fmt.Sprintf("transfer: the bundle's company schema is at migration %d, this appliance's at %d: upgrade the source appliance and export again", e.Bundle, e.Here)
}

// auditColumns are audit.records' columns, as a bundle carries them.
var auditColumns = []string{"chain", "seq", "at", "actor", "role", "ip", "action", "resource", "outcome", "details", "prev_hash", "hash"}

// table is a table of a company schema with its columns.
type table struct {
	name    string
	columns []string
}

// companyTables lists the tables of schema with their stored columns, in
// foreign-key order: a table comes after every table it references.
func companyTables(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}, schema string) ([]table, error) {
	rows, err := q.Query(ctx, `SELECT c.table_name, array_agg(c.column_name::text ORDER BY c.ordinal_position)
		FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
		WHERE c.table_schema = $1 AND t.table_type = 'BASE TABLE' AND c.is_generated = 'NEVER'
		GROUP BY c.table_name ORDER BY c.table_name`, schema)
	if err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", schema, err)
	}
	var all []table
	var t table
	if _, err := pgx.ForEachRow(rows, []any{&t.name, &t.columns}, func() error {
		all = append(all, table{t.name, slices.Clone(t.columns)})
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", schema, err)
	}
	rows, err = q.Query(ctx, `SELECT cl.relname::text, ref.relname::text FROM pg_constraint co
		JOIN pg_class cl ON cl.oid = co.conrelid JOIN pg_class ref ON ref.oid = co.confrelid
		JOIN pg_namespace n ON n.oid = cl.relnamespace
		WHERE co.contype = 'f' AND n.nspname = $1 AND co.conrelid <> co.confrelid`, schema)
	if err != nil {
		return nil, fmt.Errorf("foreign keys of %s: %w", schema, err)
	}
	deps := map[string][]string{}
	var from, to string
	if _, err := pgx.ForEachRow(rows, []any{&from, &to}, func() error {
		deps[from] = append(deps[from], to)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("foreign keys of %s: %w", schema, err)
	}
	// Depth-first, in name order: stable from one export to the next.
	var out []table
	state := map[string]int{} // 1 visiting, 2 done
	byName := map[string]table{}
	for _, t := range all {
		byName[t.name] = t
	}
	var visit func(string) error
	visit = func(n string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("foreign keys of %s form a cycle through %s", schema, n)
		case 2:
			return nil
		}
		state[n] = 1
		for _, d := range deps[n] {
			if _, ok := byName[d]; ok {
				if err := visit(d); err != nil {
					return err
				}
			}
		}
		state[n] = 2
		out = append(out, byName[n])
		return nil
	}
	for _, t := range all {
		if err := visit(t.name); err != nil {
			return nil, err
		}
	}
	return out, nil
}
