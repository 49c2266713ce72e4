package documents

import (
	"bytes"
	"context"
	"os"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/vanta-ledger/vanta/internal/extract"
)

// TestRekey: after Rekey under a new key (and the company's key replaced
// by it), everything of the company opens with the new key — metadata,
// extraction, text search, the original, templates, duplicate detection —
// and its sealed values no longer open with the old one. The other
// company is untouched.
func TestRekey(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	x := goodReceipt()
	d := processed(t, e, e.a, "rekeymarker", x)
	if _, err := e.store.Correct(ctx, e.a, d.ID, x.Fields, tester); err != nil {
		t.Fatal(err)
	}
	queued := intake(t, e, e.a, "stillqueued")
	other := processed(t, e, e.b, "othermarker", x)
	templatesBefore, err := e.store.Templates(ctx, e.a)
	if err != nil {
		t.Fatal(err)
	}
	rawFilename := func() []byte {
		var r record
		if err := testDocDB.Client.Database(e.a.MongoDatabase()).Collection(collDocuments).FindOne(ctx, bson.D{{Key: "_id", Value: d.ID.String()}}).Decode(&r); err != nil {
			t.Fatal(err)
		}
		return r.Filename
	}
	before := rawFilename()

	oldKey, err := e.store.Keys.DataKey(ctx, e.a)
	if err != nil {
		t.Fatal(err)
	}
	defer oldKey.Destroy()
	wrapped, err := e.kr.NewDataKey(e.a.Company().String())
	if err != nil {
		t.Fatal(err)
	}
	newKey, err := e.kr.DataKey(e.a.Company().String(), wrapped)
	if err != nil {
		t.Fatal(err)
	}
	defer newKey.Destroy()
	st, err := e.store.Rekey(ctx, e.a, oldKey, newKey)
	if err != nil {
		t.Fatal(err)
	}
	if st.Documents != 2 || st.Files != 2 || st.Texts != 1 || st.Extractions < 2 || st.Corrections != 1 || st.Templates != len(templatesBefore) {
		t.Errorf("rekey stats %+v (templates before %d)", st, len(templatesBefore))
	}
	if _, err := e.db.Super.Exec(ctx, "UPDATE vanta.companies SET dek = $2 WHERE id = $1", e.a.Company(), wrapped); err != nil {
		t.Fatal(err)
	}

	after := rawFilename()
	if _, err := oldKey.Open(purposeFilename, d.ID.String(), after); err == nil {
		t.Error("the old key opens the re-keyed filename")
	}
	if bytes.Equal(before, after) {
		t.Error("the filename's ciphertext did not change")
	}
	got := get(t, e, e.a, d.ID)
	if got.Filename != "rekeymarker.pdf" || got.Extraction == nil || got.Extraction.Fields.Total != x.Fields.Total {
		t.Errorf("document after rekey: %+v", got)
	}
	list, _, err := e.store.List(ctx, e.a, Filter{Q: "rekeymarker"})
	if err != nil || len(list) != 1 || list[0].ID != d.ID {
		t.Errorf("search after rekey: %v, %d found", err, len(list))
	}
	path, kind, err := e.store.Open(ctx, e.a, d.ID, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	content, _ := os.ReadFile(path)
	if kind != extract.KindPDF || !bytes.Equal(content, pdfLike(3000, "rekeymarker")) {
		t.Errorf("original after rekey: %s, %d bytes", kind, len(content))
	}
	if tpl, err := e.store.Templates(ctx, e.a); err != nil || len(tpl) != len(templatesBefore) {
		t.Errorf("templates after rekey: %v, %d", err, len(tpl))
	}
	again, err := e.store.Intake(ctx, e.a, bytes.NewReader(pdfLike(3000, "rekeymarker")), "again.pdf", tester)
	if err != nil || !again.Duplicate || again.ID != d.ID {
		t.Errorf("the same content after rekey: %v, duplicate %v", err, again.Duplicate)
	}
	if g := get(t, e, e.b, other.ID); g.Filename != "othermarker.pdf" {
		t.Errorf("the other company's document: %+v", g)
	}

	n, err := e.store.InterruptUnfinished(ctx, e.a, "moved")
	if err != nil || n != 1 {
		t.Errorf("interrupt unfinished: %d, %v", n, err)
	}
	if q := get(t, e, e.a, queued.ID); q.Status != StatusFailed || q.Error != "moved" {
		t.Errorf("an unfinished document after the interruption: %s %q", q.Status, q.Error)
	}
}
