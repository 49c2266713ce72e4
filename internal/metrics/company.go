package metrics

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/documents"
	"github.com/vanta-ledger/vanta/internal/ledger"
	"github.com/vanta-ledger/vanta/internal/quota"
	"github.com/vanta-ledger/vanta/internal/tenancy"
)

var (
	descCoUsers     = desc("company_users_active", "Distinct members who made an API request in the company in the last 15 minutes (this replica).", "company")
	descCoEntries   = desc("company_entries_posted_total", "Journal entries the company has posted.", "company")
	descCoDocuments = desc("company_documents", "The company's documents by pipeline status.", "company", "status")
	descCoStorage   = desc("company_storage_used_bytes", "Bytes of documents the company stores, as its storage quota counts them.", "company")
	descCoAI        = desc("company_ai_requests_last_hour", "AI requests the company's hourly allowance counted in the last hour.", "company")
	descCoAge       = desc("company_figures_age_seconds", "Age of the per-company figures served (they are cached between scrapes).")
)

// CompanyFigures are one company's figures of the console's company
// dashboard.
type CompanyFigures struct {
	ID             uuid.UUID
	EntriesPosted  int64                      // -1: not read (a suspended company)
	Documents      map[documents.Status]int64 // nil: not read
	StorageBytes   int64
	AIRequestsHour int
}

// CompanyReader reads every live company's figures.
type CompanyReader interface {
	ReadCompanies(ctx context.Context) ([]CompanyFigures, error)
}

// StoresCompanyReader reads the figures from the appliance's stores: the
// companies table, each company's ledger settings and documents
// collection (through an operator scope), and the quota counters in
// Redis. Its cost grows with the number of companies, hence the cache.
type StoresCompanyReader struct {
	Stores func() *appliance.Stores
	Limits quota.Limits
}

// ReadCompanies implements CompanyReader.
func (c StoresCompanyReader) ReadCompanies(ctx context.Context) ([]CompanyFigures, error) {
	st := c.Stores()
	if st == nil {
		return nil, nil
	}
	cos, err := tenancy.Companies{DB: st.App}.Live(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, len(cos))
	for i, co := range cos {
		ids[i] = co.ID
	}
	q := quota.Quotas{Redis: st.Redis, Limits: c.Limits}
	stored, err := q.StorageUsedEach(ctx, ids)
	if err != nil {
		return nil, err
	}
	ai, err := q.AIUsedEach(ctx, ids)
	if err != nil {
		return nil, err
	}
	books := ledger.Store{DB: st.App}
	docs := documents.Store{Mongo: st.Mongo}
	out := make([]CompanyFigures, 0, len(cos))
	for _, id := range ids {
		f := CompanyFigures{ID: id, EntriesPosted: -1, StorageBytes: stored[id], AIRequestsHour: ai[id]}
		sc, err := tenancy.OperatorScope(ctx, st.App, id)
		switch {
		case errors.Is(err, tenancy.ErrCompanyNotFound):
			// Suspended: its quotas are known, its books are not read.
		case err != nil:
			return nil, fmt.Errorf("company %s: %w", id, err)
		default:
			if f.EntriesPosted, err = books.PostedCount(ctx, sc); err != nil {
				return nil, fmt.Errorf("company %s: %w", id, err)
			}
			if f.Documents, err = docs.CountByStatus(ctx, sc); err != nil {
				return nil, fmt.Errorf("company %s: %w", id, err)
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// companyCollector serves the per-company figures, read at most once per
// CompanyTTL, and only while the appliance is unsealed: sealed, the
// company families are absent.
type companyCollector struct {
	r *Registry

	mu     sync.Mutex
	at     time.Time
	cached []CompanyFigures
}

func (c *companyCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCoUsers, descCoEntries, descCoDocuments, descCoStorage, descCoAI, descCoAge} {
		ch <- d
	}
}

// figures returns the cached figures, reading them again when older than
// the TTL; the read holds the lock, so concurrent scrapes read once.
func (c *companyCollector) figures(now time.Time) ([]CompanyFigures, time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cached != nil && now.Sub(c.at) < c.r.opts.CompanyTTL {
		return c.cached, c.at, nil
	}
	ctx, cancel := scrapeContext()
	defer cancel()
	figs, err := c.r.opts.Companies.ReadCompanies(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	if figs == nil {
		figs = []CompanyFigures{}
	}
	c.cached, c.at = figs, now
	return figs, now, nil
}

func (c *companyCollector) Collect(ch chan<- prometheus.Metric) {
	o := c.r.opts
	if o.Companies == nil || o.Sealed == nil || o.Sealed() {
		return
	}
	now := o.Now()
	figs, at, err := c.figures(now)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descCoAge, fmt.Errorf("per-company figures: %w", err))
		return
	}
	_, active := c.r.users.counts(now)
	ch <- prometheus.MustNewConstMetric(descCoAge, prometheus.GaugeValue, now.Sub(at).Seconds())
	for _, f := range figs {
		id := f.ID.String()
		ch <- prometheus.MustNewConstMetric(descCoUsers, prometheus.GaugeValue, float64(active[f.ID]), id)
		ch <- prometheus.MustNewConstMetric(descCoStorage, prometheus.GaugeValue, float64(f.StorageBytes), id)
		ch <- prometheus.MustNewConstMetric(descCoAI, prometheus.GaugeValue, float64(f.AIRequestsHour), id)
		if f.EntriesPosted >= 0 {
			ch <- prometheus.MustNewConstMetric(descCoEntries, prometheus.CounterValue, float64(f.EntriesPosted), id)
		}
		for _, st := range documents.Statuses {
			if f.Documents != nil {
				ch <- prometheus.MustNewConstMetric(descCoDocuments, prometheus.GaugeValue, float64(f.Documents[st]), id, string(st))
			}
		}
	}
}
