package ledger

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/money"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// MaxBatch bounds PostBatch: one transaction, all or nothing.
const MaxBatch = 1000

// Post validates in and stores it, as a draft or posted, in tx. A posted
// entry gets the next number, joins the hash chain and moves the balances
// in the same transaction. An idempotency key seen before returns the
// entry it made (replayed, nothing posted); the same key with another
// request is a RuleError idempotency_conflict.
func Post(ctx context.Context, tx pgx.Tx, in EntryInput, by tenancy.Actor) (e Entry, replayed bool, err error) {
	out, rep, err := post(ctx, tx, []EntryInput{in}, by, false)
	if err != nil {
		return Entry{}, false, err
	}
	return out[0], rep[0], nil
}

// PostBatch stores every entry or none (the caller's transaction rolls
// back on an error). A replayed key yields its first entry. A refusal
// names the entry: its field starts with entries[i]. It takes at most
// MaxBatch entries; an import of more calls it again in the same
// transaction (the generation still moves once).
func PostBatch(ctx context.Context, tx pgx.Tx, in []EntryInput, by tenancy.Actor) ([]Entry, error) {
	if len(in) > MaxBatch {
		return nil, rule(RuleTooMany, "entries", "%d entries; a batch holds at most %d", len(in), MaxBatch)
	}
	out, _, err := post(ctx, tx, in, by, true)
	return out, err
}

// books is what validation needs to know about the company.
type books struct {
	currency string
	scale    int
	lockDate *time.Time
	number   int64  // the last number posted (only when locked)
	head     []byte // the last posted entry's hash (only when locked)
	scales   map[string]int
	accounts map[string]Account
	existing map[string]existingKey // by idempotency key
	locked   bool
}

type existingKey struct {
	id   uuid.UUID
	hash []byte
}

// load reads, in one round trip, the settings (locking the row when the
// work posts or checks a key: that serialises a company's postings, which
// makes numbers gapless and the chain linear, and makes a key's lookup
// race-free), the currencies, the accounts named and the entries already
// made with the keys given.
func load(ctx context.Context, tx pgx.Tx, codes, keys []string, lock bool) (*books, error) {
	b := &books{scales: map[string]int{}, accounts: map[string]Account{}, existing: map[string]existingKey{}, locked: lock}
	batch := &pgx.Batch{}
	settings := "SELECT currency, lock_date, last_number, head_hash FROM ledger_settings"
	if lock {
		// Up by one in the transaction, however many posts it makes (a
		// setting local to the transaction remembers); report caches key
		// on it.
		settings = `UPDATE ledger_settings SET generation = generation + CASE WHEN coalesce(current_setting('vanta.ledger_generation_moved', true), '') = '' THEN 1 ELSE 0 END
			RETURNING currency, lock_date, last_number, head_hash, set_config('vanta.ledger_generation_moved', 'yes', true)`
	}
	batch.Queue(settings).QueryRow(func(r pgx.Row) error {
		if !lock {
			return r.Scan(&b.currency, &b.lockDate, &b.number, &b.head)
		}
		return r.Scan(&b.currency, &b.lockDate, &b.number, &b.head, new(string))
	})
	batch.Queue("SELECT code, scale FROM currencies").Query(func(rows pgx.Rows) error {
		var code string
		var scale int
		_, err := pgx.ForEachRow(rows, []any{&code, &scale}, func() error { b.scales[code] = scale; return nil })
		return err
	})
	batch.Queue("SELECT "+accountColumns+" FROM accounts WHERE code = ANY($1)", codes).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			a, err := scanAccount(rows)
			if err != nil {
				return err
			}
			b.accounts[a.Code] = a
		}
		return rows.Err()
	})
	if len(keys) > 0 {
		batch.Queue("SELECT idempotency_key, id, request_hash FROM journal_entries WHERE idempotency_key = ANY($1)", keys).Query(func(rows pgx.Rows) error {
			var k string
			var ex existingKey
			_, err := pgx.ForEachRow(rows, []any{&k, &ex.id, &ex.hash}, func() error { b.existing[k] = ex; return nil })
			return err
		})
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, errors.New("ledger: the company has no ledger settings (is the ledger migration applied?)")
		}
		return nil, dbError(err, "read the books")
	}
	b.scale = b.scales[b.currency]
	return b, nil
}

// pending is an entry validated and ready to insert.
type pending struct {
	entry   Entry
	reqHash []byte
	prev    []byte    // the chain's hash before this posted entry
	replay  uuid.UUID // the entry a replayed key made
	dupOf   int       // 1 + the index of the batch's first entry with this key
}

// post stores entries; in a batch, a refusal's field names its entry.
func post(ctx context.Context, tx pgx.Tx, in []EntryInput, by tenancy.Actor, batch bool) ([]Entry, []bool, error) {
	if len(in) == 0 {
		return nil, nil, nil
	}
	var codes, keys []string
	lock := false
	for _, e := range in {
		for _, l := range e.Lines {
			codes = append(codes, l.Account)
		}
		if e.IdempotencyKey != "" {
			keys = append(keys, e.IdempotencyKey)
		}
		lock = lock || e.Status == StatusPosted || e.IdempotencyKey != ""
	}
	b, err := load(ctx, tx, codes, keys, lock)
	if err != nil {
		return nil, nil, err
	}
	return postLoaded(ctx, tx, b, in, by, batch)
}

// postText is post for entries as the API carries them: the amounts are
// read at the scales the same round trip loads.
func postText(ctx context.Context, tx pgx.Tx, ts []TextEntry, by tenancy.Actor, batch bool) ([]Entry, []bool, error) {
	if len(ts) == 0 {
		return nil, nil, nil
	}
	var codes, keys []string
	lock := false
	for _, e := range ts {
		for _, l := range e.Lines {
			codes = append(codes, l.Account)
		}
		if e.IdempotencyKey != "" {
			keys = append(keys, e.IdempotencyKey)
		}
		lock = lock || e.Status == StatusPosted || e.IdempotencyKey != ""
	}
	b, err := load(ctx, tx, codes, keys, lock)
	if err != nil {
		return nil, nil, err
	}
	sc := scales{of: b.scales, base: b.currency}
	in := make([]EntryInput, len(ts))
	for i, t := range ts {
		prefix := ""
		if batch {
			prefix = fmt.Sprintf("entries[%d].", i)
		}
		if in[i], err = sc.input(t, prefix); err != nil {
			return nil, nil, err
		}
	}
	return postLoaded(ctx, tx, b, in, by, batch)
}

// postLoaded validates and stores entries against the books as loaded.
func postLoaded(ctx context.Context, tx pgx.Tx, b *books, in []EntryInput, by tenancy.Actor, batch bool) ([]Entry, []bool, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	ps := make([]pending, len(in))
	firstOfKey := map[string]int{}
	for i, e := range in {
		field := func(f string) string {
			if !batch {
				return f
			}
			return fmt.Sprintf("entries[%d].%s", i, f)
		}
		h := requestHash(e)
		if e.IdempotencyKey != "" {
			if ex, ok := b.existing[e.IdempotencyKey]; ok {
				if !slices.Equal(ex.hash, h) {
					return nil, nil, rule(RuleIdempotencyConflict, field("idempotency_key"), "key %q was used for another request", e.IdempotencyKey)
				}
				ps[i] = pending{replay: ex.id}
				continue
			}
			if j, ok := firstOfKey[e.IdempotencyKey]; ok {
				if !slices.Equal(ps[j].reqHash, h) {
					return nil, nil, rule(RuleIdempotencyConflict, field("idempotency_key"), "key %q is used by entries[%d] for another request", e.IdempotencyKey, j)
				}
				ps[i] = pending{dupOf: j + 1}
				continue
			}
			firstOfKey[e.IdempotencyKey] = i
		}
		entry, err := b.validate(e, field)
		if err != nil {
			return nil, nil, err
		}
		entry.ID = uuid.New()
		entry.CreatedBy, entry.CreatedAt = by.UserID, now
		ps[i] = pending{reqHash: h}
		if entry.Status == StatusPosted {
			b.number++
			entry.Number = b.number
			entry.PostedBy, entry.PostedAt = by.UserID, &now
			entry.Hash = entryHash(entry, b.head)
			ps[i].prev = b.head
			b.head = entry.Hash
		}
		ps[i].entry = entry
	}
	first := b.number
	for _, p := range ps {
		if p.entry.Number > 0 {
			first = min(first, p.entry.Number)
		}
	}
	if err := insert(ctx, tx, b, ps); err != nil {
		return nil, nil, err
	}
	// Every anchorEvery-th entry anchors the head in the audit chain.
	if b.number/anchorEvery > (first-1)/anchorEvery {
		if err := record(ctx, tx, by, "ledger.anchor", "ledger", nil); err != nil {
			return nil, nil, err
		}
	}
	out := make([]Entry, len(in))
	replayed := make([]bool, len(in))
	for i, p := range ps {
		switch {
		case p.replay != uuid.Nil:
			e, err := Get(ctx, tx, p.replay)
			if err != nil {
				return nil, nil, err
			}
			out[i], replayed[i] = e, true
		case p.dupOf > 0:
			// A key repeated inside the batch: its first entry.
			out[i], replayed[i] = out[p.dupOf-1], true
		default:
			out[i] = p.entry
		}
	}
	return out, replayed, nil
}

// requestHash identifies a request for its idempotency key: the same key
// with another body is a conflict, not a replay.
func requestHash(e EntryInput) []byte {
	b, _ := json.Marshal(e) // a struct of strings and numbers always marshals
	h := sha256.Sum256(b)
	return h[:]
}

// validate checks an entry as the database will, but first and with a
// message naming the field, and computes each line's company-currency
// amount.
func (b *books) validate(in EntryInput, field func(string) string) (Entry, error) {
	e := Entry{Description: in.Description, Reference: in.Reference, Source: in.Source, SourceID: in.SourceID,
		Status: in.Status, IdempotencyKey: in.IdempotencyKey, ReversesID: in.reverses}
	if e.Source == "" {
		e.Source = SourceManual
	}
	if e.Status == "" {
		e.Status = StatusDraft
	}
	if !slices.Contains(Sources, e.Source) {
		return e, rule(RuleInvalid, field("source"), "%q is not one of %v", in.Source, Sources)
	}
	if e.Status != StatusDraft && e.Status != StatusPosted {
		return e, rule(RuleInvalid, field("status"), "%q is neither draft nor posted", in.Status)
	}
	day, err := time.Parse(time.DateOnly, in.Date)
	if err != nil {
		return e, rule(RuleInvalid, field("date"), "%q is not a date like 2026-03-31", in.Date)
	}
	e.Date = day.Format(time.DateOnly)
	if len(in.Description) > 1000 || len(in.Reference) > 200 || len(in.IdempotencyKey) > 200 {
		return e, rule(RuleInvalid, field("description"), "description (1000), reference (200) or idempotency_key (200) too long")
	}
	if e.Status == StatusPosted && b.lockDate != nil && !day.After(*b.lockDate) {
		return e, rule(RulePeriodLocked, field("date"), "%s is on or before the lock date %s", e.Date, b.lockDate.Format(time.DateOnly))
	}
	if len(in.Lines) < 2 {
		return e, rule(RuleOneLine, field("lines"), "an entry needs at least 2 lines, it has %d", len(in.Lines))
	}
	if len(in.Lines) > 10000 {
		return e, rule(RuleTooMany, field("lines"), "%d lines; an entry holds at most 10000", len(in.Lines))
	}
	e.Lines = make([]Line, len(in.Lines))
	type group struct {
		sum, debit, credit int64
		exact              *big.Rat // Σ amount × rate of the lines whose base is computed
		computed           []int    // those lines
	}
	groups := map[string]*group{}
	var order []string
	for i, li := range in.Lines {
		lf := func(f string) string { return field(fmt.Sprintf("lines[%d].%s", i, f)) }
		l := Line{LineNo: i + 1, Amount: li.Amount, Currency: li.Currency, ContactID: li.ContactID, TaxCode: li.TaxCode, Memo: li.Memo}
		if l.Currency == "" {
			l.Currency = b.currency
		}
		a, ok := b.accounts[li.Account]
		switch {
		case !ok:
			return e, rule(RuleUnknownAccount, lf("account"), "no account %q in this company", li.Account)
		case !a.Active:
			return e, rule(RuleInactiveAccount, lf("account"), "account %s (%s) is inactive", a.Code, a.Name)
		case li.Amount == 0:
			return e, rule(RuleZeroAmount, lf("amount"), "a line moves money: debit > 0 or credit < 0, never 0")
		}
		scale, ok := b.scales[l.Currency]
		if !ok {
			return e, rule(RuleUnknownCurrency, lf("currency"), "%q is not a currency of this company", l.Currency)
		}
		if a.Currency != "" && a.Currency != l.Currency {
			return e, rule(RuleAccountCurrency, lf("currency"), "account %s is kept in %s, not %s", a.Code, a.Currency, l.Currency)
		}
		if len(li.Memo) > 1000 || len(li.TaxCode) > 50 {
			return e, rule(RuleInvalid, lf("memo"), "memo (1000) or tax_code (50) too long")
		}
		l.AccountID, l.AccountCode, l.Scale, l.BaseScale = a.ID, a.Code, scale, b.scale
		g := groups[l.Currency]
		if g == nil {
			g = &group{exact: new(big.Rat)}
			groups[l.Currency] = g
			order = append(order, l.Currency)
		}
		if (g.sum > 0 && l.Amount > 0 && g.sum+l.Amount < 0) || (g.sum < 0 && l.Amount < 0 && g.sum+l.Amount > 0) {
			return e, rule(RuleInvalid, lf("amount"), "amounts overflow")
		}
		g.sum += l.Amount
		if l.Amount > 0 {
			g.debit += l.Amount
		} else {
			g.credit -= l.Amount
		}
		switch {
		case l.Currency == b.currency:
			if li.Rate != "" {
				if r, err := money.ParseRate(li.Rate); err != nil || r.Cmp(big.NewRat(1, 1)) != 0 {
					return e, rule(RuleInvalid, lf("rate"), "a line in the company currency %s has no rate (or 1)", b.currency)
				}
			}
			if li.Base != nil && *li.Base != l.Amount {
				return e, rule(RuleInvalid, lf("base"), "a line in the company currency %s has base equal to its amount", b.currency)
			}
			l.Base = l.Amount
		case li.Base != nil:
			l.Base = *li.Base
			if li.Rate != "" {
				if _, err := money.ParseRate(li.Rate); err != nil {
					return e, rule(RuleInvalid, lf("rate"), "%v", err)
				}
				l.Rate = canonicalRate(li.Rate)
			}
		case li.Rate == "":
			return e, rule(RuleMissingRate, lf("rate"), "a line in %s needs a rate to %s", l.Currency, b.currency)
		default:
			r, err := money.ParseRate(li.Rate)
			if err != nil {
				return e, rule(RuleInvalid, lf("rate"), "%v", err)
			}
			l.Rate = canonicalRate(li.Rate)
			if l.Base, err = money.Convert(l.Amount, scale, r, b.scale); err != nil {
				return e, rule(RuleInvalid, lf("amount"), "%v", err)
			}
			g.exact.Add(g.exact, new(big.Rat).Mul(new(big.Rat).SetFrac(big.NewInt(l.Amount), pow10(scale)), r))
			g.computed = append(g.computed, i)
		}
		e.Lines[i] = l
	}
	var base int64
	for _, c := range order {
		g := groups[c]
		if g.sum != 0 {
			s := b.scales[c]
			return e, rule(RuleUnbalanced, field("lines"), "debits %s ≠ credits %s in %s", money.Format(g.debit, s), money.Format(g.credit, s), c)
		}
		// Each foreign line's base is rounded on its own; when the
		// lines computed from rates are worth exactly nothing together,
		// their rounded bases must be too: the residue goes to the
		// largest of them, so Σbase stays 0.
		if len(g.computed) > 0 && g.exact.Sign() == 0 {
			var residue int64
			largest := g.computed[0]
			for _, i := range g.computed {
				residue += e.Lines[i].Base
				if abs(e.Lines[i].Amount) > abs(e.Lines[largest].Amount) {
					largest = i
				}
			}
			e.Lines[largest].Base -= residue
		}
	}
	var debit, credit int64
	for _, l := range e.Lines {
		base += l.Base
		if l.Base > 0 {
			debit += l.Base
		} else {
			credit -= l.Base
		}
	}
	if base != 0 {
		return e, rule(RuleUnbalancedBase, field("lines"), "in the company currency, debits %s ≠ credits %s %s (book the difference to the conversion or fx account)",
			money.Format(debit, b.scale), money.Format(credit, b.scale), b.currency)
	}
	return e, nil
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

func pow10(n int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }

// canonicalRate is the rate as PostgreSQL's numeric prints it back, so
// that the hash computed now equals the one Verify computes from the row:
// no leading zeros, and the decimals as given.
func canonicalRate(s string) string {
	whole, frac, dotted := strings.Cut(s, ".")
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		whole = "0"
	}
	if !dotted || frac == "" {
		return whole
	}
	return whole + "." + frac
}

// insert writes the pending entries, their lines and the balances they
// move in one round trip.
func insert(ctx context.Context, tx pgx.Tx, b *books, ps []pending) error {
	var (
		eIDs, eSourceIDs, eReverses                    []uuid.UUID
		eNumbers                                       []*int64
		eDates                                         []string
		eDescs, eRefs, eSources, eStatuses, eCreatedBy []string
		eKeys, ePostedBy                               []*string
		eHashes, eReq, ePrev                           [][]byte
		eCreatedAt                                     []time.Time
		ePostedAt                                      []*time.Time
		lEntry, lAccount, lContact                     []uuid.UUID
		lNo                                            []int32
		lAmount, lBase                                 []int64
		lCurrency, lMemo, lDate                        []string
		lRate, lTax                                    []*string
		lPosted                                        []bool
	)
	daily := map[dayKey][2]int64{}
	posted := false
	for _, p := range ps {
		e := p.entry
		if p.replay != uuid.Nil || p.dupOf > 0 {
			continue
		}
		eIDs, eReverses = append(eIDs, e.ID), append(eReverses, e.ReversesID)
		eSourceIDs = append(eSourceIDs, e.SourceID)
		eDates = append(eDates, e.Date)
		eDescs, eRefs = append(eDescs, e.Description), append(eRefs, e.Reference)
		eSources, eStatuses = append(eSources, string(e.Source)), append(eStatuses, string(e.Status))
		eCreatedBy, eCreatedAt = append(eCreatedBy, e.CreatedBy), append(eCreatedAt, e.CreatedAt)
		eKeys = append(eKeys, nullable(e.IdempotencyKey))
		eReq = append(eReq, p.reqHash)
		if e.Status == StatusPosted {
			posted = true
			n := e.Number
			eNumbers = append(eNumbers, &n)
			ePostedBy, ePostedAt = append(ePostedBy, &e.CreatedBy), append(ePostedAt, e.PostedAt)
			eHashes, ePrev = append(eHashes, e.Hash), append(ePrev, p.prev)
		} else {
			eNumbers, ePostedBy, ePostedAt = append(eNumbers, nil), append(ePostedBy, nil), append(ePostedAt, nil)
			eHashes, ePrev = append(eHashes, nil), append(ePrev, nil)
		}
		for _, l := range e.Lines {
			lEntry, lNo, lAccount = append(lEntry, e.ID), append(lNo, int32(l.LineNo)), append(lAccount, l.AccountID)
			lAmount, lBase, lCurrency = append(lAmount, l.Amount), append(lBase, l.Base), append(lCurrency, l.Currency)
			lRate, lTax, lMemo = append(lRate, nullable(l.Rate)), append(lTax, nullable(l.TaxCode)), append(lMemo, l.Memo)
			lContact, lDate, lPosted = append(lContact, l.ContactID), append(lDate, e.Date), append(lPosted, e.Status == StatusPosted)
			if e.Status == StatusPosted {
				k := dayKey{l.AccountID, l.Currency, e.Date}
				v := daily[k]
				daily[k] = [2]int64{v[0] + l.Amount, v[1] + l.Base}
			}
		}
	}
	if len(eIDs) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	// The lines first: a line may not join an entry that exists as
	// posted (the database refuses it), and the entry's check at commit
	// covers them.
	batch.Queue(`INSERT INTO journal_lines (company_id, entry_id, line_no, account_id, amount, currency, rate, base_amount,
			contact_id, tax_code, memo, date, posted)
		SELECT current_setting('app.company_id')::uuid, entry_id, line_no, account_id, amount, currency, rate::numeric, base_amount,
			nullif(contact_id, '00000000-0000-0000-0000-000000000000'::uuid), tax_code, memo, date::date, posted
		FROM unnest($1::uuid[], $2::int[], $3::uuid[], $4::bigint[], $5::text[], $6::text[], $7::bigint[], $8::uuid[], $9::text[],
			$10::text[], $11::text[], $12::bool[]) AS t(entry_id, line_no, account_id, amount, currency, rate, base_amount,
			contact_id, tax_code, memo, date, posted)`,
		lEntry, lNo, lAccount, lAmount, lCurrency, lRate, lBase, lContact, lTax, lMemo, lDate, lPosted)
	batch.Queue(`INSERT INTO journal_entries (company_id, id, number, date, description, reference, source, source_id, status,
			idempotency_key, request_hash, created_by, created_at, posted_by, posted_at, prev_hash, hash, reverses_id)
		SELECT current_setting('app.company_id')::uuid, id, number, date::date, description, reference, source, nullif(source_id, '00000000-0000-0000-0000-000000000000'::uuid), status,
			idempotency_key, request_hash, created_by, created_at, posted_by, posted_at, prev_hash, hash, nullif(reverses_id, '00000000-0000-0000-0000-000000000000'::uuid)
		FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::uuid[], $8::text[],
			$9::text[], $10::bytea[], $11::text[], $12::timestamptz[], $13::text[], $14::timestamptz[], $15::bytea[], $16::bytea[], $17::uuid[])
			AS t(id, number, date, description, reference, source, source_id, status,
			idempotency_key, request_hash, created_by, created_at, posted_by, posted_at, prev_hash, hash, reverses_id)`,
		eIDs, eNumbers, eDates, eDescs, eRefs, eSources, eSourceIDs, eStatuses, eKeys, eReq, eCreatedBy, eCreatedAt, ePostedBy, ePostedAt, ePrev, eHashes, eReverses)
	if posted {
		queueBalances(batch, balanceRows(daily))
		batch.Queue("UPDATE ledger_settings SET last_number = $1, head_hash = $2", b.number, b.head)
	}
	queueCheck(batch)
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return dbError(err, "post entries")
	}
	return nil
}

// dayKey is one account and currency on one day.
type dayKey struct {
	account  uuid.UUID
	currency string
	day      string
}

// balanceRow is what one posting moves on one dayKey.
type balanceRow struct {
	dayKey
	amount, base int64
}

func balanceRows(m map[dayKey][2]int64) []balanceRow {
	out := make([]balanceRow, 0, len(m))
	for k, v := range m {
		out = append(out, balanceRow{k, v[0], v[1]})
	}
	return out
}

// queueBalances adds the upserts of account_balances and account_daily,
// in one fixed order (account, currency, day): two transactions that
// touch the same rows lock them in the same order and cannot deadlock.
func queueBalances(batch *pgx.Batch, rows []balanceRow) {
	slices.SortFunc(rows, func(a, b balanceRow) int {
		return cmp.Or(slices.Compare(a.account[:], b.account[:]), cmp.Compare(a.currency, b.currency), cmp.Compare(a.day, b.day))
	})
	var accts []uuid.UUID
	var curs, days []string
	var amts, bases []int64
	for _, r := range rows {
		accts, curs, days = append(accts, r.account), append(curs, r.currency), append(days, r.day)
		amts, bases = append(amts, r.amount), append(bases, r.base)
	}
	batch.Queue(`INSERT INTO account_balances AS b (company_id, account_id, currency, amount, base_amount)
		SELECT current_setting('app.company_id')::uuid, account_id, currency, sum(amount), sum(base_amount)
		FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::bigint[]) AS t(account_id, currency, amount, base_amount)
		GROUP BY account_id, currency ORDER BY account_id, currency
		ON CONFLICT (account_id, currency) DO UPDATE SET amount = b.amount + excluded.amount, base_amount = b.base_amount + excluded.base_amount`,
		accts, curs, amts, bases)
	batch.Queue(`INSERT INTO account_daily AS d (company_id, account_id, currency, day, amount, base_amount)
		SELECT current_setting('app.company_id')::uuid, account_id, currency, day::date, amount, base_amount
		FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::bigint[]) AS t(account_id, currency, day, amount, base_amount)
		ORDER BY account_id, currency, day
		ON CONFLICT (account_id, currency, day) DO UPDATE SET amount = d.amount + excluded.amount, base_amount = d.base_amount + excluded.base_amount`,
		accts, curs, days, amts, bases)
}

// queueCheck runs the database's deferred checks now (a draft approved,
// the lines' entries present), so that a refusal reaches the poster as
// its RuleError rather than the caller's commit, and defers them again
// for the caller's next statements.
func queueCheck(batch *pgx.Batch) {
	batch.Queue("SET CONSTRAINTS journal_entries_posted_update, journal_lines_entry IMMEDIATE")
	batch.Queue("SET CONSTRAINTS journal_entries_posted_update, journal_lines_entry DEFERRED")
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
