package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/auth"
	"github.com/vanta-ledger/vanta/internal/quota"
	"github.com/vanta-ledger/vanta/internal/seal"
)

// systemOverview is GOD's view of the appliance in one answer: the
// console's overview made two requests per company before, which used up
// GOD's requests a minute on an appliance with many companies.
type systemOverview struct {
	Seal      seal.Status              `json:"seal"`
	Services  appliance.ServicesReport `json:"services"`
	Quotas    allowances               `json:"quotas"`
	Companies []companyOverview        `json:"companies"`
}

// allowances are the limits in force, the same for every company.
type allowances struct {
	RequestsPerMinute quotaRate `json:"requests_per_minute"`
	AIRequestsPerHour int       `json:"ai_requests_per_hour"`
	StorageBytes      int64     `json:"storage_bytes"` // per company
}

// companyOverview is one live company: its people and what it stores.
type companyOverview struct {
	ID           uuid.UUID  `json:"company_id"`
	Name         string     `json:"company_name"`
	TaxID        string     `json:"tax_id"`
	Status       string     `json:"status"`
	Members      int        `json:"members"`
	StorageBytes storageUse `json:"storage_bytes"`
}

// getSystemOverview answers with two SQL queries (the companies, their
// member counts) and one Redis round trip (their storage counters),
// however many companies there are.
func (s *server) getSystemOverview(c *gin.Context) error {
	ctx := c.Request.Context()
	d, err := s.domain()
	if err != nil {
		return err
	}
	cos, err := d.companies.Live(ctx)
	if err != nil {
		return err
	}
	ids := make([]uuid.UUID, len(cos))
	for i, co := range cos {
		ids[i] = co.ID
	}
	members, err := auth.MemberCounts(ctx, d.stores.App, ids)
	if err != nil {
		return err
	}
	q := quota.Quotas{Redis: d.stores.Redis, Limits: s.Quotas.Company}
	stored, err := q.StorageUsedEach(ctx, ids)
	if err != nil {
		return err
	}
	out := systemOverview{
		Seal:     s.Seal.Status(),
		Services: s.Appliance.Services(),
		Quotas: allowances{
			RequestsPerMinute: quotaRate{PerUser: s.Quotas.UserPerMinute, PerCompany: s.Quotas.CompanyPerMinute},
			AIRequestsPerHour: q.AILimit(),
			StorageBytes:      q.StorageLimit(),
		},
		Companies: make([]companyOverview, len(cos)),
	}
	for i, co := range cos {
		out.Companies[i] = companyOverview{ID: co.ID, Name: co.Name, TaxID: co.TaxID, Status: co.Status, Members: members[co.ID],
			StorageBytes: storageUse{Used: stored[co.ID], Limit: q.StorageLimit()}}
	}
	c.JSON(http.StatusOK, out)
	return nil
}
