package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Beginner is what AppendAlone writes through: a pool or a connection.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// AppendAlone adds e to chain in a transaction of its own, for an event
// that changes nothing else (a refused request): there is no change for
// the record to commit with.
func AppendAlone(ctx context.Context, db Beginner, chain string, e Entry) (Record, error) {
	var r Record
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var err error
		r, err = Append(ctx, tx, chain, e)
		return err
	})
	return r, err
}

// Page is one page of a chain, newest first: the records before seq
// Before (every record when Before is 0), at most Limit of them, that
// pass Filter.
type Page struct {
	Before int64
	Limit  int
	Filter Filter
}

// Filter narrows a listing; its zero value lets every record through.
// Before stays a plain position in the chain, so paging through filtered
// records is the same keyset walk as paging through all of them.
type Filter struct {
	// Actor is a user, as user/<id> or <id>: it matches records carrying
	// either, since company records name their actor by the bare id and
	// identity records and refusals by user/<id>.
	Actor string
	// Action is exact, or a prefix when it ends in a dot: "company."
	// matches company.create and company.update, never companyx.
	Action  string
	Outcome string    // exact
	From    time.Time // at >= From, when set
	Until   time.Time // at < Until, when set (exclusive, so a day is [d, d+1))
}

// List reads a page of chain, newest first, and says whether older
// records follow.
func List(ctx context.Context, q Querier, chain string, p Page) (records []Record, more bool, err error) {
	if p.Limit < 1 {
		return nil, false, errors.New("audit: list: limit must be positive")
	}
	before := p.Before
	if before <= 0 {
		before = 1 << 62
	}
	sql, args := listQuery(chain, before, p.Limit+1, p.Filter)
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, false, fmt.Errorf("audit: list %s: %w", chain, err)
	}
	records, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Record, error) {
		r := Record{Chain: chain}
		e := &r.Entry
		err := row.Scan(&r.Seq, &r.At, &e.Actor, &e.Role, &e.IP, &e.Action, &e.Resource, &e.Outcome, &r.Details)
		return r, err
	})
	if err != nil {
		return nil, false, fmt.Errorf("audit: list %s: %w", chain, err)
	}
	if len(records) > p.Limit {
		return records[:p.Limit], true, nil
	}
	return records, false, nil
}

// listQuery builds List's statement: a condition for each filter that is
// set, every value a parameter. Leaving unset filters out (rather than
// "$n IS NULL OR …") keeps each shape's plan about what it asks. Every
// shape walks the primary key (chain, seq) backwards and stops at a page:
// no other index pays for itself (measured in docs/BENCHMARKS.md, "Audit
// trail filters"; PostgreSQL did not choose an index on (chain, at) even
// for a month a year back).
func listQuery(chain string, before int64, limit int, f Filter) (string, []any) {
	args := []any{chain, before}
	where := []string{"chain = $1", "seq < $2"}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", fmt.Sprintf("$%d", len(args))))
	}
	if f.Actor != "" {
		add("(actor = ? OR actor = 'user/' || ?)", strings.TrimPrefix(f.Actor, "user/"))
	}
	if strings.HasSuffix(f.Action, ".") {
		add("starts_with(action, ?)", f.Action)
	} else if f.Action != "" {
		add("action = ?", f.Action)
	}
	if f.Outcome != "" {
		add("outcome = ?", f.Outcome)
	}
	if !f.From.IsZero() {
		add("at >= ?", f.From)
	}
	if !f.Until.IsZero() {
		add("at < ?", f.Until)
	}
	args = append(args, limit)
	return fmt.Sprintf(`SELECT seq, at, actor, role, ip, action, resource, outcome, details
		FROM audit.records WHERE %s ORDER BY seq DESC LIMIT $%d`, strings.Join(where, " AND "), len(args)), args
}

// Chains names every chain that has records.
func Chains(ctx context.Context, q Querier) ([]string, error) {
	rows, err := q.Query(ctx, "SELECT DISTINCT chain FROM audit.records")
	if err != nil {
		return nil, fmt.Errorf("audit: list chains: %w", err)
	}
	chains, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("audit: list chains: %w", err)
	}
	return chains, nil
}

// VerifyAndAdvance verifies chain against its checkpoint and, when it is
// intact, moves the checkpoint to its head. A forged checkpoint is a
// failed verification (the reason says so), not an error: it is what a
// verification exists to find.
func (c Checkpoints) VerifyAndAdvance(ctx context.Context, q Querier, chain string) (Result, error) {
	cp, err := c.Load(chain)
	if errors.Is(err, ErrCheckpointForged) {
		return Result{Reason: err.Error()}, nil
	}
	if err != nil {
		return Result{}, err
	}
	res, err := Verify(ctx, q, chain, cp)
	if err != nil || !res.OK {
		return res, err
	}
	if _, err := c.Save(ctx, q, chain); err != nil {
		return Result{}, err
	}
	return res, nil
}
