package jobs

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// BenchmarkEnqueue: documents enqueued per second, one at a time, from
// ten companies in turn (each enqueue moves its company's fair clock).
// The runtime role's pool, as in the appliance.
func BenchmarkEnqueue(b *testing.B) {
	ctx := context.Background()
	e := newEnv(b)
	q, _ := e.queue(b, newRecorder(nil), Config{})
	scopes := make([]tenancy.Scope, 10)
	for i := range scopes {
		scopes[i] = scope()
	}
	i := 0
	for b.Loop() {
		if err := q.EnqueueDocument(ctx, scopes[i%len(scopes)], uuid.New(), uuid.New()); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

// BenchmarkLatency: enqueue to the handler's call, one job at a time
// through a running service with a no-op handler and River's default
// fetch settings (the queue's own config).
func BenchmarkLatency(b *testing.B) {
	ctx := context.Background()
	e := newEnv(b)
	h := newRecorder(nil)
	q, err := New(e.app, h, Config{Workers: 2}, nil)
	if err != nil {
		b.Fatal(err)
	}
	start(b, q)
	s := scope()
	var lat []time.Duration
	for b.Loop() {
		begin := time.Now()
		if err := q.EnqueueDocument(ctx, s, uuid.New(), uuid.New()); err != nil {
			b.Fatal(err)
		}
		h.next(b)
		lat = append(lat, time.Since(begin))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkDrain: jobs per second through a running service with two
// workers and a no-op handler, 1,000 queued by five companies and then
// worked to the last completion.
func BenchmarkDrain(b *testing.B) {
	ctx := context.Background()
	const n = 1000
	for b.Loop() {
		b.StopTimer()
		e := newEnv(b)
		h := newRecorder(nil)
		q, err := New(e.app, h, Config{Workers: 2}, nil)
		if err != nil {
			b.Fatal(err)
		}
		scopes := []tenancy.Scope{scope(), scope(), scope(), scope(), scope()}
		for i := range n {
			if err := q.EnqueueDocument(ctx, scopes[i%len(scopes)], uuid.New(), uuid.New()); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		svc := q.Service()
		if err := svc.Start(ctx); err != nil {
			b.Fatal(err)
		}
		for range n {
			h.next(b)
		}
		svc.Stop()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "jobs/s")
}
