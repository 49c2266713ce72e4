package alerts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vanta-ledger/vanta/internal/background"
)

// DeliveryWindow is how long an event keeps being retried: a receiver
// down longer than that, or a channel configured later, does not get
// old news.
const DeliveryWindow = 24 * time.Hour

// Retention is how long resolved alerts stay listed.
const Retention = 90 * 24 * time.Hour

// Deliver sends every event that a notifier has not delivered yet, one
// batch per notifier; a failing notifier is logged and tried again at the
// next call, and the others go on.
func (e *Evaluator) Deliver(ctx context.Context, now time.Time, notifiers []Notifier) error {
	var errs []error
	for _, n := range notifiers {
		pending, err := undelivered(ctx, e.DB, n.Channel(), now.Add(-DeliveryWindow))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(pending) == 0 {
			continue
		}
		if err := n.Notify(ctx, pending); err != nil {
			e.logger().Warn("alert delivery failed", "channel", n.Channel(), "alerts", len(pending), "error", err.Error())
			errs = append(errs, fmt.Errorf("deliver %d alerts by %s: %w", len(pending), n.Channel(), err))
			continue
		}
		if err := markDelivered(ctx, e.DB, n.Channel(), pending, now); err != nil {
			errs = append(errs, err)
			continue
		}
		e.logger().Info("alerts delivered", "channel", n.Channel(), "alerts", len(pending))
	}
	return errors.Join(errs...)
}

// Service runs the evaluator every Interval as a background.Service, and
// delivery beside it: a receiver that hangs delays only the next
// delivery, never a round.
type Service struct {
	Interval  time.Duration
	Notifiers []Notifier
	Now       func() time.Time // nil: time.Now
	// Make builds the evaluator when the service starts (the database is
	// open by then).
	Make func() (*Evaluator, error)

	loop background.Loop
}

// Name is "alerts".
func (s *Service) Name() string { return "alerts" }

// Start runs a round at once, then every Interval.
func (s *Service) Start(ctx context.Context) error {
	e, err := s.Make()
	if err != nil {
		return err
	}
	now := s.Now
	if now == nil {
		now = time.Now
	}
	interval := s.Interval
	if interval <= 0 {
		interval = 30 * time.Second
	}
	s.loop.Go(ctx, func(ctx context.Context) {
		kick := make(chan struct{}, 1)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-ctx.Done():
					return
				case <-kick:
					_ = e.Deliver(ctx, now(), s.Notifiers) // failures are logged
				}
			}
		}()
		defer func() { <-done }()
		lastPrune := time.Time{}
		round := func(ctx context.Context) {
			t := now()
			if err := e.Evaluate(ctx, t); err != nil && !isBusy(err) && ctx.Err() == nil {
				e.logger().Error("alert round", "error", err.Error())
			}
			if t.Sub(lastPrune) > time.Hour {
				if _, err := e.Prune(ctx, t.Add(-Retention)); err == nil {
					lastPrune = t
				}
			}
			select {
			case kick <- struct{}{}:
			default: // a delivery is running or waiting already
			}
		}
		round(ctx)
		background.Every(ctx, interval, round)
	})
	return nil
}

// Stop ends the loop and waits for it and any delivery in flight.
func (s *Service) Stop() { s.loop.Stop() }
