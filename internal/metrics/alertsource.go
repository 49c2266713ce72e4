package metrics

import (
	"context"
	"fmt"
	"time"

	"github.com/shirou/gopsutil/v4/mem"

	"github.com/vanta-ledger/vanta/internal/alerts"
	"github.com/vanta-ledger/vanta/internal/jobs"
)

// AlertSource gives the live series the alert rules read (the series
// marked "metrics" in the rules' table): host_cpu_percent,
// host_memory_percent, disk_used_percent{path}, api_request_p95_seconds
// and api_error_ratio over RequestWindow (the ratio is 0 below
// MinRequests requests), jobs_queue_depth
// (once the stores are open), users_active over ActiveWindow and
// service_restarts_recent{service} over RestartWindow. Windows end at the
// caller's now (restarts are dated by the call that first saw them, and
// counted from the registry's making); a series whose reading fails is left out and the failures
// are returned together with the rest.
func (r *Registry) AlertSource() alerts.Source {
	return alerts.SourceFunc(r.samples)
}

func (r *Registry) samples(ctx context.Context, now time.Time) ([]alerts.Sample, error) {
	var out []alerts.Sample
	var errs []error
	add := func(series string, v float64, labels map[string]string) {
		out = append(out, alerts.Sample{Series: series, Labels: labels, Value: v})
	}
	if busy, err := r.alertCPU.busy(ctx, false); err != nil {
		errs = append(errs, fmt.Errorf("cpu: %w", err))
	} else {
		for _, v := range busy { // one entry: "cpu-total"
			add("host_cpu_percent", v*100, nil)
		}
	}
	if vm, err := mem.VirtualMemoryWithContext(ctx); err != nil {
		errs = append(errs, fmt.Errorf("memory: %w", err))
	} else {
		add("host_memory_percent", memoryUsed(vm)*100, nil)
	}
	for _, dir := range r.opts.Disks {
		u, err := diskUsage(ctx, dir)
		if err != nil {
			errs = append(errs, fmt.Errorf("filesystem of %s: %w", dir, err))
			continue
		}
		add("disk_used_percent", u.UsedPercent, map[string]string{"path": dir})
	}
	out = append(out, r.requestSamples(now)...)
	if r.opts.Stores != nil {
		if st := r.opts.Stores(); st != nil && st.App != nil {
			if n, _, err := jobs.Depth(ctx, st.App); err != nil {
				errs = append(errs, err)
			} else {
				add("jobs_queue_depth", float64(n), nil)
			}
		}
	}
	all, _ := r.users.counts(now)
	add("users_active", float64(all), nil)
	if r.opts.Services != nil {
		for svc, n := range r.restarts.note(now, r.opts.Services()) {
			add("service_restarts_recent", float64(n), map[string]string{"service": svc})
		}
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("metrics alert source: %w", joinErrs(errs))
	}
	return out, nil
}

// requestSamples are the API's window figures at now. With no request
// the p95 is 0, and below MinRequests the error ratio is 0: too few to
// say, and an alert that fired on them then resolves.
func (r *Registry) requestSamples(now time.Time) []alerts.Sample {
	n, ratio, p95 := r.window.stats(now)
	if n < MinRequests {
		ratio = 0
	}
	return []alerts.Sample{
		{Series: "api_request_p95_seconds", Value: p95},
		{Series: "api_error_ratio", Value: ratio},
	}
}
