package appliance

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"

	"github.com/vanta-ledger/vanta/internal/seal"
	"github.com/vanta-ledger/vanta/supervisor"
)

// ControlSocketActor is who the audit chain names for what the control
// socket does.
const ControlSocketActor = "operator via control socket"

// ControlSocket is the path of the control socket under a data directory.
func ControlSocket(dataDir string) string { return Layout{Root: dataDir}.Path("run", "vanta.sock") }

// listenControl opens the control socket, 0600: whoever can open it is
// the operator, with no token, like the docker socket.
func (a *Appliance) listenControl() (net.Listener, error) {
	path := ControlSocket(a.cfg.DataDir)
	// We hold the data directory lock, so a socket here is stale.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// controlHandler serves `vanta ctl`:
//
//	GET  /v1/services                    the services object
//	GET  /v1/readiness                   the /readyz body
//	GET  /v1/tls                         the listener's certificate
//	GET  /v1/setup-token                 the first-boot token (410 once spent)
//	POST /v1/services/{name}/restart
//	GET  /v1/services/{name}/logs?n=N[&follow=1]   JSON lines
//	GET  /v1/events                      state transitions as JSON lines
//	GET  /v1/seal                        the seal status (as seal-status)
//	POST /v1/seal                        seal, audited as the operator
//	GET  /v1/alerts?state=S              the newest 100 alerts (control_alerts.go)
//	POST /v1/companies/{id}/export, POST /v1/companies/import (transfer.go)
func (a *Appliance) controlHandler() http.Handler {
	mux := http.NewServeMux()
	a.transferRoutes(mux)
	a.backupRoutes(mux)
	mux.HandleFunc("GET /v1/seal", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.seal.Status())
	})
	// Whoever can open the socket is root on the box, who could read the
	// keys out of our memory anyway; sealing needs no more than that.
	mux.HandleFunc("POST /v1/seal", func(w http.ResponseWriter, r *http.Request) {
		st, err := a.seal.SealBy("actor", ControlSocketActor, "role", "operator")
		if errors.Is(err, seal.ErrNotInitialized) {
			writeJSON(w, http.StatusConflict, errorBody("not_initialized", "the seal is not initialized: there is nothing to seal", ""))
			return
		}
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, errorBody("internal", err.Error(), ""))
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
	mux.HandleFunc("GET /v1/services", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.Services())
	})
	mux.HandleFunc("GET /v1/alerts", a.controlAlerts)
	mux.HandleFunc("GET /v1/readiness", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.Readiness())
	})
	mux.HandleFunc("GET /v1/tls", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.TLSInfo())
	})
	mux.HandleFunc("GET /v1/setup-token", func(w http.ResponseWriter, r *http.Request) {
		tok, err := a.setup.Token()
		if err != nil {
			writeJSON(w, http.StatusGone, errorBody("setup_token_spent", err.Error(), ""))
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"token": tok, "file": SetupTokenPath(a.cfg.DataDir), "header": SetupTokenHeader})
	})
	mux.HandleFunc("POST /v1/services/{name}/restart", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if err := a.sup.Restart(name); err != nil {
			writeJSON(w, http.StatusNotFound, errorBody("not_found", err.Error(), "name"))
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"restarting": name})
	})
	mux.HandleFunc("GET /v1/services/{name}/logs", func(w http.ResponseWriter, r *http.Request) {
		n := 100
		if v := r.URL.Query().Get("n"); v != "" {
			var err error
			if n, err = strconv.Atoi(v); err != nil || n < 0 {
				writeJSON(w, http.StatusBadRequest, errorBody("validation_failed", "n must be a non-negative integer", "n"))
				return
			}
		}
		name := r.PathValue("name")
		if r.URL.Query().Get("follow") == "" {
			lines, err := a.sup.Logs(name, n)
			if err != nil {
				writeJSON(w, http.StatusNotFound, errorBody("not_found", err.Error(), "name"))
				return
			}
			streamLines(w, lines, nil, r)
			return
		}
		recent, lines, stop, err := a.sup.Follow(name, n)
		if err != nil {
			writeJSON(w, http.StatusNotFound, errorBody("not_found", err.Error(), "name"))
			return
		}
		defer stop()
		streamLines(w, recent, lines, r)
	})
	mux.HandleFunc("GET /v1/events", func(w http.ResponseWriter, r *http.Request) {
		events, cancel := a.sup.Subscribe()
		defer cancel()
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		flush(w)
		for {
			select {
			case <-r.Context().Done():
				return
			case ev := <-events:
				_ = enc.Encode(map[string]any{"time": ev.Time, "program": ev.Program, "from": ev.From, "to": ev.To, "reason": ev.Reason})
				flush(w)
			}
		}
	})
	return mux
}

func streamLines(w http.ResponseWriter, recent []supervisor.LogLine, more <-chan supervisor.LogLine, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	for _, l := range recent {
		_ = enc.Encode(l)
	}
	flush(w)
	if more == nil {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case l := <-more:
			_ = enc.Encode(l)
			flush(w)
		}
	}
}

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func errorBody(code, message, field string) map[string]any {
	e := map[string]string{"code": code, "message": message}
	if field != "" {
		e["field"] = field
	}
	return map[string]any{"error": e}
}
