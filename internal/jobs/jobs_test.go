package jobs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/vanta-ledger/vanta/internal/background"
	"github.com/vanta-ledger/vanta/internal/migrate"
	"github.com/vanta-ledger/vanta/internal/pgtest"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

var (
	pg       *pgtest.Server
	template *pgtest.Template
)

func TestMain(m *testing.M) {
	var err error
	if pg, err = pgtest.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	template = pg.Template(func(ctx context.Context, dsn string) error {
		db, err := pgxpool.New(ctx, dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		// The tenancy domain makes the vanta schema and the roles' grants
		// that the job queue's step builds on.
		reg, err := migrate.NewRegistry(migrate.Source{Name: "tenancy", FS: tenancy.Migrations}, migrate.Source{Name: "jobs", Steps: Migrations()})
		if err != nil {
			return err
		}
		_, err = migrate.New(reg, migrate.Roles{Owner: pgtest.OwnerRole, App: pgtest.AppRole}, nil).System(ctx, db)
		return err
	})
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// wait bounds every wait of these tests: a guard against a hang, never
// a way to let something happen.
const wait = 60 * time.Second

// env is one test's database: the runtime role's pool (so a missing
// grant fails the test) and the superuser's, for looking underneath.
type env struct {
	app, admin *pgxpool.Pool
}

func newEnv(t testing.TB) env {
	t.Helper()
	ctx := context.Background()
	name, dsn := template.Database(t)
	admin, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	app, err := pgxpool.New(ctx, pg.AppDSN(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	return env{app: app, admin: admin}
}

// call is one Process call.
type call struct {
	company, document uuid.UUID
	attempt           int
}

// recorder is a handler that reports each call on a channel and answers
// with do (nil: success).
type recorder struct {
	calls chan call
	do    func(ctx context.Context, c call) error
}

func newRecorder(do func(ctx context.Context, c call) error) *recorder {
	return &recorder{calls: make(chan call, 1000), do: do}
}

func (r *recorder) Process(ctx context.Context, company, document uuid.UUID, attempt int) error {
	c := call{company, document, attempt}
	r.calls <- c
	if r.do == nil {
		return nil
	}
	return r.do(ctx, c)
}

func (r *recorder) next(t testing.TB) call {
	t.Helper()
	select {
	case c := <-r.calls:
		return c
	case <-time.After(wait):
		t.Fatal("no call of the handler")
		return call{}
	}
}

// queue makes a queue on e with its events on a channel: every client the
// service starts reports there.
func (e env) queue(t testing.TB, h Handler, cfg Config) (*Queue, <-chan *river.Event) {
	t.Helper()
	q, err := New(e.app, h, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	// River waits FetchCooldown between two fetches (100 ms by default, to
	// spare the database when jobs are many and short); with one worker
	// and hundreds of no-op jobs that is the whole run.
	q.tune = func(c *river.Config) { c.FetchCooldown = time.Millisecond }
	events := make(chan *river.Event, 1000)
	var mu sync.Mutex
	q.seen = func(c *river.Client[pgx.Tx]) {
		ch, cancel := c.Subscribe(river.EventKindJobCompleted, river.EventKindJobCancelled, river.EventKindJobFailed)
		mu.Lock()
		defer mu.Unlock()
		t.Cleanup(cancel)
		go func() {
			for ev := range ch {
				events <- ev
			}
		}()
	}
	return q, events
}

// start starts the queue's service and stops it at the test's end.
func start(t testing.TB, q *Queue) *service {
	t.Helper()
	svc := q.Service().(*service)
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)
	return svc
}

// await returns the next event of the document's job.
func await(t testing.TB, events <-chan *river.Event, document uuid.UUID) *river.Event {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case ev := <-events:
			var args documentArgs
			if err := decodeArgs(ev.Job, &args); err != nil {
				t.Fatal(err)
			}
			if args.Document == document {
				return ev
			}
		case <-deadline:
			t.Fatalf("no event for document %s", document)
		}
	}
}

func scope() tenancy.Scope { return tenancy.NewScopeForTest(uuid.New()) }

// TestRiverSchemaIsPinned: system migration 0012 made River's schema at
// the version this River wants (a River upgrade with migrations fails
// here until a system step brings them, see riverVersion), owned by the
// owner role, in the river schema alone.
func TestRiverSchemaIsPinned(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	m, err := rivermigrate.New(riverpgxv5.New(e.admin), &rivermigrate.Config{Schema: Schema})
	if err != nil {
		t.Fatal(err)
	}
	all := m.AllVersions()
	if got := all[len(all)-1].Version; got != riverVersion {
		t.Errorf("River's head migration is %d, system step 0012 brings %d: add a system step (see riverVersion)", got, riverVersion)
	}
	have, err := m.ExistingVersions(ctx)
	if err != nil || len(have) == 0 || have[len(have)-1].Version != riverVersion {
		t.Fatalf("applied River versions %v: %v", have, err)
	}
	var owner string
	if err := e.admin.QueryRow(ctx, `SELECT tableowner FROM pg_tables WHERE schemaname = 'river' AND tablename = 'river_job'`).Scan(&owner); err != nil {
		t.Fatal(err)
	}
	if owner != pgtest.OwnerRole {
		t.Errorf("river_job owned by %s", owner)
	}
	var elsewhere int
	if err := e.admin.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename LIKE 'river%' AND schemaname <> 'river'`).Scan(&elsewhere); err != nil || elsewhere != 0 {
		t.Errorf("River tables outside its schema: %d %v", elsewhere, err)
	}
}

// TestProcess: an enqueued document reaches the handler with its company,
// its id and attempt 1, and its job completes under the id given.
func TestProcess(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	h := newRecorder(nil)
	q, events := e.queue(t, h, Config{Workers: 2})
	start(t, q)
	s, doc, jobID := scope(), uuid.New(), uuid.New()
	if err := q.EnqueueDocument(ctx, s, doc, jobID); err != nil {
		t.Fatal(err)
	}
	if c := h.next(t); c != (call{s.Company(), doc, 1}) {
		t.Errorf("call %+v", c)
	}
	if ev := await(t, events, doc); ev.Kind != river.EventKindJobCompleted {
		t.Errorf("event %s", ev.Kind)
	}
	j, err := q.Job(ctx, s, doc)
	if err != nil || j.ID != jobID || j.State != rivertype.JobStateCompleted || j.Attempt != 1 {
		t.Errorf("job %+v %v", j, err)
	}
	if _, err := q.Job(ctx, scope(), doc); !errors.Is(err, ErrNotFound) {
		t.Errorf("another company sees the job: %v", err)
	}
}

// TestFailures: a transient error is retried with the attempt number; a
// Permanent one (a bad file) is cancelled at once, never retried; running
// out of attempts discards the job; an attempt longer than the timeout is
// cut short. Each records its error.
func TestFailures(t *testing.T) {
	bad := errors.New("bad file: corrupt PDF")
	tests := []struct {
		name    string
		cfg     Config
		do      func(ctx context.Context, c call) error
		calls   []int // attempts seen
		state   rivertype.JobState
		errText string
	}{
		{"transient then fine", Config{Workers: 1}, func(ctx context.Context, c call) error {
			if c.attempt == 1 {
				return errors.New("llama-server busy")
			}
			return nil
		}, []int{1, 2}, rivertype.JobStateCompleted, "llama-server busy"},
		{"permanent", Config{Workers: 1}, func(ctx context.Context, c call) error {
			return fmt.Errorf("reading: %w", Permanent(bad))
		}, []int{1}, rivertype.JobStateCancelled, "corrupt PDF"},
		{"out of attempts", Config{Workers: 1, MaxAttempts: 1}, func(ctx context.Context, c call) error {
			return errors.New("still busy")
		}, []int{1}, rivertype.JobStateDiscarded, "still busy"},
		{"timeout", Config{Workers: 1, MaxAttempts: 1, Timeout: 200 * time.Millisecond}, func(ctx context.Context, c call) error {
			<-ctx.Done()
			return ctx.Err()
		}, []int{1}, rivertype.JobStateDiscarded, "deadline exceeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t)
			h := newRecorder(tc.do)
			q, events := e.queue(t, h, tc.cfg)
			start(t, q)
			s, doc := scope(), uuid.New()
			if err := q.EnqueueDocument(ctx, s, doc, uuid.New()); err != nil {
				t.Fatal(err)
			}
			var attempts []int
			for range tc.calls {
				attempts = append(attempts, h.next(t).attempt)
			}
			ev := await(t, events, doc)
			for ev.Job.State == rivertype.JobStateRetryable || ev.Job.State == rivertype.JobStateAvailable {
				ev = await(t, events, doc) // a failed attempt on the way
			}
			if !slices.Equal(attempts, tc.calls) {
				t.Errorf("attempts %v, want %v", attempts, tc.calls)
			}
			j, err := q.Job(ctx, s, doc)
			if err != nil {
				t.Fatal(err)
			}
			if j.State != tc.state || len(j.Errors) == 0 || !strings.Contains(j.Errors[len(j.Errors)-1], tc.errText) {
				t.Errorf("job %+v, want %s with %q", j, tc.state, tc.errText)
			}
			select {
			case c := <-h.calls:
				t.Errorf("called again after the end: %+v", c)
			default:
			}
		})
	}
	if Permanent(nil) != nil || !errors.Is(Permanent(bad), bad) || !errors.Is(Permanent(bad), ErrPermanent) || errors.Is(bad, ErrPermanent) {
		t.Error("Permanent wraps wrongly")
	}
}

// TestCancel: a waiting job cancelled never runs; a running one has its
// context cancelled and ends cancelled, not retried; a document without a
// job is ErrNotFound.
func TestCancel(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	h := newRecorder(func(ctx context.Context, c call) error {
		<-ctx.Done()
		return ctx.Err()
	})
	q, events := e.queue(t, h, Config{Workers: 1})
	s := scope()
	waiting, running := uuid.New(), uuid.New()
	for _, d := range []uuid.UUID{waiting, running} {
		if err := q.EnqueueDocument(ctx, s, d, uuid.New()); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Cancel(ctx, s, waiting); err != nil {
		t.Fatal(err)
	}
	start(t, q)
	if c := h.next(t); c.document != running {
		t.Fatalf("the cancelled job ran: %+v", c)
	}
	if err := q.Cancel(ctx, s, running); err != nil {
		t.Fatal(err)
	}
	if ev := await(t, events, running); ev.Kind != river.EventKindJobCancelled {
		t.Errorf("running job: event %s", ev.Kind)
	}
	for _, d := range []uuid.UUID{waiting, running} {
		if j, err := q.Job(ctx, s, d); err != nil || j.State != rivertype.JobStateCancelled {
			t.Errorf("job %+v %v", j, err)
		}
	}
	if err := q.Cancel(ctx, s, uuid.New()); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown document: %v", err)
	}
	if err := q.Cancel(ctx, scope(), running); !errors.Is(err, ErrNotFound) {
		t.Errorf("another company's document: %v", err)
	}
}

// TestEnqueueIsIdempotent: enqueueing a document again (after a crash
// between storing it and answering) neither adds a job nor changes its
// id, while it waits and after it is done.
func TestEnqueueIsIdempotent(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	h := newRecorder(nil)
	q, events := e.queue(t, h, Config{Workers: 1})
	s, doc, first := scope(), uuid.New(), uuid.New()
	for i := range 3 {
		id := first
		if i > 0 {
			id = uuid.New()
		}
		if err := q.EnqueueDocument(ctx, s, doc, id); err != nil {
			t.Fatal(err)
		}
	}
	// At once, from several requests: still one job.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() { errs <- q.EnqueueDocument(ctx, s, doc, uuid.New()) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n, _, err := q.Depth(ctx); err != nil || n != 1 {
		t.Errorf("depth %d %v, want 1", n, err)
	}
	start(t, q)
	h.next(t)
	await(t, events, doc)
	if err := q.EnqueueDocument(ctx, s, doc, uuid.New()); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := e.admin.QueryRow(ctx, "SELECT count(*) FROM river.river_job").Scan(&n); err != nil || n != 1 {
		t.Errorf("%d jobs %v", n, err)
	}
	if j, err := q.Job(ctx, s, doc); err != nil || j.ID != first {
		t.Errorf("job %+v %v, want id %s", j, err, first)
	}
}

// TestFairness: with one worker, so the order is observable, a company's
// single document enqueued after others' bulk uploads runs among the
// first few, and two bulk companies take turns.
func TestFairness(t *testing.T) {
	tests := []struct {
		name  string
		bulks []int // documents per bulk company, enqueued in turn, before the single one
	}{
		{"one bulk company", []int{200}},
		{"two bulk companies", []int{100, 100}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t)
			h := newRecorder(nil)
			q, _ := e.queue(t, h, Config{Workers: 1})
			var bulk []tenancy.Scope
			total := 1
			for _, n := range tc.bulks {
				s := scope()
				bulk = append(bulk, s)
				for range n {
					if err := q.EnqueueDocument(ctx, s, uuid.New(), uuid.New()); err != nil {
						t.Fatal(err)
					}
				}
				total += n
			}
			single := scope()
			if err := q.EnqueueDocument(ctx, single, uuid.New(), uuid.New()); err != nil {
				t.Fatal(err)
			}
			start(t, q)
			var order []uuid.UUID
			for range total {
				order = append(order, h.next(t).company)
			}
			at := slices.Index(order, single.Company())
			if at < 0 || at > len(tc.bulks) {
				t.Errorf("the single document ran %d-th of %d", at+1, total)
			}
			if len(bulk) == 2 {
				// After the single one, the two bulk companies alternate.
				rest := slices.Delete(slices.Clone(order), at, at+1)
				for i := 1; i < 2*tc.bulks[1]; i++ {
					if rest[i] == rest[i-1] {
						t.Fatalf("company %s ran twice in a row at %d: %v", rest[i], i, rest[:i+1])
					}
				}
			}
		})
	}
}

// TestFairnessWhileWorking: a company's document enqueued while another
// company's bulk upload is being worked runs after at most one more of
// the bulk's jobs.
func TestFairnessWhileWorking(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	release := make(chan struct{})
	var calls atomic.Int32
	h := newRecorder(func(ctx context.Context, c call) error {
		if calls.Add(1) == 1 {
			<-release // the bulk's first job holds the only worker
		}
		return nil
	})
	q, _ := e.queue(t, h, Config{Workers: 1})
	bulk, single := scope(), scope()
	for range 100 {
		if err := q.EnqueueDocument(ctx, bulk, uuid.New(), uuid.New()); err != nil {
			t.Fatal(err)
		}
	}
	start(t, q)
	if c := h.next(t); c.company != bulk.Company() {
		t.Fatalf("first call %+v", c)
	}
	if err := q.EnqueueDocument(ctx, single, uuid.New(), uuid.New()); err != nil {
		t.Fatal(err)
	}
	close(release)
	for i := range 100 {
		if h.next(t).company == single.Company() {
			if i > 1 {
				t.Errorf("the single document ran after %d more of the bulk's", i)
			}
			return
		}
	}
	t.Error("the single document never ran")
}

// TestDepth: the waiting count and the oldest's age, 0 for an empty
// queue.
func TestDepth(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	h := newRecorder(nil)
	q, events := e.queue(t, h, Config{Workers: 1})
	if n, age, err := q.Depth(ctx); err != nil || n != 0 || age != 0 {
		t.Fatalf("empty: %d %s %v", n, age, err)
	}
	s := scope()
	docs := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	for _, d := range docs {
		if err := q.EnqueueDocument(ctx, s, d, uuid.New()); err != nil {
			t.Fatal(err)
		}
	}
	// The oldest's age is measured from its enqueueing, not from its
	// place on the fair clock (which is far in the past).
	var since time.Duration
	if err := e.admin.QueryRow(ctx, "SELECT (extract(epoch FROM now() - min(created_at)) * 1e6)::bigint * 1000 FROM river.river_job").Scan(&since); err != nil {
		t.Fatal(err)
	}
	n, age, err := q.Depth(ctx)
	if err != nil || n != 3 || age < since || age > since+time.Minute {
		t.Errorf("depth %d, oldest %s (enqueued %s ago): %v", n, age, since, err)
	}
	start(t, q)
	for _, d := range docs {
		await(t, events, d)
	}
	if n, _, err := q.Depth(ctx); err != nil || n != 0 {
		t.Errorf("after: %d %v", n, err)
	}
}

// TestStopResumes: a job running when the service stops (a seal) has its
// context cancelled after the grace, is made available again without
// counting the attempt, and after the next start runs first, before the
// documents that were waiting behind it, and completes.
func TestStopResumes(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	// The first call works until it is stopped, in its own words (not
	// wrapped: the worker must still see a stop); the next ones are quick.
	var calls atomic.Int32
	h := newRecorder(func(ctx context.Context, c call) error {
		if calls.Add(1) == 1 {
			<-ctx.Done()
			return fmt.Errorf("reading the document: %v", ctx.Err())
		}
		return nil
	})
	q, events := e.queue(t, h, Config{Workers: 1, StopGrace: 100 * time.Millisecond})
	s, doc, waiting := scope(), uuid.New(), uuid.New()
	if err := q.EnqueueDocument(ctx, s, doc, uuid.New()); err != nil {
		t.Fatal(err)
	}
	svc := q.Service()
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	first := h.next(t)
	if err := q.EnqueueDocument(ctx, scope(), waiting, uuid.New()); err != nil {
		t.Fatal(err)
	}
	svc.Stop()
	j, err := q.Job(ctx, s, doc)
	if err != nil || j.State != rivertype.JobStateAvailable || j.Attempt != 0 {
		t.Fatalf("after the stop: %+v %v", j, err)
	}
	start(t, q)
	second, third := h.next(t), h.next(t)
	if first.attempt != 1 || second.attempt != 1 || second.document != doc || third.document != waiting {
		t.Errorf("calls %+v, %+v, %+v", first, second, third)
	}
	if ev := await(t, events, doc); ev.Kind != river.EventKindJobCompleted {
		t.Errorf("event %s", ev.Kind)
	}
}

// crashedJob leaves one job running in a process that "dies": its
// handler never returns and it never leads (so a rescue is another
// process's), like a replica that lost its leadership with its life.
func crashedJob(t *testing.T, e env) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	stuck := make(chan struct{})
	dead := newRecorder(func(ctx context.Context, c call) error {
		<-stuck
		return nil
	})
	q1, _ := e.queue(t, dead, Config{Workers: 1, Timeout: time.Hour})
	tune := q1.tune
	q1.tune = func(c *river.Config) {
		tune(c)
		c.LeaderElectionDisabled = true
	}
	doc := uuid.New()
	if err := q1.EnqueueDocument(ctx, scope(), doc, uuid.New()); err != nil {
		t.Fatal(err)
	}
	svc1 := q1.Service().(*service)
	if err := svc1.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		close(stuck)
		_ = svc1.client.StopAndCancel(context.Background())
	})
	dead.next(t)
	return doc
}

// TestCrashedJobIsRescued: a job left running by a process that died (its
// client never stopped, it will never finish) is taken back by the leader
// once it has run longer than RescueAfter, and runs to the end elsewhere
// as its second attempt.
func TestCrashedJobIsRescued(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	doc := crashedJob(t, e)

	const rescueAfter = 300 * time.Millisecond
	// The job must have run longer than rescueAfter when the leader
	// looks, which it does as it starts: wait for that condition.
	deadline := time.Now().Add(wait)
	for {
		var old bool
		if err := e.admin.QueryRow(ctx, "SELECT now() - attempted_at > $1::interval FROM river.river_job", rescueAfter.String()).Scan(&old); err != nil {
			t.Fatal(err)
		}
		if old {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the job never became old enough")
		}
	}
	alive := newRecorder(nil)
	q2, events := e.queue(t, alive, Config{Workers: 1, Timeout: rescueAfter / 2, RescueAfter: rescueAfter})
	start(t, q2)
	if c := alive.next(t); c.document != doc || c.attempt != 2 {
		t.Errorf("rescued call %+v", c)
	}
	if ev := await(t, events, doc); ev.Kind != river.EventKindJobCompleted {
		t.Errorf("event %s", ev.Kind)
	}
}

// TestSoleWorkerTakesBackOrphans: a sole worker's service, started after
// a crash, runs the job the dead process left running at once, long
// before RescueAfter, as its next attempt.
func TestSoleWorkerTakesBackOrphans(t *testing.T) {
	e := newEnv(t)
	doc := crashedJob(t, e)

	alive := newRecorder(nil)
	// RescueAfter of a day: only the sole worker's start can free the job.
	q2, events := e.queue(t, alive, Config{Workers: 1, Timeout: time.Hour, RescueAfter: 24 * time.Hour, SoleWorker: true})
	start(t, q2)
	if c := alive.next(t); c.document != doc || c.attempt != 2 {
		t.Errorf("call after the crash %+v, want document %s attempt 2", c, doc)
	}
	if ev := await(t, events, doc); ev.Kind != river.EventKindJobCompleted {
		t.Errorf("event %s", ev.Kind)
	}
}

// TestLazyFollowsTheGate: the lazy service, run by a background runner
// that follows a gate (the seal), fails to start while the queue is not
// there and is retried; it works jobs while the gate is open, and a job
// enqueued while it is closed waits for the next opening.
func TestLazyFollowsTheGate(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	h := newRecorder(nil)
	q, events := e.queue(t, h, Config{Workers: 1})
	var ready atomic.Bool
	svc := Lazy(func() (*Queue, error) {
		if !ready.Load() {
			return nil, errors.New("stores not open")
		}
		return q, nil
	})
	if err := svc.Start(ctx); err == nil || !strings.Contains(err.Error(), "stores not open") {
		t.Fatalf("start without a queue: %v", err)
	}
	svc.Stop() // after a failed start, as the runner does
	ready.Store(true)
	gate := &gate{}
	r := background.NewRunner(nil)
	stopped := make(chan struct{}, 10)
	r.Add(signalStop{svc, stopped})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); r.Follow(runCtx, gate) }()
	t.Cleanup(func() { stop(); <-done })

	s := scope()
	first, second := uuid.New(), uuid.New()
	if err := q.EnqueueDocument(ctx, s, first, uuid.New()); err != nil {
		t.Fatal(err)
	}
	gate.set(true)
	if c := h.next(t); c.document != first {
		t.Errorf("call %+v", c)
	}
	await(t, events, first)
	gate.set(false)
	select { // Follow stops the service on the change
	case <-stopped:
	case <-time.After(wait):
		t.Fatal("the runner never stopped the service")
	}
	if err := q.EnqueueDocument(ctx, s, second, uuid.New()); err != nil {
		t.Fatal(err)
	}
	if n, _, err := q.Depth(ctx); err != nil || n != 1 {
		t.Errorf("while closed: depth %d %v", n, err)
	}
	gate.set(true)
	if c := h.next(t); c.document != second {
		t.Errorf("call %+v", c)
	}
	await(t, events, second)
}

// gate is a background.Gate for tests.
type gate struct {
	mu      sync.Mutex
	open    bool
	changed chan struct{}
}

func (g *gate) Watch() (bool, <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.changed == nil {
		g.changed = make(chan struct{})
	}
	return g.open, g.changed
}

func (g *gate) set(open bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = open
	if g.changed != nil {
		close(g.changed)
	}
	g.changed = make(chan struct{})
}

// signalStop reports each Stop of the service it wraps.
type signalStop struct {
	background.Service
	stopped chan<- struct{}
}

func (s signalStop) Stop() {
	s.Service.Stop()
	s.stopped <- struct{}{}
}
