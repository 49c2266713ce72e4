package trends

import (
	"context"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/vanta-ledger/vanta/internal/alerts"
	"github.com/vanta-ledger/vanta/internal/quota"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// TestDaysUntil: the least-squares line's days to the limit, from now
// (x = 0), or nothing when it does not rise.
func TestDaysUntil(t *testing.T) {
	line := func(a, b float64, xs ...float64) []float64 {
		ys := make([]float64, len(xs))
		for i, x := range xs {
			ys[i] = a + b*x
		}
		return ys
	}
	week := []float64{-7, -6, -5, -4, -3, -2, -1, 0}
	for _, c := range []struct {
		name   string
		xs, ys []float64
		days   float64
		ok     bool
	}{
		{"2 points a day from 50", week, line(50, 2, week...), (100 - 50) / 2.0, true},
		{"half a point a day from 91", week, line(91, 0.5, week...), (100 - 91) / 0.5, true},
		{"a day of hours at 3 a day", []float64{-1, -0.75, -0.5, -0.25, 0}, line(70, 3, -1, -0.75, -0.5, -0.25, 0), 10, true},
		{"noise around a rising line", week, []float64{36, 38, 40, 42, 44, 46, 48, 50}, 25, true},
		{"full already", week, line(101, 1, week...), 0, true},
		{"not growing", week, line(60, 0, week...), 0, false},
		{"shrinking", week, line(60, -1, week...), 0, false},
		{"one point", []float64{0}, []float64{50}, 0, false},
		{"all at one time", []float64{0, 0, 0}, []float64{40, 50, 60}, 0, false},
	} {
		days, ok := DaysUntil(c.xs, c.ys, 100)
		if ok != c.ok || math.Abs(days-c.days) > 1e-9 {
			t.Errorf("%s: %v %v, want %v %v", c.name, days, ok, c.days, c.ok)
		}
	}
}

// TestDiskAdviceFromRecordedHistory: a disk filling at a known rate,
// recorded every 15 minutes for 30 hours of a fake clock, is full in the
// days that rate gives; a flat one, and one with less than a day of
// history, have no advice.
func TestDiskAdviceFromRecordedHistory(t *testing.T) {
	ctx := context.Background()
	db := appDB(t)
	st := Store{DB: db}
	const perMinute = 0.004 // percentage points: 5.76 a day
	level := func(m int) float64 { return 40 + perMinute*float64(m) }
	last := 30 * 60
	for m := 0; m <= last; m += 15 {
		samples := []alerts.Sample{
			{Series: "disk_used_percent", Labels: map[string]string{"path": "/data"}, Value: level(m)},
			{Series: "disk_used_percent", Labels: map[string]string{"path": "/flat"}, Value: 55},
		}
		if m >= last-20*60 {
			samples = append(samples, alerts.Sample{Series: "disk_used_percent", Labels: map[string]string{"path": "/young"}, Value: float64(m)})
		}
		// Rounds land a few seconds into their minute.
		if _, err := st.Record(ctx, minute(m).Add(7*time.Second), samples); err != nil {
			t.Fatal(err)
		}
	}
	now := minute(last).Add(7 * time.Second)
	got, err := NewAdvisor(opener(db), nil).AlertSource().Samples(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	want := (100 - level(last)) / (perMinute * 24 * 60)
	if len(got) != 1 || got[0].Series != AdviceDiskFullDays || got[0].Labels["path"] != "/data" || math.Abs(got[0].Value-want) > 1e-6 {
		t.Fatalf("advice: %+v, want only %s{path=/data} %v", got, AdviceDiskFullDays, want)
	}
}

// hours makes hour rollups from..to (exclusive) of 12 samples of v each.
func hours(from, to time.Time, v float64) []Point {
	var out []Point
	for t := from; t.Before(to); t = t.Add(time.Hour) {
		out = append(out, Point{T: t, Min: v, Max: v, Sum: 12 * v, Count: 12, Mid: t.Add(30 * time.Minute)})
	}
	return out
}

// idle is hours that each had requests at 12 times (v) and none at 12
// (the live p95 reads 0).
func idle(from, to time.Time, v float64) []Point {
	out := hours(from, to, v)
	for i := range out {
		out[i].Min, out[i].Count = 0, 24
	}
	return out
}

// TestSlowdownAdvice: the last day's mean p95 over the week before's,
// per route (the whole API's as route "all"); none without enough
// history.
func TestSlowdownAdvice(t *testing.T) {
	now := t0.Add(10 * 24 * time.Hour)
	day := now.Add(-24 * time.Hour)
	week := day.Add(-7 * 24 * time.Hour)
	route := map[string]string{"route": "/api/v1/companies/:cid/journal"}
	for _, c := range []struct {
		name   string
		series SeriesPoints
		route  string
		ratio  float64 // 0: no advice
	}{
		{"a route 2.5 times slower", SeriesPoints{route, append(hours(week, day, 0.2), hours(day, now, 0.5)...)}, route["route"], 2.5},
		{"the whole API as fast", SeriesPoints{nil, append(hours(week, day, 0.25), hours(day, now, 0.25)...)}, OverallRoute, 1},
		{"faster", SeriesPoints{route, append(hours(week, day, 0.5), hours(day, now, 0.25)...)}, route["route"], 0.5},
		{"older history left out", SeriesPoints{nil, append(append(hours(week.Add(-48*time.Hour), week, 10), hours(week, day, 0.5)...), hours(day, now, 1)...)}, OverallRoute, 2},
		{"half a day before the last", SeriesPoints{nil, append(hours(day.Add(-12*time.Hour), day, 0.2), hours(day, now, 0.5)...)}, "", 0},
		{"nothing in the last day", SeriesPoints{nil, hours(week, day, 0.2)}, "", 0},
		{"only idle hours before", SeriesPoints{nil, append(hours(week, day, 0), hours(day, now, 0.5)...)}, "", 0},
		{"idle hours left out", SeriesPoints{nil, append(append(hours(week, day, 0.25), idle(day, now.Add(-12*time.Hour), 0.25)...), hours(now.Add(-12*time.Hour), now, 0.5)...)}, OverallRoute, 2},
	} {
		got := SlowdownAdvice([]SeriesPoints{c.series}, now)
		if c.ratio == 0 {
			if len(got) != 0 {
				t.Errorf("%s: %+v, want none", c.name, got)
			}
			continue
		}
		if len(got) != 1 || got[0].Series != AdviceRouteSlowdownRatio || got[0].Labels["route"] != c.route || math.Abs(got[0].Value-c.ratio) > 1e-12 {
			t.Errorf("%s: %+v, want %s{route=%s} %v", c.name, got, AdviceRouteSlowdownRatio, c.route, c.ratio)
		}
	}
}

// TestSlowdownFromRecordedHistory: the p95 series recorded hourly for 8
// days, three times slower in the last.
func TestSlowdownFromRecordedHistory(t *testing.T) {
	ctx := context.Background()
	db := appDB(t)
	st := Store{DB: db}
	now := t0.Add(8*24*time.Hour - time.Minute)
	for k := range 8 * 24 {
		at := t0.Add(time.Duration(k) * time.Hour)
		v := 0.25
		if !at.Before(now.Add(-24 * time.Hour)) {
			v = 0.75
		}
		if _, err := st.Record(ctx, at, []alerts.Sample{{Series: "api_request_p95_seconds", Value: v}}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := NewAdvisor(opener(db), nil).Samples(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Series != AdviceRouteSlowdownRatio || got[0].Labels["route"] != OverallRoute || got[0].Value != 3 {
		t.Errorf("advice: %+v, want %s{route=all} 3", got, AdviceRouteSlowdownRatio)
	}
}

// TestCompanyStorageAdvice: each live company's counter over the quota,
// read from the companies table and the quota counters in Redis.
func TestCompanyStorageAdvice(t *testing.T) {
	ctx := context.Background()
	_, db, super := newDB(t)
	rdb := redis.NewClient(&redis.Options{Network: "unix", Addr: redisSocket})
	t.Cleanup(func() { _ = rdb.Close() })
	a, b, archived := uuid.New(), uuid.New(), uuid.New()
	for _, co := range []struct {
		id     uuid.UUID
		status string
		used   int64
	}{{a, "active", 800}, {b, "active", 0}, {archived, "archived", 900}} {
		if _, err := super.Exec(ctx, `INSERT INTO vanta.companies (id, name, status) VALUES ($1, $2, $3)`, co.id, "Co "+co.id.String()[:8], co.status); err != nil {
			t.Fatal(err)
		}
		if co.used > 0 {
			if err := rdb.Set(ctx, tenancy.RedisPrefixOf(co.id)+"quota:storage", co.used, 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	storage := StorageFunc(func(ctx context.Context) (map[uuid.UUID]int64, int64, error) {
		return CompanyStorage(ctx, tenancy.Companies{DB: db}, quota.Quotas{Redis: rdb, Limits: quota.Limits{StorageBytes: 1000}})
	})
	got, err := NewAdvisor(opener(db), storage).Samples(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Value > got[j].Value })
	if len(got) != 2 || got[0].Labels["company"] != a.String() || got[0].Value != 0.8 || got[1].Labels["company"] != b.String() || got[1].Value != 0 {
		t.Errorf("advice: %+v, want %s 0.8 and %s 0", got, a, b)
	}
	for _, s := range got {
		if s.Series != AdviceCompanyStorageRatio {
			t.Errorf("series %s", s.Series)
		}
	}
	if got := StorageAdvice(map[uuid.UUID]int64{a: 5}, 0); len(got) != 0 {
		t.Errorf("no quota: %+v", got)
	}
}
