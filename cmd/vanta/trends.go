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

// trendsServices wires the metric history: a recorder of src (the live
// series, internal/metrics' AlertSource) every minute, on the appliance's
// background runner (nil src: none), and the advisor whose AlertSource
// the alert evaluator reads. Both reach the databases through the
// appliance once it has opened them.
func trendsServices(cfg appliance.Config, a *appliance.Appliance, src alerts.Source) *trends.Advisor {
	open := func(context.Context) (*pgxpool.Pool, error) {
		st := a.Stores()
		if st == nil {
			return nil, errStoresClosed
		}
		return st.App, nil
	}
	if src != nil {
		a.Background().Add(trends.NewRecorder(src, open, a.Logger()))
	}
	storage := trends.StorageFunc(func(ctx context.Context) (map[uuid.UUID]int64, int64, error) {
		st := a.Stores()
		if st == nil {
			return nil, 0, errStoresClosed
		}
		return trends.CompanyStorage(ctx, tenancy.Companies{DB: st.App},
			quota.Quotas{Redis: st.Redis, Limits: quota.Limits{StorageBytes: cfg.QuotaConfig.QuotaStorageBytes}})
	})
	return trends.NewAdvisor(open, storage)
}
