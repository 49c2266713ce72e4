package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/audit"
	"github.com/vanta-ledger/vanta/internal/auth"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// CompanyRoute is one route under /api/v1/companies/{cid} and the action
// the role matrix must allow for it. The isolation suite is generated from
// this table, so a route added here is probed for every role at once.
type CompanyRoute struct {
	Method string
	Path   string // below /api/v1/companies/:cid
	Action auth.Action
}

// CompanyRoutes lists every company route.
func CompanyRoutes() []CompanyRoute {
	var out []CompanyRoute
	for _, r := range (&server{}).companyRoutes() {
		out = append(out, r.CompanyRoute)
	}
	return out
}

type companyRoute struct {
	CompanyRoute
	handle gin.HandlerFunc
}

func (s *server) companyRoutes() []companyRoute {
	return []companyRoute{
		{CompanyRoute{"GET", "", auth.ActCompanyRead}, s.getCompany},
		{CompanyRoute{"PATCH", "", auth.ActCompanyUpdate}, s.updateCompany},
		{CompanyRoute{"DELETE", "", auth.ActCompanyArchive}, s.archiveCompany},
		{CompanyRoute{"PATCH", "/users/:uid", auth.ActUsersManage}, s.changeMemberRole},
		{CompanyRoute{"DELETE", "/users/:uid", auth.ActUsersManage}, s.removeMember},
		{CompanyRoute{"POST", "/users/:uid/disable", auth.ActUsersManage}, s.disableMember},
		{CompanyRoute{"POST", "/users/:uid/password-reset", auth.ActUsersManage}, s.passwordReset},
		{CompanyRoute{"GET", "/users", auth.ActUsersManage}, companyList(s, (*auth.Service).Members)},
		{CompanyRoute{"POST", "/users", auth.ActUsersManage}, identityHandler(s, http.StatusCreated, s.createCompanyUser)},
		{CompanyRoute{"GET", "/invitations", auth.ActUsersManage}, companyList(s, (*auth.Service).Invitations)},
		{CompanyRoute{"POST", "/invitations", auth.ActUsersManage}, identityHandler(s, http.StatusCreated, s.invite)},
		{CompanyRoute{"DELETE", "/invitations/:iid", auth.ActUsersManage}, s.revokeInvitation},
		{CompanyRoute{"GET", "/quota", auth.ActCompanyRead}, s.getQuota},
		{CompanyRoute{"GET", "/audit", auth.ActAuditRead}, s.listAudit(companyChain)},
		{CompanyRoute{"GET", "/audit/verify", auth.ActAuditRead}, s.verifyAudit(companyChain)},
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
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		notFound := func() {
			c.Set(ctxWanted, "company.not_found")
			s.fail(c, &apiError{status: http.StatusNotFound, code: "not_found", message: "no such company"})
		}
		cid, err := uuid.Parse(c.Param("cid"))
		if err != nil {
			notFound()
			return
		}
		id, st, ok := s.identified(c)
		if !ok {
			return
		}
		p := principal(c)
		role, err := id.RoleIn(ctx, p.UserID, cid)
		if errors.Is(err, auth.ErrNotMember) {
			notFound()
			return
		}
		if err != nil {
			s.fail(c, err)
			return
		}
		var status string
		err = st.App.QueryRow(ctx, "SELECT status FROM vanta.companies WHERE id = $1", cid).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) || status == tenancy.StatusArchived {
			notFound()
			return
		}
		if err != nil {
			s.fail(c, err)
			return
		}
		// A member's refusals from here on go to the company's chain.
		c.Set(ctxRole, role)
		c.Set(ctxDenyChain, cid.String())
		if !auth.Allowed(role, action) {
			c.Set(ctxWanted, string(action))
			s.fail(c, &apiError{status: http.StatusForbidden, code: "forbidden", message: "your role (" + string(role) + ") may not " + string(action)})
			return
		}
		sc := tenancy.NewScope(cid)
		if s.overQuota(c, sc.RedisPrefix()+"quota:requests", s.Quotas.CompanyPerMinute) {
			return
		}
		c.Set(ctxScope, sc)
		c.Set(ctxRole, role)
		c.Request = c.Request.WithContext(auth.WithActor(ctx, auth.Actor{UserID: p.UserID, Role: role, IP: ip(c)}))
		c.Next()
	}
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
	if ae.status == http.StatusUnauthorized || ae.status == http.StatusTooManyRequests {
		return
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
	err := pgx.BeginFunc(ctx, st.App, func(tx pgx.Tx) error {
		_, err := audit.Append(ctx, tx, chain, audit.Entry{
			Actor: "user/" + p.UserID.String(), Role: string(roleName), IP: ip(c), Action: action,
			Resource: c.Request.Method + " " + c.FullPath(), Outcome: "denied", Details: details,
		})
		return err
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
	authed.POST("/companies", s.createCompany)
	authed.GET("/companies", s.listCompanies)
	// The system chain (sign-ins, seal events, company lifecycle, refusals
	// outside a company) is GOD's to read and verify.
	authed.GET("/sys/audit", s.requireGOD, s.listAudit(systemChain))
	authed.GET("/sys/audit/verify", s.requireGOD, s.verifyAudit(systemChain))
	for _, r := range s.companyRoutes() {
		authed.Handle(r.Method, "/companies/:cid"+r.Path, s.companyGate(r.Action), r.handle)
	}
}

func (s *server) createCompany(c *gin.Context) {
	ctx := c.Request.Context()
	p := principal(c)
	if !p.IsGOD {
		s.fail(c, &apiError{status: http.StatusForbidden, code: "forbidden", message: "only GOD creates companies"})
		return
	}
	var in tenancy.Company
	if err := decode(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	in.ID, in.Status = uuid.Nil, ""
	_, st, ok := s.identified(c)
	if !ok {
		return
	}
	kr, err := s.Seal.Keyring()
	if err != nil {
		s.fail(c, err)
		return
	}
	prov := &tenancy.Provisioner{DB: st.Admin, Mongo: st.Mongo, Redis: st.Redis, FilesDir: st.Files, Keys: kr}
	co, err := prov.Create(ctx, in, tenancy.Actor{UserID: p.UserID.String(), Role: string(auth.RoleGOD), IP: ip(c)})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, co)
}

func (s *server) listCompanies(c *gin.Context) {
	ctx := c.Request.Context()
	limit, cursor, err := page(c)
	if err == nil && cursor != "" {
		// Company cursors are ids: anything else was not given out here.
		if _, perr := uuid.Parse(cursor); perr != nil {
			err = badCursor()
		}
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	id, st, ok := s.identified(c)
	if !ok {
		return
	}
	p := principal(c)
	// Keyset paging on the primary key: stable while companies are added.
	q := `SELECT id, name, registration_number, tax_id, industry, address, phone, email, settings, status, created_at
		FROM vanta.companies WHERE status <> 'archived' AND id::text > $1`
	args := []any{cursor}
	if !p.IsGOD {
		ms, err := id.Memberships(ctx, p.UserID)
		if err != nil {
			s.fail(c, err)
			return
		}
		ids := make([]uuid.UUID, 0, len(ms))
		for _, m := range ms {
			ids = append(ids, m.CompanyID)
		}
		q += " AND id = ANY($2)"
		args = append(args, ids)
	}
	rows, err := st.App.Query(ctx, q+fmt.Sprintf(" ORDER BY id::text LIMIT %d", limit+1), args...)
	if err != nil {
		s.fail(c, err)
		return
	}
	items, err := pgx.CollectRows(rows, scanCompany)
	if err != nil {
		s.fail(c, err)
		return
	}
	more := len(items) > limit
	if more {
		items = items[:limit]
	}
	next := ""
	if more {
		next = nextCursor(items[len(items)-1].ID.String())
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": next})
}

func scanCompany(r pgx.CollectableRow) (tenancy.Company, error) {
	var co tenancy.Company
	err := r.Scan(&co.ID, &co.Name, &co.RegistrationNumber, &co.TaxID, &co.Industry, &co.Address, &co.Phone, &co.Email,
		&co.Settings, &co.Status, &co.CreatedAt)
	return co, err
}

func (s *server) getCompany(c *gin.Context) {
	ctx := c.Request.Context()
	_, st, ok := s.identified(c)
	if !ok {
		return
	}
	rows, err := st.App.Query(ctx, `SELECT id, name, registration_number, tax_id, industry, address, phone, email, settings, status, created_at
		FROM vanta.companies WHERE id = $1`, scope(c).Company())
	if err != nil {
		s.fail(c, err)
		return
	}
	co, err := pgx.CollectExactlyOneRow(rows, scanCompany)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, co)
}

// companyList answers with one of the company's lists from the identity
// service, in the API's list shape (never null).
func companyList[T any](s *server, list func(*auth.Service, context.Context, uuid.UUID) ([]T, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, _, ok := s.identified(c)
		if !ok {
			return
		}
		items, err := list(id, c.Request.Context(), scope(c).Company())
		if err != nil {
			s.fail(c, err)
			return
		}
		if items == nil {
			items = []T{}
		}
		c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": ""})
	}
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

func (s *server) revokeInvitation(c *gin.Context) {
	iid, err := uuid.Parse(c.Param("iid"))
	if err != nil {
		s.fail(c, auth.ErrInvitationNotFound)
		return
	}
	id, _, ok := s.identified(c)
	if !ok {
		return
	}
	if err := id.RevokeInvitation(c.Request.Context(), scope(c).Company(), iid); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// requireGOD lets only GOD through; authenticate has run.
func (s *server) requireGOD(c *gin.Context) {
	if !principal(c).IsGOD {
		s.fail(c, &apiError{status: http.StatusForbidden, code: "forbidden", message: "only GOD may do this"})
		return
	}
	c.Next()
}

// companyChain and systemChain name the audit chain a route reads.
func companyChain(c *gin.Context) string { return scope(c).Company().String() }
func systemChain(*gin.Context) string    { return "system" }

func (s *server) listAudit(chainOf func(*gin.Context) string) gin.HandlerFunc {
	return func(c *gin.Context) { s.listAuditChain(c, chainOf(c)) }
}

func (s *server) verifyAudit(chainOf func(*gin.Context) string) gin.HandlerFunc {
	return func(c *gin.Context) { s.verifyAuditChain(c, chainOf(c)) }
}

func (s *server) listAuditChain(c *gin.Context, chain string) {
	ctx := c.Request.Context()
	_, st, ok := s.identified(c)
	if !ok {
		return
	}
	limit, cursor, err := page(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	before := int64(1) << 62
	if cursor != "" {
		if before, err = strconv.ParseInt(cursor, 10, 64); err != nil || before < 1 {
			s.fail(c, badCursor())
			return
		}
	}
	rows, err := st.App.Query(ctx, `SELECT seq, at, actor, role, ip, action, resource, outcome, details
		FROM audit.records WHERE chain = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`, chain, before, limit+1)
	if err != nil {
		s.fail(c, err)
		return
	}
	type item struct {
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
	items := []item{}
	for rows.Next() {
		var it item
		var at time.Time
		if err := rows.Scan(&it.Seq, &at, &it.Actor, &it.Role, &it.IP, &it.Action, &it.Resource, &it.Outcome, &it.Details); err != nil {
			rows.Close()
			s.fail(c, err)
			return
		}
		it.At = at.UTC().Format(time.RFC3339Nano)
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		s.fail(c, err)
		return
	}
	more := len(items) > limit
	if more {
		items = items[:limit]
	}
	next := ""
	if more {
		next = nextCursor(items[len(items)-1].Seq)
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": next})
}

func (s *server) verifyAuditChain(c *gin.Context, chain string) {
	ctx := c.Request.Context()
	_, st, ok := s.identified(c)
	if !ok {
		return
	}
	cps, err := s.checkpoints(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	cp, err := cps.Load(chain)
	if errors.Is(err, audit.ErrCheckpointForged) {
		c.JSON(http.StatusOK, audit.Result{Reason: err.Error()})
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	res, err := audit.Verify(ctx, st.App, chain, cp)
	if err != nil {
		s.fail(c, err)
		return
	}
	if res.OK {
		// An intact chain moves the checkpoint to its head.
		if _, err := cps.Save(ctx, st.App, chain); err != nil {
			s.fail(c, err)
			return
		}
	}
	c.JSON(http.StatusOK, res)
}

func (s *server) actor(c *gin.Context) tenancy.Actor {
	role, _ := c.Get(ctxRole)
	r, _ := role.(auth.Role)
	return tenancy.Actor{UserID: principal(c).UserID.String(), Role: string(r), IP: ip(c)}
}

func (s *server) updateCompany(c *gin.Context) {
	var patch tenancy.CompanyPatch
	if err := decode(c, &patch); err != nil {
		s.fail(c, err)
		return
	}
	_, st, ok := s.identified(c)
	if !ok {
		return
	}
	co, err := tenancy.Update(c.Request.Context(), st.App, scope(c), patch, s.actor(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, co)
}

// archiveCompany archives, or with purge crypto-shreds, a company. The
// caller must type the company's name, as a guard against the wrong id.
func (s *server) archiveCompany(c *gin.Context) {
	ctx := c.Request.Context()
	var req struct {
		Confirm string `json:"confirm"`
		Purge   bool   `json:"purge"`
	}
	if err := decode(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	_, st, ok := s.identified(c)
	if !ok {
		return
	}
	var name string
	if err := st.App.QueryRow(ctx, "SELECT name FROM vanta.companies WHERE id = $1", scope(c).Company()).Scan(&name); err != nil {
		s.fail(c, err)
		return
	}
	if req.Confirm != name {
		s.fail(c, badRequest("confirmation_mismatch", "confirm must be the company's exact name", "confirm"))
		return
	}
	kr, err := s.Seal.Keyring()
	if err != nil {
		s.fail(c, err)
		return
	}
	prov := &tenancy.Provisioner{DB: st.Admin, Mongo: st.Mongo, Redis: st.Redis, FilesDir: st.Files, Keys: kr}
	if err := prov.Archive(ctx, scope(c), req.Purge, s.actor(c)); err != nil {
		s.fail(c, err)
		return
	}
	status := "archived"
	if req.Purge {
		status = "purged"
	}
	c.JSON(http.StatusOK, gin.H{"company_id": scope(c).Company(), "status": status})
}

// member resolves {uid} to a member of the scope's company; anyone else is
// not found, whoever they are elsewhere.
func (s *server) member(c *gin.Context) (*auth.Service, uuid.UUID, bool) {
	id, _, err := s.identity(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return nil, uuid.Nil, false
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
			s.fail(c, err)
		} else {
			s.fail(c, &apiError{status: http.StatusNotFound, code: "not_found", message: "no such member of this company", field: "uid"})
		}
		return nil, uuid.Nil, false
	}
	return id, uid, true
}

func (s *server) changeMemberRole(c *gin.Context) {
	var req struct {
		Role string `json:"role"`
	}
	if err := decode(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	role, err := companyRole(req.Role)
	if err != nil {
		s.fail(c, err)
		return
	}
	id, uid, ok := s.member(c)
	if !ok {
		return
	}
	if err := id.SetMembership(c.Request.Context(), uid, scope(c).Company(), role); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": uid, "role": role})
}

func (s *server) removeMember(c *gin.Context) {
	id, uid, ok := s.member(c)
	if !ok {
		return
	}
	if err := id.RemoveMembership(c.Request.Context(), uid, scope(c).Company()); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// disableMember disables a user's account (every session ends at once).
// An account is global, so a company admin may disable only a user who
// belongs to their company alone; GOD may disable anyone.
func (s *server) disableMember(c *gin.Context) {
	ctx := c.Request.Context()
	id, uid, ok := s.member(c)
	if !ok {
		return
	}
	if !principal(c).IsGOD {
		ms, err := id.Memberships(ctx, uid)
		if err != nil {
			s.fail(c, err)
			return
		}
		if len(ms) > 1 {
			s.fail(c, &apiError{status: http.StatusForbidden, code: "forbidden", message: "this user belongs to other companies too: remove them from yours instead"})
			return
		}
	}
	if err := id.DisableUser(ctx, uid); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": uid, "status": "disabled"})
}

// passwordReset makes a single-use link with which the member sets a new
// password of their own. The link is the admin's to hand over; the
// service refuses when the member belongs to a company the admin does not
// administer (GOD only then), so a link never reaches past the admin's
// companies.
func (s *server) passwordReset(c *gin.Context) {
	id, uid, ok := s.member(c)
	if !ok {
		return
	}
	r, err := id.CreatePasswordReset(c.Request.Context(), scope(c).Company(), uid)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"token": r.Token, "reset_path": "/reset#" + r.Token, "expires_at": r.ExpiresAt})
}

// companyRole parses a role a member may hold in a company (not GOD).
func companyRole(name string) (auth.Role, error) {
	role, err := auth.ParseRole(name)
	if err != nil || role == auth.RoleGOD {
		return "", badRequest("validation_failed", "role must be admin, manager, user or viewer", "role")
	}
	return role, nil
}
