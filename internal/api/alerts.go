package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/vanta-ledger/vanta/internal/alerts"
)

// alertRoutes serves the appliance's alerts (internal/alerts) to GOD.
func (s *server) alertRoutes(v1 *gin.RouterGroup) {
	v1.GET("/sys/alerts", s.authenticate, s.requireGOD, s.handle(s.listAlerts))
}

// alertItem is one alert of the listing.
type alertItem struct {
	ID          int64             `json:"id"`
	Rule        string            `json:"rule"`
	Level       string            `json:"level"`
	State       string            `json:"state"`
	Labels      map[string]string `json:"labels"`
	Value       string            `json:"value"` // decimal: the API carries no floats
	Summary     string            `json:"summary"`
	Fingerprint string            `json:"fingerprint"`
	StartedAt   *time.Time        `json:"started_at"`  // null while pending
	ResolvedAt  *time.Time        `json:"resolved_at"` // null until resolved
}

var alertStateParam = []queryParam{{name: "state", description: "only alerts in this state (firing: raised and not cleared; pending: holding, not yet for the rule's duration)",
	schema: gin.H{"type": "string", "enum": []string{"pending", "firing", "resolved"}}}}

// listAlerts lists alerts newest first; ?state= narrows them.
func (s *server) listAlerts(c *gin.Context) error {
	d, err := s.domain()
	if err != nil {
		return err
	}
	limit, cursor, err := page(c)
	if err != nil {
		return err
	}
	state, err := alerts.ParseState(c.Query("state"))
	if err != nil {
		return badRequest("validation_failed", "state must be pending, firing or resolved", "state")
	}
	var before int64
	if cursor != "" {
		if before, err = strconv.ParseInt(cursor, 10, 64); err != nil || before < 1 {
			return badCursor()
		}
	}
	found, more, err := alerts.List(c.Request.Context(), d.stores.App, alerts.Filter{State: state, Limit: limit, Before: before})
	if err != nil {
		return err
	}
	items := make([]alertItem, 0, len(found))
	for _, a := range found {
		items = append(items, alertItem{ID: a.ID, Rule: a.Rule, Level: string(a.Level), State: string(a.State), Labels: a.Labels,
			Value: strconv.FormatFloat(a.Value, 'f', -1, 64), Summary: a.Summary, Fingerprint: a.Fingerprint, StartedAt: a.StartedAt, ResolvedAt: a.ResolvedAt})
	}
	next := ""
	if more {
		next = nextCursor(items[len(items)-1].ID)
	}
	c.JSON(http.StatusOK, listPage[alertItem]{Items: items, NextCursor: next})
	return nil
}
