package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vanta-ledger/vanta/supervisor"
)

var (
	descServiceState    = desc("service_state", "1 for the state each supervised service is in, 0 for the others.", "service", "state")
	descServiceRestarts = desc("service_restarts_total", "Times the supervisor restarted each service since the appliance started.", "service")
	descServiceExit     = desc("service_last_exit_code", "Exit code of each service's last exit (128+signal when killed by one); absent until it exited once.", "service")
	descServiceUptime   = desc("service_uptime_seconds", "Seconds since each running service was started; 0 when not running.", "service")
	descServiceCritical = desc("service_critical", "1 when the appliance stops if the service gives up.", "service")
)

// serviceStates are every supervisor.State, so that each service has one
// series per state and a state change is a value change, not a new series.
var serviceStates = []supervisor.State{
	supervisor.StateStopped, supervisor.StateStarting, supervisor.StateHealthy, supervisor.StateUnhealthy,
	supervisor.StateBackoff, supervisor.StateStopping, supervisor.StateExited, supervisor.StateFatal, supervisor.StateDisabled,
}

type serviceCollector struct {
	services func() []supervisor.Status
	now      func() time.Time
}

func (s *serviceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descServiceState
	ch <- descServiceRestarts
	ch <- descServiceExit
	ch <- descServiceUptime
	ch <- descServiceCritical
}

func (s *serviceCollector) Collect(ch chan<- prometheus.Metric) {
	if s.services == nil {
		return
	}
	now := s.now()
	for _, st := range s.services() {
		for _, state := range serviceStates {
			v := 0.0
			if st.State == state {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descServiceState, prometheus.GaugeValue, v, st.Name, string(state))
		}
		ch <- prometheus.MustNewConstMetric(descServiceRestarts, prometheus.CounterValue, float64(st.Restarts), st.Name)
		if st.LastExit != nil {
			ch <- prometheus.MustNewConstMetric(descServiceExit, prometheus.GaugeValue, float64(exitCode(*st.LastExit)), st.Name)
		}
		up := 0.0
		if !st.StartedAt.IsZero() {
			up = max(now.Sub(st.StartedAt).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(descServiceUptime, prometheus.GaugeValue, up, st.Name)
		crit := 0.0
		if st.Critical {
			crit = 1
		}
		ch <- prometheus.MustNewConstMetric(descServiceCritical, prometheus.GaugeValue, crit, st.Name)
	}
}

// exitCode is the code as a shell reports it (as the services report
// does): 128+signal for a process a signal ended.
func exitCode(e supervisor.ExitStatus) int {
	if e.Signal != 0 {
		return 128 + int(e.Signal)
	}
	return e.Code
}

// restartTracker turns the supervisor's restart counts into restarts in
// the last span, from the differences between successive snapshots, each
// dated by the snapshot that saw it. The counts at the registry's making
// (at boot) are the baseline: restarts before it are not recent news to an
// evaluator that starts later (after an unseal, say). A service first seen
// later counts every restart it reports as happening then.
type restartTracker struct {
	mu     sync.Mutex
	seen   map[string]int
	events *eventWindow
}

func newRestartTracker(span time.Duration) *restartTracker {
	return &restartTracker{seen: map[string]int{}, events: newEventWindow(span)}
}

// baseline records the counts of statuses without dating any restart.
func (t *restartTracker) baseline(statuses []supervisor.Status) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, st := range statuses {
		t.seen[st.Name] = st.Restarts
	}
}

// note takes a snapshot at now and returns the restarts of each service
// in the span ending at now.
func (t *restartTracker) note(now time.Time, statuses []supervisor.Status) map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]int, len(statuses))
	for _, st := range statuses {
		prev, ok := t.seen[st.Name]
		delta := st.Restarts - prev
		if !ok {
			delta = st.Restarts
		}
		if delta > 0 {
			t.events.add(st.Name, now, delta)
		}
		t.seen[st.Name] = st.Restarts
		out[st.Name] = t.events.count(st.Name, now)
	}
	return out
}
