package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/vanta-ledger/vanta/internal/background"
)

// worker adapts the Handler to River.
type worker struct {
	river.WorkerDefaults[documentArgs]
	h Handler
}

func (w *worker) Work(ctx context.Context, job *river.Job[documentArgs]) error {
	err := w.h.Process(ctx, job.Args.Company, job.Args.Document, job.Attempt)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrPermanent):
		return river.JobCancel(err)
	case errors.Is(ctx.Err(), context.Canceled) && !errors.Is(err, context.Canceled):
		// Stopped (or cancelled) while working, and the handler said so in
		// its own words: say it in River's, so that a stop makes the job
		// available again without counting the attempt.
		return fmt.Errorf("%w: %w", context.Canceled, err)
	}
	return err
}

func decodeArgs(row *rivertype.JobRow, args *documentArgs) error {
	if err := json.Unmarshal(row.EncodedArgs, args); err != nil {
		return fmt.Errorf("job %d: arguments: %w", row.ID, err)
	}
	return nil
}

// Service returns the queue's workers as a background service: Start
// starts a River client that works the queue, Stop stops it, letting
// running jobs finish within Config.StopGrace and then cancelling them.
// The appliance adds it to the runner that follows the seal, so jobs are
// worked only while the keys are there.
func (q *Queue) Service() background.Service { return &service{q: q} }

type service struct {
	q      *Queue
	mu     sync.Mutex
	client *river.Client[pgx.Tx]
}

func (s *service) Name() string { return "jobs" }

func (s *service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		return nil
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &worker{h: s.q.h})
	cfg := &river.Config{
		Schema:               Schema,
		Logger:               s.q.logger,
		MaxAttempts:          s.q.cfg.MaxAttempts,
		JobTimeout:           s.q.cfg.Timeout,
		RescueStuckJobsAfter: s.q.cfg.RescueAfter,
		// Past the grace, River cancels the jobs' contexts and makes the
		// jobs available again without counting the attempt.
		SoftStopTimeout: s.q.cfg.StopGrace,
		// The runtime role does not own River's indexes and cannot
		// rebuild them; the operator can, as the owner.
		ReindexerSchedule: river.NeverSchedule(),
		FetchCooldown:     fetchCooldown,
		FetchPollInterval: fetchPollInterval,
		Queues:            map[string]river.QueueConfig{queueName: {MaxWorkers: s.q.cfg.Workers}},
		Workers:           workers,
	}
	if s.q.tune != nil {
		s.q.tune(cfg)
	}
	client, err := river.NewClient(riverpgxv5.New(s.q.pool), cfg)
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	if s.q.seen != nil {
		s.q.seen(client)
	}
	if s.q.cfg.SoleWorker {
		if _, err := s.q.pool.Exec(ctx, orphanSQL, queueName); err != nil {
			return fmt.Errorf("jobs: take back orphaned jobs: %w", err)
		}
	}
	if _, err := s.q.pool.Exec(ctx, refrontSQL, queueName, fairCeiling); err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	// Detached: the service stops when Stop says, not when the caller's
	// context ends (the runner calls Stop then).
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("jobs: start workers: %w", err)
	}
	s.client = client
	return nil
}

// refrontSQL puts the jobs that a stop interrupted (River made them
// available again at the time of the stop, a real time that sorts after
// every fair tag) back at the front of the queue, so that after an
// unseal they go on before the backlog rather than after it. Retries
// whose wait is over come with them; those still waiting keep their time.
const refrontSQL = `
UPDATE ` + Schema + `.river_job SET scheduled_at = coalesce(
	(SELECT min(scheduled_at) FROM ` + Schema + `.river_job
	  WHERE state = 'available' AND queue = $1 AND priority = 1 AND scheduled_at < $2),
	scheduled_at)
WHERE state = 'available' AND queue = $1 AND scheduled_at >= $2 AND scheduled_at <= now()`

// orphanSQL makes the jobs a dead process left running available again,
// when no other process can be working them (Config.SoleWorker); the
// attempt they were in stays counted. refrontSQL then puts them first.
const orphanSQL = `
UPDATE ` + Schema + `.river_job SET state = 'available', scheduled_at = now()
WHERE state = 'running' AND queue = $1`

// stopBound is how long Stop waits, past the grace, for cancelled jobs to
// return before it gives up on them: a handler that ignores its context
// cannot hold the seal open. Its job stays running in the table until the
// rescuer takes it (Config.RescueAfter).
const stopBound = 10 * time.Second

func (s *service) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		return
	}
	client := s.client
	s.client = nil
	ctx, cancel := context.WithTimeout(context.Background(), s.q.cfg.StopGrace+stopBound)
	defer cancel()
	if err := client.Stop(ctx); err == nil {
		return
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	if err := client.StopAndCancel(ctx2); err != nil {
		s.q.logger.Warn("job workers did not stop in time; their jobs will be rescued", "error", err.Error())
	}
}

// Lazy is the queue's service for an appliance whose databases open after
// its services are registered: at each Start it asks get for the queue of
// the moment (an error, such as stores not open yet, fails the start and
// the runner tries again), and Stop stops what that Start started.
func Lazy(get func() (*Queue, error)) background.Service { return &lazy{get: get} }

type lazy struct {
	get func() (*Queue, error)
	mu  sync.Mutex
	svc background.Service
}

func (l *lazy) Name() string { return "jobs" }

func (l *lazy) Start(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.svc != nil {
		return nil
	}
	q, err := l.get()
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	svc := q.Service()
	if err := svc.Start(ctx); err != nil {
		return err
	}
	l.svc = svc
	return nil
}

func (l *lazy) Stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.svc != nil {
		l.svc.Stop()
		l.svc = nil
	}
}
