package ledger

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// GroupCommit lets concurrent posts of one company share a transaction,
// and so one commit (one WAL flush) and one hold of the company's posting
// lock, instead of queueing on that lock one commit at a time. A company's
// posts are serialised by its ledger_settings row anyway; so while one
// group commits, the posts that arrive wait in line and go together in the
// next group. Each post still runs its own function (its own entry, number
// and answer); a post answered as done is committed, by a commit as
// synchronous and durable as any other.
//
// A function that fails aborts its group's transaction: it is run again
// alone, for its own answer, and the rest of the group again without it,
// so that one refused entry never fails another's. A failed commit runs
// every post of the group alone. A deadlock or serialisation failure is
// retried here, never handed to the caller.
//
// The zero value is ready; one GroupCommit serves every company and pool.
type GroupCommit struct {
	// MaxGroup bounds the posts of one transaction (0: 256).
	MaxGroup int

	mu     sync.Mutex
	queues map[groupKey]*groupQueue
}

type groupKey struct {
	db      Beginner
	company uuid.UUID
}

type groupQueue struct {
	waiting []*groupPost
	leading bool // a post of this queue is running a group
}

type groupPost struct {
	fn   func(pgx.Tx) error
	lead chan struct{} // closed when this post is to run the next group
	done chan struct{} // closed when err is final
	err  error
}

// Beginner opens transactions (a pgxpool.Pool).
type Beginner interface {
	BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error)
}

// posts shares commits among the API's single posts (Store.Post).
var posts GroupCommit

// groupTimeout bounds one group's transaction: it runs for many callers,
// so no single caller's context may cancel it.
const groupTimeout = 30 * time.Second

// InTx runs fn as tenancy.InTx does, in a transaction it may share with
// the functions of concurrent calls for the same company. fn may run more
// than once (after another's failure aborted its group): it must only
// read and write through tx and set its results afresh each time.
func (g *GroupCommit) InTx(ctx context.Context, db Beginner, s tenancy.Scope, fn func(pgx.Tx) error) error {
	if !s.Valid() {
		return tenancy.ErrNoScope
	}
	p := &groupPost{fn: fn, lead: make(chan struct{}), done: make(chan struct{})}
	key := groupKey{db, s.Company()}
	g.mu.Lock()
	if g.queues == nil {
		g.queues = map[groupKey]*groupQueue{}
	}
	q := g.queues[key]
	if q == nil {
		q = &groupQueue{}
		g.queues[key] = q
	}
	q.waiting = append(q.waiting, p)
	if !q.leading {
		q.leading = true
		close(p.lead)
	}
	g.mu.Unlock()

	// Once queued, a post is waited for whatever the caller's context
	// does: the group may commit it, and its caller must hear so.
	select {
	case <-p.done:
		return p.err
	case <-p.lead:
	}
	g.mu.Lock()
	n := min(len(q.waiting), g.maxGroup())
	group := q.waiting[:n:n]
	q.waiting = q.waiting[n:]
	g.mu.Unlock()

	gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), groupTimeout)
	g.run(gctx, db, s, group)
	cancel()

	// Hand the lead to the first post that came meanwhile, or let go.
	g.mu.Lock()
	if len(q.waiting) > 0 {
		close(q.waiting[0].lead)
	} else {
		q.leading = false
		delete(g.queues, key)
	}
	g.mu.Unlock()
	<-p.done
	return p.err
}

func (g *GroupCommit) maxGroup() int {
	if g.MaxGroup > 0 {
		return g.MaxGroup
	}
	return 256
}

// run commits a group, and settles every post of it.
func (g *GroupCommit) run(ctx context.Context, db Beginner, s tenancy.Scope, group []*groupPost) {
	for len(group) > 1 {
		failed := -1
		err := tenancy.InTx(ctx, db, s, func(tx pgx.Tx) error {
			for i, p := range group {
				if err := p.fn(tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		switch {
		case err == nil:
			for _, p := range group {
				p.err = nil
				close(p.done)
			}
			return
		case failed < 0: // the commit failed: each alone
			for _, p := range group {
				g.alone(ctx, db, s, p)
			}
			return
		}
		// The failing post gets its answer alone; the others go again.
		g.alone(ctx, db, s, group[failed])
		group = append(group[:failed:failed], group[failed+1:]...)
	}
	if len(group) == 1 {
		g.alone(ctx, db, s, group[0])
	}
}

// alone runs one post in a transaction of its own and settles it.
func (g *GroupCommit) alone(ctx context.Context, db Beginner, s tenancy.Scope, p *groupPost) {
	defer close(p.done)
	for try := 0; ; try++ {
		p.err = tenancy.InTx(ctx, db, s, p.fn)
		var pe *pgconn.PgError
		if try < 3 && errors.As(p.err, &pe) && (pe.Code == "40001" || pe.Code == "40P01") {
			continue
		}
		return
	}
}

// groupTx is inTx through the shared GroupCommit: for Store.Post, whose
// function sets its result afresh on every run.
func groupTx[T any](ctx context.Context, s Store, sc tenancy.Scope, fn func(tx pgx.Tx) (T, error)) (T, error) {
	var out T
	err := posts.InTx(ctx, s.DB, sc, func(tx pgx.Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	if err != nil {
		var zero T
		return zero, dbError(err, "commit")
	}
	return out, nil
}
