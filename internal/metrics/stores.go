package metrics

import (
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/jobs"
)

var (
	descPGConns       = desc("postgres_pool_connections", "Connections of each PostgreSQL pool by state.", "pool", "state")
	descPGMax         = desc("postgres_pool_max_connections", "Most connections each pool may open.", "pool")
	descPGAcquires    = desc("postgres_pool_acquires_total", "Connections taken from each pool.", "pool")
	descPGAcquireWait = desc("postgres_pool_acquire_wait_seconds_total", "Time spent waiting for a connection of each pool, summed over acquires; divided by acquires it is the mean wait.", "pool")
	descPGEmpty       = desc("postgres_pool_empty_acquires_total", "Acquires that found no idle connection and waited for one to be made or freed.", "pool")
	descPGCanceled    = desc("postgres_pool_canceled_acquires_total", "Acquires given up because their context ended.", "pool")
	descRedisConns    = desc("redis_pool_connections", "Connections of the Redis pool by state.", "state")
	descRedisStale    = desc("redis_pool_stale_connections_total", "Stale connections removed from the Redis pool.")
	descRedisHits     = desc("redis_pool_hits_total", "Times a free connection was found in the Redis pool.")
	descRedisMisses   = desc("redis_pool_misses_total", "Times no free connection was in the Redis pool.")
	descRedisTimeouts = desc("redis_pool_timeouts_total", "Times waiting for a Redis connection timed out.")
	descJobsDepth     = desc("jobs_queue_depth", "Jobs waiting to run (queued or waiting to retry).")
	descJobsOldest    = desc("jobs_oldest_wait_seconds", "How long the oldest waiting job has waited since it was queued; 0 when none waits.")
)

// storeCollector reads the data services' client pools and the job
// queue, once the stores are open. It works sealed too: nothing it reads
// needs a key.
type storeCollector struct {
	stores func() *appliance.Stores
	logger *slog.Logger
}

func (s *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPGConns, descPGMax, descPGAcquires, descPGAcquireWait, descPGEmpty, descPGCanceled,
		descRedisConns, descRedisStale, descRedisHits, descRedisMisses, descRedisTimeouts, descJobsDepth, descJobsOldest} {
		ch <- d
	}
}

func (s *storeCollector) Collect(ch chan<- prometheus.Metric) {
	if s.stores == nil {
		return
	}
	st := s.stores()
	if st == nil {
		return
	}
	pool := func(name string, p *pgxpool.Pool) {
		if p == nil {
			return
		}
		ps := p.Stat()
		g := func(d *prometheus.Desc, v float64, l ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{name}, l...)...)
		}
		c := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, name)
		}
		g(descPGConns, float64(ps.IdleConns()), "idle")
		g(descPGConns, float64(ps.AcquiredConns()), "acquired")
		g(descPGConns, float64(ps.ConstructingConns()), "constructing")
		g(descPGMax, float64(ps.MaxConns()))
		c(descPGAcquires, float64(ps.AcquireCount()))
		c(descPGAcquireWait, ps.AcquireDuration().Seconds())
		c(descPGEmpty, float64(ps.EmptyAcquireCount()))
		c(descPGCanceled, float64(ps.CanceledAcquireCount()))
	}
	pool("app", st.App)
	pool("admin", st.Admin)
	if st.Redis != nil {
		rs := st.Redis.PoolStats()
		ch <- prometheus.MustNewConstMetric(descRedisConns, prometheus.GaugeValue, float64(rs.IdleConns), "idle")
		ch <- prometheus.MustNewConstMetric(descRedisConns, prometheus.GaugeValue, float64(rs.TotalConns-rs.IdleConns), "in_use")
		ch <- prometheus.MustNewConstMetric(descRedisStale, prometheus.CounterValue, float64(rs.StaleConns))
		ch <- prometheus.MustNewConstMetric(descRedisHits, prometheus.CounterValue, float64(rs.Hits))
		ch <- prometheus.MustNewConstMetric(descRedisMisses, prometheus.CounterValue, float64(rs.Misses))
		ch <- prometheus.MustNewConstMetric(descRedisTimeouts, prometheus.CounterValue, float64(rs.Timeouts))
	}
	if st.App != nil {
		ctx, cancel := scrapeContext()
		defer cancel()
		n, oldest, err := jobs.Depth(ctx, st.App)
		if err != nil {
			s.logger.Warn("metrics: job queue", "err", err)
			return
		}
		ch <- prometheus.MustNewConstMetric(descJobsDepth, prometheus.GaugeValue, float64(n))
		ch <- prometheus.MustNewConstMetric(descJobsOldest, prometheus.GaugeValue, oldest.Seconds())
	}
}
