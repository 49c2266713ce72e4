package main

import (
	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/metrics"
	"github.com/vanta-ledger/vanta/internal/quota"
)

// newMetrics is the appliance's metrics registry over its supervisor,
// stores and seal: the API serves it at /metrics and feeds it every
// request; its AlertSource is the alert evaluator's live series.
func newMetrics(cfg appliance.Config, a *appliance.Appliance) *metrics.Registry {
	q := cfg.QuotaConfig
	return metrics.NewRegistry(metrics.Options{
		Services: a.Supervisor().Status,
		// The backup directory (VANTA_BACKUP_DIR): the filesystem of its
		// nearest existing parent until it is made.
		Disks:     []string{cfg.DataDir, cfg.BackupDir},
		Stores:    a.Stores,
		Sealed:    a.Seal().Sealed,
		Companies: metrics.StoresCompanyReader{Stores: a.Stores, Limits: quota.Limits{AIPerHour: q.QuotaAIPerHour, StorageBytes: q.QuotaStorageBytes}},
		Logger:    a.Logger(),
	})
}
