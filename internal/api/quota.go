package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/go-redis/redis_rate/v10"
)

// Quotas are request limits per minute, counted in Redis so that they hold
// across API replicas. Zero means the default.
type Quotas struct {
	UserPerMinute    int // default 600
	CompanyPerMinute int // default 3000
}

func (q Quotas) withDefaults() Quotas {
	if q.UserPerMinute == 0 {
		q.UserPerMinute = 600
	}
	if q.CompanyPerMinute == 0 {
		q.CompanyPerMinute = 3000
	}
	return q
}

// overQuota counts one request against key and, past the limit, answers
// 429 with Retry-After. If Redis cannot answer, the request goes through:
// a quota is a brake, not a wall, and Redis may be restarting.
func (s *server) overQuota(c *gin.Context, key string, perMinute int) bool {
	st := s.Appliance.Stores()
	if st == nil {
		return false
	}
	res, err := redis_rate.NewLimiter(st.Redis).Allow(c.Request.Context(), key, redis_rate.PerMinute(perMinute))
	if err != nil {
		s.logger.Warn("quota unavailable", "key", key, "error", err.Error())
		return false
	}
	if res.Allowed > 0 {
		return false
	}
	secs := int(math.Ceil(res.RetryAfter.Seconds()))
	c.Header("Retry-After", strconv.Itoa(max(secs, 1)))
	c.Set(ctxErrorCode, "quota_exceeded")
	writeError(c, http.StatusTooManyRequests, "quota_exceeded", fmt.Sprintf("more than %d requests a minute; retry in %ds", perMinute, max(secs, 1)), "")
	return true
}
