package audit

import (
	"context"
	"slices"
	"testing"
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
