package appliance

import (
	"net/http"

	"github.com/vanta-ledger/vanta/internal/alerts"
)

// controlAlerts lists the newest 100 alerts for `vanta ctl alerts`,
// sealed or not: {"items":[…]}.
func (a *Appliance) controlAlerts(w http.ResponseWriter, r *http.Request) {
	state, err := alerts.ParseState(r.URL.Query().Get("state"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody("validation_failed", err.Error(), "state"))
		return
	}
	st := a.Stores()
	if st == nil {
		writeJSON(w, http.StatusServiceUnavailable, errorBody("starting", "the databases are not open yet", ""))
		return
	}
	items, _, err := alerts.List(r.Context(), st.App, alerts.Filter{State: state, Limit: 100})
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, errorBody("internal", err.Error(), ""))
		return
	}
	if items == nil {
		items = []alerts.Alert{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}
