// Package jobs is the appliance's job queue: documents to read and
// extract, worked by River (github.com/riverqueue/river) on the system
// PostgreSQL, its tables in their own schema made by the system migration
// line (Migrations). Jobs are unique by document, so enqueueing again
// after a crash changes nothing; they retry with River's exponential
// backoff up to Config.MaxAttempts, each attempt bounded by
// Config.Timeout; a Permanent error (a bad file) ends the job at once.
// Companies take turns (fair.go): one company's bulk upload delays
// another's single document by about one job. Workers run only while the
// Service runs, which the appliance binds to the seal; a job interrupted
// by a stop or a seal is made available again, and one left running by a
// process that died is rescued once it has run longer than
// Config.RescueAfter.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// Handler works one document job. attempt counts from 1; an attempt cut
// short by a stop or a seal does not count.
type Handler interface {
	Process(ctx context.Context, company, document uuid.UUID, attempt int) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, company, document uuid.UUID, attempt int) error

// Process calls f.
func (f HandlerFunc) Process(ctx context.Context, company, document uuid.UUID, attempt int) error {
	return f(ctx, company, document, attempt)
}

// ErrPermanent marks a failure that no retry can mend (a bad file): the
// job is cancelled with the error, never attempted again.
var ErrPermanent = errors.New("permanent failure")

// ErrNotFound: no job for that company and document.
var ErrNotFound = errors.New("job not found")

type permanentError struct{ err error }

func (e *permanentError) Error() string        { return e.err.Error() }
func (e *permanentError) Unwrap() error        { return e.err }
func (e *permanentError) Is(target error) bool { return target == ErrPermanent }

// Permanent wraps err so that the queue does not retry it; errors.Is
// still finds err (and ErrPermanent) through it. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// Config tunes the queue; zero values take the defaults.
type Config struct {
	Workers     int           // jobs worked at once; default runtime.NumCPU()
	Timeout     time.Duration // one attempt's limit; default 10 minutes
	MaxAttempts int           // attempts before the job is discarded; default 5
	// RescueAfter is how long a job may stay running before the leader
	// takes it for abandoned (its process died) and retries it. It must
	// exceed Timeout, or a slow live job would run twice; default Timeout
	// plus a minute.
	RescueAfter time.Duration
	// StopGrace is how long Stop lets running jobs finish before it
	// cancels them (they are then made available again, the attempt not
	// counted); default 10 seconds.
	StopGrace time.Duration
	// SoleWorker says this process is the only one that works the queue
	// (one appliance on its own PostgreSQL). A job still marked running
	// when its service starts was then left by a process that died, and is
	// made available at once instead of after RescueAfter. Never set it
	// where replicas share the database: it would take their live jobs.
	SoleWorker bool
}

func (c Config) withDefaults() (Config, error) {
	if c.Workers <= 0 {
		c.Workers = runtime.NumCPU()
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Minute
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.RescueAfter <= 0 {
		c.RescueAfter = c.Timeout + time.Minute
	}
	if c.StopGrace <= 0 {
		c.StopGrace = 10 * time.Second
	}
	if c.RescueAfter <= c.Timeout {
		return c, fmt.Errorf("jobs: RescueAfter %s must exceed Timeout %s", c.RescueAfter, c.Timeout)
	}
	return c, nil
}

// fetchCooldown is the least time between two fetches of a worker (and
// between two insert notifications). River's 100 ms default caps a queue
// at ten fetches a second, each taking at most the free workers: with two
// workers, twenty jobs a second however short they are, and a job
// enqueued just after another may wait for the next poll (a second).
// Document jobs are few and long, so fetching more often costs little.
const fetchCooldown = 10 * time.Millisecond

// fetchPollInterval bounds the wait of a job whose insert notification
// fell within another's cooldown (River sends at most one per cooldown):
// River's default is a second; an indexed query five times a second is
// cheap.
const fetchPollInterval = 200 * time.Millisecond

// queueName is River's queue for documents (one queue: fairness between
// companies is the order within it, fair.go).
const queueName = "documents"

// documentArgs are a document job's arguments. Unique by document: the
// same document enqueued twice (a retry of the upload after a crash) is
// one job.
type documentArgs struct {
	Company  uuid.UUID `json:"company"`
	Document uuid.UUID `json:"document" river:"unique"`
	JobID    uuid.UUID `json:"job_id"`
}

func (documentArgs) Kind() string { return "document" }

// Queue enqueues document jobs and, through Service, works them.
type Queue struct {
	pool   *pgxpool.Pool
	h      Handler
	cfg    Config
	logger *slog.Logger
	// client inserts and cancels; it never works jobs (Service starts a
	// client of its own each time, so a stop leaves nothing behind).
	client *river.Client[pgx.Tx]

	// tune, in tests, adjusts the working client's River config and sees
	// the client before it starts.
	tune func(*river.Config)
	seen func(*river.Client[pgx.Tx])
}

// New returns a queue on pool, which connects as the runtime role (system
// migration 0012 grants it River's schema); h works the jobs; a nil
// logger logs nothing.
func New(pool *pgxpool.Pool, h Handler, cfg Config, logger *slog.Logger) (*Queue, error) {
	if pool == nil || h == nil {
		return nil, errors.New("jobs: New needs a pool and a handler")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Schema:        Schema,
		Logger:        logger,
		MaxAttempts:   cfg.MaxAttempts,
		FetchCooldown: fetchCooldown, // also how often inserts notify the workers
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return &Queue{pool: pool, h: h, cfg: cfg, logger: logger, client: client}, nil
}

// EnqueueDocument queues document of the scope's company under jobID (the
// id the API returned). A document already queued, running or done is
// left as it is: enqueueing is idempotent. Its place in the queue is its
// company's turn (fair.go).
func (q *Queue) EnqueueDocument(ctx context.Context, s tenancy.Scope, document, jobID uuid.UUID) error {
	if !s.Valid() {
		return errors.New("jobs: enqueue without a company")
	}
	args := documentArgs{Company: s.Company(), Document: document, JobID: jobID}
	errDuplicate := errors.New("duplicate")
	err := pgx.BeginFunc(ctx, q.pool, func(tx pgx.Tx) error {
		res, err := q.client.InsertTx(ctx, tx, args, &river.InsertOpts{
			Queue:      queueName,
			UniqueOpts: river.UniqueOpts{ByArgs: true},
		})
		if err != nil {
			return err
		}
		if res.UniqueSkippedAsDuplicate {
			// Roll back, so the company's clock does not move for a job
			// that was not added.
			return errDuplicate
		}
		return fairPlace(ctx, tx, s.Company(), res.Job.ID)
	})
	if err != nil && !errors.Is(err, errDuplicate) {
		return fmt.Errorf("enqueue document %s: %w", document, err)
	}
	return nil
}

// find returns the newest job of the company's document.
func (q *Queue) find(ctx context.Context, s tenancy.Scope, document uuid.UUID) (int64, error) {
	var id int64
	err := q.pool.QueryRow(ctx, `SELECT id FROM `+Schema+`.river_job
		WHERE kind = 'document' AND args @> jsonb_build_object('company', $1::text, 'document', $2::text)
		ORDER BY id DESC LIMIT 1`, s.Company(), document).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("document %s: %w", document, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("document %s: %w", document, err)
	}
	return id, nil
}

// Cancel cancels the document's job: a waiting job never runs, a running
// one has its context cancelled (wherever it runs) and is not retried. A
// finished job is left as it is. ErrNotFound when the company has no job
// for the document.
func (q *Queue) Cancel(ctx context.Context, s tenancy.Scope, document uuid.UUID) error {
	id, err := q.find(ctx, s, document)
	if err != nil {
		return err
	}
	if _, err := q.client.JobCancel(ctx, id); err != nil {
		return fmt.Errorf("cancel document %s: %w", document, err)
	}
	return nil
}

// State is where a job stands, in River's words: available, scheduled,
// retryable, running, completed, cancelled (a Permanent error, or
// Cancel), discarded (out of attempts).
type State = rivertype.JobState

// Job is a document job as the queue sees it.
type Job struct {
	ID       uuid.UUID // the id given to EnqueueDocument
	Document uuid.UUID
	State    State
	Attempt  int      // attempts made so far
	Errors   []string // each failed attempt's error, oldest first
}

// Job returns the document's job. ErrNotFound when there is none.
func (q *Queue) Job(ctx context.Context, s tenancy.Scope, document uuid.UUID) (Job, error) {
	id, err := q.find(ctx, s, document)
	if err != nil {
		return Job{}, err
	}
	row, err := q.client.JobGet(ctx, id)
	if err != nil {
		return Job{}, fmt.Errorf("document %s: %w", document, err)
	}
	j := Job{Document: document, State: row.State, Attempt: row.Attempt}
	var args documentArgs
	if err := decodeArgs(row, &args); err != nil {
		return Job{}, err
	}
	j.ID = args.JobID
	for _, e := range row.Errors {
		j.Errors = append(j.Errors, e.Error)
	}
	return j, nil
}

// Depth is how many jobs wait (queued or waiting to retry) and how long
// the oldest has waited since it was enqueued: the router's and the
// metrics' view of the backlog.
func (q *Queue) Depth(ctx context.Context) (waiting int, oldest time.Duration, err error) {
	return Depth(ctx, q.pool)
}

// Depth is Queue.Depth for a caller that has the pool but no queue (the
// appliance's metrics).
func Depth(ctx context.Context, pool *pgxpool.Pool) (waiting int, oldest time.Duration, err error) {
	var micros int64
	err = pool.QueryRow(ctx, `SELECT count(*), coalesce((extract(epoch FROM now() - min(created_at)) * 1e6)::bigint, 0)
		FROM `+Schema+`.river_job
		WHERE queue = $1 AND state IN ('available', 'scheduled', 'retryable', 'pending')`, queueName).Scan(&waiting, &micros)
	if err != nil {
		return 0, 0, fmt.Errorf("queue depth: %w", err)
	}
	return waiting, time.Duration(max(micros, 0)) * time.Microsecond, nil
}
