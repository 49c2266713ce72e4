package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/audit"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// record appends a ledger write to the company's audit chain in tx, so the
// record commits with the change. Every record also carries the books'
// head (the newest posted entry's number and hash): the audit chain is
// checkpointed outside the database, so the head it anchors cannot be cut
// back unseen (Verify compares). The chain lives in the audit schema,
// which the runtime role may append to and the company's role may not:
// the transaction steps back to the session's role for the append and
// returns to the company's role after it, both local to the transaction.
// Postings are not recorded one by one: each entry carries its actors and
// is chained itself, and every anchorEvery-th is anchored here.
func record(ctx context.Context, tx pgx.Tx, by tenancy.Actor, action, resource string, details map[string]any) error {
	var company, role, head string
	var number int64
	if err := tx.QueryRow(ctx, "SELECT current_setting('app.company_id'), current_user::text, last_number, encode(head_hash, 'hex') FROM ledger_settings").
		Scan(&company, &role, &number, &head); err != nil {
		return fmt.Errorf("ledger: audit %s: %w", action, err)
	}
	if details == nil {
		details = map[string]any{}
	}
	details["ledger_head"], details["ledger_hash"] = number, head
	if _, err := tx.Exec(ctx, "SELECT set_config('role', session_user, true)"); err != nil {
		return fmt.Errorf("ledger: audit %s: %w", action, err)
	}
	if _, err := audit.Append(ctx, tx, company, audit.Entry{Actor: by.UserID, Role: by.Role, IP: by.IP, Action: action,
		Resource: resource, Outcome: "ok", Details: details}); err != nil {
		return fmt.Errorf("ledger: audit %s: %w", action, err)
	}
	if _, err := tx.Exec(ctx, "SELECT set_config('role', $1, true)", role); err != nil {
		return fmt.Errorf("ledger: audit %s: back to the company: %w", action, err)
	}
	return nil
}

// anchorEvery is how often postings anchor the books' head in the audit
// chain: every hundredth entry costs one audit append, the others none.
const anchorEvery = 100

// lastAnchor is the newest head anchored in the company's audit chain
// (number 0 when none), read as the session's role like record writes.
func lastAnchor(ctx context.Context, tx pgx.Tx) (number int64, hash string, err error) {
	var company, role string
	if err := tx.QueryRow(ctx, "SELECT current_setting('app.company_id'), current_user::text, set_config('role', session_user, true)").
		Scan(&company, &role, new(string)); err != nil {
		return 0, "", fmt.Errorf("ledger: read the anchor: %w", err)
	}
	err = tx.QueryRow(ctx, `SELECT (details::jsonb->>'ledger_head')::bigint, details::jsonb->>'ledger_hash' FROM audit.records
		WHERE chain = $1 AND details::jsonb ? 'ledger_head' ORDER BY seq DESC LIMIT 1`, company).Scan(&number, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		number, hash, err = 0, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("ledger: read the anchor: %w", err)
	}
	if _, err := tx.Exec(ctx, "SELECT set_config('role', $1, true)", role); err != nil {
		return 0, "", fmt.Errorf("ledger: read the anchor: back to the company: %w", err)
	}
	return number, hash, nil
}

// lockEntry reads an entry and its lines, its row locked until the end of
// the transaction.
func lockEntry(ctx context.Context, tx pgx.Tx, id uuid.UUID) (Entry, error) {
	es, err := getMany(ctx, tx, []uuid.UUID{id}, true)
	if err != nil {
		return Entry{}, err
	}
	if len(es) == 0 {
		return Entry{}, fmt.Errorf("entry %s: %w", id, ErrNotFound)
	}
	return es[0], nil
}

// inputOf is a stored entry as the input that would make it again.
func inputOf(e Entry) EntryInput {
	in := EntryInput{Date: e.Date, Description: e.Description, Reference: e.Reference, IdempotencyKey: e.IdempotencyKey,
		Source: e.Source, SourceID: e.SourceID, Status: e.Status, reverses: e.ReversesID}
	for _, l := range e.Lines {
		base := l.Base
		in.Lines = append(in.Lines, LineInput{Account: l.AccountCode, Amount: l.Amount, Currency: l.Currency, Rate: l.Rate,
			Base: &base, ContactID: l.ContactID, TaxCode: l.TaxCode, Memo: l.Memo})
	}
	return in
}

func codesOf(in EntryInput) []string {
	out := make([]string, len(in.Lines))
	for i, l := range in.Lines {
		out[i] = l.Account
	}
	return out
}

// Approve posts a draft: it is checked again as it stands (an account may
// have been deactivated, the period locked), numbered, chained, and moves
// the balances; the approver is recorded as approver and poster.
func Approve(ctx context.Context, tx pgx.Tx, id uuid.UUID, by tenancy.Actor) (Entry, error) {
	cur, err := lockEntry(ctx, tx, id)
	if err != nil {
		return Entry{}, err
	}
	if cur.Status != StatusDraft {
		return Entry{}, rule(RuleNotDraft, "id", "entry %s is posted already", id)
	}
	in := inputOf(cur)
	in.Status = StatusPosted
	b, err := load(ctx, tx, codesOf(in), nil, true)
	if err != nil {
		return Entry{}, err
	}
	e, err := b.validate(in, func(f string) string { return f })
	if err != nil {
		return Entry{}, err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	e.ID, e.CreatedBy, e.CreatedAt = cur.ID, cur.CreatedBy, cur.CreatedAt
	e.ApprovedBy, e.ApprovedAt, e.PostedBy, e.PostedAt = by.UserID, &now, by.UserID, &now
	b.number++
	e.Number = b.number
	prev := b.head
	e.Hash = entryHash(e, prev)
	b.head = e.Hash
	daily := map[dayKey][2]int64{}
	for _, l := range e.Lines {
		k := dayKey{l.AccountID, l.Currency, e.Date}
		v := daily[k]
		daily[k] = [2]int64{v[0] + l.Amount, v[1] + l.Base}
	}
	batch := &pgx.Batch{}
	// The entry first: its lines may be posted only once it is.
	batch.Queue(`UPDATE journal_entries SET status = 'posted', number = $2, approved_by = $3, approved_at = $4, posted_by = $3,
		posted_at = $4, prev_hash = $5, hash = $6 WHERE id = $1`, id, e.Number, by.UserID, now, prev, e.Hash)
	batch.Queue("UPDATE journal_lines SET posted = true WHERE entry_id = $1", id)
	queueBalances(batch, balanceRows(daily))
	batch.Queue("UPDATE ledger_settings SET last_number = $1, head_hash = $2", b.number, b.head)
	queueCheck(batch)
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return Entry{}, dbError(err, "approve entry")
	}
	if err := record(ctx, tx, by, "ledger.entry.approve", "journal-entry/"+id.String(), map[string]any{"number": e.Number}); err != nil {
		return Entry{}, err
	}
	e.Status = StatusPosted
	return e, nil
}

// Reverse posts the mirror of a posted entry on date (the original's date
// when empty), linked both ways; an entry is reversed once.
func Reverse(ctx context.Context, tx pgx.Tx, id uuid.UUID, date, description string, by tenancy.Actor) (Entry, error) {
	cur, err := lockEntry(ctx, tx, id)
	if err != nil {
		return Entry{}, err
	}
	switch {
	case cur.Status != StatusPosted:
		return Entry{}, rule(RuleNotPosted, "id", "entry %s is a draft: delete it instead", id)
	case cur.ReversedByID != uuid.Nil:
		return Entry{}, rule(RuleAlreadyReversed, "id", "entry %s was reversed by %s", id, cur.ReversedByID)
	}
	in := inputOf(cur)
	in.IdempotencyKey, in.Source, in.SourceID, in.reverses = "", SourceReversal, cur.ID, cur.ID
	if date != "" {
		in.Date = date
	}
	in.Description = description
	if in.Description == "" {
		in.Description = fmt.Sprintf("Reversal of #%d %s", cur.Number, cur.Description)
	}
	in.Status = StatusPosted
	for i := range in.Lines {
		l := &in.Lines[i]
		l.Amount = -l.Amount
		*l.Base = -*l.Base
	}
	rev, _, err := Post(ctx, tx, in, by)
	if err != nil {
		return Entry{}, err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	if _, err := tx.Exec(ctx, "UPDATE journal_entries SET reversed_by_id = $2, reversed_by = $3, reversed_at = $4 WHERE id = $1",
		id, rev.ID, by.UserID, now); err != nil {
		return Entry{}, dbError(err, "link the reversal")
	}
	if err := record(ctx, tx, by, "ledger.entry.reverse", "journal-entry/"+id.String(),
		map[string]any{"number": cur.Number, "reversed_by": rev.ID.String(), "reversal_number": rev.Number}); err != nil {
		return Entry{}, err
	}
	return rev, nil
}

// UpdateDraft replaces a draft's date, texts and lines with in (its key and
// status stay); a posted entry is RuleError not_draft.
func UpdateDraft(ctx context.Context, tx pgx.Tx, id uuid.UUID, in EntryInput, by tenancy.Actor) (Entry, error) {
	cur, err := lockEntry(ctx, tx, id)
	if err != nil {
		return Entry{}, err
	}
	if cur.Status != StatusDraft {
		return Entry{}, rule(RuleNotDraft, "id", "entry %s is posted: reverse it instead", id)
	}
	in.Status, in.IdempotencyKey = StatusDraft, cur.IdempotencyKey
	b, err := load(ctx, tx, codesOf(in), nil, false)
	if err != nil {
		return Entry{}, err
	}
	e, err := b.validate(in, func(f string) string { return f })
	if err != nil {
		return Entry{}, err
	}
	e.ID, e.CreatedBy, e.CreatedAt = cur.ID, cur.CreatedBy, cur.CreatedAt
	batch := &pgx.Batch{}
	batch.Queue("DELETE FROM journal_lines WHERE entry_id = $1", id)
	batch.Queue(`UPDATE journal_entries SET date = $2, description = $3, reference = $4, source = $5,
		source_id = nullif($6, '00000000-0000-0000-0000-000000000000'::uuid) WHERE id = $1`,
		id, e.Date, e.Description, e.Reference, string(e.Source), e.SourceID)
	for _, l := range e.Lines {
		batch.Queue(`INSERT INTO journal_lines (company_id, entry_id, line_no, account_id, amount, currency, rate, base_amount,
			contact_id, tax_code, memo, date, posted)
			VALUES (current_setting('app.company_id')::uuid, $1, $2, $3, $4, $5, $6::numeric, $7,
			nullif($8, '00000000-0000-0000-0000-000000000000'::uuid), $9, $10, $11::date, false)`,
			id, l.LineNo, l.AccountID, l.Amount, l.Currency, nullable(l.Rate), l.Base, l.ContactID, nullable(l.TaxCode), l.Memo, e.Date)
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return Entry{}, dbError(err, "update draft")
	}
	if err := record(ctx, tx, by, "ledger.entry.update", "journal-entry/"+id.String(), nil); err != nil {
		return Entry{}, err
	}
	return Get(ctx, tx, id)
}

// DeleteDraft deletes a draft and its lines; a posted entry is RuleError
// not_draft.
func DeleteDraft(ctx context.Context, tx pgx.Tx, id uuid.UUID, by tenancy.Actor) error {
	cur, err := lockEntry(ctx, tx, id)
	if err != nil {
		return err
	}
	if cur.Status != StatusDraft {
		return rule(RuleNotDraft, "id", "entry %s is posted: reverse it instead", id)
	}
	if _, err := tx.Exec(ctx, "DELETE FROM journal_entries WHERE id = $1", id); err != nil {
		return dbError(err, "delete draft")
	}
	return record(ctx, tx, by, "ledger.entry.delete", "journal-entry/"+id.String(), nil)
}

// LockDate is the period lock: nothing is posted on or before it (nil:
// no lock).
func LockDate(ctx context.Context, tx pgx.Tx) (*time.Time, error) {
	var d *time.Time
	if err := tx.QueryRow(ctx, "SELECT lock_date FROM ledger_settings").Scan(&d); err != nil {
		return nil, fmt.Errorf("ledger: lock date: %w", err)
	}
	return d, nil
}

// SetLockDate moves the period lock (nil lifts it).
func SetLockDate(ctx context.Context, tx pgx.Tx, d *time.Time, by tenancy.Actor) error {
	if _, err := tx.Exec(ctx, "UPDATE ledger_settings SET lock_date = $1", d); err != nil {
		return dbError(err, "set the lock date")
	}
	var v any
	if d != nil {
		v = d.Format(time.DateOnly)
	}
	return record(ctx, tx, by, "ledger.period_lock", "period-lock", map[string]any{"lock_date": v})
}

// ListAccounts lists the chart by code: at most limit accounts after the
// code after, and whether there are more.
func ListAccounts(ctx context.Context, tx pgx.Tx, after string, limit int) ([]Account, bool, error) {
	rows, err := tx.Query(ctx, "SELECT "+accountColumns+" FROM accounts WHERE code > $1 ORDER BY code LIMIT $2", after, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("ledger: list accounts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Account, error) { return scanAccount(r) })
	if err != nil {
		return nil, false, fmt.Errorf("ledger: list accounts: %w", err)
	}
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

// AccountByID is one account; ErrNotFound when the company has none.
func AccountByID(ctx context.Context, tx pgx.Tx, id uuid.UUID) (Account, error) {
	a, err := scanAccount(tx.QueryRow(ctx, "SELECT "+accountColumns+" FROM accounts WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Account{}, fmt.Errorf("account %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Account{}, fmt.Errorf("ledger: account %s: %w", id, err)
	}
	return a, nil
}

// CreateAccount adds an account to the chart; a code taken is RuleError
// duplicate_code.
func CreateAccount(ctx context.Context, tx pgx.Tx, a Account, by tenancy.Actor) (Account, error) {
	if err := checkAccount(a); err != nil {
		return Account{}, err
	}
	if a.Currency != "" {
		var ok bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM currencies WHERE code = $1)", a.Currency).Scan(&ok); err != nil {
			return Account{}, fmt.Errorf("ledger: create account: %w", err)
		}
		if !ok {
			return Account{}, rule(RuleUnknownCurrency, "currency", "%q is not a currency of this company", a.Currency)
		}
	}
	var created Account
	err := func() error {
		var err error
		created, err = scanAccount(tx.QueryRow(ctx, `INSERT INTO accounts (company_id, code, name, type, parent_id, currency, active, role)
			VALUES (current_setting('app.company_id')::uuid, $1, $2, $3, $4, $5, true, $6)
			ON CONFLICT (company_id, code) DO NOTHING RETURNING `+accountColumns,
			a.Code, a.Name, a.Type, nullableID(a.ParentID), nullable(a.Currency), nullable(a.Role)))
		return err
	}()
	if errors.Is(err, pgx.ErrNoRows) {
		return Account{}, rule(RuleDuplicateCode, "code", "account %s exists", a.Code)
	}
	if err != nil {
		return Account{}, dbError(err, "create account")
	}
	if err := record(ctx, tx, by, "ledger.account.create", "account/"+created.ID.String(), map[string]any{"code": a.Code}); err != nil {
		return Account{}, err
	}
	return created, nil
}

// AccountPatch changes an account; nil fields are kept. Parent uuid.Nil
// inside a non-nil pointer makes it top-level.
type AccountPatch struct {
	Name   *string
	Parent *uuid.UUID
	Active *bool
}

// UpdateAccount renames, moves, deactivates or reactivates an account.
// An account with postings is deactivated, never deleted.
func UpdateAccount(ctx context.Context, tx pgx.Tx, id uuid.UUID, p AccountPatch, by tenancy.Actor) (Account, error) {
	a, err := AccountByID(ctx, tx, id)
	if err != nil {
		return Account{}, err
	}
	details := map[string]any{}
	if p.Name != nil {
		a.Name, details["name"] = *p.Name, *p.Name
	}
	if p.Active != nil {
		a.Active, details["active"] = *p.Active, *p.Active
	}
	if p.Parent != nil {
		if *p.Parent == id {
			return Account{}, rule(RuleInvalid, "parent", "an account is not its own parent")
		}
		a.ParentID, details["parent"] = *p.Parent, p.Parent.String()
	}
	if err := checkAccount(a); err != nil {
		return Account{}, err
	}
	a, err = scanAccount(tx.QueryRow(ctx, `UPDATE accounts SET name = $2, active = $3, parent_id = $4 WHERE id = $1 RETURNING `+accountColumns,
		id, a.Name, a.Active, nullableID(a.ParentID)))
	if err != nil {
		return Account{}, dbError(err, "update account")
	}
	if err := record(ctx, tx, by, "ledger.account.update", "account/"+id.String(), details); err != nil {
		return Account{}, err
	}
	return a, nil
}

// DeleteAccount deletes an account nothing refers to; one with lines
// (drafts too), balances or children is RuleError account_in_use.
func DeleteAccount(ctx context.Context, tx pgx.Tx, id uuid.UUID, by tenancy.Actor) error {
	a, err := AccountByID(ctx, tx, id)
	if err != nil {
		return err
	}
	var used bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM journal_lines WHERE account_id = $1)
		OR EXISTS (SELECT 1 FROM account_balances WHERE account_id = $1) OR EXISTS (SELECT 1 FROM accounts WHERE parent_id = $1)`, id).Scan(&used); err != nil {
		return fmt.Errorf("ledger: delete account: %w", err)
	}
	if used {
		return rule(RuleAccountInUse, "id", "account %s has lines or sub-accounts: deactivate it instead", a.Code)
	}
	if _, err := tx.Exec(ctx, "DELETE FROM accounts WHERE id = $1", id); err != nil {
		return dbError(err, "delete account")
	}
	return record(ctx, tx, by, "ledger.account.delete", "account/"+id.String(), map[string]any{"code": a.Code})
}

// EntryQuery filters a listing of entries; its zero value lists them all.
type EntryQuery struct {
	Status   Status
	From, To string // dates, inclusive
	Account  string // code: entries with a line on it
	Source   Source
	After    string // the cursor: the last entry's id of the page before
	Limit    int
}

// ListEntries lists entries with their lines by date and id.
func ListEntries(ctx context.Context, tx pgx.Tx, q EntryQuery) ([]Entry, bool, error) {
	var after *uuid.UUID
	if q.After != "" {
		id, err := uuid.Parse(q.After)
		if err != nil {
			return nil, false, rule(RuleInvalid, "cursor", "not a cursor of this listing")
		}
		after = &id
	}
	rows, err := tx.Query(ctx, `SELECT e.id FROM journal_entries e
		WHERE ($1 = '' OR e.status = $1) AND ($2 = '' OR e.date >= nullif($2, '')::date) AND ($3 = '' OR e.date <= nullif($3, '')::date)
			AND ($4 = '' OR EXISTS (SELECT 1 FROM journal_lines l JOIN accounts a ON a.id = l.account_id WHERE l.entry_id = e.id AND a.code = $4))
			AND ($5 = '' OR e.source = $5)
			AND ($6::uuid IS NULL OR (e.date, e.id) > (SELECT date, id FROM journal_entries WHERE id = $6))
		ORDER BY e.date, e.id LIMIT $7`, string(q.Status), q.From, q.To, q.Account, string(q.Source), after, q.Limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("ledger: list entries: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, false, fmt.Errorf("ledger: list entries: %w", err)
	}
	more := len(ids) > q.Limit
	if more {
		ids = ids[:q.Limit]
	}
	if len(ids) == 0 {
		return []Entry{}, false, nil
	}
	es, err := getMany(ctx, tx, ids, false)
	return es, more, err
}
