package main

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/alerts"
	"github.com/vanta-ledger/vanta/internal/quota"
	"github.com/vanta-ledger/vanta/internal/tenancy"
	"github.com/vanta-ledger/vanta/internal/trends"
)

// errStoresClosed: the databases are not open (yet, or any more).
var errStoresClosed = errors.New("the appliance's databases are not open")

// trendsDB reaches the appliance's database as the runtime role once it
// has opened it.
func trendsDB(a *appliance.Appliance) trends.Opener {
	return func(context.Context) (*pgxpool.Pool, error) {
		st := a.Stores()
		if st == nil {
			return nil, errStoresClosed
		}
		return st.App, nil
	}
}

// trendsRecorder is the background service that records src (the live
// series: internal/metrics' AlertSource) into the metric history every
// minute. Add it once to a runner; it needs no keys, so the runner that
// runs sealed or not suits it best.
func trendsRecorder(a *appliance.Appliance, src alerts.Source) *trends.Recorder {
	return trends.NewRecorder(src, trendsDB(a), a.Logger())
}

// trendsAdvisor is the advice over the metric history and the companies'
// storage; its AlertSource is one of the evaluator's sources. It holds
// no state: making one per evaluator is fine.
func trendsAdvisor(cfg appliance.Config, a *appliance.Appliance) *trends.Advisor {
	storage := trends.StorageFunc(func(ctx context.Context) (map[uuid.UUID]int64, int64, error) {
		st := a.Stores()
		if st == nil {
			return nil, 0, errStoresClosed
		}
		return trends.CompanyStorage(ctx, tenancy.Companies{DB: st.App},
			quota.Quotas{Redis: st.Redis, Limits: quota.Limits{StorageBytes: cfg.QuotaConfig.QuotaStorageBytes}})
	})
	return trends.NewAdvisor(trendsDB(a), storage)
}
