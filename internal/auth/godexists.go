package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// RowQuerier is what GODExists reads through: a pool or a connection.
type RowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// GODExists reads whether the GOD account exists. It needs no Service (no
// keyring): the API asks it while sealed, to decide who may use the
// appliance's own routes. Before the auth schema exists there are no
// accounts at all, which is false, not an error.
func GODExists(ctx context.Context, db RowQuerier) (bool, error) {
	var exists bool
	err := db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM auth.users WHERE is_god)").Scan(&exists)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check whether a GOD exists: %w", err)
	}
	return exists, nil
}
