package security

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/alerts"
)

// RecentWindow is what security_events_recent counts.
const RecentWindow = 15 * time.Minute

// NewAlertSource is the alert source over the database db gives (nil
// while it is not open: the round fails, and the evaluator keeps what it
// had). It needs no Recorder: the series are read from the events kept.
func NewAlertSource(db func() DB) alerts.Source {
	return alerts.SourceFunc(func(ctx context.Context, now time.Time) ([]alerts.Sample, error) {
		d := db()
		if d == nil {
			return nil, ErrNotOpen
		}
		return Store{DB: d}.Samples(ctx, now)
	})
}

// Samples are the alert series at now:
//
//   - security_events_recent{kind, company}: events in the 15 minutes
//     before now; company is the company's id, absent for the
//     appliance's own events (sign-ins, the seal, GOD). Every pair
//     seen in the day before now is given, 0 when quiet, so that an
//     alert resolves.
//   - audit_verify_failed{chain}: 1 when the latest verification of the
//     chain failed, else 0.
//
// Label values are kinds, company ids and chain names: bounded by the
// companies there are.
func (s Store) Samples(ctx context.Context, now time.Time) ([]alerts.Sample, error) {
	now = now.UTC()
	rows, err := s.DB.Query(ctx, `SELECT kind, company_id, count(*) FILTER (WHERE time > $1)
		FROM security.events WHERE time > $2 AND time <= $3
		GROUP BY kind, company_id ORDER BY kind, company_id NULLS FIRST`, now.Add(-RecentWindow), now.Add(-24*time.Hour), now)
	if err != nil {
		return nil, fmt.Errorf("security: recent events: %w", err)
	}
	out := []alerts.Sample{}
	for rows.Next() {
		var kind string
		var company uuid.NullUUID
		var n int64
		if err := rows.Scan(&kind, &company, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("security: read recent events: %w", err)
		}
		labels := map[string]string{"kind": kind}
		if company.Valid {
			labels["company"] = company.UUID.String()
		}
		out = append(out, alerts.Sample{Series: "security_events_recent", Labels: labels, Value: float64(n)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("security: recent events: %w", err)
	}
	rows, err = s.DB.Query(ctx, "SELECT chain, ok FROM security.audit_verify ORDER BY chain")
	if err != nil {
		return nil, fmt.Errorf("security: audit verify state: %w", err)
	}
	for rows.Next() {
		var chain string
		var ok bool
		if err := rows.Scan(&chain, &ok); err != nil {
			rows.Close()
			return nil, fmt.Errorf("security: read audit verify state: %w", err)
		}
		v := 0.0
		if !ok {
			v = 1
		}
		out = append(out, alerts.Sample{Series: "audit_verify_failed", Labels: map[string]string{"chain": chain}, Value: v})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("security: audit verify state: %w", err)
	}
	return out, nil
}
