package documents

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestSealedRecordsNeedTheCompanyKey: a document's OCR text (analyses)
// and its extraction are stored sealed: the plaintext is not in the
// stored records, the company's own key opens them, another company's
// key does not, and the other company's scope does not even find them.
func TestSealedRecordsNeedTheCompanyKey(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	const marker = "doc-keys"
	text := &fakeText{texts: map[string]string{marker: "CASH SALE RECEIPT Mandazi Corner total 116.00 thanks"}}
	p := Pipeline{Store: e.store, Text: text.read, Extractor: &fakeExtractor{x: goodReceipt()}, Temp: t.TempDir()}
	d := intake(t, e, e.a, marker)
	if err := p.Process(ctx, e.a, d.ID); err != nil {
		t.Fatal(err)
	}
	keyA, err := e.store.Keys.DataKey(ctx, e.a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(keyA.Destroy)
	keyB, err := e.store.Keys.DataKey(ctx, e.b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(keyB.Destroy)

	db := testDocDB.Client.Database(e.a.MongoDatabase())
	var a analysisRecord
	if err := db.Collection(collAnalyses).FindOne(ctx, bson.D{{Key: "_id", Value: d.ID.String()}}).Decode(&a); err != nil {
		t.Fatal(err)
	}
	xid := extractionID(d.ID, 1)
	var x extractionRecord
	if err := db.Collection(collExtractions).FindOne(ctx, bson.D{{Key: "_id", Value: xid}}).Decode(&x); err != nil {
		t.Fatal(err)
	}
	vendor := []byte(goodReceipt().Fields.VendorName)
	for _, c := range []struct {
		name, purpose, record string
		sealed, plain         []byte
	}{
		{"OCR text", purposeText, a.ID, a.Sealed, []byte("Mandazi")},
		{"extraction", purposeExtraction, xid, x.Sealed, vendor},
	} {
		t.Run(c.name, func(t *testing.T) {
			if len(c.plain) == 0 || bytes.Contains(c.sealed, c.plain) {
				t.Fatalf("the stored record holds %q in the clear", c.plain)
			}
			got, err := keyA.Open(c.purpose, c.record, c.sealed)
			if err != nil || !bytes.Contains(got, c.plain) {
				t.Fatalf("company A's key: %v, %d bytes", err, len(got))
			}
			if _, err := keyB.Open(c.purpose, c.record, c.sealed); err == nil {
				t.Fatal("company B's key opened company A's record")
			}
		})
	}
	if _, err := e.store.Get(ctx, e.b, d.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("company B's scope: %v, want ErrNotFound", err)
	}
}
