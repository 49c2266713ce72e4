package interchange

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math/big"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/journal"
	"github.com/vanta-ledger/vanta/internal/ledger"
	"github.com/vanta-ledger/vanta/internal/money"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// exportLine is one posted line with its entry, in export order.
type exportLine struct {
	number                       int64
	date, description, reference string
	code, name, currency, rate   string
	amount, base                 int64
	memo                         string
}

func exportLines(ctx context.Context, tx pgx.Tx, each func(exportLine) error) error {
	rows, err := tx.Query(ctx, `SELECT e.number, e.date::text, e.description, e.reference, a.code, a.name, l.currency,
			coalesce(l.rate::text, ''), l.amount, l.base_amount, l.memo
		FROM journal_entries e JOIN journal_lines l ON l.entry_id = e.id JOIN accounts a ON a.id = l.account_id
		WHERE e.status = 'posted' ORDER BY e.date, e.number, l.line_no`)
	if err != nil {
		return wrap("read the books", err)
	}
	var l exportLine
	_, err = pgx.ForEachRow(rows, []any{&l.number, &l.date, &l.description, &l.reference, &l.code, &l.name, &l.currency,
		&l.rate, &l.amount, &l.base, &l.memo}, func() error { return each(l) })
	return wrap("read the books", err)
}

// oneLine makes text fit a journal header: no line breaks, no comment
// start, no surrounding spaces (which the reader would drop).
func oneLine(s string) string {
	s = strings.Join(strings.Fields(strings.ReplaceAll(s, ";", ",")), " ")
	return s
}

// memoComment keeps a memo's lines, trimmed as the reader trims them.
func memoComment(s string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	lines := strings.Split(strings.ReplaceAll(s, "\r", ""), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, "\n")
}

var typeLetter = map[string]string{ledger.TypeAsset: "A", ledger.TypeLiability: "L", ledger.TypeEquity: "E",
	ledger.TypeIncome: "R", ledger.TypeExpense: "X"}

// ExportJournal writes the company's posted books as a journal hledger
// and ledger-cli read: every account declared with its type (and its name
// when that is not the last part of its code), every currency declared
// with its decimals, then the entries in date and number order. A line in
// another currency than the company's carries its company-currency value
// as a total cost (@@), so hledger balances each entry exactly as the
// books do, and an import of the file gives the same books back.
func ExportJournal(ctx context.Context, tx pgx.Tx, w io.Writer) error {
	company, _, err := ledger.CompanyCurrency(ctx, tx)
	if err != nil {
		return err
	}
	cs, err := ledger.Currencies(ctx, tx)
	if err != nil {
		return err
	}
	j := &journal.Journal{Styles: map[string]journal.Style{}}
	scales := map[string]int{}
	for _, c := range cs {
		scales[c.Code] = c.Scale
		j.Commodities = append(j.Commodities, journal.CommodityDecl{Symbol: c.Code, Precision: c.Scale})
		j.Styles[c.Code] = journal.Style{Spaced: true, Decimal: '.'}
	}
	rows, err := tx.Query(ctx, "SELECT code, name, type FROM accounts ORDER BY code")
	if err != nil {
		return wrap("read the accounts", err)
	}
	var code, name, typ string
	if _, err := pgx.ForEachRow(rows, []any{&code, &name, &typ}, func() error {
		c := "type: " + typeLetter[typ]
		if name != code[strings.LastIndexByte(code, ':')+1:] {
			c += "\nname: " + oneLine(name)
		}
		j.Accounts = append(j.Accounts, journal.AccountDecl{Name: code, Comment: c})
		return nil
	}); err != nil {
		return wrap("read the accounts", err)
	}
	amount := func(v int64, cur string) journal.Amount {
		s := scales[cur]
		return journal.Amount{Commodity: cur, Quantity: new(big.Rat).SetFrac(big.NewInt(v), pow10(s)), Places: s}
	}
	var last int64 = -1
	err = exportLines(ctx, tx, func(l exportLine) error {
		if l.number != last {
			last = l.number
			j.Transactions = append(j.Transactions, journal.Transaction{Date: l.date, Status: "*",
				Code: strings.NewReplacer(")", "]", "(", "[").Replace(oneLine(l.reference)), Description: oneLine(l.description)})
		}
		t := &j.Transactions[len(j.Transactions)-1]
		a := amount(l.amount, l.currency)
		p := journal.Posting{Account: l.code, Amount: &a, Comment: memoComment(l.memo)}
		if l.currency != company {
			p.Cost = &journal.Cost{Total: true, Amount: amount(abs(l.base), company)}
		}
		t.Postings = append(t.Postings, p)
		return nil
	})
	if err != nil {
		return err
	}
	return journal.Print(w, j)
}

// ExportCSV writes one row per posted line: the entry's number, date,
// description and reference, the account, the amount as debit or credit
// in its currency, the rate, and the company-currency debit or credit.
func ExportCSV(ctx context.Context, tx pgx.Tx, w io.Writer) error {
	company, cscale, err := ledger.CompanyCurrency(ctx, tx)
	if err != nil {
		return err
	}
	cs, err := ledger.Currencies(ctx, tx)
	if err != nil {
		return err
	}
	scales := map[string]int{}
	for _, c := range cs {
		scales[c.Code] = c.Scale
	}
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"number", "date", "description", "reference", "account", "account_name", "currency",
		"debit", "credit", "rate", "base_debit", "base_credit", "memo"})
	split := func(v int64, s int) (string, string) {
		if v >= 0 {
			return money.Format(v, s), ""
		}
		return "", money.Format(-v, s)
	}
	err = exportLines(ctx, tx, func(l exportLine) error {
		d, c := split(l.amount, scales[l.currency])
		bd, bc := split(l.base, cscale)
		rate := l.rate
		if l.currency == company {
			rate = ""
		}
		return cw.Write([]string{fmt.Sprint(l.number), l.date, csvSafe(l.description), csvSafe(l.reference), csvSafe(l.code),
			csvSafe(l.name), l.currency, d, c, rate, bd, bc, csvSafe(l.memo)})
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return wrap("write CSV", cw.Error())
}

// csvSafe keeps a spreadsheet from running a cell as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// Export writes the company's books in format (journal or csv).
func (r Runner) Export(ctx context.Context, format string, w io.Writer) error {
	return tenancy.InTx(ctx, r.Status, r.Scope, func(tx pgx.Tx) error {
		if format == FormatCSV {
			return ExportCSV(ctx, tx, w)
		}
		return ExportJournal(ctx, tx, w)
	})
}
