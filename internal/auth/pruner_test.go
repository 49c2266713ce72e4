package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// The session pruner's first round runs as it starts: a refresh token
// past its expiry is gone once the round has run, and Stop waits for it.
func TestSessionPrunerPrunesAtStart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.user("wanjiru@example.co.ke")
	e.login("wanjiru@example.co.ke", "")
	e.clock.Advance(8 * 24 * time.Hour) // past the refresh token's life
	count := func() (n int) {
		if err := e.pool.QueryRow(ctx, "SELECT count(*) FROM auth.refresh_tokens").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if count() == 0 {
		t.Fatal("no refresh token to prune")
	}
	rounds := make(chan struct{}, 1)
	p := &SessionPruner{Service: func() (*Service, error) { return e.svc, nil }, Interval: time.Hour, afterRound: func() { rounds <- struct{}{} }}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	<-rounds
	p.Stop()
	if n := count(); n != 0 {
		t.Fatalf("%d refresh tokens left after the first round", n)
	}
}

func TestSessionPrunerNeedsItsService(t *testing.T) {
	p := &SessionPruner{Service: func() (*Service, error) { return nil, errors.New("sealed") }}
	if err := p.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "sealed") {
		t.Fatalf("Start = %v, want the service's error", err)
	}
	p.Stop()
}
