package metrics

import (
	"io"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestConcurrentObserveAndScrape: requests are observed while scrapes and
// the alert source read (run with -race).
func TestConcurrentObserveAndScrape(t *testing.T) {
	r := NewRegistry(Options{Disks: []string{t.TempDir()}})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 500 {
				r.ObserveRequest("/api/v1/companies/:cid", "GET", 200+w, time.Duration(i)*time.Microsecond)
				r.ObserveUser(uuid.New(), uuid.Nil, time.Now())
			}
		})
	}
	for range 3 {
		wg.Go(func() {
			rec := httptest.NewRecorder()
			r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			if _, err := r.AlertSource().Samples(t.Context(), time.Now()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n, _, _ := r.window.stats(time.Now()); n != 2000 {
		t.Errorf("window holds %d requests, want 2000", n)
	}
}

// BenchmarkObserveRequest is what the API's middleware adds to each
// request.
func BenchmarkObserveRequest(b *testing.B) {
	r := NewRegistry(Options{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.ObserveRequest("/api/v1/companies/:cid/entries", "GET", 200, 3*time.Millisecond)
		}
	})
}

// BenchmarkScrape is one scrape of the families that need no data
// service (host, services, API, runtime).
func BenchmarkScrape(b *testing.B) {
	r := NewRegistry(Options{Disks: []string{b.TempDir()}})
	for i := range 50 {
		r.ObserveRequest("/api/v1/route"+string(rune('a'+i%26)), "GET", 200, time.Millisecond)
	}
	h := r.Handler()
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		_, _ = io.Copy(io.Discard, rec.Body)
	}
}
