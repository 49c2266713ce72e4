package tenancy

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrCompanyNotFound is a company that does not exist, or that the asking
// route may not see (archived).
var ErrCompanyNotFound = errors.New("tenancy: no such company")

// Companies is the store of the company register (vanta.companies), read
// as the app role. Its functions that concern one company take the
// company's Scope; the listings take the ids the caller may see.
type Companies struct {
	DB *pgxpool.Pool // the app role's pool
}

// companyColumns are the columns scanCompany reads, in its order.
const companyColumns = "id, name, registration_number, tax_id, industry, address, phone, email, settings, status, created_at"

func scanCompany(r pgx.CollectableRow) (Company, error) {
	var co Company
	err := r.Scan(&co.ID, &co.Name, &co.RegistrationNumber, &co.TaxID, &co.Industry, &co.Address, &co.Phone, &co.Email,
		&co.Settings, &co.Status, &co.CreatedAt)
	return co, err
}

// Status is a company's status (provisioning, active, archived), read
// before its scope exists: the API's company gate asks it for a company
// the caller is a member of. ErrCompanyNotFound when there is no such row.
func (s Companies) Status(ctx context.Context, id uuid.UUID) (string, error) {
	var status string
	err := s.DB.QueryRow(ctx, "SELECT status FROM vanta.companies WHERE id = $1", id).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrCompanyNotFound
	}
	if err != nil {
		return "", fmt.Errorf("status of company %s: %w", id, err)
	}
	return status, nil
}

// NameIfNotArchived is the name of a company that is not archived, for
// the page of an invitation into it; an archived or missing company is
// ErrCompanyNotFound alike.
func (s Companies) NameIfNotArchived(ctx context.Context, id uuid.UUID) (string, error) {
	var name string
	err := s.DB.QueryRow(ctx, "SELECT name FROM vanta.companies WHERE id = $1 AND status <> $2", id, StatusArchived).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrCompanyNotFound
	}
	if err != nil {
		return "", fmt.Errorf("name of company %s: %w", id, err)
	}
	return name, nil
}

// Get is the scope's company.
func (s Companies) Get(ctx context.Context, sc Scope) (Company, error) {
	if !sc.Valid() {
		return Company{}, ErrNoScope
	}
	rows, err := s.DB.Query(ctx, "SELECT "+companyColumns+" FROM vanta.companies WHERE id = $1", sc.company)
	if err != nil {
		return Company{}, fmt.Errorf("read company %s: %w", sc.company, err)
	}
	co, err := pgx.CollectExactlyOneRow(rows, scanCompany)
	if errors.Is(err, pgx.ErrNoRows) {
		return Company{}, ErrCompanyNotFound
	}
	if err != nil {
		return Company{}, fmt.Errorf("read company %s: %w", sc.company, err)
	}
	return co, nil
}

// Update changes the scope's company; see Update.
func (s Companies) Update(ctx context.Context, sc Scope, patch CompanyPatch, by Actor) (Company, error) {
	return Update(ctx, s.DB, sc, patch, by)
}

// CompanyQuery is one page of the companies that are not archived, in id
// order (keyset paging on the primary key: stable while companies are
// added).
type CompanyQuery struct {
	After string // the id (as text) the previous page ended at; "" for the first
	Limit int
	// Among, unless All, keeps only these companies: the caller's own.
	Among []uuid.UUID
	All   bool // GOD sees every company
}

// List answers q: at most q.Limit companies, and whether more follow.
func (s Companies) List(ctx context.Context, q CompanyQuery) (items []Company, more bool, err error) {
	if q.Limit < 1 {
		return nil, false, errors.New("tenancy: list companies: limit must be positive")
	}
	sql := "SELECT " + companyColumns + " FROM vanta.companies WHERE status <> 'archived' AND id::text > $1"
	args := []any{q.After, q.Limit + 1}
	if !q.All {
		sql += " AND id = ANY($3)"
		args = append(args, q.Among)
	}
	rows, err := s.DB.Query(ctx, sql+" ORDER BY id::text LIMIT $2", args...)
	if err != nil {
		return nil, false, fmt.Errorf("list companies: %w", err)
	}
	items, err = pgx.CollectRows(rows, scanCompany)
	if err != nil {
		return nil, false, fmt.Errorf("list companies: %w", err)
	}
	if len(items) > q.Limit {
		return items[:q.Limit], true, nil
	}
	return items, false, nil
}

// Live is every company that is not archived, by name: GOD's overview
// shows them all in one answer, so it reads them in one query rather
// than page by page.
func (s Companies) Live(ctx context.Context) ([]Company, error) {
	rows, err := s.DB.Query(ctx, "SELECT "+companyColumns+" FROM vanta.companies WHERE status <> $1 ORDER BY name, id", StatusArchived)
	if err != nil {
		return nil, fmt.Errorf("live companies: %w", err)
	}
	items, err := pgx.CollectRows(rows, scanCompany)
	if err != nil {
		return nil, fmt.Errorf("live companies: %w", err)
	}
	return items, nil
}

// NamesIfNotArchived maps each of ids whose company is not archived to
// its name, in one query; an archived or missing company is absent from
// the map, so its name is never shown (as NameIfNotArchived).
func (s Companies) NamesIfNotArchived(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]string, error) {
	out := make(map[uuid.UUID]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.DB.Query(ctx, "SELECT id, name FROM vanta.companies WHERE id = ANY($1) AND status <> $2", ids, StatusArchived)
	if err != nil {
		return nil, fmt.Errorf("names of companies: %w", err)
	}
	var id uuid.UUID
	var name string
	if _, err := pgx.ForEachRow(rows, []any{&id, &name}, func() error {
		out[id] = name
		return nil
	}); err != nil {
		return nil, fmt.Errorf("names of companies: %w", err)
	}
	return out, nil
}

// RedisPrefixOf is the Redis key space of the company with this id, the
// same as its Scope's RedisPrefix. It lets GOD's overview read every
// company's counters in one round trip without making scopes, which only
// the API's company gate makes.
func RedisPrefixOf(id uuid.UUID) string { return "company:" + id.String() + ":" }
