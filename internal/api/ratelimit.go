package api

import (
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"
)

// clientLimiter limits requests per client IP. It guards the seal routes,
// which must work before Redis-backed quotas exist and must not let anyone
// try shares at speed.
type clientLimiter struct {
	every time.Duration
	burst int

	mu      sync.Mutex
	clients map[string]*clientRate
}

type clientRate struct {
	limiter *rate.Limiter
	seen    time.Time
}

func newClientLimiter(perMinute, burst int) *clientLimiter {
	return &clientLimiter{every: time.Minute / time.Duration(perMinute), burst: burst, clients: map[string]*clientRate{}}
}

func (l *clientLimiter) reserve(ip string, now time.Time) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.clients) > 10000 { // forget idle clients rather than grow forever
		for k, c := range l.clients {
			if now.Sub(c.seen) > 10*time.Minute {
				delete(l.clients, k)
			}
		}
	}
	c, found := l.clients[ip]
	if !found {
		c = &clientRate{limiter: rate.NewLimiter(rate.Every(l.every), l.burst)}
		l.clients[ip] = c
	}
	c.seen = now
	r := c.limiter.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// limit is l as middleware: past its rate a client gets 429 rate_limited
// with Retry-After.
func (s *server) limit(l *clientLimiter) gin.HandlerFunc {
	return func(c *gin.Context) {
		if ok, wait := l.reserve(ip(c), time.Now()); !ok {
			secs := int(math.Ceil(wait.Seconds()))
			s.fail(c, &apiError{status: http.StatusTooManyRequests, code: "rate_limited", retryAfter: wait,
				message: fmt.Sprintf("too many attempts from this address; retry in %ds", secs)})
			return
		}
		c.Next()
	}
}
