package background

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// gate is a Gate the test opens and closes.
type gate struct {
	mu      sync.Mutex
	open    bool
	changed chan struct{}
}

func newGate() *gate { return &gate{changed: make(chan struct{})} }

func (g *gate) Watch() (bool, <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.open, g.changed
}

func (g *gate) set(open bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = open
	close(g.changed)
	g.changed = make(chan struct{})
}

// journal records what services did, in order.
type journal struct {
	mu     sync.Mutex
	events []string
}

func (j *journal) add(e string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, e)
}

// take returns the events so far and forgets them.
func (j *journal) take() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := j.events
	j.events = nil
	return out
}

// service is a Service whose goroutine runs until stopped; failStarts
// makes its first starts fail.
type service struct {
	name       string
	j          *journal
	failStarts int
	loop       Loop
	ran        chan struct{} // closed by the goroutine once it runs, per start
}

func (s *service) Name() string { return s.name }

func (s *service) Start(ctx context.Context) error {
	if s.failStarts > 0 {
		s.failStarts--
		s.j.add("fail " + s.name)
		return errors.New("database not ready")
	}
	s.j.add("start " + s.name)
	s.loop.Go(ctx, func(ctx context.Context) {
		<-ctx.Done()
		s.j.add("return " + s.name)
	})
	return nil
}

func (s *service) Stop() {
	s.loop.Stop() // waits for the goroutine: "return" comes before "stop"
	s.j.add("stop " + s.name)
}

func TestRunnerFollowsTheGate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		j := &journal{}
		r := NewRunner(slog.New(slog.NewTextHandler(&logs, nil)))
		r.Add(&service{name: "a", j: j}, &service{name: "b", j: j})
		g := newGate()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { r.Follow(ctx, g); close(done) }()

		synctest.Wait()
		if got := j.take(); len(got) != 0 {
			t.Fatalf("services ran while the gate was closed: %v", got)
		}
		g.set(true)
		synctest.Wait()
		want(t, j.take(), "start a", "start b")
		if got := r.Running(); !slices.Equal(got, []string{"a", "b"}) {
			t.Fatalf("Running = %v", got)
		}
		g.set(false)
		synctest.Wait()
		want(t, j.take(), "return b", "stop b", "return a", "stop a")
		g.set(true)
		synctest.Wait()
		want(t, j.take(), "start a", "start b")

		// The process stops: Follow stops every service before returning.
		// Every service's context ends with ctx, so the goroutines may
		// return in any order; the stops still come in reverse order, each
		// after its own service's return.
		cancel()
		<-done
		got := j.take()
		var stops []string
		for _, e := range got {
			if strings.HasPrefix(e, "stop ") {
				stops = append(stops, e)
				if !slices.Contains(got[:slices.Index(got, e)], "return "+strings.TrimPrefix(e, "stop ")) {
					t.Errorf("events %v: %s before its service returned", got, e)
				}
			}
		}
		if len(got) != 4 || !slices.Equal(stops, []string{"stop b", "stop a"}) {
			t.Errorf("events %v, want both returned and stopped, b before a", got)
		}
		for _, line := range []string{`msg="background service started" name=a`, `msg="background service stopped" name=b`} {
			if !strings.Contains(logs.String(), line) {
				t.Errorf("log lacks %s:\n%s", line, logs.String())
			}
		}
	})
}

// A seal and unseal between two looks at the gate still restarts the
// services: they must not keep what the old opening gave them.
func TestRunnerRestartsAcrossAMissedClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		r := NewRunner(nil)
		r.Add(&service{name: "a", j: j})
		g := newGate()
		g.set(true)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go r.Follow(ctx, g)
		synctest.Wait()
		want(t, j.take(), "start a")

		g.mu.Lock() // closed and opened again before Follow wakes
		close(g.changed)
		g.changed = make(chan struct{})
		g.mu.Unlock()
		synctest.Wait()
		want(t, j.take(), "return a", "stop a", "start a")
	})
}

// A service that cannot start undoes the starts before it, and the runner
// tries again later, waiting longer each time.
func TestRunnerRetriesAFailedStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		j := &journal{}
		r := NewRunner(slog.New(slog.NewTextHandler(&logs, nil)))
		r.Add(&service{name: "a", j: j}, &service{name: "b", j: j, failStarts: 2})
		g := newGate()
		g.set(true)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		start := time.Now()
		go r.Follow(ctx, g)
		synctest.Wait()
		want(t, j.take(), "start a", "fail b", "stop b", "return a", "stop a")
		if len(r.Running()) != 0 {
			t.Fatalf("Running = %v after a failed start", r.Running())
		}
		if !strings.Contains(logs.String(), "background service b: database not ready") {
			t.Fatalf("the log does not name the failed service:\n%s", logs.String())
		}

		time.Sleep(r.RetryMin) // fake time inside the bubble: the first retry is due
		synctest.Wait()
		want(t, j.take(), "start a", "fail b", "stop b", "return a", "stop a")
		time.Sleep(2 * r.RetryMin) // the wait doubled
		synctest.Wait()
		want(t, j.take(), "start a", "start b")
		if got := time.Since(start); got != 3*r.RetryMin {
			t.Fatalf("started after %v, want %v", got, 3*r.RetryMin)
		}
	})
}

// Stop waits for the service's goroutine, and is safe before any start
// and twice.
func TestLoopStopWaits(t *testing.T) {
	var l Loop
	l.Stop()
	returned := make(chan struct{})
	release := make(chan struct{})
	l.Go(context.Background(), func(ctx context.Context) {
		<-ctx.Done()
		<-release
		close(returned)
	})
	stopped := make(chan struct{})
	go func() { l.Stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Stop returned before the goroutine did")
	case <-returned:
		t.Fatal("the goroutine returned before it was released")
	default:
	}
	close(release)
	<-stopped
	select {
	case <-returned:
	default:
		t.Fatal("Stop returned before the goroutine did")
	}
	l.Stop()
}

// Every runs on each tick, not before the first, until its context ends.
func TestEvery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var n int
		done := make(chan struct{})
		go func() {
			Every(ctx, time.Minute, func(context.Context) { n++ })
			close(done)
		}()
		synctest.Wait()
		if n != 0 {
			t.Fatalf("ran %d times before the first tick, want 0", n)
		}
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		if n != 3 {
			t.Fatalf("ran %d times after three ticks, want 3", n)
		}
		cancel()
		<-done
	})
}

func want(t *testing.T, got []string, events ...string) {
	t.Helper()
	if !slices.Equal(got, events) {
		t.Fatalf("events %v, want %v", got, events)
	}
}
