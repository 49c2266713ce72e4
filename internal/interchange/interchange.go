// Package interchange moves books in and out of a company: imports of
// plain-text accounting journals (hledger, ledger-cli) and of bank and
// M-Pesa statements, and exports as a journal hledger checks or as CSV.
//
// An import posts everything in one transaction (ledger.PostBatch in
// chunks), so a refusal anywhere changes nothing; its row in the imports
// table is written outside that transaction, so that progress can be read
// while it runs, and is marked done inside it, so that done means posted.
// A row left running by a process that died is marked failed by the next
// reader: the import's transaction holds an advisory lock on the row for
// its whole life, so a free lock means nobody is importing it.
package interchange

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Migrations are the imports table, migrations/company/0004_imports.sql.
//
//go:embed migrations
var Migrations embed.FS

// Formats an import or export takes.
const (
	FormatJournal = "journal"
	FormatCSV     = "csv"
)

// Statuses of an import.
const (
	StatusRunning = "running"
	StatusDone    = "done"
	StatusFailed  = "failed"
)

// MaxImportBytes is the largest file an import takes.
const MaxImportBytes = 32 << 20

// chunk is how many entries go to one PostBatch; progress is reported
// after each.
const chunk = 500

// Import is one import's row.
type Import struct {
	ID         uuid.UUID
	Format     string
	Status     string
	Done       int
	Total      int
	Errors     []LineError
	Entries    int
	CreatedBy  string
	CreatedAt  time.Time
	FinishedAt *time.Time
}

// LineError is a refusal at a line of the imported file (0: not tied to
// a line).
type LineError struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// ErrNotFound is an import the company does not have.
var ErrNotFound = errors.New("interchange: import not found")

// ErrStopping is an import asked for while the appliance stops or is
// sealed: nothing was started.
var ErrStopping = errors.New("interchange: imports are not running (the appliance is stopping or sealed)")

// FormatError is an unknown or unavailable format, naming the parameter.
type FormatError struct {
	Field   string
	Message string
}

func (e *FormatError) Error() string { return e.Field + ": " + e.Message }

// lockClass is the first key of the advisory lock an import's transaction
// holds on its row (the second is a hash of its id).
const lockClass = 0x1e40

// Jobs runs imports in goroutines bounded by its own life: the API
// registers it as a background service, so Stop (the appliance stopping
// or sealing) cancels the running imports, whose transactions roll back,
// and waits for them.
type Jobs struct {
	mu      sync.Mutex
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	running bool
}

// Name names the service.
func (j *Jobs) Name() string { return "interchange imports" }

// Start lets imports run until Stop.
func (j *Jobs) Start(ctx context.Context) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.ctx, j.cancel = context.WithCancel(context.WithoutCancel(ctx))
	j.running = true
	return nil
}

// Stop cancels the running imports and waits for them to end.
func (j *Jobs) Stop() {
	j.mu.Lock()
	if j.cancel != nil {
		j.cancel()
	}
	j.running = false
	j.mu.Unlock()
	j.wg.Wait()
}

// Go runs fn in a goroutine with the service's context.
func (j *Jobs) Go(fn func(ctx context.Context)) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.running {
		return ErrStopping
	}
	j.wg.Add(1)
	ctx := j.ctx
	go func() {
		defer j.wg.Done()
		fn(ctx)
	}()
	return nil
}

// TxBeginner opens transactions (a pool, a connection).
type TxBeginner interface {
	BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error)
}

func wrap(doing string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("interchange: %s: %w", doing, err)
}
