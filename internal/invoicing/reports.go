package invoicing

import (
	"context"
	"fmt"
	"math/big"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/money"
	"github.com/vanta-ledger/vanta/internal/reports"
)

// AgedDocument is one open document of an aged report.
type AgedDocument struct {
	ID          uuid.UUID `json:"id"`
	Number      string    `json:"number"`
	IssueDate   string    `json:"issue_date"`
	DueDate     string    `json:"due_date"`
	DaysOverdue int       `json:"days_overdue"`
	Bucket      string    `json:"bucket"`
	Currency    string    `json:"currency"`
	Balance     string    `json:"balance"`      // in the document's currency
	BaseBalance string    `json:"base_balance"` // in the company currency at the document's rate
}

// AgedBuckets are amounts by days past due, in the company currency.
type AgedBuckets struct {
	Current    string `json:"current"`
	Days1To30  string `json:"1-30"`
	Days31To60 string `json:"31-60"`
	Days61To90 string `json:"61-90"`
	Over90     string `json:"90+"`
}

func bucketsOf(sums map[string]int64, scale int) AgedBuckets {
	f := func(b string) string { return money.Format(sums[b], scale) }
	return AgedBuckets{f(BucketCurrent), f(Bucket1To30), f(Bucket31To60), f(Bucket61To90), f(BucketOver90)}
}

// column is a bucket's amount by its name.
func (b AgedBuckets) column(name string) string {
	return map[string]string{BucketCurrent: b.Current, Bucket1To30: b.Days1To30, Bucket31To60: b.Days31To60,
		Bucket61To90: b.Days61To90, BucketOver90: b.Over90}[name]
}

// AgedContact is one contact's row: what it owes (or is owed) by bucket,
// in the company currency.
type AgedContact struct {
	ContactID uuid.UUID      `json:"contact_id"`
	Name      string         `json:"name"`
	Buckets   AgedBuckets    `json:"buckets"`
	Total     string         `json:"total"`
	Documents []AgedDocument `json:"documents"`
}

// AgedReport is aged receivables or aged payables as of a day: every invoice
// (or bill) issued by then with a balance due that day, by contact and by
// days past its due date (current, 1-30, 31-60, 61-90, 90+).
type AgedReport struct {
	Report   string        `json:"report"` // aged-receivables or aged-payables
	AsOf     string        `json:"as_of"`
	Currency string        `json:"currency"`
	Contacts []AgedContact `json:"contacts"`
	Totals   AgedBuckets   `json:"totals"`
	Total    string        `json:"total"`
}

// AgedReceivables is the report over invoices; see AgedReport.
func AgedReceivables(ctx context.Context, tx pgx.Tx, asOf string) (AgedReport, reports.Table, error) {
	return aged(ctx, tx, KindInvoice, asOf)
}

// AgedPayables is the report over bills; see AgedReport.
func AgedPayables(ctx context.Context, tx pgx.Tx, asOf string) (AgedReport, reports.Table, error) {
	return aged(ctx, tx, KindBill, asOf)
}

func aged(ctx context.Context, tx pgx.Tx, kind, asOfText string) (AgedReport, reports.Table, error) {
	name := "aged-receivables"
	if kind == KindBill {
		name = "aged-payables"
	}
	asOf, err := parseDate("as_of", asOfText)
	if err != nil {
		return AgedReport{}, reports.Table{}, err
	}
	home, err := companyCurrency(ctx, tx)
	if err != nil {
		return AgedReport{}, reports.Table{}, err
	}
	var homeScale int
	if err := tx.QueryRow(ctx, `SELECT scale FROM currencies WHERE code = $1`, home).Scan(&homeScale); err != nil {
		return AgedReport{}, reports.Table{}, fmt.Errorf("%s: %w", name, err)
	}
	// The balance as of the day: the total less what payments dated by
	// then allocated and what credit notes issued by then took off. A
	// document voided by then owes nothing.
	rows, err := tx.Query(ctx, `SELECT d.id, d.number, d.contact_id, c.name, d.issue_date, d.due_date, d.currency, cu.scale, d.rate::text,
			d.total
			- coalesce((SELECT sum(a.amount) FROM payment_allocations a JOIN payments p ON p.id = a.payment_id
				WHERE a.invoice_id = d.id AND p.date <= $2), 0)
			- coalesce((SELECT sum(n.total) FROM invoices n WHERE n.credit_of = d.id AND n.status <> 'draft' AND n.issue_date <= $2), 0)
		FROM invoices d JOIN contacts c ON c.id = d.contact_id JOIN currencies cu ON cu.code = d.currency
		WHERE d.kind = $1 AND d.status <> 'draft' AND d.issue_date <= $2 AND (d.voided_at IS NULL OR d.voided_at > $2)
		ORDER BY c.name, d.contact_id, d.due_date, d.number`, kind, asOf)
	if err != nil {
		return AgedReport{}, reports.Table{}, fmt.Errorf("%s: %w", name, err)
	}
	defer rows.Close()
	out := AgedReport{Report: name, AsOf: asOf.Format(dateLayout), Currency: home, Contacts: []AgedContact{}}
	totals := map[string]int64{}
	var grand int64
	var cur *AgedContact
	var curSums map[string]int64
	var curTotal int64
	flush := func() {
		if cur == nil {
			return
		}
		cur.Buckets = bucketsOf(curSums, homeScale)
		cur.Total = money.Format(curTotal, homeScale)
		out.Contacts = append(out.Contacts, *cur)
	}
	for rows.Next() {
		var ad AgedDocument
		var contact uuid.UUID
		var cname string
		var issue, due time.Time
		var scale int
		var rate *string
		var balance int64
		if err := rows.Scan(&ad.ID, &ad.Number, &contact, &cname, &issue, &due, &ad.Currency, &scale, &rate, &balance); err != nil {
			return AgedReport{}, reports.Table{}, fmt.Errorf("%s: %w", name, err)
		}
		if balance <= 0 {
			continue
		}
		base := balance
		if rate != nil {
			r, err := money.ParseRate(*rate)
			if err != nil {
				return AgedReport{}, reports.Table{}, fmt.Errorf("%s: rate of %s: %w", name, ad.Number, err)
			}
			if base, err = money.Convert(balance, scale, r, homeScale); err != nil {
				return AgedReport{}, reports.Table{}, fmt.Errorf("%s: %w", name, err)
			}
		}
		ad.IssueDate, ad.DueDate = issue.Format(dateLayout), due.Format(dateLayout)
		ad.DaysOverdue = max(0, int(asOf.Sub(due).Hours()/24))
		ad.Bucket = Bucket(due, asOf)
		ad.Balance, ad.BaseBalance = money.Format(balance, scale), money.Format(base, homeScale)
		if cur == nil || cur.ContactID != contact {
			flush()
			cur = &AgedContact{ContactID: contact, Name: cname}
			curSums, curTotal = map[string]int64{}, 0
		}
		cur.Documents = append(cur.Documents, ad)
		curSums[ad.Bucket] += base
		curTotal += base
		totals[ad.Bucket] += base
		grand += base
	}
	if err := rows.Err(); err != nil {
		return AgedReport{}, reports.Table{}, fmt.Errorf("%s: %w", name, err)
	}
	flush()
	out.Totals = bucketsOf(totals, homeScale)
	out.Total = money.Format(grand, homeScale)

	t := reports.Table{Columns: append(append([]string{"contact_id", "contact"}, Buckets...), "total")}
	for _, c := range out.Contacts {
		row := []string{c.ContactID.String(), c.Name}
		for _, b := range Buckets {
			row = append(row, c.Buckets.column(b))
		}
		t.Rows = append(t.Rows, append(row, c.Total))
	}
	row := []string{"", "Total"}
	for _, b := range Buckets {
		row = append(row, out.Totals.column(b))
	}
	t.Rows = append(t.Rows, append(row, out.Total))
	return out, t, nil
}

// VATRate is one tax code's line of a VAT return: the net sales (or
// purchases) under it and their VAT, in the company currency.
type VATRate struct {
	TaxCode     string `json:"tax_code"`
	ETIMSLetter string `json:"etims_letter"`
	Rate        string `json:"rate"`
	Net         string `json:"net"`
	VAT         string `json:"vat"`
}

// VATReturn is what a VAT return (KRA's VAT3) needs for a period: output
// VAT on sales and input VAT on purchases by eTIMS letter and rate, the
// withholding VAT customers deducted (credits against the tax due), and
// the net: output − input is the VAT of the period, less the withholding
// credits is what is payable (negative: a credit to carry forward).
type VATReturn struct {
	From                  string    `json:"from"`
	To                    string    `json:"to"`
	Currency              string    `json:"currency"`
	Sales                 []VATRate `json:"sales"`
	Purchases             []VATRate `json:"purchases"`
	SalesNet              string    `json:"sales_net"`
	PurchasesNet          string    `json:"purchases_net"`
	OutputVAT             string    `json:"output_vat"`
	InputVAT              string    `json:"input_vat"`
	NetVAT                string    `json:"net_vat"`
	WithholdingVATCredits string    `json:"withholding_vat_credits"`
	NetPayable            string    `json:"net_payable"`
}

// VATReturnFor is the VAT return of from..to (inclusive) in tx. Documents
// count in the period of their issue date (credit notes negative), and a
// void counts negative in the period of its date; amounts in a foreign
// currency count at the document's rate, line by line, half to even.
func VATReturnFor(ctx context.Context, tx pgx.Tx, fromText, toText string) (VATReturn, reports.Table, error) {
	from, err := parseDate("from", fromText)
	if err != nil {
		return VATReturn{}, reports.Table{}, err
	}
	to, err := parseDate("to", toText)
	if err != nil {
		return VATReturn{}, reports.Table{}, err
	}
	if to.Before(from) {
		return VATReturn{}, reports.Table{}, invalid("to", "is before from")
	}
	home, err := companyCurrency(ctx, tx)
	if err != nil {
		return VATReturn{}, reports.Table{}, err
	}
	var homeScale int
	if err := tx.QueryRow(ctx, `SELECT scale FROM currencies WHERE code = $1`, home).Scan(&homeScale); err != nil {
		return VATReturn{}, reports.Table{}, fmt.Errorf("vat return: %w", err)
	}
	rows, err := tx.Query(ctx, `WITH docs AS (
			SELECT d.id, coalesce(p.kind, d.kind) AS side, CASE WHEN d.kind = 'credit_note' THEN -1 ELSE 1 END AS sign, d.rate::text AS rate, cu.scale
			FROM invoices d LEFT JOIN invoices p ON p.id = d.credit_of JOIN currencies cu ON cu.code = d.currency
			WHERE d.status <> 'draft' AND d.issue_date BETWEEN $1 AND $2
			UNION ALL
			SELECT d.id, d.kind, -1, d.rate::text, cu.scale
			FROM invoices d JOIN currencies cu ON cu.code = d.currency
			WHERE d.status = 'void' AND d.voided_at BETWEEN $1 AND $2)
		SELECT docs.side, docs.sign, docs.rate, docs.scale, l.tax_code, coalesce(l.etims_letter, ''), trim_scale(l.tax_rate)::text, l.net, l.tax
		FROM docs JOIN invoice_lines l ON l.invoice_id = docs.id`, from, to)
	if err != nil {
		return VATReturn{}, reports.Table{}, fmt.Errorf("vat return: %w", err)
	}
	type key struct{ code, letter, rate string }
	type sums struct{ net, vat int64 }
	sales, purchases := map[key]*sums{}, map[key]*sums{}
	rates := map[string]*big.Rat{}
	for rows.Next() {
		var side, code, letter, rate string
		var sign int64
		var docRate *string
		var scale int
		var net, tax int64
		if err := rows.Scan(&side, &sign, &docRate, &scale, &code, &letter, &rate, &net, &tax); err != nil {
			rows.Close()
			return VATReturn{}, reports.Table{}, fmt.Errorf("vat return: %w", err)
		}
		if docRate != nil {
			r, ok := rates[*docRate]
			if !ok {
				if r, err = money.ParseRate(*docRate); err != nil {
					rows.Close()
					return VATReturn{}, reports.Table{}, fmt.Errorf("vat return: %w", err)
				}
				rates[*docRate] = r
			}
			if net, err = money.Convert(net, scale, r, homeScale); err == nil {
				tax, err = money.Convert(tax, scale, r, homeScale)
			}
			if err != nil {
				rows.Close()
				return VATReturn{}, reports.Table{}, fmt.Errorf("vat return: %w", err)
			}
		}
		m := sales
		if side == KindBill {
			m = purchases
		}
		k := key{code, letter, rate}
		if m[k] == nil {
			m[k] = &sums{}
		}
		m[k].net += sign * net
		m[k].vat += sign * tax
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return VATReturn{}, reports.Table{}, fmt.Errorf("vat return: %w", err)
	}
	// Withholding VAT customers deducted on payments of the period, at
	// each payment's rate.
	var credits int64
	prow, err := tx.Query(ctx, `SELECT p.withholding, p.rate::text, cu.scale FROM payments p JOIN currencies cu ON cu.code = p.currency
		WHERE p.direction = 'received' AND p.withholding > 0 AND p.date BETWEEN $1 AND $2`, from, to)
	if err != nil {
		return VATReturn{}, reports.Table{}, fmt.Errorf("vat return: %w", err)
	}
	for prow.Next() {
		var w int64
		var rate *string
		var scale int
		if err := prow.Scan(&w, &rate, &scale); err != nil {
			prow.Close()
			return VATReturn{}, reports.Table{}, fmt.Errorf("vat return: %w", err)
		}
		if rate != nil {
			r, err := money.ParseRate(*rate)
			if err == nil {
				w, err = money.Convert(w, scale, r, homeScale)
			}
			if err != nil {
				prow.Close()
				return VATReturn{}, reports.Table{}, fmt.Errorf("vat return: %w", err)
			}
		}
		credits += w
	}
	prow.Close()
	if err := prow.Err(); err != nil {
		return VATReturn{}, reports.Table{}, fmt.Errorf("vat return: %w", err)
	}

	f := func(v int64) string { return money.Format(v, homeScale) }
	list := func(m map[key]*sums) ([]VATRate, int64, int64) {
		keys := make([]key, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].letter != keys[j].letter {
				return keys[i].letter < keys[j].letter
			}
			return keys[i].code < keys[j].code
		})
		out := []VATRate{}
		var net, vat int64
		for _, k := range keys {
			out = append(out, VATRate{TaxCode: k.code, ETIMSLetter: k.letter, Rate: k.rate, Net: f(m[k].net), VAT: f(m[k].vat)})
			net += m[k].net
			vat += m[k].vat
		}
		return out, net, vat
	}
	r := VATReturn{From: from.Format(dateLayout), To: to.Format(dateLayout), Currency: home}
	var salesNet, outputVAT, purchasesNet, inputVAT int64
	r.Sales, salesNet, outputVAT = list(sales)
	r.Purchases, purchasesNet, inputVAT = list(purchases)
	r.SalesNet, r.OutputVAT, r.PurchasesNet, r.InputVAT = f(salesNet), f(outputVAT), f(purchasesNet), f(inputVAT)
	r.NetVAT = f(outputVAT - inputVAT)
	r.WithholdingVATCredits = f(credits)
	r.NetPayable = f(outputVAT - inputVAT - credits)

	t := reports.Table{Columns: []string{"section", "tax_code", "etims_letter", "rate", "net", "vat"}}
	for _, s := range r.Sales {
		t.Rows = append(t.Rows, []string{"sales", s.TaxCode, s.ETIMSLetter, s.Rate, s.Net, s.VAT})
	}
	for _, s := range r.Purchases {
		t.Rows = append(t.Rows, []string{"purchases", s.TaxCode, s.ETIMSLetter, s.Rate, s.Net, s.VAT})
	}
	t.Rows = append(t.Rows,
		[]string{"output_vat", "", "", "", r.SalesNet, r.OutputVAT},
		[]string{"input_vat", "", "", "", r.PurchasesNet, r.InputVAT},
		[]string{"net_vat", "", "", "", "", r.NetVAT},
		[]string{"withholding_vat_credits", "", "", "", "", r.WithholdingVATCredits},
		[]string{"net_payable", "", "", "", "", r.NetPayable})
	return r, t, nil
}
