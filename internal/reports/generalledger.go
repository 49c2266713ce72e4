package reports

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// GeneralLedger is one account's posted lines over a period, with the
// balance before, after each line, and at the end: all in the company
// currency, debits less credits. A period with more lines than the page
// limit comes in pages: NextCursor asks for the next; each page's running
// balance carries on from the one before, and Closing is the period's.
type GeneralLedger struct {
	Account         GLAccount `json:"account"`
	From            string    `json:"from"`
	To              string    `json:"to"`
	Currency        string    `json:"currency"`
	Opening         string    `json:"opening_balance"`
	OpeningBalances []Amount  `json:"opening_balances"` // natively, per currency
	Lines           []GLLine  `json:"lines"`
	Closing         string    `json:"closing_balance"`
	ClosingBalances []Amount  `json:"closing_balances"`
	NextCursor      string    `json:"next_cursor"` // "" on the last page
}

// GLAccount names the account a general ledger is of.
type GLAccount struct {
	Code string `json:"code"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// GLLine is one posted line. Debit, Credit and Balance are in the company
// currency; Amount and Currency are the line's own (Rate when foreign).
type GLLine struct {
	EntryID     uuid.UUID `json:"entry_id"`
	Number      int64     `json:"number"`
	Date        string    `json:"date"`
	Description string    `json:"description"`
	Reference   string    `json:"reference"`
	Memo        string    `json:"memo"`
	Debit       string    `json:"debit"`
	Credit      string    `json:"credit"`
	Balance     string    `json:"balance"`
	Currency    string    `json:"currency"`
	Amount      string    `json:"amount"`
	Rate        string    `json:"rate"`
}

// glCursor is the last line of a page: lines come in (date, entry
// number, line number) order.
type glCursor struct {
	date   time.Time
	number int64
	lineNo int
}

func (c glCursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.date.Format(dateLayout) + "|" +
		strconv.FormatInt(c.number, 10) + "|" + strconv.Itoa(c.lineNo)))
}

func decodeCursor(s string) (glCursor, error) {
	bad := paramError("cursor", "not a cursor this report gave")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return glCursor{}, bad
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 3 {
		return glCursor{}, bad
	}
	var c glCursor
	if c.date, err = time.Parse(dateLayout, parts[0]); err != nil {
		return glCursor{}, bad
	}
	if c.number, err = strconv.ParseInt(parts[1], 10, 64); err != nil {
		return glCursor{}, bad
	}
	if c.lineNo, err = strconv.Atoi(parts[2]); err != nil {
		return glCursor{}, bad
	}
	return c, nil
}

// GeneralLedgerReport is the general ledger as a report Func: account,
// from, to, limit, cursor.
func GeneralLedgerReport(ctx context.Context, tx pgx.Tx, p Params) (any, Table, error) {
	gl, err := BuildGeneralLedger(ctx, tx, p)
	if err != nil {
		return nil, Table{}, err
	}
	return gl, gl.Table(), nil
}

// BuildGeneralLedger reads the account's lines by its (account, date)
// index, one page at a time; the opening and closing balances come from
// account_daily, so neither depends on how many lines came before.
func BuildGeneralLedger(ctx context.Context, tx pgx.Tx, p Params) (GeneralLedger, error) {
	if p.Account == "" {
		return GeneralLedger{}, paramError("account", "required: the code of the account")
	}
	b, err := loadBooks(ctx, tx)
	if err != nil {
		return GeneralLedger{}, err
	}
	var acct account
	found := false
	for _, a := range b.accounts {
		if a.code == p.Account {
			acct, found = a, true
			break
		}
	}
	if !found {
		return GeneralLedger{}, paramError("account", "no account with code %q", p.Account)
	}
	gl := GeneralLedger{
		Account: GLAccount{Code: acct.code, Name: acct.name, Type: acct.typ},
		From:    p.From.Format(dateLayout), To: p.To.Format(dateLayout), Currency: b.currency,
		Lines: []GLLine{},
	}
	opening, openingNative, err := accountSum(ctx, tx, acct.id, p.From.AddDate(0, 0, -1))
	if err != nil {
		return GeneralLedger{}, err
	}
	closing, closingNative, err := accountSum(ctx, tx, acct.id, p.To)
	if err != nil {
		return GeneralLedger{}, err
	}
	gl.Opening, gl.OpeningBalances = b.base(opening), b.amounts(openingNative)
	gl.Closing, gl.ClosingBalances = b.base(closing), b.amounts(closingNative)

	running := opening
	var skip int64                                          // lines of the cursor's day up to the cursor
	after := glCursor{date: p.From, number: -1, lineNo: -1} // before every line of the first day
	if p.Cursor != "" {
		c, err := decodeCursor(p.Cursor)
		if err != nil {
			return GeneralLedger{}, err
		}
		if c.date.Before(p.From) || c.date.After(p.To) {
			return GeneralLedger{}, paramError("cursor", "not a cursor of this period")
		}
		// The balance after the cursor's line: every day before its
		// day from account_daily, then that day's lines up to it.
		before, _, err := accountSum(ctx, tx, acct.id, c.date.AddDate(0, 0, -1))
		if err != nil {
			return GeneralLedger{}, err
		}
		var sameDay int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(l.base_amount), 0)::bigint, count(*)
			FROM journal_lines l
			CROSS JOIN LATERAL (SELECT number FROM journal_entries WHERE id = l.entry_id OFFSET 0) e
			WHERE l.account_id = $1 AND l.date = $2 AND l.posted AND (e.number, l.line_no) <= ($3, $4)`,
			acct.id, c.date, c.number, c.lineNo).Scan(&sameDay, &skip); err != nil {
			return GeneralLedger{}, fmt.Errorf("general ledger: balance at cursor: %w", err)
		}
		running, after = before+sameDay, c
	}
	// Lines are ordered by entry number within a day, which lives on the
	// entry: a period's lines would all be joined to their entries before
	// the sort could stop at the page. The last day the page can reach is
	// found first, from the (account, date) index alone: the date of the
	// line limit+1 places after the cursor. Past it nothing is read. Each
	// line then finds its entry by primary key: a plain join lets the
	// planner hash every entry of the company (a sequential scan of all
	// of them) for a page of a thousand lines; the OFFSET 0 keeps the
	// lateral lookup from being flattened into that join.
	through := p.To
	var reach time.Time
	err = tx.QueryRow(ctx, `SELECT date FROM journal_lines
		WHERE account_id = $1 AND posted AND date >= $2 AND date <= $3
		ORDER BY date OFFSET $4 LIMIT 1`, acct.id, after.date, p.To, skip+int64(p.Limit)).Scan(&reach)
	switch {
	case err == nil:
		through = reach
	case !errors.Is(err, pgx.ErrNoRows):
		return GeneralLedger{}, fmt.Errorf("general ledger: page end: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT e.id, e.number, l.date, e.description, coalesce(e.reference, ''), coalesce(l.memo, ''),
			l.amount, l.currency, coalesce(l.rate::text, ''), l.base_amount, l.line_no
		FROM journal_lines l
		CROSS JOIN LATERAL (SELECT id, number, description, reference FROM journal_entries
		                    WHERE id = l.entry_id OFFSET 0) e
		WHERE l.account_id = $1 AND l.posted AND l.date >= $2::date AND l.date <= $3
		  AND (l.date, e.number, l.line_no) > ($2::date, $4::bigint, $5::int)
		ORDER BY l.date, e.number, l.line_no
		LIMIT $6`, acct.id, after.date, through, after.number, after.lineNo, p.Limit+1)
	if err != nil {
		return GeneralLedger{}, fmt.Errorf("general ledger: read lines: %w", err)
	}
	var (
		ln                 GLLine
		date               time.Time
		amount, baseAmount int64
		lineNo             int
		last               glCursor
	)
	n := 0
	_, err = pgx.ForEachRow(rows, []any{&ln.EntryID, &ln.Number, &date, &ln.Description, &ln.Reference, &ln.Memo,
		&amount, &ln.Currency, &ln.Rate, &baseAmount, &lineNo}, func() error {
		n++
		if n > p.Limit {
			gl.NextCursor = last.encode()
			return nil
		}
		running += baseAmount
		ln.Date = date.Format(dateLayout)
		ln.Debit, ln.Credit = b.base(0), b.base(0)
		if baseAmount > 0 {
			ln.Debit = b.base(baseAmount)
		} else {
			ln.Credit = b.base(-baseAmount)
		}
		ln.Amount = b.native(amount, ln.Currency)
		ln.Balance = b.base(running)
		gl.Lines = append(gl.Lines, ln)
		last = glCursor{date: date, number: ln.Number, lineNo: lineNo}
		return nil
	})
	if err != nil {
		return GeneralLedger{}, fmt.Errorf("general ledger: read lines: %w", err)
	}
	return gl, nil
}

// accountSum is an account's posted total up to and including a day, in
// the company currency and per currency.
func accountSum(ctx context.Context, tx pgx.Tx, id uuid.UUID, through time.Time) (int64, []sum, error) {
	rows, err := tx.Query(ctx, `SELECT currency, sum(amount)::bigint, sum(base_amount)::bigint
		FROM account_daily WHERE account_id = $1 AND day <= $2 GROUP BY currency ORDER BY currency`, id, through)
	if err != nil {
		return 0, nil, fmt.Errorf("account balance: %w", err)
	}
	var out []sum
	var total int64
	s := sum{account: id}
	if _, err := pgx.ForEachRow(rows, []any{&s.currency, &s.amount, &s.base}, func() error {
		out = append(out, s)
		total += s.base
		return nil
	}); err != nil {
		return 0, nil, fmt.Errorf("account balance: %w", err)
	}
	return total, out, nil
}

func (b *books) amounts(ss []sum) []Amount {
	out := make([]Amount, 0, len(ss))
	for _, s := range ss {
		out = append(out, Amount{Currency: s.currency, Amount: b.native(s.amount, s.currency)})
	}
	return out
}

// Table lays the general ledger out as the page's lines between an
// opening and a closing row.
func (gl GeneralLedger) Table() Table {
	t := Table{Columns: []string{"date", "number", "entry_id", "description", "reference", "memo", "debit", "credit", "balance", "currency", "amount", "rate"}}
	t.Rows = append(t.Rows, []string{gl.From, "", "", "Opening balance", "", "", "", "", gl.Opening, "", "", ""})
	for _, l := range gl.Lines {
		t.Rows = append(t.Rows, []string{l.Date, strconv.FormatInt(l.Number, 10), l.EntryID.String(), l.Description, l.Reference, l.Memo,
			l.Debit, l.Credit, l.Balance, l.Currency, l.Amount, l.Rate})
	}
	if gl.NextCursor == "" {
		t.Rows = append(t.Rows, []string{gl.To, "", "", "Closing balance", "", "", "", "", gl.Closing, "", "", ""})
	}
	return t
}
