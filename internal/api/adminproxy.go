package api

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/audit"
	"github.com/vanta-ledger/vanta/internal/auth"
)

// This file is the reverse proxy to the management tools (Mongo Express
// at /admin/mongo/, pgAdmin at /admin/pgadmin/), which only GOD reaches,
// from GOD's networks, with GOD's bearer token (scripts) or the cookie
// POST /api/v1/sys/admin-tools/session sets (the console). Every request
// under /admin/<tool>, allowed or refused, is recorded in the system
// audit chain.

// AdminTools is what the proxy needs of the appliance: where a management
// tool listens and how to log in to it (appliance.(*Appliance).AdminTool).
type AdminTools interface {
	AdminTool(name string) (appliance.AdminToolEndpoint, error)
}

// adminTool is one proxied tool: its public path segment, the name the
// appliance knows it by, and the framing and content policy its pages
// get from us.
type adminTool struct {
	segment string // /admin/<segment>/
	name    string // appliance service name
	// frameOptions and csp replace the console's headers: a tool's pages
	// need inline scripts and styles that the console's policy forbids.
	frameOptions string
	csp          string
}

var adminToolList = []adminTool{
	// Mongo Express's pages carry inline scripts and styles and load
	// fonts and images from itself; nothing frames it.
	{segment: "mongo", name: "mongo-express", frameOptions: "DENY",
		csp: "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
			"font-src 'self' data:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"},
	// pgAdmin's panels are frames of pgAdmin itself, and its bundle
	// evaluates code and makes Blob URLs: it may frame itself, nothing
	// else may frame it.
	{segment: "pgadmin", name: "pgadmin", frameOptions: "SAMEORIGIN",
		csp: "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval' blob:; style-src 'self' 'unsafe-inline'; " +
			"img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; frame-src 'self' blob:; " +
			"object-src 'none'; frame-ancestors 'self'; base-uri 'self'; form-action 'self'"},
}

func adminToolBySegment(seg string) (adminTool, bool) {
	for _, t := range adminToolList {
		if t.segment == seg {
			return t, true
		}
	}
	return adminTool{}, false
}

const (
	// adminCookie carries the management tools' session: a random token
	// whose record in Redis names GOD and GOD's session.
	adminCookie = "vanta_admin_tools"
	// adminCookiePath limits the cookie to the proxy: the API never sees it.
	adminCookiePath = "/admin/"
	// adminSessionTTL is how long the cookie opens the tools, at most: the
	// session it is bound to ending (logout, revocation, a seal) ends it first.
	adminSessionTTL = time.Hour
	// adminRedisPrefix keys the records by the token's SHA-256: a copy
	// of Redis holds no usable token.
	adminRedisPrefix = "admintools:session:"
	adminTokenBytes  = 32
	// adminAuditAction is the action of every record of a proxied request.
	adminAuditAction = "admin_tools.request"
	// ctxOwnAudit tells recordRefusal that the handler records the request
	// itself (one record per request, not two).
	ctxOwnAudit = "vanta.own_audit"
)

var (
	errAdminUnauthenticated = &apiError{status: http.StatusUnauthorized, code: "unauthenticated",
		message: "the management tools need GOD: send Authorization: Bearer <access_token>, or open them from the console (POST /api/v1/sys/admin-tools/session sets their cookie)"}
	errAdminSession = &apiError{status: http.StatusUnauthorized, code: "invalid_session",
		message: "the management tools' session is unknown, expired or ended: open the tool again from the console"}
	errAdminNotGOD  = forbidden("only GOD may use the management tools")
	errAdminUpgrade = &apiError{status: http.StatusForbidden, code: "upgrade_refused",
		message: "protocol upgrades (WebSocket, h2c) are not proxied to the management tools"}
	errAdminMethod = &apiError{status: http.StatusMethodNotAllowed, code: "method_not_allowed",
		message: "CONNECT and TRACE are not proxied to the management tools"}
)

// adminToolRoutes adds the session route and the proxy.
func (s *server) adminToolRoutes(r *gin.Engine, sys *gin.RouterGroup) {
	sys.POST("/admin-tools/session", s.authenticate, s.requireGOD, s.handle(s.adminToolsSession))
	r.Any("/admin/:tool", s.adminProxy)
	r.Any("/admin/:tool/*rest", s.adminProxy)
}

// adminSessionRecord is what Redis keeps for a cookie.
type adminSessionRecord struct {
	User    uuid.UUID `json:"u"`
	Session uuid.UUID `json:"s"`
}

// adminToolsSession mints the management tools' cookie for GOD's
// session: HttpOnly (no script reads it), Secure, SameSite=Strict (no
// other site's page sends it) and for /admin/ only.
func (s *server) adminToolsSession(c *gin.Context) error {
	st := s.Appliance.Stores()
	if st == nil {
		return errStarting
	}
	p := principal(c)
	raw := make([]byte, adminTokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return fmt.Errorf("admin tools: token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	rec, err := json.Marshal(adminSessionRecord{User: p.UserID, Session: p.SessionID})
	if err != nil {
		return err
	}
	hash := sha256.Sum256([]byte(token))
	ctx := c.Request.Context()
	if err := st.Redis.Set(ctx, adminRedisPrefix+hex.EncodeToString(hash[:]), append(s.adminMAC(hash[:], rec), rec...), adminSessionTTL).Err(); err != nil {
		return fmt.Errorf("admin tools: store session: %w", err)
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := audit.AppendAlone(actx, st.App, "system", audit.Entry{
		Actor: "user/" + p.UserID.String(), Role: string(auth.RoleGOD), IP: ip(c), Action: "admin_tools.session",
		Resource: "session/" + p.SessionID.String(), Outcome: "ok",
		Details: map[string]any{"expires_in_s": int(adminSessionTTL / time.Second)},
	}); err != nil {
		return fmt.Errorf("admin tools: audit: %w", err)
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: adminCookie, Value: token, Path: adminCookiePath,
		MaxAge: int(adminSessionTTL / time.Second), Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	out := adminToolsSessionAnswer{ExpiresIn: int(adminSessionTTL / time.Second), Tools: map[string]string{}}
	for _, t := range adminToolList {
		out.Tools[t.name] = "/admin/" + t.segment + "/"
	}
	c.JSON(http.StatusCreated, out)
	return nil
}

// adminToolsSessionAnswer is what minting the tools' cookie answers; the
// cookie itself is in Set-Cookie.
type adminToolsSessionAnswer struct {
	ExpiresIn int               `json:"expires_in"` // seconds the cookie lives at most
	Tools     map[string]string `json:"tools"`      // tool → where it is served
}

// adminMAC authenticates a cookie's record with a key that exists only in
// this process's memory: whoever can write to Redis cannot make a record
// this process believes.
func (s *server) adminMAC(tokenHash, record []byte) []byte {
	m := hmac.New(sha256.New, s.adminKey)
	m.Write(tokenHash)
	m.Write(record)
	return m.Sum(nil)
}

// adminCookiePrincipal reads the cookie's record and checks that the
// session it is bound to is still open.
func (s *server) adminCookiePrincipal(ctx context.Context, id *auth.Service, st *appliance.Stores, token string) (auth.Principal, error) {
	if len(token) != base64.RawURLEncoding.EncodedLen(adminTokenBytes) {
		return auth.Principal{}, errAdminSession
	}
	hash := sha256.Sum256([]byte(token))
	b, err := st.Redis.Get(ctx, adminRedisPrefix+hex.EncodeToString(hash[:])).Bytes()
	if errors.Is(err, redis.Nil) {
		return auth.Principal{}, errAdminSession
	}
	if err != nil {
		return auth.Principal{}, fmt.Errorf("admin tools: read session: %w", err)
	}
	if len(b) < sha256.Size || !hmac.Equal(b[:sha256.Size], s.adminMAC(hash[:], b[sha256.Size:])) {
		return auth.Principal{}, errAdminSession
	}
	var rec adminSessionRecord
	if err := json.Unmarshal(b[sha256.Size:], &rec); err != nil {
		return auth.Principal{}, errAdminSession
	}
	p, err := id.LiveSession(ctx, rec.User, rec.Session)
	if errors.Is(err, auth.ErrInvalidToken) {
		return auth.Principal{}, errAdminSession
	}
	return p, err
}

// adminProxy serves /admin/<tool>/…: it authenticates (GOD, GOD's
// networks), refuses path tricks and upgrades, and streams the request to
// the tool; every request leaves a record in the system audit chain.
func (s *server) adminProxy(c *gin.Context) {
	c.Set(ctxOwnAudit, true)
	tool, known := adminToolBySegment(c.Param("tool"))
	defer s.recordAdminRequest(c, tool)
	if err := s.adminGate(c); err != nil {
		s.fail(c, err)
		return
	}
	if !known {
		s.fail(c, notFound("no such management tool: /admin/"+truncate(c.Param("tool"), 40)+"/ (there are /admin/mongo/ and /admin/pgadmin/)", ""))
		return
	}
	if c.Param("rest") == "" {
		// /admin/mongo: the tool lives under /admin/mongo/.
		c.Redirect(http.StatusPermanentRedirect, "/admin/"+tool.segment+"/")
		return
	}
	if s.AdminTools == nil {
		s.fail(c, &appliance.ToolUnavailableError{Tool: tool.name, Reason: "this API has no management tools"})
		return
	}
	ep, err := s.AdminTools.AdminTool(tool.name)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.proxyTo(c, tool, ep)
}

// adminGate admits GOD only, from GOD's networks, with a request the
// proxy can pass on safely; it returns why not.
func (s *server) adminGate(c *gin.Context) error {
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		// As on every route: no other site's page changes anything
		// (refuseCrossSite leaves /admin/ to this, so that it is recorded).
		if err := s.otherSite(c); err != nil {
			return err
		}
	}
	id, st, err := s.identity(c.Request.Context())
	if err != nil {
		return err
	}
	// A bearer token wins; any other Authorization (a browser's Basic
	// for the tool, say) is no credential of ours and is dropped on the
	// way, so the cookie decides.
	var p auth.Principal
	token, bearer := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if bearer {
		if token == "" {
			c.Header("WWW-Authenticate", `Bearer realm="vanta"`)
			return errAdminUnauthenticated
		}
		if p, err = id.Authenticate(c.Request.Context(), token); err != nil {
			c.Header("WWW-Authenticate", `Bearer realm="vanta", error="invalid_token"`)
			return err
		}
	} else if ck, err := c.Request.Cookie(adminCookie); err == nil {
		if p, err = s.adminCookiePrincipal(c.Request.Context(), id, st, ck.Value); err != nil {
			return err
		}
	} else {
		c.Header("WWW-Authenticate", `Bearer realm="vanta"`)
		return errAdminUnauthenticated
	}
	c.Set(ctxPrincipal, p)
	if !p.IsGOD {
		return errAdminNotGOD
	}
	c.Set(ctxRole, auth.RoleGOD)
	if !id.GODAllowed(ip(c)) {
		s.logger.Warn("security", "event", "god_admin_tools_outside_allowlist", "ip", ip(c), "user", p.UserID.String())
		c.Set(ctxWanted, "god_network")
		return errGODNetwork
	}
	if err := adminRequestProblem(c.Request); err != nil {
		return err
	}
	if s.overQuota(c, "quota:user:"+p.UserID.String(), s.Quotas.UserPerMinute) {
		return errAnswered
	}
	s.Security.GODRequest(p.UserID, ip(c))
	c.Request = c.Request.WithContext(auth.WithActor(c.Request.Context(), auth.Actor{UserID: p.UserID, Role: auth.RoleGOD, IP: ip(c)}))
	return nil
}

// adminRequestProblem refuses what the proxy never passes on: a path
// that could mean another place to the tool than to us (dot segments,
// raw or encoded; encoded slashes, backslashes and dots; a second round
// of encoding; backslashes; NUL and other control characters; empty
// segments), and any protocol upgrade.
func adminRequestProblem(r *http.Request) error {
	switch r.Method {
	case http.MethodConnect, http.MethodTrace:
		return errAdminMethod
	}
	if r.Header.Get("Upgrade") != "" || slices.ContainsFunc(r.Header.Values("Connection"), func(v string) bool {
		return slices.ContainsFunc(strings.Split(v, ","), func(tok string) bool { return strings.EqualFold(strings.TrimSpace(tok), "upgrade") })
	}) {
		return errAdminUpgrade
	}
	if why := adminPathProblem(r.RequestURI); why != "" {
		return badRequest("invalid_path", "the management tools' proxy refuses this path: "+why, "")
	}
	return nil
}

func adminPathProblem(requestURI string) string {
	raw, _, _ := strings.Cut(requestURI, "?")
	if !strings.HasPrefix(raw, "/") {
		return "the request target is not a path"
	}
	lower := strings.ToLower(raw)
	for _, enc := range []struct{ seq, what string }{
		{"%2f", "an encoded slash"}, {"%5c", "an encoded backslash"}, {"%2e", "an encoded dot"},
		{"%25", "an encoded percent sign (double encoding)"}, {"%00", "an encoded NUL"},
	} {
		if strings.Contains(lower, enc.seq) {
			return "it contains " + enc.what
		}
	}
	if strings.Contains(raw, `\`) {
		return "it contains a backslash"
	}
	dec, err := url.PathUnescape(raw)
	if err != nil {
		return "it is not validly encoded"
	}
	if strings.ContainsFunc(dec, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "it contains a control character"
	}
	if strings.Contains(dec, "//") || strings.Contains(dec, `\`) {
		return "it contains an empty segment"
	}
	for _, p := range []string{raw, dec} {
		for _, seg := range strings.Split(p, "/") {
			if seg == "." || seg == ".." {
				return "it contains a dot segment"
			}
		}
	}
	return ""
}

// adminTransport reaches the tools on loopback; it follows no proxy
// settings and leaves encodings as the tool sent them.
var adminTransport = &http.Transport{
	Proxy:                 nil,
	DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	MaxIdleConnsPerHost:   8,
	IdleConnTimeout:       90 * time.Second,
	ResponseHeaderTimeout: 5 * time.Minute, // a long query in pgAdmin
	DisableCompression:    true,
}

// proxyTo streams the request to the tool and its answer back. The
// client's credentials (Authorization, the tools' cookie, any Vanta
// cookie) never reach the tool; the endpoint's headers (the tool's own
// login) replace any the client sent.
func (s *server) proxyTo(c *gin.Context, tool adminTool, ep appliance.AdminToolEndpoint) {
	// The console's headers are for the console's pages; the tool's get
	// their own, set on its answer.
	h := c.Writer.Header()
	for _, k := range []string{"Content-Security-Policy", "X-Frame-Options", "Referrer-Policy", "Cache-Control"} {
		h.Del(k)
	}
	proto := "http"
	if c.Request.TLS != nil {
		proto = "https"
	} else if s.TrustedProxies > 0 {
		if v := c.Request.Header.Values("X-Forwarded-Proto"); len(v) > 0 {
			parts := strings.Split(v[len(v)-1], ",")
			if p := strings.ToLower(strings.TrimSpace(parts[len(parts)-1])); p == "https" || p == "http" {
				proto = p
			}
		}
	}
	rp := &httputil.ReverseProxy{
		Transport:     adminTransport,
		FlushInterval: -1, // stream: a tool's long answer reaches the browser as it comes
		Rewrite: func(pr *httputil.ProxyRequest) {
			out := pr.Out
			path, rawPath := pr.In.URL.Path, pr.In.URL.RawPath
			if ep.StripPrefix {
				prefix := "/admin/" + tool.segment
				path = strings.TrimPrefix(path, prefix)
				rawPath = strings.TrimPrefix(rawPath, prefix)
				if path == "" {
					path = "/"
				}
			}
			base := strings.TrimSuffix(ep.URL.Path, "/")
			out.URL.Scheme, out.URL.Host, out.Host = ep.URL.Scheme, ep.URL.Host, ep.URL.Host
			out.URL.Path = base + path
			out.URL.RawPath = ""
			if rawPath != "" {
				out.URL.RawPath = strings.TrimSuffix(ep.URL.EscapedPath(), "/") + rawPath
			}
			out.Header.Del("Authorization")
			out.Header.Del("Proxy-Authorization")
			if ck := toolCookies(pr.In.Header.Values("Cookie")); ck != "" {
				out.Header.Set("Cookie", ck)
			} else {
				out.Header.Del("Cookie")
			}
			// A header named with "_" reaches a WSGI or CGI tool under the
			// same name as its "-" twin (both become HTTP_X_…): a client's
			// X_Vanta_Pgadmin_User could stand in for the login header we
			// set. No browser sends such names; none is passed on.
			for k := range out.Header {
				if strings.Contains(k, "_") {
					delete(out.Header, k)
				}
			}
			for k, v := range ep.Header {
				out.Header[http.CanonicalHeaderKey(k)] = slices.Clone(v)
			}
			out.Header.Set("X-Forwarded-For", ip(c))
			out.Header.Set("X-Forwarded-Host", c.Request.Host)
			out.Header.Set("X-Forwarded-Proto", proto)
		},
		ModifyResponse: func(res *http.Response) error {
			rh := res.Header
			if sc := rh.Values("Set-Cookie"); len(sc) > 0 {
				rh.Del("Set-Cookie")
				for _, v := range sc {
					name, _, _ := strings.Cut(v, "=")
					if !vantaCookie(strings.TrimSpace(name)) {
						rh.Add("Set-Cookie", v)
					}
				}
			}
			// The tool's login is ours to send: a browser must never be
			// asked for it (nor remember one it was given).
			rh.Del("WWW-Authenticate")
			rh.Set("X-Content-Type-Options", "nosniff")
			rh.Set("X-Frame-Options", tool.frameOptions)
			// A tool's forms may check Referer (pgAdmin's CSRF check over
			// HTTPS does): it goes to our own origin only.
			rh.Set("Referrer-Policy", "same-origin")
			rh.Set("Cache-Control", "no-store")
			// Added beside any policy of the tool's own: a browser enforces
			// both, so ours only ever narrows the tool's.
			rh.Add("Content-Security-Policy", tool.csp)
			return nil
		},
		ErrorHandler: func(_ http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				c.Set(ctxErrorCode, "client_closed")
				c.Status(499) // the client went away: nothing to answer
				c.Abort()
				return
			}
			setSecurityHeaders(c.Writer.Header()) // our answer, not the tool's
			s.fail(c, &appliance.ToolUnavailableError{Tool: tool.name, Reason: "it did not answer: " + err.Error()})
		},
	}
	rp.ServeHTTP(c.Writer, c.Request)
}

// toolCookies is the Cookie header without the client's Vanta cookies.
func toolCookies(headers []string) string {
	var kept []string
	for _, h := range headers {
		for _, part := range strings.Split(h, ";") {
			part = strings.TrimSpace(part)
			name, _, _ := strings.Cut(part, "=")
			if part != "" && !vantaCookie(strings.TrimSpace(name)) {
				kept = append(kept, part)
			}
		}
	}
	return strings.Join(kept, "; ")
}

// vantaCookie says whether a cookie is the appliance's own (the tools'
// session, any other vanta… cookie), which no tool sees or sets.
func vantaCookie(name string) bool {
	return strings.HasPrefix(strings.ToLower(name), "vanta")
}

// recordRefusal's siblings for the proxy: per client address for callers
// with no valid credentials (anyone could send those), and for all such
// callers together, past which a refusal is only logged. GOD's requests
// are bounded by GOD's request quota, other users' by denialLimiter.
var (
	adminAnonPerIP = newClientLimiter(30, 60)
	adminAnonAll   = newClientLimiter(600, 300)
)

// recordAdminRequest writes the request into the system chain: method,
// path (the query's parameter names only: values may hold documents'
// contents), status, actor, address, and the error code of a refusal.
// Never a body. A handler that panicked (a client or tool that hung up
// mid-answer) is recorded too, and the panic goes on.
func (s *server) recordAdminRequest(c *gin.Context, tool adminTool) {
	rec := recover()
	defer func() {
		if rec == nil {
			return
		}
		if rec == http.ErrAbortHandler { //nolint:errorlint // the value net/http panics with
			// The answer was cut short: close the connection so that the
			// client cannot take a truncated body for a whole one (gin's
			// recovery would end it as if complete).
			if conn, _, err := c.Writer.Hijack(); err == nil {
				_ = conn.Close()
				c.Abort()
				return
			}
		}
		panic(rec)
	}()
	status := c.Writer.Status()
	details := map[string]any{"status": status}
	if tool.name != "" {
		details["tool"] = tool.name
	}
	if code := c.GetString(ctxErrorCode); code != "" {
		details["code"] = code
	}
	if rec != nil {
		details["aborted"] = true
	}
	if q := c.Request.URL.Query(); len(q) > 0 {
		keys := make([]string, 0, len(q))
		for k := range q {
			keys = append(keys, truncate(k, 40))
		}
		slices.Sort(keys)
		details["query_keys"] = keys[:min(len(keys), 20)]
	}
	outcome := "ok"
	switch {
	case c.GetString(ctxErrorCode) == "":
		// Proxied: the tool's own answer, whatever its status.
	case status >= 500:
		outcome = auth.ReasonUnavailable
	case status >= 400:
		outcome = "denied"
	}
	v, authed := c.Get(ctxPrincipal)
	p, _ := v.(auth.Principal)
	entry := audit.Entry{IP: ip(c), Action: adminAuditAction, Outcome: outcome, Details: details,
		Resource: c.Request.Method + " " + auditPath(c.Request.RequestURI)}
	now := time.Now()
	switch {
	case authed && p.UserID != uuid.Nil:
		entry.Actor = "user/" + p.UserID.String()
		if p.IsGOD {
			entry.Role = string(auth.RoleGOD)
		}
		// GOD's admitted requests are all recorded (GOD's quota bounds
		// them); refusals of a user share the per-user allowance.
		if outcome != "ok" {
			if ok, _ := s.denialLimiter.reserve("user/"+p.UserID.String(), now); !ok {
				s.logger.Warn("audit: admin tools refusal not recorded: over the per-user rate", "user", p.UserID.String(), "status", status)
				return
			}
		}
	default:
		if ok, _ := adminAnonPerIP.reserve(ip(c), now); !ok {
			s.logger.Warn("audit: admin tools refusal not recorded: over the per-address rate", "ip", ip(c), "status", status)
			return
		}
		if ok, _ := adminAnonAll.reserve("all", now); !ok {
			s.logger.Warn("audit: admin tools refusal not recorded: over the overall rate", "ip", ip(c), "status", status)
			return
		}
	}
	st := s.Appliance.Stores()
	if st == nil {
		s.logger.Warn("audit: admin tools request not recorded: the databases are not open", "ip", ip(c), "path", entry.Resource, "status", status)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 5*time.Second)
	defer cancel()
	if _, err := audit.AppendAlone(ctx, st.App, "system", entry); err != nil {
		s.logger.Error("audit admin tools request", "error", err.Error(), "path", entry.Resource, "status", status)
	}
}

// auditPath is the request's path as sent (still encoded, so that what
// was refused is what is recorded), without the query, at most 512 bytes.
func auditPath(requestURI string) string {
	p, _, _ := strings.Cut(requestURI, "?")
	p = strings.ToValidUTF8(p, "\uFFFD")
	p = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '\uFFFD'
		}
		return r
	}, p)
	return truncate(p, 512)
}
