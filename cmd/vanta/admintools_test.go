package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/auth"
)

// TestAdminToolsThroughTheProxy boots one appliance with Mongo Express on
// (installed by scripts/install-deps) and reaches it the only way there
// is, the API's proxy at /admin/mongo/: GOD, by bearer token or by the
// console's cookie, sees every company's database; nobody else does (no
// token, a company admin, a manager, GOD from outside the allow-list),
// path tricks and upgrades are refused, and each refusal is in the system
// audit chain, which GOD reads through the API.
func TestAdminToolsThroughTheProxy(t *testing.T) {
	if _, err := os.Stat(appliance.DefaultMongoExpressDir + "/node_modules/mongo-express/app.js"); err != nil {
		t.Fatalf("Mongo Express is not installed (run scripts/install-deps): %v", err)
	}
	// The test's own requests come from 127.0.0.1 (inside GOD's networks);
	// a trusted proxy hop lets a request claim an address outside them.
	w := newWorldWith(t, []string{"VANTA_MONGO_EXPRESS=" + appliance.DefaultMongoExpressDir, "VANTA_MONGO_EXPRESS_PORT=" + freePort(t),
		"VANTA_TRUSTED_PROXIES=1", "VANTA_GOD_ALLOW=127.0.0.0/8"})
	in := w.in
	in.waitAnyLine("mongo-express healthy", stateLine(appliance.ServiceMongoExpress, "healthy"))
	god := w.god.AccessToken
	dbA := "vanta_c_" + strings.ReplaceAll(w.a.ID, "-", "")
	dbB := "vanta_c_" + strings.ReplaceAll(w.b.ID, "-", "")

	get := func(path string, hdr map[string]string) (int, http.Header, string) {
		t.Helper()
		req := in.request("GET", path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := in.client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header, string(b)
	}

	t.Run("GOD sees the company databases", func(t *testing.T) {
		status, hdr, body := get("/admin/mongo/", map[string]string{"Authorization": "Bearer " + god})
		if status != 200 || !strings.Contains(body, dbA) || !strings.Contains(body, dbB) {
			t.Fatalf("GOD's bearer: %d, databases %s and %s listed: %v %v\n%.2000s", status, dbA, dbB, strings.Contains(body, dbA), strings.Contains(body, dbB), body)
		}
		if !strings.Contains(hdr.Get("Content-Security-Policy"), "frame-ancestors 'none'") || hdr.Get("X-Frame-Options") != "DENY" {
			t.Errorf("headers %v", hdr)
		}
		// The console's way: a cookie minted for GOD's session.
		req := in.request("POST", "/api/v1/sys/admin-tools/session", nil)
		req.Header.Set("Authorization", "Bearer "+god)
		res, err := in.client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(res.Body)
		res.Body.Close()
		// The answer is the one the OpenAPI document describes.
		code, doc := in.call("GET", "/api/v1/openapi.json", "", nil)
		if code != 200 {
			t.Fatalf("openapi.json: %d", code)
		}
		newAnswerChecker(t, doc).check("POST", "/api/v1/sys/admin-tools/session", res.StatusCode, answer)
		var cookie *http.Cookie
		for _, c := range res.Cookies() {
			if c.Name == "vanta_admin_tools" {
				cookie = c
			}
		}
		if res.StatusCode != 201 || cookie == nil || !cookie.Secure || !cookie.HttpOnly || cookie.Path != "/admin/" {
			t.Fatalf("session: %d %v", res.StatusCode, cookie)
		}
		status, _, body = get("/admin/mongo/db/"+dbA+"/", map[string]string{"Cookie": cookie.Name + "=" + cookie.Value})
		if status != 200 || !strings.Contains(body, dbA) {
			t.Errorf("GOD's cookie, company A's database: %d\n%.2000s", status, body)
		}
		// A form posted from the tool's own page (as a browser sends it,
		// with the appliance's origin) reaches the tool: a collection is made.
		post := in.request("POST", "/admin/mongo/db/"+dbA+"/", strings.NewReader("collection=made_through_the_proxy"))
		post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		post.Header.Set("Origin", "https://"+in.addr)
		post.Header.Set("Cookie", cookie.Name+"="+cookie.Value)
		pres, err := (&http.Client{Transport: in.client().Transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(post)
		if err != nil {
			t.Fatal(err)
		}
		pres.Body.Close()
		status, _, body = get("/admin/mongo/db/"+dbA+"/", map[string]string{"Cookie": cookie.Name + "=" + cookie.Value})
		if pres.StatusCode >= 400 || !strings.Contains(body, "made_through_the_proxy") {
			t.Errorf("creating a collection: %d, then %d\n%.2000s", pres.StatusCode, status, body)
		}
	})

	newest := func(t *testing.T) auditEntry {
		t.Helper()
		var list struct{ Items []auditEntry }
		in.mustCall("GET", "/api/v1/sys/audit?action=admin_tools.request&limit=1", god, nil, 200, &list)
		if len(list.Items) != 1 {
			t.Fatalf("no record of a proxied request")
		}
		return list.Items[0]
	}

	t.Run("refused and recorded", func(t *testing.T) {
		admin, manager := w.byRole[auth.RoleAdmin].AccessToken, w.byRole[auth.RoleManager].AccessToken
		for _, tc := range []struct {
			name, method, target, token, from string
			hdr                               map[string]string
			status                            int
			code                              string
		}{
			{"no token", "GET", "/admin/mongo/", "", "", nil, 401, "unauthenticated"},
			{"company admin", "GET", "/admin/mongo/", admin, "", nil, 403, "forbidden"},
			{"manager", "POST", "/admin/mongo/db/" + dbA + "/", manager, "", nil, 403, "forbidden"},
			{"GOD outside the allow-list", "GET", "/admin/mongo/", god, "203.0.113.5", nil, 403, "forbidden_network"},
			{"dot-dot", "GET", "/admin/mongo/../..", god, "", nil, 400, "invalid_path"},
			{"dot-dot to the API", "GET", "/admin/mongo/../../api/v1/sys/audit", god, "", nil, 400, "invalid_path"},
			{"encoded dots", "GET", "/admin/mongo/%2e%2e/", god, "", nil, 400, "invalid_path"},
			{"encoded slashes", "GET", "/admin/mongo/..%2f..%2fapi", god, "", nil, 400, "invalid_path"},
			{"double encoding", "GET", "/admin/mongo/%252e%252e/", god, "", nil, 400, "invalid_path"},
			{"backslash", "GET", `/admin/mongo/..\..\api`, god, "", nil, 400, "invalid_path"},
			{"empty segment", "GET", "/admin/mongo//db", god, "", nil, 400, "invalid_path"},
			{"another site's page", "POST", "/admin/mongo/db/" + dbA + "/", god, "", map[string]string{"Origin": "https://evil.example"}, 403, "cross_site"},
			{"WebSocket", "GET", "/admin/mongo/", god, "", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket",
				"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, 403, "upgrade_refused"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				hdr := map[string]string{}
				for k, v := range tc.hdr {
					hdr[k] = v
				}
				if tc.token != "" {
					hdr["Authorization"] = "Bearer " + tc.token
				}
				if tc.from != "" {
					hdr["X-Forwarded-For"] = tc.from
				}
				status, code, body := rawTLS(t, in, tc.method, tc.target, hdr)
				if status != tc.status || code != tc.code {
					t.Fatalf("%s %s: %d %q, want %d %q (%.300s)", tc.method, tc.target, status, code, tc.status, tc.code, body)
				}
				if strings.Contains(body, dbA) {
					t.Errorf("the refusal shows a database name")
				}
				r := newest(t)
				var d map[string]any
				_ = json.Unmarshal([]byte(r.Details), &d)
				ip := "127.0.0.1"
				if tc.from != "" {
					ip = tc.from
				}
				if r.Resource != tc.method+" "+tc.target || r.Outcome != "denied" || r.IP != ip || d["status"] != float64(tc.status) || d["code"] != tc.code {
					t.Errorf("newest record %+v", r)
				}
			})
		}
	})
}

// auditEntry is a record of GET /api/v1/sys/audit.
type auditEntry struct {
	Actor, Role, IP, Action, Resource, Outcome, Details string
}

// rawTLS sends target exactly as written (no client cleans or encodes
// it) over TLS and returns the status, the error code and the body.
func rawTLS(t *testing.T, in *instance, method, target string, hdr map[string]string) (int, string, string) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(in.certificate())
	conn, err := tls.Dial("tcp", in.addr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, in.addr)
	if _, ok := hdr["Connection"]; !ok {
		b.WriteString("Connection: close\r\n")
	}
	for k, v := range hdr {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var e struct{ Error struct{ Code string } }
	_ = json.Unmarshal(body, &e)
	return res.StatusCode, e.Error.Code, string(body)
}
