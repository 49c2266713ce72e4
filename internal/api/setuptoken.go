package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/vanta-ledger/vanta/appliance"
)

// requireSetupToken guards the first-boot routes: until a GOD exists,
// whoever reaches the port first must also hold the token printed in the
// boot log, or the first visitor would own the appliance. It runs before
// the body is read, so a refused request changes nothing.
func (s *server) requireSetupToken(c *gin.Context) {
	if s.SetupGate == nil {
		c.Next()
		return
	}
	if err := s.SetupGate.Check(c.GetHeader(appliance.SetupTokenHeader)); err != nil {
		s.logger.Warn("security", "event", "setup_token_refused", "ip", ip(c), "path", c.FullPath(),
			"header_sent", c.GetHeader(appliance.SetupTokenHeader) != "")
		s.fail(c, err)
		return
	}
	c.Next()
}

// setupTokenStatus tells the setup page whether to ask for the token. It
// says only whether a GOD exists, which POST sys/setup/god tells anyone
// anyway; never the token.
func (s *server) setupTokenStatus(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"required": s.SetupGate != nil && s.SetupGate.Needed(), "header": appliance.SetupTokenHeader})
}
