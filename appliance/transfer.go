package appliance

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"

	"filippo.io/age"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/audit"
	"github.com/vanta-ledger/vanta/internal/seal"
	"github.com/vanta-ledger/vanta/internal/tenancy"
	"github.com/vanta-ledger/vanta/internal/transfer"
)

// CompanyKeyHeader carries, on an import over the control socket, the
// company key that the operator's identity unwrapped from the bundle
// (base64): the identity itself never leaves the operator's command.
const CompanyKeyHeader = "X-Vanta-Company-Key"

// ExportErrorTrailer is the HTTP trailer that names why an export
// stopped after its bundle began to stream.
const ExportErrorTrailer = "X-Vanta-Export-Error"

// transferRoutes serves `vanta company export|import`:
//
//	POST /v1/companies/{id}/export?recipient=age1…   the bundle, streamed
//	POST /v1/companies/import                        the bundle as the body; the result as JSON
//
// Both need the keys: sealed, they answer 409 "sealed".
func (a *Appliance) transferRoutes(mux *http.ServeMux) {
	stores := func(w http.ResponseWriter) (transfer.Stores, bool) {
		st := a.stores.Load()
		if st == nil {
			writeJSON(w, http.StatusServiceUnavailable, errorBody("starting", "the appliance's databases are not open yet", ""))
			return transfer.Stores{}, false
		}
		if a.seal.Sealed() {
			writeJSON(w, http.StatusConflict, errorBody("sealed", "the appliance is sealed: a company export or import needs its keys; unseal it first", ""))
			return transfer.Stores{}, false
		}
		// The appliance is named by its certificate's fingerprint, as
		// `vanta ctl status` shows it (none with TLS off).
		return transfer.Stores{Admin: st.Admin, Mongo: st.Mongo, Redis: st.Redis, Files: st.Files, Audit: st.Audit,
			Migrator: st.Migrator, Keyring: a.seal.Keyring, Appliance: a.TLSInfo().Fingerprint}, true
	}
	mux.HandleFunc("POST /v1/companies/{id}/export", func(w http.ResponseWriter, r *http.Request) {
		id, err := uuid.Parse(r.PathValue("id"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody("validation_failed", "the company id is not a UUID", "company"))
			return
		}
		recipient, err := age.ParseX25519Recipient(r.URL.Query().Get("recipient"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody("validation_failed", "recipient: not an age recipient (age1…): "+err.Error(), "recipient"))
			return
		}
		st, ok := stores(w)
		if !ok {
			return
		}
		if _, err := tenancy.OperatorScope(r.Context(), st.Admin, id); err != nil {
			writeJSON(w, http.StatusNotFound, errorBody("not_found", err.Error(), "company"))
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Trailer", ExportErrorTrailer)
		sum, err := transfer.Export(r.Context(), st, id, recipient, w)
		if err != nil {
			w.Header().Set(ExportErrorTrailer, err.Error())
			a.logger.Error("company export", "company", id.String(), "error", err.Error())
			return
		}
		// An export hands the company's data to whoever holds the
		// recipient's identity: the system chain and the company's own say
		// who asked, and for whom.
		e := audit.Entry{Actor: ControlSocketActor, Role: "operator", Action: "company.export", Resource: "company/" + id.String(), Outcome: "ok",
			Details: map[string]any{"recipient": r.URL.Query().Get("recipient"), "tables": len(sum.Tables), "files": sum.Files,
				"audit_records": sum.AuditRecords}}
		ctx := context.WithoutCancel(r.Context()) // recorded even if the client has gone
		err = pgx.BeginFunc(ctx, st.Admin, func(tx pgx.Tx) error {
			if _, err := audit.Append(ctx, tx, "system", e); err != nil {
				return err
			}
			_, err := audit.Append(ctx, tx, id.String(), e)
			return err
		})
		if err != nil {
			a.logger.Error("audit append", "action", e.Action, "error", err.Error())
		}
	})
	mux.HandleFunc("POST /v1/companies/import", func(w http.ResponseWriter, r *http.Request) {
		raw, err := base64.StdEncoding.DecodeString(r.Header.Get(CompanyKeyHeader))
		if err != nil || len(raw) != 32 {
			writeJSON(w, http.StatusBadRequest, errorBody("validation_failed", "the unwrapped company key is missing", "identity"))
			return
		}
		st, ok := stores(w)
		if !ok {
			return
		}
		res, err := transfer.Import(r.Context(), st, r.Body, raw, tenancy.Actor{UserID: ControlSocketActor, Role: "operator"})
		var ve *transfer.VersionError
		switch {
		case err == nil:
			writeJSON(w, http.StatusOK, res)
		case errors.Is(err, transfer.ErrCompanyExists), errors.Is(err, tenancy.ErrTaxIDTaken), errors.As(err, &ve):
			writeJSON(w, http.StatusConflict, errorBody("conflict", err.Error(), ""))
		case errors.Is(err, seal.ErrSealed):
			writeJSON(w, http.StatusConflict, errorBody("sealed", err.Error(), ""))
		case errors.Is(err, transfer.ErrNotBundle), errors.Is(err, transfer.ErrTruncated), errors.Is(err, transfer.ErrChecksum),
			errors.Is(err, transfer.ErrDecrypt), errors.Is(err, transfer.ErrMalformed):
			writeJSON(w, http.StatusUnprocessableEntity, errorBody("bad_bundle", err.Error(), "in"))
		default:
			a.logger.Error("company import", "error", err.Error())
			writeJSON(w, http.StatusInternalServerError, errorBody("internal", err.Error(), ""))
		}
	})
}
