package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/vanta-ledger/vanta/internal/auth"
)

// roleMatrix is the body of GET /api/v1/roles: auth.Matrix in the order
// the matrix is shown, so that the console draws the same table as
// SECURITY.md and can never drift from what the company gate enforces.
type roleMatrix struct {
	Roles   []string           `json:"roles"`
	Actions []roleMatrixAction `json:"actions"`
}

type roleMatrixAction struct {
	Action  string   `json:"action"`
	Allowed []string `json:"allowed"` // the roles that may, in the order of roles
}

func roleMatrixOf() roleMatrix {
	m := roleMatrix{Roles: make([]string, 0, len(auth.Roles)), Actions: make([]roleMatrixAction, 0, len(auth.Actions))}
	for _, r := range auth.Roles {
		m.Roles = append(m.Roles, string(r))
	}
	for _, a := range auth.Actions {
		row := roleMatrixAction{Action: string(a), Allowed: []string{}}
		for _, r := range auth.Roles {
			if auth.Allowed(r, a) {
				row.Allowed = append(row.Allowed, string(r))
			}
		}
		m.Actions = append(m.Actions, row)
	}
	return m
}

// roleRoutes serves the role matrix to anyone signed in: it is the same
// table the documentation publishes, and every role's console shows it.
func (s *server) roleRoutes(v1 *gin.RouterGroup) {
	v1.GET("/roles", s.authenticate, func(c *gin.Context) {
		c.JSON(http.StatusOK, roleMatrixOf())
	})
}
