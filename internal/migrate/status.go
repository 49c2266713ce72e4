package migrate

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Querier is a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// LineStatus is where a database (or one company) stands on a line.
type LineStatus struct {
	Version int   `json:"version"` // the highest version applied, 0 for none
	Head    int   `json:"head"`    // the highest version this binary knows
	Pending []int `json:"pending"` // versions known here and not applied, in order
	AtHead  bool  `json:"at_head"`
}

func (m *Migrator) lineStatus(l Line, done []int) LineStatus {
	s := LineStatus{Head: m.reg.Head(l), Pending: []int{}}
	if len(done) > 0 {
		s.Version = slices.Max(done)
	}
	for _, mig := range m.reg.Line(l) {
		if !slices.Contains(done, mig.Version) {
			s.Pending = append(s.Pending, mig.Version)
		}
	}
	s.AtHead = len(s.Pending) == 0
	return s
}

// SystemStatus reads the system line's state without changing anything.
func (m *Migrator) SystemStatus(ctx context.Context, q Querier) (LineStatus, error) {
	var exists bool
	if err := q.QueryRow(ctx, "SELECT to_regclass('vanta.schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return LineStatus{}, fmt.Errorf("system migrations: %w", err)
	}
	var done []int
	if exists {
		rows, err := q.Query(ctx, "SELECT version FROM vanta.schema_migrations")
		if err != nil {
			return LineStatus{}, fmt.Errorf("system migrations: %w", err)
		}
		if done, err = pgx.CollectRows(rows, pgx.RowTo[int]); err != nil {
			return LineStatus{}, fmt.Errorf("system migrations: %w", err)
		}
	}
	return m.lineStatus(System, done), nil
}

// CompanyStatus reads each company's state on the company line.
func (m *Migrator) CompanyStatus(ctx context.Context, q Querier, companies []uuid.UUID) (map[uuid.UUID]LineStatus, error) {
	var exists bool
	if err := q.QueryRow(ctx, "SELECT to_regclass('vanta.company_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return nil, fmt.Errorf("company migrations: %w", err)
	}
	done := map[uuid.UUID][]int{}
	if exists {
		rows, err := q.Query(ctx, "SELECT company_id, version FROM vanta.company_migrations WHERE company_id = ANY($1)", companies)
		if err != nil {
			return nil, fmt.Errorf("company migrations: %w", err)
		}
		var id uuid.UUID
		var v int
		if _, err := pgx.ForEachRow(rows, []any{&id, &v}, func() error {
			done[id] = append(done[id], v)
			return nil
		}); err != nil {
			return nil, fmt.Errorf("company migrations: %w", err)
		}
	}
	out := make(map[uuid.UUID]LineStatus, len(companies))
	for _, id := range companies {
		out[id] = m.lineStatus(Company, done[id])
	}
	return out, nil
}
