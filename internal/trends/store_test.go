package trends

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vanta-ledger/vanta/internal/alerts"
)

// t0 is the fake clock's start, on an hour.
var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func minute(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }

// cpuAt and diskAt are the values the test source gives at minute i:
// multiples of 1/8, so sums are exact in binary floating point.
func cpuAt(i int) float64  { return float64((i*37)%101) / 4 }
func diskAt(i int) float64 { return 40 + float64(i)/8 }

// TestRecordedMinutesRollUpIntoExactHours drives the recorder over 150
// minutes of a fake clock and checks each hour's min, max, average and
// count against the values the source gave, and the minutes one by one.
func TestRecordedMinutesRollUpIntoExactHours(t *testing.T) {
	ctx := context.Background()
	db := appDB(t)
	src := alerts.SourceFunc(func(_ context.Context, now time.Time) ([]alerts.Sample, error) {
		i := int(now.Sub(t0) / time.Minute)
		return []alerts.Sample{
			{Series: "host_cpu_percent", Value: cpuAt(i)},
			{Series: "disk_used_percent", Labels: map[string]string{"path": "/data"}, Value: diskAt(i)},
		}, nil
	})
	rec := NewRecorder(src, opener(db), nil)
	const minutes = 150
	for i := range minutes {
		// Rounds land anywhere in their minute.
		got, err := rec.Round(ctx, minute(i).Add(time.Duration(i%50)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if got.Points != 2 || got.Invalid != 0 || got.Dropped != 0 {
			t.Fatalf("round %d: %+v", i, got)
		}
	}
	st := Store{DB: db}
	for _, c := range []struct {
		name   string
		labels map[string]string
		at     func(int) float64
	}{
		{"host_cpu_percent", nil, cpuAt},
		{"disk_used_percent", map[string]string{"path": "/data"}, diskAt},
	} {
		hours, err := st.History(ctx, c.name, c.labels, StepHour, t0, t0.Add(3*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(hours) != 3 {
			t.Fatalf("%s: %d hours, want 3", c.name, len(hours))
		}
		for h, p := range hours {
			lo, hi, sum, n := math.Inf(1), math.Inf(-1), 0.0, int64(0)
			for i := h * 60; i < min((h+1)*60, minutes); i++ {
				v := c.at(i)
				lo, hi, sum, n = math.Min(lo, v), math.Max(hi, v), sum+v, n+1
			}
			if !p.T.Equal(t0.Add(time.Duration(h)*time.Hour)) || p.Min != lo || p.Max != hi || p.Count != n || p.Avg() != sum/float64(n) {
				t.Errorf("%s hour %d: %+v avg %v, want min %v max %v count %d avg %v", c.name, h, p, p.Avg(), lo, hi, n, sum/float64(n))
			}
		}
		mins, err := st.History(ctx, c.name, c.labels, StepMinute, minute(70), minute(79))
		if err != nil {
			t.Fatal(err)
		}
		if len(mins) != 10 {
			t.Fatalf("%s: %d minutes, want 10", c.name, len(mins))
		}
		for k, p := range mins {
			v := c.at(70 + k)
			if !p.T.Equal(minute(70+k)) || p.Min != v || p.Max != v || p.Avg() != v || p.Count != 1 {
				t.Errorf("%s minute %d: %+v, want %v", c.name, 70+k, p, v)
			}
		}
	}
}

// TestPruneKeepsADayOfMinutesAnd90DaysOfHours: a minute point lives a
// day, an hour rollup 90 days, a series as long as it was seen in them.
func TestPruneKeepsADayOfMinutesAnd90DaysOfHours(t *testing.T) {
	ctx := context.Background()
	st := Store{DB: appDB(t)}
	one := func(name string, v float64) []alerts.Sample { return []alerts.Sample{{Series: name, Value: v}} }
	for _, r := range []struct {
		at   time.Time
		name string
	}{{t0, "old"}, {minute(30), "old"}, {t0.Add(60 * 24 * time.Hour), "later"}} {
		if _, err := st.Record(ctx, r.at, one(r.name, 1)); err != nil {
			t.Fatal(err)
		}
	}
	count := func(step Step) int {
		t.Helper()
		p, err := st.History(ctx, "old", nil, step, t0.Add(-time.Hour), t0.Add(time.Hour))
		if errors.Is(err, ErrSeriesNotFound) {
			return -1
		}
		if err != nil {
			t.Fatal(err)
		}
		return len(p)
	}
	for _, c := range []struct {
		now                  time.Time
		minutes, hours       int
		prunedM, prunedH, sr int64
	}{
		{t0.Add(24 * time.Hour), 2, 1, 0, 0, 0},                          // exactly a day: kept
		{t0.Add(24*time.Hour + time.Minute), 1, 1, 1, 0, 0},              // the first minute goes
		{minute(30).Add(24*time.Hour + time.Second), 0, 1, 1, 0, 0},      // then the second
		{t0.Add(90 * 24 * time.Hour), 0, 1, 1, 0, 0},                     // the hour lives 90 days ("later"'s minute goes)
		{t0.Add(90*24*time.Hour + time.Second), 0, 0, 0, 1, 0},           // and no longer
		{minute(30).Add(90*24*time.Hour + time.Second), -1, -1, 0, 0, 1}, // the series goes when unseen 90 days
		{t0.Add(149 * 24 * time.Hour), -1, -1, 0, 0, 0},                  // "later" was seen within 90 days
	} {
		p, err := st.Prune(ctx, c.now)
		if err != nil {
			t.Fatal(err)
		}
		if p.Minutes != c.prunedM || p.Hours != c.prunedH || p.Series != c.sr {
			t.Errorf("prune at %s: %+v, want minutes %d hours %d series %d", c.now, p, c.prunedM, c.prunedH, c.sr)
		}
		if m, h := count(StepMinute), count(StepHour); m != c.minutes || h != c.hours {
			t.Errorf("after prune at %s: %d minutes, %d hours; want %d, %d", c.now, m, h, c.minutes, c.hours)
		}
	}
	list, err := st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "later" {
		t.Errorf("series left: %+v", list)
	}
}

// TestHistoryByStepAndRange: the points of one series, exactly those
// labels, whose start is in the range, at either step.
func TestHistoryByStepAndRange(t *testing.T) {
	ctx := context.Background()
	st := Store{DB: appDB(t)}
	for i := range 130 {
		_, err := st.Record(ctx, minute(i), []alerts.Sample{
			{Series: "disk_used_percent", Labels: map[string]string{"path": "/a"}, Value: float64(i)},
			{Series: "disk_used_percent", Labels: map[string]string{"path": "/b"}, Value: -float64(i)},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	a, b := map[string]string{"path": "/a"}, map[string]string{"path": "/b"}
	get := func(labels map[string]string, step Step, from, to time.Time) []Point {
		t.Helper()
		p, err := st.Run(ctx, Query{Series: "disk_used_percent", Labels: labels, Step: step, From: from, To: to})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := get(a, StepMinute, minute(5), minute(9)); len(p) != 5 || p[0].Avg() != 5 || p[4].Avg() != 9 {
		t.Errorf("minutes 5..9 of /a: %+v", p)
	}
	if p := get(b, StepMinute, minute(5).Add(time.Second), minute(9)); len(p) != 4 || p[0].Avg() != -6 {
		t.Errorf("minutes 6..9 of /b: %+v", p)
	}
	p := get(a, StepHour, t0.Add(time.Hour), t0.Add(2*time.Hour))
	if len(p) != 2 || p[0].Min != 60 || p[0].Max != 119 || p[0].Count != 60 || p[1].Min != 120 || p[1].Max != 129 || p[1].Count != 10 {
		t.Errorf("hours 1..2 of /a: %+v", p)
	}
	if p := get(a, StepHour, t0.Add(3*time.Hour), t0.Add(4*time.Hour)); len(p) != 0 {
		t.Errorf("hours past the end: %+v", p)
	}
	for _, labels := range []map[string]string{nil, {"path": "/c"}, {"path": "/a", "kind": "x"}} {
		if _, err := st.History(ctx, "disk_used_percent", labels, StepMinute, t0, minute(200)); !errors.Is(err, ErrSeriesNotFound) {
			t.Errorf("labels %v: %v, want not found", labels, err)
		}
	}
	if _, err := st.History(ctx, "no_such_series", nil, StepHour, t0, minute(200)); !errors.Is(err, ErrSeriesNotFound) {
		t.Errorf("unknown series: %v", err)
	}
	list, err := st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Labels["path"] != "/a" || !list[0].FirstSeen.Equal(t0) || !list[1].LastSeen.Equal(minute(129)) {
		t.Errorf("series: %+v", list)
	}
}

// TestSeriesAreBounded: past MaxSeries, new series are dropped while
// known ones go on; samples that are not series are refused.
func TestSeriesAreBounded(t *testing.T) {
	ctx := context.Background()
	st := Store{DB: appDB(t), MaxSeries: 2}
	three := []alerts.Sample{{Series: "a", Value: 1}, {Series: "b", Value: 1}, {Series: "c", Value: 1}}
	for i := range 2 {
		got, err := st.Record(ctx, minute(i), three)
		if err != nil {
			t.Fatal(err)
		}
		if got.Points != 2 || got.Dropped != 1 {
			t.Errorf("round %d: %+v, want 2 points, 1 dropped", i, got)
		}
	}
	nine := map[string]string{}
	for i := range MaxLabels + 1 {
		nine[string(rune('a'+i))] = "x"
	}
	got, err := st.Record(ctx, minute(3), []alerts.Sample{
		{Series: "a", Value: math.NaN()},
		{Series: "a", Value: math.Inf(1)},
		{Series: "Bad-Name", Value: 1},
		{Series: "a", Labels: nine, Value: 1},
		{Series: "a", Labels: map[string]string{"path": strings.Repeat("x", MaxLabelValue+1)}, Value: 1},
		{Series: "a", Labels: map[string]string{"Path": "/"}, Value: 1},
		{Series: "b", Value: 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Points != 1 || got.Invalid != 6 {
		t.Errorf("invalid samples: %+v, want 1 point, 6 invalid", got)
	}
}

// TestSeriesKeyIsCanonical: label order does not matter; quoting keeps
// label sets apart.
func TestSeriesKeyIsCanonical(t *testing.T) {
	k1, _ := SeriesKey("x", map[string]string{"b": "2", "a": "1"})
	k2, _ := SeriesKey("x", map[string]string{"a": "1", "b": "2"})
	k3, _ := SeriesKey("x", map[string]string{"a": `1",b="2`})
	if k1 != `x{a="1",b="2"}` || k1 != k2 || k3 == k1 {
		t.Errorf("keys: %s %s %s", k1, k2, k3)
	}
	if k, _ := SeriesKey("x", nil); k != "x" {
		t.Errorf("no labels: %s", k)
	}
}

// TestRecorderRunsAsAService: started, it records on its own (polled
// with a deadline); stopped, it has returned.
func TestRecorderRunsAsAService(t *testing.T) {
	db := appDB(t)
	rec := NewRecorder(alerts.SourceFunc(func(context.Context, time.Time) ([]alerts.Sample, error) {
		return []alerts.Sample{{Series: "jobs_queue_depth", Value: 3}}, nil
	}), opener(db), nil)
	rec.Interval = 5 * time.Millisecond
	if err := rec.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer rec.Stop()
	st := Store{DB: db}
	for deadline := time.Now().Add(10 * time.Second); ; {
		list, err := st.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == 1 && list[0].Name == "jobs_queue_depth" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the recorder recorded nothing in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	rec.Stop()
}

// BenchmarkRound is one recorder round of 20 series (the live series of
// an appliance with a few paths and services) into a history that
// already holds a day of minutes for them, pruning included.
func BenchmarkRound(b *testing.B) {
	ctx := context.Background()
	name, _ := migrated.Database(b)
	db, err := pgxpool.New(ctx, pg.AppDSN(name))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	samples := make([]alerts.Sample, 20)
	for i := range samples {
		samples[i] = alerts.Sample{Series: "bench_series", Labels: map[string]string{"n": strconv.Itoa(i)}, Value: float64(i)}
	}
	rec := NewRecorder(alerts.SourceFunc(func(context.Context, time.Time) ([]alerts.Sample, error) { return samples, nil }), opener(db), nil)
	for i := range 24 * 60 {
		if _, err := (Store{DB: db}).Record(ctx, minute(i), samples); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := rec.Round(ctx, minute(24*60+i)); err != nil {
			b.Fatal(err)
		}
	}
}
