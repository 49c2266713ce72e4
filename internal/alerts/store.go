package alerts

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Migrations are this package's SQL: migrations/system/0014_alerts.sql,
// merged into the appliance's registry (internal/migrate).
//
//go:embed migrations
var Migrations embed.FS

// State is where an alert is in its life.
type State string

// The states: pending while the condition holds for less than the rule's
// For, firing after, resolved once it clears (or its series is gone).
const (
	Pending  State = "pending"
	Firing   State = "firing"
	Resolved State = "resolved"
)

// ParseState reads a state named in a query; "" is every state.
func ParseState(s string) (State, error) {
	switch State(s) {
	case "", Pending, Firing, Resolved:
		return State(s), nil
	}
	return "", fmt.Errorf("alert state %q: want pending, firing or resolved", s)
}

// Alert is one episode of a rule's condition on one label set.
type Alert struct {
	ID          int64             `json:"id"`
	Fingerprint string            `json:"fingerprint"`
	Rule        string            `json:"rule"`
	Level       Level             `json:"level"`
	State       State             `json:"state"`
	Labels      map[string]string `json:"labels"`
	Value       float64           `json:"value"`
	Summary     string            `json:"summary"`
	// PendingSince is when the condition first held; StartedAt when the
	// alert fired (nil while pending); ResolvedAt when it cleared.
	PendingSince time.Time  `json:"-"`
	StartedAt    *time.Time `json:"started_at"`
	ResolvedAt   *time.Time `json:"resolved_at"`
}

// Fingerprint identifies a rule's alert on one label set: the same rule
// and labels give the same fingerprint in every round and after restarts.
func Fingerprint(rule string, labels map[string]string) string {
	h := sha256.New()
	h.Write([]byte(rule))
	for _, k := range sortedKeys(labels) {
		h.Write([]byte{0})
		h.Write([]byte(k))
		h.Write([]byte{1})
		h.Write([]byte(labels[k]))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

const alertColumns = `id, fingerprint, rule, level, state, labels, value, summary, pending_since, started_at, resolved_at`

func scanAlerts(rows pgx.Rows) ([]Alert, error) {
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		var a Alert
		if err := rows.Scan(&a.ID, &a.Fingerprint, &a.Rule, &a.Level, &a.State, &a.Labels, &a.Value, &a.Summary,
			&a.PendingSince, &a.StartedAt, &a.ResolvedAt); err != nil {
			return nil, fmt.Errorf("read alert: %w", err)
		}
		if a.Labels == nil {
			a.Labels = map[string]string{}
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	return out, nil
}

// Filter picks alerts for a listing: newest first, Limit of them, those
// with an id below Before when it is set.
type Filter struct {
	State  State
	Limit  int
	Before int64
}

// List returns a page of alerts, newest first, and whether more follow.
func List(ctx context.Context, db *pgxpool.Pool, f Filter) ([]Alert, bool, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	rows, err := db.Query(ctx, `SELECT `+alertColumns+` FROM vanta.alerts
		WHERE ($1 = '' OR state = $1) AND ($2 = 0 OR id < $2)
		ORDER BY id DESC LIMIT $3`, string(f.State), f.Before, f.Limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("list alerts: %w", err)
	}
	out, err := scanAlerts(rows)
	if err != nil {
		return nil, false, err
	}
	more := len(out) > f.Limit
	if more {
		out = out[:f.Limit]
	}
	return out, more, nil
}

// ErrBusy is returned by a round that found another evaluator (an
// appliance sharing the database) in the middle of its own.
var ErrBusy = errors.New("alerts: another evaluator holds the round")

// open lists the pending and firing alerts.
func open(ctx context.Context, tx pgx.Tx) ([]Alert, error) {
	rows, err := tx.Query(ctx, `SELECT `+alertColumns+` FROM vanta.alerts WHERE state <> 'resolved' ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("open alerts: %w", err)
	}
	return scanAlerts(rows)
}

// undelivered lists the firing alerts whose firing, and the resolved ones
// whose resolution, channel has not delivered, for events since since.
func undelivered(ctx context.Context, db *pgxpool.Pool, channel string, since time.Time) ([]Alert, error) {
	rows, err := db.Query(ctx, `SELECT `+alertColumns+` FROM vanta.alerts a
		WHERE ((a.state = 'firing' AND a.started_at >= $2) OR (a.state = 'resolved' AND a.resolved_at >= $2))
		  AND NOT EXISTS (SELECT 1 FROM vanta.alert_deliveries d WHERE d.alert_id = a.id AND d.channel = $1 AND d.event = a.state)
		ORDER BY a.id LIMIT 500`, channel, since)
	if err != nil {
		return nil, fmt.Errorf("undelivered alerts: %w", err)
	}
	return scanAlerts(rows)
}

// markDelivered records that channel delivered each alert's current event.
func markDelivered(ctx context.Context, db *pgxpool.Pool, channel string, alerts []Alert, at time.Time) error {
	ids := make([]int64, len(alerts))
	events := make([]string, len(alerts))
	for i, a := range alerts {
		ids[i], events[i] = a.ID, string(a.State)
	}
	_, err := db.Exec(ctx, `INSERT INTO vanta.alert_deliveries (alert_id, channel, event, delivered_at)
		SELECT id, $2, event, $4 FROM unnest($1::bigint[], $3::text[]) AS t(id, event)
		ON CONFLICT DO NOTHING`, ids, channel, events, at)
	if err != nil {
		return fmt.Errorf("record delivery by %s: %w", channel, err)
	}
	return nil
}
