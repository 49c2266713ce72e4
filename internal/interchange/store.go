package interchange

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/journal"
	"github.com/vanta-ledger/vanta/internal/ledger"
	"github.com/vanta-ledger/vanta/internal/statements"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// Request is one import to run.
type Request struct {
	Format string
	Data   []byte
	CSV    statements.Options // for FormatCSV (statements.ParseOptions)
	By     tenancy.Actor
}

// Progress is told how far an import is.
type Progress func(done, total int)

// Runner runs imports of a company: DB for the import's transaction,
// Status for the status row's writes outside it (the same pool in the
// API; a second connection in the CLI).
type Runner struct {
	DB     TxBeginner
	Status TxBeginner
	Scope  tenancy.Scope
}

// Run does an import in one transaction. That transaction first takes
// the advisory lock of the import's row, then the row is written
// (running) outside it and ready is called, once, with the row's id (or
// with the error that stopped the import before it had a row): the API
// answers 202 then, while Run goes on. The row is marked done in the
// import's transaction, or failed (with the errors, line by line) after
// it rolled back.
func (r Runner) Run(ctx context.Context, req Request, ready func(uuid.UUID, error), progress Progress) (Import, error) {
	called := false
	signal := func(id uuid.UUID, err error) {
		if !called {
			called = true
			ready(id, err)
		}
	}
	if req.Format != FormatJournal && req.Format != FormatCSV {
		err := &FormatError{Field: "format", Message: fmt.Sprintf("%q is neither journal nor csv", req.Format)}
		signal(uuid.Nil, err)
		return Import{}, err
	}
	id := uuid.New()
	report := func(done, total int) {
		if progress != nil {
			progress(done, total)
		}
		// Progress is best effort: a failed write is not the import's failure.
		_ = tenancy.InTx(ctx, r.Status, r.Scope, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "UPDATE imports SET done = $2, total = $3 WHERE id = $1 AND status = 'running'", id, done, total)
			return err
		})
	}
	recorded := false
	var entries int
	err := tenancy.InTx(ctx, r.DB, r.Scope, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", lockClass, id.String()); err != nil {
			return fmt.Errorf("lock the import: %w", err)
		}
		if err := tenancy.InTx(ctx, r.Status, r.Scope, func(st pgx.Tx) error {
			_, err := st.Exec(ctx, `INSERT INTO imports (company_id, id, format, status, created_by)
				VALUES (current_setting('app.company_id')::uuid, $1, $2, 'running', $3)`, id, req.Format, req.By.UserID)
			return err
		}); err != nil {
			return wrap("record the import", err)
		}
		recorded = true
		signal(id, nil)
		var err error
		switch req.Format {
		case FormatJournal:
			entries, err = ImportJournal(ctx, tx, req.Data, req.By, report)
		default:
			var res statements.Result
			res, err = statements.Import(ctx, tx, bytes.NewReader(req.Data), req.CSV, req.By)
			entries = res.Created
			report(res.Rows, res.Rows)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE imports SET status = 'done', entries = $2, done = total, finished_at = now() WHERE id = $1`, id, entries)
		return wrap("finish the import", err)
	})
	if !recorded {
		if err == nil {
			err = errors.New("interchange: the import ended without a row")
		}
		signal(uuid.Nil, err)
		return Import{}, err
	}
	if err == nil {
		return r.Get(ctx, id)
	}
	lines := lineErrors(err)
	// The import's own context may be what ended it (the appliance
	// stopping): the row is still marked failed, with a short deadline.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	b, _ := json.Marshal(lines)
	if ferr := tenancy.InTx(fctx, r.Status, r.Scope, func(tx pgx.Tx) error {
		_, err := tx.Exec(fctx, "UPDATE imports SET status = 'failed', errors = $2, finished_at = now() WHERE id = $1", id, b)
		return err
	}); ferr != nil {
		return Import{}, errors.Join(err, wrap("mark the import failed", ferr))
	}
	imp, gerr := r.Get(fctx, id)
	if gerr != nil {
		return Import{}, errors.Join(err, gerr)
	}
	return imp, err
}

// lineErrors says what went wrong in the file's terms.
func lineErrors(err error) []LineError {
	var je *journal.Error
	var se *statements.LineError
	var le *entryError
	var re *ledger.RuleError
	var oe *statements.OptionError
	switch {
	case errors.As(err, &je):
		return []LineError{{Line: je.Line, Message: je.Msg}}
	case errors.As(err, &le):
		return []LineError{{Line: le.line, Message: le.msg}}
	case errors.As(err, &se):
		return []LineError{{Line: se.Line, Message: se.Field + ": " + se.Message}}
	case errors.As(err, &re):
		return []LineError{{Message: re.Rule + ": " + re.Message}}
	case errors.As(err, &oe):
		return []LineError{{Message: oe.Error()}}
	case errors.Is(err, context.Canceled):
		return []LineError{{Message: "the appliance stopped during the import; nothing of it was kept"}}
	case errors.Is(err, ledger.ErrNotFound):
		return []LineError{{Message: err.Error()}}
	}
	return []LineError{{Message: "the import failed and nothing of it was kept: " + err.Error()}}
}

// entryError is the ledger refusing the entry of a transaction.
type entryError struct {
	line int
	msg  string
	err  error
}

func (e *entryError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }
func (e *entryError) Unwrap() error { return e.err }

// ImportJournal reads a journal and posts it in tx (the caller's
// tenancy.InTx transaction): accounts and currencies it needs are added,
// every transaction becomes one posted entry with source import. It
// returns how many entries it posted. Every refusal names a line.
func ImportJournal(ctx context.Context, tx pgx.Tx, src []byte, by tenancy.Actor, progress Progress) (int, error) {
	j, err := journal.Parse(src)
	if err != nil {
		return 0, err
	}
	booked, err := journal.Book(j)
	if err != nil {
		return 0, err
	}
	var b books
	if b.currency, b.scale, err = ledger.CompanyCurrency(ctx, tx); err != nil {
		return 0, err
	}
	cs, err := ledger.Currencies(ctx, tx)
	if err != nil {
		return 0, err
	}
	b.scales = map[string]int{}
	for _, c := range cs {
		b.scales[c.Code] = c.Scale
	}
	b.accounts = map[string]string{}
	rows, err := tx.Query(ctx, "SELECT code, type FROM accounts")
	if err != nil {
		return 0, wrap("read the accounts", err)
	}
	var code, typ string
	if _, err := pgx.ForEachRow(rows, []any{&code, &typ}, func() error {
		b.accounts[code] = typ
		return nil
	}); err != nil {
		return 0, wrap("read the accounts", err)
	}
	conv, err := ledger.AccountByRole(ctx, tx, ledger.RoleConversion)
	if err != nil {
		return 0, fmt.Errorf("the company's conversion account: %w", err)
	}
	b.conversion = conv.Code
	p, err := makePlan(j, booked, b)
	if err != nil {
		return 0, err
	}
	for c, s := range p.currencies {
		if err := ledger.EnsureCurrency(ctx, tx, c, s); err != nil {
			return 0, err
		}
	}
	ids := map[string]uuid.UUID{}
	for _, a := range p.accounts {
		if k := strings.LastIndexByte(a.Code, ':'); k >= 0 {
			parent := a.Code[:k]
			if id, ok := ids[parent]; ok {
				a.ParentID = id
			} else if pa, err := ledger.AccountByCode(ctx, tx, parent); err == nil {
				a.ParentID = pa.ID
			}
		}
		made, err := ledger.EnsureAccount(ctx, tx, a)
		if err != nil {
			return 0, err
		}
		ids[a.Code] = made.ID
	}
	total := len(p.entries)
	progress(0, total)
	for start := 0; start < total; start += chunk {
		end := min(start+chunk, total)
		if _, err := ledger.PostBatch(ctx, tx, p.entries[start:end], by); err != nil {
			return 0, refused(err, p.lines, start)
		}
		progress(end, total)
	}
	return total, nil
}

// refused names the transaction whose entry the ledger refused: its
// field starts with entries[i] within the batch.
func refused(err error, lines []int, start int) error {
	var re *ledger.RuleError
	if !errors.As(err, &re) {
		return err
	}
	rest, ok := strings.CutPrefix(re.Field, "entries[")
	idx, _, ok2 := strings.Cut(rest, "]")
	n, convErr := strconv.Atoi(idx)
	if !ok || !ok2 || convErr != nil || start+n >= len(lines) {
		return err
	}
	return &entryError{line: lines[start+n], msg: "the books refuse this transaction: " + re.Rule + ": " + re.Message, err: err}
}

// importColumns are what scanImport reads.
const importColumns = "id, format, status, done, total, errors, entries, created_by, created_at, finished_at"

func scanImport(row pgx.Row) (Import, error) {
	var im Import
	var errs []byte
	if err := row.Scan(&im.ID, &im.Format, &im.Status, &im.Done, &im.Total, &errs, &im.Entries, &im.CreatedBy, &im.CreatedAt, &im.FinishedAt); err != nil {
		return Import{}, err
	}
	if err := json.Unmarshal(errs, &im.Errors); err != nil {
		return Import{}, fmt.Errorf("errors of import %s: %w", im.ID, err)
	}
	if im.Errors == nil {
		im.Errors = []LineError{}
	}
	return im, nil
}

// reap marks failed the rows left running by an import that is no longer
// running anywhere: its transaction would hold the row's advisory lock.
func reap(ctx context.Context, tx pgx.Tx, id *uuid.UUID) error {
	msg, _ := json.Marshal([]LineError{{Message: "the appliance stopped during the import; nothing of it was kept"}})
	q := "UPDATE imports SET status = 'failed', errors = $1, finished_at = now() WHERE status = 'running' AND pg_try_advisory_xact_lock($2, hashtext(id::text))"
	args := []any{msg, lockClass}
	if id != nil {
		q += " AND id = $3"
		args = append(args, *id)
	}
	_, err := tx.Exec(ctx, q, args...)
	return wrap("mark abandoned imports failed", err)
}

// Get is one import, after marking it failed if it was abandoned.
func (r Runner) Get(ctx context.Context, id uuid.UUID) (Import, error) {
	var im Import
	err := tenancy.InTx(ctx, r.Status, r.Scope, func(tx pgx.Tx) error {
		if err := reap(ctx, tx, &id); err != nil {
			return err
		}
		var err error
		im, err = scanImport(tx.QueryRow(ctx, "SELECT "+importColumns+" FROM imports WHERE id = $1", id))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		return wrap("read import", err)
	})
	return im, err
}

// List is a page of imports, newest first, after cursor (the last id of
// the previous page).
func (r Runner) List(ctx context.Context, limit int, cursor string) ([]Import, string, error) {
	var out []Import
	next := ""
	err := tenancy.InTx(ctx, r.Status, r.Scope, func(tx pgx.Tx) error {
		if err := reap(ctx, tx, nil); err != nil {
			return err
		}
		q := "SELECT " + importColumns + " FROM imports"
		args := []any{limit + 1}
		if cursor != "" {
			after, err := uuid.Parse(cursor)
			if err != nil {
				return &FormatError{Field: "cursor", Message: "not one this API gave out"}
			}
			q += " WHERE (created_at, id) < (SELECT created_at, id FROM imports WHERE id = $2)"
			args = append(args, after)
		}
		rows, err := tx.Query(ctx, q+" ORDER BY created_at DESC, id DESC LIMIT $1", args...)
		if err != nil {
			return wrap("list imports", err)
		}
		defer rows.Close()
		for rows.Next() {
			im, err := scanImport(rows)
			if err != nil {
				return wrap("list imports", err)
			}
			out = append(out, im)
		}
		return wrap("list imports", rows.Err())
	})
	if err != nil {
		return nil, "", err
	}
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID.String()
	}
	return out, next, nil
}
