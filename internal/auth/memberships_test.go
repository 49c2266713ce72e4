package auth

import (
	"context"
	"testing"

	"github.com/google/uuid"
)

// TestMemberCounts counts each company's members in one query, as the
// runtime role: a company without members is 0, another company's
// members never count.
func TestMemberCounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b, empty := uuid.New(), uuid.New(), uuid.New()
	e.member(a, "achieng@example.co.ke", RoleUser, uuid.New())
	e.member(a, "baraka@example.co.ke", RoleViewer, uuid.New())
	e.member(a, "chege@example.co.ke", RoleManager, uuid.New())
	e.member(b, "dalia@example.co.ke", RoleUser, uuid.New())
	counts, err := MemberCounts(context.Background(), e.pool, []uuid.UUID{a, empty})
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 2 || counts[a] != 3 || counts[empty] != 0 {
		t.Errorf("MemberCounts(a, empty) = %v, want a 3, empty 0, nothing of b", counts)
	}
	if counts, err := MemberCounts(context.Background(), e.pool, nil); err != nil || len(counts) != 0 {
		t.Errorf("MemberCounts(none) = %v, %v", counts, err)
	}
}
