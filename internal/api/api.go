// Package api is the public HTTP API of the appliance: routing, thin
// handlers and the one place that maps errors to status codes.
package api

import (
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gin-gonic/gin"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/auth"
	"github.com/vanta-ledger/vanta/internal/background"
	"github.com/vanta-ledger/vanta/internal/interchange"
	"github.com/vanta-ledger/vanta/internal/seal"
	secevents "github.com/vanta-ledger/vanta/internal/security"
)

// Appliance is what the API needs of the running appliance.
type Appliance interface {
	Services() appliance.ServicesReport
	Readiness() appliance.Readiness
	Stores() *appliance.Stores // nil until the databases are open
}

// Deps are the API's collaborators.
type Deps struct {
	Appliance Appliance
	Seal      *seal.Service
	Logger    *slog.Logger
	Pages     http.Handler // the web console (setup wizard, unseal page); optional
	// TrustedProxies is how many reverse proxies stand in front of the API;
	// the client address is taken that many hops from the right of
	// X-Forwarded-For. Zero: the connection's peer.
	TrustedProxies int
	// GODAllow, when not empty, limits where GOD may log in and use tokens.
	GODAllow []netip.Prefix
	Quotas   Quotas
	// PublicURL is where people reach the console, without a trailing
	// slash (e.g. "https://ledger.example.co.ke"): invitations then carry
	// an absolute accept_url, and its origin may make state-changing
	// requests when a proxy rewrites Host. Optional.
	PublicURL string
	// SetupGate, when set, guards the first-boot routes (sys/init,
	// sys/setup/god) with the one-time setup token until a GOD exists.
	SetupGate *appliance.SetupGate
	// Background, when set, is where the API registers the services it
	// runs while unsealed (identity, audit checkpoints, session pruning);
	// the appliance runs it bound to the seal.
	Background *background.Runner
	// Documents are the settings of document intake and its pipeline
	// (documents_service.go).
	Documents DocumentsConfig
	// Metrics, when set, times every request and serves GET /metrics
	// (metrics.go).
	Metrics Metrics
	// Security records security events (sign-in failures, probes, GOD's
	// new addresses, audit verifications) and serves their listings;
	// nil records nothing and the listings answer 503.
	Security *secevents.Recorder
	// AdminTools, when set, is where the management tools listen: the
	// proxy at /admin/mongo/ and /admin/pgadmin/ (adminproxy.go) reaches
	// them. Nil: those paths answer 503.
	AdminTools AdminTools
}

type server struct {
	Deps
	logger       *slog.Logger
	loginLimiter *clientLimiter
	// denialLimiter bounds how many refusals per user reach the audit
	// chain, so that an authenticated flood cannot grow it without end.
	denialLimiter *clientLimiter

	idMu      sync.Mutex
	id        *auth.Service // bound to idKeyring; made by identityMaker at each unseal
	idKeyring *seal.Keyring
	idChanged chan struct{} // closed and replaced when id or idErr changes
	// idErr is why the identity service of idErrKeyring did not start;
	// requests answer with it instead of waiting.
	idErr        error
	idErrKeyring *seal.Keyring

	godSeen atomic.Bool // a GOD was seen to exist; GODs are never deleted

	dom atomic.Pointer[domain] // the domain stores, made once the databases are open

	// imports runs the books' imports (internal/interchange) as a
	// background service, so they stop with the appliance.
	imports interchange.Jobs

	// docState is the documents' store, pipeline and job queue, made once the
	// stores are open (documents_service.go).
	docState docState

	// adminKey MACs the management tools' session records in Redis
	// (adminproxy.go); it lives in this process's memory only.
	adminKey []byte
}

// NewRouter returns the HTTP handler for the whole API.
func NewRouter(d Deps) http.Handler {
	return newServer(d).router()
}

func newServer(d Deps) *server {
	d.Quotas = d.Quotas.withDefaults()
	s := &server{Deps: d, logger: d.Logger, loginLimiter: newClientLimiter(120, 30), denialLimiter: newClientLimiter(30, 60),
		idChanged: make(chan struct{}), adminKey: make([]byte, 32)}
	if _, err := rand.Read(s.adminKey); err != nil {
		panic("api: no randomness: " + err.Error()) // crypto/rand does not fail on Linux
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if d.Background != nil && d.Seal != nil {
		d.Background.Add(s.backgroundServices()...)
	}
	return s
}

func (s *server) router() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	d := s.Deps
	r := gin.New()
	// gin would believe any X-Forwarded-For; ours is counted from the right.
	_ = r.SetTrustedProxies(nil)
	if d.Metrics != nil {
		r.Use(s.observeRequests) // outermost: a panic's 500 is counted too
	}
	r.Use(gin.Recovery(), s.resolveClientIP, securityHeaders, s.auditRequests, s.refuseCrossSite)
	r.HandleMethodNotAllowed = true

	r.GET("/healthz", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	r.GET("/readyz", func(c *gin.Context) {
		ready := d.Appliance.Readiness()
		status := http.StatusOK
		if !ready.Ready() {
			status = http.StatusServiceUnavailable
		}
		c.JSON(status, ready)
	})

	if d.Metrics != nil {
		s.metricsRoute(r)
	}

	v1 := r.Group("/api/v1", s.sealedGate)
	r.GET("/api/v1/openapi.json", serveOpenAPI(r))
	serveReference(r) // GET /api/v1/docs: the document as a page
	sys := v1.Group("/sys")
	sys.GET("/services", s.godOnceAccountsExist, func(c *gin.Context) {
		c.JSON(http.StatusOK, d.Appliance.Services())
	})
	sys.GET("/setup-token", s.setupTokenStatus)
	if d.Seal != nil {
		s.sealRoutes(sys)
		s.identityRoutes(v1)
		s.companyAPI(v1)
		s.invitationRoutes(v1)
		s.roleRoutes(v1)
		s.trendsRoutes(v1)
		s.alertRoutes(v1)
		s.adminToolRoutes(r, sys)
	}

	if d.Pages != nil {
		r.GET("/", s.home(d.Pages))
		// The console opens only on a ready appliance; home says where else to go.
		r.GET("/console", s.home(d.Pages))
		r.GET("/console/*path", s.home(d.Pages))
		for _, p := range []string{"/setup", "/unseal", "/accept", "/reset", "/assets/*file"} {
			r.GET(p, gin.WrapH(d.Pages))
		}
	}
	r.NoRoute(s.sealedGate, func(c *gin.Context) {
		s.fail(c, notFound("no such route: "+c.Request.Method+" "+c.Request.URL.Path, ""))
	})
	r.NoMethod(func(c *gin.Context) {
		s.fail(c, &apiError{status: http.StatusMethodNotAllowed, code: "method_not_allowed", message: c.Request.Method + " is not allowed on " + c.Request.URL.Path})
	})
	return r
}

const ctxClientIP = "vanta.client_ip"

func (s *server) resolveClientIP(c *gin.Context) {
	c.Set(ctxClientIP, clientIP(c.Request, s.TrustedProxies))
	c.Next()
}

// ip is the request's client address, as resolveClientIP found it.
func ip(c *gin.Context) string { return c.GetString(ctxClientIP) }

// sealedGate answers 503 for every /api/v1 route but /api/v1/sys/* while
// the keys are locked: nothing that touches company data can run.
func (s *server) sealedGate(c *gin.Context) {
	p := c.Request.URL.Path
	if s.Seal == nil || !strings.HasPrefix(p, "/api/v1/") || strings.HasPrefix(p, "/api/v1/sys/") || p == "/api/v1/openapi.json" {
		c.Next()
		return
	}
	if s.Seal.Sealed() {
		s.fail(c, errSealedGate)
		return
	}
	c.Next()
}

var errSealedGate = &apiError{status: http.StatusServiceUnavailable, code: "sealed", message: "the appliance is sealed: custodians must unseal it (see /unseal)"}

// securityHeaders sets the headers every response carries.
func securityHeaders(c *gin.Context) {
	setSecurityHeaders(c.Writer.Header())
	c.Next()
}

func setSecurityHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	// blob: for images and frames only: the console shows a document's
	// original (fetched with the bearer token, which an element's src
	// cannot carry) from a Blob URL, which only the console's own scripts
	// can make; scripts stay 'self' alone.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; frame-src blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
}

// errorBody is the error shape of API.md.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	Rule    string `json:"rule,omitempty"` // the ledger's rule a refusal names
}

// writeError writes the error shape; only fail calls it
// (TestOneErrorWriter).
func writeError(c *gin.Context, status int, code, message, field, rule string) {
	c.AbortWithStatusJSON(status, errorBody{Error: errorDetail{Code: code, Message: message, Field: field, Rule: rule}})
}

// refuseCrossSite answers 403 cross_site to a state-changing request that a
// browser made for a page of another site. Browsers send Sec-Fetch-Site
// and Origin with such requests, even those that need no CORS preflight
// (a form post, sendBeacon, fetch with mode no-cors), and a page cannot
// forge either. Same-site is refused too: the console is served from the
// API's own origin, and a sibling host under the same domain is another
// application. Scripts send neither header and are not affected.
func (s *server) refuseCrossSite(c *gin.Context) {
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		c.Next()
		return
	}
	if strings.HasPrefix(c.Request.URL.Path, "/admin/") {
		c.Next() // the tools' proxy checks, and records, it itself (adminGate)
		return
	}
	s.refuseOtherSites(c)
}

// refuseOtherSites refuses a request that another site's page made, of
// any method: refuseCrossSite runs it for the methods that change state,
// and a route whose answer is for GOD's eyes alone (the system overview)
// runs it for reads too, so that no other page could read it even with a
// token it should never have.
func (s *server) refuseOtherSites(c *gin.Context) {
	if err := s.otherSite(c); err != nil {
		s.fail(c, err)
		return
	}
	c.Next()
}

// otherSite is why refuseOtherSites refuses the request, nil if it does not.
func (s *server) otherSite(c *gin.Context) error {
	site := strings.ToLower(c.GetHeader("Sec-Fetch-Site"))
	if site == "cross-site" || site == "same-site" {
		return &apiError{http.StatusForbidden, "cross_site", "requests from another site's pages are refused (Sec-Fetch-Site: " + site + ")", "", 0}
	}
	if origin := c.GetHeader("Origin"); origin != "" && !s.ownOrigin(c, origin) {
		return &apiError{http.StatusForbidden, "cross_site", "requests from another origin's pages are refused (Origin: " + truncate(origin, 100) + ")", "", 0}
	}
	return nil
}

// ownOrigin says whether origin is the appliance's: the host the request
// was sent to (as the client or, behind trusted proxies, the proxy saw
// it), or the configured public URL. "null" (a sandboxed or file: page)
// is nobody's.
func (s *server) ownOrigin(c *gin.Context, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	if s.PublicURL != "" {
		if pu, err := url.Parse(s.PublicURL); err == nil && strings.EqualFold(pu.Scheme, u.Scheme) && strings.EqualFold(pu.Host, u.Host) {
			return true
		}
	}
	hosts := []string{c.Request.Host}
	if s.TrustedProxies > 0 {
		// The nearest proxy's view of the host, as clientIP counts hops.
		if fh := c.Request.Header.Values("X-Forwarded-Host"); len(fh) > 0 {
			parts := strings.Split(fh[len(fh)-1], ",")
			hosts = append(hosts, strings.TrimSpace(parts[len(parts)-1]))
		}
	}
	for _, h := range hosts {
		if h != "" && (strings.EqualFold(h, u.Host) || strings.EqualFold(h, defaultPort(u))) {
			return true
		}
	}
	return false
}

// defaultPort writes origin's host with its scheme's port, as a Host
// header may carry it.
func defaultPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return u.Host + ":443"
	}
	return u.Host + ":80"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
