package api

// Interim stand-in until internal/jobs lands on this branch: an
// in-process queue (not durable). Replaced by jobs.New.

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/background"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

type jobHandler interface {
	Process(ctx context.Context, company, document uuid.UUID, attempt int) error
}

func permanent(err error) error { return err }

func newDocumentQueue(_ *appliance.Stores, h jobHandler, workers int, logger *slog.Logger) (documentQueue, error) {
	return &interimQueue{h: h, jobs: make(chan [2]uuid.UUID, 1024), logger: logger}, nil
}

type interimQueue struct {
	h      jobHandler
	jobs   chan [2]uuid.UUID
	logger *slog.Logger
	stop   context.CancelFunc
	wg     sync.WaitGroup
}

func (q *interimQueue) EnqueueDocument(ctx context.Context, s tenancy.Scope, document, jobID uuid.UUID) error {
	q.jobs <- [2]uuid.UUID{s.Company(), document}
	return nil
}
func (q *interimQueue) Cancel(context.Context, tenancy.Scope, uuid.UUID) error { return nil }
func (q *interimQueue) Depth(context.Context) (int, time.Duration, error) {
	return len(q.jobs), 0, nil
}
func (q *interimQueue) Service() background.Service { return q }
func (q *interimQueue) Name() string                { return "documents-queue" }
func (q *interimQueue) Start(ctx context.Context) error {
	ctx, q.stop = context.WithCancel(context.Background())
	q.wg.Add(1)
	go func() {
		defer q.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case j := <-q.jobs:
				if err := q.h.Process(ctx, j[0], j[1], 1); err != nil {
					q.logger.Warn("document job failed", "document", j[1].String(), "error", err.Error())
				}
			}
		}
	}()
	return nil
}
func (q *interimQueue) Stop() {
	if q.stop != nil {
		q.stop()
	}
	q.wg.Wait()
}
