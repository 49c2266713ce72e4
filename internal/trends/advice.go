package trends

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/alerts"
	"github.com/vanta-ledger/vanta/internal/quota"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// Advice series (the alert rules' defaults raise them at the info level).
const (
	// AdviceDiskFullDays{path}: days until the disk is full at the rate of
	// the last 24 hours to 7 days; absent when the disk is not filling.
	AdviceDiskFullDays = "advice_disk_full_days"
	// AdviceCompanyStorageRatio{company}: storage used / the quota.
	AdviceCompanyStorageRatio = "advice_company_storage_ratio"
	// AdviceRouteSlowdownRatio{route}: p95 of the last day / p95 of the
	// seven days before it.
	AdviceRouteSlowdownRatio = "advice_route_slowdown_ratio"
)

// The series advice reads from the history.
const (
	diskSeries = "disk_used_percent"
	p95Series  = "api_request_p95_seconds"
)

// Windows and minimum history of the advice.
const (
	diskWindow  = 7 * 24 * time.Hour // the longest history the disk rate uses
	diskMinSpan = 24 * time.Hour     // the shortest: less gives no advice
	recentDay   = 24 * time.Hour     // the slowdown's "today"
	baseWindow  = 7 * 24 * time.Hour // and the week before it
	baseMinSpan = 24 * time.Hour     // the week needs a day of history at least
	// minGrowthPerDay is the slope below which a disk counts as not
	// filling (percentage points a day).
	minGrowthPerDay = 1e-6
)

// OverallRoute is the route label of the slowdown advice when the p95
// series carries no route label (the live series is the whole API's).
const OverallRoute = "all"

// StorageReader tells each live company's stored bytes and the storage
// quota (the same for every company).
type StorageReader interface {
	StorageUse(ctx context.Context) (used map[uuid.UUID]int64, limit int64, err error)
}

// Advisor turns the history into advice samples.
type Advisor struct {
	Open    Opener
	Storage StorageReader // nil: no company storage advice
}

// NewAdvisor returns an advisor over the history open gives and the
// companies' storage (nil: none).
func NewAdvisor(open Opener, storage StorageReader) *Advisor {
	return &Advisor{Open: open, Storage: storage}
}

// AlertSource is the advice as an alert source.
func (a *Advisor) AlertSource() alerts.Source { return alerts.SourceFunc(a.Samples) }

// Samples computes every advice as of now. A part that fails does not
// hide the others: their samples are returned with the joined error.
func (a *Advisor) Samples(ctx context.Context, now time.Time) ([]alerts.Sample, error) {
	var out []alerts.Sample
	var errs []error
	db, err := a.Open(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("trends: open the database: %w", err))
	} else {
		st := Store{DB: db}
		disk, err := st.Named(ctx, diskSeries, StepHour, now.Add(-diskWindow), now)
		if err != nil {
			errs = append(errs, err)
		}
		out = append(out, DiskAdvice(disk, now)...)
		p95, err := st.Named(ctx, p95Series, StepHour, now.Add(-recentDay-baseWindow), now)
		if err != nil {
			errs = append(errs, err)
		}
		out = append(out, SlowdownAdvice(p95, now)...)
	}
	if a.Storage != nil {
		used, limit, err := a.Storage.StorageUse(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("trends: storage use: %w", err))
		}
		out = append(out, StorageAdvice(used, limit)...)
	}
	return out, errors.Join(errs...)
}

// DiskAdvice is advice_disk_full_days for each disk_used_percent series
// (hour rollups of the last 7 days): a least-squares line through the
// hours' averages at their samples' mean times, its value now, and the days until it reaches 100 %.
// A disk with less than a day of history, or not filling, has none.
func DiskAdvice(series []SeriesPoints, now time.Time) []alerts.Sample {
	var out []alerts.Sample
	for _, s := range series {
		if len(s.Points) < 2 || now.Sub(s.Points[0].T) < diskMinSpan {
			continue
		}
		xs := make([]float64, len(s.Points))
		ys := make([]float64, len(s.Points))
		for i, p := range s.Points {
			xs[i] = p.Mid.Sub(now).Hours() / 24 // days, now at 0
			ys[i] = p.Avg()
		}
		days, ok := DaysUntil(xs, ys, 100)
		if !ok {
			continue
		}
		out = append(out, alerts.Sample{Series: AdviceDiskFullDays, Labels: map[string]string{"path": s.Labels["path"]}, Value: days})
	}
	return out
}

// DaysUntil fits y = a + b·x by least squares (x in days, now at 0) and
// returns when the line reaches limit, in days from now: 0 if it is there
// already. ok is false when the line does not rise (or cannot be fitted).
func DaysUntil(xs, ys []float64, limit float64) (days float64, ok bool) {
	n := float64(len(xs))
	if len(xs) < 2 || len(xs) != len(ys) {
		return 0, false
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	if sxx == 0 {
		return 0, false
	}
	slope := sxy / sxx
	if slope < minGrowthPerDay {
		return 0, false
	}
	level := my - slope*mx // the line at x = 0, now
	if level >= limit {
		return 0, true
	}
	return (limit - level) / slope, true
}

// StorageAdvice is advice_company_storage_ratio for each company: bytes
// used over the quota. None without a quota.
func StorageAdvice(used map[uuid.UUID]int64, limit int64) []alerts.Sample {
	if limit <= 0 {
		return nil
	}
	out := make([]alerts.Sample, 0, len(used))
	for id, n := range used {
		out = append(out, alerts.Sample{Series: AdviceCompanyStorageRatio, Labels: map[string]string{"company": id.String()},
			Value: float64(n) / float64(limit)})
	}
	return out
}

// SlowdownAdvice is advice_route_slowdown_ratio for each
// api_request_p95_seconds series (hour rollups of the last 8 days): the
// mean of the p95 recorded in the last day over the mean of the seven
// days before it. A series without a route label is the whole API's
// (route "all"). Hours in which the p95 read 0 (no request in its
// window) are left out. None without a day of such history before the
// last day, or without any in the last day.
func SlowdownAdvice(series []SeriesPoints, now time.Time) []alerts.Sample {
	var out []alerts.Sample
	cut := now.Add(-recentDay)
	for _, s := range series {
		var recentSum, baseSum float64
		var recentN, baseN int64
		var oldest time.Time
		for _, p := range s.Points {
			switch {
			case p.Min <= 0:
				// The live p95 reads 0 while no request came in its
				// window: an hour that was idle at times says nothing
				// of speed, and its zeros would pull the mean down.
			case !p.T.Before(cut):
				recentSum += p.Sum
				recentN += p.Count
			case !p.T.Before(cut.Add(-baseWindow)):
				baseSum += p.Sum
				baseN += p.Count
				if oldest.IsZero() || p.T.Before(oldest) {
					oldest = p.T
				}
			}
		}
		if recentN == 0 || baseN == 0 || cut.Sub(oldest) < baseMinSpan {
			continue
		}
		route := s.Labels["route"]
		if route == "" {
			route = OverallRoute
		}
		ratio := (recentSum / float64(recentN)) / (baseSum / float64(baseN))
		out = append(out, alerts.Sample{Series: AdviceRouteSlowdownRatio, Labels: map[string]string{"route": route}, Value: ratio})
	}
	return out
}

// StorageFunc adapts a function to a StorageReader.
type StorageFunc func(ctx context.Context) (map[uuid.UUID]int64, int64, error)

// StorageUse calls f.
func (f StorageFunc) StorageUse(ctx context.Context) (map[uuid.UUID]int64, int64, error) {
	return f(ctx)
}

// CompanyStorage reads what StorageReader tells from the appliance's own
// records: every company that is not archived (tenancy), its storage
// counter and the storage allowance (quota), in two round trips.
func CompanyStorage(ctx context.Context, companies tenancy.Companies, q quota.Quotas) (map[uuid.UUID]int64, int64, error) {
	cos, err := companies.Live(ctx)
	if err != nil {
		return nil, 0, err
	}
	ids := make([]uuid.UUID, len(cos))
	for i, c := range cos {
		ids[i] = c.ID
	}
	used, err := q.StorageUsedEach(ctx, ids)
	if err != nil {
		return nil, 0, err
	}
	return used, q.StorageLimit(), nil
}
