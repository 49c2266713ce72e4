package api

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/auth"
	"github.com/vanta-ledger/vanta/internal/pgtest"
	"github.com/vanta-ledger/vanta/internal/pgtest/systemtest"
	"github.com/vanta-ledger/vanta/internal/redistest"
	"github.com/vanta-ledger/vanta/internal/seal"
)

// The package's real services: one PostgreSQL cluster (a template at the
// appliance's system head) and one redis-server, for the tests that need
// the identity service and the audit chain (the management tools' proxy).
// They start once, for the first test that asks (the package's other
// tests, and the fuzzer's workers, need neither), and TestMain stops them.
var (
	services    sync.Once
	servicesErr error
	pg          *pgtest.Server
	systemHead  *pgtest.Template
	rs          *redistest.Server
	redisDBs    atomic.Int32 // each world takes its own Redis database
)

func TestMain(m *testing.M) {
	code := m.Run()
	if rs != nil {
		rs.Stop()
	}
	if pg != nil {
		pg.Stop()
	}
	os.Exit(code)
}

// realServices starts the package's PostgreSQL and Redis on first use.
func realServices(t *testing.T) {
	t.Helper()
	services.Do(func() {
		if pg, servicesErr = pgtest.Start(); servicesErr != nil {
			return
		}
		systemHead = systemtest.Registry(pg, appliance.Migrations)
		rs, servicesErr = redistest.Start(false)
	})
	if servicesErr != nil {
		t.Fatal(servicesErr)
	}
}

// storesAppliance is an appliance whose databases are open.
type storesAppliance struct {
	stubAppliance
	st *appliance.Stores
}

func (a storesAppliance) Stores() *appliance.Stores { return a.st }

// fakeTools answers for the tools as the appliance does: an endpoint or
// why the tool is unavailable.
type fakeTools struct {
	mu  sync.Mutex
	eps map[string]appliance.AdminToolEndpoint
	bad map[string]string // tool → reason
}

func (f *fakeTools) AdminTool(name string) (appliance.AdminToolEndpoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.bad[name]; ok {
		return appliance.AdminToolEndpoint{}, &appliance.ToolUnavailableError{Tool: name, Reason: r}
	}
	ep, ok := f.eps[name]
	if !ok {
		return appliance.AdminToolEndpoint{}, &appliance.ToolUnavailableError{Tool: name, Reason: "not installed"}
	}
	return ep, nil
}

func (f *fakeTools) setUnavailable(name, reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if reason == "" {
		delete(f.bad, name)
	} else {
		f.bad[name] = reason
	}
}

// upstream stands in for a tool: a real HTTP server that counts its
// requests and keeps the last one's path, headers and body.
type upstream struct {
	srv  *httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	last *http.Request
	body string
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.last, u.body = r.Clone(context.Background()), string(b)
		u.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "tool_session", Value: "t1", Path: "/"})
		http.SetCookie(w, &http.Cookie{Name: adminCookie, Value: "set-by-the-tool", Path: "/"})
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("X-Frame-Options", "ALLOWALL")
		w.Header().Set("WWW-Authenticate", `Basic realm="tool"`)
		fmt.Fprintf(w, "<html>tool at %s</html>", r.URL.Path)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) lastRequest() (*http.Request, string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last, u.body
}

const (
	godIP     = "192.0.2.10"  // inside the GOD allow-list
	outsideIP = "203.0.113.9" // outside it
	password  = "Mvua ya Machi inanyesha 7"
)

// proxyWorld is a router over real PostgreSQL and Redis, unsealed, with a
// GOD, a company admin and a manager, and both tools served by one
// upstream.
type proxyWorld struct {
	t     *testing.T
	srv   *httptest.Server
	pool  *pgxpool.Pool
	rdb   *redis.Client
	seal  *seal.Service
	id    *auth.Service // another process's identity service on the same stores
	tools *fakeTools
	up    *upstream
}

func newProxyWorld(t *testing.T) *proxyWorld {
	t.Helper()
	realServices(t)
	ctx := context.Background()
	db, _ := systemHead.Database(t)
	pool, err := pgxpool.New(ctx, pg.AppDSN(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	rdb := redis.NewClient(&redis.Options{Network: "unix", Addr: rs.Socket, DB: int(redisDBs.Add(1))})
	t.Cleanup(func() { _ = rdb.Close() })
	sl, err := seal.Open(seal.Options{Dir: t.TempDir(),
		Provider: seal.SoftwareProvider{Params: seal.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sl.Close)
	res, err := sl.Init(ctx, seal.InitRequest{Shares: 2, Threshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range res.Shares {
		if _, err := sl.Confirm(ctx, sh.Share); err != nil {
			t.Fatal(err)
		}
	}
	up := newUpstream(t)
	base, _ := url.Parse(up.srv.URL)
	tools := &fakeTools{bad: map[string]string{}, eps: map[string]appliance.AdminToolEndpoint{
		"mongo-express": {URL: base, Header: http.Header{"Authorization": {"Basic dG9vbDpsb2dpbg=="}}},
		"pgadmin":       {URL: base, StripPrefix: true, Header: http.Header{"X-Script-Name": {"/admin/pgadmin"}}},
	}}
	s := newServer(Deps{
		Appliance: storesAppliance{st: &appliance.Stores{App: pool, Redis: rdb}}, Seal: sl, AdminTools: tools,
		TrustedProxies: 1, GODAllow: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
	})
	if err := (identityMaker{s}).Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(identityMaker{s}.Stop)
	kr, err := sl.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	id, err := auth.New(ctx, auth.Options{DB: pool, Redis: rdb, RedisPrefix: "auth:", Sealer: kr, Audit: auth.RecordInAuditChain})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(id.Close)
	srv := httptest.NewServer(s.router())
	t.Cleanup(srv.Close)
	return &proxyWorld{t: t, srv: srv, pool: pool, rdb: rdb, seal: sl, id: id, tools: tools, up: up}
}

// req sends a request from ip (the one trusted proxy's X-Forwarded-For).
func (w *proxyWorld) req(method, path, ip string, hdr http.Header, body io.Reader) *http.Response {
	w.t.Helper()
	r, err := http.NewRequest(method, w.srv.URL+path, body)
	if err != nil {
		w.t.Fatal(err)
	}
	for k, v := range hdr {
		r.Header[k] = v
	}
	r.Header.Set("X-Forwarded-For", ip)
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(r)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { _ = res.Body.Close() })
	return res
}

// raw sends target exactly as written (no client cleans or encodes it)
// and returns the status and the error code of the answer.
func (w *proxyWorld) raw(method, target, ip string, hdr http.Header) (int, string) {
	w.t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(w.srv.URL, "http://"))
	if err != nil {
		w.t.Fatal(err)
	}
	defer conn.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nX-Forwarded-For: %s\r\nConnection: close\r\n", method, target, strings.TrimPrefix(w.srv.URL, "http://"), ip)
	for k, vs := range hdr {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	if _, err := conn.Write([]byte(b.String())); err != nil {
		w.t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	return res.StatusCode, errCode(res)
}

func errCode(res *http.Response) string {
	var eb errorBody
	b, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(b, &eb)
	return eb.Error.Code
}

func (w *proxyWorld) login(email, totp string) auth.TokenPair {
	w.t.Helper()
	b, _ := json.Marshal(loginRequest{Email: email, Password: password, TOTP: totp})
	res := w.req("POST", "/api/v1/auth/login", godIP, http.Header{"Content-Type": {"application/json"}}, strings.NewReader(string(b)))
	var pair auth.TokenPair
	if err := json.NewDecoder(res.Body).Decode(&pair); err != nil || res.StatusCode != 200 {
		w.t.Fatalf("login %s: %d %v", email, res.StatusCode, err)
	}
	return pair
}

func totpAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := auth.TOTPCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mint asks for the tools' cookie with token from ip and returns it.
func (w *proxyWorld) mint(token, ip string) (*http.Response, *http.Cookie) {
	w.t.Helper()
	res := w.req("POST", "/api/v1/sys/admin-tools/session", ip, http.Header{"Authorization": {"Bearer " + token}}, nil)
	for _, c := range res.Cookies() {
		if c.Name == adminCookie {
			return res, c
		}
	}
	return res, nil
}

// auditRecord is one record of the system chain.
type proxyAudit struct {
	Actor, Role, IP, Resource, Outcome string
	Details                            map[string]any
}

func (w *proxyWorld) adminRecords() []proxyAudit {
	w.t.Helper()
	rows, err := w.pool.Query(context.Background(), `SELECT actor, role, ip, resource, outcome, details
		FROM audit.records WHERE chain = 'system' AND action = $1 ORDER BY seq`, adminAuditAction)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	var out []proxyAudit
	for rows.Next() {
		var r proxyAudit
		var details string
		if err := rows.Scan(&r.Actor, &r.Role, &r.IP, &r.Resource, &r.Outcome, &details); err != nil {
			w.t.Fatal(err)
		}
		_ = json.Unmarshal([]byte(details), &r.Details)
		out = append(out, r)
	}
	return out
}

// recordsAfter waits for the chain to hold n records of proxied requests
// more than before (a streamed answer reaches the client before its
// record is written, the status being known only at the end) and
// returns them all.
func (w *proxyWorld) recordsAfter(before, n int) []proxyAudit {
	w.t.Helper()
	var recs []proxyAudit
	deadline := time.Now().Add(10 * time.Second)
	for {
		if recs = w.adminRecords(); len(recs) >= before+n || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(recs) != before+n {
		w.t.Fatalf("%d audit records added, want %d: %+v", len(recs)-before, n, recs[before:])
	}
	return recs
}

func TestAdminToolsProxy(t *testing.T) {
	w := newProxyWorld(t)
	ctx := context.Background()

	// GOD, through the setup route; two sessions (two TOTP steps).
	b, _ := json.Marshal(godSetupRequest{Email: "god@vanta.example", Name: "Amina Otieno", Password: password})
	res := w.req("POST", "/api/v1/sys/setup/god", godIP, http.Header{"Content-Type": {"application/json"}}, strings.NewReader(string(b)))
	var setup struct {
		User auth.User `json:"user"`
		TOTP struct {
			Secret string `json:"secret"`
		} `json:"totp"`
	}
	if err := json.NewDecoder(res.Body).Decode(&setup); err != nil || res.StatusCode != 201 {
		t.Fatalf("setup GOD: %d %v", res.StatusCode, err)
	}
	now := time.Now()
	god := w.login("god@vanta.example", totpAt(t, setup.TOTP.Secret, now))
	godLater := w.login("god@vanta.example", totpAt(t, setup.TOTP.Secret, now.Add(30*time.Second)))

	// A company admin (second factor enrolled) and a manager.
	company := uuid.New()
	adm, err := w.id.CreateUser(ctx, "admin@acme.example", "Juma Admin", password)
	if err != nil {
		t.Fatal(err)
	}
	admSecret, _, err := w.id.EnrollTOTP(ctx, adm.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.id.SetMembership(ctx, adm.ID, company, auth.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	mgr, err := w.id.CreateUser(ctx, "manager@acme.example", "Wanjiru Manager", password)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.id.SetMembership(ctx, mgr.ID, company, auth.RoleManager); err != nil {
		t.Fatal(err)
	}
	admin := w.login("admin@acme.example", totpAt(t, admSecret, time.Now()))
	manager := w.login("manager@acme.example", "")

	// Cookies: GOD's live one, one for a session about to end, one to expire.
	_, cookie := w.mint(god.AccessToken, godIP)
	_, endingCookie := w.mint(godLater.AccessToken, godIP)
	_, expiringCookie := w.mint(god.AccessToken, godIP)
	if cookie == nil || endingCookie == nil || expiringCookie == nil {
		t.Fatal("GOD got no cookie")
	}
	if !cookie.Secure || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/admin/" || cookie.MaxAge != 3600 {
		t.Errorf("cookie attributes: %+v", cookie)
	}
	// The session ends at logout; the other cookie's key expires in Redis.
	if r := w.req("POST", "/api/v1/auth/logout", godIP, http.Header{"Authorization": {"Bearer " + godLater.AccessToken}}, nil); r.StatusCode != 204 {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	keys, err := w.rdb.Keys(ctx, adminRedisPrefix+"*").Result()
	if err != nil || len(keys) != 3 {
		t.Fatalf("tool sessions in Redis: %v %v", keys, err)
	}
	expiringKey := adminRedisPrefix + sha256Hex(expiringCookie.Value)
	if err := w.rdb.PExpire(ctx, expiringKey, time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { n, _ := w.rdb.Exists(ctx, expiringKey).Result(); return n == 0 })

	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	withCookie := func(c *http.Cookie) http.Header { return http.Header{"Cookie": {c.Name + "=" + c.Value}} }
	upgrade := func(h http.Header, conn, up string) http.Header {
		h = h.Clone()
		if conn != "" {
			h.Set("Connection", conn)
		}
		if up != "" {
			h.Set("Upgrade", up)
		}
		return h
	}

	t.Run("refused", func(t *testing.T) {
		cases := []struct {
			name, method, target, ip string
			hdr                      http.Header
			status                   int
			code                     string
		}{
			{"no credentials", "GET", "/admin/mongo/", godIP, nil, 401, "unauthenticated"},
			{"no credentials pgadmin", "POST", "/admin/pgadmin/login", godIP, nil, 401, "unauthenticated"},
			{"basic scheme", "GET", "/admin/mongo/", godIP, http.Header{"Authorization": {"Basic Z29kOmdvZA=="}}, 401, "unauthenticated"},
			{"empty bearer", "GET", "/admin/mongo/", godIP, http.Header{"Authorization": {"Bearer "}}, 401, "unauthenticated"},
			{"forged bearer", "GET", "/admin/mongo/", godIP, bearer("eyJhbGciOiJub25lIn0.e30."), 401, "invalid_token"},
			{"forged cookie", "GET", "/admin/mongo/", godIP, withCookie(&http.Cookie{Name: adminCookie, Value: strings.Repeat("A", 43)}), 401, "invalid_session"},
			{"expired cookie", "GET", "/admin/mongo/", godIP, withCookie(expiringCookie), 401, "invalid_session"},
			{"cookie of a logged-out session", "GET", "/admin/mongo/", godIP, withCookie(endingCookie), 401, "invalid_session"},
			{"logged-out bearer", "GET", "/admin/mongo/", godIP, bearer(godLater.AccessToken), 401, "invalid_token"},
			{"company admin", "GET", "/admin/mongo/", godIP, bearer(admin.AccessToken), 403, "forbidden"},
			{"company admin pgadmin", "GET", "/admin/pgadmin/", godIP, bearer(admin.AccessToken), 403, "forbidden"},
			{"manager", "DELETE", "/admin/mongo/db/x", godIP, bearer(manager.AccessToken), 403, "forbidden"},
			{"company admin with a path trick", "GET", "/admin/mongo/../../api/v1/me", godIP, bearer(admin.AccessToken), 403, "forbidden"},
			{"GOD outside the allow-list", "GET", "/admin/mongo/", outsideIP, bearer(god.AccessToken), 403, "forbidden_network"},
			{"GOD's cookie outside the allow-list", "GET", "/admin/mongo/", outsideIP, withCookie(cookie), 403, "forbidden_network"},
			{"dot-dot", "GET", "/admin/mongo/../..", godIP, bearer(god.AccessToken), 400, "invalid_path"},
			{"dot-dot to the API", "GET", "/admin/mongo/../../api/v1/sys/audit", godIP, withCookie(cookie), 400, "invalid_path"},
			{"dot", "GET", "/admin/mongo/./db", godIP, bearer(god.AccessToken), 400, "invalid_path"},
			{"encoded dots", "GET", "/admin/mongo/%2e%2e/", godIP, bearer(god.AccessToken), 400, "invalid_path"},
			{"encoded dots upper case", "GET", "/admin/pgadmin/%2E%2E/%2E%2E/api", godIP, bearer(god.AccessToken), 400, "invalid_path"},
			{"encoded slashes", "GET", "/admin/mongo/..%2f..%2fapi", godIP, bearer(god.AccessToken), 400, "invalid_path"},
			{"encoded slash upper case", "GET", "/admin/mongo/db%2Fx", godIP, withCookie(cookie), 400, "invalid_path"},
			{"double encoding", "GET", "/admin/mongo/%252e%252e/", godIP, bearer(god.AccessToken), 400, "invalid_path"},
			{"encoded backslash", "GET", "/admin/mongo/..%5c..%5capi", godIP, bearer(god.AccessToken), 400, "invalid_path"},
			{"backslash", "GET", `/admin/mongo/..\..\api`, godIP, bearer(god.AccessToken), 400, "invalid_path"},
			{"NUL", "GET", "/admin/mongo/db%00x", godIP, bearer(god.AccessToken), 400, "invalid_path"},
			{"empty segment", "GET", "/admin/mongo//etc/passwd", godIP, bearer(god.AccessToken), 400, "invalid_path"},
			{"WebSocket", "GET", "/admin/mongo/", godIP, upgrade(bearer(god.AccessToken), "Upgrade", "websocket"), 403, "upgrade_refused"},
			{"WebSocket with the cookie", "GET", "/admin/pgadmin/socket.io/?EIO=4&transport=websocket", godIP, upgrade(withCookie(cookie), "keep-alive, Upgrade", "websocket"), 403, "upgrade_refused"},
			{"Upgrade alone", "GET", "/admin/mongo/", godIP, upgrade(bearer(god.AccessToken), "", "h2c"), 403, "upgrade_refused"},
			{"Connection: upgrade alone", "GET", "/admin/mongo/", godIP, upgrade(bearer(god.AccessToken), "upgrade", ""), 403, "upgrade_refused"},
			{"TRACE", "TRACE", "/admin/mongo/", godIP, bearer(god.AccessToken), 405, "method_not_allowed"},
			{"another site's page", "POST", "/admin/mongo/db/acme", godIP, func() http.Header {
				h := withCookie(cookie)
				h.Set("Origin", "https://evil.example")
				return h
			}(), 403, "cross_site"},
			{"another site's page, Sec-Fetch-Site", "DELETE", "/admin/pgadmin/browser/server/1", godIP, func() http.Header {
				h := bearer(god.AccessToken)
				h.Set("Sec-Fetch-Site", "cross-site")
				return h
			}(), 403, "cross_site"},
			{"no such tool", "GET", "/admin/redis/", godIP, bearer(god.AccessToken), 404, "not_found"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				hits, before := w.up.hits.Load(), len(w.adminRecords())
				status, code := w.raw(tc.method, tc.target, tc.ip, tc.hdr)
				if status != tc.status || code != tc.code {
					t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.target, status, code, tc.status, tc.code)
				}
				if n := w.up.hits.Load(); n != hits {
					t.Errorf("the tool was reached (%d requests)", n-hits)
				}
				recs := w.recordsAfter(before, 1)
				r := recs[len(recs)-1]
				if r.Resource != tc.method+" "+strings.SplitN(tc.target, "?", 2)[0] || r.IP != tc.ip || r.Outcome != "denied" ||
					r.Details["status"] != float64(tc.status) || r.Details["code"] != tc.code {
					t.Errorf("audit record %+v", r)
				}
				if wantTool := map[string]any{"mongo": "mongo-express", "pgadmin": "pgadmin"}[strings.Split(tc.target, "/")[2]]; r.Details["tool"] != wantTool {
					t.Errorf("record names tool %v, want %v", r.Details["tool"], wantTool)
				}
				if strings.Contains(fmt.Sprint(r), "websocket") {
					t.Errorf("query values recorded: %+v", r)
				}
			})
		}
	})

	t.Run("the cookie is GOD's alone", func(t *testing.T) {
		for _, tc := range []struct {
			name, token, ip string
			status          int
		}{
			{"no token", "", godIP, 401},
			{"company admin", admin.AccessToken, godIP, 403},
			{"manager", manager.AccessToken, godIP, 403},
			{"GOD outside the allow-list", god.AccessToken, outsideIP, 403},
		} {
			before, _ := w.rdb.Keys(ctx, adminRedisPrefix+"*").Result()
			res, c := w.mint(tc.token, tc.ip)
			after, _ := w.rdb.Keys(ctx, adminRedisPrefix+"*").Result()
			if res.StatusCode != tc.status || c != nil || len(after) != len(before) {
				t.Errorf("%s: %d, cookie %v, sessions %d → %d", tc.name, res.StatusCode, c, len(before), len(after))
			}
		}
	})

	t.Run("GOD reaches the tool", func(t *testing.T) {
		before := len(w.adminRecords())
		hdr := bearer(god.AccessToken)
		hdr.Set("Cookie", adminCookie+"="+cookie.Value+"; tool_session=abc; vanta_other=1")
		res := w.req("GET", "/admin/mongo/db/acme?key=secret-value&skip=0", godIP, hdr, nil)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || string(body) != "<html>tool at /admin/mongo/db/acme</html>" {
			t.Fatalf("%d %q", res.StatusCode, body)
		}
		got, _ := w.up.lastRequest()
		if got.Header.Get("Authorization") != "Basic dG9vbDpsb2dpbg==" || got.Header.Get("Cookie") != "tool_session=abc" ||
			got.Header.Get("X-Forwarded-For") != godIP || got.URL.RawQuery != "key=secret-value&skip=0" {
			t.Errorf("the tool saw %v %v", got.URL, got.Header)
		}
		if csp := res.Header.Values("Content-Security-Policy"); len(csp) != 1 || !strings.Contains(csp[0], "frame-ancestors 'none'") ||
			!strings.Contains(csp[0], "'unsafe-inline'") || res.Header.Get("X-Frame-Options") != "DENY" || len(res.Header.Values("X-Frame-Options")) != 1 ||
			res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("X-Content-Type-Options") != "nosniff" ||
			res.Header.Get("WWW-Authenticate") != "" {
			t.Errorf("response headers %v", res.Header)
		}
		for _, c := range res.Cookies() {
			if c.Name == adminCookie {
				t.Errorf("the tool set the appliance's cookie: %v", c)
			}
		}
		if len(res.Cookies()) != 1 || res.Cookies()[0].Name != "tool_session" {
			t.Errorf("the tool's own cookie: %v", res.Cookies())
		}
		recs := w.recordsAfter(before, 1)
		r := recs[len(recs)-1]
		if r.Actor != "user/"+setup.User.ID.String() || r.Role != "god" || r.Outcome != "ok" || r.Resource != "GET /admin/mongo/db/acme" ||
			r.Details["status"] != float64(200) || r.Details["tool"] != "mongo-express" || strings.Contains(fmt.Sprint(r), "secret-value") {
			t.Errorf("record %+v", r)
		}

		// The console's way: the cookie (and a Basic login a browser may
		// send, which is no credential of ours); a posted body streams through.
		hdr = withCookie(cookie)
		hdr.Set("Authorization", "Basic Z29kOmdvZA==")
		hdr.Set("X-Script-Name", "/elsewhere")
		hdr["X_Remote_User"] = []string{"someone-else"}
		res = w.req("POST", "/admin/pgadmin/browser/save?x=1", godIP, hdr, strings.NewReader("name=acme"))
		if res.StatusCode != 200 {
			t.Fatalf("cookie: %d", res.StatusCode)
		}
		got, gotBody := w.up.lastRequest()
		if got.URL.Path != "/browser/save" || gotBody != "name=acme" || got.Header.Get("X-Script-Name") != "/admin/pgadmin" ||
			got.Header.Get("Cookie") != "" || got.Header.Get("Authorization") != "" || len(got.Header.Values("X-Script-Name")) != 1 || underscored(got.Header) {
			t.Errorf("pgAdmin saw %v %q %v", got.URL, gotBody, got.Header)
		}
		if res.Header.Get("X-Frame-Options") != "SAMEORIGIN" || !strings.Contains(res.Header.Get("Content-Security-Policy"), "frame-ancestors 'self'") {
			t.Errorf("pgAdmin's framing: %v", res.Header)
		}
		// A path without its slash is sent to the tool's root.
		res = w.req("GET", "/admin/mongo", godIP, withCookie(cookie), nil)
		if res.StatusCode != 308 || res.Header.Get("Location") != "/admin/mongo/" {
			t.Errorf("/admin/mongo: %d %v", res.StatusCode, res.Header.Get("Location"))
		}
		w.recordsAfter(before, 3)
	})

	t.Run("tool unavailable", func(t *testing.T) {
		w.tools.setUnavailable("mongo-express", "disabled: VANTA_MONGO_EXPRESS=off")
		t.Cleanup(func() { w.tools.setUnavailable("mongo-express", "") })
		hits, before := w.up.hits.Load(), len(w.adminRecords())
		res := w.req("GET", "/admin/mongo/", godIP, withCookie(cookie), nil)
		var eb errorBody
		_ = json.NewDecoder(res.Body).Decode(&eb)
		if res.StatusCode != 503 || eb.Error.Code != "tool_unavailable" || !strings.Contains(eb.Error.Message, "mongo-express") ||
			!strings.Contains(eb.Error.Message, "VANTA_MONGO_EXPRESS=off") || w.up.hits.Load() != hits {
			t.Errorf("%d %+v", res.StatusCode, eb)
		}
		r := w.recordsAfter(before, 1)
		if last := r[len(r)-1]; last.Details["status"] != float64(503) || last.Outcome != "unavailable" {
			t.Errorf("record %+v", last)
		}
	})

	t.Run("tool not answering", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		deadURL, _ := url.Parse(dead.URL)
		dead.Close()
		w.tools.mu.Lock()
		live := w.tools.eps["pgadmin"]
		w.tools.eps["pgadmin"] = appliance.AdminToolEndpoint{URL: deadURL, StripPrefix: true}
		w.tools.mu.Unlock()
		t.Cleanup(func() { w.tools.mu.Lock(); w.tools.eps["pgadmin"] = live; w.tools.mu.Unlock() })
		res := w.req("GET", "/admin/pgadmin/", godIP, withCookie(cookie), nil)
		if code := errCode(res); res.StatusCode != 503 || code != "tool_unavailable" ||
			!strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'self'") || res.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%d %s %v", res.StatusCode, code, res.Header)
		}
	})

	t.Run("an anonymous flood is answered and recorded within bounds", func(t *testing.T) {
		before := len(w.adminRecords())
		for range 100 {
			if status, _ := w.raw("GET", "/admin/mongo/", "198.51.100.77", nil); status != 401 {
				t.Fatalf("status %d", status)
			}
		}
		added := len(w.adminRecords()) - before
		if added < 60 || added > 70 {
			t.Errorf("%d of 100 refusals recorded, want the burst of 60 (and the few the rate adds)", added)
		}
	})

	t.Run("revoking GOD's sessions ends the cookie", func(t *testing.T) {
		before := len(w.adminRecords())
		if res := w.req("GET", "/admin/mongo/", godIP, withCookie(cookie), nil); res.StatusCode != 200 {
			t.Fatalf("before: %d", res.StatusCode)
		}
		w.recordsAfter(before, 1)
		if err := w.id.RevokeAllSessions(ctx, setup.User.ID); err != nil {
			t.Fatal(err)
		}
		hits := w.up.hits.Load()
		if status, code := w.raw("GET", "/admin/mongo/", godIP, withCookie(cookie)); status != 401 || code != "invalid_session" {
			t.Errorf("after: %d %s", status, code)
		}
		if w.up.hits.Load() != hits {
			t.Error("the tool was reached")
		}
	})

	t.Run("sealed: closed", func(t *testing.T) {
		if _, err := w.seal.Seal(); err != nil {
			t.Fatal(err)
		}
		before := len(w.adminRecords())
		if status, code := w.raw("GET", "/admin/mongo/", godIP, withCookie(cookie)); status != 503 || code != "sealed" {
			t.Errorf("sealed: %d %s", status, code)
		}
		w.recordsAfter(before, 1)
	})
}

func TestAdminPathProblem(t *testing.T) {
	for _, p := range []string{"/admin/mongo/", "/admin/mongo/db/acme/system.users", "/admin/mongo/db/a/%22x%22?q=%2e%2f", "/admin/pgadmin/static/js/app.bundle.js?ver=80200", "/admin/mongo/a%20b"} {
		if why := adminPathProblem(p); why != "" {
			t.Errorf("%s refused: %s", p, why)
		}
	}
	for _, p := range []string{"/admin/mongo/..", "/admin/mongo/%2E", "/admin/mongo/a%2fb", "/admin/mongo/%25", "/admin/mongo/a\\b", "/admin/mongo//", "/admin/mongo/%00", "/admin/mongo/%0a", "http://x/admin/mongo/", "*", "/admin/mongo/%zz"} {
		if adminPathProblem(p) == "" {
			t.Errorf("%s passed", p)
		}
	}
}

func TestToolCookies(t *testing.T) {
	got := toolCookies([]string{"vanta_admin_tools=x; a=1", "VantaSomething=2;b=2; ;pga4_session=s"})
	if got != "a=1; b=2; pga4_session=s" {
		t.Errorf("%q", got)
	}
}

// underscored says whether a header name has "_" in it.
func underscored(h http.Header) bool {
	for k := range h {
		if strings.Contains(k, "_") {
			return true
		}
	}
	return false
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// waitFor polls cond until it holds, for at most 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
