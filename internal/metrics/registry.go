package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/ai"
	"github.com/vanta-ledger/vanta/supervisor"
)

// Namespace prefixes every family of the appliance's own.
const Namespace = "vanta"

// Windows of the live series (the alert rules' defaults are written
// against these).
const (
	RequestWindow = 5 * time.Minute  // api_request_p95_seconds, api_error_ratio
	RestartWindow = 10 * time.Minute // service_restarts_recent
	ActiveWindow  = 15 * time.Minute // users_active
	// MinRequests is the fewest requests in RequestWindow for which
	// api_error_ratio is given: below it the ratio says little.
	MinRequests = 20
)

// Options are the registry's collaborators; any may be nil (its families
// are then left out).
type Options struct {
	// Services is the supervisor's snapshot of its programs.
	Services func() []supervisor.Status
	// Disks are the directories whose filesystems are reported: the
	// data directory and the backup directory. A directory not made yet
	// is measured at its nearest existing parent.
	Disks []string
	// Stores are the open data services (nil until they are open).
	Stores func() *appliance.Stores
	// Sealed reports whether the keys are locked: per-company figures
	// are collected only while unsealed.
	Sealed func() bool
	// Companies reads the per-company figures (NewCompanyReader).
	Companies CompanyReader
	// CompanyTTL is how long per-company figures are reused between
	// scrapes; 0 means 30 s.
	CompanyTTL time.Duration
	Logger     *slog.Logger
	// Now is the clock of scrapes; nil means time.Now. AlertSource takes
	// its time from its caller instead.
	Now func() time.Time
}

// Registry holds the appliance's collectors. It is safe for concurrent use.
type Registry struct {
	opts Options
	reg  *prometheus.Registry

	requests   *prometheus.HistogramVec
	inferences *prometheus.HistogramVec
	tokens     *prometheus.CounterVec

	window   *requestWindow
	restarts *restartTracker
	users    *activeUsers
	host     *hostCollector
	alertCPU *cpuSampler // AlertSource's own, apart from the scrapes'
	company  *companyCollector
}

// NewRegistry makes the registry and registers every collector.
func NewRegistry(o Options) *Registry {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CompanyTTL == 0 {
		o.CompanyTTL = 30 * time.Second
	}
	r := &Registry{
		opts: o,
		reg:  prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Time to answer an API request, by route template (\"unmatched\" for no route), method and status code.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 5, 10, 30},
		}, []string{"route", "method", "code"}),
		inferences: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "ai", Name: "inference_duration_seconds",
			Help:    "Time of one completion by a model server, retries included, by model and outcome.",
			Buckets: []float64{.1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}, []string{"model", "outcome"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "ai", Name: "tokens_total",
			Help: "Tokens the model servers evaluated (prompt) and generated (predicted), by model.",
		}, []string{"model", "kind"}),
		window:   newRequestWindow(RequestWindow),
		restarts: newRestartTracker(RestartWindow),
		users:    newActiveUsers(ActiveWindow),
		host:     newHostCollector(o.Disks, o.Logger),
		alertCPU: &cpuSampler{},
	}
	r.company = &companyCollector{r: r}
	if o.Services != nil {
		r.restarts.baseline(o.Services())
	}
	r.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		r.requests, r.inferences, r.tokens,
		r.host,
		&serviceCollector{services: o.Services, now: o.Now},
		&storeCollector{stores: o.Stores, logger: o.Logger},
		r.company,
	)
	return r
}

// Handler serves the text exposition. A collector that fails is logged
// and left out; the others are still served.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		ErrorHandling:      promhttp.ContinueOnError,
		ErrorLog:           slog.NewLogLogger(r.opts.Logger.Handler(), slog.LevelWarn),
		DisableCompression: false,
	})
}

// Gatherer is the underlying registry, for tests and for other
// exporters.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// ObserveRequest records one API request: route is the route template
// (gin's FullPath), "" when no route matched.
func (r *Registry) ObserveRequest(route, method string, status int, d time.Duration) {
	r.observeRequestAt(r.opts.Now(), route, method, status, d)
}

func (r *Registry) observeRequestAt(at time.Time, route, method string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	r.requests.WithLabelValues(route, methodLabel(method), codeLabel(status)).Observe(d.Seconds())
	r.window.observe(at, d, status >= 500)
}

// ObserveUser records that an authenticated user made a request, within
// company when the route was a company's (uuid.Nil otherwise).
func (r *Registry) ObserveUser(user, company uuid.UUID, at time.Time) {
	if user == uuid.Nil {
		return
	}
	r.users.seen(user, company, at)
}

// ObserveInference records one completion of a model server (wire it as
// ai.Router.Observe).
func (r *Registry) ObserveInference(in ai.Inference) {
	model := in.Model
	if model == "" {
		model = "unknown"
	}
	outcome := "ok"
	if in.Err != nil {
		outcome = "error"
	}
	r.inferences.WithLabelValues(model, outcome).Observe(in.Duration.Seconds())
	if in.PromptTokens > 0 {
		r.tokens.WithLabelValues(model, "prompt").Add(float64(in.PromptTokens))
	}
	if in.PredictedTokens > 0 {
		r.tokens.WithLabelValues(model, "predicted").Add(float64(in.PredictedTokens))
	}
}

// methodLabel keeps the method label to the standard methods.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// codeLabel is the status code, or "other" outside 100–599.
func codeLabel(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status)
}

// ctxTimeout bounds what one scrape may wait for a data service.
const ctxTimeout = 5 * time.Second

func scrapeContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), ctxTimeout)
}

func joinErrs(errs []error) error { return errors.Join(errs...) }
