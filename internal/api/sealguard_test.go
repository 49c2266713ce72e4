package api

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/vanta-ledger/vanta/internal/seal"
)

// TestGODRoutesFailClosedWhenTheDatabaseCannotSay (hole 4): on an
// initialized appliance whose database cannot say whether a GOD exists (a
// fresh process, PostgreSQL not open), the GOD-only routes answer 503
// unavailable with Retry-After; before init they stay open (first boot),
// and the custodians' routes are open either way.
func TestGODRoutesFailClosedWhenTheDatabaseCannotSay(t *testing.T) {
	fresh, err := seal.Open(seal.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fresh.Close)
	initialized, err := seal.Open(seal.Options{Dir: t.TempDir(),
		Provider: seal.SoftwareProvider{Params: seal.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(initialized.Close)
	res, err := initialized.Init(context.Background(), seal.InitRequest{Shares: 2, Threshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range res.Shares {
		if _, err := initialized.Confirm(context.Background(), sh.Share); err != nil {
			t.Fatal(err)
		}
	}
	call := func(s *seal.Service, method, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		NewRouter(Deps{Appliance: stubAppliance{}, Seal: s}).ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec
	}
	if rec := call(fresh, "GET", "/api/v1/sys/services"); rec.Code != 200 {
		t.Errorf("services before init: %d %s", rec.Code, rec.Body)
	}
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/v1/sys/services"}, {"POST", "/api/v1/sys/seal"}, {"POST", "/api/v1/sys/rotate"},
		{"POST", "/api/v1/sys/rekey/cancel"}, {"POST", "/api/v1/sys/rekey/init"},
	} {
		rec := call(initialized, r.method, r.path)
		if r.path == "/api/v1/sys/rekey/init" {
			// No body: refused for that before anything else; what matters
			// is that nothing opens.
			if rec.Code < 400 {
				t.Errorf("%s %s: %d", r.method, r.path, rec.Code)
			}
			continue
		}
		if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
			t.Errorf("%s %s with the database unable to say: %d %s", r.method, r.path, rec.Code, rec.Body)
		}
	}
	if initialized.Sealed() {
		t.Error("an anonymous /sys/seal sealed the appliance")
	}
	if rec := call(initialized, "GET", "/api/v1/sys/seal-status"); rec.Code != 200 {
		t.Errorf("seal-status: %d", rec.Code)
	}
}
