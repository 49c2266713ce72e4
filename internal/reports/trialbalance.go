package reports

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
)

// TrialBalance is every account's balance on a day: API.md's shape.
type TrialBalance struct {
	AsOf     string      `json:"as_of"`
	Currency string      `json:"currency"` // the company currency
	Accounts []TBAccount `json:"accounts"`
	Totals   Totals      `json:"totals"`
}

// TBAccount is one account of the trial balance. Debit, Credit and
// Balance are in the company currency, at the rates or costs recorded on
// the lines; Balance is debits less credits (negative when the account is
// in credit), and exactly one of Debit and Credit is non-zero unless the
// account is settled. Balances are the account's totals in each currency
// or commodity it holds, natively.
type TBAccount struct {
	Code     string   `json:"code"`
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Debit    string   `json:"debit"`
	Credit   string   `json:"credit"`
	Balance  string   `json:"balance"`
	Balances []Amount `json:"balances"`
}

// Totals are the sums of the debit and credit columns; in balanced books
// they are equal.
type Totals struct {
	Debit  string `json:"debit"`
	Credit string `json:"credit"`
}

// TrialBalanceReport is the trial balance as a report Func: as_of, all.
func TrialBalanceReport(ctx context.Context, tx pgx.Tx, p Params) (any, Table, error) {
	tb, err := BuildTrialBalance(ctx, tx, p)
	if err != nil {
		return nil, Table{}, err
	}
	return tb, tb.Table(), nil
}

// BuildTrialBalance sums every account's posted lines up to p.AsOf. Only
// accounts with postings are listed unless p.All.
func BuildTrialBalance(ctx context.Context, tx pgx.Tx, p Params) (TrialBalance, error) {
	b, err := loadBooks(ctx, tx)
	if err != nil {
		return TrialBalance{}, err
	}
	ss, err := sums(ctx, tx, zeroTime, p.AsOf)
	if err != nil {
		return TrialBalance{}, err
	}
	totals, err := b.byAccount(ss)
	if err != nil {
		return TrialBalance{}, err
	}
	if p.All {
		seen := map[string]bool{}
		for _, t := range totals {
			seen[t.code] = true
		}
		for _, a := range b.accounts {
			if !seen[a.code] {
				totals = append(totals, &accountTotal{account: a})
			}
		}
		sortByCode(totals)
	}
	tb := TrialBalance{AsOf: p.AsOf.Format(dateLayout), Currency: b.currency, Accounts: make([]TBAccount, 0, len(totals))}
	var debit, credit int64
	for _, t := range totals {
		row := TBAccount{Code: t.code, Name: t.name, Type: t.typ, Debit: b.base(0), Credit: b.base(0), Balance: b.base(t.base),
			Balances: make([]Amount, 0, len(t.balances))}
		if t.base > 0 {
			row.Debit = b.base(t.base)
			debit += t.base
		} else if t.base < 0 {
			row.Credit = b.base(-t.base)
			credit -= t.base
		}
		for _, s := range t.balances {
			row.Balances = append(row.Balances, Amount{Currency: s.currency, Amount: b.native(s.amount, s.currency)})
		}
		tb.Accounts = append(tb.Accounts, row)
	}
	tb.Totals = Totals{Debit: b.base(debit), Credit: b.base(credit)}
	return tb, nil
}

// Table lays the trial balance out for CSV: one row per account, the
// native balances in one column ("USD 120.00; KES 15.00"), then totals.
func (tb TrialBalance) Table() Table {
	t := Table{Columns: []string{"code", "name", "type", "debit", "credit", "balance", "balances"}}
	for _, a := range tb.Accounts {
		t.Rows = append(t.Rows, []string{a.Code, a.Name, a.Type, a.Debit, a.Credit, a.Balance, joinAmounts(a.Balances)})
	}
	t.Rows = append(t.Rows, []string{"", "Total", "", tb.Totals.Debit, tb.Totals.Credit, "", ""})
	return t
}

func joinAmounts(as []Amount) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = a.Currency + " " + a.Amount
	}
	return strings.Join(parts, "; ")
}
