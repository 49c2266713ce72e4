package auth

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/internal/audit"
)

// RecordInAuditChain is the AuditFunc of the appliance: it writes identity
// events into the hash-chained audit log, in the transaction of the
// change: a company's chain for membership changes, the system chain for
// the rest.
func RecordInAuditChain(ctx context.Context, tx pgx.Tx, e Event) error {
	chain := "system"
	if e.CompanyID != uuid.Nil {
		chain = e.CompanyID.String()
	}
	details := map[string]any{}
	for k, v := range e.Details {
		details[k] = v
	}
	if e.Email != "" {
		details["email"] = e.Email
	}
	resource := ""
	if e.UserID != uuid.Nil {
		resource = "user/" + e.UserID.String()
	}
	// Self-service events (login, refresh, accepting an invitation) are
	// their user's own; administrative ones name the acting user too.
	actor, role := resource, string(e.Role)
	if a, ok := ActorOf(ctx); ok {
		actor, role = "user/"+a.UserID.String(), string(a.Role)
		if e.IP == "" {
			e.IP = a.IP
		}
		if e.Role != "" {
			details["role"] = string(e.Role)
		}
	}
	_, err := audit.Append(ctx, tx, chain, audit.Entry{
		Actor: actor, Role: role, IP: e.IP, Action: e.Action, Resource: resource,
		Outcome: e.Outcome, Details: details,
	})
	return err
}
