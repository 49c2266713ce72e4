package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/audit"
	"github.com/vanta-ledger/vanta/internal/auth"
	"github.com/vanta-ledger/vanta/internal/invoicing"
	"github.com/vanta-ledger/vanta/internal/reports"
	"github.com/vanta-ledger/vanta/internal/seal"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// access is who may call an operation; the document turns it into the
// operation's security and a sentence of its description.
type access int

const (
	public          access = iota // anyone, no credentials
	setupToken                    // the first boot's setup token until a GOD exists
	signedIn                      // any signed-in person (bearer access token)
	godOnly                       // GOD's bearer token
	godOnceAccounts               // open until a GOD exists, GOD only after
	shareOrGOD                    // a custodian's share, or GOD's token for what needs no share
	companyMember                 // a member of {cid} whose role allows the route's action
)

// apiOp is one operation of the API as the document describes it. The
// bodies are Go values of the types the handler decodes and answers
// with: their schemas are generated from those types, so a field added to
// a type shows in the document at once, and TestOpenAPIRequestTypes
// checks that the handler really decodes the request type named here.
type apiOp struct {
	method, path string // path in OpenAPI form ({cid}, not :cid)
	id           string // operationId: stable, camelCase
	tag          string
	summary      string
	access       access
	request      any          // nil: no body
	optionalBody bool         // the body may be left out
	status       int          // of success
	response     any          // nil: no body; a oneOf: one of several shapes
	paged        bool         // takes ?limit= and ?cursor=
	query        []queryParam // other query parameters
	html         bool         // answers a page, not JSON
	note         string
}

// queryParam is a query parameter other than limit and cursor.
type queryParam struct {
	name, description string
	schema            gin.H
}

// oneOf is an answer that takes one of several shapes.
type oneOf []any

// apiOps is every route of the API, the one table from which the OpenAPI
// document and the reference page are made. TestOpenAPITableMatchesRouter
// fails when a route is registered without an entry here, or an entry
// names no route.
var apiOps = []apiOp{
	// Health and the document itself.
	{method: "GET", path: "/healthz", id: "getHealth", tag: "System", summary: "The process is alive", access: public, status: 200, response: health{}},
	{method: "GET", path: "/readyz", id: "getReadiness", tag: "System", summary: "Every enabled service is healthy and the appliance is unsealed", access: public, status: 200, response: appliance.Readiness{},
		note: "Answers 503 with the same body while the appliance is not ready."},
	{method: "GET", path: "/metrics", id: "getMetrics", tag: "System", summary: "Prometheus metrics in the text exposition format", access: godOnly, status: 200,
		note: "Without a token it answers only a scraper on the appliance's own host: a loopback peer, with no X-Forwarded-For or Forwarded header. Works sealed; the per-company families appear only while unsealed, and GOD's token can be checked only then. Registered only when the appliance runs its metrics (docs/OPERATIONS.md lists the families)."},
	{method: "GET", path: "/api/v1/openapi.json", id: "getOpenAPIDocument", tag: "Reference", summary: "This document", access: public, status: 200, response: map[string]any{}},
	{method: "GET", path: "/api/v1/docs", id: "getAPIReference", tag: "Reference", summary: "This document as a readable page", access: public, status: 200, html: true},
	{method: "GET", path: "/api/v1/docs/reference.css", id: "getAPIReferenceStyle", tag: "Reference", summary: "The reference page's style sheet", access: public, status: 200, html: true},

	// The appliance and its seal.
	{method: "GET", path: "/api/v1/sys/services", id: "listServices", tag: "System", summary: "Supervised services and their state", access: godOnceAccounts, status: 200, response: appliance.ServicesReport{}},
	{method: "GET", path: "/api/v1/sys/setup-token", id: "getSetupTokenStatus", tag: "Setup", summary: "Whether sys/init and sys/setup/god still need the setup token header (never the token)", access: public, status: 200, response: setupTokenState{}},
	{method: "GET", path: "/api/v1/sys/setup/status", id: "getSetupStatus", tag: "Setup", summary: "Whether the creator account exists (for the setup page)", access: public, status: 200, response: setupState{}},
	{method: "POST", path: "/api/v1/sys/setup/god", id: "createGOD", tag: "Setup", summary: "Create the creator account (once)", access: setupToken, request: godSetupRequest{}, status: 201, response: godAccount{},
		note: "The answer carries GOD's TOTP secret, once."},
	{method: "GET", path: "/api/v1/sys/seal-status", id: "getSealStatus", tag: "Seal", summary: "Seal state and unseal progress", access: public, status: 200, response: seal.Status{}},
	{method: "POST", path: "/api/v1/sys/init", id: "initSeal", tag: "Seal", summary: "Create the master secret; returns the custodians' shares and the ceremony token once", access: setupToken, request: seal.InitRequest{}, status: 200, response: seal.InitResult{},
		note: "A reissue of a share set still waiting for confirmations needs the ceremony token or a pending share."},
	{method: "POST", path: "/api/v1/sys/init/confirm", id: "confirmShare", tag: "Seal", summary: "A custodian confirms their share (key ceremony)", access: public, request: shareRequest{}, status: 200, response: seal.Status{}},
	{method: "POST", path: "/api/v1/sys/unseal", id: "unseal", tag: "Seal", summary: "Enter one share, or reset the round", access: shareOrGOD, request: shareRequest{}, status: 200, response: seal.Status{},
		note: "A reset needs a share entered in this round, or GOD's token."},
	{method: "POST", path: "/api/v1/sys/seal", id: "seal", tag: "Seal", summary: "Forget every key", access: godOnceAccounts, status: 200, response: seal.Status{}},
	{method: "POST", path: "/api/v1/sys/rotate", id: "rotateRootKey", tag: "Seal", summary: "Add a root key version", access: godOnceAccounts, status: 200, response: seal.Status{}},
	{method: "POST", path: "/api/v1/sys/rekey/init", id: "startRekey", tag: "Seal", summary: "Start replacing the share set", access: shareOrGOD, request: seal.InitRequest{}, status: 200, response: seal.Status{},
		note: "GOD's token while unsealed; anyone while sealed, real only once the threshold of current shares is entered."},
	{method: "POST", path: "/api/v1/sys/rekey/update", id: "updateRekey", tag: "Seal", summary: "Enter a current share; at the threshold, the new shares", access: public, request: shareRequest{}, status: 200, response: oneOf{seal.Status{}, rekeyComplete{}}},
	{method: "POST", path: "/api/v1/sys/rekey/confirm", id: "confirmRekeyShare", tag: "Seal", summary: "A new custodian confirms their share", access: public, request: shareRequest{}, status: 200, response: seal.Status{}},
	{method: "POST", path: "/api/v1/sys/rekey/cancel", id: "cancelRekey", tag: "Seal", summary: "Abandon a rekey", access: shareOrGOD, request: shareRequest{}, optionalBody: true, status: 200, response: seal.Status{},
		note: "GOD's token, or one current share per call until the threshold."},
	{method: "POST", path: "/api/v1/sys/break-glass", id: "enterBreakGlassShare", tag: "Seal", summary: "Enter a share towards a single-use emergency token", access: public, request: shareRequest{}, status: 200, response: oneOf{breakGlassProgress{}, breakGlassToken{}}},
	{method: "POST", path: "/api/v1/sys/break-glass/use", id: "useBreakGlassToken", tag: "Seal", summary: "Spend a break-glass token", access: public, request: breakGlassUseBody{}, status: 200, response: breakGlassValid{}},
	{method: "POST", path: "/api/v1/sys/break-glass/reset-god", id: "resetGOD", tag: "Seal", summary: "Reset GOD's password and TOTP with a break-glass token", access: public, request: godResetRequest{}, status: 200, response: godAccount{},
		note: "Ends every GOD session."},

	// Signing in and one's own account.
	{method: "POST", path: "/api/v1/auth/login", id: "login", tag: "Auth", summary: "Email, password and TOTP for tokens", access: public, request: loginRequest{}, status: 200, response: auth.TokenPair{}},
	{method: "POST", path: "/api/v1/auth/refresh", id: "refreshTokens", tag: "Auth", summary: "Rotate a refresh token", access: public, request: refreshRequest{}, status: 200, response: auth.TokenPair{}},
	{method: "POST", path: "/api/v1/auth/logout", id: "logout", tag: "Auth", summary: "End this session", access: signedIn, status: 204},
	{method: "POST", path: "/api/v1/auth/password", id: "changePassword", tag: "Auth", summary: "Set one's own password (replaces an initial one); ends other sessions", access: public, request: passwordChangeRequest{}, status: 200, response: auth.TokenPair{}},
	{method: "POST", path: "/api/v1/auth/password/reset", id: "resetPassword", tag: "Auth", summary: "Set a new password with a single-use reset link", access: public, request: passwordResetRequest{}, status: 200, response: passwordResetDone{}},
	{method: "POST", path: "/api/v1/auth/invitations/preview", id: "previewInvitation", tag: "Invitations", summary: "The company, email and role of a pending invitation, for the page that accepts it", access: public, request: invitationPreviewRequest{}, status: 200, response: invitationPreview{}},
	{method: "POST", path: "/api/v1/auth/invitations/accept", id: "acceptInvitation", tag: "Invitations", summary: "Accept an invitation: a new account, or an existing one proven by its password", access: public, request: acceptInvitationRequest{}, status: 201, response: acceptance{}},
	{method: "GET", path: "/api/v1/roles", id: "getRoleMatrix", tag: "Members", summary: "The role matrix: which role may do what in a company", access: signedIn, status: 200, response: roleMatrix{}},
	{method: "GET", path: "/api/v1/me", id: "getMe", tag: "Me", summary: "The caller, their memberships and pending invitations", access: signedIn, status: 200, response: caller{}},
	{method: "POST", path: "/api/v1/me/totp", id: "beginTOTPEnrolment", tag: "Me", summary: "Begin enrolling a second factor (password, and a current code to replace one)", access: signedIn, request: totpBeginRequest{}, status: 201, response: totpStarted{}},
	{method: "POST", path: "/api/v1/me/totp/confirm", id: "confirmTOTPEnrolment", tag: "Me", summary: "Confirm the enrolment with a first code", access: signedIn, request: totpConfirmRequest{}, status: 200, response: totpEnrolled{}},
	{method: "POST", path: "/api/v1/me/invitations/{iid}/accept", id: "acceptMyInvitation", tag: "Me", summary: "Accept, signed in, an invitation addressed to one's email", access: signedIn, status: 201, response: acceptance{}},

	// Companies.
	{method: "POST", path: "/api/v1/companies", id: "createCompany", tag: "Companies", summary: "Create a company", access: godOnly, request: tenancy.Company{}, status: 201, response: tenancy.Company{}},
	{method: "GET", path: "/api/v1/companies", id: "listCompanies", tag: "Companies", summary: "Companies the caller may see (GOD: all that are not archived)", access: signedIn, status: 200, response: listPage[tenancy.Company]{}, paged: true},
	{method: "GET", path: "/api/v1/companies/{cid}", id: "getCompany", tag: "Companies", summary: "A company's configuration", access: companyMember, status: 200, response: tenancy.Company{}},
	{method: "PATCH", path: "/api/v1/companies/{cid}", id: "updateCompany", tag: "Companies", summary: "Change a company's configuration", access: companyMember, request: tenancy.CompanyPatch{}, status: 200, response: tenancy.Company{}},
	{method: "DELETE", path: "/api/v1/companies/{cid}", id: "archiveCompany", tag: "Companies", summary: "Archive, or purge (crypto-shred), a company", access: companyMember, request: archiveBody{}, status: 200, response: archived{},
		note: "confirm must be the company's exact name."},
	{method: "GET", path: "/api/v1/companies/{cid}/quota", id: "getCompanyQuota", tag: "Companies", summary: "A company's allowances and use", access: companyMember, status: 200, response: quotaUse{}},

	// Members.
	{method: "GET", path: "/api/v1/companies/{cid}/users", id: "listMembers", tag: "Members", summary: "Members of a company", access: companyMember, status: 200, response: listPage[auth.Member]{}},
	{method: "POST", path: "/api/v1/companies/{cid}/users", id: "createMember", tag: "Members", summary: "Create a user as a member", access: companyMember, request: newMemberRequest{}, status: 201, response: newMember{},
		note: "An admin gets their TOTP enrolment once, here."},
	{method: "PATCH", path: "/api/v1/companies/{cid}/users/{uid}", id: "changeMemberRole", tag: "Members", summary: "Change a member's role", access: companyMember, request: roleBody{}, status: 200, response: memberRole{}},
	{method: "DELETE", path: "/api/v1/companies/{cid}/users/{uid}", id: "removeMember", tag: "Members", summary: "Remove a member", access: companyMember, status: 204},
	{method: "POST", path: "/api/v1/companies/{cid}/users/{uid}/disable", id: "disableMember", tag: "Members", summary: "Disable a member's account", access: companyMember, status: 200, response: memberDisabled{},
		note: "Every session of the user ends at once. An admin may disable only a user who belongs to their company alone."},
	{method: "POST", path: "/api/v1/companies/{cid}/users/{uid}/password-reset", id: "createPasswordReset", tag: "Members", summary: "Make a single-use password reset link for a member", access: companyMember, status: 201, response: resetLink{}},

	// Invitations.
	{method: "GET", path: "/api/v1/companies/{cid}/invitations", id: "listInvitations", tag: "Invitations", summary: "The company's invitations and their status", access: companyMember, status: 200, response: listPage[auth.Invitation]{}},
	{method: "POST", path: "/api/v1/companies/{cid}/invitations", id: "createInvitation", tag: "Invitations", summary: "Invite an email address with a role; the token is shown once", access: companyMember, request: inviteRequest{}, status: 201, response: invitationIssued{}},
	{method: "DELETE", path: "/api/v1/companies/{cid}/invitations/{iid}", id: "revokeInvitation", tag: "Invitations", summary: "Withdraw a pending invitation", access: companyMember, status: 204},

	// Audit.
	{method: "GET", path: "/api/v1/companies/{cid}/audit", id: "listCompanyAudit", tag: "Audit", summary: "A company's audit records, newest first", access: companyMember, status: 200, response: listPage[auditListItem]{}, paged: true, query: auditFilterParams, note: auditFilterNote},
	{method: "GET", path: "/api/v1/companies/{cid}/audit/verify", id: "verifyCompanyAudit", tag: "Audit", summary: "Verify a company's audit chain", access: companyMember, status: 200, response: audit.Result{}},
	{method: "GET", path: "/api/v1/sys/audit", id: "listSystemAudit", tag: "Audit", summary: "The system audit chain's records, newest first", access: godOnly, status: 200, response: listPage[auditListItem]{}, paged: true, query: auditFilterParams, note: auditFilterNote},
	{method: "GET", path: "/api/v1/sys/overview", id: "getSystemOverview", tag: "System", summary: "The seal, services, allowances and every live company with its members and storage, in one answer", access: godOnly, status: 200, response: systemOverview{}},
	{method: "POST", path: "/api/v1/sys/admin-tools/session", id: "openAdminToolsSession", tag: "System", summary: "Set the management tools' cookie for GOD's session", access: godOnly, status: 201, response: adminToolsSessionAnswer{},
		note: "Sets the cookie vanta_admin_tools (Secure; HttpOnly; SameSite=Strict; Path=/admin/), which opens /admin/mongo/ (Mongo Express) and /admin/pgadmin/ (pgAdmin) in a browser for an hour at most, " +
			"and ends with the session it was made in (logout, revocation, a seal). Scripts send GOD's bearer token to /admin/… instead. Those paths are not part of this API: see docs/API.md."},
	{method: "GET", path: "/api/v1/sys/audit/verify", id: "verifySystemAudit", tag: "Audit", summary: "Verify the system audit chain", access: godOnly, status: 200, response: audit.Result{}},
	{method: "GET", path: "/api/v1/sys/metrics/history", id: "getMetricsHistory", tag: "System", summary: "One series of the appliance's own metric history, per minute (a day) or per hour (90 days)", access: godOnly, status: 200, response: metricsHistory{}, query: historyParams,
		note: "Values are decimal strings. A series is its name and exactly its labels; an unknown one answers 404 naming series."},
	{method: "GET", path: "/api/v1/sys/metrics/series", id: "listMetricSeries", tag: "System", summary: "The series the metric history knows, with their labels", access: godOnly, status: 200, response: metricSeriesList{},
		note: "Not paged: the history keeps a bounded number of series."},
	// Security events (internal/security).
	{method: "GET", path: "/api/v1/sys/security-events", id: "listSecurityEvents", tag: "Audit", summary: "Security events of the appliance and every company, newest first", access: godOnly, status: 200, response: listPage[securityEventItem]{}, paged: true, query: securityEventsParams,
		note: "Kinds: login_failed, brute_force, lockout, cross_company_probe, unseal_failed, god_new_address, audit_verify_failed. company_id is null for the appliance's own events. Events are written in the background: one appears within a moment of what caused it."},
	{method: "GET", path: "/api/v1/sys/security-events/summary", id: "getSecurityEventsSummary", tag: "Audit", summary: "Security events kept, counted per company and kind, with those of the last 24 hours", access: godOnly, status: 200, response: securitySummary{}},
	{method: "GET", path: "/api/v1/companies/{cid}/security-events", id: "listCompanySecurityEvents", tag: "Audit", summary: "This company's security events (probes of it by members of other companies, its audit chain failing), newest first", access: companyMember, status: 200, response: listPage[securityEventItem]{}, paged: true,
		query: securityEventsParams[:1], note: "Who stood behind a probe from another company is not shown: user_id and ip are null and empty there."},
	{method: "GET", path: "/api/v1/sys/alerts", id: "listAlerts", tag: "System", summary: "The appliance's alerts (pending, firing, resolved), newest first", access: godOnly, status: 200, response: listPage[alertItem]{}, paged: true, query: alertStateParam},

	// Reports (internal/reports): the books' statements, served by s.report.
	{method: "GET", path: "/api/v1/companies/{cid}/reports/trial-balance", id: "getTrialBalance", tag: "Reports", summary: "Every account's balance on a day, in the company currency and natively", access: companyMember, status: 200, response: reports.TrialBalance{},
		query: []queryParam{dateParam("as_of", "the last day counted (default today)"),
			{name: "all", description: "true: list accounts without postings too", schema: gin.H{"type": "boolean"}}, formatParam},
		note: reportNote},
	{method: "GET", path: "/api/v1/companies/{cid}/reports/general-ledger", id: "getGeneralLedger", tag: "Reports", summary: "One account's posted lines over a period with opening, running and closing balances", access: companyMember, status: 200, response: reports.GeneralLedger{}, paged: true,
		query: []queryParam{{name: "account", description: "the account's code (required)", schema: gin.H{"type": "string"}},
			dateParam("from", "the first day (default 1 January of to's year)"), dateParam("to", "the last day (default today)"), formatParam},
		note: reportNote + " At most limit lines (default 1000, at most 10000) a page; next_cursor asks for the next."},
	{method: "GET", path: "/api/v1/companies/{cid}/reports/profit-and-loss", id: "getProfitAndLoss", tag: "Reports", summary: "Income, expenses and net profit over a period", access: companyMember, status: 200, response: reports.ProfitAndLoss{},
		query: []queryParam{dateParam("from", "the first day (default 1 January of to's year)"), dateParam("to", "the last day (default today)"), formatParam},
		note:  reportNote},
	{method: "GET", path: "/api/v1/companies/{cid}/reports/balance-sheet", id: "getBalanceSheet", tag: "Reports", summary: "Assets, liabilities, equity and current earnings on a day", access: companyMember, status: 200, response: reports.BalanceSheet{},
		query: []queryParam{dateParam("as_of", "the day (default today)"), formatParam},
		note:  reportNote + " current_earnings are income less expenses not yet closed to retained earnings, so assets = liabilities + equity + current earnings."},

	// Ledger (internal/ledger; ledger.go).
	{method: "GET", path: "/api/v1/companies/{cid}/accounts", id: "listAccounts", tag: "Ledger", summary: "The chart of accounts, by code", access: companyMember, status: 200, response: listPage[accountJSON]{}, paged: true},
	{method: "POST", path: "/api/v1/companies/{cid}/accounts", id: "createAccount", tag: "Ledger", summary: "Add an account to the chart", access: companyMember, request: accountCreate{}, status: 201, response: accountJSON{}},
	{method: "PATCH", path: "/api/v1/companies/{cid}/accounts/{aid}", id: "updateAccount", tag: "Ledger", summary: "Rename, move, deactivate or reactivate an account", access: companyMember, request: accountPatch{}, status: 200, response: accountJSON{}},
	{method: "DELETE", path: "/api/v1/companies/{cid}/accounts/{aid}", id: "deleteAccount", tag: "Ledger", summary: "Delete an account without lines (409 account_in_use otherwise: deactivate it)", access: companyMember, status: 204},
	{method: "GET", path: "/api/v1/companies/{cid}/journal-entries", id: "listJournalEntries", tag: "Ledger", summary: "Journal entries by date", access: companyMember, status: 200, response: listPage[entryJSON]{}, paged: true,
		query: []queryParam{
			{"status", "draft or posted", gin.H{"type": "string", "enum": []string{"draft", "posted"}}},
			{"from", "first date, inclusive", gin.H{"type": "string", "format": "date"}},
			{"to", "last date, inclusive", gin.H{"type": "string", "format": "date"}},
			{"account", "entries with a line on this account code", gin.H{"type": "string"}},
			{"source", "manual, invoice, bill, payment, document, import, reversal or statement", gin.H{"type": "string"}},
		}},
	{method: "POST", path: "/api/v1/companies/{cid}/journal-entries", id: "createJournalEntry", tag: "Ledger", summary: "Draft or post an entry", access: companyMember, request: entryRequest{}, status: 201, response: entryJSON{},
		note: "A draft needs ledger.draft; \"status\":\"posted\" also needs ledger.post (403 otherwise). A retried idempotency_key answers 200 with the first entry and Idempotent-Replayed: true; the key with another body is 409 idempotency_conflict."},
	{method: "POST", path: "/api/v1/companies/{cid}/journal-entries/batch", id: "postJournalEntries", tag: "Ledger", summary: "Post up to 1,000 entries, all or nothing", access: companyMember, request: batchRequest{}, status: 201, response: batchResponse{}},
	{method: "GET", path: "/api/v1/companies/{cid}/journal-entries/{eid}", id: "getJournalEntry", tag: "Ledger", summary: "One journal entry with its lines", access: companyMember, status: 200, response: entryJSON{}},
	{method: "PATCH", path: "/api/v1/companies/{cid}/journal-entries/{eid}", id: "updateJournalEntry", tag: "Ledger", summary: "Replace a draft's date, texts and lines (409 not_draft once posted)", access: companyMember, request: entryRequest{}, status: 200, response: entryJSON{}},
	{method: "DELETE", path: "/api/v1/companies/{cid}/journal-entries/{eid}", id: "deleteJournalEntry", tag: "Ledger", summary: "Delete a draft (409 not_draft once posted)", access: companyMember, status: 204},
	{method: "POST", path: "/api/v1/companies/{cid}/journal-entries/{eid}/approve", id: "approveJournalEntry", tag: "Ledger", summary: "Approve a draft, which posts it", access: companyMember, status: 200, response: entryJSON{}},
	{method: "POST", path: "/api/v1/companies/{cid}/journal-entries/{eid}/reverse", id: "reverseJournalEntry", tag: "Ledger", summary: "Post the mirror of a posted entry, linked to it", access: companyMember, request: reverseRequest{}, status: 201, response: entryJSON{}},
	{method: "GET", path: "/api/v1/companies/{cid}/period-lock", id: "getPeriodLock", tag: "Ledger", summary: "The period lock date", access: companyMember, status: 200, response: periodLock{}},
	{method: "PUT", path: "/api/v1/companies/{cid}/period-lock", id: "setPeriodLock", tag: "Ledger", summary: "Move the period lock: nothing is posted on or before it", access: companyMember, request: periodLock{}, status: 200, response: periodLock{}},
	{method: "GET", path: "/api/v1/companies/{cid}/ledger/verify", id: "verifyLedger", tag: "Ledger", summary: "Recompute the books' hash chain and every balance", access: companyMember, status: 200, response: verifyResult{}},
	// Invoicing: contacts, tax codes, invoices, bills, payments and their reports.
	{method: "GET", path: "/api/v1/companies/{cid}/contacts", id: "listContacts", tag: "Invoicing", summary: "Customers and vendors, by name", access: companyMember, status: 200, response: listPage[invoicing.Contact]{}, paged: true, query: contactParams},
	{method: "POST", path: "/api/v1/companies/{cid}/contacts", id: "createContact", tag: "Invoicing", summary: "Add a customer or vendor (KRA PIN checked)", access: companyMember, request: invoicing.ContactInput{}, status: 201, response: invoicing.Contact{}},
	{method: "GET", path: "/api/v1/companies/{cid}/contacts/{ctid}", id: "getContact", tag: "Invoicing", summary: "A contact", access: companyMember, status: 200, response: invoicing.Contact{}},
	{method: "PATCH", path: "/api/v1/companies/{cid}/contacts/{ctid}", id: "updateContact", tag: "Invoicing", summary: "Change a contact", access: companyMember, request: invoicing.ContactPatch{}, status: 200, response: invoicing.Contact{}},
	{method: "GET", path: "/api/v1/companies/{cid}/tax-codes", id: "listTaxCodes", tag: "Invoicing", summary: "Tax codes, every version with its effective dates and eTIMS letter", access: companyMember, status: 200, response: listPage[invoicing.TaxCode]{}, query: taxCodeParams},
	{method: "POST", path: "/api/v1/companies/{cid}/tax-codes", id: "createTaxCode", tag: "Invoicing", summary: "Add a tax code, or a new version of one from a date", access: companyMember, request: invoicing.TaxCodeInput{}, status: 201, response: invoicing.TaxCode{}},
	{method: "GET", path: "/api/v1/companies/{cid}/tax-codes/{tcid}", id: "getTaxCode", tag: "Invoicing", summary: "A tax code version", access: companyMember, status: 200, response: invoicing.TaxCode{}},
	{method: "PATCH", path: "/api/v1/companies/{cid}/tax-codes/{tcid}", id: "updateTaxCode", tag: "Invoicing", summary: "Rename a tax code version, set its eTIMS letter or end it", access: companyMember, request: invoicing.TaxCodePatch{}, status: 200, response: invoicing.TaxCode{}},
	{method: "GET", path: "/api/v1/companies/{cid}/invoices", id: "listInvoices", tag: "Invoicing", summary: "Invoices, newest first", access: companyMember, status: 200, response: listPage[invoicing.Document]{}, paged: true, query: documentParams},
	{method: "POST", path: "/api/v1/companies/{cid}/invoices", id: "createInvoice", tag: "Invoicing", summary: "Save a draft invoice (lines: quantity, unit price, tax code, account)", access: companyMember, request: invoicing.DocumentInput{}, status: 201, response: invoicing.Document{}},
	{method: "GET", path: "/api/v1/companies/{cid}/invoices/{invid}", id: "getInvoice", tag: "Invoicing", summary: "An invoice or one of its credit notes", access: companyMember, status: 200, response: invoicing.Document{}},
	{method: "PATCH", path: "/api/v1/companies/{cid}/invoices/{invid}", id: "updateInvoice", tag: "Invoicing", summary: "Change a draft invoice", access: companyMember, request: invoicing.DocumentPatch{}, status: 200, response: invoicing.Document{}},
	{method: "POST", path: "/api/v1/companies/{cid}/invoices/{invid}/issue", id: "issueInvoice", tag: "Invoicing", summary: "Number a draft invoice and post its entry", access: companyMember, status: 200, response: invoicing.Document{}},
	{method: "POST", path: "/api/v1/companies/{cid}/invoices/{invid}/void", id: "voidInvoice", tag: "Invoicing", summary: "Void an issued invoice nothing was paid on; posts the reversal", access: companyMember, request: invoicing.VoidInput{}, optionalBody: true, status: 200, response: invoicing.Document{}},
	{method: "POST", path: "/api/v1/companies/{cid}/invoices/{invid}/credit-notes", id: "creditInvoice", tag: "Invoicing", summary: "Issue a credit note against an issued invoice", access: companyMember, request: invoicing.CreditNoteInput{}, status: 201, response: invoicing.Document{}},
	{method: "GET", path: "/api/v1/companies/{cid}/bills", id: "listBills", tag: "Invoicing", summary: "Bills, newest first", access: companyMember, status: 200, response: listPage[invoicing.Document]{}, paged: true, query: documentParams},
	{method: "POST", path: "/api/v1/companies/{cid}/bills", id: "createBill", tag: "Invoicing", summary: "Save a draft bill (lines: quantity, unit price, tax code, account)", access: companyMember, request: invoicing.DocumentInput{}, status: 201, response: invoicing.Document{}},
	{method: "GET", path: "/api/v1/companies/{cid}/bills/{bid}", id: "getBill", tag: "Invoicing", summary: "A bill or one of its credit notes", access: companyMember, status: 200, response: invoicing.Document{}},
	{method: "PATCH", path: "/api/v1/companies/{cid}/bills/{bid}", id: "updateBill", tag: "Invoicing", summary: "Change a draft bill", access: companyMember, request: invoicing.DocumentPatch{}, status: 200, response: invoicing.Document{}},
	{method: "POST", path: "/api/v1/companies/{cid}/bills/{bid}/issue", id: "issueBill", tag: "Invoicing", summary: "Number a draft bill and post its entry", access: companyMember, status: 200, response: invoicing.Document{}},
	{method: "POST", path: "/api/v1/companies/{cid}/bills/{bid}/void", id: "voidBill", tag: "Invoicing", summary: "Void an issued bill nothing was paid on; posts the reversal", access: companyMember, request: invoicing.VoidInput{}, optionalBody: true, status: 200, response: invoicing.Document{}},
	{method: "POST", path: "/api/v1/companies/{cid}/bills/{bid}/credit-notes", id: "creditBill", tag: "Invoicing", summary: "Issue a credit note against an issued bill", access: companyMember, request: invoicing.CreditNoteInput{}, status: 201, response: invoicing.Document{}},
	{method: "GET", path: "/api/v1/companies/{cid}/payments", id: "listPayments", tag: "Invoicing", summary: "Payments received and made, newest first", access: companyMember, status: 200, response: listPage[invoicing.Payment]{}, paged: true, query: paymentParams},
	{method: "POST", path: "/api/v1/companies/{cid}/payments", id: "recordPayment", tag: "Invoicing", summary: "Record a payment received or made; posts it and allocates it to invoices or bills", access: companyMember, request: invoicing.PaymentInput{}, status: 201, response: invoicing.Payment{}},
	{method: "GET", path: "/api/v1/companies/{cid}/payments/{pid}", id: "getPayment", tag: "Invoicing", summary: "A payment and its allocations", access: companyMember, status: 200, response: invoicing.Payment{}},
	{method: "GET", path: "/api/v1/companies/{cid}/reports/aged-receivables", id: "getAgedReceivables", tag: "Invoicing", summary: "What customers owe, by contact and days past due", access: companyMember, status: 200, response: invoicing.AgedReport{}, query: agedParams},
	{method: "GET", path: "/api/v1/companies/{cid}/reports/aged-payables", id: "getAgedPayables", tag: "Invoicing", summary: "What the company owes vendors, by contact and days past due", access: companyMember, status: 200, response: invoicing.AgedReport{}, query: agedParams},
	{method: "GET", path: "/api/v1/companies/{cid}/reports/vat-return", id: "getVATReturn", tag: "Invoicing", summary: "Output and input VAT of a period by eTIMS letter and rate, withholding VAT credits, net payable", access: companyMember, status: 200, response: invoicing.VATReturn{}, query: vatReturnParams},

	// Interchange (internal/interchange; interchange.go).
	{method: "GET", path: "/api/v1/companies/{cid}/export", id: "exportBooks", tag: "Interchange", summary: "The posted books as a journal hledger and ledger-cli read, or as CSV (one row per line)", access: companyMember, status: 200,
		query: []queryParam{{name: "format", description: "journal (default) or csv", schema: gin.H{"type": "string", "enum": []string{"journal", "csv"}}}},
		note:  "Answers text/plain (journal) or text/csv, not JSON. A line in another currency than the company's carries its company-currency value as an @@ total cost, so hledger balances every entry."},
	{method: "POST", path: "/api/v1/companies/{cid}/imports", id: "startImport", tag: "Interchange", summary: "Import a journal (hledger, ledger-cli) or a bank or M-Pesa statement; 202, then GET imports/{impid}", access: companyMember, status: 202, response: importStarted{},
		query: []queryParam{{name: "format", description: "journal (default) or csv", schema: gin.H{"type": "string", "enum": []string{"journal", "csv"}}},
			{name: "preset", description: "csv: mpesa or bank", schema: gin.H{"type": "string"}},
			{name: "mapping", description: "csv: field:Column,… (date, description, amount or paid_in and withdrawn, transaction_id, balance, status)", schema: gin.H{"type": "string"}},
			{name: "account", description: "csv: the code of the account the statement is for", schema: gin.H{"type": "string"}},
			{name: "date_format", description: "csv: a Go date layout, e.g. 02/01/2006", schema: gin.H{"type": "string"}}},
		note: "The file is the request body (any text content type) or multipart field file, at most 32 MiB (413 beyond). Everything is posted in one transaction: a refusal anywhere (a failing balance assertion, an include, a commodity without a rate) changes nothing and is reported in the import's errors with its line."},
	{method: "GET", path: "/api/v1/companies/{cid}/imports", id: "listImports", tag: "Interchange", summary: "The company's imports, newest first", access: companyMember, status: 200, response: listPage[importJSON]{}, paged: true},
	{method: "GET", path: "/api/v1/companies/{cid}/imports/{impid}", id: "getImport", tag: "Interchange", summary: "One import: status, progress and the lines at fault", access: companyMember, status: 200, response: importJSON{}},

	// Documents (internal/documents; documents.go).
	{method: "POST", path: "/api/v1/companies/{cid}/documents", id: "uploadDocument", tag: "Documents", summary: "Upload a PDF, PNG, JPEG or TIFF (multipart field file); 202, then GET documents/{docid}", access: companyMember, status: 202, response: documentStarted{},
		note: "Streamed to the company's encrypted store, never held in memory. The type is read from the content: anything else is 415 (field file), an empty file 400, a file over the limit (50 MiB by default) or over the company's storage allowance 413. Each upload counts one request against the company's AI allowance (429 with Retry-After when it is used up), whichever engine then reads it. The same content uploaded again is not stored twice: 200 with the existing document's ids and duplicate true."},
	{method: "GET", path: "/api/v1/companies/{cid}/documents", id: "listDocuments", tag: "Documents", summary: "The company's documents, newest first; q searches their text", access: companyMember, status: 200, response: listPage[documentJSON]{}, paged: true,
		query: []queryParam{{name: "status", description: "queued, ocr, classify, extract, done, needs_review, approved or failed", schema: gin.H{"type": "string", "enum": documentStatuses}},
			{name: "q", description: "words that must all be in the document's text (keyed hashes: the text itself is never indexed in the clear)", schema: gin.H{"type": "string"}}}},
	{method: "GET", path: "/api/v1/companies/{cid}/documents/{docid}", id: "getDocument", tag: "Documents", summary: "One document: status, each stage's timing and error, the extraction (engine, model, prompt version, fallback reason, checks)", access: companyMember, status: 200, response: documentJSON{}},
	{method: "DELETE", path: "/api/v1/companies/{cid}/documents/{docid}", id: "deleteDocument", tag: "Documents", summary: "Cancel a document's job and remove it with its file; its bytes return to the storage allowance", access: companyMember, status: 204,
		note: "An approved document stays (409 invalid_status): a journal entry names it."},
	{method: "GET", path: "/api/v1/companies/{cid}/documents/{docid}/file", id: "getDocumentFile", tag: "Documents", summary: "The original file, decrypted, with the media type of its content", access: companyMember, status: 200,
		note: "Answers the file (application/pdf, image/png, image/jpeg or image/tiff), not JSON."},
	{method: "PATCH", path: "/api/v1/companies/{cid}/documents/{docid}/extraction", id: "correctDocument", tag: "Documents", summary: "A reviewer's corrections of the extracted fields; kept as training data for the vendor's template", access: companyMember, request: extractedFields{}, status: 200, response: documentJSON{}},
	{method: "POST", path: "/api/v1/companies/{cid}/documents/{docid}/approve", id: "approveDocument", tag: "Documents", summary: "Make a draft journal entry from the document, linked both ways; the ledger's approval posts it", access: companyMember, request: approveRequest{}, optionalBody: true, status: 201, response: approved{}},
	{method: "POST", path: "/api/v1/companies/{cid}/documents/{docid}/retry", id: "retryDocument", tag: "Documents", summary: "Put a failed document back in the queue; it resumes at its unfinished stage", access: companyMember, status: 202, response: documentStarted{},
		note: "Only a failed document (409 invalid_status otherwise). A bad file fails again with the same reason."},
}

// tagDescriptions describe the groups of operations, in the order the
// reference page shows them.
var tagDescriptions = []struct{ name, description string }{
	{"System", "Liveness, readiness and the supervised services."},
	{"Setup", "The first boot: the setup token and the creator (GOD) account."},
	{"Seal", "The Shamir seal: key ceremony, unseal, rekey, root key rotation and break-glass."},
	{"Auth", "Signing in, tokens and passwords."},
	{"Me", "The signed-in person's own account."},
	{"Companies", "Companies (tenants) and their configuration."},
	{"Members", "People in a company and their roles."},
	{"Invitations", "Inviting people into a company, and accepting."},
	{"Audit", "The hash-chained audit log of each company and of the system."},
	{"Reports", "The books' statements: trial balance, general ledger, profit and loss, balance sheet; JSON or CSV."},
	{"Ledger", "A company's books: the chart of accounts, journal entries, the period lock and their verification."},
	{"Invoicing", "Customers and vendors, tax codes, invoices, bills, credit notes, payments, aged receivables and payables, and the VAT return."},
	{"Documents", "Receipts, invoices and statements in: intake, OCR, extraction by rules or a local LLM, review and approval into a draft journal entry."},
	{"Interchange", "The books out as a plain-text journal or CSV, and in from journals and bank or M-Pesa statements."},
	{"Reference", "This API's own description."},
}

// Answers the handlers build as maps (gin.H). These mirror them field by
// field for the document; the request types, by contrast, are the
// handlers' own.
type (
	health struct {
		Status string `json:"status"`
	}
	setupTokenState struct {
		Required bool   `json:"required"`
		Header   string `json:"header"`
	}
	setupState struct {
		GODExists bool `json:"god_exists"`
	}
	totpSecret struct {
		Secret string `json:"secret"`
		URI    string `json:"uri"`
		QRPNG  string `json:"qr_png,omitempty"`
	}
	godAccount struct {
		User auth.User  `json:"user"`
		TOTP totpSecret `json:"totp"`
	}
	rekeyComplete struct {
		Complete  bool               `json:"complete"`
		Threshold int                `json:"threshold"`
		Shares    []seal.IssuedShare `json:"shares"`
		Rekey     *seal.RekeyStatus  `json:"rekey"`
	}
	breakGlassProgress struct {
		Progress  int `json:"progress"`
		Threshold int `json:"threshold"`
	}
	breakGlassToken struct {
		Token     string `json:"token"`
		ExpiresIn int    `json:"expires_in"`
	}
	breakGlassValid struct {
		Valid bool `json:"valid"`
	}
	passwordResetDone struct {
		Email           string `json:"email"`
		PasswordChanged bool   `json:"password_changed"`
	}
	acceptance struct {
		User       auth.User   `json:"user"`
		CompanyID  uuid.UUID   `json:"company_id"`
		Role       auth.Role   `json:"role"`
		NewAccount bool        `json:"new_account"`
		TOTP       *totpSecret `json:"totp,omitempty"`
	}
	pendingInvitation struct {
		ID          uuid.UUID `json:"id"`
		CompanyID   uuid.UUID `json:"company_id"`
		CompanyName string    `json:"company_name"`
		Role        auth.Role `json:"role"`
		ExpiresAt   time.Time `json:"expires_at"`
	}
	caller struct {
		ID           uuid.UUID           `json:"id"`
		Email        string              `json:"email"`
		Name         string              `json:"name"`
		IsGOD        bool                `json:"is_god"`
		Memberships  []auth.Membership   `json:"memberships"`
		Invitations  []pendingInvitation `json:"invitations"`
		TOTPEnrolled bool                `json:"totp_enrolled"`
	}
	totpStarted struct {
		TOTP totpSecret `json:"totp"`
	}
	totpEnrolled struct {
		Enrolled bool `json:"enrolled"`
	}
	archived struct {
		CompanyID uuid.UUID `json:"company_id"`
		Status    string    `json:"status"`
	}
	quotaRate struct {
		PerUser    int `json:"per_user"`
		PerCompany int `json:"per_company"`
	}
	storageUse struct {
		Used  int64 `json:"used"`
		Limit int64 `json:"limit"`
	}
	quotaUse struct {
		RequestsPerMinute quotaRate  `json:"requests_per_minute"`
		AIRequestsPerHour int        `json:"ai_requests_per_hour"`
		StorageBytes      storageUse `json:"storage_bytes"`
	}
	newMember struct {
		ID     uuid.UUID   `json:"id"`
		Email  string      `json:"email"`
		Name   string      `json:"name"`
		Role   auth.Role   `json:"role"`
		Status auth.Status `json:"status"`
		TOTP   *totpSecret `json:"totp,omitempty"`
	}
	memberRole struct {
		ID   uuid.UUID `json:"id"`
		Role auth.Role `json:"role"`
	}
	memberDisabled struct {
		ID     uuid.UUID `json:"id"`
		Status string    `json:"status"`
	}
	resetLink struct {
		Token     string    `json:"token"`
		ResetPath string    `json:"reset_path"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	invitationIssued struct {
		Invitation auth.Invitation `json:"invitation"`
		Token      string          `json:"token"`
		AcceptPath string          `json:"accept_path"`
		AcceptURL  string          `json:"accept_url,omitempty"`
	}
	auditListItem struct {
		Seq      int64     `json:"seq"`
		At       time.Time `json:"at"`
		Actor    string    `json:"actor"`
		Role     string    `json:"role"`
		IP       string    `json:"ip"`
		Action   string    `json:"action"`
		Resource string    `json:"resource"`
		Outcome  string    `json:"outcome"`
		Details  string    `json:"details"`
	}
	listPage[T any] struct {
		Items      []T    `json:"items"`
		NextCursor string `json:"next_cursor"`
	}
	// securityEventItem is securityEvent with the details every kind
	// gives (internal/security), each present only where it applies.
	securityEventItem struct {
		ID        int64                `json:"id"`
		Time      time.Time            `json:"time"`
		Kind      string               `json:"kind"`
		CompanyID *uuid.UUID           `json:"company_id"`
		UserID    *uuid.UUID           `json:"user_id"`
		IP        string               `json:"ip"`
		Details   securityEventDetails `json:"details"`
	}
	securityEventDetails struct {
		Reason           string `json:"reason,omitempty"`            // login_failed: why refused; audit_verify_failed: why it fails
		Op               string `json:"op,omitempty"`                // lockout: login or password
		FailuresPair     int64  `json:"failures_pair,omitempty"`     // lockout
		FailuresIP       int64  `json:"failures_ip,omitempty"`       // lockout
		FailuresAccount  int64  `json:"failures_account,omitempty"`  // lockout
		Failures         int64  `json:"failures,omitempty"`          // brute_force: failures in the window
		WindowSeconds    int64  `json:"window_seconds,omitempty"`    // brute_force
		By               string `json:"by,omitempty"`                // brute_force: ip or user_id
		Route            string `json:"route,omitempty"`             // cross_company_probe: the route's template
		RequestedCompany string `json:"requested_company,omitempty"` // cross_company_probe
		Refused          string `json:"refused,omitempty"`           // unseal_failed: malformed, unknown or wrong_key
		Actor            string `json:"actor,omitempty"`             // unseal_failed through the control socket
		NotSeenDays      int64  `json:"not_seen_days,omitempty"`     // god_new_address
		LastSeen         string `json:"last_seen,omitempty"`         // god_new_address: when GOD last used it
		Chain            string `json:"chain,omitempty"`             // audit_verify_failed
		Truncated        bool   `json:"truncated,omitempty"`         // details were too large to keep
	}
)

// Request bodies some handlers decode into an unnamed struct, written
// here field for field; TestOpenAPIRequestTypes holds them to the JSON
// shape (names, options, types) of what the handlers decode.
type (
	archiveBody = struct {
		Confirm string `json:"confirm"`
		Purge   bool   `json:"purge"`
	}
	roleBody = struct {
		Role string `json:"role"`
	}
	breakGlassUseBody = struct {
		Token string `json:"token"`
	}
)

// statusText is the description of a success status.
func statusText(status int) string {
	if status == http.StatusNoContent {
		return "Done; no body"
	}
	return http.StatusText(status)
}

// decodeObserver sees every body type decode is asked to fill; a no-op
// but in TestOpenAPIRequestTypes, which checks apiOps' request types
// against what the handlers really decode.
var decodeObserver = func(*gin.Context, any) {}
