package api

import (
	"github.com/vanta-ledger/vanta/appliance"
	"github.com/vanta-ledger/vanta/internal/invoicing"
	"github.com/vanta-ledger/vanta/internal/reports"
	"github.com/vanta-ledger/vanta/internal/seal"
	"github.com/vanta-ledger/vanta/internal/tenancy"
	"github.com/vanta-ledger/vanta/internal/trends"
)

// domain holds the domain stores over the appliance's open databases.
// Handlers call these and hold no SQL of their own (TestNoSQLInAPI); each
// store lives in the package whose tables it reads.
type domain struct {
	stores      *appliance.Stores
	companies   tenancy.Companies
	provisioner *tenancy.Provisioner
	keys        seal.KeyTable
	invoicing   invoicing.Store
	reports     reports.Runner // the books' reports and their cache
	trends      trends.Store   // the metric history
}

// domain returns the stores, made once when the databases are open (and
// again only if the appliance reopened them). Two requests that race to
// make them make equal values; either may be kept.
func (s *server) domain() (*domain, error) {
	st := s.Appliance.Stores()
	if st == nil {
		return nil, errStarting
	}
	if d := s.dom.Load(); d != nil && d.stores == st {
		return d, nil
	}
	d := &domain{
		stores:    st,
		companies: tenancy.Companies{DB: st.App},
		// The provisioner is made once; the keyring it uses is the one
		// of the moment (a new one after each unseal), asked per call.
		provisioner: &tenancy.Provisioner{DB: st.Admin, Mongo: st.Mongo, Redis: st.Redis, FilesDir: st.Files, Keys: currentKeyring{s.Seal}, Migrator: st.Migrator},
		keys:        seal.KeyTable{DB: st.App},
		invoicing:   invoicing.Store{DB: st.App},
		reports:     reports.Runner{DB: st.App, Redis: st.Redis},
		trends:      trends.Store{DB: st.App},
	}
	s.dom.Store(d)
	return d, nil
}

// currentKeyring is the root keyring while unsealed: tenancy.Keys over
// whichever keyring the last unseal opened; sealed, every call fails with
// seal.ErrSealed.
type currentKeyring struct{ seal *seal.Service }

func (k currentKeyring) NewDataKey(owner string) ([]byte, error) {
	kr, err := k.seal.Keyring()
	if err != nil {
		return nil, err
	}
	return kr.NewDataKey(owner)
}

func (k currentKeyring) DataKey(owner string, wrapped []byte) (*seal.DataKey, error) {
	kr, err := k.seal.Keyring()
	if err != nil {
		return nil, err
	}
	return kr.DataKey(owner, wrapped)
}
