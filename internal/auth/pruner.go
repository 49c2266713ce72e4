package auth

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/vanta-ledger/vanta/internal/background"
)

// SessionPruner is the background service that deletes expired
// revocations, refresh tokens, password resets and lockout rows (Prune),
// so those tables hold only what can still matter.
type SessionPruner struct {
	// Service gives, at each start, the identity service to prune with.
	Service func() (*Service, error)
	// Interval between rounds; the first runs at start. Default 1 h.
	Interval time.Duration
	Logger   *slog.Logger

	loop       background.Loop
	afterRound func() // tests: told when a round is done
}

// Name is how the log calls the service.
func (p *SessionPruner) Name() string { return "session-prune" }

// Start begins the rounds.
func (p *SessionPruner) Start(ctx context.Context) error {
	svc, err := p.Service()
	if err != nil {
		return fmt.Errorf("identity service: %w", err)
	}
	every := p.Interval
	if every <= 0 {
		every = time.Hour
	}
	logger := p.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	round := func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		n, err := svc.Prune(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Error("prune sessions", "error", err.Error())
		case n > 0:
			logger.Info("pruned sessions", "rows", n)
		}
		if p.afterRound != nil {
			p.afterRound()
		}
	}
	p.loop.Go(ctx, func(ctx context.Context) {
		round(ctx) // an appliance that was sealed for days has a backlog
		background.Every(ctx, every, round)
	})
	return nil
}

// Stop ends the rounds, waiting for one under way.
func (p *SessionPruner) Stop() { p.loop.Stop() }
