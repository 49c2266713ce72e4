package api

import "testing"

// TestCompanyRoutesAreGated: every route the router serves under
// /api/v1/companies/:cid goes through the company gate with an action of
// the role matrix, and every route of the table is served. A handler
// registered there some other way would reach company data without the
// membership check; the isolation suite (cmd/vanta) would catch it too,
// after minutes, since it reads the same list.
func TestCompanyRoutesAreGated(t *testing.T) {
	routes := CompanyRoutes()
	table := (&server{}).companyRoutes()
	if len(routes) != len(table) {
		t.Errorf("the router serves %d company routes, the gated table has %d", len(routes), len(table))
	}
	for _, r := range routes {
		if r.Action == "" {
			t.Errorf("%s %s%s is served without the company gate: add it to companyRoutes", r.Method, companyPrefix, r.Path)
		}
	}
	if len(routes) < 15 {
		t.Errorf("found only %d company routes: %v", len(routes), routes)
	}
}
