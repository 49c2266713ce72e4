package invoicing

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

func mustUUID(s string) uuid.UUID { return uuid.MustParse(s) }

// tenancyExec runs one statement in company A's transaction.
func tenancyExec(ctx context.Context, e *env, sql string) error {
	return e.store.inTx(ctx, e.a, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, sql)
		return err
	})
}
