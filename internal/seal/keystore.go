package seal

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// KeyDB is what a KeyTable reads and writes through: the app role's pool.
type KeyDB interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// KeyTable is vanta.keys: the appliance's own secret keys (the audit
// checkpoints' MAC key, for one), each made once and stored sealed by
// the root keyring under its name, so that a sealed appliance holds none
// of them in the clear.
type KeyTable struct {
	DB KeyDB
}

// Key returns the 32-byte key named id, making and storing it the first
// time. The name is also the keyring purpose the key is sealed for.
func (t KeyTable) Key(ctx context.Context, kr *Keyring, id string) ([]byte, error) {
	var wrapped []byte
	err := t.DB.QueryRow(ctx, "SELECT wrapped FROM vanta.keys WHERE id = $1", id).Scan(&wrapped)
	if errors.Is(err, pgx.ErrNoRows) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("make key %s: %w", id, err)
		}
		sealed, serr := kr.Seal(id, nil, key) // not err: the read below must reach the outer one
		if serr != nil {
			return nil, fmt.Errorf("seal key %s: %w", id, serr)
		}
		// Two callers may race to make it: the first insert wins, and
		// both read back the winner.
		if _, err := t.DB.Exec(ctx, "INSERT INTO vanta.keys (id, wrapped) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", id, sealed); err != nil {
			return nil, fmt.Errorf("store key %s: %w", id, err)
		}
		err = t.DB.QueryRow(ctx, "SELECT wrapped FROM vanta.keys WHERE id = $1", id).Scan(&wrapped)
	}
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", id, err)
	}
	key, err := kr.Open(id, nil, wrapped)
	if err != nil {
		return nil, fmt.Errorf("open key %s: %w", id, err)
	}
	return key, nil
}
