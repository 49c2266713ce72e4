package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// entryColumns are what scanEntry reads, in its order.
const entryColumns = `e.id, coalesce(e.number, 0), to_char(e.date, 'YYYY-MM-DD'), e.description, e.reference, e.source,
	coalesce(e.source_id, '00000000-0000-0000-0000-000000000000'::uuid), e.status, coalesce(e.idempotency_key, ''),
	coalesce(e.reverses_id, '00000000-0000-0000-0000-000000000000'::uuid), coalesce(e.reversed_by_id, '00000000-0000-0000-0000-000000000000'::uuid),
	e.created_by, e.created_at, coalesce(e.approved_by, ''), e.approved_at, coalesce(e.posted_by, ''), e.posted_at,
	coalesce(e.reversed_by, ''), e.reversed_at, coalesce(e.hash, '\x'::bytea)`

func scanEntry(r pgx.Row) (Entry, error) {
	var e Entry
	err := r.Scan(&e.ID, &e.Number, &e.Date, &e.Description, &e.Reference, &e.Source, &e.SourceID, &e.Status, &e.IdempotencyKey,
		&e.ReversesID, &e.ReversedByID, &e.CreatedBy, &e.CreatedAt, &e.ApprovedBy, &e.ApprovedAt, &e.PostedBy, &e.PostedAt,
		&e.ReversedBy, &e.ReversedAt, &e.Hash)
	if err != nil {
		return e, err
	}
	e.CreatedAt = e.CreatedAt.UTC()
	for _, t := range []*time.Time{e.ApprovedAt, e.PostedAt, e.ReversedAt} {
		if t != nil {
			*t = t.UTC()
		}
	}
	return e, nil
}

// lineColumns are what scanLine reads, in its order (l: journal_lines,
// a: accounts, c: currencies).
const lineColumns = `l.line_no, l.account_id, a.code, l.amount, l.currency, c.scale, coalesce(l.rate::text, ''), l.base_amount,
	coalesce(l.contact_id, '00000000-0000-0000-0000-000000000000'::uuid), coalesce(l.tax_code, ''), l.memo,
	(SELECT bc.scale FROM ledger_settings s JOIN currencies bc ON bc.code = s.currency)`

func scanLine(r pgx.Row, dst ...any) (Line, error) {
	var l Line
	err := r.Scan(append([]any{&l.LineNo, &l.AccountID, &l.AccountCode, &l.Amount, &l.Currency, &l.Scale, &l.Rate, &l.Base,
		&l.ContactID, &l.TaxCode, &l.Memo, &l.BaseScale}, dst...)...)
	return l, err
}

// Get is one entry with its lines; ErrNotFound when the company has no
// such entry.
func Get(ctx context.Context, tx pgx.Tx, id uuid.UUID) (Entry, error) {
	es, err := getMany(ctx, tx, []uuid.UUID{id}, false)
	if err != nil {
		return Entry{}, err
	}
	if len(es) == 0 {
		return Entry{}, fmt.Errorf("entry %s: %w", id, ErrNotFound)
	}
	return es[0], nil
}

// getMany reads entries and their lines in one round trip, in the order
// of ids; with lock, the entries' rows are locked for update.
func getMany(ctx context.Context, tx pgx.Tx, ids []uuid.UUID, lock bool) ([]Entry, error) {
	q := "SELECT " + entryColumns + " FROM journal_entries e WHERE e.id = ANY($1)"
	if lock {
		q += " ORDER BY e.id FOR UPDATE"
	}
	batch := &pgx.Batch{}
	byID := map[uuid.UUID]*Entry{}
	var found []Entry
	batch.Queue(q, ids).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			e, err := scanEntry(rows)
			if err != nil {
				return err
			}
			found = append(found, e)
		}
		return rows.Err()
	})
	type idLine struct {
		entry uuid.UUID
		line  Line
	}
	var lines []idLine
	batch.Queue(`SELECT `+lineColumns+`, l.entry_id FROM journal_lines l JOIN accounts a ON a.id = l.account_id
		JOIN currencies c ON c.code = l.currency WHERE l.entry_id = ANY($1) ORDER BY l.entry_id, l.line_no`, ids).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var eid uuid.UUID
			l, err := scanLine(rows, &eid)
			if err != nil {
				return err
			}
			lines = append(lines, idLine{eid, l})
		}
		return rows.Err()
	})
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return nil, fmt.Errorf("ledger: read entries: %w", err)
	}
	for i := range found {
		byID[found[i].ID] = &found[i]
	}
	for _, il := range lines {
		if e := byID[il.entry]; e != nil {
			e.Lines = append(e.Lines, il.line)
		}
	}
	out := make([]Entry, 0, len(found))
	for _, id := range ids {
		if e := byID[id]; e != nil {
			out = append(out, *e)
		}
	}
	return out, nil
}
