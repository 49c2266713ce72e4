package reports

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

var zeroTime time.Time // no lower bound: since the beginning of the books

// Line is one account on a statement, its amount in the company
// currency with the section's normal sign (an expense as a positive
// cost, a liability as a positive amount owed).
type Line struct {
	Code   string `json:"code"`
	Name   string `json:"name"`
	Amount string `json:"amount"`
}

// Section is a group of accounts of one type and their total.
type Section struct {
	Accounts []Line `json:"accounts"`
	Total    string `json:"total"`
}

// section builds the section of one account type from grouped totals;
// it returns the total with the section's sign.
func (b *books) section(ts []*accountTotal, typ string) (Section, int64) {
	s := Section{Accounts: []Line{}}
	var total int64
	for _, t := range ts {
		if t.typ != typ {
			continue
		}
		v := t.base
		if creditNormal(typ) {
			v = -v
		}
		total += v
		s.Accounts = append(s.Accounts, Line{Code: t.code, Name: t.name, Amount: b.base(v)})
	}
	s.Total = b.base(total)
	return s, total
}

func (s Section) rows(heading string) [][]string {
	out := make([][]string, 0, len(s.Accounts)+1)
	for _, l := range s.Accounts {
		out = append(out, []string{heading, l.Code, l.Name, l.Amount})
	}
	return append(out, []string{heading, "", "Total " + heading, s.Total})
}

// ProfitAndLoss is income less expenses over a period.
type ProfitAndLoss struct {
	From      string  `json:"from"`
	To        string  `json:"to"`
	Currency  string  `json:"currency"`
	Income    Section `json:"income"`
	Expenses  Section `json:"expenses"`
	NetProfit string  `json:"net_profit"` // income − expenses; negative is a loss
}

// ProfitAndLossReport is the profit and loss as a report Func: from, to.
func ProfitAndLossReport(ctx context.Context, tx pgx.Tx, p Params) (any, Table, error) {
	pl, err := BuildProfitAndLoss(ctx, tx, p)
	if err != nil {
		return nil, Table{}, err
	}
	return pl, pl.Table(), nil
}

// BuildProfitAndLoss sums income and expense accounts over p.From..p.To.
func BuildProfitAndLoss(ctx context.Context, tx pgx.Tx, p Params) (ProfitAndLoss, error) {
	b, err := loadBooks(ctx, tx)
	if err != nil {
		return ProfitAndLoss{}, err
	}
	ss, err := sums(ctx, tx, p.From, p.To, TypeIncome, TypeExpense)
	if err != nil {
		return ProfitAndLoss{}, err
	}
	ts, err := b.byAccount(ss)
	if err != nil {
		return ProfitAndLoss{}, err
	}
	pl := ProfitAndLoss{From: p.From.Format(dateLayout), To: p.To.Format(dateLayout), Currency: b.currency}
	var income, expenses int64
	pl.Income, income = b.section(ts, TypeIncome)
	pl.Expenses, expenses = b.section(ts, TypeExpense)
	pl.NetProfit = b.base(income - expenses)
	return pl, nil
}

// Table lays the profit and loss out as section, code, name, amount.
func (pl ProfitAndLoss) Table() Table {
	t := Table{Columns: []string{"section", "code", "name", "amount"}}
	t.Rows = append(t.Rows, pl.Income.rows("income")...)
	t.Rows = append(t.Rows, pl.Expenses.rows("expenses")...)
	t.Rows = append(t.Rows, []string{"", "", "Net profit", pl.NetProfit})
	return t
}

// BalanceSheet is assets, liabilities and equity on a day. Income and
// expenses not yet closed to retained earnings are CurrentEarnings, so
// that Assets.Total = TotalLiabilitiesAndEquity exactly.
type BalanceSheet struct {
	AsOf                      string  `json:"as_of"`
	Currency                  string  `json:"currency"`
	Assets                    Section `json:"assets"`
	Liabilities               Section `json:"liabilities"`
	Equity                    Section `json:"equity"`
	CurrentEarnings           string  `json:"current_earnings"`
	TotalLiabilitiesAndEquity string  `json:"total_liabilities_and_equity"` // liabilities + equity + current earnings
	Balanced                  bool    `json:"balanced"`
}

// BalanceSheetReport is the balance sheet as a report Func: as_of.
func BalanceSheetReport(ctx context.Context, tx pgx.Tx, p Params) (any, Table, error) {
	bs, err := BuildBalanceSheet(ctx, tx, p)
	if err != nil {
		return nil, Table{}, err
	}
	return bs, bs.Table(), nil
}

// BuildBalanceSheet sums every account up to p.AsOf. Current earnings
// are all income less all expenses up to that day: closing a year moves
// its income and expenses into retained earnings, so what is left on
// them is exactly what has not been closed.
func BuildBalanceSheet(ctx context.Context, tx pgx.Tx, p Params) (BalanceSheet, error) {
	b, err := loadBooks(ctx, tx)
	if err != nil {
		return BalanceSheet{}, err
	}
	ss, err := sums(ctx, tx, zeroTime, p.AsOf)
	if err != nil {
		return BalanceSheet{}, err
	}
	ts, err := b.byAccount(ss)
	if err != nil {
		return BalanceSheet{}, err
	}
	bs := BalanceSheet{AsOf: p.AsOf.Format(dateLayout), Currency: b.currency}
	var assets, liabilities, equity, earnings int64
	bs.Assets, assets = b.section(ts, TypeAsset)
	bs.Liabilities, liabilities = b.section(ts, TypeLiability)
	bs.Equity, equity = b.section(ts, TypeEquity)
	for _, t := range ts {
		if t.typ == TypeIncome || t.typ == TypeExpense {
			earnings -= t.base
		}
	}
	bs.CurrentEarnings = b.base(earnings)
	bs.TotalLiabilitiesAndEquity = b.base(liabilities + equity + earnings)
	bs.Balanced = assets == liabilities+equity+earnings
	return bs, nil
}

// Table lays the balance sheet out as section, code, name, amount.
func (bs BalanceSheet) Table() Table {
	t := Table{Columns: []string{"section", "code", "name", "amount"}}
	t.Rows = append(t.Rows, bs.Assets.rows("assets")...)
	t.Rows = append(t.Rows, bs.Liabilities.rows("liabilities")...)
	t.Rows = append(t.Rows, bs.Equity.rows("equity")...)
	t.Rows = append(t.Rows,
		[]string{"equity", "", "Current earnings", bs.CurrentEarnings},
		[]string{"", "", "Total liabilities and equity", bs.TotalLiabilitiesAndEquity})
	return t
}
