package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"
)

// postLoad is clients posting hot entries through the API until stopped,
// across crashes: a failed request is neither counted nor retried (its
// entry may or may not exist; checkLedger then only demands it be whole),
// and after the appliance is booted again the load follows the new
// instance and token.
type postLoad struct {
	t  *testing.T
	r  *ledgerRig
	mu sync.Mutex
	// in and token are where the load posts; moved is closed and
	// replaced when they change, so that a client stuck on a dead
	// instance waits for the next one instead of spinning.
	in     *instance
	token  string
	moved  chan struct{}
	acked  []ackedEntry
	counts map[int]int // status → answers; 0 for transport errors
	more   chan struct{}
	stop   chan struct{}
	wg     sync.WaitGroup
}

func startPostLoad(t *testing.T, r *ledgerRig, clients int) *postLoad {
	l := &postLoad{t: t, r: r, in: r.in, token: r.manager, moved: make(chan struct{}), counts: map[int]int{},
		more: make(chan struct{}), stop: make(chan struct{})}
	for c := range clients {
		l.wg.Add(1)
		go l.client(c)
	}
	t.Cleanup(l.halt)
	return l
}

func (l *postLoad) client(c int) {
	defer l.wg.Done()
	rng := rand.New(rand.NewPCG(uint64(c), uint64(time.Now().UnixNano())))
	for i := 0; ; i++ {
		select {
		case <-l.stop:
			return
		default:
		}
		l.mu.Lock()
		in, token, moved := l.in, l.token, l.moved
		l.mu.Unlock()
		body, lines := l.r.hotEntry(rng, fmt.Sprintf("durable-%d-%d", c, i))
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		code, answer, err := sendJSON(ctx, in, "POST", l.r.path("/journal-entries"), token, body)
		cancel()
		var e postedEntry
		if err == nil && code == 201 {
			if jerr := json.Unmarshal(answer, &e); jerr != nil || e.ID == "" {
				l.t.Errorf("201 without an entry: %s", answer)
			}
		}
		l.mu.Lock()
		l.counts[code]++
		if code == 201 && e.ID != "" {
			l.acked = append(l.acked, ackedEntry{ID: e.ID, Number: e.Number, Lines: lines})
			close(l.more)
			l.more = make(chan struct{})
		}
		l.mu.Unlock()
		if err != nil || code >= 500 {
			// The instance is down or its database restarting: wait for
			// the next instance, or a moment, before trying again.
			select {
			case <-moved:
			case <-l.stop:
				return
			case <-time.After(20 * time.Millisecond): // pacing, not synchronisation
			}
		}
	}
}

// waitAcked waits until n posts in all have been acknowledged.
func (l *postLoad) waitAcked(n int) {
	l.t.Helper()
	deadline := time.After(guard)
	for {
		l.mu.Lock()
		have, more := len(l.acked), l.more
		l.mu.Unlock()
		if have >= n {
			return
		}
		select {
		case <-more:
		case <-deadline:
			l.mu.Lock()
			counts := fmt.Sprint(l.counts)
			l.mu.Unlock()
			l.t.Fatalf("%d of %d posts acknowledged within %s (answers %s)", have, n, guard, counts)
		}
	}
}

func (l *postLoad) snapshot() []ackedEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ackedEntry(nil), l.acked...)
}

func (l *postLoad) retarget(in *instance, token string) {
	l.mu.Lock()
	l.in, l.token = in, token
	close(l.moved)
	l.moved = make(chan struct{})
	l.mu.Unlock()
}

func (l *postLoad) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

const durabilityKills = 20

// TestLedgerDurabilityInitKilled is acceptance 3, first half: under
// posting load, vanta init is killed with SIGKILL 20 times, and with it
// everything it started, as a container runtime ends a container whose
// init died. Each time the next boot comes back sealed, is unsealed with
// the shares, and every post acknowledged with 201 so far is there, by
// id and amount; no entry is half there; the stored balances equal the
// lines, the trial balance balances, numbers have no gap and verify
// passes.
func TestLedgerDurabilityInitKilled(t *testing.T) {
	r := newLedgerRig(t)
	load := startPostLoad(t, r, 4)
	for kill := range durabilityKills {
		load.waitAcked(5 * (kill + 1))
		if err := r.in.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-r.in.exited
		killEverythingUnder(r.data)

		in := bootWith(t, r.data, rigEnv)
		in.waitReady()
		if st := in.sealStatus(); !st.Initialized || !st.Sealed {
			t.Fatalf("kill %d: the appliance came back %+v, want initialized and sealed", kill+1, st)
		}
		in.unseal(r.shares)
		r.in = in
		r.relogin()
		acked := load.snapshot() // taken before the load resumes: all of it was acknowledged before the kill
		load.retarget(in, r.manager)
		checkLedger(t, r, acked, false)
		if t.Failed() {
			t.Fatalf("after kill %d of vanta init", kill+1)
		}
	}
	load.waitAcked(5 * (durabilityKills + 1))
	load.halt()
	t.Logf("answers %v, %d acknowledged", load.counts, len(load.acked))
	checkLedger(t, r, load.snapshot(), false)
}

// TestLedgerDurabilityPostgresKilled is acceptance 3, second half:
// PostgreSQL (its pid from `vanta ctl status --json`) is killed with
// SIGKILL 20 times under posting load; the supervisor restarts it, and
// after each restart every acknowledged post is there and whole, the
// balances agree with the lines and verify passes.
func TestLedgerDurabilityPostgresKilled(t *testing.T) {
	r := newLedgerRig(t)
	load := startPostLoad(t, r, 4)
	for kill := range durabilityKills {
		load.waitAcked(5 * (kill + 1))
		pg := ctlService(t, r.data, "postgres")
		if pg.State != "healthy" || pg.PID == 0 {
			t.Fatalf("postgres before kill %d: %+v", kill+1, pg)
		}
		acked := load.snapshot()
		if err := syscall.Kill(pg.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		r.in.waitLine("postgres leaving healthy", func(l map[string]any) bool {
			return l["msg"] == "state" && l["program"] == "postgres" && l["from"] == "healthy"
		})
		r.in.waitLine("postgres healthy again", stateLine("postgres", "healthy"))
		checkLedger(t, r, acked, false)
		if t.Failed() {
			t.Fatalf("after kill %d of postgres", kill+1)
		}
	}
	load.waitAcked(5 * (durabilityKills + 1))
	load.halt()
	t.Logf("answers %v, %d acknowledged", load.counts, len(load.acked))
	checkLedger(t, r, load.snapshot(), false)
}
