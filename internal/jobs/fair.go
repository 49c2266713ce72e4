package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Fair order between companies.
//
// River fetches available jobs by priority, then scheduled_at, then id.
// We give every document job a scheduled_at that is not a time but a tag
// on a virtual clock far in the past (fairEpoch), so every job is
// available at once and the fetch order is the tag order. The tags are
// start-time fair queueing: the queue's virtual time V is the smallest tag
// still waiting (or, with nothing waiting, the largest clock), and a
// company's next job starts at max(its clock, V), its clock moving one
// step past it. A company that enqueues 1,000 documents takes tags
// V, V+1, …, V+999; another company's single document, enqueued after,
// takes V (behind the one job of the first tagged V, by id): it runs
// after about one job. A company idle for a while gets no credit for it
// (its clock is raised to V), so it cannot starve the others in turn.
//
// A job River reschedules itself (a retry after an error, one made
// available again after a stop) gets a real time, which sorts after every
// tag: retries wait behind the backlog rather than ahead of it. The
// ceiling keeps such times out of V. Jobs a stop interrupted are put back
// at the front when the service starts again (refrontSQL).
var (
	fairEpoch   = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	fairCeiling = fairEpoch.AddDate(10, 0, 0) // 3×10^14 µs of tags: never reached
)

// fairStep is one job on the virtual clock: a microsecond, the resolution
// of timestamptz.
const fairStep = "1 microsecond"

// fairSQL moves the company's clock and returns the job's tag, in the
// enqueue's transaction. The clock row's lock serialises one company's
// enqueues; different companies do not wait for each other.
const fairSQL = `
WITH v AS (
	SELECT coalesce(
		(SELECT min(scheduled_at) FROM ` + Schema + `.river_job
		  WHERE state = 'available' AND queue = $2 AND priority = 1 AND scheduled_at < $3),
		(SELECT max(next_start) FROM vanta.job_clocks),
		$4::timestamptz) AS at
)
INSERT INTO vanta.job_clocks AS c (company_id, next_start)
SELECT $1, v.at + interval '` + fairStep + `' FROM v
ON CONFLICT (company_id) DO UPDATE
	SET next_start = greatest(c.next_start, (SELECT at FROM v)) + interval '` + fairStep + `'
RETURNING next_start - interval '` + fairStep + `'`

// fairPlace tags the job just inserted in tx with its company's turn.
// Nobody fetches it before tx commits, so changing scheduled_at after the
// insert is safe.
func fairPlace(ctx context.Context, tx pgx.Tx, company uuid.UUID, job int64) error {
	var tag time.Time
	if err := tx.QueryRow(ctx, fairSQL, company, queueName, fairCeiling, fairEpoch).Scan(&tag); err != nil {
		return fmt.Errorf("fair order: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE `+Schema+`.river_job SET scheduled_at = $2 WHERE id = $1`, job, tag); err != nil {
		return fmt.Errorf("fair order: %w", err)
	}
	return nil
}
