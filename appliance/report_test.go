package appliance

import (
	"testing"
	"time"

	"github.com/vanta-ledger/vanta/supervisor"
)

func TestReadiness(t *testing.T) {
	st := func(name string, s supervisor.State) supervisor.Status {
		return supervisor.Status{Name: name, State: s}
	}
	healthy := []supervisor.Status{st("postgres", supervisor.StateHealthy), st("llama", supervisor.StateDisabled)}
	tests := []struct {
		name      string
		statuses  []supervisor.Status
		everReady bool
		stopping  bool
		sealed    bool
		want      string
	}{
		{"all healthy, unsealed", healthy, false, false, false, StatusReady},
		{"all healthy, sealed", healthy, true, false, true, StatusSealed},
		{"booting", []supervisor.Status{st("postgres", supervisor.StateStarting)}, false, false, true, StatusStarting},
		{"waiting for a dependency", []supervisor.Status{st("postgres", supervisor.StateStopped)}, false, false, false, StatusStarting},
		{"outage after ready", []supervisor.Status{st("redis", supervisor.StateBackoff)}, true, false, false, StatusDegraded},
		{"outage while sealed", []supervisor.Status{st("redis", supervisor.StateBackoff)}, true, false, true, StatusDegraded},
		{"fatal during boot", []supervisor.Status{st("redis", supervisor.StateFatal), st("postgres", supervisor.StateStarting)}, false, false, false, StatusDegraded},
		{"unhealthy non-critical", []supervisor.Status{st("llama-x", supervisor.StateUnhealthy)}, true, false, false, StatusDegraded},
		{"stopping", healthy, true, true, false, StatusStopping},
		{"a management tool starting", append(healthy, st(ServiceMongoExpress, supervisor.StateStarting)), false, false, false, StatusReady},
		{"a management tool fatal", append(healthy, st(ServicePgAdmin, supervisor.StateFatal), st(ServiceMongoExpress, supervisor.StateBackoff)), true, false, false, StatusReady},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := readiness(tc.statuses, tc.everReady, tc.stopping, tc.sealed)
			if r.Status != tc.want || r.Ready() != (tc.want == StatusReady) || len(r.Services) != len(tc.statuses) {
				t.Errorf("readiness = %+v, want %s", r, tc.want)
			}
		})
	}
}

func TestReport(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	killed := supervisor.ExitStatus{Code: -1, Signal: 9}
	r := report(supervisor.Status{Name: ServiceMongo, State: supervisor.StateHealthy, PID: 42, StartedAt: now.Add(-90 * time.Second), LastExit: &killed, Restarts: 2}, "docdb", now)
	if r.UptimeS != 90 || r.Engine != "docdb" || r.LastExit != "signal 9 (killed)" || r.LastExitCode == nil || *r.LastExitCode != 137 || r.Restarts != 2 {
		t.Errorf("report %+v", r)
	}
	if r := report(supervisor.Status{Name: ServiceRedis, State: supervisor.StateStopped}, "docdb", now); r.Engine != "" || r.UptimeS != 0 || r.LastExitCode != nil {
		t.Errorf("stopped redis report %+v", r)
	}
}
