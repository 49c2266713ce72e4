package ledger

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/money"
)

// Problem is one thing Verify found wrong: an entry (by id and number)
// or, with no entry, a stored balance.
type Problem struct {
	EntryID uuid.UUID
	Number  int64
	Problem string
}

// Report is what Verify found.
type Report struct {
	OK       bool
	Entries  int64 // posted entries walked
	Head     int64 // the number the books' head names
	Problems []Problem
}

// Verify walks the posted entries in posting order, recomputing each
// hash from the entry's content, lines, actors and the hash before it,
// and names the first entry that breaks the chain (changed, missing,
// inserted, reordered); it checks that the chain ends at the head the
// books keep (a newest entry deleted). Then it recomputes every balance
// from the posted lines and names each stored balance (account_balances
// and account_daily) that differs. It reads through tx and changes
// nothing.
func Verify(ctx context.Context, tx pgx.Tx) (Report, error) {
	var rep Report
	var head []byte
	if err := tx.QueryRow(ctx, "SELECT last_number, head_hash FROM ledger_settings").Scan(&rep.Head, &head); err != nil {
		return rep, fmt.Errorf("ledger: verify: settings: %w", err)
	}
	anchor, anchorHash, err := lastAnchor(ctx, tx)
	if err != nil {
		return rep, err
	}
	if err := verifyChain(ctx, tx, &rep, head, anchor, anchorHash); err != nil {
		return rep, err
	}
	if err := verifyBalances(ctx, tx, &rep); err != nil {
		return rep, err
	}
	rep.OK = len(rep.Problems) == 0
	return rep, nil
}

func verifyChain(ctx context.Context, tx pgx.Tx, rep *Report, head []byte, anchor int64, anchorHash string) error {
	// One pass over every posted line in posting order, each carrying
	// its entry; an entry without lines still comes once (LEFT JOIN).
	rows, err := tx.Query(ctx, `SELECT `+entryColumns+`, coalesce(e.prev_hash, '\x'::bytea), e.status, l.line_no IS NOT NULL,
			coalesce(l.line_no, 0), coalesce(l.account_id, '00000000-0000-0000-0000-000000000000'::uuid), coalesce(l.amount, 0),
			coalesce(l.currency, ''), coalesce(l.rate::text, ''), coalesce(l.base_amount, 0),
			coalesce(l.contact_id, '00000000-0000-0000-0000-000000000000'::uuid), coalesce(l.tax_code, ''), coalesce(l.memo, ''),
			coalesce(l.posted, true), coalesce(l.date = e.date, true)
		FROM journal_entries e LEFT JOIN journal_lines l ON l.entry_id = e.id
		WHERE e.number IS NOT NULL OR e.status = 'posted'
		ORDER BY e.number NULLS FIRST, e.id, l.line_no`)
	if err != nil {
		return fmt.Errorf("ledger: verify: read entries: %w", err)
	}
	defer rows.Close()
	prev := []byte{}
	var cur *Entry
	var curPrev []byte
	broken := false
	var lastHash []byte
	var lastNumber int64
	finish := func() {
		if cur == nil || broken {
			return
		}
		rep.Entries++
		want := lastNumber + 1
		fail := func(format string, args ...any) {
			broken = true
			rep.Problems = append(rep.Problems, Problem{EntryID: cur.ID, Number: cur.Number, Problem: fmt.Sprintf(format, args...)})
		}
		switch {
		case cur.Status != StatusPosted:
			fail("entry %d is numbered but not posted (its status was changed)", cur.Number)
		case cur.Number != want:
			if cur.Number > want {
				fail("entry %d is missing (found %d next)", want, cur.Number)
			} else {
				fail("entry number %d appears twice or out of order", cur.Number)
			}
		case !bytes.Equal(curPrev, prev):
			fail("entry %d does not link to the entry before it", cur.Number)
		case !bytes.Equal(entryHash(*cur, prev), cur.Hash):
			fail("entry %d: its content, lines or actors do not match its hash (changed after posting)", cur.Number)
		}
		if cur.Number == anchor && !broken && hex.EncodeToString(cur.Hash) != anchorHash {
			fail("entry %d differs from the head the audit chain anchored: the books were rewritten", cur.Number)
		}
		prev, lastHash, lastNumber = cur.Hash, cur.Hash, cur.Number
	}
	for rows.Next() {
		var e Entry
		var ePrev []byte
		var status string
		var hasLine, linePosted, lineDate bool
		var l Line
		if err := rows.Scan(&e.ID, &e.Number, &e.Date, &e.Description, &e.Reference, &e.Source, &e.SourceID, &e.Status, &e.IdempotencyKey,
			&e.ReversesID, &e.ReversedByID, &e.CreatedBy, &e.CreatedAt, &e.ApprovedBy, &e.ApprovedAt, &e.PostedBy, &e.PostedAt,
			&e.ReversedBy, &e.ReversedAt, &e.Hash, &ePrev, &status, &hasLine,
			&l.LineNo, &l.AccountID, &l.Amount, &l.Currency, &l.Rate, &l.Base, &l.ContactID, &l.TaxCode, &l.Memo, &linePosted, &lineDate); err != nil {
			return fmt.Errorf("ledger: verify: read entries: %w", err)
		}
		if cur == nil || cur.ID != e.ID {
			finish()
			e.Status = Status(status)
			cur, curPrev = &e, ePrev
		}
		if hasLine {
			if !linePosted || !lineDate {
				// The hash covers a line's content; its posted flag and
				// date are the entry's, checked here.
				l.Memo += "\x00 line not posted or off its entry's date"
			}
			cur.Lines = append(cur.Lines, l)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("ledger: verify: read entries: %w", err)
	}
	finish()
	if !broken {
		switch {
		case lastNumber < anchor:
			rep.Problems = append(rep.Problems, Problem{Number: lastNumber + 1,
				Problem: fmt.Sprintf("the chain ends at entry %d but the audit chain anchored entry %d: newest entries deleted", lastNumber, anchor)})
			broken = true
		case lastNumber < rep.Head:
			rep.Problems = append(rep.Problems, Problem{Number: lastNumber + 1,
				Problem: fmt.Sprintf("the chain ends at entry %d but the books' head is entry %d: newest entries deleted", lastNumber, rep.Head)})
			broken = true
		case lastNumber > rep.Head || !bytes.Equal(lastHash, head) && !(lastNumber == 0 && len(head) == 0):
			rep.Problems = append(rep.Problems, Problem{Number: lastNumber,
				Problem: fmt.Sprintf("the chain ends at entry %d, which is not the books' head (entry %d)", lastNumber, rep.Head)})
			broken = true
		}
	}
	return nil
}

// verifyBalances compares the stored balances with a recomputation from
// the posted lines, in the database (one pass over the lines each).
func verifyBalances(ctx context.Context, tx pgx.Tx, rep *Report) error {
	for _, q := range []struct{ what, sql string }{
		{"balance", `WITH r AS (SELECT account_id, currency, sum(amount)::bigint AS amount, sum(base_amount)::bigint AS base
				FROM journal_lines WHERE posted GROUP BY account_id, currency)
			SELECT coalesce(r.account_id, s.account_id), coalesce(a.code, '?'), coalesce(r.currency, s.currency), '',
				coalesce(s.amount, 0), coalesce(s.base_amount, 0), coalesce(r.amount, 0), coalesce(r.base, 0), coalesce(c.scale, 0)
			FROM r FULL JOIN account_balances s ON s.account_id = r.account_id AND s.currency = r.currency
			LEFT JOIN accounts a ON a.id = coalesce(r.account_id, s.account_id)
			LEFT JOIN currencies c ON c.code = coalesce(r.currency, s.currency)
			WHERE coalesce(s.amount, 0) <> coalesce(r.amount, 0) OR coalesce(s.base_amount, 0) <> coalesce(r.base, 0)
			ORDER BY 2, 3`},
		{"daily balance", `WITH r AS (SELECT account_id, currency, date AS day, sum(amount)::bigint AS amount, sum(base_amount)::bigint AS base
				FROM journal_lines WHERE posted GROUP BY account_id, currency, date)
			SELECT coalesce(r.account_id, s.account_id), coalesce(a.code, '?'), coalesce(r.currency, s.currency),
				to_char(coalesce(r.day, s.day), 'YYYY-MM-DD'),
				coalesce(s.amount, 0), coalesce(s.base_amount, 0), coalesce(r.amount, 0), coalesce(r.base, 0), coalesce(c.scale, 0)
			FROM r FULL JOIN account_daily s ON s.account_id = r.account_id AND s.currency = r.currency AND s.day = r.day
			LEFT JOIN accounts a ON a.id = coalesce(r.account_id, s.account_id)
			LEFT JOIN currencies c ON c.code = coalesce(r.currency, s.currency)
			WHERE coalesce(s.amount, 0) <> coalesce(r.amount, 0) OR coalesce(s.base_amount, 0) <> coalesce(r.base, 0)
			ORDER BY 2, 3, 4`},
	} {
		rows, err := tx.Query(ctx, q.sql)
		if err != nil {
			return fmt.Errorf("ledger: verify: %ss: %w", q.what, err)
		}
		var id uuid.UUID
		var code, currency, day string
		var amount, base, wantAmount, wantBase int64
		var scale int
		_, err = pgx.ForEachRow(rows, []any{&id, &code, &currency, &day, &amount, &base, &wantAmount, &wantBase, &scale}, func() error {
			on := ""
			if day != "" {
				on = " on " + day
			}
			rep.Problems = append(rep.Problems, Problem{Problem: fmt.Sprintf("%s of account %s in %s%s is %s (base %d) but its posted lines sum to %s (base %d)",
				q.what, code, currency, on, money.Format(amount, scale), base, money.Format(wantAmount, scale), wantBase)})
			return nil
		})
		if err != nil {
			return fmt.Errorf("ledger: verify: %ss: %w", q.what, err)
		}
	}
	return nil
}
