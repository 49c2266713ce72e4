package statements

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/ledger"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// Resolve fills in what the options leave to the company, inside the
// import's transaction (tenancy.InTx) and before Read: the statement
// account's code (the account with role mpesa or bank when none is
// given; a given code must be an active asset or liability account, else
// an *OptionError on account), the suspense account's code, and the scale
// of the company currency, which the statement is taken to be in.
func Resolve(ctx context.Context, tx pgx.Tx, o Options) (Options, error) {
	if o.Account != "" {
		// Checked here so that a wrong code is the option's error, not a
		// refusal of the first row. A bank account is an asset; an
		// overdraft or a card may be kept as a liability.
		a, err := ledger.AccountByCode(ctx, tx, o.Account)
		switch {
		case errors.Is(err, ledger.ErrNotFound):
			return o, &OptionError{Field: "account", Message: fmt.Sprintf("no account has the code %q", o.Account)}
		case err != nil:
			return o, fmt.Errorf("statement account: %w", err)
		case !a.Active:
			return o, &OptionError{Field: "account", Message: fmt.Sprintf("account %q is inactive", o.Account)}
		case a.Type != "asset" && a.Type != "liability":
			return o, &OptionError{Field: "account", Message: fmt.Sprintf("account %q is %s; a statement is for an asset (bank, M-Pesa) or liability (overdraft, card) account", o.Account, a.Type)}
		}
	}
	if o.Account == "" {
		a, err := ledger.AccountByRole(ctx, tx, o.Role())
		if err != nil {
			return o, fmt.Errorf("statement account (role %s): %w", o.Role(), err)
		}
		o.Account = a.Code
	}
	if o.Suspense == "" {
		a, err := ledger.AccountByRole(ctx, tx, "suspense")
		if err != nil {
			return o, fmt.Errorf("suspense account: %w", err)
		}
		o.Suspense = a.Code
	}
	_, scale, err := ledger.CompanyCurrency(ctx, tx)
	if err != nil {
		return o, fmt.Errorf("statement currency: %w", err)
	}
	o.Scale = scale
	return o, nil
}

// Result is what one statement import did.
type Result struct {
	Rows     int            // transactions read from the file
	Created  int            // drafts this import added
	Existing int            // rows imported before (their key was already there), left as they were
	Entries  []ledger.Entry // one per row, in file order; an existing one as it was first made
	Warnings []Warning
}

// Import reads a statement and posts its drafts through ledger.PostBatch
// in tx (inside tenancy.InTx; the caller commits). A row already imported
// (same idempotency key) is replayed by the ledger and adds nothing. A
// row that cannot be read returns its *LineError and posts nothing.
func Import(ctx context.Context, tx pgx.Tx, r io.Reader, o Options, by tenancy.Actor) (Result, error) {
	o, err := Resolve(ctx, tx, o)
	if err != nil {
		return Result{}, err
	}
	rows, err := Read(r, o)
	if err != nil {
		return Result{}, err
	}
	inputs := Entries(rows, o, "", o.Scale)
	res := Result{Rows: len(rows), Warnings: Warnings(rows)}
	keys := make([]string, len(inputs))
	for i, in := range inputs {
		keys[i] = in.IdempotencyKey
	}
	// Counted before posting, in the same transaction, so that Created is
	// what this import added.
	if len(keys) > 0 {
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM journal_entries WHERE idempotency_key = ANY($1)", keys).Scan(&res.Existing); err != nil {
			return Result{}, fmt.Errorf("count imported statement rows: %w", err)
		}
	}
	// A statement longer than a ledger batch is posted in several, all in
	// the caller's transaction, so still all or none.
	for start := 0; start < len(inputs); start += ledger.MaxBatch {
		end := min(start+ledger.MaxBatch, len(inputs))
		entries, err := ledger.PostBatch(ctx, tx, inputs[start:end], by)
		if err != nil {
			return Result{}, rowRefused(err, rows, len(inputs), start, end)
		}
		res.Entries = append(res.Entries, entries...)
	}
	res.Created = len(inputs) - res.Existing
	return res, nil
}

// rowRefused names the statement line whose entry the ledger refused
// (in a batch of several its field starts with entries[i]), keeping the
// ledger's error inside, so the import reports the line and the API the
// rule.
func rowRefused(err error, rows []Row, made, start, end int) error {
	wrapped := fmt.Errorf("post statement rows %d to %d: %w", start+1, end, err)
	var re *ledger.RuleError
	if !errors.As(err, &re) || made != len(rows) {
		return wrapped
	}
	i, field := 0, re.Field
	if end-start > 1 {
		rest, ok := strings.CutPrefix(field, "entries[")
		idx, after, ok2 := strings.Cut(rest, "]")
		n, convErr := strconv.Atoi(idx)
		if !ok || !ok2 || convErr != nil || n < 0 {
			return wrapped
		}
		i, field = n, strings.TrimPrefix(after, ".")
	}
	if start+i >= len(rows) {
		return wrapped
	}
	return &LineError{Line: rows[start+i].Line, Field: field, Message: re.Rule + ": " + re.Message, Err: err}
}
