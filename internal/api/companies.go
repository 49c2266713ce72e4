package api

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
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

// CompanyRoute is one route under /api/v1/companies/{cid} and the action
// the role matrix must allow for it.
type CompanyRoute struct {
	Method string
	Path   string // below /api/v1/companies/:cid
	Action auth.Action
}

// companyPrefix is where company routes live; companyGate guards them.
const companyPrefix = "/api/v1/companies/:cid"

// CompanyRoutes lists every route the router serves under
// /api/v1/companies/{cid}, read from the router itself, with the action
// its company gate checks. The isolation suite probes each for every role,
// so a new route cannot be forgotten there. A route registered under the
// prefix without going through companyRoutes (and so without the gate)
// is listed with no action: no role but GOD is allowed it, the suite
// expects 403 for members and fails on it; TestCompanyRoutesAreGated
// says so sooner.
func CompanyRoutes() []CompanyRoute {
	// Registering routes touches neither the appliance nor the seal; a
	// zero seal service only makes the seal-dependent routes register.
	engine, ok := NewRouter(Deps{Appliance: nil, Seal: &seal.Service{}}).(*gin.Engine)
	if !ok {
		panic("api: NewRouter is not a gin engine")
	}
	actions := map[string]auth.Action{}
	for _, r := range (&server{}).companyRoutes() {
		actions[r.Method+" "+r.Path] = r.Action
	}
	var out []CompanyRoute
	for _, ri := range engine.Routes() {
		path, ok := strings.CutPrefix(ri.Path, companyPrefix)
		if !ok || (path != "" && !strings.HasPrefix(path, "/")) {
			continue
		}
		out = append(out, CompanyRoute{Method: ri.Method, Path: path, Action: actions[ri.Method+" "+path]})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}

type companyRoute struct {
	CompanyRoute
	handle gin.HandlerFunc
}

// companyRoutes is the table of company routes: companyAPI registers each
// behind companyGate with its action; handlers return their errors.
func (s *server) companyRoutes() []companyRoute {
	h := s.handle
	return []companyRoute{
		{CompanyRoute{"GET", "", auth.ActCompanyRead}, h(s.getCompany)},
		{CompanyRoute{"PATCH", "", auth.ActCompanyUpdate}, h(s.updateCompany)},
		{CompanyRoute{"DELETE", "", auth.ActCompanyArchive}, h(s.archiveCompany)},
		{CompanyRoute{"PATCH", "/users/:uid", auth.ActUsersManage}, h(s.changeMemberRole)},
		{CompanyRoute{"DELETE", "/users/:uid", auth.ActUsersManage}, h(s.removeMember)},
		{CompanyRoute{"POST", "/users/:uid/disable", auth.ActUsersManage}, h(s.disableMember)},
		{CompanyRoute{"POST", "/users/:uid/password-reset", auth.ActUsersManage}, h(s.passwordReset)},
		{CompanyRoute{"GET", "/users", auth.ActUsersManage}, companyList(s, (*auth.Service).Members)},
		{CompanyRoute{"POST", "/users", auth.ActUsersManage}, identityHandler(s, http.StatusCreated, s.createCompanyUser)},
		{CompanyRoute{"GET", "/invitations", auth.ActUsersManage}, companyList(s, (*auth.Service).Invitations)},
		{CompanyRoute{"POST", "/invitations", auth.ActUsersManage}, identityHandler(s, http.StatusCreated, s.invite)},
		{CompanyRoute{"DELETE", "/invitations/:iid", auth.ActUsersManage}, h(s.revokeInvitation)},
		{CompanyRoute{"GET", "/quota", auth.ActCompanyRead}, h(s.getQuota)},
		{CompanyRoute{"GET", "/audit", auth.ActAuditRead}, h(s.listAudit(companyChain))},
		{CompanyRoute{"GET", "/audit/verify", auth.ActAuditRead}, h(s.verifyAudit(companyChain))},
		// reports (internal/reports): the books' statements, JSON or CSV,
		// through s.report (cache + CSV for any reports.Func).
		{CompanyRoute{"GET", "/reports/trial-balance", auth.ActReportsRead}, s.report("trial-balance", reports.TrialBalanceReport)},
		{CompanyRoute{"GET", "/reports/general-ledger", auth.ActReportsRead}, s.report("general-ledger", reports.GeneralLedgerReport)},
		{CompanyRoute{"GET", "/reports/profit-and-loss", auth.ActReportsRead}, s.report("profit-and-loss", reports.ProfitAndLossReport)},
		{CompanyRoute{"GET", "/reports/balance-sheet", auth.ActReportsRead}, s.report("balance-sheet", reports.BalanceSheetReport)},
		// ledger: the chart of accounts, journal entries, the period lock
		// and the books' verification (internal/ledger, ledger.go).
		{CompanyRoute{"GET", "/accounts", auth.ActLedgerRead}, h(s.listAccounts)},
		{CompanyRoute{"POST", "/accounts", auth.ActLedgerPost}, h(s.createAccount)},
		{CompanyRoute{"PATCH", "/accounts/:aid", auth.ActLedgerPost}, h(s.updateAccount)},
		{CompanyRoute{"DELETE", "/accounts/:aid", auth.ActLedgerPost}, h(s.deleteAccount)},
		{CompanyRoute{"GET", "/journal-entries", auth.ActLedgerRead}, h(s.listEntries)},
		{CompanyRoute{"POST", "/journal-entries", auth.ActLedgerDraft}, h(s.createEntry)},
		{CompanyRoute{"POST", "/journal-entries/batch", auth.ActLedgerPost}, h(s.postBatch)},
		{CompanyRoute{"GET", "/journal-entries/:eid", auth.ActLedgerRead}, h(s.getEntry)},
		{CompanyRoute{"PATCH", "/journal-entries/:eid", auth.ActLedgerDraft}, h(s.updateEntry)},
		{CompanyRoute{"DELETE", "/journal-entries/:eid", auth.ActLedgerDraft}, h(s.deleteEntry)},
		{CompanyRoute{"POST", "/journal-entries/:eid/approve", auth.ActLedgerApprove}, h(s.approveEntry)},
		{CompanyRoute{"POST", "/journal-entries/:eid/reverse", auth.ActLedgerPost}, h(s.reverseEntry)},
		{CompanyRoute{"GET", "/period-lock", auth.ActLedgerRead}, h(s.getPeriodLock)},
		{CompanyRoute{"PUT", "/period-lock", auth.ActCompanyUpdate}, h(s.setPeriodLock)},
		{CompanyRoute{"GET", "/ledger/verify", auth.ActAuditRead}, h(s.verifyLedger)},
		// invoicing (internal/invoicing, handlers in invoicing.go): reading
		// needs ledger.read, drafting ledger.draft, whatever posts
		// ledger.post, tax codes company.update, reports reports.read.
		{CompanyRoute{"GET", "/contacts", auth.ActLedgerRead}, h(s.listContacts)},
		{CompanyRoute{"POST", "/contacts", auth.ActLedgerDraft}, h(s.createContact)},
		{CompanyRoute{"GET", "/contacts/:ctid", auth.ActLedgerRead}, h(s.getContact)},
		{CompanyRoute{"PATCH", "/contacts/:ctid", auth.ActLedgerDraft}, h(s.updateContact)},
		{CompanyRoute{"GET", "/tax-codes", auth.ActLedgerRead}, h(s.listTaxCodes)},
		{CompanyRoute{"POST", "/tax-codes", auth.ActCompanyUpdate}, h(s.createTaxCode)},
		{CompanyRoute{"GET", "/tax-codes/:tcid", auth.ActLedgerRead}, h(s.getTaxCode)},
		{CompanyRoute{"PATCH", "/tax-codes/:tcid", auth.ActCompanyUpdate}, h(s.updateTaxCode)},
		{CompanyRoute{"GET", "/invoices", auth.ActLedgerRead}, h(s.docs(invoicing.KindInvoice).list)},
		{CompanyRoute{"POST", "/invoices", auth.ActLedgerDraft}, h(s.docs(invoicing.KindInvoice).create)},
		{CompanyRoute{"GET", "/invoices/:invid", auth.ActLedgerRead}, h(s.docs(invoicing.KindInvoice).get)},
		{CompanyRoute{"PATCH", "/invoices/:invid", auth.ActLedgerDraft}, h(s.docs(invoicing.KindInvoice).update)},
		{CompanyRoute{"POST", "/invoices/:invid/issue", auth.ActLedgerPost}, h(s.docs(invoicing.KindInvoice).issue)},
		{CompanyRoute{"POST", "/invoices/:invid/void", auth.ActLedgerPost}, h(s.docs(invoicing.KindInvoice).void)},
		{CompanyRoute{"POST", "/invoices/:invid/credit-notes", auth.ActLedgerPost}, h(s.docs(invoicing.KindInvoice).creditNote)},
		{CompanyRoute{"GET", "/bills", auth.ActLedgerRead}, h(s.docs(invoicing.KindBill).list)},
		{CompanyRoute{"POST", "/bills", auth.ActLedgerDraft}, h(s.docs(invoicing.KindBill).create)},
		{CompanyRoute{"GET", "/bills/:bid", auth.ActLedgerRead}, h(s.docs(invoicing.KindBill).get)},
		{CompanyRoute{"PATCH", "/bills/:bid", auth.ActLedgerDraft}, h(s.docs(invoicing.KindBill).update)},
		{CompanyRoute{"POST", "/bills/:bid/issue", auth.ActLedgerPost}, h(s.docs(invoicing.KindBill).issue)},
		{CompanyRoute{"POST", "/bills/:bid/void", auth.ActLedgerPost}, h(s.docs(invoicing.KindBill).void)},
		{CompanyRoute{"POST", "/bills/:bid/credit-notes", auth.ActLedgerPost}, h(s.docs(invoicing.KindBill).creditNote)},
		{CompanyRoute{"GET", "/payments", auth.ActLedgerRead}, h(s.listPayments)},
		{CompanyRoute{"POST", "/payments", auth.ActLedgerPost}, h(s.recordPayment)},
		{CompanyRoute{"GET", "/payments/:pid", auth.ActLedgerRead}, h(s.getPayment)},
		{CompanyRoute{"GET", "/reports/aged-receivables", auth.ActReportsRead}, s.report("aged-receivables", reports.AsOf(invoicing.AgedReceivables))},
		{CompanyRoute{"GET", "/reports/aged-payables", auth.ActReportsRead}, s.report("aged-payables", reports.AsOf(invoicing.AgedPayables))},
		{CompanyRoute{"GET", "/reports/vat-return", auth.ActReportsRead}, s.report("vat-return", reports.Period(invoicing.VATReturnFor))},
		// interchange: the books out as a journal or CSV, and imports of
		// journals and bank/M-Pesa statements (internal/interchange).
		{CompanyRoute{"GET", "/export", auth.ActLedgerRead}, h(s.exportBooks)},
		{CompanyRoute{"POST", "/imports", auth.ActLedgerPost}, h(s.startImport)},
		{CompanyRoute{"GET", "/imports", auth.ActLedgerRead}, h(s.listImports)},
		{CompanyRoute{"GET", "/imports/:impid", auth.ActLedgerRead}, h(s.getImport)},
		// documents (internal/documents, handlers in documents.go): intake,
		// the pipeline's progress, review and approval into a draft entry.
		{CompanyRoute{"POST", "/documents", auth.ActDocumentsUpload}, h(s.uploadDocument)},
		{CompanyRoute{"GET", "/documents", auth.ActDocumentsRead}, h(s.listDocuments)},
		{CompanyRoute{"GET", "/documents/:docid", auth.ActDocumentsRead}, h(s.getDocument)},
		{CompanyRoute{"DELETE", "/documents/:docid", auth.ActDocumentsUpload}, h(s.deleteDocument)},
		{CompanyRoute{"GET", "/documents/:docid/file", auth.ActDocumentsRead}, h(s.documentFile)},
		{CompanyRoute{"PATCH", "/documents/:docid/extraction", auth.ActDocumentsApprove}, h(s.correctDocument)},
		{CompanyRoute{"POST", "/documents/:docid/approve", auth.ActDocumentsApprove}, h(s.approveDocument)},
		{CompanyRoute{"POST", "/documents/:docid/retry", auth.ActDocumentsUpload}, h(s.retryDocument)},
		// security events of this company (security.go), for its admins
		{CompanyRoute{"GET", "/security-events", auth.ActAuditRead}, h(s.listCompanySecurityEvents)},
	}
}

const (
	ctxScope = "vanta.scope"
	ctxRole  = "vanta.role"
)

func scope(c *gin.Context) tenancy.Scope {
	v, _ := c.Get(ctxScope)
	sc, _ := v.(tenancy.Scope)
	return sc
}

// companyGate resolves {cid} for the caller: a company they are not a
// member of is "not found", never "forbidden", so that probing cannot tell
// which companies exist. A member whose role lacks the route's action gets
// 403. Only then is the tenancy.Scope made; handlers take the company from
// it and from nowhere else.
func (s *server) companyGate(action auth.Action) gin.HandlerFunc {
	return s.handle(func(c *gin.Context) error {
		ctx := c.Request.Context()
		noSuchCompany := func() error {
			c.Set(ctxWanted, "company.not_found")
			return notFound("no such company", "")
		}
		cid, err := uuid.Parse(c.Param("cid"))
		if err != nil {
			return noSuchCompany()
		}
		id, err := s.identityService(c)
		if err != nil {
			return err
		}
		d, err := s.domain()
		if err != nil {
			return err
		}
		p := principal(c)
		role, err := id.RoleIn(ctx, p.UserID, cid)
		if errors.Is(err, auth.ErrNotMember) {
			// A member asking for a company that is not theirs.
			s.Security.CrossCompanyProbe(p.UserID, cid, ip(c), c.FullPath())
			return noSuchCompany()
		}
		if err != nil {
			return err
		}
		status, err := d.companies.Status(ctx, cid)
		if errors.Is(err, tenancy.ErrCompanyNotFound) || status == tenancy.StatusArchived {
			return noSuchCompany()
		}
		if err != nil {
			return err
		}
		// A member's refusals from here on go to the company's chain.
		c.Set(ctxRole, role)
		c.Set(ctxDenyChain, cid.String())
		if !auth.Allowed(role, action) {
			c.Set(ctxWanted, string(action))
			return forbidden("your role (" + string(role) + ") may not " + string(action))
		}
		sc := tenancy.NewScope(cid)
		if s.overQuota(c, sc.RedisPrefix()+"quota:requests", s.Quotas.CompanyPerMinute) {
			return errAnswered
		}
		c.Set(ctxScope, sc)
		c.Set(ctxRole, role)
		c.Request = c.Request.WithContext(auth.WithActor(ctx, auth.Actor{UserID: p.UserID, Role: role, IP: ip(c)}))
		c.Next()
		return nil
	})
}

// recordRefusal writes a refused request of an authenticated caller into
// an audit chain; fail calls it for every 4xx but 401 (the identity
// service records failed sign-ins itself) and 429 (a flood is not news).
// The chain is the company's when the caller is a member of the company
// the route names (an admin reads it there), the system's otherwise: a
// company the caller cannot see, or a system route. Per user, a burst of
// 60 and then one every 2 s are recorded; past that each is only logged
// (WARN), so an authenticated flood cannot grow a chain without bound.
func (s *server) recordRefusal(c *gin.Context, ae *apiError) {
	if ae.status == http.StatusUnauthorized || ae.status == http.StatusTooManyRequests || c.GetBool(ctxOwnAudit) {
		return // the management tools' proxy records its requests itself
	}
	v, authed := c.Get(ctxPrincipal)
	p, _ := v.(auth.Principal)
	if !authed || p.UserID == uuid.Nil {
		return // only authenticated callers: anyone else could flood the chain
	}
	st := s.Appliance.Stores()
	if st == nil {
		return
	}
	chain := c.GetString(ctxDenyChain)
	if sc := scope(c); chain == "" && sc.Company() != uuid.Nil {
		chain = sc.Company().String()
	}
	details := map[string]any{"status": ae.status, "code": ae.code}
	if ae.field != "" {
		details["field"] = ae.field
	}
	if w := c.GetString(ctxWanted); w != "" {
		details["wanted"] = w
	}
	if chain == "" {
		chain = "system"
		if cid := c.Param("cid"); cid != "" {
			details["company"] = truncate(cid, 64)
		}
	}
	action := "request.refused"
	if ae.status == http.StatusForbidden || ae.status == http.StatusNotFound {
		action = "permission.denied"
	}
	s.appendRefusal(c, st, p, chain, action, details)
}

func (s *server) appendRefusal(c *gin.Context, st *appliance.Stores, p auth.Principal, chain, action string, details map[string]any) {
	if ok, _ := s.denialLimiter.reserve("user/"+p.UserID.String(), time.Now()); !ok {
		s.logger.Warn("audit refusal dropped: over the per-user rate", "user", p.UserID.String(), "action", action)
		return
	}
	role, _ := c.Get(ctxRole)
	roleName, _ := role.(auth.Role)
	if roleName == "" && p.IsGOD {
		roleName = auth.RoleGOD
	}
	// The request's own context may be cancelled by now (a client that
	// hung up): the record is still owed.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 5*time.Second)
	defer cancel()
	_, err := audit.AppendAlone(ctx, st.App, chain, audit.Entry{
		Actor: "user/" + p.UserID.String(), Role: string(roleName), IP: ip(c), Action: action,
		Resource: c.Request.Method + " " + c.FullPath(), Outcome: "denied", Details: details,
	})
	if err != nil {
		s.logger.Error("audit refusal", "chain", chain, "error", err.Error())
	}
}

const (
	// ctxDenyChain is the company whose chain records a refusal before
	// the scope exists (a member lacking the route's role).
	ctxDenyChain = "vanta.deny_chain"
	// ctxWanted is the action a refused request needed.
	ctxWanted = "vanta.wanted"
)

func (s *server) companyAPI(v1 *gin.RouterGroup) {
	authed := v1.Group("", s.authenticate)
	authed.POST("/companies", s.handle(s.createCompany))
	authed.GET("/companies", s.handle(s.listCompanies))
	// The system chain (sign-ins, seal events, company lifecycle, refusals
	// outside a company) is GOD's to read and verify.
	authed.GET("/sys/audit", s.requireGOD, s.handle(s.listAudit(systemChain)))
	authed.GET("/sys/audit/verify", s.requireGOD, s.handle(s.verifyAudit(systemChain)))
	// GOD's overview of the appliance, every company in one answer.
	authed.GET("/sys/overview", s.refuseOtherSites, s.requireGOD, s.handle(s.getSystemOverview))
	// Security events (security.go): GOD's, every company's.
	authed.GET("/sys/security-events", s.requireGOD, s.handle(s.listSecurityEvents))
	authed.GET("/sys/security-events/summary", s.requireGOD, s.handle(s.securitySummary))
	for _, r := range s.companyRoutes() {
		authed.Handle(r.Method, strings.TrimPrefix(companyPrefix, "/api/v1")+r.Path, s.companyGate(r.Action), r.handle)
	}
}

func (s *server) createCompany(c *gin.Context) error {
	p := principal(c)
	if !p.IsGOD {
		return forbidden("only GOD creates companies")
	}
	var in tenancy.Company
	if err := decode(c, &in); err != nil {
		return err
	}
	in.ID, in.Status = uuid.Nil, ""
	if _, err := s.identityService(c); err != nil {
		return err
	}
	d, err := s.domain()
	if err != nil {
		return err
	}
	co, err := d.provisioner.Create(c.Request.Context(), in, tenancy.Actor{UserID: p.UserID.String(), Role: string(auth.RoleGOD), IP: ip(c)})
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, co)
	return nil
}

func (s *server) listCompanies(c *gin.Context) error {
	ctx := c.Request.Context()
	limit, cursor, err := page(c)
	if err != nil {
		return err
	}
	// Company cursors are ids: anything else was not given out here.
	if _, perr := uuid.Parse(cursor); cursor != "" && perr != nil {
		return badCursor()
	}
	id, err := s.identityService(c)
	if err != nil {
		return err
	}
	d, err := s.domain()
	if err != nil {
		return err
	}
	p := principal(c)
	q := tenancy.CompanyQuery{After: cursor, Limit: limit, All: p.IsGOD}
	if !p.IsGOD {
		ms, err := id.Memberships(ctx, p.UserID)
		if err != nil {
			return err
		}
		for _, m := range ms {
			q.Among = append(q.Among, m.CompanyID)
		}
	}
	items, more, err := d.companies.List(ctx, q)
	if err != nil {
		return err
	}
	next := ""
	if more {
		next = nextCursor(items[len(items)-1].ID.String())
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": next})
	return nil
}

func (s *server) getCompany(c *gin.Context) error {
	d, err := s.companyStores(c)
	if err != nil {
		return err
	}
	co, err := d.companies.Get(c.Request.Context(), scope(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, co)
	return nil
}

// companyStores are the domain stores for a company route: the identity
// service is checked first, as every route did before it read anything,
// so that a sealed or starting appliance answers the same everywhere.
func (s *server) companyStores(c *gin.Context) (*domain, error) {
	if _, err := s.identityService(c); err != nil {
		return nil, err
	}
	return s.domain()
}

// companyList answers with one of the company's lists from the identity
// service, in the API's list shape (never null).
func companyList[T any](s *server, list func(*auth.Service, context.Context, uuid.UUID) ([]T, error)) gin.HandlerFunc {
	return s.handle(func(c *gin.Context) error {
		id, err := s.identityService(c)
		if err != nil {
			return err
		}
		items, err := list(id, c.Request.Context(), scope(c).Company())
		if err != nil {
			return err
		}
		if items == nil {
			items = []T{}
		}
		c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": ""})
		return nil
	})
}

// createCompanyUser creates a user and makes them a member. An admin must
// have a second factor: their TOTP secret is returned once, here.
func (s *server) createCompanyUser(c *gin.Context, id *auth.Service, req newMemberRequest) (any, error) {
	role, err := companyRole(req.Role)
	if err != nil {
		return nil, err
	}
	u, enrolment, err := id.CreateMember(c.Request.Context(), scope(c).Company(), req.Email, req.Name, req.Password, role)
	if err != nil {
		return nil, err
	}
	out := gin.H{"id": u.ID, "email": u.Email, "name": u.Name, "role": role, "status": u.Status}
	if enrolment != nil {
		out["totp"] = totpEnrolment(enrolment.Secret, enrolment.URI)
	}
	return out, nil
}

type newMemberRequest struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password"`
}

type inviteRequest struct {
	Email string `json:"email"`
	Role  string `json:"role"`
}

// invite answers with the invitation and its token, once; the admin hands
// the token to the invitee, or the console page with the token in the
// fragment (accept_path, and accept_url when the public URL is set).
func (s *server) invite(c *gin.Context, id *auth.Service, req inviteRequest) (any, error) {
	role, err := companyRole(req.Role)
	if err != nil {
		return nil, err
	}
	inv, token, err := id.Invite(c.Request.Context(), scope(c).Company(), req.Email, role, principal(c).UserID)
	if err != nil {
		return nil, err
	}
	out := s.acceptLinks(token)
	out["invitation"], out["token"] = inv, token
	return out, nil
}

func (s *server) revokeInvitation(c *gin.Context) error {
	iid, err := uuid.Parse(c.Param("iid"))
	if err != nil {
		return auth.ErrInvitationNotFound
	}
	id, err := s.identityService(c)
	if err != nil {
		return err
	}
	if err := id.RevokeInvitation(c.Request.Context(), scope(c).Company(), iid); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// requireGOD lets only GOD through; authenticate has run.
func (s *server) requireGOD(c *gin.Context) {
	if !principal(c).IsGOD {
		s.fail(c, forbidden("only GOD may do this"))
		return
	}
	c.Next()
}

// companyChain and systemChain name the audit chain a route reads.
func companyChain(c *gin.Context) string { return scope(c).Company().String() }
func systemChain(*gin.Context) string    { return "system" }

// auditRecord is one record of an audit listing.
type auditRecord struct {
	Seq      int64  `json:"seq"`
	At       string `json:"at"`
	Actor    string `json:"actor"`
	Role     string `json:"role"`
	IP       string `json:"ip"`
	Action   string `json:"action"`
	Resource string `json:"resource"`
	Outcome  string `json:"outcome"`
	Details  string `json:"details"`
}

func (s *server) listAudit(chainOf func(*gin.Context) string) func(*gin.Context) error {
	return func(c *gin.Context) error {
		d, err := s.companyStores(c)
		if err != nil {
			return err
		}
		limit, cursor, err := page(c)
		if err != nil {
			return err
		}
		var before int64
		if cursor != "" {
			if before, err = strconv.ParseInt(cursor, 10, 64); err != nil || before < 1 {
				return badCursor()
			}
		}
		filter, err := auditFilter(c)
		if err != nil {
			return err
		}
		records, more, err := audit.List(c.Request.Context(), d.stores.App, chainOf(c), audit.Page{Before: before, Limit: limit, Filter: filter})
		if err != nil {
			return err
		}
		items := make([]auditRecord, 0, len(records))
		for _, r := range records {
			e := r.Entry
			items = append(items, auditRecord{Seq: r.Seq, At: r.At.UTC().Format(time.RFC3339Nano), Actor: e.Actor, Role: e.Role, IP: e.IP,
				Action: e.Action, Resource: e.Resource, Outcome: e.Outcome, Details: r.Details})
		}
		next := ""
		if more {
			next = nextCursor(items[len(items)-1].Seq)
		}
		c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": next})
		return nil
	}
}

// verifyAudit verifies a chain; an intact one moves its checkpoint to its
// head.
func (s *server) verifyAudit(chainOf func(*gin.Context) string) func(*gin.Context) error {
	return func(c *gin.Context) error {
		d, err := s.companyStores(c)
		if err != nil {
			return err
		}
		cps, err := s.checkpoints(c.Request.Context())
		if err != nil {
			return err
		}
		chain := chainOf(c)
		res, err := cps.VerifyAndAdvance(c.Request.Context(), d.stores.App, chain)
		if err != nil {
			return err
		}
		s.Security.AuditVerified(chain, res.OK, res.Reason)
		c.JSON(http.StatusOK, res)
		return nil
	}
}

func (s *server) actor(c *gin.Context) tenancy.Actor {
	role, _ := c.Get(ctxRole)
	r, _ := role.(auth.Role)
	return tenancy.Actor{UserID: principal(c).UserID.String(), Role: string(r), IP: ip(c)}
}

func (s *server) updateCompany(c *gin.Context) error {
	var patch tenancy.CompanyPatch
	if err := decode(c, &patch); err != nil {
		return err
	}
	d, err := s.companyStores(c)
	if err != nil {
		return err
	}
	co, err := d.companies.Update(c.Request.Context(), scope(c), patch, s.actor(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, co)
	return nil
}

// archiveRequest archives a company, or with purge crypto-shreds it.
type archiveRequest struct {
	Confirm string `json:"confirm"`
	Purge   bool   `json:"purge"`
}

// archiveCompany archives, or with purge crypto-shreds, a company. The
// caller must type the company's name, as a guard against the wrong id.
func (s *server) archiveCompany(c *gin.Context) error {
	ctx := c.Request.Context()
	var req archiveRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	d, err := s.companyStores(c)
	if err != nil {
		return err
	}
	co, err := d.companies.Get(ctx, scope(c))
	if err != nil {
		return err
	}
	if req.Confirm != co.Name {
		return badRequest("confirmation_mismatch", "confirm must be the company's exact name", "confirm")
	}
	if _, err := s.Seal.Keyring(); err != nil {
		return err
	}
	if err := d.provisioner.Archive(ctx, scope(c), req.Purge, s.actor(c)); err != nil {
		return err
	}
	status := "archived"
	if req.Purge {
		status = "purged"
	}
	c.JSON(http.StatusOK, gin.H{"company_id": scope(c).Company(), "status": status})
	return nil
}

// member resolves {uid} to a member of the scope's company; anyone else is
// not found, whoever they are elsewhere.
func (s *server) member(c *gin.Context) (*auth.Service, uuid.UUID, error) {
	id, err := s.identityService(c)
	if err != nil {
		return nil, uuid.Nil, err
	}
	uid, err := uuid.Parse(c.Param("uid"))
	if err == nil {
		var role auth.Role
		role, err = id.RoleIn(c.Request.Context(), uid, scope(c).Company())
		if err == nil && role == auth.RoleGOD {
			err = auth.ErrGODImmutable
		}
	}
	if err != nil {
		if errors.Is(err, auth.ErrGODImmutable) || storeUnavailable(err) {
			return nil, uuid.Nil, err
		}
		return nil, uuid.Nil, notFound("no such member of this company", "uid")
	}
	return id, uid, nil
}

type roleChangeRequest struct {
	Role string `json:"role"`
}

func (s *server) changeMemberRole(c *gin.Context) error {
	var req roleChangeRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	role, err := companyRole(req.Role)
	if err != nil {
		return err
	}
	id, uid, err := s.member(c)
	if err != nil {
		return err
	}
	if err := id.SetMembership(c.Request.Context(), uid, scope(c).Company(), role); err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"id": uid, "role": role})
	return nil
}

func (s *server) removeMember(c *gin.Context) error {
	id, uid, err := s.member(c)
	if err != nil {
		return err
	}
	if err := id.RemoveMembership(c.Request.Context(), uid, scope(c).Company()); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// disableMember disables a user's account (every session ends at once).
// An account is global, so a company admin may disable only a user who
// belongs to their company alone; GOD may disable anyone.
func (s *server) disableMember(c *gin.Context) error {
	ctx := c.Request.Context()
	id, uid, err := s.member(c)
	if err != nil {
		return err
	}
	if !principal(c).IsGOD {
		ms, err := id.Memberships(ctx, uid)
		if err != nil {
			return err
		}
		if len(ms) > 1 {
			return forbidden("this user belongs to other companies too: remove them from yours instead")
		}
	}
	if err := id.DisableUser(ctx, uid); err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"id": uid, "status": "disabled"})
	return nil
}

// passwordReset makes a single-use link with which the member sets a new
// password of their own. The link is the admin's to hand over; the
// service refuses when the member belongs to a company the admin does not
// administer (GOD only then), so a link never reaches past the admin's
// companies.
func (s *server) passwordReset(c *gin.Context) error {
	id, uid, err := s.member(c)
	if err != nil {
		return err
	}
	r, err := id.CreatePasswordReset(c.Request.Context(), scope(c).Company(), uid)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, gin.H{"token": r.Token, "reset_path": "/reset#" + r.Token, "expires_at": r.ExpiresAt})
	return nil
}

// companyRole parses a role a member may hold in a company (not GOD).
func companyRole(name string) (auth.Role, error) {
	role, err := auth.ParseRole(name)
	if err != nil || role == auth.RoleGOD {
		return "", badRequest("validation_failed", "role must be admin, manager, user or viewer", "role")
	}
	return role, nil
}
