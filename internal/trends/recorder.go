package trends

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vanta-ledger/vanta/internal/alerts"
	"github.com/vanta-ledger/vanta/internal/background"
)

// Opener returns the database as the runtime role, once the appliance has
// opened it (an error until then).
type Opener func(ctx context.Context) (*pgxpool.Pool, error)

// Recorder is the background service that records Source's samples every
// minute and prunes what is past its retention.
type Recorder struct {
	Source alerts.Source
	Open   Opener
	Logger *slog.Logger
	// MaxSeries bounds the distinct series (Store.MaxSeries).
	MaxSeries int
	// Interval between rounds; zero means a minute. Recording faster than
	// a minute only adds samples to the same minute's point.
	Interval time.Duration

	loop background.Loop
}

// NewRecorder returns a recorder of src into the database open gives.
func NewRecorder(src alerts.Source, open Opener, logger *slog.Logger) *Recorder {
	return &Recorder{Source: src, Open: open, Logger: logger}
}

// Name implements background.Service.
func (r *Recorder) Name() string { return "trends recorder" }

// Start implements background.Service: rounds run every interval on the
// wall clock until Stop. A round that fails is logged; the next one tries
// again.
func (r *Recorder) Start(ctx context.Context) error {
	interval := r.Interval
	if interval <= 0 {
		interval = time.Minute
	}
	r.loop.Go(ctx, func(ctx context.Context) {
		background.Every(ctx, interval, func(ctx context.Context) {
			if _, err := r.Round(ctx, time.Now()); err != nil && ctx.Err() == nil {
				r.logger().Warn("trends round", "error", err.Error())
			}
		})
	})
	return nil
}

// Stop implements background.Service.
func (r *Recorder) Stop() { r.loop.Stop() }

func (r *Recorder) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

// Round takes the samples of now, records them and prunes as of now.
func (r *Recorder) Round(ctx context.Context, now time.Time) (Recorded, error) {
	db, err := r.Open(ctx)
	if err != nil {
		return Recorded{}, fmt.Errorf("trends: open the database: %w", err)
	}
	st := Store{DB: db, MaxSeries: r.MaxSeries}
	samples, err := r.Source.Samples(ctx, now)
	if err != nil {
		return Recorded{}, fmt.Errorf("trends: samples: %w", err)
	}
	rec, err := st.Record(ctx, now, samples)
	if err != nil {
		return rec, err
	}
	if rec.Invalid > 0 || rec.Dropped > 0 {
		r.logger().Warn("trends samples not recorded", "invalid", rec.Invalid, "over_series_bound", rec.Dropped)
	}
	if _, err := st.Prune(ctx, now); err != nil {
		return rec, err
	}
	return rec, nil
}
