package api

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/auth"
	"github.com/vanta-ledger/vanta/internal/ledger"
	"github.com/vanta-ledger/vanta/internal/money"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// The ledger's routes: the chart of accounts, journal entries (drafts,
// posting, approval, reversal, batches), the period lock and the books'
// verification. Amounts travel as decimal strings at their currency's
// scale; package ledger parses them with the company's currencies.

// maxBatchBody bounds a batch's body: 1,000 entries of a few lines each.
const maxBatchBody = 8 << 20

type accountJSON struct {
	ID       uuid.UUID `json:"id"`
	Code     string    `json:"code"`
	Name     string    `json:"name"`
	Type     string    `json:"type"`
	Parent   *string   `json:"parent"`   // the parent's code
	Currency *string   `json:"currency"` // null: any currency
	Active   bool      `json:"active"`
	Role     *string   `json:"role"`
}

type accountCreate struct {
	Code     string `json:"code"`
	Name     string `json:"name"`
	Type     string `json:"type"`
	Parent   string `json:"parent"`
	Currency string `json:"currency"`
	Role     string `json:"role"`
}

type accountPatch struct {
	Name   *string `json:"name"`
	Parent *string `json:"parent"` // "" makes the account top-level
	Active *bool   `json:"active"`
}

type lineJSON struct {
	Account    string `json:"account"`
	Debit      string `json:"debit"`
	Credit     string `json:"credit"`
	Currency   string `json:"currency"`
	Rate       string `json:"rate"`
	BaseDebit  string `json:"base_debit"`
	BaseCredit string `json:"base_credit"`
	ContactID  string `json:"contact_id"`
	TaxCode    string `json:"tax_code"`
	Memo       string `json:"memo"`
}

type entryRequest struct {
	Date           string     `json:"date"`
	Description    string     `json:"description"`
	Reference      string     `json:"reference"`
	Source         string     `json:"source"`
	Status         string     `json:"status"`
	IdempotencyKey string     `json:"idempotency_key"`
	Lines          []lineJSON `json:"lines"`
}

type batchRequest struct {
	Entries []entryRequest `json:"entries"`
}

// batchResponse is API.md's {"ids"}, with the entries themselves.
type batchResponse struct {
	IDs   []uuid.UUID `json:"ids"`
	Items []entryJSON `json:"items"`
}

type reverseRequest struct {
	Date        string `json:"date"`
	Description string `json:"description"`
}

type entryJSON struct {
	ID             uuid.UUID  `json:"id"`
	Number         *int64     `json:"number"`
	Date           string     `json:"date"`
	Description    string     `json:"description"`
	Reference      string     `json:"reference"`
	Source         string     `json:"source"`
	SourceID       *uuid.UUID `json:"source_id"` // the document, invoice or payment the entry came from
	Status         string     `json:"status"`
	IdempotencyKey *string    `json:"idempotency_key"`
	Lines          []lineJSON `json:"lines"`
	Reverses       *uuid.UUID `json:"reverses"`
	ReversedBy     *uuid.UUID `json:"reversed_by"`
	CreatedBy      string     `json:"created_by"`
	CreatedAt      time.Time  `json:"created_at"`
	ApprovedBy     *string    `json:"approved_by"`
	ApprovedAt     *time.Time `json:"approved_at"`
	PostedBy       *string    `json:"posted_by"`
	PostedAt       *time.Time `json:"posted_at"`
}

type periodLock struct {
	LockDate *string `json:"lock_date"`
}

type verifyProblem struct {
	EntryID *uuid.UUID `json:"entry_id"`
	Number  *int64     `json:"number"`
	Problem string     `json:"problem"`
}

type verifyResult struct {
	OK       bool            `json:"ok"`
	Entries  int64           `json:"entries"`
	Problems []verifyProblem `json:"problems"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optionalID(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

func accountOut(a ledger.Account) accountJSON {
	return accountJSON{ID: a.ID, Code: a.Code, Name: a.Name, Type: a.Type, Parent: optional(a.ParentCode), Currency: optional(a.Currency),
		Active: a.Active, Role: optional(a.Role)}
}

func entryOut(e ledger.Entry) entryJSON {
	out := entryJSON{ID: e.ID, Date: e.Date, Description: e.Description, Reference: e.Reference, Source: string(e.Source), SourceID: optionalID(e.SourceID),
		Status: string(e.Status), IdempotencyKey: optional(e.IdempotencyKey), Lines: make([]lineJSON, 0, len(e.Lines)),
		Reverses: optionalID(e.ReversesID), ReversedBy: optionalID(e.ReversedByID), CreatedBy: e.CreatedBy, CreatedAt: e.CreatedAt,
		ApprovedBy: optional(e.ApprovedBy), ApprovedAt: e.ApprovedAt, PostedBy: optional(e.PostedBy), PostedAt: e.PostedAt}
	if e.Number > 0 {
		n := e.Number
		out.Number = &n
	}
	for _, l := range e.Lines {
		lj := lineJSON{Account: l.AccountCode, Currency: l.Currency, Rate: l.Rate, TaxCode: l.TaxCode, Memo: l.Memo}
		if l.ContactID != uuid.Nil {
			lj.ContactID = l.ContactID.String()
		}
		if l.Amount > 0 {
			lj.Debit = money.Format(l.Amount, l.Scale)
		} else {
			lj.Credit = money.Format(-l.Amount, l.Scale)
		}
		if l.Base > 0 {
			lj.BaseDebit = money.Format(l.Base, l.BaseScale)
		} else if l.Base < 0 {
			lj.BaseCredit = money.Format(-l.Base, l.BaseScale)
		}
		out.Lines = append(out.Lines, lj)
	}
	return out
}

// textEntry is a request as package ledger reads it; prefix names the
// entry inside a batch.
func textEntry(r entryRequest, prefix string) (ledger.TextEntry, error) {
	// Invoices, payments, imports and reversals post through their own
	// routes; an entry made here is manual, whatever it claims.
	if r.Source != "" && r.Source != string(ledger.SourceManual) {
		return ledger.TextEntry{}, &ledger.RuleError{Rule: ledger.RuleInvalid, Field: prefix + "source", Message: "entries made here are manual; other sources post through their own routes"}
	}
	t := ledger.TextEntry{Date: r.Date, Description: r.Description, Reference: r.Reference, IdempotencyKey: r.IdempotencyKey,
		Source: ledger.Source(r.Source), Status: ledger.Status(r.Status)}
	for i, l := range r.Lines {
		tl := ledger.TextLine{Account: l.Account, Debit: l.Debit, Credit: l.Credit, Currency: l.Currency, Rate: l.Rate,
			BaseDebit: l.BaseDebit, BaseCredit: l.BaseCredit, TaxCode: l.TaxCode, Memo: l.Memo}
		if l.ContactID != "" {
			id, err := uuid.Parse(l.ContactID)
			if err != nil {
				return t, &ledger.RuleError{Rule: ledger.RuleInvalid, Field: prefix + "lines[" + itoa(i) + "].contact_id", Message: "not a uuid"}
			}
			tl.ContactID = id
		}
		t.Lines = append(t.Lines, tl)
	}
	return t, nil
}

func itoa(i int) string { return strconv.Itoa(i) }

// actor is who asks, for the entry's and the audit chain's records.
func actor(c *gin.Context) tenancy.Actor {
	role, _ := c.Get(ctxRole)
	r, _ := role.(auth.Role)
	return tenancy.Actor{UserID: principal(c).UserID.String(), Role: string(r), IP: ip(c)}
}

// mayPost says whether the caller's role may post, not only draft.
func mayPost(c *gin.Context) bool {
	role, _ := c.Get(ctxRole)
	r, _ := role.(auth.Role)
	return auth.Allowed(r, auth.ActLedgerPost)
}

func (s *server) ledgerStore(c *gin.Context) (ledger.Store, error) {
	d, err := s.companyStores(c)
	if err != nil {
		return ledger.Store{}, err
	}
	return ledger.Store{DB: d.stores.App}, nil
}

// pathID reads a uuid path parameter; a malformed one is not found, as a
// well-formed id of nothing is.
func pathID(c *gin.Context, name string) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param(name))
	if err != nil {
		return uuid.Nil, notFound("no such "+map[string]string{"aid": "account", "eid": "journal entry"}[name], "")
	}
	return id, nil
}

func (s *server) listAccounts(c *gin.Context) error {
	st, err := s.ledgerStore(c)
	if err != nil {
		return err
	}
	limit, cursor, err := page(c)
	if err != nil {
		return err
	}
	as, more, err := st.Accounts(c.Request.Context(), scope(c), cursor, limit)
	if err != nil {
		return err
	}
	items := make([]accountJSON, 0, len(as))
	for _, a := range as {
		items = append(items, accountOut(a))
	}
	next := ""
	if more && len(as) > 0 {
		next = nextCursor(as[len(as)-1].Code)
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": next})
	return nil
}

func (s *server) createAccount(c *gin.Context) error {
	var req accountCreate
	if err := decode(c, &req); err != nil {
		return err
	}
	st, err := s.ledgerStore(c)
	if err != nil {
		return err
	}
	a, err := st.CreateAccount(c.Request.Context(), scope(c), ledger.Account{Code: req.Code, Name: req.Name, Type: req.Type,
		Currency: req.Currency, Role: req.Role}, req.Parent, actor(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, accountOut(a))
	return nil
}

func (s *server) updateAccount(c *gin.Context) error {
	var req accountPatch
	if err := decode(c, &req); err != nil {
		return err
	}
	id, err := pathID(c, "aid")
	if err != nil {
		return err
	}
	st, err := s.ledgerStore(c)
	if err != nil {
		return err
	}
	a, err := st.UpdateAccount(c.Request.Context(), scope(c), id, req.Name, req.Parent, req.Active, actor(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, accountOut(a))
	return nil
}

func (s *server) deleteAccount(c *gin.Context) error {
	id, err := pathID(c, "aid")
	if err != nil {
		return err
	}
	st, err := s.ledgerStore(c)
	if err != nil {
		return err
	}
	if err := st.DeleteAccount(c.Request.Context(), scope(c), id, actor(c)); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// queryDate reads a listing's date filter, YYYY-MM-DD or absent.
func queryDate(c *gin.Context, name string) (string, error) {
	v := c.Query(name)
	if v == "" {
		return "", nil
	}
	if _, err := time.Parse(time.DateOnly, v); err != nil {
		return "", badRequest("validation_failed", name+" must be a date like 2026-03-31", name)
	}
	return v, nil
}

func (s *server) listEntries(c *gin.Context) error {
	st, err := s.ledgerStore(c)
	if err != nil {
		return err
	}
	limit, cursor, err := page(c)
	if err != nil {
		return err
	}
	q := ledger.EntryQuery{Status: ledger.Status(c.Query("status")), Account: c.Query("account"), Source: ledger.Source(c.Query("source")),
		After: cursor, Limit: limit}
	if q.Status != "" && q.Status != ledger.StatusDraft && q.Status != ledger.StatusPosted {
		return badRequest("validation_failed", "status must be draft or posted", "status")
	}
	if q.From, err = queryDate(c, "from"); err != nil {
		return err
	}
	if q.To, err = queryDate(c, "to"); err != nil {
		return err
	}
	if cursor != "" {
		if _, err := uuid.Parse(cursor); err != nil {
			return badCursor()
		}
	}
	es, more, err := st.List(c.Request.Context(), scope(c), q)
	if err != nil {
		return err
	}
	items := make([]entryJSON, 0, len(es))
	for _, e := range es {
		items = append(items, entryOut(e))
	}
	next := ""
	if more && len(es) > 0 {
		next = nextCursor(es[len(es)-1].ID)
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": next})
	return nil
}

func (s *server) getEntry(c *gin.Context) error {
	id, err := pathID(c, "eid")
	if err != nil {
		return err
	}
	st, err := s.ledgerStore(c)
	if err != nil {
		return err
	}
	e, err := st.Get(c.Request.Context(), scope(c), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, entryOut(e))
	return nil
}

// createEntry drafts an entry, or posts it when the body says "posted"
// and the caller's role may post (a user drafts only: 403).
func (s *server) createEntry(c *gin.Context) error {
	var req entryRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if req.Status == string(ledger.StatusPosted) && !mayPost(c) {
		c.Set(ctxWanted, string(auth.ActLedgerPost))
		return forbidden("your role may draft entries but not post them: leave status out and have a manager approve")
	}
	t, err := textEntry(req, "")
	if err != nil {
		return err
	}
	st, err := s.ledgerStore(c)
	if err != nil {
		return err
	}
	e, replayed, err := st.Post(c.Request.Context(), scope(c), t, actor(c))
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if replayed {
		// The first request's entry, unchanged: nothing was posted.
		c.Header("Idempotent-Replayed", "true")
		status = http.StatusOK
	}
	c.JSON(status, entryOut(e))
	return nil
}

// decodeWithin is decode with a larger bound on the body, for a batch.
func decodeWithin(c *gin.Context, v any, limit int64) error {
	decodeObserver(c, v)
	if err := requireJSON(c.Request); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if err != nil {
		return describeJSONError(err)
	}
	return decodeBytes(body, v)
}

func (s *server) postBatch(c *gin.Context) error {
	var req batchRequest
	if err := decodeWithin(c, &req, maxBatchBody); err != nil {
		return err
	}
	ts := make([]ledger.TextEntry, len(req.Entries))
	for i, r := range req.Entries {
		t, err := textEntry(r, "entries["+itoa(i)+"].")
		if err != nil {
			return err
		}
		ts[i] = t
	}
	st, err := s.ledgerStore(c)
	if err != nil {
		return err
	}
	es, err := st.PostBatch(c.Request.Context(), scope(c), ts, actor(c))
	if err != nil {
		return err
	}
	out := batchResponse{IDs: make([]uuid.UUID, 0, len(es)), Items: make([]entryJSON, 0, len(es))}
	for _, e := range es {
		out.IDs = append(out.IDs, e.ID)
		out.Items = append(out.Items, entryOut(e))
	}
	c.JSON(http.StatusCreated, out)
	return nil
}

func (s *server) updateEntry(c *gin.Context) error {
	var req entryRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	id, err := pathID(c, "eid")
	if err != nil {
		return err
	}
	if req.Status != "" && req.Status != string(ledger.StatusDraft) {
		return badRequest("validation_failed", "a draft stays a draft here: approve it to post it", "status")
	}
	if req.IdempotencyKey != "" {
		return badRequest("validation_failed", "an entry's idempotency key is set when it is made", "idempotency_key")
	}
	t, err := textEntry(req, "")
	if err != nil {
		return err
	}
	st, err := s.ledgerStore(c)
	if err != nil {
		return err
	}
	e, err := st.UpdateDraft(c.Request.Context(), scope(c), id, t, actor(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, entryOut(e))
	return nil
}

func (s *server) deleteEntry(c *gin.Context) error {
	id, err := pathID(c, "eid")
	if err != nil {
		return err
	}
	st, err := s.ledgerStore(c)
	if err != nil {
		return err
	}
	if err := st.DeleteDraft(c.Request.Context(), scope(c), id, actor(c)); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

func (s *server) approveEntry(c *gin.Context) error {
	id, err := pathID(c, "eid")
	if err != nil {
		return err
	}
	st, err := s.ledgerStore(c)
	if err != nil {
		return err
	}
	e, err := st.Approve(c.Request.Context(), scope(c), id, actor(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, entryOut(e))
	return nil
}

func (s *server) reverseEntry(c *gin.Context) error {
	var req reverseRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	id, err := pathID(c, "eid")
	if err != nil {
		return err
	}
	st, err := s.ledgerStore(c)
	if err != nil {
		return err
	}
	e, err := st.Reverse(c.Request.Context(), scope(c), id, req.Date, req.Description, actor(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, entryOut(e))
	return nil
}

func (s *server) getPeriodLock(c *gin.Context) error {
	st, err := s.ledgerStore(c)
	if err != nil {
		return err
	}
	d, err := st.LockDate(c.Request.Context(), scope(c))
	if err != nil {
		return err
	}
	out := periodLock{}
	if d != nil {
		v := d.Format(time.DateOnly)
		out.LockDate = &v
	}
	c.JSON(http.StatusOK, out)
	return nil
}

func (s *server) setPeriodLock(c *gin.Context) error {
	var req periodLock
	if err := decode(c, &req); err != nil {
		return err
	}
	var d *time.Time
	if req.LockDate != nil {
		t, err := time.Parse(time.DateOnly, *req.LockDate)
		if err != nil {
			return badRequest("validation_failed", "lock_date must be a date like 2026-03-31, or null", "lock_date")
		}
		d = &t
	}
	st, err := s.ledgerStore(c)
	if err != nil {
		return err
	}
	if err := st.SetLockDate(c.Request.Context(), scope(c), d, actor(c)); err != nil {
		return err
	}
	c.JSON(http.StatusOK, req)
	return nil
}

func (s *server) verifyLedger(c *gin.Context) error {
	st, err := s.ledgerStore(c)
	if err != nil {
		return err
	}
	rep, err := st.Verify(c.Request.Context(), scope(c))
	if err != nil {
		return err
	}
	out := verifyResult{OK: rep.OK, Entries: rep.Entries, Problems: make([]verifyProblem, 0, len(rep.Problems))}
	for _, p := range rep.Problems {
		vp := verifyProblem{EntryID: optionalID(p.EntryID), Problem: p.Problem}
		if p.Number > 0 {
			n := p.Number
			vp.Number = &n
		}
		out.Problems = append(out.Problems, vp)
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// ledgerStatus maps the ledger's refusals: a rule broken by the request
// is 400 validation_failed naming the field and the rule; one about the
// state of what exists (a posted entry, an account in use, a key used for
// another request) is 409 with the rule as its code.
func ledgerStatus(err error) *apiError {
	var re *ledger.RuleError
	if errors.As(err, &re) {
		if re.Conflict() {
			return &apiError{status: http.StatusConflict, code: re.Rule, message: re.Message, field: re.Field}
		}
		return &apiError{status: http.StatusBadRequest, code: "validation_failed", message: re.Message, field: re.Field}
	}
	return nil
}
