package ledger

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
)

// A draft from another record (a document) keeps that record's id through
// the draft, its approval and a read; and the role accounts other domains
// post to are found by role.
func TestStoreSourceIDAndAccountByRole(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	st := Store{DB: e.app}
	doc := uuid.New()
	draft, _, err := st.Post(ctx, e.a, TextEntry{Date: "2026-04-01", Source: SourceDocument, SourceID: doc, Status: StatusDraft,
		Lines: []TextLine{{Account: "6000", Debit: "10.00"}, {Account: "1100", Credit: "10.00"}}}, tester)
	if err != nil {
		t.Fatal(err)
	}
	posted, err := st.Approve(ctx, e.a, draft.ID, tester)
	if err != nil {
		t.Fatal(err)
	}
	if draft.SourceID != doc || posted.SourceID != doc || posted.Source != SourceDocument || posted.Status != StatusPosted {
		t.Fatalf("draft %v, posted %v %s %s; want source id %v", draft.SourceID, posted.SourceID, posted.Source, posted.Status, doc)
	}
	for _, c := range []struct{ role, code string }{{RoleExpenses, "6000"}, {RoleVATInput, "1300"}, {RoleBank, "1100"}, {RoleAP, "2100"}} {
		a, err := st.AccountByRole(ctx, e.a, c.role)
		if err != nil || a.Code != c.code {
			t.Errorf("role %s: %s, %v; want %s", c.role, a.Code, err, c.code)
		}
	}
	if _, err := st.AccountByRole(ctx, e.a, "no_such_role"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown role: %v, want ErrNotFound", err)
	}
}
