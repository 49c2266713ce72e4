package invoicing

import (
	"context"
	"errors"

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

func isField(err error, field string) bool {
	var ve *ValidationError
	return errors.As(err, &ve) && ve.Field == field
}
