package background_test

import (
	"context"
	"fmt"
	"time"

	"github.com/vanta-ledger/vanta/internal/background"
)

// sweeper is a periodic service, the shape of audit.Checkpointer.
type sweeper struct {
	loop background.Loop
}

func (s *sweeper) Name() string { return "sweeper" }

func (s *sweeper) Start(ctx context.Context) error {
	fmt.Println("sweep at start") // a first round before the service counts as started
	s.loop.Go(ctx, func(ctx context.Context) {
		background.Every(ctx, time.Minute, func(context.Context) { fmt.Println("sweep") })
	})
	return nil
}

func (s *sweeper) Stop() {
	s.loop.Stop() // returns once the loop has
	fmt.Println("stopped")
}

func Example() {
	r := background.NewRunner(nil)
	r.Add(&sweeper{}) // joining the runner is this one line
	if err := r.Start(context.Background()); err != nil {
		fmt.Println(err)
	}
	fmt.Println(r.Running())
	r.Stop()
	// Output:
	// sweep at start
	// [sweeper]
	// stopped
}
