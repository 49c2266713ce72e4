package metrics

import (
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// requestWindow keeps the API's recent requests (their durations and
// whether they failed with a 5xx) in one-second buckets, for the p95 and
// the error ratio of the last span. Memory is bounded by span and by
// maxPerBucket, whatever the request rate.
type requestWindow struct {
	span time.Duration

	mu      sync.Mutex
	buckets []reqBucket // ring, indexed by second
}

type reqBucket struct {
	sec       int64     // unix second this bucket holds; stale buckets are skipped
	durations []float64 // seconds, a sample of at most maxPerBucket
	seen      int       // requests in this second (all, not just the sample)
	errors    int       // of which 5xx
}

// maxPerBucket bounds the durations kept for one second: past it, a
// reservoir keeps a uniform sample, so the p95 stays an estimate of the
// whole second's.
const maxPerBucket = 512

func newRequestWindow(span time.Duration) *requestWindow {
	return &requestWindow{span: span, buckets: make([]reqBucket, int(span/time.Second)+1)}
}

func (w *requestWindow) observe(at time.Time, d time.Duration, serverError bool) {
	sec := at.Unix()
	w.mu.Lock()
	defer w.mu.Unlock()
	b := &w.buckets[int(sec%int64(len(w.buckets)))]
	if b.sec != sec {
		*b = reqBucket{sec: sec, durations: b.durations[:0]}
	}
	b.seen++
	if serverError {
		b.errors++
	}
	if len(b.durations) < maxPerBucket {
		b.durations = append(b.durations, d.Seconds())
	} else if i := rand.IntN(b.seen); i < maxPerBucket {
		b.durations[i] = d.Seconds()
	}
}

// stats are the window's figures at now: requests seen, the ratio of
// 5xx among them and the 95th percentile of their durations in seconds.
func (w *requestWindow) stats(now time.Time) (count int, errorRatio, p95 float64) {
	from := now.Add(-w.span).Unix() // exclusive: a window of span seconds ending at now
	to := now.Unix()
	var all []float64
	errs := 0
	w.mu.Lock()
	for _, b := range w.buckets {
		if b.sec > from && b.sec <= to {
			count += b.seen
			errs += b.errors
			all = append(all, b.durations...)
		}
	}
	w.mu.Unlock()
	if count == 0 {
		return 0, 0, 0
	}
	slices.Sort(all)
	// Nearest rank: the smallest value with at least 95% at or below it.
	rank := (95*len(all) + 99) / 100
	return count, float64(errs) / float64(count), all[max(rank-1, 0)]
}

// eventWindow remembers when things happened, per key, for a span: the
// supervisor's restarts of each service in the last ten minutes.
type eventWindow struct {
	span time.Duration
	mu   sync.Mutex
	at   map[string][]time.Time
}

func newEventWindow(span time.Duration) *eventWindow {
	return &eventWindow{span: span, at: map[string][]time.Time{}}
}

func (w *eventWindow) add(key string, at time.Time, n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for range n {
		w.at[key] = append(w.at[key], at)
	}
	w.pruneLocked(key, at)
}

func (w *eventWindow) pruneLocked(key string, now time.Time) {
	ts := w.at[key]
	i := 0
	for i < len(ts) && !ts[i].After(now.Add(-w.span)) {
		i++
	}
	w.at[key] = ts[i:]
}

// count is how many events of key happened in the span ending at now.
func (w *eventWindow) count(key string, now time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pruneLocked(key, now)
	n := 0
	for _, t := range w.at[key] {
		if !t.After(now) {
			n++
		}
	}
	return n
}

// activeUsers remembers when each user was last seen, overall and per
// company, and forgets them after span.
type activeUsers struct {
	span time.Duration
	mu   sync.Mutex
	last map[[16]byte]time.Time              // user → last seen
	byCo map[[16]byte]map[[16]byte]time.Time // company → user → last seen
}

func newActiveUsers(span time.Duration) *activeUsers {
	return &activeUsers{span: span, last: map[[16]byte]time.Time{}, byCo: map[[16]byte]map[[16]byte]time.Time{}}
}

func (a *activeUsers) seen(user, company [16]byte, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if at.After(a.last[user]) {
		a.last[user] = at
	}
	if company != ([16]byte{}) {
		m := a.byCo[company]
		if m == nil {
			m = map[[16]byte]time.Time{}
			a.byCo[company] = m
		}
		if at.After(m[user]) {
			m[user] = at
		}
	}
}

// counts are the users seen in the span ending at now, overall and per
// company; older entries are dropped.
func (a *activeUsers) counts(now time.Time) (all int, perCompany map[[16]byte]int) {
	cut := now.Add(-a.span)
	a.mu.Lock()
	defer a.mu.Unlock()
	for u, t := range a.last {
		if !t.After(cut) {
			delete(a.last, u)
		} else if !t.After(now) {
			all++
		}
	}
	perCompany = make(map[[16]byte]int, len(a.byCo))
	for co, m := range a.byCo {
		for u, t := range m {
			if !t.After(cut) {
				delete(m, u)
			} else if !t.After(now) {
				perCompany[co]++
			}
		}
		if len(m) == 0 {
			delete(a.byCo, co)
		}
	}
	return all, perCompany
}
