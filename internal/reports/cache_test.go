package reports

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/ledger"
)

func sale(date string, amount int64) ledger.EntryInput {
	return ledger.EntryInput{Date: date, Description: "Cash sale", Status: ledger.StatusPosted, Lines: []ledger.LineInput{
		{Account: "1100", Amount: amount}, {Account: "4000", Amount: -amount}}}
}

// TestCacheFollowsPostings: a report asked twice with nothing posted in
// between comes from the company's Redis key space the second time; a
// posting after a cached report changes the next answer, with no
// invalidation step, because the posting raised the generation the key
// holds.
func TestCacheFollowsPostings(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	r := Runner{DB: e.app, Redis: e.redis, MAC: []byte("a key of this process alone, 32b")}
	p := Params{AsOf: ymd("2026-01-31")}
	e.post(t, []ledger.EntryInput{sale("2026-01-10", 1_000_00)})

	bank := func(out Output) string {
		t.Helper()
		var tb TrialBalance
		if err := json.Unmarshal(out.JSON, &tb); err != nil {
			t.Fatal(err)
		}
		for _, a := range tb.Accounts {
			if a.Code == "1100" {
				return a.Balance
			}
		}
		return "none"
	}
	first, err := r.Run(ctx, e.s, "trial-balance", p, TrialBalanceReport)
	if err != nil {
		t.Fatal(err)
	}
	if first.Cached || bank(first) != "1000.00" {
		t.Fatalf("first answer: cached %v, bank %s", first.Cached, bank(first))
	}
	key := Key(e.s, first.Generation, "trial-balance", p)
	if !strings.HasPrefix(key, e.s.RedisPrefix()+"reports:") {
		t.Errorf("key %q is outside the company's key space %q", key, e.s.RedisPrefix())
	}
	if n, err := e.redis.Exists(ctx, key).Result(); err != nil || n != 1 {
		t.Fatalf("the report is not cached under %s: %d %v", key, n, err)
	}
	if ttl := e.redis.TTL(ctx, key).Val(); ttl <= 0 || ttl > DefaultTTL {
		t.Errorf("cached for %v, want a short expiry", ttl)
	}
	second, err := r.Run(ctx, e.s, "trial-balance", p, TrialBalanceReport)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Cached || string(second.JSON) != string(first.JSON) || len(second.Table.Rows) != len(first.Table.Rows) {
		t.Errorf("second answer: cached %v, %s (first %s)", second.Cached, second.JSON, first.JSON)
	}

	// A report written into Redis by anyone but this process (here: the
	// cached one with its figure changed) is not served.
	raw, err := e.redis.Get(ctx, key).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	forged := bytes.Replace(raw, []byte(`"1000.00"`), []byte(`"9000.00"`), 1)
	if bytes.Equal(forged, raw) {
		t.Fatalf("no figure to forge in %s", raw)
	}
	if err := e.redis.Set(ctx, key, forged, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Run(ctx, e.s, "trial-balance", p, TrialBalanceReport); err != nil || got.Cached || bank(got) != "1000.00" {
		t.Errorf("after forging the cache: cached %v, bank %s, %v", got.Cached, bank(got), err)
	}

	e.post(t, []ledger.EntryInput{sale("2026-01-20", 250_00)})
	third, err := r.Run(ctx, e.s, "trial-balance", p, TrialBalanceReport)
	if err != nil {
		t.Fatal(err)
	}
	if third.Cached || third.Generation <= first.Generation || bank(third) != "1250.00" {
		t.Errorf("after a posting: cached %v, generation %d (was %d), bank %s, want 1250.00",
			third.Cached, third.Generation, first.Generation, bank(third))
	}
	// Other parameters are another report.
	other, err := r.Run(ctx, e.s, "trial-balance", Params{AsOf: ymd("2026-01-15")}, TrialBalanceReport)
	if err != nil {
		t.Fatal(err)
	}
	if other.Cached || bank(other) != "1000.00" {
		t.Errorf("as of the 15th: cached %v, bank %s", other.Cached, bank(other))
	}
}

// TestUnknownAccount: the general ledger names its account parameter when
// it is missing or no account has the code.
func TestUnknownAccount(t *testing.T) {
	e := setup(t)
	r := Runner{DB: e.app, Redis: e.redis}
	for _, code := range []string{"", "9999"} {
		_, err := r.Run(context.Background(), e.s, "general-ledger", Params{Account: code, From: ymd("2026-01-01"), To: ymd("2026-01-31"), Limit: 10}, GeneralLedgerReport)
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Field != "account" {
			t.Errorf("account %q: %v, want a ParamError naming account", code, err)
		}
	}
}

// TestTrialBalanceAll: only accounts with postings on or before as_of
// are listed, unless all=true lists the whole chart, the others at zero.
func TestTrialBalanceAll(t *testing.T) {
	e := setup(t)
	e.post(t, []ledger.EntryInput{sale("2026-01-10", 1_000_00), sale("2026-02-10", 5_00)})
	var chart int
	e.in(t, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), "SELECT count(*) FROM accounts").Scan(&chart)
	})
	tb := e.report(t, TrialBalanceReport, Params{AsOf: ymd("2026-01-31")}).(TrialBalance)
	if len(tb.Accounts) != 2 || tb.Accounts[0].Code != "1100" || tb.Accounts[0].Debit != "1000.00" || tb.Accounts[1].Credit != "1000.00" {
		t.Errorf("posted accounts only: %+v", tb.Accounts)
	}
	if before := e.report(t, TrialBalanceReport, Params{AsOf: ymd("2026-01-09")}).(TrialBalance); len(before.Accounts) != 0 || before.Totals.Debit != "0.00" {
		t.Errorf("before any posting: %+v", before)
	}
	all := e.report(t, TrialBalanceReport, Params{AsOf: ymd("2026-01-31"), All: true}).(TrialBalance)
	if len(all.Accounts) != chart || all.Totals != tb.Totals {
		t.Errorf("all=true lists %d of %d accounts, totals %+v (posted only: %+v)", len(all.Accounts), chart, all.Totals, tb.Totals)
	}
	for i, a := range all.Accounts {
		if i > 0 && all.Accounts[i-1].Code >= a.Code {
			t.Errorf("accounts out of code order: %s before %s", all.Accounts[i-1].Code, a.Code)
		}
		if a.Code != "1100" && a.Code != "4000" && (a.Balance != "0.00" || a.Balances == nil || len(a.Balances) != 0) {
			t.Errorf("unposted %s: %+v", a.Code, a)
		}
	}
}
