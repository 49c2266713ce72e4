package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vanta-ledger/vanta/internal/migrate"
	"github.com/vanta-ledger/vanta/internal/pgtest"
	"github.com/vanta-ledger/vanta/internal/pgtest/systemtest"
)

var (
	pg       *pgtest.Server
	migrated *pgtest.Template
)

func TestMain(m *testing.M) {
	var err error
	if pg, err = pgtest.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	migrated = systemtest.Template(pg, migrate.Source{Name: "audit", FS: Migrations})
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// database gives a test its own copy of a database with the audit
// migrations.
func database(t *testing.T) *pgxpool.Pool {
	t.Helper()
	_, dsn := migrated.Database(t)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 70
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func appendOne(t *testing.T, pool *pgxpool.Pool, chain string, i int) {
	t.Helper()
	err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		_, err := Append(context.Background(), tx, chain, Entry{
			Actor: fmt.Sprintf("user-%d", i), Role: "admin", IP: "10.0.0.1", Action: "ledger.post",
			Resource: fmt.Sprintf("entry/%d", i), Outcome: "ok", Details: map[string]any{"amount_minor": i * 100, "currency": "KES"},
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentWritersKeepOneChain(t *testing.T) {
	pool := database(t)
	const writers, each = 64, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
					_, err := Append(context.Background(), tx, "company-a", Entry{Actor: fmt.Sprintf("w%d", w), Action: "write", Outcome: "ok", Details: map[string]any{"i": i}})
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	res, err := Verify(context.Background(), pool, "company-a", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK || res.Records != writers*each {
		t.Errorf("verify after %d concurrent appends: %+v", writers*each, res)
	}
	if other, _ := Verify(context.Background(), pool, "company-b", nil); !other.OK || other.Records != 0 {
		t.Errorf("another chain: %+v", other)
	}
}

func TestRolledBackAppendLeavesNoRecord(t *testing.T) {
	pool := database(t)
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Append(ctx, tx, "system", Entry{Action: "company.create"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if seq, _, err := Head(ctx, pool, "system"); err != nil || seq != 0 {
		t.Errorf("head after rollback: %d %v", seq, err)
	}
	if _, err := Append(ctx, nil, "Bad Chain", Entry{}); err == nil {
		t.Error("invalid chain name accepted")
	}
}

// tamper runs SQL with the append-only triggers off, as an attacker with
// superuser rights would.
func tamper(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, sql, args...)
		return err
	})
	if err != nil {
		t.Fatalf("tamper %q: %v", sql, err)
	}
}

// rehash rewrites every record from seq on so that the chain is
// consistent again: what a careful attacker would do after an edit.
func rehash(t *testing.T, pool *pgxpool.Pool, chain string, from int64) {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT seq, at, actor, role, ip, action, resource, outcome, details, hash FROM audit.records WHERE chain = $1 ORDER BY seq`, chain)
	if err != nil {
		t.Fatal(err)
	}
	var recs []Record
	for rows.Next() {
		r := Record{Chain: chain}
		e := &r.Entry
		if err := rows.Scan(&r.Seq, &r.At, &e.Actor, &e.Role, &e.IP, &e.Action, &e.Resource, &e.Outcome, &r.Details, &r.Hash); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	rows.Close()
	prev := []byte{}
	for _, r := range recs {
		if r.Seq >= from {
			r.PrevHash = prev
			r.Hash = r.computeHash()
			tamper(t, pool, "UPDATE audit.records SET prev_hash = $1, hash = $2 WHERE chain = $3 AND seq = $4", r.PrevHash, r.Hash, chain, r.Seq)
		}
		prev = r.Hash
	}
}

func TestTamperingIsNamed(t *testing.T) {
	key := []byte("test mac key, 32 bytes long ....")
	tests := []struct {
		name     string
		tamper   func(t *testing.T, pool *pgxpool.Pool)
		withCP   bool
		firstBad int64
		reason   string
	}{
		{"edit", func(t *testing.T, p *pgxpool.Pool) {
			tamper(t, p, "UPDATE audit.records SET actor = 'mallory' WHERE chain = 'c' AND seq = 5")
		}, false, 5, "content does not match"},
		{"delete", func(t *testing.T, p *pgxpool.Pool) {
			tamper(t, p, "DELETE FROM audit.records WHERE chain = 'c' AND seq = 5")
		}, false, 5, "missing"},
		{"reorder", func(t *testing.T, p *pgxpool.Pool) {
			tamper(t, p, "UPDATE audit.records SET seq = 1000 WHERE chain = 'c' AND seq = 4")
			tamper(t, p, "UPDATE audit.records SET seq = 4 WHERE chain = 'c' AND seq = 6")
			tamper(t, p, "UPDATE audit.records SET seq = 6 WHERE chain = 'c' AND seq = 1000")
		}, false, 4, "does not link"},
		{"insert", func(t *testing.T, p *pgxpool.Pool) {
			// A forged record slipped in after 5, itself well-formed: the
			// chain breaks at the record after it.
			tamper(t, p, "UPDATE audit.records SET seq = seq + 1000 WHERE chain = 'c' AND seq > 5")
			tamper(t, p, "UPDATE audit.records SET seq = seq - 999 WHERE chain = 'c' AND seq > 1000")
			var prev []byte
			if err := p.QueryRow(context.Background(), "SELECT hash FROM audit.records WHERE chain = 'c' AND seq = 5").Scan(&prev); err != nil {
				t.Fatal(err)
			}
			forged := Record{Chain: "c", Seq: 6, Entry: Entry{Actor: "mallory", Action: "payment.approve"}, Details: "{}", PrevHash: prev}
			forged.Hash = forged.computeHash()
			tamper(t, p, `INSERT INTO audit.records (chain, seq, at, actor, role, ip, action, resource, outcome, details, prev_hash, hash)
				VALUES ('c', 6, $1, 'mallory', '', '', 'payment.approve', '', '', '{}', $2, $3)`, forged.At, forged.PrevHash, forged.Hash)
		}, false, 7, "does not link"},
		{"truncate the tail", func(t *testing.T, p *pgxpool.Pool) {
			tamper(t, p, "DELETE FROM audit.records WHERE chain = 'c' AND seq > 8")
		}, true, 9, "newest records deleted"},
		{"delete the whole chain", func(t *testing.T, p *pgxpool.Pool) {
			tamper(t, p, "DELETE FROM audit.records WHERE chain = 'c'")
		}, true, 1, "newest records deleted"},
		{"rewrite consistently", func(t *testing.T, p *pgxpool.Pool) {
			tamper(t, p, "UPDATE audit.records SET outcome = 'denied' WHERE chain = 'c' AND seq = 3")
			rehash(t, p, "c", 3)
		}, true, 10, "chain rewritten"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pool := database(t)
			ctx := context.Background()
			for i := range 10 {
				appendOne(t, pool, "c", i)
			}
			cps := Checkpoints{Dir: t.TempDir(), Key: key}
			if _, err := cps.Save(ctx, pool, "c"); err != nil {
				t.Fatal(err)
			}
			if res, _ := Verify(ctx, pool, "c", nil); !res.OK || res.Records != 10 {
				t.Fatalf("honest chain: %+v", res)
			}
			tc.tamper(t, pool)
			var cp *Checkpoint
			if tc.withCP {
				var err error
				if cp, err = cps.Load("c"); err != nil || cp == nil {
					t.Fatalf("load checkpoint: %v", err)
				}
				// Without the checkpoint the chain would pass.
				if res, _ := Verify(ctx, pool, "c", nil); !res.OK {
					t.Fatalf("this tampering should be invisible to the chain alone: %+v", res)
				}
			}
			res, err := Verify(ctx, pool, "c", cp)
			if err != nil {
				t.Fatal(err)
			}
			if res.OK || res.FirstBad != tc.firstBad || !strings.Contains(res.Reason, tc.reason) {
				t.Errorf("verify = %+v, want first bad %d (%s)", res, tc.firstBad, tc.reason)
			}
		})
	}
}

func TestForgedCheckpointIsRefused(t *testing.T) {
	pool := database(t)
	appendOne(t, pool, "c", 1)
	cps := Checkpoints{Dir: t.TempDir(), Key: []byte("key one")}
	if _, err := cps.Save(context.Background(), pool, "c"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(cps.Dir, "c.json")
	data, _ := os.ReadFile(path)
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), `"seq":1`, `"seq":0`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := cps.Load("c"); !errors.Is(err, ErrCheckpointForged) {
		t.Errorf("edited checkpoint: %v", err)
	}
	if _, err := (Checkpoints{Dir: cps.Dir, Key: []byte("key two")}).Load("c"); !errors.Is(err, ErrCheckpointForged) {
		t.Errorf("checkpoint under another key: %v", err)
	}
	if cp, err := cps.Load("never-written"); cp != nil || err != nil {
		t.Errorf("missing checkpoint: %v %v", cp, err)
	}
}

func TestAppendOnly(t *testing.T) {
	pool := database(t)
	ctx := context.Background()
	appendOne(t, pool, "c", 1)
	// Even the owner, with every privilege, meets the trigger.
	for _, sql := range []string{
		"UPDATE audit.records SET actor = 'x'",
		"DELETE FROM audit.records",
		"TRUNCATE audit.records",
	} {
		if _, err := pool.Exec(ctx, sql); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v", sql, err)
		}
	}
	// An application role granted INSERT and SELECT can append and read.
	role := "app_" + strings.ReplaceAll(strings.ToLower(t.Name()), "/", "_")
	for _, sql := range []string{
		"CREATE ROLE " + role + " LOGIN PASSWORD 'app-password'",
		"GRANT USAGE ON SCHEMA audit TO " + role,
		"GRANT SELECT, INSERT ON audit.records TO " + role,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DROP OWNED BY "+role+"; DROP ROLE "+role) })
	var db string
	if err := pool.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	app, err := pgx.Connect(ctx, pg.DSN(role, "app-password", db))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(ctx)
	if err := pgx.BeginFunc(ctx, app, func(tx pgx.Tx) error {
		_, err := Append(ctx, tx, "c", Entry{Action: "by app"})
		return err
	}); err != nil {
		t.Fatalf("app append: %v", err)
	}
	if _, err := app.Exec(ctx, "UPDATE audit.records SET actor = 'x'"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("app update: %v", err)
	}
	if res, err := Verify(ctx, app, "c", nil); err != nil || !res.OK || res.Records != 2 {
		t.Errorf("verify as app: %+v %v", res, err)
	}
}
