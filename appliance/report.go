package appliance

import (
	"time"

	"github.com/vanta-ledger/vanta/supervisor"
)

// ServiceReport is one service as the API and `vanta ctl status --json`
// show it (the services object of API.md).
type ServiceReport struct {
	Name         string    `json:"name"`
	State        string    `json:"state"`
	PID          int       `json:"pid"`
	UptimeS      int64     `json:"uptime_s"`
	Restarts     int       `json:"restarts"`
	LastExit     string    `json:"last_exit"`
	LastExitCode *int      `json:"last_exit_code,omitempty"`
	Reason       string    `json:"reason"`
	Critical     bool      `json:"critical"`
	Engine       string    `json:"engine,omitempty"`
	Since        time.Time `json:"since"`
}

// ServicesReport is the body of GET /api/v1/sys/services.
type ServicesReport struct {
	Services []ServiceReport `json:"services"`
}

// Readiness values.
const (
	StatusReady    = "ready"
	StatusSealed   = "sealed"
	StatusStarting = "starting"
	StatusDegraded = "degraded"
	StatusStopping = "stopping"
)

// ServiceBrief is a service as the unauthenticated /readyz shows it: no
// pids or uptimes for strangers.
type ServiceBrief struct {
	Name     string `json:"name"`
	State    string `json:"state"`
	Critical bool   `json:"critical"`
	Reason   string `json:"reason"`
}

// Readiness is the body of /readyz.
type Readiness struct {
	Status   string         `json:"status"`
	Services []ServiceBrief `json:"services"`
}

// Ready reports whether /readyz should answer 200.
func (r Readiness) Ready() bool { return r.Status == StatusReady }

func report(st supervisor.Status, engine string, now time.Time) ServiceReport {
	r := ServiceReport{
		Name:     st.Name,
		State:    string(st.State),
		PID:      st.PID,
		Restarts: st.Restarts,
		Reason:   st.Reason,
		Critical: st.Critical,
		Since:    st.Since.UTC(),
	}
	if st.Name == ServiceMongo {
		r.Engine = engine
	}
	if !st.StartedAt.IsZero() {
		r.UptimeS = int64(now.Sub(st.StartedAt) / time.Second)
	}
	if st.LastExit != nil {
		r.LastExit = st.LastExit.String()
		code := st.LastExit.Code
		if st.LastExit.Signal != 0 {
			code = 128 + int(st.LastExit.Signal) // as a shell reports it
		}
		r.LastExitCode = &code
	}
	return r
}

// servicesHealthy reports whether every enabled service is healthy.
func servicesHealthy(statuses []supervisor.Status) bool {
	for _, st := range statuses {
		if managementTool(st.Name) {
			continue
		}
		if st.State != supervisor.StateHealthy && st.State != supervisor.StateDisabled {
			return false
		}
	}
	return true
}

// readiness derives the /readyz answer: ready only when every enabled
// service is healthy and the keys are unsealed. Before the services are
// first all healthy the appliance is starting, after it degraded.
func readiness(statuses []supervisor.Status, everReady, stopping, sealed bool) Readiness {
	r := Readiness{Status: StatusReady, Services: make([]ServiceBrief, 0, len(statuses))}
	failed := false
	for _, st := range statuses {
		r.Services = append(r.Services, ServiceBrief{Name: st.Name, State: string(st.State), Critical: st.Critical, Reason: st.Reason})
		if managementTool(st.Name) {
			continue // listed, but never what the appliance waits on
		}
		switch st.State {
		case supervisor.StateHealthy, supervisor.StateDisabled:
		case supervisor.StateFatal, supervisor.StateExited:
			failed = true
			r.Status = StatusStarting
		default:
			r.Status = StatusStarting
		}
	}
	switch {
	case stopping:
		r.Status = StatusStopping
	case r.Status != StatusReady && (everReady || failed):
		r.Status = StatusDegraded
	case r.Status == StatusReady && sealed:
		r.Status = StatusSealed
	}
	return r
}

// managementTool reports whether a service is one of the management
// tools: a GOD's convenience, whose failure neither delays the stores nor
// makes the appliance less than ready.
func managementTool(name string) bool { return name == ServiceMongoExpress || name == ServicePgAdmin }
