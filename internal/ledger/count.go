package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// PostedCount is how many entries the company has posted: the number of
// the newest, since posting numbers them without gaps. A company whose
// books were never opened has 0. One row read, cheap enough for metrics.
func (s Store) PostedCount(ctx context.Context, sc tenancy.Scope) (int64, error) {
	return inTx(ctx, s, sc, func(tx pgx.Tx) (int64, error) {
		var n int64
		err := tx.QueryRow(ctx, "SELECT last_number FROM ledger_settings").Scan(&n)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("posted entries: %w", err)
		}
		return n, nil
	})
}
