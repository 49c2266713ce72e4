package audit

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/vanta-ledger/vanta/internal/background"
)

// Checkpointer is the background service that moves every chain's
// checkpoint to its head, so that deleting the newest records is caught
// even between verifications. A chain that does not verify keeps its old
// checkpoint, as evidence, and is logged. It runs only while unsealed:
// the checkpoints' MAC key is in the keyring.
type Checkpointer struct {
	// Open gives, at each start, the database to read and the checkpoint
	// store with its MAC key.
	Open func(ctx context.Context) (Querier, Checkpoints, error)
	// Interval between rounds. Default 10 s. The first round runs in
	// Start, so that the chains are verified and checkpointed as soon as
	// the appliance is unsealed, before the service counts as started.
	Interval time.Duration
	Logger   *slog.Logger
	// Verified, when set, is told each chain's outcome every round (the
	// security events' audit_verify_failed).
	Verified func(chain string, ok bool, reason string)

	loop background.Loop
}

// Name is how the log calls the service.
func (c *Checkpointer) Name() string { return "audit-checkpoint" }

// Start opens the checkpoint store and begins the rounds.
func (c *Checkpointer) Start(ctx context.Context) error {
	db, cps, err := c.Open(ctx)
	if err != nil {
		return fmt.Errorf("open audit checkpoints: %w", err)
	}
	every := c.Interval
	if every <= 0 {
		every = 10 * time.Second
	}
	logger := c.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	round := func(ctx context.Context) {
		// A round that hangs on the database must not hold up Stop (or
		// the start) for long.
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		checkpointAll(ctx, db, cps, logger, c.Verified)
	}
	round(ctx)
	c.loop.Go(ctx, func(ctx context.Context) { background.Every(ctx, every, round) })
	return nil
}

// Stop ends the rounds, waiting for one under way.
func (c *Checkpointer) Stop() { c.loop.Stop() }

// checkpointAll verifies every chain against its checkpoint and moves the
// checkpoint of each intact chain to its head; what fails is logged.
func checkpointAll(ctx context.Context, q Querier, cps Checkpoints, logger *slog.Logger, verified func(chain string, ok bool, reason string)) {
	chains, err := Chains(ctx, q)
	if err != nil {
		if ctx.Err() == nil {
			logger.Error("audit checkpoint", "error", err.Error())
		}
		return
	}
	for _, chain := range chains {
		res, err := cps.VerifyAndAdvance(ctx, q, chain)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				logger.Error("audit checkpoint", "chain", chain, "error", err.Error())
			}
		case !res.OK:
			logger.Error("audit chain broken", "chain", chain, "first_bad_seq", res.FirstBad, "reason", res.Reason)
		}
		if err == nil && verified != nil {
			verified(chain, res.OK, res.Reason)
		}
	}
}
