package backup

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseSchedule(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Schedule
		err  string
	}{
		{in: "full weekly, diff daily", want: Schedule{{Kind: KindFull, Period: Weekly}, {Kind: KindDiff, Period: Daily}}},
		{in: "off"},
		{in: ""},
		{in: "incr hourly at 00:15, full monthly at 03:30", want: Schedule{{Kind: KindIncr, Period: Hourly, Minute: 15}, {Kind: KindFull, Period: Monthly, Hour: 3, Minute: 30}}},
		{in: "full yearly", err: `period "yearly"`},
		{in: "snapshot daily", err: `backup kind "snapshot"`},
		{in: "full daily at 25:00", err: `time "25:00"`},
		{in: "full daily, full weekly", err: "scheduled twice"},
		{in: "full", err: "want KIND PERIOD"},
	} {
		got, err := ParseSchedule(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSchedule(%q) = %v, want error containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Errorf("ParseSchedule(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("ParseSchedule(%q)[%d] = %+v, want %+v", tc.in, i, got[i], tc.want[i])
			}
		}
	}
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestBoundary(t *testing.T) {
	now := ts("2026-12-02T01:20:00Z") // a Wednesday
	if got := (Entry{Period: Monthly, Hour: 3}).Boundary(ts("2026-12-01T01:00:00Z")); !got.Equal(ts("2026-11-01T03:00:00Z")) {
		t.Errorf("monthly before its hour on the 1st = %s", got)
	}
	for _, tc := range []struct {
		e    Entry
		want string
	}{
		{Entry{Period: Hourly, Minute: 15}, "2026-12-02T01:15:00Z"},
		{Entry{Period: Hourly, Minute: 30}, "2026-12-02T00:30:00Z"},
		{Entry{Period: Daily}, "2026-12-02T00:00:00Z"},
		{Entry{Period: Daily, Hour: 2}, "2026-12-01T02:00:00Z"},
		{Entry{Period: Weekly}, "2026-11-29T00:00:00Z"},
		{Entry{Period: Monthly, Hour: 3}, "2026-12-01T03:00:00Z"},
	} {
		if got := tc.e.Boundary(now); !got.Equal(ts(tc.want)) {
			t.Errorf("%+v.Boundary(%s) = %s, want %s", tc.e, now, got, tc.want)
		}
	}
}

func set(id string, kind Kind) Manifest {
	t := ts(id)
	return Manifest{Format: 1, ID: t.Format(idLayout), Started: t, Time: t.Add(time.Minute), Kind: kind}
}

func TestDue(t *testing.T) {
	sched, _ := ParseSchedule(DefaultSchedule)
	now := ts("2026-12-02T01:20:00Z")
	for _, tc := range []struct {
		name    string
		started string
		sets    []Manifest
		want    Kind
	}{
		{"fresh appliance waits for the first boundary", "2026-12-02T00:10:00Z", nil, ""},
		{"fresh appliance past a boundary", "2026-12-01T23:00:00Z", nil, KindDiff},
		{"a full this week and a diff today: nothing", "2026-11-01T00:00:00Z", []Manifest{set("2026-11-29T00:00:05Z", KindFull), set("2026-12-02T00:00:03Z", KindDiff)}, ""},
		{"a full this week, none today: diff", "2026-11-01T00:00:00Z", []Manifest{set("2026-11-29T00:00:05Z", KindFull), set("2026-12-01T00:00:03Z", KindDiff)}, KindDiff},
		{"last full last week: full (it covers the diff)", "2026-11-01T00:00:00Z", []Manifest{set("2026-11-22T00:00:05Z", KindFull), set("2026-12-01T00:00:03Z", KindDiff)}, KindFull},
		{"a full today covers the diff", "2026-11-01T00:00:00Z", []Manifest{set("2026-11-29T00:00:05Z", KindFull), set("2026-12-02T00:30:00Z", KindFull)}, ""},
		{"missed backups while down are caught up", "2026-12-02T01:00:00Z", []Manifest{set("2026-11-15T00:00:05Z", KindFull)}, KindFull},
	} {
		got, due := sched.Due(now, ts(tc.started), tc.sets)
		if got != tc.want || due != (tc.want != "") {
			t.Errorf("%s: Due = %q, %v; want %q", tc.name, got, due, tc.want)
		}
	}
	if _, due := Schedule(nil).Due(now, ts("2020-01-01T00:00:00Z"), nil); due {
		t.Error("an empty schedule is never due")
	}
}

func TestParseRetention(t *testing.T) {
	r, err := ParseRetention(DefaultRetention)
	if err != nil || r != (Retention{Daily: 7, Weekly: 4, Monthly: 12}) {
		t.Fatalf("default = %+v, %v", r, err)
	}
	for _, bad := range []string{"", "daily=-1", "yearly=2", "daily", "daily=x"} {
		if _, err := ParseRetention(bad); err == nil {
			t.Errorf("ParseRetention(%q) accepted", bad)
		}
	}
}

func TestRetentionSelect(t *testing.T) {
	ids := func(ms []Manifest) string {
		var s []string
		for _, m := range ms {
			s = append(s, m.Started.Format("01-02T15")+string(m.Kind[0]))
		}
		return strings.Join(s, " ")
	}
	now := ts("2026-12-02T12:00:00Z")
	for _, tc := range []struct {
		name     string
		r        Retention
		sets     []Manifest
		keep     string
		keepFull int
	}{
		{
			name: "daily keeps the newest of each day",
			r:    Retention{Daily: 2},
			sets: []Manifest{set("2026-11-30T00:00:00Z", KindFull), set("2026-12-01T00:00:00Z", KindFull), set("2026-12-01T06:00:00Z", KindFull), set("2026-12-02T00:00:00Z", KindFull)},
			keep: "12-01T06f 12-02T00f", keepFull: 2,
		},
		{
			name: "a kept diff keeps its full",
			r:    Retention{Daily: 1},
			sets: []Manifest{set("2026-11-29T00:00:00Z", KindFull), set("2026-11-30T00:00:00Z", KindDiff), set("2026-12-01T00:00:00Z", KindIncr), set("2026-12-02T00:00:00Z", KindIncr)},
			keep: "11-29T00f 11-30T00d 12-01T00i 12-02T00i", keepFull: 1,
		},
		{
			name: "weekly and monthly reach back; pgBackRest keeps every full from the oldest kept",
			r:    Retention{Daily: 1, Weekly: 2, Monthly: 3},
			sets: []Manifest{set("2026-09-06T00:00:00Z", KindFull), set("2026-10-04T00:00:00Z", KindFull), set("2026-11-01T00:00:00Z", KindFull), set("2026-11-08T00:00:00Z", KindFull), set("2026-11-22T00:00:00Z", KindFull), set("2026-11-29T00:00:00Z", KindFull), set("2026-12-02T00:00:00Z", KindDiff)},
			keep: "10-04T00f 11-29T00f 12-02T00d", keepFull: 5, // 11-29 is a Sunday: ISO week 48
		},
		{
			name: "the newest and future-dated sets stay even with nothing to keep",
			r:    Retention{},
			sets: []Manifest{set("2026-11-01T00:00:00Z", KindFull), set("2026-12-01T00:00:00Z", KindFull), set("2026-12-05T00:00:00Z", KindFull)},
			keep: "12-05T00f", keepFull: 1,
		},
	} {
		keep, drop, keepFull := tc.r.Select(tc.sets, now)
		if got := ids(keep); got != tc.keep || keepFull != tc.keepFull || len(keep)+len(drop) != len(tc.sets) {
			t.Errorf("%s: keep %q (keepFull %d), drop %q; want keep %q (keepFull %d)", tc.name, got, keepFull, ids(drop), tc.keep, tc.keepFull)
		}
	}
}

// The scheduler makes a set when one is due and not otherwise, and the
// retention prunes the older sets (a fake clock: now is passed in).
func TestSchedulerStepAndPrune(t *testing.T) {
	ctx := context.Background()
	data, bdir := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(data, "companies"), 0o700); err != nil {
		t.Fatal(err)
	}
	now := ts("2026-12-01T12:00:00Z")
	svc := New(Options{DataDir: data, Dir: bdir, Engine: "docdb", Now: func() time.Time { return now }})
	sched, _ := ParseSchedule("full daily at 01:00")
	sc := &Scheduler{Service: svc, Schedule: sched, Retention: Retention{Daily: 1}, Started: now}
	count := func() int {
		sets, err := svc.List()
		if err != nil {
			t.Fatal(err)
		}
		return len(sets)
	}
	step := func(at string, want int) {
		t.Helper()
		now = ts(at)
		if err := sc.Step(ctx, now); err != nil {
			t.Fatal(err)
		}
		if got := count(); got != want {
			t.Fatalf("at %s: %d sets, want %d", at, got, want)
		}
	}
	step("2026-12-01T12:00:00Z", 0) // started after today's 01:00: wait for tomorrow's
	step("2026-12-02T00:59:00Z", 0)
	step("2026-12-02T01:00:30Z", 1)
	step("2026-12-02T01:01:30Z", 1) // done for today
	step("2026-12-03T01:00:10Z", 1) // a new one, and yesterday's pruned
	sets, _ := svc.List()
	if sets[0].Started.Day() != 3 {
		t.Fatalf("kept %s, want the newest", sets[0].ID)
	}
	samples, _ := sc.AlertSource().Samples(ctx, now.Add(time.Hour))
	if len(samples) != 2 || samples[0].Value != 0 || samples[1].Value < 3600 || samples[1].Value > 3601 {
		t.Fatalf("samples %+v", samples)
	}
}
