package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/vanta-ledger/vanta/internal/trends"
)

// The appliance's own metric history (internal/trends), GOD's to read.

func (s *server) trendsRoutes(v1 *gin.RouterGroup) {
	g := v1.Group("/sys/metrics", s.authenticate, s.requireGOD)
	g.GET("/history", s.handle(s.getMetricsHistory))
	g.GET("/series", s.handle(s.listMetricSeries))
}

// metricsHistory is one series' points. Values are decimal strings, as
// every number of the API that is not an integer (a float would round).
type metricsHistory struct {
	Series string            `json:"series"`
	Labels map[string]string `json:"labels"`
	Step   string            `json:"step"`
	Points []metricPoint     `json:"points"`
}

// metricPoint is one minute or hour: its start and its samples' minimum,
// maximum and average.
type metricPoint struct {
	T   time.Time `json:"t"`
	Min string    `json:"min"`
	Max string    `json:"max"`
	Avg string    `json:"avg"`
}

// metricSeriesList is every series the history knows.
type metricSeriesList struct {
	Items []trends.Series `json:"items"`
}

// historyParams are the history route's query parameters.
var historyParams = []queryParam{
	{name: "series", description: "the series' name (required; GET /api/v1/sys/metrics/series lists them)",
		schema: gin.H{"type": "string", "examples": []string{"disk_used_percent"}}},
	{name: "label", description: "a label of the series as name=value, once per label; the series is the one with exactly these labels",
		schema: gin.H{"type": "array", "items": gin.H{"type": "string", "examples": []string{"path=/var/lib/vanta"}}}},
	{name: "step", description: "minute (kept a day; the default) or hour (kept 90 days)",
		schema: gin.H{"type": "string", "enum": []string{string(trends.StepMinute), string(trends.StepHour)}}},
	{name: "from", description: "points starting at or after this instant (RFC 3339); default a day (minute) or a week (hour) before to",
		schema: gin.H{"type": "string", "examples": []string{"2026-03-01T09:00:00+03:00"}}},
	{name: "to", description: "points starting at or before this instant (RFC 3339); default now",
		schema: gin.H{"type": "string", "examples": []string{"2026-03-02T09:00:00+03:00"}}},
}

func decimal(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func (s *server) getMetricsHistory(c *gin.Context) error {
	q, err := trends.ParseQuery(c.Request.URL.Query(), time.Now().UTC())
	if err != nil {
		return err
	}
	d, err := s.domain()
	if err != nil {
		return err
	}
	points, err := d.trends.Run(c.Request.Context(), q)
	if err != nil {
		return err
	}
	out := metricsHistory{Series: q.Series, Labels: q.Labels, Step: string(q.Step), Points: make([]metricPoint, len(points))}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	for i, p := range points {
		out.Points[i] = metricPoint{T: p.T, Min: decimal(p.Min), Max: decimal(p.Max), Avg: decimal(p.Avg())}
	}
	c.JSON(http.StatusOK, out)
	return nil
}

func (s *server) listMetricSeries(c *gin.Context) error {
	d, err := s.domain()
	if err != nil {
		return err
	}
	items, err := d.trends.List(c.Request.Context())
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, metricSeriesList{Items: items})
	return nil
}
