package alerts

import (
	"context"
	"time"
)

// Sample is one value of one series at evaluation time. Labels are few and bounded
// (service name, route template, company id, path, kind) — never user input.
type Sample struct {
	Series string            // snake_case, e.g. "host_cpu_percent"
	Labels map[string]string // may be nil
	Value  float64
}

// Source gives the current samples; the evaluator calls every Source once per round.
type Source interface {
	Samples(ctx context.Context, now time.Time) ([]Sample, error)
}

// SourceFunc adapts a function.
type SourceFunc func(ctx context.Context, now time.Time) ([]Sample, error)

// Samples calls f.
func (f SourceFunc) Samples(ctx context.Context, now time.Time) ([]Sample, error) {
	return f(ctx, now)
}
