package quota

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/vanta-ledger/vanta/internal/redistest"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

var rdb *redis.Client

// TestMain starts one real Redis; each test uses its own company.
func TestMain(m *testing.M) {
	rs, err := redistest.Start(false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rdb = redis.NewClient(&redis.Options{Network: "unix", Addr: rs.Socket})
	code := m.Run()
	rdb.Close()
	rs.Stop()
	os.Exit(code)
}

func TestAIRequestsPerHour(t *testing.T) {
	ctx := context.Background()
	q := Quotas{Redis: rdb, Limits: Limits{AIPerHour: 3}}
	a, b := tenancy.NewScopeForTest(uuid.New()), tenancy.NewScopeForTest(uuid.New())
	for i := range 3 {
		if err := q.AIRequest(ctx, a); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
	}
	var ex *ExceededError
	if err := q.AIRequest(ctx, a); !errors.As(err, &ex) || ex.RetryAfter <= 0 || ex.Quota != "ai_requests_per_hour" {
		t.Errorf("4th request: %v", err)
	}
	if err := q.AIRequest(ctx, b); err != nil {
		t.Errorf("another company was limited: %v", err)
	}
}

func TestStorageReservations(t *testing.T) {
	ctx := context.Background()
	q := Quotas{Redis: rdb, Limits: Limits{StorageBytes: 1000}}
	s := tenancy.NewScopeForTest(uuid.New())
	// 20 concurrent reservations of 100 bytes: exactly 10 fit.
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted := 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if q.ReserveStorage(ctx, s, 100) == nil {
				mu.Lock()
				granted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if used, _ := q.StorageUsed(ctx, s); granted != 10 || used != 1000 {
		t.Errorf("granted %d, used %d", granted, used)
	}
	var ex *ExceededError
	if err := q.ReserveStorage(ctx, s, 1); !errors.As(err, &ex) || ex.Quota != "storage_bytes" {
		t.Errorf("over the limit: %v", err)
	}
	if err := q.ReleaseStorage(ctx, s, 300); err != nil {
		t.Fatal(err)
	}
	if err := q.ReserveStorage(ctx, s, 300); err != nil {
		t.Errorf("after releasing 300: %v", err)
	}
	if err := q.ReserveStorage(ctx, s, -1); err == nil {
		t.Error("negative reservation accepted")
	}
}

// TestStorageUsedEach reads every company's counter in one round trip;
// one that never stored anything has 0.
func TestStorageUsedEach(t *testing.T) {
	ctx := context.Background()
	q := Quotas{Redis: rdb, Limits: Limits{StorageBytes: 1000}}
	a, b, none := uuid.New(), uuid.New(), uuid.New()
	if err := q.ReserveStorage(ctx, tenancy.NewScopeForTest(a), 300); err != nil {
		t.Fatal(err)
	}
	if err := q.ReserveStorage(ctx, tenancy.NewScopeForTest(b), 20); err != nil {
		t.Fatal(err)
	}
	used, err := q.StorageUsedEach(ctx, []uuid.UUID{a, b, none})
	if err != nil {
		t.Fatal(err)
	}
	if len(used) != 3 || used[a] != 300 || used[b] != 20 || used[none] != 0 {
		t.Errorf("StorageUsedEach = %v", used)
	}
	if q.StorageLimit() != 1000 || (Quotas{}).StorageLimit() != DefaultStorageBytes || (Quotas{}).AILimit() != DefaultAIPerHour {
		t.Errorf("limits: %d, %d, %d", q.StorageLimit(), (Quotas{}).StorageLimit(), (Quotas{}).AILimit())
	}
}

// TestAIUsedEach reads what the hourly allowance counted without
// charging a request: reading twice changes nothing, and a company that
// made none has 0.
func TestAIUsedEach(t *testing.T) {
	ctx := context.Background()
	q := Quotas{Redis: rdb, Limits: Limits{AIPerHour: 10}}
	a, b := uuid.New(), uuid.New()
	for range 4 {
		if err := q.AIRequest(ctx, tenancy.NewScopeForTest(a)); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		got, err := q.AIUsedEach(ctx, []uuid.UUID{a, b})
		if err != nil {
			t.Fatal(err)
		}
		if got[a] != 4 || got[b] != 0 {
			t.Fatalf("used %v, want %s: 4, %s: 0", got, a, b)
		}
	}
	// The read charged nothing: six more fit, the seventh does not.
	for i := range 6 {
		if err := q.AIRequest(ctx, tenancy.NewScopeForTest(a)); err != nil {
			t.Fatalf("request %d of the remaining 6: %v", i+1, err)
		}
	}
	if err := q.AIRequest(ctx, tenancy.NewScopeForTest(a)); err == nil {
		t.Fatal("an 11th request of 10 an hour was allowed")
	}
}
