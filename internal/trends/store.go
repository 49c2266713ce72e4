package trends

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vanta-ledger/vanta/internal/alerts"
)

// Retention of the two resolutions.
const (
	MinuteRetention = 24 * time.Hour
	HourRetention   = 90 * 24 * time.Hour
)

// Step is a history's resolution.
type Step string

const (
	StepMinute Step = "minute"
	StepHour   Step = "hour"
)

// ErrSeriesNotFound means no series has that name and those labels.
var ErrSeriesNotFound = errors.New("trends: no such series")

// Store is the history in PostgreSQL (system tables vanta.metric_*). It
// works as the runtime role.
type Store struct {
	DB *pgxpool.Pool
	// MaxSeries bounds the distinct series kept; zero means
	// DefaultMaxSeries.
	MaxSeries int
}

// Recorded is what one Record did.
type Recorded struct {
	Points  int // samples stored
	Invalid int // samples refused by SeriesKey or for a value that is not finite
	Dropped int // samples of new series past MaxSeries
}

// Record stores samples taken at now: each goes into its minute's point
// and its hour's rollup (min, max, sum, count), made or updated. Samples
// that are not valid series, or new series past the bound, are skipped and
// counted, never an error.
func (s Store) Record(ctx context.Context, now time.Time, samples []alerts.Sample) (Recorded, error) {
	var r Recorded
	minute, hour := now.UTC().Truncate(time.Minute), now.UTC().Truncate(time.Hour)
	type keyed struct {
		key string
		s   alerts.Sample
	}
	valid := make([]keyed, 0, len(samples))
	keys := make([]string, 0, len(samples))
	for _, smp := range samples {
		key, err := checkSample(smp)
		if err != nil {
			r.Invalid++
			continue
		}
		valid = append(valid, keyed{key, smp})
		keys = append(keys, key)
	}
	if len(valid) == 0 {
		return r, nil
	}
	maxSeries := s.MaxSeries
	if maxSeries <= 0 {
		maxSeries = DefaultMaxSeries
	}
	err := pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		known := map[string]bool{}
		rows, err := tx.Query(ctx, `SELECT key FROM vanta.metric_series WHERE key = ANY($1)`, keys)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				return err
			}
			known[k] = true
		}
		if err := rows.Err(); err != nil {
			return err
		}
		var count int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM vanta.metric_series`).Scan(&count); err != nil {
			return err
		}
		batch := &pgx.Batch{}
		for _, k := range valid {
			if !known[k.key] {
				if count >= maxSeries {
					r.Dropped++
					continue
				}
				count++
				known[k.key] = true
			}
			labels := k.s.Labels
			if labels == nil {
				labels = map[string]string{}
			}
			batch.Queue(recordSQL, k.key, k.s.Series, labels, now.UTC(), minute, hour, k.s.Value, now.Sub(hour).Seconds())
			r.Points++
		}
		return tx.SendBatch(ctx, batch).Close()
	})
	if err != nil {
		return Recorded{}, fmt.Errorf("trends: record: %w", err)
	}
	return r, nil
}

// recordSQL makes or touches the series, then folds the value into its
// minute's point and its hour's rollup.
const recordSQL = `
WITH s AS (
	INSERT INTO vanta.metric_series AS s (key, name, labels, first_seen, last_seen) VALUES ($1, $2, $3, $4, $4)
	ON CONFLICT (key) DO UPDATE SET last_seen = greatest(s.last_seen, EXCLUDED.last_seen)
	RETURNING id
), m AS (
	INSERT INTO vanta.metric_minutes AS p (series_id, t, min, max, sum, count) SELECT id, $5, $7, $7, $7, 1 FROM s
	ON CONFLICT (series_id, t) DO UPDATE SET min = least(p.min, EXCLUDED.min), max = greatest(p.max, EXCLUDED.max),
		sum = p.sum + EXCLUDED.sum, count = p.count + 1
)
INSERT INTO vanta.metric_hours AS p (series_id, t, min, max, sum, count, offset_sum) SELECT id, $6, $7, $7, $7, 1, $8 FROM s
ON CONFLICT (series_id, t) DO UPDATE SET min = least(p.min, EXCLUDED.min), max = greatest(p.max, EXCLUDED.max),
	sum = p.sum + EXCLUDED.sum, count = p.count + 1, offset_sum = p.offset_sum + EXCLUDED.offset_sum`

// Pruned is what one Prune removed.
type Pruned struct {
	Minutes, Hours, Series int64
}

// Prune removes minute points older than a day, hour rollups older than
// 90 days (by the start of their minute or hour) and series not seen for
// 90 days, as of now.
func (s Store) Prune(ctx context.Context, now time.Time) (Pruned, error) {
	var p Pruned
	err := pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM vanta.metric_minutes WHERE t < $1`, now.UTC().Add(-MinuteRetention))
		if err != nil {
			return err
		}
		p.Minutes = tag.RowsAffected()
		if tag, err = tx.Exec(ctx, `DELETE FROM vanta.metric_hours WHERE t < $1`, now.UTC().Add(-HourRetention)); err != nil {
			return err
		}
		p.Hours = tag.RowsAffected()
		if tag, err = tx.Exec(ctx, `DELETE FROM vanta.metric_series WHERE last_seen < $1`, now.UTC().Add(-HourRetention)); err != nil {
			return err
		}
		p.Series = tag.RowsAffected()
		return nil
	})
	if err != nil {
		return Pruned{}, fmt.Errorf("trends: prune: %w", err)
	}
	return p, nil
}

// Point is one minute or hour of a series. T is its start.
type Point struct {
	T     time.Time
	Min   float64
	Max   float64
	Sum   float64
	Count int64
	// Mid is the mean time of the samples (hour rollups; a minute's is T).
	Mid time.Time
}

// Avg is the mean of the samples of the point.
func (p Point) Avg() float64 { return p.Sum / float64(p.Count) }

// Series is one series the history knows.
type Series struct {
	Name      string            `json:"series"`
	Labels    map[string]string `json:"labels"`
	FirstSeen time.Time         `json:"first_seen"`
	LastSeen  time.Time         `json:"last_seen"`
}

// maxPoints bounds one history answer; retention bounds it already (a
// day of minutes, 90 days of hours), this guards against a late prune.
const maxPoints = 5000

// History returns the points of one series (name and exactly those
// labels) at step whose start lies in [from, to], oldest first.
func (s Store) History(ctx context.Context, name string, labels map[string]string, step Step, from, to time.Time) ([]Point, error) {
	key, err := SeriesKey(name, labels)
	if err != nil {
		return nil, err
	}
	var id int64
	err = s.DB.QueryRow(ctx, `SELECT id FROM vanta.metric_series WHERE key = $1`, key).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrSeriesNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("trends: history of %s: %w", key, err)
	}
	points, err := s.points(ctx, []int64{id}, step, from, to)
	if err != nil {
		return nil, fmt.Errorf("trends: history of %s: %w", key, err)
	}
	return points[id], nil
}

func (s Store) points(ctx context.Context, ids []int64, step Step, from, to time.Time) (map[int64][]Point, error) {
	table, offsets := "vanta.metric_minutes", "0"
	if step == StepHour {
		table, offsets = "vanta.metric_hours", "offset_sum"
	}
	rows, err := s.DB.Query(ctx, `SELECT series_id, t, min, max, sum, count, `+offsets+` FROM `+table+`
		WHERE series_id = ANY($1) AND t >= $2 AND t <= $3 ORDER BY series_id, t LIMIT $4`,
		ids, from.UTC(), to.UTC(), maxPoints*len(ids))
	if err != nil {
		return nil, err
	}
	out := map[int64][]Point{}
	for rows.Next() {
		var id int64
		var p Point
		var offsets float64
		if err := rows.Scan(&id, &p.T, &p.Min, &p.Max, &p.Sum, &p.Count, &offsets); err != nil {
			return nil, err
		}
		p.T = p.T.UTC()
		p.Mid = p.T.Add(time.Duration(offsets / float64(p.Count) * float64(time.Second)))
		out[id] = append(out[id], p)
	}
	return out, rows.Err()
}

// SeriesPoints is one series with its points.
type SeriesPoints struct {
	Labels map[string]string
	Points []Point
}

// Named returns every series called name, each with its points at step in
// [from, to] (possibly none).
func (s Store) Named(ctx context.Context, name string, step Step, from, to time.Time) ([]SeriesPoints, error) {
	rows, err := s.DB.Query(ctx, `SELECT id, labels FROM vanta.metric_series WHERE name = $1 ORDER BY key`, name)
	if err != nil {
		return nil, fmt.Errorf("trends: series %s: %w", name, err)
	}
	var ids []int64
	var labels []map[string]string
	for rows.Next() {
		var id int64
		var l map[string]string
		if err := rows.Scan(&id, &l); err != nil {
			return nil, fmt.Errorf("trends: series %s: %w", name, err)
		}
		ids, labels = append(ids, id), append(labels, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("trends: series %s: %w", name, err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	points, err := s.points(ctx, ids, step, from, to)
	if err != nil {
		return nil, fmt.Errorf("trends: points of %s: %w", name, err)
	}
	out := make([]SeriesPoints, len(ids))
	for i, id := range ids {
		out[i] = SeriesPoints{Labels: labels[i], Points: points[id]}
	}
	return out, nil
}

// List returns every series the history knows, by name and labels.
func (s Store) List(ctx context.Context) ([]Series, error) {
	rows, err := s.DB.Query(ctx, `SELECT name, labels, first_seen, last_seen FROM vanta.metric_series ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("trends: list series: %w", err)
	}
	out := []Series{}
	for rows.Next() {
		var sr Series
		if err := rows.Scan(&sr.Name, &sr.Labels, &sr.FirstSeen, &sr.LastSeen); err != nil {
			return nil, fmt.Errorf("trends: list series: %w", err)
		}
		sr.FirstSeen, sr.LastSeen = sr.FirstSeen.UTC(), sr.LastSeen.UTC()
		out = append(out, sr)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("trends: list series: %w", err)
	}
	return out, nil
}
