package auth

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// TestGODExists: false before the auth schema exists (a fresh appliance)
// and before GOD is made, true after.
func TestGODExists(t *testing.T) {
	ctx := context.Background()
	_, dsn := pg.NewDatabase(t)
	bare, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bare.Close)
	if exists, err := GODExists(ctx, bare); err != nil || exists {
		t.Errorf("without the auth schema: %v, %v; want false, nil", exists, err)
	}
	e := newEnv(t)
	if exists, err := GODExists(ctx, e.pool); err != nil || exists {
		t.Errorf("before GOD: %v, %v; want false, nil", exists, err)
	}
	e.god()
	if exists, err := GODExists(ctx, e.pool); err != nil || !exists {
		t.Errorf("after GOD: %v, %v; want true, nil", exists, err)
	}
}
