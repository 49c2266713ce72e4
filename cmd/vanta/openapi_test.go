package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/alerts"
	"github.com/vanta-ledger/vanta/internal/trends"
)

// TestOpenAPIAnswersMatchSchemas walks the API as its people would and
// holds every answer to the schema the served document gives for its route
// and status. Answer objects are checked closed (a field the document does
// not list fails), so the answer types the document mirrors cannot drift
// from what the handlers send, either way.
func TestOpenAPIAnswersMatchSchemas(t *testing.T) {
	w := newWorld(t)
	in := w.in
	code, raw := in.call("GET", "/api/v1/openapi.json", "", nil)
	if code != 200 {
		t.Fatalf("openapi.json: %d", code)
	}
	v := newAnswerChecker(t, raw)
	call := func(method, path, token string, body any, want int) []byte {
		t.Helper()
		code, out := in.call(method, path, token, body)
		if code != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, code, out, want)
		}
		v.check(method, path, code, out)
		return out
	}
	god, admin := w.god.AccessToken, w.byRole["admin"].AccessToken
	a := "/api/v1/companies/" + w.a.ID

	for _, p := range []string{"/healthz", "/readyz", "/api/v1/sys/seal-status", "/api/v1/sys/setup-token", "/api/v1/sys/setup/status"} {
		call("GET", p, "", nil, 200)
	}
	call("GET", "/api/v1/sys/services", god, nil, 200)
	call("GET", "/api/v1/sys/overview", god, nil, 200)
	call("GET", "/api/v1/me", god, nil, 200)
	call("GET", "/api/v1/me", admin, nil, 200)
	call("GET", "/api/v1/companies", god, nil, 200)
	call("GET", "/api/v1/companies?limit=1", admin, nil, 200)
	call("GET", a, admin, nil, 200)
	call("PATCH", a, admin, map[string]any{"industry": "Retail"}, 200)
	call("GET", a+"/quota", admin, nil, 200)
	call("GET", a+"/users", admin, nil, 200)
	call("GET", a+"/audit?limit=5", admin, nil, 200)
	call("GET", a+"/audit/verify", admin, nil, 200)
	call("GET", "/api/v1/sys/audit?limit=5", god, nil, 200)
	call("GET", "/api/v1/sys/audit/verify", god, nil, 200)
	// The metric history: GOD's alone; a wrong parameter is named.
	call("GET", "/api/v1/sys/metrics/series", god, nil, 200)
	for _, c := range []struct {
		query, field string
		status       int
	}{
		{"", "series", 400},
		{"?series=host_cpu_percent&step=day", "step", 400},
		{"?series=host_cpu_percent&from=yesterday", "from", 400},
		{"?series=host_cpu_percent&label=path", "label", 400},
		{"?series=no_such_series&step=hour&label=path=/data", "series", 404},
	} {
		if f := errorField(call("GET", "/api/v1/sys/metrics/history"+c.query, god, nil, c.status)); f != c.field {
			t.Errorf("history%s: field %q, want %q", c.query, f, c.field)
		}
	}
	// A point recorded into the appliance's own database (as its recorder
	// would) is answered, its values as decimal strings.
	recordTrendPoint(t, w.data, alerts.Sample{Series: "disk_used_percent", Labels: map[string]string{"path": "/data"}, Value: 42.5})
	var hist struct {
		Series, Step string
		Labels       map[string]string
		Points       []struct{ T, Min, Max, Avg string }
	}
	if err := json.Unmarshal(call("GET", "/api/v1/sys/metrics/history?series=disk_used_percent&label=path%3D%2Fdata&step=hour", god, nil, 200), &hist); err != nil {
		t.Fatal(err)
	}
	if hist.Series != "disk_used_percent" || hist.Step != "hour" || hist.Labels["path"] != "/data" || len(hist.Points) != 1 || hist.Points[0].Avg != "42.5" || hist.Points[0].Max != "42.5" {
		t.Errorf("history: %+v", hist)
	}
	call("GET", "/api/v1/sys/metrics/history?series=host_cpu_percent", admin, nil, 403)
	call("GET", "/api/v1/sys/metrics/series", admin, nil, 403)
	call("GET", "/api/v1/sys/metrics/series", "", nil, 401)
	// A refused sign-in, so that the security listings have an event.
	call("POST", "/api/v1/auth/login", "", map[string]string{"email": "admin@acme.test", "password": "not the password at all"}, 401)
	call("GET", "/api/v1/sys/security-events?limit=5", god, nil, 200)
	call("GET", "/api/v1/sys/security-events?kind=login_failed", god, nil, 200)
	call("GET", "/api/v1/sys/security-events/summary", god, nil, 200)
	call("GET", a+"/security-events", admin, nil, 200)
	call("GET", "/api/v1/sys/alerts?state=resolved&limit=5", god, nil, 200)
	call("GET", "/api/v1/sys/alerts", admin, nil, 403) // GOD's alone

	// A member's life: created, role changed, a reset link, disabled.
	var m struct{ ID string }
	if err := json.Unmarshal(call("POST", a+"/users", admin, map[string]string{"email": "schema@acme.test", "name": "Schema Check",
		"role": "viewer", "password": initialPassword("a long enough passphrase")}, 201), &m); err != nil {
		t.Fatal(err)
	}
	call("PATCH", a+"/users/"+m.ID, admin, map[string]string{"role": "user"}, 200)
	call("POST", a+"/users/"+m.ID+"/password-reset", admin, nil, 201)
	call("POST", a+"/users/"+m.ID+"/disable", admin, nil, 200)

	// An invitation: issued, previewed, accepted as a new account, whose
	// owner signs in, refreshes, starts a second factor and signs out.
	var inv struct{ Token string }
	if err := json.Unmarshal(call("POST", a+"/invitations", admin, map[string]string{"email": "invited@acme.test", "role": "viewer"}, 201), &inv); err != nil {
		t.Fatal(err)
	}
	call("GET", a+"/invitations", admin, nil, 200)
	call("POST", "/api/v1/auth/invitations/preview", "", map[string]string{"token": inv.Token}, 200)
	call("POST", "/api/v1/auth/invitations/accept", "", map[string]string{"token": inv.Token, "name": "Wanjiru Kamau", "password": "river stones and quiet hills"}, 201)
	var tok tokens
	if err := json.Unmarshal(call("POST", "/api/v1/auth/login", "", map[string]string{"email": "invited@acme.test", "password": "river stones and quiet hills"}, 200), &tok); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(call("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": tok.RefreshToken}, 200), &tok); err != nil {
		t.Fatal(err)
	}
	call("POST", "/api/v1/me/totp", tok.AccessToken, map[string]string{"password": "river stones and quiet hills"}, 201)
	call("POST", "/api/v1/auth/logout", tok.AccessToken, nil, 204)
	var second struct {
		Invitation struct{ ID string } `json:"invitation"`
	}
	if err := json.Unmarshal(call("POST", a+"/invitations", admin, map[string]string{"email": "later@acme.test", "role": "user"}, 201), &second); err != nil {
		t.Fatal(err)
	}
	call("DELETE", a+"/invitations/"+second.Invitation.ID, admin, nil, 204)

	// Errors are the one Error shape.
	call("POST", "/api/v1/auth/login", "", map[string]string{"email": "nobody@acme.test", "password": "wrong wrong wrong"}, 401)
	call("GET", "/api/v1/companies/"+uuid.NewString(), admin, nil, 404)
	call("PATCH", a, admin, map[string]any{"nope": 1}, 400)

	// A company archived; the seal: a new root key version, sealed (which
	// ends the sessions), unsealed share by share.
	call("DELETE", "/api/v1/companies/"+w.b.ID, god, map[string]any{"confirm": w.markersB[1]}, 200)
	call("POST", "/api/v1/sys/rotate", god, nil, 200)
	call("POST", "/api/v1/sys/seal", god, nil, 200)
	for _, s := range w.shares {
		call("POST", "/api/v1/sys/unseal", "", map[string]string{"share": s}, 200)
	}

	t.Logf("answers of %d of the document's %d operations checked", len(v.covered), v.operations)
}

// answerChecker validates answers against the document's schemas: the
// subset of JSON Schema that the appliance's generator writes.
type answerChecker struct {
	t          *testing.T
	doc        map[string]any
	paths      []pathPattern
	covered    map[string]bool
	operations int
}

type pathPattern struct {
	template string
	re       *regexp.Regexp
}

func newAnswerChecker(t *testing.T, raw []byte) *answerChecker {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	v := &answerChecker{t: t, doc: doc, covered: map[string]bool{}}
	for p, item := range doc["paths"].(map[string]any) {
		v.operations += len(item.(map[string]any))
		re := "^" + regexp.MustCompile(`\\\{\w+\\\}`).ReplaceAllString(regexp.QuoteMeta(p), `[^/]+`) + "$"
		v.paths = append(v.paths, pathPattern{p, regexp.MustCompile(re)})
	}
	// Literal paths before templated ones (…/audit before …/{uid}).
	sort.Slice(v.paths, func(i, j int) bool {
		return strings.Count(v.paths[i].template, "{") < strings.Count(v.paths[j].template, "{")
	})
	return v
}

func (v *answerChecker) check(method, url string, status int, body []byte) {
	v.t.Helper()
	path, _, _ := strings.Cut(url, "?")
	var op map[string]any
	for _, p := range v.paths {
		if p.re.MatchString(path) {
			op, _ = v.doc["paths"].(map[string]any)[p.template].(map[string]any)[strings.ToLower(method)].(map[string]any)
			if op != nil {
				v.covered[method+" "+p.template] = true
				break
			}
		}
	}
	if op == nil {
		v.t.Errorf("%s %s: no operation in the document", method, path)
		return
	}
	responses := op["responses"].(map[string]any)
	resp, ok := responses[strconv.Itoa(status)].(map[string]any)
	if !ok {
		resp, ok = responses[fmt.Sprintf("%dXX", status/100)].(map[string]any)
	}
	if !ok {
		v.t.Errorf("%s %s: status %d is not in the document", method, path, status)
		return
	}
	if ref, ok := resp["$ref"].(string); ok {
		resp = v.resolve(ref)
	}
	content, _ := resp["content"].(map[string]any)
	if content == nil {
		if len(body) != 0 {
			v.t.Errorf("%s %s %d: the document says no body, got %s", method, path, status, body)
		}
		return
	}
	schema := content["application/json"].(map[string]any)["schema"].(map[string]any)
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	var value any
	if err := dec.Decode(&value); err != nil {
		v.t.Errorf("%s %s %d: not JSON: %v", method, path, status, err)
		return
	}
	for _, problem := range v.validate(schema, value, "") {
		v.t.Errorf("%s %s %d: %s", method, path, status, problem)
	}
}

func (v *answerChecker) resolve(ref string) map[string]any {
	node := any(v.doc)
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		node = node.(map[string]any)[part]
	}
	return node.(map[string]any)
}

// validate lists how value breaks schema.
func (v *answerChecker) validate(schema map[string]any, value any, at string) []string {
	if at == "" {
		at = "the answer"
	}
	if ref, ok := schema["$ref"].(string); ok {
		return v.validate(v.resolve(ref), value, at)
	}
	if alts, ok := schema["oneOf"].([]any); ok {
		var all []string
		for _, alt := range alts {
			problems := v.validate(alt.(map[string]any), value, at)
			if len(problems) == 0 {
				return nil
			}
			all = append(all, problems...)
		}
		return []string{fmt.Sprintf("%s matches none of its oneOf: %v", at, all)}
	}
	if all, ok := schema["allOf"].([]any); ok {
		var out []string
		for _, s := range all {
			out = append(out, v.validate(s.(map[string]any), value, at)...)
		}
		return out
	}
	var types []string
	switch ty := schema["type"].(type) {
	case string:
		types = []string{ty}
	case []any:
		for _, x := range ty {
			types = append(types, x.(string))
		}
	}
	if len(types) > 0 && !slices.Contains(types, jsonType(value)) &&
		!(jsonType(value) == "integer" && slices.Contains(types, "number")) {
		return []string{fmt.Sprintf("%s is %s, want %v", at, jsonType(value), types)}
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(value) || (e == nil && value == nil) }) {
		return []string{fmt.Sprintf("%s is %v, not one of %v", at, value, enum)}
	}
	var out []string
	switch val := value.(type) {
	case string:
		switch schema["format"] {
		case "uuid":
			if _, err := uuid.Parse(val); err != nil {
				out = append(out, fmt.Sprintf("%s %q is not a uuid", at, val))
			}
		case "date-time":
			if _, err := time.Parse(time.RFC3339Nano, val); err != nil {
				out = append(out, fmt.Sprintf("%s %q is not a date-time", at, val))
			}
		}
	case []any:
		if items, ok := schema["items"].(map[string]any); ok {
			for i, x := range val {
				out = append(out, v.validate(items, x, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		for _, r := range asStrings(schema["required"]) {
			if _, ok := val[r]; !ok {
				out = append(out, fmt.Sprintf("%s lacks required %s", at, r))
			}
		}
		extra, _ := schema["additionalProperties"].(map[string]any)
		for k, x := range val {
			switch p, ok := props[k].(map[string]any); {
			case ok:
				out = append(out, v.validate(p, x, at+"."+k)...)
			case extra != nil:
				out = append(out, v.validate(extra, x, at+"."+k)...)
			default:
				out = append(out, fmt.Sprintf("%s has %s, which the document does not list", at, k))
			}
		}
	}
	return out
}

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if _, err := v.Int64(); err == nil {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	}
	return "object"
}

func asStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, x.(string))
	}
	return out
}

// recordTrendPoint records one sample, now, into the metric history of
// the appliance in data, as its superuser.
func recordTrendPoint(t *testing.T, data string, s alerts.Sample) {
	t.Helper()
	ctx := context.Background()
	conn, err := appliance.ConnectSuperuser(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	dsn := conn.Config().ConnString()
	_ = conn.Close(ctx)
	db, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := (trends.Store{DB: db}).Record(ctx, time.Now(), []alerts.Sample{s}); err != nil {
		t.Fatal(err)
	}
}
