package tenancy

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// OperatorScope is the scope of an active company for an operator's
// command (vanta ledger import and export) that connects with the
// PostgreSQL superuser's secret: such a command could reach every company
// anyway; the scope confines what it does to the one named, through the
// same InTx as the API. ErrCompanyNotFound when no active company has id.
func OperatorScope(ctx context.Context, db interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, id uuid.UUID) (Scope, error) {
	var status string
	err := db.QueryRow(ctx, "SELECT status FROM vanta.companies WHERE id = $1", id).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && status != StatusActive {
		return Scope{}, fmt.Errorf("company %s: %w", id, ErrCompanyNotFound)
	}
	if err != nil {
		return Scope{}, fmt.Errorf("company %s: %w", id, err)
	}
	return Scope{company: id}, nil
}
