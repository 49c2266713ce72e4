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

// GroupCommit lets concurrent single posts of one company share a
// transaction, and so one commit (one WAL flush) and one hold of the
// company's posting lock, instead of queueing on that lock one commit at a
// time: a company's posts are serialised by the ledger_settings row
// anyway, so while one group commits, the posts that arrive wait in line
// and go together in the next group. Each post is still its own entry
// with its own number, its own answer and its own after-hook (the audit
// record); a post acknowledged to its caller is committed (the commit is
// synchronous and durable like any other).
//
// A post the ledger refuses in Go (a RuleError before any write) is
// answered alone and the group goes on. A failure the database raises
// (a deferred rule at commit, a lost connection) aborts the group; its
// posts are then retried one transaction each, so that one bad entry
// never fails another's.
//
// The zero value is ready; one GroupCommit serves every company.
type GroupCommit struct {
	// MaxGroup bounds the posts of one transaction (0: 256).
	MaxGroup int

	mu     sync.Mutex
	queues map[uuid.UUID]*groupQueue
}

type groupQueue struct {
	waiting []*groupPost
	leading bool // a post of this company is running a group
}

type groupPost struct {
	in    EntryInput
	by    tenancy.Actor
	after func(pgx.Tx, Entry, bool) error
	lead  chan struct{} // closed when this post is to run the next group
	done  chan struct{} // closed when its result is set
	entry Entry
	rep   bool
	err   error
}

// Beginner opens transactions (a pgxpool.Pool).
type Beginner interface {
	BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error)
}

// groupTimeout bounds one group's transaction: it runs for many callers,
// so no single caller's context may cancel it.
const groupTimeout = 30 * time.Second

// Post posts in for s's company as Post does, in a transaction it may
// share with concurrent posts of the same company; after (may be nil)
// runs in that transaction right after the entry is stored, for the
// records that must commit with it.
func (g *GroupCommit) Post(ctx context.Context, db Beginner, s tenancy.Scope, in EntryInput, by tenancy.Actor,
	after func(tx pgx.Tx, e Entry, replayed bool) error) (Entry, bool, error) {
	p := &groupPost{in: in, by: by, after: after, lead: make(chan struct{}), done: make(chan struct{})}
	g.mu.Lock()
	if g.queues == nil {
		g.queues = map[uuid.UUID]*groupQueue{}
	}
	q := g.queues[s.Company()]
	if q == nil {
		q = &groupQueue{}
		g.queues[s.Company()] = q
	}
	q.waiting = append(q.waiting, p)
	if !q.leading {
		q.leading = true
		close(p.lead)
	}
	g.mu.Unlock()

	// Once queued, a post is waited for whatever the caller's context
	// does: it may be committed by the group, and its caller must hear so.
	select {
	case <-p.done:
		return p.entry, p.rep, p.err
	case <-p.lead:
	}
	g.mu.Lock()
	n := len(q.waiting)
	if max := g.maxGroup(); n > max {
		n = max
	}
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
		delete(g.queues, s.Company())
	}
	g.mu.Unlock()
	<-p.done
	return p.entry, p.rep, p.err
}

func (g *GroupCommit) maxGroup() int {
	if g.MaxGroup > 0 {
		return g.MaxGroup
	}
	return 256
}

// errGroupAborted stops a group's transaction when a post failed in a way
// that may have left it unusable.
var errGroupAborted = errors.New("ledger: group aborted")

// run posts a group in one transaction, or, if that fails, each post in a
// transaction of its own.
func (g *GroupCommit) run(ctx context.Context, db Beginner, s tenancy.Scope, group []*groupPost) {
	defer func() {
		for _, p := range group {
			close(p.done)
		}
	}()
	err := tenancy.InTx(ctx, db, s, func(tx pgx.Tx) error {
		for _, p := range group {
			p.entry, p.rep, p.err = Post(ctx, tx, p.in, p.by)
			if p.err == nil && p.after != nil {
				p.err = p.after(tx, p.entry, p.rep)
			}
			var re *RuleError
			if p.err != nil && (!errors.As(p.err, &re) || tx.Conn().PgConn().TxStatus() != 'T') {
				return errGroupAborted
			}
		}
		return nil
	})
	if err == nil {
		return
	}
	if len(group) == 1 && !errors.Is(err, errGroupAborted) {
		group[0].err = err
		return
	}
	for _, p := range group {
		for try := 0; ; try++ {
			p.entry, p.rep = Entry{}, false
			p.err = tenancy.InTx(ctx, db, s, func(tx pgx.Tx) error {
				var err error
				p.entry, p.rep, err = Post(ctx, tx, p.in, p.by)
				if err == nil && p.after != nil {
					err = p.after(tx, p.entry, p.rep)
				}
				return err
			})
			// A deadlock or serialisation failure is the server's to
			// retry, never the caller's to see.
			var pe *pgconn.PgError
			if try < 3 && errors.As(p.err, &pe) && (pe.Code == "40001" || pe.Code == "40P01") {
				continue
			}
			break
		}
	}
}
