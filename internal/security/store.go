package security

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// Kind is what happened.
type Kind string

// The kinds of security event.
const (
	LoginFailed       Kind = "login_failed"
	BruteForce        Kind = "brute_force"
	Lockout           Kind = "lockout"
	CrossCompanyProbe Kind = "cross_company_probe"
	UnsealFailed      Kind = "unseal_failed"
	GODNewAddress     Kind = "god_new_address"
	AuditVerifyFailed Kind = "audit_verify_failed"
)

// Kinds are every kind, in the order the documentation lists them.
var Kinds = []Kind{LoginFailed, BruteForce, Lockout, CrossCompanyProbe, UnsealFailed, GODNewAddress, AuditVerifyFailed}

// Valid says whether k is one of Kinds.
func (k Kind) Valid() bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// ErrUnknownKind is a kind that is not one of Kinds.
var ErrUnknownKind = errors.New("security: unknown event kind")

// Event is one security event. Details are small and bounded (see
// boundDetails) and never hold a password, share, token or request body.
type Event struct {
	ID        int64          `json:"id"`
	Time      time.Time      `json:"time"`
	Kind      Kind           `json:"kind"`
	CompanyID uuid.NullUUID  `json:"company_id"`
	UserID    uuid.NullUUID  `json:"user_id"`
	IP        string         `json:"ip"`
	Details   map[string]any `json:"details"`
}

// DB is what the store needs of a PostgreSQL pool (the runtime role's).
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Store reads and writes the security schema.
type Store struct{ DB DB }

// Limits of what an event carries.
const (
	maxDetailsBytes = 1024
	maxDetailString = 200
	maxIP           = 64
)

// boundDetails keeps details small: strings are cut at 200 bytes, and a
// map that still encodes to more than 1 KiB is replaced by a marker.
func boundDetails(d map[string]any) []byte {
	if len(d) == 0 {
		return []byte("{}")
	}
	out := make(map[string]any, len(d))
	for k, v := range d {
		if s, ok := v.(string); ok {
			v = cut(s, maxDetailString)
		}
		out[cut(k, 64)] = v
	}
	b, err := json.Marshal(out)
	if err != nil || len(b) > maxDetailsBytes {
		return []byte(`{"truncated":true}`)
	}
	return b
}

// cut shortens s to at most n bytes on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// insertSQL writes one event. The company is kept only when it exists, so
// that a probe for a made-up id counts towards no company (and the alert
// labels stay bounded by the companies there are).
const insertSQL = `INSERT INTO security.events (time, kind, company_id, user_id, ip, details, subject)
	VALUES ($1, $2, (SELECT id FROM vanta.companies WHERE id = $3), $4, $5, $6, $7)`

type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func insert(ctx context.Context, q querier, e Event, subject string) error {
	if !e.Kind.Valid() {
		return fmt.Errorf("%w: %q", ErrUnknownKind, e.Kind)
	}
	var sub any
	if subject != "" {
		sub = subject
	}
	_, err := q.Exec(ctx, insertSQL, e.Time.UTC(), string(e.Kind), e.CompanyID, e.UserID, cut(e.IP, maxIP), boundDetails(e.Details), sub)
	if err != nil {
		return fmt.Errorf("security: record %s: %w", e.Kind, err)
	}
	return nil
}

// Insert records one event as it is.
func (s Store) Insert(ctx context.Context, e Event) error { return insert(ctx, s.DB, e, "") }

// BruteForceRule is when failed sign-ins become a brute_force event:
// Failures or more for one account, or from one address, within Window.
// One event is recorded per account or address per Window while it goes
// on.
type BruteForceRule struct {
	Failures int
	Window   time.Duration
}

// DefaultBruteForce is 10 failures in 10 minutes. The login limiter
// starts delaying one client after 5; 10 inside its window is someone
// pressing on past those delays, not a forgotten password.
var DefaultBruteForce = BruteForceRule{Failures: 10, Window: 10 * time.Minute}

// RecordLoginFailure records a failed sign-in (e.Kind login_failed, with
// the account's id when it exists and the client address), then checks
// the rule for that account and that address. It returns the brute_force
// events it recorded (none when the rule is not met, or was met and
// recorded already within the window).
func (s Store) RecordLoginFailure(ctx context.Context, e Event, rule BruteForceRule) ([]Event, error) {
	e.Kind = LoginFailed
	if err := insert(ctx, s.DB, e, ""); err != nil {
		return nil, err
	}
	if rule.Failures <= 0 || rule.Window <= 0 {
		return nil, nil
	}
	var found []Event
	check := func(subject, column string, value any) error {
		ev, ok, err := s.bruteForce(ctx, e, rule, subject, column, value)
		if ok {
			found = append(found, ev)
		}
		return err
	}
	if e.IP != "" {
		if err := check("ip:"+cut(e.IP, maxIP), "ip", cut(e.IP, maxIP)); err != nil {
			return found, err
		}
	}
	if e.UserID.Valid {
		if err := check("user:"+e.UserID.UUID.String(), "user_id", e.UserID.UUID); err != nil {
			return found, err
		}
	}
	return found, nil
}

// bruteForce counts the failures of one subject within the window ending
// at e.Time and records brute_force when the rule is met and no event for
// the subject was recorded within the window. An advisory lock on the
// subject makes two appliances sharing a database record one.
func (s Store) bruteForce(ctx context.Context, e Event, rule BruteForceRule, subject, column string, value any) (Event, bool, error) {
	tx, err := s.DB.Begin(ctx)
	if err != nil {
		return Event{}, false, fmt.Errorf("security: brute force check: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 16))", subject); err != nil {
		return Event{}, false, fmt.Errorf("security: brute force lock: %w", err)
	}
	now := e.Time.UTC()
	from := now.Add(-rule.Window)
	var n int
	var recorded bool
	// column is one of two constants above, never input.
	err = tx.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM security.events WHERE kind = 'login_failed' AND `+column+` = $1 AND time > $2 AND time <= $3),
		EXISTS (SELECT 1 FROM security.events WHERE kind = 'brute_force' AND subject = $4 AND time > $2 AND time <= $3)`,
		value, from, now, subject).Scan(&n, &recorded)
	if err != nil {
		return Event{}, false, fmt.Errorf("security: brute force count: %w", err)
	}
	if n < rule.Failures || recorded {
		return Event{}, false, nil
	}
	bf := Event{Time: now, Kind: BruteForce, Details: map[string]any{
		"failures": n, "window_seconds": int64(rule.Window / time.Second), "by": column,
	}}
	if column == "ip" {
		bf.IP = e.IP
	} else {
		bf.UserID = e.UserID
	}
	if err := insert(ctx, tx, bf, subject); err != nil {
		return Event{}, false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Event{}, false, fmt.Errorf("security: commit brute force: %w", err)
	}
	return bf, true, nil
}

// NoteGODAddress records that GOD (user) acted from ip at now, and
// records god_new_address when that address was not seen within
// newAfter before now. The first address a GOD ever uses is the baseline
// and raises nothing: it is where the appliance was set up from.
func (s Store) NoteGODAddress(ctx context.Context, user uuid.UUID, ip string, now time.Time, newAfter time.Duration) (bool, error) {
	ip = cut(ip, maxIP)
	now = now.UTC()
	tx, err := s.DB.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("security: note GOD address: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	var last *time.Time
	var others int
	err = tx.QueryRow(ctx, `SELECT
		(SELECT max(last_seen) FROM security.god_addresses WHERE user_id = $1 AND ip = $2),
		(SELECT count(*) FROM security.god_addresses WHERE user_id = $1 AND ip <> $2)`, user, ip).Scan(&last, &others)
	if err != nil {
		return false, fmt.Errorf("security: read GOD addresses: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO security.god_addresses (user_id, ip, first_seen, last_seen) VALUES ($1, $2, $3, $3)
		ON CONFLICT (user_id, ip) DO UPDATE SET last_seen = greatest(security.god_addresses.last_seen, excluded.last_seen)`, user, ip, now); err != nil {
		return false, fmt.Errorf("security: write GOD address: %w", err)
	}
	isNew := (last == nil && others > 0) || (last != nil && last.Before(now.Add(-newAfter)))
	if isNew {
		d := map[string]any{"not_seen_days": int64(newAfter / (24 * time.Hour))}
		if last != nil {
			d["last_seen"] = last.UTC().Format(time.RFC3339)
		}
		if err := insert(ctx, tx, Event{Time: now, Kind: GODNewAddress, UserID: uuid.NullUUID{UUID: user, Valid: true}, IP: ip, Details: d}, ""); err != nil {
			return false, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("security: commit GOD address: %w", err)
	}
	return isNew, nil
}

// RecordAuditVerify keeps the outcome of the latest verification of an
// audit chain ("system" or a company id) and records audit_verify_failed
// when the chain goes from verified (or never checked) to failing; a chain
// that keeps failing raises it once. It returns whether it recorded one.
func (s Store) RecordAuditVerify(ctx context.Context, chain string, ok bool, reason string, now time.Time) (bool, error) {
	chain = cut(chain, 64)
	now = now.UTC()
	tx, err := s.DB.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("security: audit verify state: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	var wasOK *bool
	err = tx.QueryRow(ctx, `SELECT ok FROM security.audit_verify WHERE chain = $1 FOR UPDATE`, chain).Scan(&wasOK)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("security: read audit verify state: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO security.audit_verify (chain, ok, checked_at, reason) VALUES ($1, $2, $3, $4)
		ON CONFLICT (chain) DO UPDATE SET ok = excluded.ok, checked_at = excluded.checked_at, reason = excluded.reason`,
		chain, ok, now, cut(reason, 300)); err != nil {
		return false, fmt.Errorf("security: write audit verify state: %w", err)
	}
	raised := !ok && (wasOK == nil || *wasOK)
	if raised {
		e := Event{Time: now, Kind: AuditVerifyFailed, Details: map[string]any{"chain": chain, "reason": reason}}
		if id, err := uuid.Parse(chain); err == nil {
			e.CompanyID = uuid.NullUUID{UUID: id, Valid: true}
		}
		if err := insert(ctx, tx, e, ""); err != nil {
			return false, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("security: commit audit verify state: %w", err)
	}
	return raised, nil
}

// Filter narrows a listing. Before is the cursor: events with a smaller
// id (older) than it; 0 starts at the newest.
type Filter struct {
	Kind    Kind
	Company uuid.NullUUID
	Limit   int
	Before  int64
}

// List returns events newest first, and the cursor of the next page (0
// when there is none).
func (s Store) List(ctx context.Context, f Filter) ([]Event, int64, error) {
	if f.Kind != "" && !f.Kind.Valid() {
		return nil, 0, fmt.Errorf("%w: %q", ErrUnknownKind, f.Kind)
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 50
	}
	before := f.Before
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.DB.Query(ctx, `SELECT id, time, kind, company_id, user_id, ip, details FROM security.events
		WHERE id < $1 AND ($2 = '' OR kind = $2) AND ($3::uuid IS NULL OR company_id = $3)
		ORDER BY id DESC LIMIT $4`, before, string(f.Kind), f.Company, limit+1)
	if err != nil {
		return nil, 0, fmt.Errorf("security: list events: %w", err)
	}
	out := []Event{}
	for rows.Next() {
		var e Event
		var kind string
		var details []byte
		if err := rows.Scan(&e.ID, &e.Time, &kind, &e.CompanyID, &e.UserID, &e.IP, &details); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("security: read event: %w", err)
		}
		e.Kind, e.Time = Kind(kind), e.Time.UTC()
		if err := json.Unmarshal(details, &e.Details); err != nil || e.Details == nil {
			e.Details = map[string]any{}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("security: list events: %w", err)
	}
	var next int64
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}

// ListCompany is List within one company: what its admins may see. Who
// stood behind an event of another tenant (a member of another company
// probing this one) is not theirs to know: user and address are left out
// of those.
func (s Store) ListCompany(ctx context.Context, sc tenancy.Scope, f Filter) ([]Event, int64, error) {
	f.Company = uuid.NullUUID{UUID: sc.Company(), Valid: true}
	evs, next, err := s.List(ctx, f)
	for i := range evs {
		if evs[i].Kind == CrossCompanyProbe {
			evs[i].UserID, evs[i].IP = uuid.NullUUID{}, ""
		}
	}
	return evs, next, err
}

// Count is how many events of one kind one company (or none: the
// appliance's own) has.
type Count struct {
	CompanyID uuid.NullUUID `json:"company_id"`
	Kind      Kind          `json:"kind"`
	Count     int64         `json:"count"`
	Last24h   int64         `json:"last_24h"`
	Last      time.Time     `json:"last_time"`
}

// Summary counts the events kept, per company and kind, with those of the
// 24 hours before now.
func (s Store) Summary(ctx context.Context, now time.Time) ([]Count, error) {
	rows, err := s.DB.Query(ctx, `SELECT company_id, kind, count(*), count(*) FILTER (WHERE time > $1), max(time)
		FROM security.events GROUP BY company_id, kind ORDER BY company_id NULLS FIRST, kind`, now.UTC().Add(-24*time.Hour))
	if err != nil {
		return nil, fmt.Errorf("security: summary: %w", err)
	}
	out := []Count{}
	for rows.Next() {
		var c Count
		var kind string
		if err := rows.Scan(&c.CompanyID, &kind, &c.Count, &c.Last24h, &c.Last); err != nil {
			rows.Close()
			return nil, fmt.Errorf("security: read summary: %w", err)
		}
		c.Kind, c.Last = Kind(kind), c.Last.UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("security: summary: %w", err)
	}
	return out, nil
}

// Prune deletes events older than before, and GOD addresses not seen
// since; it returns how many events went.
func (s Store) Prune(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.DB.Exec(ctx, "DELETE FROM security.events WHERE time < $1", before.UTC())
	if err != nil {
		return 0, fmt.Errorf("security: prune events: %w", err)
	}
	if _, err := s.DB.Exec(ctx, "DELETE FROM security.god_addresses WHERE last_seen < $1", before.UTC()); err != nil {
		return tag.RowsAffected(), fmt.Errorf("security: prune GOD addresses: %w", err)
	}
	return tag.RowsAffected(), nil
}

// ParseCursor reads a cursor List gave out.
func ParseCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, ErrBadCursor
	}
	return n, nil
}

// ErrBadCursor is a cursor List did not give out.
var ErrBadCursor = errors.New("security: cursor is not one the listing gave out")
