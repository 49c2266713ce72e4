package api

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/auth"
	"github.com/vanta-ledger/vanta/internal/seal"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// openapiOut, when set, is where TestOpenAPIDocument writes the document
// (scripts/test lints that file).
var openapiOut = flag.String("openapi.out", "", "write the OpenAPI document to this file")

// fullRouter is the router with every route (a seal makes the identity,
// company and seal routes).
func fullRouter(t *testing.T) *gin.Engine {
	t.Helper()
	s, err := seal.Open(seal.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return NewRouter(Deps{Appliance: stubAppliance{}, Seal: s}).(*gin.Engine)
}

func fetchDocument(t *testing.T, h http.Handler) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/openapi.json", nil))
	if rec.Code != 200 {
		t.Fatalf("openapi.json: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}

// TestOpenAPITableMatchesRouter: every API route the router registers has
// an entry in apiOps, and every entry a route, so the document cannot
// drift from the router; operation ids are unique camelCase.
func TestOpenAPITableMatchesRouter(t *testing.T) {
	r := fullRouter(t)
	inTable := map[string]apiOp{}
	ids := map[string]bool{}
	tags := map[string]bool{}
	for _, tg := range tagDescriptions {
		tags[tg.name] = true
	}
	camel := regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)
	for _, o := range apiOps {
		key := o.method + " " + o.path
		if _, dup := inTable[key]; dup {
			t.Errorf("%s appears twice in apiOps", key)
		}
		inTable[key] = o
		if !camel.MatchString(o.id) || ids[o.id] {
			t.Errorf("%s: operationId %q is not unique camelCase", key, o.id)
		}
		ids[o.id] = true
		if o.summary == "" || !tags[o.tag] || o.status == 0 {
			t.Errorf("%s: summary %q, tag %q, status %d", key, o.summary, o.tag, o.status)
		}
		if o.access == companyMember && companyAction(o.method, o.path) == "" {
			t.Errorf("%s: marked a company route, but CompanyRoutes has no such route", key)
		}
	}
	routed := map[string]bool{}
	for _, rt := range r.Routes() {
		if !documented(rt.Path) {
			continue
		}
		key := rt.Method + " " + openAPIPath(rt.Path)
		routed[key] = true
		if _, ok := inTable[key]; !ok {
			t.Errorf("route %s has no entry in apiOps (internal/api/openapi_routes.go)", key)
		}
	}
	for key := range inTable {
		if !routed[key] {
			t.Errorf("apiOps describes %s, which the router does not have", key)
		}
	}
	// Every company route of the role matrix is marked as one.
	for _, cr := range CompanyRoutes() {
		key := cr.Method + " /api/v1/companies/{cid}" + openAPIPath(cr.Path)
		if inTable[key].access != companyMember {
			t.Errorf("%s is a company route but apiOps does not say so", key)
		}
	}
}

// TestOpenAPIRequestTypes calls each route's handler with an empty JSON
// object and records the type decode fills: it must be the request type
// of apiOps (and a route without one in the table must decode nothing).
func TestOpenAPIRequestTypes(t *testing.T) {
	r := fullRouter(t)
	var seen []reflect.Type
	decodeObserver = func(_ *gin.Context, v any) { seen = append(seen, reflect.TypeOf(v).Elem()) }
	t.Cleanup(func() { decodeObserver = func(*gin.Context, any) {} })
	table := map[string]apiOp{}
	for _, o := range apiOps {
		table[o.method+" "+o.path] = o
	}
	for _, rt := range r.Routes() {
		key := rt.Method + " " + openAPIPath(rt.Path)
		o, ok := table[key]
		if !ok {
			continue // TestOpenAPITableMatchesRouter reports it
		}
		seen = nil
		callHandler(rt, gin.HandlerFunc(rt.HandlerFunc))
		var want reflect.Type
		if o.request != nil {
			want = reflect.TypeOf(o.request)
		}
		switch {
		case want == nil && len(seen) > 0:
			t.Errorf("%s decodes a %v, but apiOps gives it no request body", key, seen[0])
		case want != nil && len(seen) == 0:
			t.Errorf("%s: apiOps says it takes a %v, but its handler decoded nothing", key, want)
		case want != nil && jsonShape(seen[0]) != jsonShape(want):
			t.Errorf("%s decodes a %v, apiOps says %v:\n handler %s\n table   %s", key, seen[0], want, jsonShape(seen[0]), jsonShape(want))
		}
	}
}

// jsonShape is what encoding/json reads into t: its field names, options
// and types, whatever the Go type is called (a handler's unnamed struct
// and the table's copy of it have the same shape).
func jsonShape(t reflect.Type) string {
	switch {
	case t.Kind() == reflect.Pointer:
		return "*" + jsonShape(t.Elem())
	case t.Kind() == reflect.Slice:
		return "[]" + jsonShape(t.Elem())
	case t.Kind() == reflect.Map:
		return "map[" + t.Key().String() + "]" + jsonShape(t.Elem())
	case t.Kind() != reflect.Struct || t == timeType:
		return t.String()
	}
	var fields []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Tag.Get("json") == "" {
			fields = append(fields, "embedded "+jsonShape(f.Type))
			continue
		}
		if f.IsExported() && f.Tag.Get("json") != "-" {
			name := f.Tag.Get("json")
			if name == "" {
				name = f.Name
			}
			fields = append(fields, name+" "+jsonShape(f.Type))
		}
	}
	slices.Sort(fields)
	return "{" + strings.Join(fields, "; ") + "}"
}

// callHandler runs a route's own handler (not its middleware) on a POST of
// {} as GOD: every handler decodes its body before it needs a database,
// which this router does not have; a panic after that is no concern here.
func callHandler(rt gin.RouteInfo, h gin.HandlerFunc) {
	defer func() { _ = recover() }()
	rec := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(rec)
	req := httptest.NewRequest(rt.Method, strings.ReplaceAll(rt.Path, ":", "x"), strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	c.Request = req
	for _, m := range ginParam.FindAllStringSubmatch(rt.Path, -1) {
		c.Params = append(c.Params, gin.Param{Key: m[1], Value: uuid.NewString()})
	}
	c.Set(ctxPrincipal, auth.Principal{UserID: uuid.New(), IsGOD: true})
	h(c)
}

type opDoc struct {
	OperationID string            `json:"operationId"`
	Summary     string            `json:"summary"`
	Description string            `json:"description"`
	Security    *[]map[string]any `json:"security"`
	Parameters  []map[string]any  `json:"parameters"`
	RequestBody *struct {
		Required bool                                  `json:"required"`
		Content  map[string]struct{ Schema schemaDoc } `json:"content"`
	} `json:"requestBody"`
	Responses map[string]json.RawMessage `json:"responses"`
}

type schemaDoc struct {
	Ref        string                `json:"$ref"`
	Type       any                   `json:"type"`
	Format     string                `json:"format"`
	Required   []string              `json:"required"`
	Properties map[string]*schemaDoc `json:"properties"`
	Items      *schemaDoc            `json:"items"`
	Enum       []any                 `json:"enum"`
	ReadOnly   bool                  `json:"readOnly"`
	Pattern    string                `json:"pattern"`
	Additional any                   `json:"additionalProperties"` // false, or a map's value schema
	OneOf      []*schemaDoc          `json:"oneOf"`
}

type fullDoc struct {
	OpenAPI    string                      `json:"openapi"`
	Security   []map[string]any            `json:"security"`
	Paths      map[string]map[string]opDoc `json:"paths"`
	Components struct {
		Schemas         map[string]*schemaDoc     `json:"schemas"`
		SecuritySchemes map[string]map[string]any `json:"securitySchemes"`
	} `json:"components"`
}

// TestOpenAPIDocument: every operation has an operationId, a summary,
// security, a success response and error responses that are the one Error
// schema; bearer auth and the setup token are declared; request bodies
// are closed objects. With -openapi.out it writes the document there.
func TestOpenAPIDocument(t *testing.T) {
	raw := fetchDocument(t, fullRouter(t))
	if *openapiOut != "" {
		if err := os.WriteFile(*openapiOut, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var doc fullDoc
	if err := json.Unmarshal(raw, &doc); err != nil || doc.OpenAPI != "3.1.0" {
		t.Fatalf("document: %v, openapi %q", err, doc.OpenAPI)
	}
	if doc.Components.SecuritySchemes["bearer"]["scheme"] != "bearer" ||
		doc.Components.SecuritySchemes["setupToken"]["name"] != appliance.SetupTokenHeader {
		t.Errorf("security schemes %v", doc.Components.SecuritySchemes)
	}
	if len(doc.Security) != 1 || doc.Security[0]["bearer"] == nil {
		t.Errorf("default security %v, want bearer", doc.Security)
	}
	errSchema := doc.Components.Schemas["Error"]
	if errSchema == nil || !slices.Equal(errSchema.Required, []string{"error"}) {
		t.Fatalf("Error schema %+v", errSchema)
	}
	detail := doc.Components.Schemas["ErrorDetail"]
	if detail == nil || !slices.Equal(detail.Required, []string{"code", "message"}) || detail.Properties["field"] == nil {
		t.Errorf("ErrorDetail %+v: want code and message required, field optional", detail)
	}
	ops := 0
	for path, methods := range doc.Paths {
		for method, op := range methods {
			ops++
			name := strings.ToUpper(method) + " " + path
			if op.OperationID == "" || op.Summary == "" || op.Description == "" || op.Security == nil {
				t.Errorf("%s: id %q, summary %q, description %q, security %v", name, op.OperationID, op.Summary, op.Description, op.Security)
			}
			for _, st := range []string{"4XX", "5XX"} {
				if !strings.Contains(string(op.Responses[st]), `"#/components/responses/Error"`) {
					t.Errorf("%s: %s is %s, want the Error response", name, st, op.Responses[st])
				}
			}
			if op.RequestBody != nil {
				body := op.RequestBody.Content["application/json"].Schema
				if closed, ok := body.Additional.(bool); body.Type != "object" || !ok || closed {
					t.Errorf("%s: body schema %+v, want a closed object", name, body)
				}
			}
		}
	}
	if ops != len(apiOps) {
		t.Errorf("document has %d operations, apiOps %d", ops, len(apiOps))
	}
	withBody := 0
	for _, o := range apiOps {
		if o.request != nil {
			withBody++
		}
	}
	if withBody < 25 {
		t.Errorf("only %d operations have a request body", withBody)
	}
}

// TestOpenAPISecurity: public routes need no credentials, the first
// boot's take the setup token, GOD-only and company routes say who may
// call them.
func TestOpenAPISecurity(t *testing.T) {
	var doc fullDoc
	if err := json.Unmarshal(fetchDocument(t, fullRouter(t)), &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/healthz", "/readyz", "/api/v1/auth/login", "/api/v1/auth/invitations/accept", "/api/v1/sys/seal-status"} {
		for m, op := range doc.Paths[p] {
			if op.Security == nil || len(*op.Security) != 0 {
				t.Errorf("%s %s: security %v, want none", m, p, op.Security)
			}
		}
	}
	for _, p := range []string{"/api/v1/sys/init", "/api/v1/sys/setup/god"} {
		op := doc.Paths[p]["post"]
		if op.Security == nil || len(*op.Security) == 0 || (*op.Security)[0]["setupToken"] == nil {
			t.Errorf("POST %s: security %v, want the setup token", p, op.Security)
		}
	}
	god := doc.Paths["/api/v1/sys/audit"]["get"]
	if !strings.Contains(god.Description, "GOD only") || god.Security == nil || (*god.Security)[0]["bearer"] == nil {
		t.Errorf("GET /api/v1/sys/audit: %q %v", god.Description, god.Security)
	}
	patch := doc.Paths["/api/v1/companies/{cid}/users/{uid}"]["patch"]
	if !strings.Contains(patch.Description, "for god, admin (action users.manage)") {
		t.Errorf("PATCH users/{uid}: description %q, want the roles that may", patch.Description)
	}
	read := doc.Paths["/api/v1/companies/{cid}"]["get"]
	if !strings.Contains(read.Description, "viewer") {
		t.Errorf("GET company: %q, want every role", read.Description)
	}
}

// TestOpenAPISchemas: answers and bodies are generated from the Go types:
// json names, omitempty not required, pointers nullable, time and uuid
// formats, fixed sets as enums, the catalog of features.
func TestOpenAPISchemas(t *testing.T) {
	var doc fullDoc
	if err := json.Unmarshal(fetchDocument(t, fullRouter(t)), &doc); err != nil {
		t.Fatal(err)
	}
	sc := doc.Components.Schemas
	inv := sc["Invitation"]
	if inv == nil || inv.Properties["created_at"].Format != "date-time" || inv.Properties["id"].Format != "uuid" ||
		slices.Contains(inv.Required, "accepted_at") || !slices.Contains(inv.Required, "expires_at") {
		t.Fatalf("Invitation %+v", inv)
	}
	if ty, _ := inv.Properties["accepted_at"].Type.([]any); len(ty) != 2 || ty[1] != "null" {
		t.Errorf("accepted_at (a pointer) type %v, want nullable", inv.Properties["accepted_at"].Type)
	}
	if fmt.Sprint(inv.Properties["status"].Enum) != "[pending accepted revoked expired]" {
		t.Errorf("invitation status enum %v", inv.Properties["status"].Enum)
	}
	if fmt.Sprint(sc["Member"].Properties["role"].Enum) != "[god admin manager user viewer]" || sc["Member"].Properties["email"] == nil {
		t.Errorf("Member (User embedded, role enum) %+v", sc["Member"])
	}
	if sc["MemberList"].Properties["items"].Items.Ref != "#/components/schemas/Member" {
		t.Errorf("MemberList %+v", sc["MemberList"])
	}
	if sc["TokenPair"].Properties["user_id"] != nil || sc["TokenPair"].Properties["access_token"] == nil {
		t.Errorf(`TokenPair shows json:"-" fields or lacks its own: %+v`, sc["TokenPair"].Properties)
	}
	login := doc.Paths["/api/v1/auth/login"]["post"].RequestBody.Content["application/json"].Schema
	if !slices.Equal(login.Required, []string{"email", "password"}) || login.Properties["totp"] == nil {
		t.Errorf("login body %+v", login)
	}
	for _, op := range []struct{ path, method, status string }{{"/api/v1/companies", "post", "201"}, {"/api/v1/companies/{cid}", "patch", "200"}} {
		o := doc.Paths[op.path][op.method]
		body := o.RequestBody.Content["application/json"].Schema
		for _, f := range []string{"company_name", "registration_number", "tax_id", "industry", "address", "phone", "email", "settings"} {
			if body.Properties[f] == nil {
				t.Errorf("%s %s: no property %s", op.method, op.path, f)
			}
		}
		features := body.Properties["settings"]
		if features.OneOf != nil {
			features = features.OneOf[0]
		}
		features = features.Properties["features"]
		if features == nil || features.Items == nil || !slices.Equal(toStrings(features.Items.Enum), tenancy.FeatureNames()) {
			t.Errorf("%s %s: features %+v, want the catalog", op.method, op.path, features)
		}
		if body.Properties["tax_id"].Pattern == "" {
			t.Errorf("%s %s: tax_id has no pattern", op.method, op.path)
		}
		if _, ok := o.Responses[op.status]; !ok {
			t.Errorf("%s %s: no %s response", op.method, op.path, op.status)
		}
	}
	post := doc.Paths["/api/v1/companies"]["post"].RequestBody.Content["application/json"].Schema
	if !slices.Equal(post.Required, []string{"company_name"}) || !post.Properties["company_id"].ReadOnly {
		t.Errorf("create: required %v, company_id %+v", post.Required, post.Properties["company_id"])
	}
}

func toStrings(v []any) []string {
	var out []string
	for _, x := range v {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// TestOpenAPINoFloats: no body of the API has a floating-point number
// (money is never a float; amounts will be integers of the minor unit or
// decimal strings).
func TestOpenAPINoFloats(t *testing.T) {
	raw := fetchDocument(t, fullRouter(t))
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ty, ok := v["type"]; ok && strings.Contains(fmt.Sprint(ty), "number") {
				t.Errorf("%s is a number (a float)", path)
			}
			for k, x := range v {
				walk(path+"/"+k, x)
			}
		case []any:
			for i, x := range v {
				walk(fmt.Sprintf("%s/%d", path, i), x)
			}
		}
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	walk("", doc)
	// And the generator says so of a float field.
	type priced struct {
		Amount float64 `json:"amount"`
	}
	if newSchemas().response(reflect.TypeFor[priced]()) == nil {
		t.Fatal("no schema")
	}
	if ty := newSchemas().request(reflect.TypeFor[priced]())["properties"].(gin.H)["amount"].(gin.H)["type"]; ty != "number" {
		t.Errorf("a float field is %v: the walk above would not catch it", ty)
	}
}

// TestAPIReferencePage: /api/v1/docs renders every operation and schema
// of the document, with no script and under the strict CSP, and its
// style sheet is served from the appliance itself.
func TestAPIReferencePage(t *testing.T) {
	h := fullRouter(t)
	var doc fullDoc
	if err := json.Unmarshal(fetchDocument(t, h), &doc); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/docs", nil))
	page := rec.Body.String()
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("docs: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	for _, bad := range []string{"<script", " style=", "<style", "http://", "https://"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q (no script, inline style or outside address may appear)", bad)
		}
	}
	for path, methods := range doc.Paths {
		for method, op := range methods {
			anchor := `id="op-` + op.OperationID + `"`
			if !strings.Contains(page, anchor) || !strings.Contains(page, `href="#op-`+op.OperationID+`"`) {
				t.Errorf("%s %s (%s) is not on the page", strings.ToUpper(method), path, op.OperationID)
			}
		}
	}
	for name := range doc.Components.Schemas {
		if !strings.Contains(page, `id="schema-`+name+`"`) {
			t.Errorf("schema %s is not on the page", name)
		}
	}
	// A request body's fields are spelled out.
	if !strings.Contains(page, `<code class="name">refresh_token</code>`) {
		t.Error("the refresh body's field is not on the page")
	}
	// The router's seal was never opened: the reference answers while
	// sealed, as the rest of /api/v1 does not.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/me", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("GET /api/v1/me: %d, want 503 sealed (the page was served while sealed)", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/docs/reference.css", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/css") || rec.Body.Len() == 0 {
		t.Errorf("style sheet: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}

// TestReferenceText: the page shows the document's `code` spans as code
// and escapes everything else.
func TestReferenceText(t *testing.T) {
	got := string(inlineCode("send `<b>` & <i>"))
	if want := "send <code>&lt;b&gt;</code> &amp; &lt;i&gt;"; got != want {
		t.Errorf("inlineCode = %q, want %q", got, want)
	}
}
