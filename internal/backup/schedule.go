package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vanta-ledger/vanta/internal/alerts"
)

// Period is how often a schedule entry runs.
type Period string

// Periods; times are UTC. Weekly runs on Sunday, monthly on the 1st.
const (
	Hourly  Period = "hourly"
	Daily   Period = "daily"
	Weekly  Period = "weekly"
	Monthly Period = "monthly"
)

// Entry is one line of a schedule: "full weekly", "diff daily at 02:30".
type Entry struct {
	Kind         Kind
	Period       Period
	Hour, Minute int // UTC; hourly uses Minute only
}

// Schedule is the appliance's backup schedule; empty means off.
type Schedule []Entry

// DefaultSchedule and DefaultRetention are the settings' defaults.
const (
	DefaultSchedule  = "full weekly, diff daily"
	DefaultRetention = "daily=7,weekly=4,monthly=12"
)

// ParseSchedule reads "KIND PERIOD [at HH:MM]" entries separated by
// commas, or "off".
func ParseSchedule(s string) (Schedule, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "off") {
		return nil, nil
	}
	var out Schedule
	for _, raw := range strings.Split(s, ",") {
		f := strings.Fields(strings.ToLower(raw))
		if len(f) != 2 && !(len(f) == 4 && f[2] == "at") {
			return nil, fmt.Errorf("schedule entry %q: want KIND PERIOD [at HH:MM], e.g. \"diff daily at 02:30\"", strings.TrimSpace(raw))
		}
		k, err := ParseKind(f[0])
		if err != nil {
			return nil, fmt.Errorf("schedule entry %q: %w", strings.TrimSpace(raw), err)
		}
		e := Entry{Kind: k, Period: Period(f[1])}
		switch e.Period {
		case Hourly, Daily, Weekly, Monthly:
		default:
			return nil, fmt.Errorf("schedule entry %q: period %q must be hourly, daily, weekly or monthly", strings.TrimSpace(raw), f[1])
		}
		if len(f) == 4 {
			t, err := time.Parse("15:04", f[3])
			if err != nil {
				return nil, fmt.Errorf("schedule entry %q: time %q must be HH:MM (UTC)", strings.TrimSpace(raw), f[3])
			}
			e.Hour, e.Minute = t.Hour(), t.Minute()
		}
		for _, o := range out {
			if o.Kind == e.Kind {
				return nil, fmt.Errorf("schedule entry %q: kind %s is scheduled twice", strings.TrimSpace(raw), e.Kind)
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// Boundary is the entry's latest scheduled time at or before now.
func (e Entry) Boundary(now time.Time) time.Time {
	now = now.UTC()
	var b time.Time
	switch e.Period {
	case Hourly:
		b = time.Date(now.Year(), now.Month(), now.Day(), now.Hour(), e.Minute, 0, 0, time.UTC)
		if b.After(now) {
			b = b.Add(-time.Hour)
		}
	case Daily:
		b = time.Date(now.Year(), now.Month(), now.Day(), e.Hour, e.Minute, 0, 0, time.UTC)
		if b.After(now) {
			b = b.AddDate(0, 0, -1)
		}
	case Weekly:
		d := time.Date(now.Year(), now.Month(), now.Day(), e.Hour, e.Minute, 0, 0, time.UTC)
		b = d.AddDate(0, 0, -int(d.Weekday()))
		if b.After(now) {
			b = b.AddDate(0, 0, -7)
		}
	case Monthly:
		b = time.Date(now.Year(), now.Month(), 1, e.Hour, e.Minute, 0, 0, time.UTC)
		if b.After(now) {
			b = b.AddDate(0, -1, 0)
		}
	}
	return b
}

// Interval is the entry's nominal spacing.
func (e Entry) Interval() time.Duration {
	switch e.Period {
	case Hourly:
		return time.Hour
	case Daily:
		return 24 * time.Hour
	case Weekly:
		return 7 * 24 * time.Hour
	}
	return 31 * 24 * time.Hour
}

// Interval is the schedule's shortest spacing: a backup older than that
// (with slack) is late. Zero when off.
func (s Schedule) Interval() time.Duration {
	var d time.Duration
	for _, e := range s {
		if d == 0 || e.Interval() < d {
			d = e.Interval()
		}
	}
	return d
}

// covers says a set of kind have makes a scheduled want unnecessary: a
// full covers everything, a diff covers a diff or an incr.
func covers(have, want Kind) bool {
	return have == KindFull || have == want || (have == KindDiff && want == KindIncr)
}

var kindRank = map[Kind]int{KindIncr: 1, KindDiff: 2, KindFull: 3}

// Due says which kind of backup is due at now, given the sets made so far
// and when the appliance started: an entry is due when its latest
// boundary passed with no set covering it since. With no set at all, only
// a boundary after start counts: a fresh appliance makes its first
// scheduled backup at the first scheduled time, not as it boots. The
// biggest due kind wins.
func (s Schedule) Due(now, started time.Time, sets []Manifest) (Kind, bool) {
	var best Kind
	for _, e := range s {
		b := e.Boundary(now)
		if len(sets) == 0 && !b.After(started) {
			continue
		}
		covered := false
		for _, m := range sets {
			if covers(m.Kind, e.Kind) && !m.Started.Before(b) {
				covered = true
				break
			}
		}
		if !covered && kindRank[e.Kind] > kindRank[best] {
			best = e.Kind
		}
	}
	return best, best != ""
}

// Retention says how many daily, weekly and monthly sets to keep.
type Retention struct{ Daily, Weekly, Monthly int }

// ParseRetention reads "daily=7,weekly=4,monthly=12" (any subset; a
// missing one is 0).
func ParseRetention(s string) (Retention, error) {
	var r Retention
	if strings.TrimSpace(s) == "" {
		return r, errors.New("retention is empty: want e.g. daily=7,weekly=4,monthly=12")
	}
	for _, f := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if !ok || err != nil || n < 0 {
			return r, fmt.Errorf("retention %q: want NAME=N with N >= 0", strings.TrimSpace(f))
		}
		switch strings.TrimSpace(strings.ToLower(k)) {
		case "daily":
			r.Daily = n
		case "weekly":
			r.Weekly = n
		case "monthly":
			r.Monthly = n
		default:
			return r, fmt.Errorf("retention %q: name must be daily, weekly or monthly", strings.TrimSpace(f))
		}
	}
	return r, nil
}

// Select splits sets into those kept and those dropped: the newest set
// of each of the last Daily days, Weekly ISO weeks and Monthly months
// that have sets; always the newest set and any set dated after now (a
// clock set back); and every set a kept diff or incr needs, back to its
// full. keepFull is how many pgBackRest full backups to keep (counted
// from the newest) so that every kept set's PostgreSQL backup stays.
func (r Retention) Select(sets []Manifest, now time.Time) (keep, drop []Manifest, keepFull int) {
	if len(sets) == 0 {
		return nil, nil, 0
	}
	s := append([]Manifest(nil), sets...)
	sort.Slice(s, func(i, j int) bool { return s[i].Time.After(s[j].Time) }) // newest first
	kept := make([]bool, len(s))
	kept[0] = true
	bucket := func(n int, key func(time.Time) string) {
		seen := map[string]bool{}
		for i, m := range s {
			k := key(m.Time.UTC())
			if seen[k] {
				continue
			}
			if len(seen) == n {
				return
			}
			seen[k] = true
			kept[i] = true
		}
	}
	bucket(r.Daily, func(t time.Time) string { return t.Format("2006-01-02") })
	bucket(r.Weekly, func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%d-%02d", y, w) })
	bucket(r.Monthly, func(t time.Time) string { return t.Format("2006-01") })
	for i, m := range s {
		if m.Time.After(now) {
			kept[i] = true
		}
	}
	// Dependencies: from each kept non-full set back to the full before it.
	for i := range s {
		if !kept[i] || s[i].Kind == KindFull {
			continue
		}
		for j := i + 1; j < len(s); j++ {
			kept[j] = true
			if s[j].Kind == KindFull {
				break
			}
		}
	}
	oldestFull := -1
	for i, m := range s {
		if kept[i] {
			keep = append(keep, m)
			if m.Kind == KindFull {
				oldestFull = i
			}
		} else {
			drop = append(drop, m)
		}
	}
	for i := 0; i <= oldestFull; i++ {
		if s[i].Kind == KindFull {
			keepFull++
		}
	}
	sort.Slice(keep, func(i, j int) bool { return keep[i].Time.Before(keep[j].Time) })
	sort.Slice(drop, func(i, j int) bool { return drop[i].Time.Before(drop[j].Time) })
	return keep, drop, keepFull
}

// record notes an attempt's outcome for the alert source.
func (s *Service) record(m Manifest, err error) {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	s.attempted = true
	s.lastErr = err
	if err == nil && m.Time.After(s.lastOK) {
		s.lastOK = m.Time
	}
}

// Scheduler runs the schedule and the retention in the appliance. It
// needs no keys: it runs sealed or not.
type Scheduler struct {
	Service   *Service
	Schedule  Schedule
	Retention Retention
	Started   time.Time
	Tick      time.Duration // how often to look; default one minute
}

// Run looks for due work every Tick until ctx ends.
func (sc *Scheduler) Run(ctx context.Context) {
	if sc.Started.IsZero() {
		sc.Started = sc.Service.o.Now()
	}
	if sets, err := sc.Service.List(); err == nil && len(sets) > 0 {
		sc.Service.record(sets[len(sets)-1], nil)
		sc.Service.stateMu.Lock()
		sc.Service.attempted = false
		sc.Service.stateMu.Unlock()
	}
	if len(sc.Schedule) == 0 {
		return
	}
	tick := sc.Tick
	if tick <= 0 {
		tick = time.Minute
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if err := sc.Step(ctx, sc.Service.o.Now()); err != nil && ctx.Err() == nil {
			sc.Service.o.Logger.Error("scheduled backup", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Step makes the backup due at now, if any, then applies the retention.
func (sc *Scheduler) Step(ctx context.Context, now time.Time) error {
	sets, err := sc.Service.List()
	if err != nil {
		return err
	}
	kind, due := sc.Schedule.Due(now, sc.Started, sets)
	if !due {
		return nil
	}
	if _, err := sc.Service.Create(ctx, kind, nil); err != nil {
		return err
	}
	_, err = sc.Prune(ctx, now)
	return err
}

// Prune deletes the sets the retention drops and expires pgBackRest's
// older full backups (with their WAL) to match. It returns what it
// removed.
func (sc *Scheduler) Prune(ctx context.Context, now time.Time) ([]Manifest, error) {
	sc.Service.mu.Lock()
	defer sc.Service.mu.Unlock()
	sets, err := sc.Service.List()
	if err != nil {
		return nil, err
	}
	_, drop, keepFull := sc.Retention.Select(sets, now)
	for _, m := range drop {
		if err := os.RemoveAll(filepath.Join(sc.Service.o.Dir, "sets", m.ID)); err != nil {
			return nil, fmt.Errorf("prune set %s: %w", m.ID, err)
		}
		sc.Service.o.Logger.Info("backup set pruned", "id", m.ID)
	}
	if sc.Service.o.PG != nil && keepFull > 0 {
		pg, err := sc.Service.o.PG(ctx)
		if err != nil {
			return drop, fmt.Errorf("pgbackrest expire: %w", err)
		}
		if err := pg.Expire(ctx, keepFull); err != nil {
			return drop, fmt.Errorf("pgbackrest expire: %w", err)
		}
	}
	return drop, nil
}

// AlertSource gives backup_failed (1 when the last attempt failed) and,
// while a schedule is on, backup_age_seconds (since the newest set, or
// since the appliance started when there is none).
func (sc *Scheduler) AlertSource() alerts.Source {
	return alerts.SourceFunc(func(ctx context.Context, now time.Time) ([]alerts.Sample, error) {
		s := sc.Service
		s.stateMu.Lock()
		lastOK, lastErr := s.lastOK, s.lastErr
		s.stateMu.Unlock()
		failed := 0.0
		if lastErr != nil {
			failed = 1
		}
		out := []alerts.Sample{{Series: "backup_failed", Value: failed}}
		if len(sc.Schedule) > 0 {
			since := lastOK
			if since.IsZero() {
				since = sc.Started
			}
			out = append(out, alerts.Sample{Series: "backup_age_seconds", Value: now.Sub(since).Seconds()})
		}
		return out, nil
	})
}
