package security

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vanta-ledger/vanta/internal/alerts"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func addCompany(t *testing.T, owner *pgxpool.Pool) uuid.UUID {
	t.Helper()
	id := uuid.New()
	if _, err := owner.Exec(context.Background(), "INSERT INTO vanta.companies (id, name, status) VALUES ($1, 'Acme', 'active')", id); err != nil {
		t.Fatal(err)
	}
	return id
}

func kinds(evs []Event) []Kind {
	out := make([]Kind, len(evs))
	for i, e := range evs {
		out[i] = e.Kind
	}
	return out
}

// Failed sign-ins from one address become one brute_force event once the
// rule's count falls within its window; failures spread wider than the
// window do not; the event is raised once per window per address.
func TestBruteForceWindowAndDedup(t *testing.T) {
	app, _ := testDB(t)
	st := Store{DB: app}
	ctx := context.Background()
	rule := BruteForceRule{Failures: 3, Window: 10 * time.Minute}
	fail := func(at time.Time, ip string, user uuid.UUID) []Event {
		t.Helper()
		found, err := st.RecordLoginFailure(ctx, Event{Time: at, IP: ip, UserID: userID(user), Details: map[string]any{"reason": "bad_password"}}, rule)
		if err != nil {
			t.Fatal(err)
		}
		return found
	}
	// Slow guessing: 3 failures, each 6 minutes apart, never 3 in 10 min.
	for i := range 3 {
		if got := fail(t0.Add(time.Duration(i)*6*time.Minute), "198.51.100.1", uuid.Nil); len(got) != 0 {
			t.Fatalf("slow failure %d raised %v", i, got)
		}
	}
	// Fast guessing from another address: the third within the window raises it.
	ip := "203.0.113.7"
	var raised []Event
	for i := range 3 {
		raised = append(raised, fail(t0.Add(time.Duration(i)*time.Minute), ip, uuid.Nil)...)
	}
	if len(raised) != 1 || raised[0].Kind != BruteForce || raised[0].IP != ip || raised[0].Details["by"] != "ip" {
		t.Fatalf("fast guessing raised %+v", raised)
	}
	// More failures inside the same window: no second event.
	for i := 3; i < 8; i++ {
		if got := fail(t0.Add(time.Duration(i)*time.Minute), ip, uuid.Nil); len(got) != 0 {
			t.Fatalf("failure %d in the same window raised again: %+v", i, got)
		}
	}
	// A window later, still guessing: one more.
	later := t0.Add(7*time.Minute + rule.Window + time.Second)
	raised = nil
	for i := range 3 {
		raised = append(raised, fail(later.Add(time.Duration(i)*time.Second), ip, uuid.Nil)...)
	}
	if len(raised) != 1 {
		t.Fatalf("the next window raised %d events, want 1", len(raised))
	}
	// One account from many addresses: by user.
	victim := uuid.New()
	raised = nil
	for i := range 3 {
		raised = append(raised, fail(t0.Add(time.Duration(i)*time.Second), "192.0.2."+string(rune('1'+i)), victim)...)
	}
	if len(raised) != 1 || raised[0].Details["by"] != "user_id" || raised[0].UserID.UUID != victim {
		t.Fatalf("spread over addresses raised %+v", raised)
	}
	evs, _, err := st.List(ctx, Filter{Kind: BruteForce})
	if err != nil || len(evs) != 3 {
		t.Fatalf("brute_force listed %d (%v), want 3", len(evs), err)
	}
}

// GOD's first address is the baseline; another one is new; coming back to
// an address after the configured days is new again; within them not.
func TestGODNewAddress(t *testing.T) {
	app, _ := testDB(t)
	st := Store{DB: app}
	ctx := context.Background()
	god := uuid.New()
	days := 30 * 24 * time.Hour
	note := func(ip string, at time.Time) bool {
		t.Helper()
		isNew, err := st.NoteGODAddress(ctx, god, ip, at, days)
		if err != nil {
			t.Fatal(err)
		}
		return isNew
	}
	if note("192.0.2.10", t0) {
		t.Error("the first address raised an event")
	}
	if note("192.0.2.10", t0.Add(time.Hour)) {
		t.Error("the same address again raised an event")
	}
	if !note("198.51.100.9", t0.Add(2*time.Hour)) {
		t.Error("a second address raised nothing")
	}
	if note("198.51.100.9", t0.Add(20*24*time.Hour)) {
		t.Error("an address used 20 days ago raised an event")
	}
	if !note("192.0.2.10", t0.Add(40*24*time.Hour)) {
		t.Error("an address unused for 40 days raised nothing")
	}
	evs, _, err := st.List(ctx, Filter{Kind: GODNewAddress})
	if err != nil || len(evs) != 2 || evs[0].IP != "192.0.2.10" || evs[0].Details["last_seen"] == nil || evs[1].IP != "198.51.100.9" {
		t.Fatalf("god_new_address events %+v (%v)", evs, err)
	}
}

// Summary counts per company and kind; a probe naming a company that does
// not exist counts towards none; listing filters and pages; a company's
// admin sees its own events only, without the prober's identity.
func TestSummaryListAndCompanyView(t *testing.T) {
	app, owner := testDB(t)
	st := Store{DB: app}
	ctx := context.Background()
	a, b := addCompany(t, owner), addCompany(t, owner)
	prober := uuid.New()
	probe := func(at time.Time, company uuid.UUID) {
		t.Helper()
		e := Event{Time: at, Kind: CrossCompanyProbe, CompanyID: uuid.NullUUID{UUID: company, Valid: true}, UserID: userID(prober), IP: "192.0.2.44",
			Details: map[string]any{"route": "/api/v1/companies/:cid"}}
		if err := st.Insert(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	probe(t0.Add(-48*time.Hour), b)
	probe(t0.Add(-time.Minute), b)
	probe(t0.Add(-time.Minute), b)
	probe(t0.Add(-time.Minute), a)
	probe(t0.Add(-time.Minute), uuid.New()) // no such company
	if err := st.Insert(ctx, Event{Time: t0, Kind: UnsealFailed, IP: "192.0.2.1", Details: map[string]any{"refused": "unknown"}}); err != nil {
		t.Fatal(err)
	}
	sum, err := st.Summary(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]int64{}
	for _, c := range sum {
		got[companyLabel(c.CompanyID)+"/"+string(c.Kind)] = [2]int64{c.Count, c.Last24h}
	}
	want := map[string][2]int64{
		"system/" + string(CrossCompanyProbe):        {1, 1},
		"system/" + string(UnsealFailed):             {1, 1},
		a.String() + "/" + string(CrossCompanyProbe): {1, 1},
		b.String() + "/" + string(CrossCompanyProbe): {3, 2},
	}
	if len(got) != len(want) {
		t.Fatalf("summary %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("summary %s = %v, want %v", k, got[k], v)
		}
	}

	// Pages of two, newest first, for company B.
	var seen []int64
	cursor := int64(0)
	for {
		evs, next, err := st.List(ctx, Filter{Company: uuid.NullUUID{UUID: b, Valid: true}, Limit: 2, Before: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			seen = append(seen, e.ID)
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	if len(seen) != 3 || seen[0] < seen[1] || seen[1] < seen[2] {
		t.Fatalf("B's events by pages: %v", seen)
	}

	evs, _, err := st.ListCompany(ctx, tenancy.NewScopeForTest(a), Filter{})
	if err != nil || len(evs) != 1 || evs[0].CompanyID.UUID != a || evs[0].UserID.Valid || evs[0].IP != "" {
		t.Fatalf("A's own view: %+v (%v)", evs, err)
	}
	if _, _, err := st.List(ctx, Filter{Kind: "made_up"}); !errors.Is(err, ErrUnknownKind) {
		t.Fatalf("unknown kind: %v", err)
	}

	// Retention.
	n, err := st.Prune(ctx, t0.Add(-24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("pruned %d (%v), want 1", n, err)
	}
}

// A chain that fails raises audit_verify_failed once while it keeps
// failing; the alert series says 1 for it and 0 for a good chain; recent
// events are counted per kind and company in the 15 minutes before now,
// and a pair quiet for 15 minutes still reads 0 (so an alert resolves).
func TestAuditVerifyAndAlertSamples(t *testing.T) {
	app, owner := testDB(t)
	st := Store{DB: app}
	ctx := context.Background()
	a := addCompany(t, owner)
	for i, step := range []struct {
		chain string
		ok    bool
		want  bool
	}{
		{"system", true, false},
		{a.String(), false, true},
		{a.String(), false, false},
		{"system", true, false},
	} {
		raised, err := st.RecordAuditVerify(ctx, step.chain, step.ok, "newest records deleted", t0.Add(time.Duration(i)*time.Second))
		if err != nil || raised != step.want {
			t.Fatalf("step %d: raised %v (%v), want %v", i, raised, err, step.want)
		}
	}
	sample := func(now time.Time) map[string]float64 {
		t.Helper()
		ss, err := st.Samples(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, s := range ss {
			out[key(s)] = s.Value
		}
		return out
	}
	got := sample(t0.Add(time.Minute))
	if got["audit_verify_failed{chain="+a.String()+"}"] != 1 || got["audit_verify_failed{chain=system}"] != 0 {
		t.Fatalf("audit_verify_failed samples %v", got)
	}
	recent := "security_events_recent{company=" + a.String() + ",kind=audit_verify_failed}"
	if err := st.Insert(ctx, Event{Time: t0, Kind: UnsealFailed}); err != nil {
		t.Fatal(err)
	}
	if got := sample(t0.Add(time.Minute))["security_events_recent{kind=unseal_failed}"]; got != 1 {
		t.Fatalf("the appliance's own event, without a company label: %v", got)
	}
	if got[recent] != 1 {
		t.Fatalf("%s = %v in %v", recent, got[recent], got)
	}
	later := sample(t0.Add(RecentWindow + time.Minute))
	if v, ok := later[recent]; !ok || v != 0 {
		t.Fatalf("after 16 minutes %s = %v (present %v), want 0", recent, v, ok)
	}
	if _, ok := sample(t0.Add(25 * time.Hour))[recent]; ok {
		t.Fatalf("a day later %s is still given", recent)
	}
	evs, _, err := st.List(ctx, Filter{Kind: AuditVerifyFailed})
	if err != nil || len(evs) != 1 || evs[0].CompanyID.UUID != a {
		t.Fatalf("audit_verify_failed events %+v (%v)", evs, err)
	}
}

func key(s alerts.Sample) string {
	if len(s.Labels) == 0 {
		return s.Series
	}
	var parts []string
	for _, k := range []string{"chain", "company", "kind"} {
		if v, ok := s.Labels[k]; ok {
			parts = append(parts, k+"="+v)
		}
	}
	return s.Series + "{" + strings.Join(parts, ",") + "}"
}

// Details are bounded: a long string is cut, an oversized map replaced.
func TestDetailsAreBounded(t *testing.T) {
	app, _ := testDB(t)
	st := Store{DB: app}
	ctx := context.Background()
	long := strings.Repeat("é", 500)
	if err := st.Insert(ctx, Event{Time: t0, Kind: Lockout, Details: map[string]any{"note": long}}); err != nil {
		t.Fatal(err)
	}
	big := map[string]any{}
	for i := range 40 {
		big[strings.Repeat("k", 10)+string(rune('a'+i%26))+string(rune('a'+i/26))] = strings.Repeat("x", 100)
	}
	if err := st.Insert(ctx, Event{Time: t0, Kind: Lockout, Details: big}); err != nil {
		t.Fatal(err)
	}
	evs, _, err := st.List(ctx, Filter{})
	if err != nil || len(evs) != 2 {
		t.Fatalf("%d events (%v)", len(evs), err)
	}
	if evs[0].Details["truncated"] != true {
		t.Errorf("oversized details kept: %d keys", len(evs[0].Details))
	}
	if s, _ := evs[1].Details["note"].(string); len(s) > maxDetailString || len(s) < maxDetailString-1 {
		t.Errorf("long string kept at %d bytes", len(s))
	}
	b, _ := json.Marshal(evs[1])
	if !strings.Contains(string(b), `"company_id":null`) || !strings.Contains(string(b), `"user_id":null`) {
		t.Errorf("JSON of an event without company or user: %s", b)
	}
}

// companyLabel names an event's company in these tests: its id, or
// "system" for the appliance's own events.
func companyLabel(c uuid.NullUUID) string {
	if c.Valid {
		return c.UUID.String()
	}
	return "system"
}
