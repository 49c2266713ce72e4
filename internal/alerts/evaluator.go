package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Evaluator runs rounds: it asks every Source for its samples, applies
// every rule, and moves the alerts in PostgreSQL between pending, firing
// and resolved. Notifications are Deliver's, apart, so a slow receiver
// never holds a round up.
type Evaluator struct {
	DB      *pgxpool.Pool
	Rules   []Rule // checked (MergeRules)
	Sources []Source
	Logger  *slog.Logger // nil: nowhere

	// seen is, per source, the series it gave in its last good round: when
	// a source fails, the alerts on its series keep their state instead of
	// resolving for want of samples.
	seen []map[string]bool
}

// observation is one rule's verdict on one label set this round.
type observation struct {
	rule   *Rule
	sample Sample
	holds  bool
}

func (e *Evaluator) logger() *slog.Logger {
	if e.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Logger
}

// collect asks every source for its samples. A source that fails is
// logged, and what it gave is used; the series it gave in earlier rounds
// but not in this one are returned as unknown (no verdict), so their
// alerts neither resolve nor fire for want of a reading.
func (e *Evaluator) collect(ctx context.Context, now time.Time) (samples []Sample, unknown map[string]bool) {
	if len(e.seen) != len(e.Sources) {
		e.seen = make([]map[string]bool, len(e.Sources))
	}
	unknown = map[string]bool{}
	for i, src := range e.Sources {
		got, err := src.Samples(ctx, now)
		series := map[string]bool{}
		for _, s := range got {
			series[s.Series] = true
		}
		if err != nil {
			e.logger().Warn("alert source failed", "source", i, "error", err.Error())
			for s := range e.seen[i] {
				if !series[s] {
					unknown[s] = true
					series[s] = true // still this source's
				}
			}
		}
		e.seen[i] = series
		samples = append(samples, got...)
	}
	return samples, unknown
}

// Evaluate runs one round at now. Time is only ever now: a test passes
// the instants it wants.
func (e *Evaluator) Evaluate(ctx context.Context, now time.Time) error {
	now = now.UTC()
	samples, unknown := e.collect(ctx, now)
	obs := map[string]observation{} // by fingerprint
	for i := range e.Rules {
		r := &e.Rules[i]
		for _, s := range samples {
			if !r.matches(s) {
				continue
			}
			obs[Fingerprint(r.Name, s.Labels)] = observation{rule: r, sample: s, holds: r.holds(s.Value)}
		}
	}
	rules := map[string]*Rule{}
	for i := range e.Rules {
		rules[e.Rules[i].Name] = &e.Rules[i]
	}
	return pgx.BeginFunc(ctx, e.DB, func(tx pgx.Tx) error {
		// One round at a time over a shared database.
		var got bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtext('vanta.alerts'))`).Scan(&got); err != nil {
			return fmt.Errorf("alerts lock: %w", err)
		}
		if !got {
			return ErrBusy
		}
		current, err := open(ctx, tx)
		if err != nil {
			return err
		}
		byFP := map[string]Alert{}
		for _, a := range current {
			byFP[a.Fingerprint] = a
		}
		for fp, o := range obs {
			if !o.holds {
				continue
			}
			if err := e.hold(ctx, tx, fp, o, byFP, now); err != nil {
				return err
			}
		}
		for fp, a := range byFP {
			if o, ok := obs[fp]; ok && o.holds {
				continue
			}
			r := rules[a.Rule]
			if r != nil && unknown[r.Series] {
				if _, ok := obs[fp]; !ok {
					continue // its source failed this round: no verdict
				}
			}
			if err := clear(ctx, tx, a, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// hold records a condition that holds: a new alert (pending, or firing
// at once when the rule has no For), or one that goes on, firing once it
// has held for For.
func (e *Evaluator) hold(ctx context.Context, tx pgx.Tx, fp string, o observation, open map[string]Alert, now time.Time) error {
	summary, err := o.rule.summary(o.sample)
	if err != nil {
		summary = o.rule.Name
		e.logger().Warn("alert summary", "rule", o.rule.Name, "error", err.Error())
	}
	labels := o.sample.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	a, ok := open[fp]
	if !ok {
		state, started := Pending, (*time.Time)(nil)
		if o.rule.For == 0 {
			state, started = Firing, &now
		}
		_, err := tx.Exec(ctx, `INSERT INTO vanta.alerts (fingerprint, rule, level, state, labels, value, summary, pending_since, started_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			fp, o.rule.Name, string(o.rule.Level), string(state), labels, o.sample.Value, summary, now, started)
		if err != nil {
			return fmt.Errorf("raise alert %s: %w", o.rule.Name, err)
		}
		if state == Firing {
			e.logger().Warn("alert firing", "rule", o.rule.Name, "level", string(o.rule.Level), "summary", summary)
		}
		return nil
	}
	if a.State == Pending && !now.Before(a.PendingSince.Add(o.rule.For)) {
		_, err := tx.Exec(ctx, `UPDATE vanta.alerts SET state = 'firing', started_at = $2, value = $3, summary = $4, level = $5 WHERE id = $1`,
			a.ID, now, o.sample.Value, summary, string(o.rule.Level))
		if err != nil {
			return fmt.Errorf("fire alert %s: %w", o.rule.Name, err)
		}
		e.logger().Warn("alert firing", "rule", o.rule.Name, "level", string(o.rule.Level), "summary", summary)
		return nil
	}
	_, err = tx.Exec(ctx, `UPDATE vanta.alerts SET value = $2, summary = $3 WHERE id = $1`, a.ID, o.sample.Value, summary)
	if err != nil {
		return fmt.Errorf("update alert %s: %w", o.rule.Name, err)
	}
	return nil
}

// clear ends an alert whose condition no longer holds: a pending one is
// forgotten (it never fired, so nobody heard of it), a firing one resolves.
func clear(ctx context.Context, tx pgx.Tx, a Alert, now time.Time) error {
	var err error
	if a.State == Pending {
		_, err = tx.Exec(ctx, `DELETE FROM vanta.alerts WHERE id = $1`, a.ID)
	} else {
		_, err = tx.Exec(ctx, `UPDATE vanta.alerts SET state = 'resolved', resolved_at = $2 WHERE id = $1`, a.ID, now)
	}
	if err != nil {
		return fmt.Errorf("clear alert %s: %w", a.Rule, err)
	}
	return nil
}

// Prune forgets resolved alerts that ended before before.
func (e *Evaluator) Prune(ctx context.Context, before time.Time) (int64, error) {
	tag, err := e.DB.Exec(ctx, `DELETE FROM vanta.alerts WHERE state = 'resolved' AND resolved_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("prune alerts: %w", err)
	}
	return tag.RowsAffected(), nil
}

// isBusy reports a round skipped because another evaluator held it.
func isBusy(err error) bool { return errors.Is(err, ErrBusy) }
