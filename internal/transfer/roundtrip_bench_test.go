package transfer

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/seal"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// benchLines is how many journal lines BenchmarkCompanyRoundTrip moves.
var benchLines = flag.Int("transfer.lines", 200_000, "journal lines of BenchmarkCompanyRoundTrip's company (even)")

// BenchmarkCompanyRoundTrip exports a company of -transfer.lines posted
// journal lines (two per entry, written straight into its schema) to a
// file and imports it into another database: the PostgreSQL part of a
// move, end to end through the real stores.
func BenchmarkCompanyRoundTrip(b *testing.B) {
	ctx := context.Background()
	kr, err := seal.NewKeyring()
	if err != nil {
		b.Fatal(err)
	}
	defer kr.Destroy()
	keyring := func() (*seal.Keyring, error) { return kr, nil }
	src := testPG.Database(b, 4)
	sc := testPG.Company(b, src)
	id := sc.Company()
	dek, err := kr.NewDataKey(id.String())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := src.Super.Exec(ctx, "INSERT INTO vanta.companies (id, name, status, dek) VALUES ($1, 'Bench Ltd', 'active', $2)", id, dek); err != nil {
		b.Fatal(err)
	}
	testDocDB.DropOnCleanup(b, sc.MongoDatabase())
	schema := pgx.Identifier{tenancy.MigrationTarget(id).Schema}.Sanitize()
	err = pgx.BeginFunc(ctx, src.Super, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `WITH a AS (SELECT array_agg(id ORDER BY code) AS ids FROM `+schema+`.accounts),
			e AS (INSERT INTO `+schema+`.journal_entries (company_id, number, date, description, source, status, created_by, created_at, posted_at, hash)
				SELECT $1, n, DATE '2026-01-01' + (n % 365)::int, 'Bench entry ' || n, 'manual', 'posted', 'bench', now(), now(), '\x00'
				FROM generate_series(1, $2::bigint) n RETURNING id, number, date)
			INSERT INTO `+schema+`.journal_lines (company_id, entry_id, line_no, account_id, amount, currency, base_amount, date, posted)
			SELECT $1, e.id, l.no, a.ids[l.no], l.sign * (1000 + e.number), 'KES', l.sign * (1000 + e.number), e.date, true
			FROM e, a, (VALUES (1, 1), (2, -1)) AS l(no, sign)`, id, *benchLines/2)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	who, _ := age.GenerateX25519Identity()
	dir := b.TempDir()
	by := tenancy.Actor{UserID: "bench", Role: "operator"}
	for b.Loop() {
		path := filepath.Join(dir, "bench.vxp")
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		started := time.Now()
		if _, err := Export(ctx, Stores{Admin: src.Super, Mongo: testDocDB.Client, Files: b.TempDir(), Migrator: testMigrator, Keyring: keyring},
			id, who.Recipient(), f); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		exported := time.Since(started)
		fi, _ := os.Stat(path)
		raw, _ := os.ReadFile(path)
		r, err := NewReader(bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		key, err := r.UnwrapKey(who)
		if err != nil {
			b.Fatal(err)
		}
		dst := testPG.Database(b, 4)
		in, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		started = time.Now()
		res, err := Import(ctx, Stores{Admin: dst.Super, Mongo: testDocDB.Client, Redis: testRedis, Files: b.TempDir(), Audit: b.TempDir(),
			Migrator: testMigrator, Keyring: keyring}, in, key, by)
		in.Close()
		if err != nil {
			b.Fatal(err)
		}
		if res.Tables["journal_lines"] != *benchLines {
			b.Fatalf("imported %d lines", res.Tables["journal_lines"])
		}
		b.ReportMetric(exported.Seconds(), "export-s")
		b.ReportMetric(time.Since(started).Seconds(), "import-s")
		b.ReportMetric(float64(fi.Size())/(1<<20), "bundle-MiB")
	}
}
