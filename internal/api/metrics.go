package api

import (
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/internal/ai"
)

// Metrics is what the API tells the appliance's metrics and serves at
// /metrics; internal/metrics.Registry implements it, so this package
// knows nothing of Prometheus.
type Metrics interface {
	// ObserveRequest records one answered request: route is gin's route
	// template, "" when no route matched.
	ObserveRequest(route, method string, status int, d time.Duration)
	// ObserveUser records a signed-in user's request, within company
	// (uuid.Nil outside a company's routes).
	ObserveUser(user, company uuid.UUID, at time.Time)
	// ObserveInference records one completion of a model server.
	ObserveInference(in ai.Inference)
	// Handler serves the text exposition.
	Handler() http.Handler
}

// observeRequests times every request and reports it, with its route
// template (never the raw path: the label stays bounded) and the user
// who made it once authentication has run.
func (s *server) observeRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	s.Metrics.ObserveRequest(c.FullPath(), c.Request.Method, c.Writer.Status(), time.Since(start))
	if p := principal(c); p.UserID != uuid.Nil {
		s.Metrics.ObserveUser(p.UserID, scope(c).Company(), start)
	}
}

// metricsRoute registers GET /metrics (at the root, where scrapers look).
// It works sealed too: host, service and pool figures are what an
// operator needs then; the per-company figures are left out while sealed.
func (s *server) metricsRoute(r *gin.Engine) {
	h := s.Metrics.Handler()
	r.GET("/metrics", s.metricsAccess, func(c *gin.Context) { h.ServeHTTP(c.Writer, c.Request) })
}

// metricsAccess lets GOD's bearer token through, and a request without
// any token only from a loopback peer that no proxy forwarded: the
// connection's own address, never X-Forwarded-For. Everyone else gets
// 401 (no or a bad token) or 403 (a token that is not GOD's).
func (s *server) metricsAccess(c *gin.Context) {
	if c.GetHeader("Authorization") == "" {
		if localScraper(c.Request) {
			c.Next()
			return
		}
		c.Header("WWW-Authenticate", `Bearer realm="vanta"`)
		s.fail(c, errUnauthenticated)
		return
	}
	if !s.resolvePrincipal(c) {
		return
	}
	if !principal(c).IsGOD {
		s.fail(c, forbidden("/metrics is for GOD's token, or for a scraper on the appliance's own host without one"))
		return
	}
	c.Next()
}

// localScraper says whether r came straight from this host: its peer is
// a loopback address and it carries no forwarding header (a reverse
// proxy on the same host adds one, and must not open /metrics to the
// world).
func localScraper(r *http.Request) bool {
	if r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("Forwarded") != "" {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
