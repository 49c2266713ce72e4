// Package background runs long-lived services (periodic maintenance,
// workers) while a gate is open, and stops them, waiting for each to
// return, when it closes or the process stops. It knows nothing of what
// the services do or of what the gate is: the appliance binds it to the
// seal, so work that needs the keys runs only while they are there.
package background

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Service is one named piece of background work. Start must return once
// the service is running (it runs its loop in a goroutine of its own) or
// with an error if it cannot run; Stop must return only after everything
// Start began has returned, and must be safe to call on a service that
// failed to start.
type Service interface {
	Name() string
	Start(ctx context.Context) error
	Stop()
}

// Gate says whether services may run now, and gives a channel that is
// closed at the gate's next change (open or closed), so that a change is
// never missed between two looks.
type Gate interface {
	Watch() (open bool, changed <-chan struct{})
}

// Runner starts its services in the order they were added and stops them
// in the reverse order, so a service may rely on those added before it.
type Runner struct {
	logger *slog.Logger

	// RetryMin and RetryMax bound the wait before starting again after a
	// service failed to start (a database still coming up, say); the wait
	// doubles between them.
	RetryMin, RetryMax time.Duration

	mu       sync.Mutex
	services []Service
	running  []Service // started, in start order
}

// NewRunner returns a runner logging to logger (nil: nowhere).
func NewRunner(logger *slog.Logger) *Runner {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Runner{logger: logger, RetryMin: 500 * time.Millisecond, RetryMax: 10 * time.Second}
}

// Add registers services. Added while the runner runs, they start at the
// next opening of the gate.
func (r *Runner) Add(svc ...Service) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.services = append(r.services, svc...)
}

// Start starts every service not running yet, in order. If one fails, the
// ones this call started are stopped again and the error names it.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.running) > 0 {
		return nil
	}
	for _, svc := range r.services {
		if err := svc.Start(ctx); err != nil {
			svc.Stop()
			r.stopLocked()
			return fmt.Errorf("background service %s: %w", svc.Name(), err)
		}
		r.running = append(r.running, svc)
		r.logger.Info("background service started", "name", svc.Name())
	}
	return nil
}

// Stop stops every running service, newest first, and returns once all
// have returned.
func (r *Runner) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopLocked()
}

func (r *Runner) stopLocked() {
	for i := len(r.running) - 1; i >= 0; i-- {
		r.running[i].Stop()
		r.logger.Info("background service stopped", "name", r.running[i].Name())
	}
	r.running = nil
}

// Running reports the names of the running services, in start order.
func (r *Runner) Running() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, len(r.running))
	for i, svc := range r.running {
		names[i] = svc.Name()
	}
	return names
}

// Follow keeps the services running exactly while gate is open: they
// start when it opens and stop when it closes. Every change of the gate
// stops what runs first, so services bound to what the gate guards (keys
// that were sealed and opened again) never outlive it, even when Follow
// sees only the gate open before and after. A failed start is logged and
// tried again, waiting longer each time, until it succeeds or the gate
// changes. Follow returns when ctx ends, after stopping every service.
func (r *Runner) Follow(ctx context.Context, gate Gate) {
	defer r.Stop()
	wait := time.Duration(0)
	var retry <-chan time.Time
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		open, changed := gate.Watch()
		if open && retry == nil {
			if err := r.Start(ctx); err != nil {
				if errors.Is(err, context.Canceled) && ctx.Err() != nil {
					return
				}
				wait = min(max(2*wait, r.RetryMin), r.RetryMax)
				r.logger.Warn("background services did not start", "error", err.Error(), "retry_in", wait.String())
				timer = time.NewTimer(wait)
				retry = timer.C
			} else {
				wait = 0
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-retry:
			retry = nil
		case <-changed:
			r.Stop()
			if timer != nil {
				timer.Stop()
			}
			retry, wait = nil, 0
		}
	}
}

// Loop runs one goroutine of a service until Stop: services embed it (or
// keep one) to get Start and Stop right without writing them again.
type Loop struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// Go runs run in a goroutine with a context that Stop cancels. A Loop
// already running is left as it is.
func (l *Loop) Go(ctx context.Context, run func(ctx context.Context)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done != nil {
		return
	}
	ctx, l.cancel = context.WithCancel(ctx)
	l.done = make(chan struct{})
	done := l.done
	go func() {
		defer close(done)
		run(ctx)
	}()
}

// Stop cancels the goroutine's context and waits for it to return. It is
// safe on a Loop that never ran, and twice.
func (l *Loop) Stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done == nil {
		return
	}
	l.cancel()
	<-l.done
	l.cancel, l.done = nil, nil
}

// Every calls fn every interval until ctx ends: the shape of a periodic
// maintenance service. A service that wants a round at start runs one
// itself, in Start or before calling Every.
func Every(ctx context.Context, interval time.Duration, fn func(ctx context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}
