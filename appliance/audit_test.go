package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vanta-ledger/vanta/internal/audit"
	"github.com/vanta-ledger/vanta/internal/pgtest"
	"github.com/vanta-ledger/vanta/internal/pgtest/systemtest"
)

var (
	pg       *pgtest.Server
	migrated *pgtest.Template // the system line at head
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if pg, err = pgtest.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer pg.Stop()
	migrated = systemtest.Registry(pg, Migrations)
	return m.Run()
}

func auditStores(t *testing.T) *Stores {
	t.Helper()
	_, dsn := migrated.Database(t)
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &Stores{App: pool}
}

// Seal events from before the database opened reach the system chain in
// order, marked as recorded late; a flood is bounded and counted.
func TestEarlySealEventsReachTheSystemChain(t *testing.T) {
	cases := []struct {
		name        string
		early       int
		wantRecords int
		wantDropped bool
	}{
		{"a few", 3, 3 + 1, false},
		{"a flood", maxEarlyEvents + 10, maxEarlyEvents + 1 + 1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := &Appliance{logger: slog.New(slog.DiscardHandler)}
			for i := range tc.early {
				a.auditSystem("seal.share_accepted", map[string]any{"slot": i + 1})
			}
			st := auditStores(t)
			a.stores.Store(st)
			a.flushEarlyEvents(st)
			a.auditSystem("seal.unsealed", nil)

			ctx := context.Background()
			rows, err := st.App.Query(ctx, "SELECT action, details::jsonb->>'recorded_late', details::jsonb->>'slot' FROM audit.records WHERE chain = 'system' ORDER BY seq")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			n, dropped := 0, false
			for rows.Next() {
				var action string
				var late, slot *string
				if err := rows.Scan(&action, &late, &slot); err != nil {
					t.Fatal(err)
				}
				n++
				switch {
				case action == "audit.events_dropped":
					dropped = true
				case action == "seal.unsealed":
					if late != nil || n != tc.wantRecords {
						t.Errorf("the live event is record %d of %d, late %v", n, tc.wantRecords, late)
					}
				case late == nil || *late != "true" || slot == nil || *slot != fmt.Sprint(n):
					t.Errorf("record %d: %s late=%v slot=%v", n, action, late, slot)
				}
			}
			if n != tc.wantRecords || dropped != tc.wantDropped {
				t.Errorf("%d records (dropped record %v), want %d (%v)", n, dropped, tc.wantRecords, tc.wantDropped)
			}
			if res, err := audit.Verify(ctx, st.App, "system", nil); err != nil || !res.OK {
				t.Errorf("system chain: %+v %v", res, err)
			}
		})
	}
}
