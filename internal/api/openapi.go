package api

import (
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/vanta-ledger/vanta/appliance"
)

// summaries describe routes in the OpenAPI document; a route missing here
// fails TestOpenAPIDescribesEveryRoute.
var summaries = map[string]string{
	"GET /healthz":                                     "The process is alive",
	"GET /readyz":                                      "Every enabled service is healthy and the appliance is unsealed",
	"GET /api/v1/openapi.json":                         "This document",
	"GET /api/v1/sys/services":                         "Supervised services and their state (GOD once accounts exist)",
	"GET /api/v1/sys/setup-token":                      "Whether sys/init and sys/setup/god still need the X-Vanta-Setup-Token header (never the token)",
	"GET /api/v1/sys/seal-status":                      "Seal state and unseal progress",
	"POST /api/v1/sys/init":                            "Create the master secret; returns the custodians' shares and the ceremony token once (reissue needs that token or a pending share)",
	"POST /api/v1/sys/init/confirm":                    "A custodian confirms their share (key ceremony)",
	"POST /api/v1/sys/unseal":                          "Enter one share, or reset the round (with a share entered in it, or GOD's token)",
	"POST /api/v1/sys/seal":                            "Forget every key (GOD once accounts exist)",
	"POST /api/v1/sys/rekey/init":                      "Start replacing the share set (GOD's token while unsealed; anyone while sealed, real only with the threshold of shares)",
	"POST /api/v1/sys/rekey/update":                    "Enter a current share; at the threshold, the new shares",
	"POST /api/v1/sys/rekey/confirm":                   "A new custodian confirms their share",
	"POST /api/v1/sys/rekey/cancel":                    "Abandon a rekey (GOD's token, or one current share per call until the threshold)",
	"POST /api/v1/sys/rotate":                          "Add a root key version (GOD once accounts exist)",
	"POST /api/v1/sys/break-glass":                     "Enter a share towards a single-use emergency token",
	"POST /api/v1/sys/break-glass/use":                 "Spend a break-glass token",
	"POST /api/v1/sys/break-glass/reset-god":           "Reset GOD's password and TOTP with a break-glass token",
	"POST /api/v1/sys/setup/god":                       "Create the creator account (once)",
	"GET /api/v1/sys/setup/status":                     "Whether the creator account exists (for the setup page)",
	"POST /api/v1/auth/login":                          "Email, password and TOTP for tokens",
	"POST /api/v1/auth/refresh":                        "Rotate a refresh token",
	"POST /api/v1/auth/logout":                         "End this session",
	"GET /api/v1/roles":                                "The role matrix: which role may do what in a company",
	"GET /api/v1/me":                                   "The caller and their memberships",
	"POST /api/v1/me/totp":                             "Begin enrolling a second factor (password, and a current code to replace one)",
	"POST /api/v1/me/totp/confirm":                     "Confirm the enrolment with a first code",
	"POST /api/v1/companies":                           "Create a company (GOD)",
	"GET /api/v1/companies":                            "Companies the caller may see",
	"GET /api/v1/companies/{cid}":                      "A company's configuration",
	"PATCH /api/v1/companies/{cid}":                    "Change a company's configuration",
	"DELETE /api/v1/companies/{cid}":                   "Archive, or purge (crypto-shred), a company",
	"GET /api/v1/companies/{cid}/users":                "Members of a company",
	"POST /api/v1/companies/{cid}/users":               "Create a user as a member",
	"PATCH /api/v1/companies/{cid}/users/{uid}":        "Change a member's role",
	"DELETE /api/v1/companies/{cid}/users/{uid}":       "Remove a member",
	"POST /api/v1/companies/{cid}/users/{uid}/disable": "Disable a member's account",
	"GET /api/v1/companies/{cid}/invitations":          "List the company's invitations and their status",
	"POST /api/v1/companies/{cid}/invitations":         "Invite an email address with a role; the token is shown once",
	"DELETE /api/v1/companies/{cid}/invitations/{iid}": "Withdraw a pending invitation",
	"POST /api/v1/auth/invitations/accept":             "Accept an invitation: a new account, or an existing one proven by its password",
	"POST /api/v1/auth/invitations/preview":            "The company, email and role of a pending invitation, for the page that accepts it",
	"GET /api/v1/companies/{cid}/quota":                "A company's allowances and use",
	"GET /api/v1/companies/{cid}/audit":                "A company's audit records, newest first",
	"GET /api/v1/companies/{cid}/audit/verify":         "Verify a company's audit chain",
	"GET /api/v1/sys/audit":                            "The system audit chain's records, newest first (GOD)",
	"GET /api/v1/sys/audit/verify":                     "Verify the system audit chain (GOD)",

	// Passwords and pending invitations (issue 8, identity).
	"POST /api/v1/auth/password":                              "Set one's own password (replaces an initial one); ends other sessions",
	"POST /api/v1/auth/password/reset":                        "Set a new password with a single-use reset link",
	"POST /api/v1/me/invitations/{iid}/accept":                "Accept, signed in, an invitation addressed to one's email",
	"POST /api/v1/companies/{cid}/users/{uid}/password-reset": "Make a single-use password reset link for a member",
}

// setupTokenRoutes take the first boot's setup token (see requireSetupToken).
var setupTokenRoutes = map[string]bool{"POST /api/v1/sys/init": true, "POST /api/v1/sys/setup/god": true}

var ginParam = regexp.MustCompile(`:(\w+)`)

// openAPI builds the document from the router's own route list, so it
// cannot describe a route that does not exist or miss one that does.
func openAPI(routes gin.RoutesInfo) gin.H {
	paths := map[string]gin.H{}
	sort.Slice(routes, func(i, j int) bool { return routes[i].Path < routes[j].Path })
	for _, r := range routes {
		if !strings.HasPrefix(r.Path, "/api/") && r.Path != "/healthz" && r.Path != "/readyz" {
			continue // the console's pages
		}
		path := ginParam.ReplaceAllString(r.Path, "{$1}")
		op := gin.H{
			"summary": summaries[r.Method+" "+path],
			"responses": gin.H{
				"default": gin.H{"description": "An error", "content": gin.H{"application/json": gin.H{"schema": gin.H{"$ref": "#/components/schemas/Error"}}}},
				"200":     gin.H{"description": "OK"},
			},
		}
		describeBodies(r.Method+" "+path, op)
		var params []gin.H
		for _, m := range ginParam.FindAllStringSubmatch(r.Path, -1) {
			params = append(params, gin.H{"name": m[1], "in": "path", "required": true, "schema": gin.H{"type": "string", "format": "uuid"}})
		}
		if setupTokenRoutes[r.Method+" "+path] {
			params = append(params, gin.H{"name": appliance.SetupTokenHeader, "in": "header", "required": false, "schema": gin.H{"type": "string"},
				"description": "The one-time setup token made at first boot (`vanta ctl setup-token`); required until a GOD exists, 401 setup_token_required otherwise"})
		}
		if params != nil {
			op["parameters"] = params
		}
		if paths[path] == nil {
			paths[path] = gin.H{}
		}
		paths[path][strings.ToLower(r.Method)] = op
	}
	return gin.H{
		"openapi": "3.1.0",
		"info":    gin.H{"title": "Vanta Ledger API", "version": "1"},
		"paths":   paths,
		"components": gin.H{
			"securitySchemes": gin.H{"bearer": gin.H{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
			"schemas": gin.H{"Error": gin.H{"type": "object", "required": []string{"error"}, "properties": gin.H{
				"error": gin.H{"type": "object", "required": []string{"code", "message"}, "properties": gin.H{
					"code": gin.H{"type": "string"}, "message": gin.H{"type": "string"}, "field": gin.H{"type": "string"}}}}}},
		},
	}
}

func serveOpenAPI(r *gin.Engine) gin.HandlerFunc {
	return func(c *gin.Context) { c.JSON(http.StatusOK, openAPI(r.Routes())) }
}
