package api

import (
	"slices"
	"testing"

	"github.com/vanta-ledger/vanta/internal/auth"
)

// The console's role matrix is auth.Matrix itself: every cell the gate
// allows is listed, nothing else is, in the documented order.
func TestRoleMatrixIsTheGatesTable(t *testing.T) {
	m := roleMatrixOf()
	if len(m.Roles) != len(auth.Roles) || m.Roles[0] != "god" || m.Roles[len(m.Roles)-1] != "viewer" {
		t.Fatalf("roles %v", m.Roles)
	}
	if len(m.Actions) != len(auth.Actions) {
		t.Fatalf("%d actions, the matrix has %d", len(m.Actions), len(auth.Actions))
	}
	for i, a := range auth.Actions {
		row := m.Actions[i]
		if row.Action != string(a) {
			t.Errorf("row %d is %s, want %s", i, row.Action, a)
		}
		for _, r := range auth.Roles {
			if got, want := slices.Contains(row.Allowed, string(r)), auth.Allowed(r, a); got != want {
				t.Errorf("%s may %s: shown %v, enforced %v", r, a, got, want)
			}
		}
	}
	users := m.Actions[slices.IndexFunc(m.Actions, func(r roleMatrixAction) bool { return r.Action == string(auth.ActUsersManage) })]
	if !slices.Equal(users.Allowed, []string{"god", "admin"}) {
		t.Errorf("users.manage shown for %v", users.Allowed)
	}
}
