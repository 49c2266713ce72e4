package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/vanta-ledger/vanta/internal/seal"
)

// shareRequest carries one custodian share.
type shareRequest struct {
	Share string `json:"share"`
	Nonce string `json:"nonce"`
	Reset bool   `json:"reset"`
}

func (s *server) sealRoutes(sys *gin.RouterGroup) {
	// Share-taking routes, per client: a burst of 60 covers a whole key
	// ceremony from one console; then 2 a second. Shares cannot be
	// guessed; this keeps a misbehaving client from burning CPU on Argon2.
	limited := sys.Group("", newClientLimiter(120, 60).middleware)

	sys.GET("/seal-status", func(c *gin.Context) {
		c.JSON(http.StatusOK, s.Seal.Status())
	})
	limited.POST("/init", s.requireSetupToken, func(c *gin.Context) {
		var req seal.InitRequest
		if err := decode(c, &req); err != nil {
			s.fail(c, err)
			return
		}
		res, err := s.Seal.Init(c.Request.Context(), req)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, res)
	})
	limited.POST("/init/confirm", s.withShare(false, func(c *gin.Context, req shareRequest) (any, error) {
		return s.Seal.Confirm(req.Share)
	}))
	limited.POST("/unseal", s.withShare(true, func(c *gin.Context, req shareRequest) (any, error) {
		if req.Reset {
			return s.Seal.ResetUnseal(), nil
		}
		return s.Seal.Unseal(c.Request.Context(), req.Share, req.Nonce)
	}))
	sys.POST("/seal", s.godOnceAccountsExist, func(c *gin.Context) {
		st, err := s.Seal.Seal()
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, st)
	})
	limited.POST("/rekey/init", func(c *gin.Context) {
		var req seal.InitRequest
		if err := decode(c, &req); err != nil {
			s.fail(c, err)
			return
		}
		st, err := s.Seal.RekeyStart(req)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, st)
	})
	limited.POST("/rekey/update", s.withShare(false, func(c *gin.Context, req shareRequest) (any, error) {
		st, res, err := s.Seal.RekeyUpdate(c.Request.Context(), req.Share, req.Nonce)
		if err != nil || res == nil {
			return st, err
		}
		// The new shares, shown once; they take effect when confirmed.
		return gin.H{"complete": true, "threshold": res.Threshold, "shares": res.Shares, "rekey": st.Rekey}, nil
	}))
	limited.POST("/rekey/confirm", s.withShare(false, func(c *gin.Context, req shareRequest) (any, error) {
		return s.Seal.RekeyConfirm(c.Request.Context(), req.Share)
	}))
	sys.POST("/rekey/cancel", s.godOnceAccountsExist, func(c *gin.Context) {
		st, err := s.Seal.RekeyCancel()
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, st)
	})
	sys.POST("/rotate", s.godOnceAccountsExist, func(c *gin.Context) {
		st, err := s.Seal.Rotate()
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, st)
	})
	limited.POST("/break-glass", s.withShare(false, func(c *gin.Context, req shareRequest) (any, error) {
		progress, token, err := s.Seal.BreakGlass(c.Request.Context(), req.Share, req.Nonce)
		if err != nil {
			return nil, err
		}
		if token == "" {
			return gin.H{"progress": progress, "threshold": s.Seal.Status().Threshold}, nil
		}
		return gin.H{"token": token, "expires_in": 30}, nil
	}))
	limited.POST("/break-glass/use", func(c *gin.Context) {
		var req struct {
			Token string `json:"token"`
		}
		if err := decode(c, &req); err != nil {
			s.fail(c, err)
			return
		}
		if err := s.Seal.UseBreakGlass(c.Request.Context(), req.Token); err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"valid": true})
	})
}

// withShare decodes a share request, checks it names a share (or, where
// allowed, a reset) and answers with what fn returns.
func (s *server) withShare(allowReset bool, fn func(*gin.Context, shareRequest) (any, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req shareRequest
		if err := decode(c, &req); err != nil {
			s.fail(c, err)
			return
		}
		switch {
		case req.Reset && !allowReset:
			s.fail(c, badRequest("unknown_field", "reset is not accepted here", "reset"))
			return
		case req.Reset && req.Share != "":
			s.fail(c, badRequest("validation_failed", "send either share or reset, not both", "reset"))
			return
		case !req.Reset && req.Share == "":
			s.fail(c, badRequest("validation_failed", "share is required", "share"))
			return
		}
		out, err := fn(c, req)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, out)
	}
}
