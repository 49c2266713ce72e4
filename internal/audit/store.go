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
	// One statement whatever the filter: an unset filter is a NULL
	// parameter that its condition lets through, so the SQL stays
	// constant and every value is a parameter.
	f := p.Filter
	actor := orNull(f.Actor)
	if actor != nil {
		*actor = strings.TrimPrefix(*actor, "user/")
	}
	exact, prefix := f.Action, ""
	if strings.HasSuffix(f.Action, ".") {
		exact, prefix = "", f.Action
	}
	rows, err := q.Query(ctx, `SELECT seq, at, actor, role, ip, action, resource, outcome, details
		FROM audit.records
		WHERE chain = $1 AND seq < $2
		  AND ($4::text IS NULL OR actor = $4 OR actor = 'user/' || $4)
		  AND ($5::text IS NULL OR action = $5)
		  AND ($6::text IS NULL OR starts_with(action, $6))
		  AND ($7::text IS NULL OR outcome = $7)
		  AND ($8::timestamptz IS NULL OR at >= $8)
		  AND ($9::timestamptz IS NULL OR at < $9)
		ORDER BY seq DESC LIMIT $3`,
		chain, before, p.Limit+1, actor, orNull(exact), orNull(prefix), orNull(f.Outcome), timeOrNull(f.From), timeOrNull(f.Until))
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

func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func timeOrNull(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
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
