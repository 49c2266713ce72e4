package seal

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// keyRows is vanta.keys in memory: enough of PostgreSQL for KeyTable's
// three statements.
type keyRows struct {
	rows    map[string][]byte
	inserts int
}

type keyRow struct {
	wrapped []byte
	found   bool
}

func (r keyRow) Scan(dest ...any) error {
	if !r.found {
		return pgx.ErrNoRows
	}
	*dest[0].(*[]byte) = r.wrapped
	return nil
}

func (k *keyRows) QueryRow(_ context.Context, sql string, args ...any) pgx.Row {
	w, ok := k.rows[args[0].(string)]
	return keyRow{w, ok}
}

func (k *keyRows) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if !strings.HasPrefix(sql, "INSERT") {
		panic("unexpected statement: " + sql)
	}
	k.inserts++
	if _, ok := k.rows[args[0].(string)]; !ok { // ON CONFLICT DO NOTHING
		k.rows[args[0].(string)] = args[1].([]byte)
	}
	return pgconn.NewCommandTag("INSERT 0 1"), nil
}

// TestKeyTableMakesOnceAndReadsBack: the first call makes the key and
// stores it sealed (never the key itself); later calls return the same
// key without making another; a key stored by someone else first wins.
func TestKeyTableMakesOnceAndReadsBack(t *testing.T) {
	ctx := context.Background()
	kr, err := newKeyring()
	if err != nil {
		t.Fatal(err)
	}
	db := &keyRows{rows: map[string][]byte{}}
	table := KeyTable{DB: db}
	first, err := table.Key(ctx, kr, "audit-mac")
	if err != nil || len(first) != 32 {
		t.Fatalf("first Key = %x, %v", first, err)
	}
	if bytes.Contains(db.rows["audit-mac"], first) {
		t.Error("the key is stored in the clear")
	}
	again, err := table.Key(ctx, kr, "audit-mac")
	if err != nil || !bytes.Equal(first, again) || db.inserts != 1 {
		t.Errorf("second Key = %x, %v after %d inserts; want the first key, one insert", again, err, db.inserts)
	}
	other, err := table.Key(ctx, kr, "another")
	if err != nil || bytes.Equal(other, first) {
		t.Errorf("another name's key = %x, %v; want a key of its own", other, err)
	}
}
