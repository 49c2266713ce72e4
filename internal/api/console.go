package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// setupStatus tells the setup page whether its last part (the creator
// account) is done, so that it says setup is complete instead of showing
// a form nobody may submit any more.
func (s *server) setupStatus(c *gin.Context) error {
	exists, err := s.godExists(c.Request.Context())
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"god_exists": exists})
	return nil
}

// home sends a visitor of / or of a console page where the appliance
// needs them: the setup wizard until it has keys and a creator account,
// the custodians' page while it is sealed, otherwise the console (the
// pages answer / with a redirect to /console, which signs the visitor in
// first when this tab holds no session).
func (s *server) home(pages http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.Seal != nil {
			switch st := s.Seal.Status(); {
			case !st.Initialized:
				c.Redirect(http.StatusFound, "/setup")
				return
			case st.Sealed:
				c.Redirect(http.StatusFound, "/unseal")
				return
			}
			// Unknown (the databases are starting) goes to /setup too:
			// that page waits and retries, and moves on by itself.
			if exists, err := s.godExists(c.Request.Context()); err != nil || !exists {
				c.Redirect(http.StatusFound, "/setup")
				return
			}
		}
		pages.ServeHTTP(c.Writer, c.Request)
	}
}
