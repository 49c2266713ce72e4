package reports

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/ledger"
	"github.com/vanta-ledger/vanta/internal/money"
)

// model is what the test posted, kept by itself: every line with its
// date, account, currency, native amount and the company-currency amount
// the test computed from the rate (money.Convert, as the rules say).
type model struct {
	lines []modelLine
	types map[string]string // account code → type
}

type modelLine struct {
	date     time.Time
	code     string
	currency string
	amount   int64
	base     int64
}

// add records an entry's lines as the ledger must book them.
func (m *model) add(t *testing.T, e ledger.EntryInput) {
	t.Helper()
	d, err := time.Parse(dateLayout, e.Date)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range e.Lines {
		cur, base := l.Currency, l.Amount
		if cur == "" {
			cur = "KES"
		}
		if cur != "KES" {
			rate, err := money.ParseRate(l.Rate)
			if err != nil {
				t.Fatal(err)
			}
			if base, err = money.Convert(l.Amount, 2, rate, 2); err != nil {
				t.Fatal(err)
			}
		}
		m.lines = append(m.lines, modelLine{date: d, code: l.Account, currency: cur, amount: l.Amount, base: base})
	}
}

// balances are the model's totals per account through a day: base and
// native per currency, only for accounts with lines (as the trial
// balance lists them).
func (m *model) balances(through time.Time) (base map[string]int64, native map[string]map[string]int64) {
	base, native = map[string]int64{}, map[string]map[string]int64{}
	for _, l := range m.lines {
		if l.date.After(through) {
			continue
		}
		base[l.code] += l.base
		if native[l.code] == nil {
			native[l.code] = map[string]int64{}
		}
		native[l.code][l.currency] += l.amount
	}
	return base, native
}

// byType totals the model's base amounts of one account type over a period.
func (m *model) byType(from, to time.Time, typ string) int64 {
	var n int64
	for _, l := range m.lines {
		if !l.date.Before(from) && !l.date.After(to) && m.types[l.code] == typ {
			n += l.base
		}
	}
	return n
}

func kes(t *testing.T, s string) int64 {
	t.Helper()
	n, err := money.Parse(s, 2)
	if err != nil {
		t.Fatalf("amount %q: %v", s, err)
	}
	return n
}

func ymd(s string) time.Time {
	d, err := time.Parse(dateLayout, s)
	if err != nil {
		panic(err)
	}
	return d
}

// yearOfActivity makes a year (2025) of an SME's books, after the owner's
// capital on 31 December 2024: sales with 16% VAT and their receipts,
// purchases with input VAT and their payments, a monthly payroll with
// PAYE and NSSF withheld and remitted the next month, rent, a sale in US
// dollars at a rate, a conversion of dollars to shillings through the
// conversion account, a wrong expense reversed the next day, and an audit
// fee accrued in November on accounts not used before. Entries
// come month by month, each month one PostBatch.
func yearOfActivity(t *testing.T, e *env) *model {
	t.Helper()
	ctx := context.Background()
	m := &model{types: map[string]string{}}
	e.in(t, func(tx pgx.Tx) error {
		if _, err := ledger.EnsureAccount(ctx, tx, ledger.Account{Code: "1105", Name: "Bank USD", Type: ledger.TypeAsset, Currency: "USD"}); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, "SELECT code, type FROM accounts")
		if err != nil {
			return err
		}
		var code, typ string
		_, err = pgx.ForEachRow(rows, []any{&code, &typ}, func() error { m.types[code] = typ; return nil })
		return err
	})
	rng := rand.New(rand.NewPCG(10, 2025))
	entry := func(date, desc string, lines ...ledger.LineInput) ledger.EntryInput {
		return ledger.EntryInput{Date: date, Description: desc, Status: ledger.StatusPosted, Lines: lines}
	}
	l := func(code string, amount int64) ledger.LineInput {
		return ledger.LineInput{Account: code, Amount: amount}
	}
	fx := func(code string, amount int64, rate string) ledger.LineInput {
		return ledger.LineInput{Account: code, Amount: amount, Currency: "USD", Rate: rate}
	}
	postMonth := func(batch []ledger.EntryInput) {
		e.post(t, batch)
		for _, en := range batch {
			m.add(t, en)
		}
	}

	postMonth([]ledger.EntryInput{entry("2024-12-31", "Owner's capital", l("1100", 5_000_000_00), l("3000", -5_000_000_00))})
	var openAR, openAP []int64
	var paye, nssf int64
	for month := time.January; month <= time.December; month++ {
		var batch []ledger.EntryInput
		first := time.Date(2025, month, 1, 0, 0, 0, 0, time.UTC)
		last := first.AddDate(0, 1, -1)
		for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
			ds := d.Format(dateLayout)
			if d.Weekday() == time.Sunday {
				continue
			}
			for range 1 + rng.IntN(3) {
				net := int64(1_000+rng.IntN(49_000)) * 100 // whole shillings, so 16% is exact
				vat := net * 16 / 100
				batch = append(batch, entry(ds, "Sale", l("1200", net+vat), l("4000", -net), l("2200", -vat)))
				openAR = append(openAR, net+vat)
			}
			if d.Day()%3 == 0 && len(openAR) > 1 {
				batch = append(batch, entry(ds, "Receipt", l("1100", openAR[0]), l("1200", -openAR[0])))
				openAR = openAR[1:]
			}
			if d.Day()%2 == 0 {
				net := int64(500+rng.IntN(20_000)) * 100
				vat := net * 16 / 100
				batch = append(batch, entry(ds, "Purchase", l("5000", net), l("1300", vat), l("2100", -(net+vat))))
				openAP = append(openAP, net+vat)
			}
			if d.Day()%5 == 0 && len(openAP) > 1 {
				batch = append(batch, entry(ds, "Payment to supplier", l("2100", openAP[0]), l("1100", -openAP[0])))
				openAP = openAP[1:]
			}
		}
		if paye > 0 {
			batch = append(batch, entry(time.Date(2025, month, 9, 0, 0, 0, 0, time.UTC).Format(dateLayout), "PAYE and NSSF remitted",
				l("2300", paye), l("2310", nssf), l("1100", -(paye+nssf))))
		}
		gross := int64(600_000_00 + rng.IntN(50_000)*100)
		paye, nssf = gross*25/100, 4_320_00
		batch = append(batch,
			entry(last.Format(dateLayout), "Payroll", l("6100", gross), l("2300", -paye), l("2310", -nssf), l("1100", -(gross-paye-nssf))),
			entry(time.Date(2025, month, 1, 0, 0, 0, 0, time.UTC).Format(dateLayout), "Rent", l("6200", 85_000_00), l("1100", -85_000_00)))
		switch month {
		case time.June:
			batch = append(batch, entry("2025-06-15", "Export sale, USD 2,500.00 at 129.45",
				fx("1105", 2_500_00, "129.45"), fx("4000", -2_500_00, "129.45")))
		case time.November:
			// An account first used late in the year: the month ends
			// before it must not list it.
			batch = append(batch, entry("2025-11-20", "Audit fee", l("6700", 150_000_00), l("2400", -150_000_00)))
		case time.July:
			batch = append(batch, entry("2025-07-10", "USD 1,000.00 sold at 130.10",
				l("1100", 130_100_00), l("3900", -130_100_00), fx("3900", 1_000_00, "130.10"), fx("1105", -1_000_00, "130.10")))
		}
		sort.SliceStable(batch, func(i, j int) bool { return batch[i].Date < batch[j].Date })
		postMonth(batch)
		if month == time.March {
			// A wrong expense, posted and reversed by the ledger.
			wrong := entry("2025-03-05", "Transport (wrong)", l("6500", 12_345_00), l("1100", -12_345_00))
			e.in(t, func(tx pgx.Tx) error {
				posted, err := ledger.PostBatch(ctx, tx, []ledger.EntryInput{wrong}, tester)
				if err != nil {
					return err
				}
				_, err = ledger.Reverse(ctx, tx, posted[0].ID, "2025-03-06", "Reversal: transport posted in error", tester)
				return err
			})
			m.add(t, wrong)
			m.add(t, entry("2025-03-06", "mirror", l("6500", -12_345_00), l("1100", 12_345_00)))
		}
	}
	return m
}

// TestYearOfBooks is acceptance 6 and the reports' exactness: over a
// generated year posted with ledger.PostBatch against real PostgreSQL,
// at every month end the balance sheet balances (assets = liabilities +
// equity + current earnings), the trial balance's totals are equal and
// every account's company-currency balance and native balances equal what
// the test itself summed from what it posted; the profit and loss for the
// year equals the change in equity; the general ledger's pages add up.
func TestYearOfBooks(t *testing.T) {
	e := setup(t)
	m := yearOfActivity(t, e)
	t.Logf("posted %d lines", len(m.lines))

	ends := []time.Time{ymd("2024-12-31")}
	for month := time.January; month <= time.December; month++ {
		ends = append(ends, time.Date(2025, month+1, 0, 0, 0, 0, 0, time.UTC))
	}
	equityAt := map[time.Time]int64{} // equity + current earnings, credit positive
	for _, end := range ends {
		day := end.Format(dateLayout)
		base, native := m.balances(end)

		tb := e.report(t, TrialBalanceReport, Params{AsOf: end}).(TrialBalance)
		if tb.Totals.Debit != tb.Totals.Credit {
			t.Errorf("%s: trial balance debits %s ≠ credits %s", day, tb.Totals.Debit, tb.Totals.Credit)
		}
		if len(tb.Accounts) != len(native) {
			t.Errorf("%s: trial balance lists %d accounts, %d have postings", day, len(tb.Accounts), len(native))
		}
		var debits int64
		for _, a := range tb.Accounts {
			if got := kes(t, a.Balance); got != base[a.Code] {
				t.Errorf("%s: %s balance %s, posted %s", day, a.Code, a.Balance, money.Format(base[a.Code], 2))
			}
			if kes(t, a.Debit)-kes(t, a.Credit) != base[a.Code] {
				t.Errorf("%s: %s debit %s credit %s for a balance of %s", day, a.Code, a.Debit, a.Credit, a.Balance)
			}
			debits += kes(t, a.Debit)
			if len(a.Balances) != len(native[a.Code]) {
				t.Errorf("%s: %s has balances %v, posted %v", day, a.Code, a.Balances, native[a.Code])
			}
			for _, b := range a.Balances {
				if want := native[a.Code][b.Currency]; kes(t, b.Amount) != want {
					t.Errorf("%s: %s in %s: %s, posted %s", day, a.Code, b.Currency, b.Amount, money.Format(want, 2))
				}
			}
		}
		if debits != kes(t, tb.Totals.Debit) {
			t.Errorf("%s: debits add up to %s, total says %s", day, money.Format(debits, 2), tb.Totals.Debit)
		}

		bs := e.report(t, BalanceSheetReport, Params{AsOf: end}).(BalanceSheet)
		assets, liabilities, equity := kes(t, bs.Assets.Total), kes(t, bs.Liabilities.Total), kes(t, bs.Equity.Total)
		earnings := kes(t, bs.CurrentEarnings)
		if !bs.Balanced || assets != liabilities+equity+earnings || kes(t, bs.TotalLiabilitiesAndEquity) != assets {
			t.Errorf("%s: balance sheet does not balance: assets %s, liabilities %s, equity %s, current earnings %s",
				day, bs.Assets.Total, bs.Liabilities.Total, bs.Equity.Total, bs.CurrentEarnings)
		}
		zero := time.Time{}
		if want := m.byType(zero, end, TypeAsset); assets != want {
			t.Errorf("%s: assets %s, posted %s", day, bs.Assets.Total, money.Format(want, 2))
		}
		if want := -m.byType(zero, end, TypeIncome) - m.byType(zero, end, TypeExpense); earnings != want {
			t.Errorf("%s: current earnings %s, posted %s", day, bs.CurrentEarnings, money.Format(want, 2))
		}
		equityAt[end] = equity + earnings
	}

	from, to := ymd("2025-01-01"), ymd("2025-12-31")
	pl := e.report(t, ProfitAndLossReport, Params{From: from, To: to}).(ProfitAndLoss)
	net := kes(t, pl.NetProfit)
	if change := equityAt[to] - equityAt[ymd("2024-12-31")]; net != change {
		t.Errorf("profit for 2025 %s, but equity changed by %s", pl.NetProfit, money.Format(change, 2))
	}
	if want := -m.byType(from, to, TypeIncome) - m.byType(from, to, TypeExpense); net != want {
		t.Errorf("profit for 2025 %s, posted %s", pl.NetProfit, money.Format(want, 2))
	}
	if kes(t, pl.Income.Total)-kes(t, pl.Expenses.Total) != net || net <= 0 {
		t.Errorf("income %s − expenses %s ≠ net %s (or no profit, which this year should make)", pl.Income.Total, pl.Expenses.Total, pl.NetProfit)
	}

	// The general ledger of the bank, whole and in pages of 37 lines.
	whole := e.report(t, GeneralLedgerReport, Params{Account: "1100", From: from, To: to, Limit: MaxLimit}).(GeneralLedger)
	if whole.NextCursor != "" {
		t.Fatalf("a year of the bank fits in %d lines, yet a next page", MaxLimit)
	}
	base, _ := m.balances(to)
	open, _ := m.balances(ymd("2024-12-31"))
	if kes(t, whole.Opening) != open["1100"] || kes(t, whole.Closing) != base["1100"] {
		t.Errorf("bank opening %s closing %s, posted %s and %s", whole.Opening, whole.Closing, money.Format(open["1100"], 2), money.Format(base["1100"], 2))
	}
	running := kes(t, whole.Opening)
	for i, ln := range whole.Lines {
		running += kes(t, ln.Debit) - kes(t, ln.Credit)
		if kes(t, ln.Balance) != running {
			t.Fatalf("line %d: running balance %s, lines add up to %s", i, ln.Balance, money.Format(running, 2))
		}
	}
	if running != kes(t, whole.Closing) {
		t.Errorf("bank lines end at %s, closing balance %s", money.Format(running, 2), whole.Closing)
	}
	var paged []GLLine
	p := Params{Account: "1100", From: from, To: to, Limit: 37}
	for pages := 0; ; pages++ {
		page := e.report(t, GeneralLedgerReport, p).(GeneralLedger)
		paged = append(paged, page.Lines...)
		if page.NextCursor == "" {
			break
		}
		if pages > len(whole.Lines) {
			t.Fatal("the pages never end")
		}
		p.Cursor = page.NextCursor
	}
	if fmt.Sprint(paged) != fmt.Sprint(whole.Lines) {
		t.Errorf("%d lines in pages differ from the %d of one read", len(paged), len(whole.Lines))
	}
}
