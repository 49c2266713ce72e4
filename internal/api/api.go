// Package api is the public HTTP API of the appliance: routing, thin
// handlers and the one place that maps errors to status codes.
package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/vanta-ledger/vanta/appliance"
)

// Appliance is what the API needs of the running appliance.
type Appliance interface {
	Services() appliance.ServicesReport
	Readiness() appliance.Readiness
}

// NewRouter returns the HTTP handler for the whole API.
func NewRouter(a Appliance) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery(), securityHeaders)
	r.HandleMethodNotAllowed = true

	r.GET("/healthz", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	r.GET("/readyz", func(c *gin.Context) {
		ready := a.Readiness()
		status := http.StatusOK
		if !ready.Ready() {
			status = http.StatusServiceUnavailable
		}
		c.JSON(status, ready)
	})

	v1 := r.Group("/api/v1")
	// Open until accounts exist; the identity issue puts it behind GOD.
	v1.GET("/sys/services", func(c *gin.Context) {
		c.JSON(http.StatusOK, a.Services())
	})

	r.NoRoute(func(c *gin.Context) {
		writeError(c, http.StatusNotFound, "not_found", "no such route: "+c.Request.Method+" "+c.Request.URL.Path, "")
	})
	r.NoMethod(func(c *gin.Context) {
		writeError(c, http.StatusMethodNotAllowed, "method_not_allowed", c.Request.Method+" is not allowed on "+c.Request.URL.Path, "")
	})
	return r
}

// securityHeaders sets the headers every response carries.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
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
