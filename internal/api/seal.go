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
	limited := sys.Group("", s.limit(newClientLimiter(120, 60)))

	sys.GET("/seal-status", func(c *gin.Context) {
		c.JSON(http.StatusOK, s.Seal.Status())
	})
	// Init needs the setup token until a GOD exists; starting over while
	// confirmations are pending also needs the ceremony token or a pending
	// share, checked by the seal service.
	limited.POST("/init", s.requireSetupToken, s.handle(func(c *gin.Context) error {
		var req seal.InitRequest
		if err := decode(c, &req); err != nil {
			return err
		}
		res, err := s.Seal.Init(sealCtx(c), req)
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, res)
		return nil
	}))
	limited.POST("/init/confirm", s.withShare(false, func(c *gin.Context, req shareRequest) (any, error) {
		return s.Seal.Confirm(sealCtx(c), req.Share)
	}))
	limited.POST("/unseal", s.withShare(true, func(c *gin.Context, req shareRequest) (any, error) {
		if req.Reset {
			// A custodian who entered a share in this round resets with
			// it; otherwise only GOD's token will do.
			if req.Share == "" && c.GetHeader("Authorization") != "" {
				if _, ok := s.godGate(c); !ok {
					return nil, errAnswered
				}
			}
			return s.Seal.ResetUnseal(sealCtx(c), req.Share)
		}
		return s.Seal.Unseal(sealCtx(c), req.Share, req.Nonce)
	}))
	sys.POST("/seal", s.godOnceAccountsExist, s.handle(func(c *gin.Context) error {
		st, err := s.Seal.SealFrom(sealCtx(c))
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, st)
		return nil
	}))
	// Starting a rekey: GOD's token while unsealed (once a GOD exists);
	// while sealed no token can be checked, so anyone may propose one, and
	// it becomes real only when the threshold of current custodians enters
	// shares after seeing in seal-status whom it encrypts to.
	limited.POST("/rekey/init", s.handle(func(c *gin.Context) error {
		var req seal.InitRequest
		if err := decode(c, &req); err != nil {
			return err
		}
		if !s.Seal.Sealed() {
			if _, ok := s.godGate(c); !ok {
				return errAnswered
			}
		}
		st, err := s.Seal.RekeyStart(sealCtx(c), req)
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, st)
		return nil
	}))
	limited.POST("/rekey/update", s.withShare(false, func(c *gin.Context, req shareRequest) (any, error) {
		st, res, err := s.Seal.RekeyUpdate(sealCtx(c), req.Share, req.Nonce)
		if err != nil || res == nil {
			return st, err
		}
		// The new shares, shown once; they take effect when confirmed.
		return gin.H{"complete": true, "threshold": res.Threshold, "shares": res.Shares, "rekey": st.Rekey}, nil
	}))
	limited.POST("/rekey/confirm", s.withShare(false, func(c *gin.Context, req shareRequest) (any, error) {
		return s.Seal.RekeyConfirm(sealCtx(c), req.Share)
	}))
	// Cancelling: GOD's token (or no GOD yet) with no body, or one current
	// share per call ({"share","nonce"}) until the threshold cancels.
	limited.POST("/rekey/cancel", s.handle(func(c *gin.Context) error {
		var req shareRequest
		if c.Request.ContentLength != 0 {
			if err := decode(c, &req); err != nil {
				return err
			}
		}
		if req.Reset {
			return badRequest("unknown_field", "reset is not accepted here", "reset")
		}
		if req.Share == "" {
			if _, ok := s.godGate(c); !ok {
				return errAnswered
			}
		}
		st, err := s.Seal.RekeyCancel(sealCtx(c), req.Share, req.Nonce)
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, st)
		return nil
	}))
	sys.POST("/rotate", s.godOnceAccountsExist, s.handle(func(c *gin.Context) error {
		st, err := s.Seal.Rotate(sealCtx(c))
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, st)
		return nil
	}))
	limited.POST("/break-glass", s.withShare(false, func(c *gin.Context, req shareRequest) (any, error) {
		progress, token, err := s.Seal.BreakGlass(sealCtx(c), req.Share, req.Nonce)
		if err != nil {
			return nil, err
		}
		if token == "" {
			return gin.H{"progress": progress, "threshold": s.Seal.Status().Threshold}, nil
		}
		return gin.H{"token": token, "expires_in": 30}, nil
	}))
	limited.POST("/break-glass/use", s.handle(func(c *gin.Context) error {
		var req struct {
			Token string `json:"token"`
		}
		if err := decode(c, &req); err != nil {
			return err
		}
		if err := s.Seal.UseBreakGlass(sealCtx(c), req.Token); err != nil {
			return err
		}
		c.JSON(http.StatusOK, gin.H{"valid": true})
		return nil
	}))
}

// withShare decodes a share request, checks it names a share (or, where
// allowed, a reset) and answers with what fn returns.
func (s *server) withShare(allowReset bool, fn func(*gin.Context, shareRequest) (any, error)) gin.HandlerFunc {
	return s.handle(func(c *gin.Context) error {
		var req shareRequest
		if err := decode(c, &req); err != nil {
			return err
		}
		switch {
		case req.Reset && !allowReset:
			return badRequest("unknown_field", "reset is not accepted here", "reset")
		case !req.Reset && req.Share == "":
			return badRequest("validation_failed", "share is required", "share")
		}
		out, err := fn(c, req)
		if err != nil {
			return err // errAnswered included: fn has answered
		}
		c.JSON(http.StatusOK, out)
		return nil
	})
}
