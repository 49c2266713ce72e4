package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/vanta-ledger/vanta/internal/auth"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

type invitationPreviewRequest struct {
	Token string `json:"token"`
}

// invitationPreview is what the page that accepts an invitation shows
// before anything is entered: which company, for whom, as what.
type invitationPreview struct {
	CompanyName string    `json:"company_name"`
	Email       string    `json:"email"`
	Role        auth.Role `json:"role"`
}

// invitationRoutes are the invitee's routes that need no account, and the
// console's.
func (s *server) invitationRoutes(v1 *gin.RouterGroup) {
	s.consoleRoutes(v1.Group("/sys"))
	// Tokens carry 256 random bits: the limit is not what keeps them
	// unguessable, it keeps one client from making the appliance hash
	// and look up tokens at speed. Its own budget, so that an invitee
	// reloading the page does not use up anyone's sign-in attempts.
	limited := v1.Group("", s.limit(newClientLimiter(30, 10)))
	limited.POST("/auth/invitations/preview", identityHandler(s, http.StatusOK, s.previewInvitation))
}

// consoleRoutes answer the console's pages about the appliance's state.
func (s *server) consoleRoutes(sys *gin.RouterGroup) {
	sys.GET("/setup/status", s.handle(s.setupStatus))
}

// previewInvitation names the company of a pending invitation. A token
// that is not one, or whose company is archived, is invalid_invitation and
// nothing more, whatever the reason.
func (s *server) previewInvitation(c *gin.Context, id *auth.Service, req invitationPreviewRequest) (any, error) {
	ctx := c.Request.Context()
	inv, err := id.PreviewInvitation(ctx, req.Token)
	if err != nil {
		return nil, err
	}
	d, err := s.domain()
	if err != nil {
		return nil, err
	}
	name, err := d.companies.NameIfNotArchived(ctx, inv.CompanyID)
	if errors.Is(err, tenancy.ErrCompanyNotFound) {
		return nil, auth.ErrInvitationInvalid
	}
	if err != nil {
		return nil, err
	}
	return invitationPreview{CompanyName: name, Email: inv.Email, Role: inv.Role}, nil
}

// acceptLinks are where an invitee accepts: the console's path, with the
// token in the fragment (browsers do not send it to the server, nor to
// logs on the way), and the same as an absolute link when the operator
// set the public URL.
func (s *server) acceptLinks(token string) gin.H {
	out := gin.H{"accept_path": "/accept#" + token}
	if s.PublicURL != "" {
		out["accept_url"] = s.PublicURL + "/accept#" + token
	}
	return out
}
