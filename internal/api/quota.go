package api

import (
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-redis/redis_rate/v10"

	"github.com/vanta-ledger/vanta/internal/quota"
)

// Quotas are request limits per minute, counted in Redis so that they hold
// across API replicas. Zero means the default.
type Quotas struct {
	UserPerMinute    int // default quota.DefaultUserPerMinute
	CompanyPerMinute int // default quota.DefaultCompanyPerMinute
	Company          quota.Limits
}

func (q Quotas) withDefaults() Quotas {
	if q.UserPerMinute == 0 {
		q.UserPerMinute = quota.DefaultUserPerMinute
	}
	if q.CompanyPerMinute == 0 {
		q.CompanyPerMinute = quota.DefaultCompanyPerMinute
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
	// At least a second: a Retry-After of 0 would invite a busy loop.
	wait := max(res.RetryAfter, time.Second)
	s.fail(c, &apiError{status: http.StatusTooManyRequests, code: "quota_exceeded", retryAfter: wait,
		message: fmt.Sprintf("more than %d requests a minute; retry in %ds", perMinute, int(math.Ceil(wait.Seconds())))})
	return true
}

// getQuota shows a company its allowances and what it has used.
func (s *server) getQuota(c *gin.Context) error {
	d, err := s.companyStores(c)
	if err != nil {
		return err
	}
	q := quota.Quotas{Redis: d.stores.Redis, Limits: s.Quotas.Company}
	used, err := q.StorageUsed(c.Request.Context(), scope(c))
	if err != nil {
		return err
	}
	limits := q.Limits
	if limits.AIPerHour == 0 {
		limits.AIPerHour = quota.DefaultAIPerHour
	}
	if limits.StorageBytes == 0 {
		limits.StorageBytes = quota.DefaultStorageBytes
	}
	c.JSON(http.StatusOK, gin.H{
		"requests_per_minute":  gin.H{"per_user": s.Quotas.UserPerMinute, "per_company": s.Quotas.CompanyPerMinute},
		"ai_requests_per_hour": limits.AIPerHour,
		"storage_bytes":        gin.H{"used": used, "limit": limits.StorageBytes},
	})
	return nil
}
