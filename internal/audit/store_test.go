package audit

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestListPagesAndChains: the newest records first, a page at a time,
// down to the first; every chain with records named once; a record
// appended alone counts like any other.
func TestListPagesAndChains(t *testing.T) {
	ctx := context.Background()
	pool := database(t)
	for i := 1; i <= 5; i++ {
		appendOne(t, pool, "system", i)
	}
	if _, err := AppendAlone(ctx, pool, "company-a", Entry{Actor: "user/1", Action: "permission.denied", Outcome: "denied"}); err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	var before int64
	for {
		records, more, err := List(ctx, pool, "system", Page{Before: before, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range records {
			seqs = append(seqs, r.Seq)
			before = r.Seq
		}
		if !more {
			break
		}
	}
	if !slices.Equal(seqs, []int64{5, 4, 3, 2, 1}) {
		t.Errorf("pages of system = %v, want 5 4 3 2 1", seqs)
	}
	records, _, err := List(ctx, pool, "company-a", Page{Limit: 10})
	if err != nil || len(records) != 1 || records[0].Entry.Action != "permission.denied" || records[0].Details != "{}" {
		t.Errorf("company-a = %+v, %v", records, err)
	}
	chains, err := Chains(ctx, pool)
	slices.Sort(chains)
	if err != nil || !slices.Equal(chains, []string{"company-a", "system"}) {
		t.Errorf("Chains = %v, %v", chains, err)
	}
}

// TestVerifyAndAdvance: an intact chain verifies and its checkpoint moves
// to the head; a forged checkpoint file is a failed verification with
// the reason, not an error.
func TestVerifyAndAdvance(t *testing.T) {
	ctx := context.Background()
	pool := database(t)
	cps := Checkpoints{Dir: t.TempDir(), Key: make([]byte, 32)}
	for i := 1; i <= 3; i++ {
		appendOne(t, pool, "system", i)
	}
	res, err := cps.VerifyAndAdvance(ctx, pool, "system")
	if err != nil || !res.OK || res.Records != 3 {
		t.Fatalf("VerifyAndAdvance = %+v, %v", res, err)
	}
	cp, err := cps.Load("system")
	if err != nil || cp == nil || cp.Seq != 3 {
		t.Fatalf("checkpoint after verifying = %+v, %v; want at 3", cp, err)
	}
	forged := Checkpoints{Dir: cps.Dir, Key: []byte("another key, another MAC........")}
	res, err = forged.VerifyAndAdvance(ctx, pool, "system")
	if err != nil || res.OK || res.Reason == "" {
		t.Errorf("with a forged checkpoint = %+v, %v; want not OK with a reason", res, err)
	}
}

// TestListFilters: each filter alone and combined selects exactly the
// records it names, in one chain only, and paging through a filtered
// listing with the keyset position visits each of them once.
func TestListFilters(t *testing.T) {
	ctx := context.Background()
	pool := database(t)
	day := func(s string) time.Time {
		at, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	// Append stamps the present; these records need chosen times, and a
	// listing reads no hashes, so they are written directly.
	insert := func(chain string, seq int64, at, actor, action, outcome string) {
		t.Helper()
		_, err := pool.Exec(ctx, `INSERT INTO audit.records (chain, seq, at, actor, role, ip, action, resource, outcome, details, prev_hash, hash)
			VALUES ($1, $2, $3, $4, 'admin', '10.0.0.1', $5, 'company/x', $6, '{}', ''::bytea, ''::bytea)`,
			chain, seq, day(at), actor, action, outcome)
		if err != nil {
			t.Fatal(err)
		}
	}
	// Company records name their actor by the bare id, identity records
	// by user/<id>: a filter on either finds both.
	insert("c1", 1, "2026-02-27T10:00:00Z", "a", "company.create", "ok")
	insert("c1", 2, "2026-03-01T00:00:00Z", "user/b", "permission.denied", "denied")
	insert("c1", 3, "2026-03-05T12:00:00Z", "user/a", "company.update", "ok")
	insert("c1", 4, "2026-03-15T08:30:00Z", "user/b", "companyx.thing", "denied")
	insert("c1", 5, "2026-03-31T23:59:59.999999Z", "user/a", "session.login", "bad_password")
	insert("c1", 6, "2026-04-01T00:00:00Z", "user/b", "permission.denied", "denied")
	insert("c1", 7, "2026-04-02T09:00:00Z", "user/a", "company.update", "ok")
	// Another chain whose record passes every filter below: it must never
	// appear in c1's listing.
	insert("c2", 1, "2026-03-05T12:00:00Z", "user/a", "company.update", "ok")

	march, april := day("2026-03-01T00:00:00Z"), day("2026-04-01T00:00:00Z")
	cases := []struct {
		name   string
		filter Filter
		want   []int64
	}{
		{"no filter", Filter{}, []int64{7, 6, 5, 4, 3, 2, 1}},
		{"actor", Filter{Actor: "user/a"}, []int64{7, 5, 3, 1}},
		{"actor by its bare id", Filter{Actor: "a"}, []int64{7, 5, 3, 1}},
		{"actor unknown", Filter{Actor: "user/c"}, nil},
		{"actor is not a prefix", Filter{Actor: "user/"}, nil},
		{"action exact", Filter{Action: "company.update"}, []int64{7, 3}},
		{"action prefix stops at the dot", Filter{Action: "company."}, []int64{7, 3, 1}},
		{"action without a dot is exact", Filter{Action: "company"}, nil},
		{"outcome", Filter{Outcome: "denied"}, []int64{6, 4, 2}},
		{"from inclusive", Filter{From: march}, []int64{7, 6, 5, 4, 3, 2}},
		{"until exclusive", Filter{Until: april}, []int64{5, 4, 3, 2, 1}},
		{"a month", Filter{From: march, Until: april}, []int64{5, 4, 3, 2}},
		{"last March's refusals", Filter{Outcome: "denied", From: march, Until: april}, []int64{4, 2}},
		{"actor, action prefix and end", Filter{Actor: "user/b", Action: "permission.", Until: april}, []int64{2}},
		{"everything set", Filter{Actor: "user/a", Action: "company.", Outcome: "ok", From: march, Until: april}, []int64{3}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			records, more, err := List(ctx, pool, "c1", Page{Limit: 100, Filter: tc.filter})
			if err != nil {
				t.Fatal(err)
			}
			var seqs []int64
			for _, r := range records {
				seqs = append(seqs, r.Seq)
			}
			if !slices.Equal(seqs, tc.want) || more {
				t.Errorf("seqs = %v (more %v), want %v", seqs, more, tc.want)
			}
		})
	}

	t.Run("paging", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			filter Filter
			want   []int64
		}{
			{"outcome", Filter{Outcome: "denied"}, []int64{6, 4, 2}},
			{"action prefix and a month", Filter{Action: "company.", From: march}, []int64{7, 3}},
		} {
			var pages [][]int64
			var before int64
			for {
				records, more, err := List(ctx, pool, "c1", Page{Before: before, Limit: 1, Filter: tc.filter})
				if err != nil {
					t.Fatal(err)
				}
				var page []int64
				for _, r := range records {
					page = append(page, r.Seq)
					before = r.Seq
				}
				pages = append(pages, page)
				if !more {
					break
				}
			}
			if len(pages) != len(tc.want) {
				t.Errorf("%s: pages = %v, want one record a page of %v and no empty last page", tc.name, pages, tc.want)
				continue
			}
			for i, p := range pages {
				if len(p) != 1 || p[0] != tc.want[i] {
					t.Errorf("%s: pages = %v, want %v one a page", tc.name, pages, tc.want)
					break
				}
			}
		}
	})
}
