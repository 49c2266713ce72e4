package api

import (
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/auth"
)

var ginParam = regexp.MustCompile(`:(\w+)`)

// openAPIPath writes a gin path in OpenAPI's form.
func openAPIPath(p string) string { return ginParam.ReplaceAllString(p, "{$1}") }

// documented says whether a registered route belongs in the document:
// the API, not the console's pages.
func documented(path string) bool {
	return strings.HasPrefix(path, "/api/") || path == "/healthz" || path == "/readyz" || path == "/metrics"
}

var pathParams = map[string]string{
	"cid":   "the company's id",
	"uid":   "the user's id",
	"iid":   "the invitation's id",
	"impid": "the import's id",
}

// openAPI builds the document from apiOps, for the routes the router
// really has (a router made without a seal has fewer).
func openAPI(routes gin.RoutesInfo) gin.H {
	registered := map[string]bool{}
	for _, r := range routes {
		registered[r.Method+" "+openAPIPath(r.Path)] = true
	}
	g := newSchemas()
	paths := gin.H{}
	for _, o := range apiOps {
		if !registered[o.method+" "+o.path] {
			continue
		}
		item, _ := paths[o.path].(gin.H)
		if item == nil {
			item = gin.H{}
			paths[o.path] = item
		}
		item[strings.ToLower(o.method)] = operation(o, g)
	}
	g.component(reflect.TypeFor[errorBody]())
	var tags []gin.H
	for _, t := range tagDescriptions {
		tags = append(tags, gin.H{"name": t.name, "description": t.description})
	}
	return gin.H{
		"openapi": "3.1.0",
		"info": gin.H{
			"title":   "Vanta Ledger API",
			"version": "1",
			"description": "The API of a Vanta Ledger appliance. Errors always have the shape " +
				"`{\"error\":{\"code\",\"message\",\"field\"}}`. Signed-in calls send `Authorization: Bearer <access_token>` from POST /api/v1/auth/login.",
		},
		"servers":  []gin.H{{"url": "/", "description": "this appliance"}},
		"tags":     tags,
		"security": []gin.H{{"bearer": []string{}}},
		"paths":    paths,
		"components": gin.H{
			"securitySchemes": gin.H{
				"bearer": gin.H{"type": "http", "scheme": "bearer",
					"description": "The access_token of POST /api/v1/auth/login or /auth/refresh"},
				"setupToken": gin.H{"type": "apiKey", "in": "header", "name": appliance.SetupTokenHeader,
					"description": "The one-time setup token made at first boot (`vanta ctl setup-token`)"},
			},
			"responses": gin.H{
				"Error": gin.H{"description": "The request failed; error.code says why",
					"content": gin.H{"application/json": gin.H{"schema": gin.H{"$ref": "#/components/schemas/Error"}}}},
			},
			"schemas": g.components,
		},
	}
}

// operation is one entry of apiOps as the document has it.
func operation(o apiOp, g *schemas) gin.H {
	desc := []string{accessText(o)}
	if o.note != "" {
		desc = append(desc, o.note)
	}
	op := gin.H{
		"operationId": o.id,
		"summary":     o.summary,
		"description": strings.Join(desc, " "),
		"tags":        []string{o.tag},
		"security":    security(o.access),
	}
	var params []gin.H
	for _, m := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(o.path, -1) {
		params = append(params, gin.H{"name": m[1], "in": "path", "required": true, "description": pathParams[m[1]],
			"schema": gin.H{"type": "string", "format": "uuid"}})
	}
	if o.paged {
		params = append(params,
			gin.H{"name": "limit", "in": "query", "description": "how many records at most",
				"schema": gin.H{"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}},
			gin.H{"name": "cursor", "in": "query", "description": "next_cursor of the previous page",
				"schema": gin.H{"type": "string"}})
	}
	for _, q := range o.query {
		params = append(params, gin.H{"name": q.name, "in": "query", "description": q.description, "schema": q.schema})
	}
	if params != nil {
		op["parameters"] = params
	}
	if o.request != nil {
		op["requestBody"] = gin.H{"required": !o.optionalBody, "content": gin.H{"application/json": gin.H{
			"schema": g.request(reflect.TypeOf(o.request))}}}
	}
	ok := gin.H{"description": statusText(o.status)}
	switch {
	case o.path == "/metrics":
		ok["content"] = gin.H{"text/plain": gin.H{"schema": gin.H{"type": "string"}}}
	case o.html && strings.HasSuffix(o.path, ".css"):
		ok["content"] = gin.H{"text/css": gin.H{"schema": gin.H{"type": "string"}}}
	case o.html:
		ok["content"] = gin.H{"text/html": gin.H{"schema": gin.H{"type": "string"}}}
	case o.response != nil:
		ok["content"] = gin.H{"application/json": gin.H{"schema": responseSchema(o.response, g)}}
	}
	errRef := gin.H{"$ref": "#/components/responses/Error"}
	responses := gin.H{strconv.Itoa(o.status): ok, "4XX": errRef, "5XX": errRef}
	if o.path == "/readyz" {
		responses["503"] = gin.H{"description": "Not ready: the same body, saying what is not", "content": ok["content"]}
	}
	op["responses"] = responses
	return op
}

func responseSchema(v any, g *schemas) gin.H {
	if alts, ok := v.(oneOf); ok {
		var out []any
		for _, a := range alts {
			out = append(out, g.response(reflect.TypeOf(a)))
		}
		return gin.H{"oneOf": out}
	}
	return g.response(reflect.TypeOf(v))
}

func security(a access) []gin.H {
	bearer := gin.H{"bearer": []string{}}
	switch a {
	case public:
		return []gin.H{}
	case setupToken:
		return []gin.H{{"setupToken": []string{}}, {}}
	case godOnceAccounts, shareOrGOD:
		return []gin.H{{}, bearer}
	}
	return []gin.H{bearer}
}

// accessText says who may call o, as the first sentence of its
// description.
func accessText(o apiOp) string {
	switch o.access {
	case public:
		return "Public: no credentials."
	case setupToken:
		return "Public, with the first boot's setup token in the " + appliance.SetupTokenHeader +
			" header (`vanta ctl setup-token`) while the appliance has one and no GOD exists: 401 setup_token_required without it."
	case signedIn:
		return "Any signed-in person."
	case godOnly:
		return "GOD only: anyone else gets 403 forbidden."
	case godOnceAccounts:
		return "Open until a GOD exists (first boot); GOD only after."
	case shareOrGOD:
		return "A custodian's share, or GOD's token."
	case companyMember:
		action := companyAction(o.method, o.path)
		var roles []string
		for _, r := range auth.Roles {
			if auth.Allowed(r, action) {
				roles = append(roles, string(r))
			}
		}
		return "Company route: for " + strings.Join(roles, ", ") + " (action " + string(action) +
			"). Someone not a member of the company gets 404 not_found; a member whose role lacks the action, 403 forbidden."
	}
	return ""
}

// companyAction is the role-matrix action of a company route.
func companyAction(method, path string) auth.Action {
	for _, r := range CompanyRoutes() {
		if r.Method == method && "/api/v1/companies/{cid}"+openAPIPath(r.Path) == path {
			return r.Action
		}
	}
	return ""
}

func serveOpenAPI(r *gin.Engine) gin.HandlerFunc {
	return func(c *gin.Context) { c.JSON(http.StatusOK, openAPI(r.Routes())) }
}
