package alerts_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vanta-ledger/vanta/internal/alerts"
)

// labelsFor gives a default rule's samples the labels its series carries.
var labelsFor = map[string]map[string]string{
	"disk_used_percent":            {"path": "/var/lib/vanta"},
	"service_restarts_recent":      {"service": "llama-tiny"},
	"audit_verify_failed":          {"chain": "system"},
	"security_events_recent":       {"kind": "login_failure", "company": "0b5e7c2e-0000-4000-8000-000000000001"},
	"advice_disk_full_days":        {"path": "/var/lib/vanta"},
	"advice_company_storage_ratio": {"company": "0b5e7c2e-0000-4000-8000-000000000001"},
	"advice_route_slowdown_ratio":  {"route": "/api/v1/companies/:cid/reports/trial-balance"},
}

// breaking and clear are values on either side of a rule's threshold.
func breaking(r alerts.Rule) float64 {
	switch r.Op {
	case ">":
		return r.Threshold * 1.5
	case ">=":
		return r.Threshold
	case "<":
		return r.Threshold / 2
	}
	return r.Threshold // <=
}

func clear(r alerts.Rule) float64 {
	switch r.Op {
	case ">", ">=":
		return r.Threshold / 2
	}
	return r.Threshold * 2 // <, <=: clear above it
}

// Acceptance 4: every built-in rule fires once its condition has held for
// its For (not a second earlier) and resolves when it clears, on a fake
// clock.
func TestEveryDefaultRuleFiresAndResolves(t *testing.T) {
	db := appDB(t)
	defaults := alerts.DefaultRules()
	if len(defaults) < 15 {
		t.Fatalf("%d default rules", len(defaults))
	}
	for i, r := range defaults {
		t.Run(r.Name, func(t *testing.T) {
			src := &fakeSource{}
			e := evaluator(t, db, []alerts.Rule{r}, src)
			start := t0.Add(time.Duration(i) * 24 * time.Hour)
			labels := labelsFor[r.Series]
			src.set(alerts.Sample{Series: r.Series, Labels: labels, Value: breaking(r)})
			evaluate(t, e, start)
			a, ok := only(t, db, r.Name)
			if r.For > 0 {
				if !ok || a.State != alerts.Pending {
					t.Fatalf("after the first round: %+v (found %v), want pending", a, ok)
				}
				evaluate(t, e, start.Add(r.For-time.Second))
				if a, _ = only(t, db, r.Name); a.State != alerts.Pending {
					t.Fatalf("a second before For (%s): %s, want pending", r.For, a.State)
				}
				evaluate(t, e, start.Add(r.For))
				a, _ = only(t, db, r.Name)
			}
			if a.State != alerts.Firing || a.StartedAt == nil || !a.StartedAt.Equal(start.Add(r.For)) {
				t.Fatalf("after For: %+v, want firing since %s", a, start.Add(r.For))
			}
			if a.Level != r.Level || a.Fingerprint != alerts.Fingerprint(r.Name, labels) || len(a.Labels) != len(labels) {
				t.Fatalf("alert %+v: level, fingerprint or labels wrong", a)
			}
			if a.Summary == "" || strings.Contains(a.Summary, "<no value>") || strings.Contains(a.Summary, "{{") {
				t.Fatalf("summary %q", a.Summary)
			}
			for k, v := range labels {
				if strings.Contains(r.Summary, ".Labels."+k) && !strings.Contains(a.Summary, v) {
					t.Fatalf("summary %q lacks label %s=%s", a.Summary, k, v)
				}
			}
			end := start.Add(r.For + time.Minute)
			src.set(alerts.Sample{Series: r.Series, Labels: labels, Value: clear(r)})
			evaluate(t, e, end)
			a, _ = only(t, db, r.Name)
			if a.State != alerts.Resolved || a.ResolvedAt == nil || !a.ResolvedAt.Equal(end) {
				t.Fatalf("after clearing: %+v, want resolved at %s", a, end)
			}
			// Clear stays resolved; no new alert.
			evaluate(t, e, end.Add(time.Minute))
			if a, _ = only(t, db, r.Name); a.State != alerts.Resolved {
				t.Fatalf("a round later: %s", a.State)
			}
		})
	}
}

// A condition that clears before For never fires, and its next episode
// waits for For again from its own start.
func TestForIsRespected(t *testing.T) {
	db := appDB(t)
	rule := alerts.Rule{Name: "cpu", Series: "host_cpu_percent", Op: ">", Threshold: 80, For: 5 * time.Minute, Level: alerts.Warning}
	src := &fakeSource{}
	e := evaluator(t, db, []alerts.Rule{rule}, src)
	steps := []struct {
		at    time.Duration
		value float64
		want  alerts.State // "": no alert at all
	}{
		{0, 95, alerts.Pending},
		{4 * time.Minute, 95, alerts.Pending},
		{4*time.Minute + 30*time.Second, 50, ""}, // cleared before For: forgotten
		{5 * time.Minute, 95, alerts.Pending},    // a new episode starts here
		{9 * time.Minute, 95, alerts.Pending},    // 4m into it
		{10 * time.Minute, 95, alerts.Firing},    // 5m into it
		{11 * time.Minute, 90, alerts.Firing},
		{12 * time.Minute, 80, alerts.Resolved}, // 80 is not > 80
	}
	for _, s := range steps {
		src.set(alerts.Sample{Series: "host_cpu_percent", Value: s.value})
		evaluate(t, e, t0.Add(s.at))
		a, ok := only(t, db, "cpu")
		if got := map[bool]alerts.State{true: a.State}[ok]; got != s.want {
			t.Fatalf("at +%s value %v: state %q, want %q", s.at, s.value, got, s.want)
		}
		if ok && a.State == alerts.Firing && a.Value != s.value {
			t.Fatalf("value %v, want %v", a.Value, s.value)
		}
	}
}

// A rule's labels narrow it; each label set is its own alert.
func TestLabelMatching(t *testing.T) {
	db := appDB(t)
	rules := []alerts.Rule{
		{Name: "data_disk", Series: "disk_used_percent", Match: map[string]string{"path": "/data"}, Op: ">", Threshold: 90, Level: alerts.Critical},
		{Name: "restarts", Series: "service_restarts_recent", Op: ">=", Threshold: 3, Level: alerts.Critical},
	}
	src := &fakeSource{}
	e := evaluator(t, db, rules, src)
	src.set(
		alerts.Sample{Series: "disk_used_percent", Labels: map[string]string{"path": "/backups"}, Value: 99},
		alerts.Sample{Series: "disk_used_percent", Labels: map[string]string{"path": "/data"}, Value: 95},
		alerts.Sample{Series: "service_restarts_recent", Labels: map[string]string{"service": "redis"}, Value: 4},
		alerts.Sample{Series: "service_restarts_recent", Labels: map[string]string{"service": "mongodb"}, Value: 3},
		alerts.Sample{Series: "service_restarts_recent", Labels: map[string]string{"service": "postgres"}, Value: 0},
		alerts.Sample{Series: "host_cpu_percent", Value: 100}, // no rule here
	)
	evaluate(t, e, t0)
	got := map[string]bool{}
	for _, a := range all(t, db, alerts.Firing) {
		got[a.Rule+" "+a.Labels["path"]+a.Labels["service"]] = true
	}
	want := map[string]bool{"data_disk /data": true, "restarts redis": true, "restarts mongodb": true}
	if len(got) != len(want) {
		t.Fatalf("firing %v, want %v", got, want)
	}
	for k := range want {
		if !got[k] {
			t.Fatalf("firing %v, want %v", got, want)
		}
	}
	// redis calms down: only its alert resolves.
	src.set(
		alerts.Sample{Series: "disk_used_percent", Labels: map[string]string{"path": "/data"}, Value: 95},
		alerts.Sample{Series: "service_restarts_recent", Labels: map[string]string{"service": "redis"}, Value: 1},
		alerts.Sample{Series: "service_restarts_recent", Labels: map[string]string{"service": "mongodb"}, Value: 3},
	)
	evaluate(t, e, t0.Add(time.Minute))
	resolved := all(t, db, alerts.Resolved)
	if len(resolved) != 1 || resolved[0].Labels["service"] != "redis" {
		t.Fatalf("resolved %+v, want redis's alone", resolved)
	}
	if n := len(all(t, db, alerts.Firing)); n != 2 {
		t.Fatalf("%d firing, want 2", n)
	}
}

// A series that stops coming resolves its alert; a source that fails
// leaves its alerts as they are until it answers again.
func TestAbsentSeriesResolvesFailedSourceDoesNot(t *testing.T) {
	db := appDB(t)
	rules := []alerts.Rule{
		{Name: "backup_failed", Series: "backup_failed", Op: ">=", Threshold: 1, Level: alerts.Critical},
		{Name: "disk", Series: "disk_used_percent", Op: ">", Threshold: 90, Level: alerts.Critical},
	}
	backups, host := &fakeSource{}, &fakeSource{}
	e := evaluator(t, db, rules, backups, host)
	backups.set(alerts.Sample{Series: "backup_failed", Value: 1})
	host.set(alerts.Sample{Series: "disk_used_percent", Labels: map[string]string{"path": "/d"}, Value: 97})
	evaluate(t, e, t0)
	if n := len(all(t, db, alerts.Firing)); n != 2 {
		t.Fatalf("%d firing, want 2", n)
	}
	backups.fail(errors.New("scheduler not ready"))
	host.set() // the disk series is gone (the path was unmounted)
	evaluate(t, e, t0.Add(time.Minute))
	if a, _ := only(t, db, "backup_failed"); a.State != alerts.Firing {
		t.Fatalf("backup_failed with its source failing: %s, want firing", a.State)
	}
	if a, _ := only(t, db, "disk"); a.State != alerts.Resolved {
		t.Fatalf("disk with its series absent: %s, want resolved", a.State)
	}
	backups.set(alerts.Sample{Series: "backup_failed", Value: 0})
	evaluate(t, e, t0.Add(2*time.Minute))
	if a, _ := only(t, db, "backup_failed"); a.State != alerts.Resolved {
		t.Fatalf("backup_failed after a good backup: %s", a.State)
	}
}

// A firing alert is delivered once and its resolution once, however many
// rounds run and across a restart (a new evaluator on the same database);
// a failing channel gets it again, the others are not repeated.
func TestDedupAcrossRoundsAndRestarts(t *testing.T) {
	db := appDB(t)
	rules := []alerts.Rule{{Name: "loop", Series: "service_restarts_recent", Op: ">=", Threshold: 3, Level: alerts.Critical}}
	src := &fakeSource{}
	hook, mail := &recorder{channel: "webhook"}, &recorder{channel: "email", failing: true}
	notifiers := []alerts.Notifier{hook, mail}
	ctx := context.Background()
	e := evaluator(t, db, rules, src)
	src.set(alerts.Sample{Series: "service_restarts_recent", Labels: map[string]string{"service": "redis"}, Value: 5})
	for i := range 3 {
		at := t0.Add(time.Duration(i) * 30 * time.Second)
		evaluate(t, e, at)
		err := e.Deliver(ctx, at, notifiers)
		if err == nil || !strings.Contains(err.Error(), "email") {
			t.Fatalf("deliver with email down: %v", err)
		}
	}
	if b := hook.take(); len(b) != 1 || len(b[0]) != 1 || b[0][0].State != alerts.Firing {
		t.Fatalf("webhook got %+v, want one batch with the firing alert", b)
	}
	// Restart: a new evaluator; email is back and gets the firing once.
	e = evaluator(t, db, rules, src)
	mail.failing = false
	for i := range 2 {
		at := t0.Add(2*time.Minute + time.Duration(i)*30*time.Second)
		evaluate(t, e, at)
		if err := e.Deliver(ctx, at, notifiers); err != nil {
			t.Fatal(err)
		}
	}
	if b := hook.take(); len(b) != 0 {
		t.Fatalf("webhook got the firing again after a restart: %+v", b)
	}
	if b := mail.take(); len(b) != 1 || b[0][0].State != alerts.Firing {
		t.Fatalf("email got %+v, want the firing once", b)
	}
	src.set(alerts.Sample{Series: "service_restarts_recent", Labels: map[string]string{"service": "redis"}, Value: 0})
	for i := range 3 {
		at := t0.Add(5*time.Minute + time.Duration(i)*30*time.Second)
		evaluate(t, e, at)
		if err := e.Deliver(ctx, at, notifiers); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []*recorder{hook, mail} {
		if b := r.take(); len(b) != 1 || len(b[0]) != 1 || b[0][0].State != alerts.Resolved || b[0][0].ResolvedAt == nil {
			t.Fatalf("%s got %+v, want the resolution once", r.channel, b)
		}
	}
	// The same condition again is a new episode with its own deliveries.
	src.set(alerts.Sample{Series: "service_restarts_recent", Labels: map[string]string{"service": "redis"}, Value: 9})
	evaluate(t, e, t0.Add(10*time.Minute))
	if err := e.Deliver(ctx, t0.Add(10*time.Minute), notifiers); err != nil {
		t.Fatal(err)
	}
	if b := hook.take(); len(b) != 1 || b[0][0].State != alerts.Firing || b[0][0].Value != 9 {
		t.Fatalf("second episode: %+v", b)
	}
	if n := len(all(t, db, "")); n != 2 {
		t.Fatalf("%d alerts stored, want 2 episodes", n)
	}
}

// Events older than the delivery window are not sent to a channel that
// appears later.
func TestDeliveryWindow(t *testing.T) {
	db := appDB(t)
	rules := []alerts.Rule{{Name: "b", Series: "backup_failed", Op: ">=", Threshold: 1, Level: alerts.Critical}}
	src := &fakeSource{}
	e := evaluator(t, db, rules, src)
	src.set(alerts.Sample{Series: "backup_failed", Value: 1})
	evaluate(t, e, t0)
	late := &recorder{channel: "webhook"}
	if err := e.Deliver(context.Background(), t0.Add(alerts.DeliveryWindow+time.Second), []alerts.Notifier{late}); err != nil {
		t.Fatal(err)
	}
	if b := late.take(); len(b) != 0 {
		t.Fatalf("an event older than the window was sent: %+v", b)
	}
}

func TestListPagesNewestFirst(t *testing.T) {
	db := appDB(t)
	rules := []alerts.Rule{{Name: "r", Series: "s", Op: ">", Threshold: 0, Level: alerts.Info}}
	src := &fakeSource{}
	e := evaluator(t, db, rules, src)
	for i := range 5 {
		src.set(alerts.Sample{Series: "s", Labels: map[string]string{"kind": string(rune('a' + i))}, Value: 1})
		evaluate(t, e, t0.Add(time.Duration(i)*time.Minute)) // each round resolves the one before
	}
	ctx := context.Background()
	first, more, err := alerts.List(ctx, db, alerts.Filter{Limit: 2})
	if err != nil || !more || len(first) != 2 || first[0].Labels["kind"] != "e" || first[0].State != alerts.Firing {
		t.Fatalf("first page %+v more %v err %v", first, more, err)
	}
	rest, more, err := alerts.List(ctx, db, alerts.Filter{Limit: 10, Before: first[1].ID})
	if err != nil || more || len(rest) != 3 || rest[2].Labels["kind"] != "a" {
		t.Fatalf("rest %+v more %v err %v", rest, more, err)
	}
	resolved, _, err := alerts.List(ctx, db, alerts.Filter{State: alerts.Resolved, Limit: 10})
	if err != nil || len(resolved) != 4 {
		t.Fatalf("resolved %d %v", len(resolved), err)
	}
}

// A source that fails in part gives what it could read: those series are
// judged, the ones it left out keep their alerts.
func TestPartlyFailingSource(t *testing.T) {
	db := appDB(t)
	rules := []alerts.Rule{
		{Name: "cpu", Series: "host_cpu_percent", Op: ">", Threshold: 80, Level: alerts.Warning},
		{Name: "mem", Series: "host_memory_percent", Op: ">", Threshold: 85, Level: alerts.Warning},
	}
	src := &fakeSource{}
	e := evaluator(t, db, rules, src)
	src.set(alerts.Sample{Series: "host_cpu_percent", Value: 99}, alerts.Sample{Series: "host_memory_percent", Value: 99})
	evaluate(t, e, t0)
	src.fail(errors.New("memory: cannot read /proc/meminfo"), alerts.Sample{Series: "host_cpu_percent", Value: 10})
	evaluate(t, e, t0.Add(time.Minute))
	if a, _ := only(t, db, "cpu"); a.State != alerts.Resolved {
		t.Fatalf("cpu read fine at 10: %s", a.State)
	}
	if a, _ := only(t, db, "mem"); a.State != alerts.Firing {
		t.Fatalf("memory unread: %s, want still firing", a.State)
	}
}
