// Package api is the public HTTP API of the appliance: routing, thin
// handlers and the one place that maps errors to status codes.
package api

import (
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/auth"
	"github.com/vanta-ledger/vanta/internal/seal"
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
	// SetupGate, when set, guards the first-boot routes (sys/init,
	// sys/setup/god) with the one-time setup token until a GOD exists.
	SetupGate *appliance.SetupGate
}

type server struct {
	Deps
	logger       *slog.Logger
	loginLimiter *clientLimiter

	idMu      sync.Mutex
	id        *auth.Service // bound to idKeyring; remade after each unseal
	idKeyring *seal.Keyring
}

// NewRouter returns the HTTP handler for the whole API.
func NewRouter(d Deps) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	d.Quotas = d.Quotas.withDefaults()
	s := &server{Deps: d, logger: d.Logger, loginLimiter: newClientLimiter(120, 30)}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	r := gin.New()
	// gin would believe any X-Forwarded-For; ours is counted from the right.
	_ = r.SetTrustedProxies(nil)
	r.Use(gin.Recovery(), s.resolveClientIP, securityHeaders, s.auditRequests)
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

	v1 := r.Group("/api/v1", s.sealedGate)
	r.GET("/api/v1/openapi.json", serveOpenAPI(r))
	sys := v1.Group("/sys")
	sys.GET("/services", s.godOnceAccountsExist, func(c *gin.Context) {
		c.JSON(http.StatusOK, d.Appliance.Services())
	})
	sys.GET("/setup-token", s.setupTokenStatus)
	if d.Seal != nil {
		s.sealRoutes(sys)
		s.identityRoutes(v1)
		s.companyAPI(v1)
	}

	if d.Pages != nil {
		for _, p := range []string{"/", "/setup", "/unseal", "/accept", "/assets/*file"} {
			r.GET(p, gin.WrapH(d.Pages))
		}
	}
	r.NoRoute(s.sealedGate, func(c *gin.Context) {
		writeError(c, http.StatusNotFound, "not_found", "no such route: "+c.Request.Method+" "+c.Request.URL.Path, "")
	})
	r.NoMethod(func(c *gin.Context) {
		writeError(c, http.StatusMethodNotAllowed, "method_not_allowed", c.Request.Method+" is not allowed on "+c.Request.URL.Path, "")
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
		writeError(c, http.StatusServiceUnavailable, "sealed", "the appliance is sealed: custodians must unseal it (see /unseal)", "")
		return
	}
	c.Next()
}

// securityHeaders sets the headers every response carries.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	c.Next()
}

// errorBody is the error shape of API.md.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func writeError(c *gin.Context, status int, code, message, field string) {
	c.AbortWithStatusJSON(status, errorBody{Error: errorDetail{Code: code, Message: message, Field: field}})
}
