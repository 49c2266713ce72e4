package invoicing

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/ledger"
	"github.com/vanta-ledger/vanta/internal/money"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// AllocationInput applies part of a payment to an invoice (a payment
// received) or a bill (a payment made).
type AllocationInput struct {
	DocumentID string `json:"document_id"`
	Amount     string `json:"amount"`
}

// PaymentInput records money received from a customer or paid to a
// vendor. Amount is what reached (or left) Account, the bank or M-Pesa
// account's code (default: the bank account); WithholdingVAT is what a
// customer withheld as withholding VAT, so amount + withholding_vat
// settles invoices. Without Allocations the payment settles the contact's
// open documents in the currency, oldest due first; what is left over is
// an advance (customer_advances or vendor_advances).
type PaymentInput struct {
	Direction      string             `json:"direction"` // received or made
	ContactID      string             `json:"contact_id"`
	Date           string             `json:"date"`
	Currency       string             `json:"currency"`
	Rate           string             `json:"rate"`
	Amount         string             `json:"amount"`
	WithholdingVAT string             `json:"withholding_vat"`
	Account        string             `json:"account"`
	Reference      string             `json:"reference"`
	Allocations    *[]AllocationInput `json:"allocations"`
}

// PaymentAllocation is the part of a payment applied to a document.
type PaymentAllocation struct {
	DocumentID uuid.UUID `json:"document_id"`
	Number     string    `json:"number"`
	Amount     string    `json:"amount"`
}

// Payment is a recorded payment.
type Payment struct {
	ID             uuid.UUID           `json:"id"`
	Direction      string              `json:"direction"`
	ContactID      uuid.UUID           `json:"contact_id"`
	Date           string              `json:"date"`
	Currency       string              `json:"currency"`
	Rate           string              `json:"rate"`
	Amount         string              `json:"amount"`
	WithholdingVAT string              `json:"withholding_vat"`
	Account        string              `json:"account"`
	Reference      string              `json:"reference"`
	Allocations    []PaymentAllocation `json:"allocations"`
	Unallocated    string              `json:"unallocated"`
	EntryID        *uuid.UUID          `json:"entry_id"`
	CreatedBy      string              `json:"created_by"`
	CreatedAt      time.Time           `json:"created_at"`
}

// checkMoneyAccount refuses an account money cannot move through.
func checkMoneyAccount(ctx context.Context, tx pgx.Tx, code string) error {
	var typ string
	var active bool
	var role *string
	err := tx.QueryRow(ctx, `SELECT type, active, role FROM accounts WHERE code = $1`, code).Scan(&typ, &active, &role)
	if errors.Is(err, pgx.ErrNoRows) {
		return invalid("account", "no account %s in the chart", truncate(code, 40))
	}
	if err != nil {
		return fmt.Errorf("account %s: %w", code, err)
	}
	switch {
	case !active:
		return invalid("account", "account %s is inactive", code)
	case typ != "asset":
		return invalid("account", "account %s is not a bank, M-Pesa or cash account (an asset)", code)
	case role != nil && *role != "bank" && *role != "mpesa":
		return invalid("account", "account %s is the %s account, not one money moves through", code, *role)
	}
	return nil
}

type allocation struct {
	d      *doc
	amount int64
}

// RecordPayment records a payment, posts its entry and allocates it, in
// one transaction.
func (s Store) RecordPayment(ctx context.Context, sc tenancy.Scope, in PaymentInput, by tenancy.Actor) (Payment, error) {
	var out Payment
	err := s.inTx(ctx, sc, func(tx pgx.Tx) error {
		id, err := recordPayment(ctx, tx, in, by)
		if err != nil {
			return err
		}
		out, err = getPayment(ctx, tx, id)
		return err
	})
	return out, err
}

func recordPayment(ctx context.Context, tx pgx.Tx, in PaymentInput, by tenancy.Actor) (uuid.UUID, error) {
	kind := ""
	switch in.Direction {
	case "received":
		kind = KindInvoice
	case "made":
		kind = KindBill
	default:
		return uuid.Nil, invalid("direction", "must be received or made")
	}
	c, err := contactFor(ctx, tx, kind, in.ContactID)
	if err != nil {
		return uuid.Nil, err
	}
	date, err := parseDate("date", strings.TrimSpace(in.Date))
	if err != nil {
		return uuid.Nil, err
	}
	home, err := companyCurrency(ctx, tx)
	if err != nil {
		return uuid.Nil, err
	}
	homeScale, err := checkCurrency(ctx, tx, "currency", home)
	if err != nil {
		return uuid.Nil, err
	}
	currency := strings.ToUpper(strings.TrimSpace(in.Currency))
	if currency == "" {
		currency = c.Currency
	}
	if currency == "" {
		currency = home
	}
	scale, err := checkCurrency(ctx, tx, "currency", currency)
	if err != nil {
		return uuid.Nil, err
	}
	var rate *string
	var payRate *big.Rat
	switch r := strings.TrimSpace(in.Rate); {
	case currency == home && r != "":
		return uuid.Nil, invalid("rate", "a payment in the company currency (%s) has no rate", home)
	case currency != home && r == "":
		return uuid.Nil, invalid("rate", "a payment in %s needs the rate (%s per unit)", currency, home)
	case currency != home:
		if payRate, err = money.ParseRate(r); err != nil {
			return uuid.Nil, invalid("rate", "%v", err)
		}
		rate = &r
	}
	amount, err := money.Parse(strings.TrimSpace(in.Amount), scale)
	if err != nil || amount <= 0 {
		return uuid.Nil, invalid("amount", "must be a decimal more than 0 with at most %d decimals (%s)", scale, currency)
	}
	var withholding int64
	if w := strings.TrimSpace(in.WithholdingVAT); w != "" {
		if withholding, err = money.Parse(w, scale); err != nil || withholding < 0 {
			return uuid.Nil, invalid("withholding_vat", "must be a decimal of 0 or more with at most %d decimals", scale)
		}
		if withholding > 0 && kind == KindBill {
			return uuid.Nil, invalid("withholding_vat", "only a customer's payment carries withholding VAT it deducted")
		}
	}
	account := strings.TrimSpace(in.Account)
	if account == "" {
		if account, err = roleAccount(ctx, tx, "bank"); err != nil {
			return uuid.Nil, err
		}
	} else if err := checkMoneyAccount(ctx, tx, account); err != nil {
		return uuid.Nil, err
	}
	reference := strings.TrimSpace(in.Reference)
	if len(reference) > 200 {
		return uuid.Nil, invalid("reference", "must be at most 200 characters")
	}
	settlement := amount + withholding
	allocs, err := allocate(ctx, tx, kind, c.ID, currency, settlement, in.Allocations)
	if err != nil {
		return uuid.Nil, err
	}
	var allocated int64
	for _, a := range allocs {
		allocated += a.amount
	}
	unallocated := settlement - allocated

	// The entry: money in (or out) of the bank account, withholding VAT as
	// a receivable from KRA, the documents' control account for what they
	// take, and the advances account for the rest.
	control, advances, whtRole, sign := "ar", "customer_advances", "wht_vat_receivable", int64(1)
	if kind == KindBill {
		control, advances, sign = "ap", "vendor_advances", -1
	}
	codes := map[string]string{}
	for _, role := range []string{control, advances, whtRole, "fx"} {
		if codes[role], err = roleAccount(ctx, tx, role); err != nil {
			return uuid.Nil, err
		}
	}
	cur, r := "", ""
	if rate != nil {
		cur, r = currency, *rate
	}
	mk := func(account string, amount int64, contact uuid.UUID, memo string) ledger.LineInput {
		return ledger.LineInput{Account: account, Amount: amount, Currency: cur, Rate: r, ContactID: contact, Memo: memo}
	}
	var lines []ledger.LineInput
	lines = append(lines, mk(account, sign*amount, uuid.Nil, reference))
	if withholding > 0 {
		lines = append(lines, mk(codes[whtRole], withholding, c.ID, "withholding VAT"))
	}
	if allocated > 0 {
		lines = append(lines, mk(codes[control], -sign*allocated, c.ID, ""))
	}
	if unallocated > 0 {
		lines = append(lines, mk(codes[advances], -sign*unallocated, c.ID, "advance"))
	}
	// A foreign payment settles documents booked at their own rate: the
	// difference in company currency between the control account's
	// amounts at the documents' rates and at the payment's is a realised
	// exchange gain or loss. It is posted as a pair of company-currency
	// lines (control account and fx), so every currency still balances.
	if payRate != nil && allocated > 0 {
		var atDocs int64
		for _, a := range allocs {
			dr, err := rateOf(a.d.rate)
			if err != nil {
				return uuid.Nil, fmt.Errorf("rate of %s: %w", *a.d.number, err)
			}
			b, err := money.Convert(a.amount, scale, dr, homeScale)
			if err != nil {
				return uuid.Nil, invalid("amount", "%v", err)
			}
			atDocs += b
		}
		atPayment, err := money.Convert(allocated, scale, payRate, homeScale)
		if err != nil {
			return uuid.Nil, invalid("amount", "%v", err)
		}
		if diff := atDocs - atPayment; diff != 0 {
			lines = append(lines,
				ledger.LineInput{Account: codes[control], Amount: -sign * diff, ContactID: c.ID, Memo: "exchange difference"},
				ledger.LineInput{Account: codes["fx"], Amount: sign * diff, Memo: "exchange difference"})
		}
	}
	id := uuid.New()
	e, _, err := ledger.Post(ctx, tx, ledger.EntryInput{Date: date.Format(dateLayout), Description: paymentDescription(kind, c.Name, allocs),
		Reference: reference, IdempotencyKey: "invoicing:payment:" + id.String(), Source: ledger.SourcePayment, SourceID: id,
		Status: ledger.StatusPosted, Lines: lines}, by)
	if err != nil {
		return uuid.Nil, fmt.Errorf("post payment: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO payments (company_id, id, direction, contact_id, date, currency, rate, amount, withholding,
		account, reference, unallocated, entry_id, created_by)
		VALUES (current_setting('app.company_id')::uuid, $1, $2, $3, $4, $5, $6::numeric, $7, $8, $9, $10, $11, $12, $13)`,
		id, in.Direction, c.ID, date, currency, rate, amount, withholding, account, reference, unallocated, e.ID, by.UserID); err != nil {
		return uuid.Nil, fmt.Errorf("save payment: %w", err)
	}
	for _, a := range allocs {
		if _, err := tx.Exec(ctx, `INSERT INTO payment_allocations (company_id, payment_id, invoice_id, amount)
			VALUES (current_setting('app.company_id')::uuid, $1, $2, $3)`, id, a.d.id, a.amount); err != nil {
			return uuid.Nil, fmt.Errorf("allocate payment: %w", err)
		}
		a.d.paid += a.amount
		settle(a.d)
		if _, err := tx.Exec(ctx, `UPDATE invoices SET paid = $2, status = $3 WHERE id = $1`, a.d.id, a.d.paid, a.d.status); err != nil {
			return uuid.Nil, fmt.Errorf("allocate payment: %w", err)
		}
	}
	return id, nil
}

func paymentDescription(kind, contact string, allocs []allocation) string {
	what := "Payment received from " + contact
	if kind == KindBill {
		what = "Payment to " + contact
	}
	var numbers []string
	for _, a := range allocs {
		numbers = append(numbers, *a.d.number)
	}
	if len(numbers) > 0 {
		what += " for " + strings.Join(numbers, ", ")
	}
	return what
}

// allocate picks and locks the documents a payment settles. Rows are
// locked in id order, whatever order they are applied in, so that two
// payments on the same documents queue rather than deadlock.
func allocate(ctx context.Context, tx pgx.Tx, kind string, contact uuid.UUID, currency string, settlement int64, explicit *[]AllocationInput) ([]allocation, error) {
	if explicit == nil {
		rows, err := tx.Query(ctx, `SELECT id FROM invoices WHERE kind = $1 AND contact_id = $2 AND currency = $3
			AND status IN ('issued', 'partially_paid') ORDER BY id`, kind, contact, currency)
		if err != nil {
			return nil, fmt.Errorf("open documents: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return nil, fmt.Errorf("open documents: %w", err)
		}
		var open []*doc
		for _, id := range ids {
			d, err := getDoc(ctx, tx, id, true, kind)
			if err != nil {
				return nil, err
			}
			if d.status == StatusIssued || d.status == StatusPartiallyPaid {
				open = append(open, d)
			}
		}
		slices.SortStableFunc(open, func(a, b *doc) int {
			if c := a.due.Compare(b.due); c != 0 {
				return c
			}
			if c := a.issue.Compare(b.issue); c != 0 {
				return c
			}
			return strings.Compare(*a.number, *b.number)
		})
		var out []allocation
		left := settlement
		for _, d := range open {
			if left == 0 {
				break
			}
			take := min(left, d.balance())
			if take > 0 {
				out = append(out, allocation{d, take})
				left -= take
			}
		}
		return out, nil
	}
	in := *explicit
	if len(in) > 500 {
		return nil, invalid("allocations", "at most 500")
	}
	type want struct {
		i  int
		id uuid.UUID
	}
	var wants []want
	seen := map[uuid.UUID]bool{}
	for i, a := range in {
		id, err := uuid.Parse(strings.TrimSpace(a.DocumentID))
		if err != nil {
			return nil, invalid(fmt.Sprintf("allocations[%d].document_id", i), "is not a document id")
		}
		if seen[id] {
			return nil, invalid(fmt.Sprintf("allocations[%d].document_id", i), "is listed twice")
		}
		seen[id] = true
		wants = append(wants, want{i, id})
	}
	slices.SortFunc(wants, func(a, b want) int { return strings.Compare(a.id.String(), b.id.String()) })
	out := make([]allocation, len(in))
	var total int64
	for _, w := range wants {
		field := func(name string) string { return fmt.Sprintf("allocations[%d].%s", w.i, name) }
		d, err := getDoc(ctx, tx, w.id, true, kind)
		if errors.Is(err, ErrNotFound) {
			return nil, invalid(field("document_id"), "no such %s", kind)
		}
		if err != nil {
			return nil, err
		}
		switch {
		case d.contactID != contact:
			return nil, invalid(field("document_id"), "%s %s is another contact's", kind, numberOf(d))
		case d.status != StatusIssued && d.status != StatusPartiallyPaid:
			return nil, invalid(field("document_id"), "%s %s is %s, with nothing to pay", kind, numberOf(d), d.status)
		case d.currency != currency:
			return nil, invalid(field("document_id"), "%s %s is in %s, the payment in %s", kind, numberOf(d), d.currency, currency)
		}
		amt, err := money.Parse(strings.TrimSpace(in[w.i].Amount), d.scale)
		if err != nil || amt <= 0 {
			return nil, invalid(field("amount"), "must be a decimal more than 0 with at most %d decimals", d.scale)
		}
		if amt > d.balance() {
			return nil, invalid(field("amount"), "is more than the balance due on %s (%s)", numberOf(d), fmtAmount(d.balance(), d.scale))
		}
		total += amt
		out[w.i] = allocation{d, amt}
	}
	if total > settlement {
		return nil, invalid("allocations", "allocate at most the amount plus withholding VAT (%s)", fmtAmount(settlement, out[0].d.scale))
	}
	return out, nil
}

func numberOf(d *doc) string {
	if d.number == nil {
		return "(draft)"
	}
	return *d.number
}

const paymentColumns = `p.id, p.direction, p.contact_id, p.date, p.currency, cu.scale, p.rate::text, p.amount, p.withholding, p.account,
	p.reference, p.unallocated, p.entry_id, p.created_by, p.created_at`

func scanPayment(ctx context.Context, tx pgx.Tx, row pgx.Row) (Payment, error) {
	var p Payment
	var date time.Time
	var scale int
	var rate *string
	var amount, withholding, unallocated int64
	err := row.Scan(&p.ID, &p.Direction, &p.ContactID, &date, &p.Currency, &scale, &rate, &amount, &withholding, &p.Account,
		&p.Reference, &unallocated, &p.EntryID, &p.CreatedBy, &p.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("payment: %w", err)
	}
	p.Date = date.Format(dateLayout)
	if rate != nil {
		p.Rate = *rate
	}
	p.Amount, p.WithholdingVAT, p.Unallocated = fmtAmount(amount, scale), fmtAmount(withholding, scale), fmtAmount(unallocated, scale)
	return p, nil
}

func loadAllocations(ctx context.Context, tx pgx.Tx, p *Payment) error {
	rows, err := tx.Query(ctx, `SELECT a.invoice_id, coalesce(d.number, ''), a.amount, cu.scale FROM payment_allocations a
		JOIN invoices d ON d.id = a.invoice_id JOIN currencies cu ON cu.code = d.currency
		WHERE a.payment_id = $1 ORDER BY d.number`, p.ID)
	if err != nil {
		return fmt.Errorf("allocations of %s: %w", p.ID, err)
	}
	defer rows.Close()
	p.Allocations = []PaymentAllocation{}
	for rows.Next() {
		var a PaymentAllocation
		var amount int64
		var scale int
		if err := rows.Scan(&a.DocumentID, &a.Number, &amount, &scale); err != nil {
			return fmt.Errorf("allocations of %s: %w", p.ID, err)
		}
		a.Amount = fmtAmount(amount, scale)
		p.Allocations = append(p.Allocations, a)
	}
	return rows.Err()
}

func getPayment(ctx context.Context, tx pgx.Tx, id uuid.UUID) (Payment, error) {
	p, err := scanPayment(ctx, tx, tx.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments p JOIN currencies cu ON cu.code = p.currency WHERE p.id = $1`, id))
	if err != nil {
		return p, err
	}
	return p, loadAllocations(ctx, tx, &p)
}

// Payment reads one payment with its allocations.
func (s Store) Payment(ctx context.Context, sc tenancy.Scope, id uuid.UUID) (Payment, error) {
	var p Payment
	err := s.inTx(ctx, sc, func(tx pgx.Tx) error {
		var err error
		p, err = getPayment(ctx, tx, id)
		return err
	})
	return p, err
}

// PaymentFilter narrows a payment listing.
type PaymentFilter struct {
	Direction string
	ContactID string
	Cursor    string
	Limit     int
}

// Payments lists payments, newest first.
func (s Store) Payments(ctx context.Context, sc tenancy.Scope, f PaymentFilter) (items []Payment, next string, err error) {
	if f.Direction != "" && f.Direction != "received" && f.Direction != "made" {
		return nil, "", invalid("direction", "must be received or made")
	}
	var contact *uuid.UUID
	if f.ContactID != "" {
		c, err := uuid.Parse(f.ContactID)
		if err != nil {
			return nil, "", invalid("contact_id", "is not a contact id")
		}
		contact = &c
	}
	cursor, err := parseCursor(f.Cursor)
	if err != nil {
		return nil, "", err
	}
	err = s.inTx(ctx, sc, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+paymentColumns+` FROM payments p JOIN currencies cu ON cu.code = p.currency
			WHERE ($1 = '' OR p.direction = $1) AND ($2::uuid IS NULL OR p.contact_id = $2)
			AND ($3::uuid IS NULL OR (p.created_at, p.id) < (SELECT created_at, id FROM payments WHERE id = $3))
			ORDER BY p.created_at DESC, p.id DESC LIMIT $4`, f.Direction, contact, cursor, f.Limit+1)
		if err != nil {
			return fmt.Errorf("list payments: %w", err)
		}
		for rows.Next() {
			p, err := scanPayment(ctx, tx, rows)
			if err != nil {
				rows.Close()
				return err
			}
			items = append(items, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("list payments: %w", err)
		}
		if len(items) > f.Limit {
			items = items[:f.Limit]
			next = items[len(items)-1].ID.String()
		}
		for i := range items {
			if err := loadAllocations(ctx, tx, &items[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return items, next, err
}
