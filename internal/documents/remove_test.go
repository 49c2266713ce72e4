package documents

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/vanta-ledger/vanta/internal/docdbtest"
)

// Remove takes everything of the document and nothing else: its file,
// record and hash claim, and its bytes from the quota; the same content
// is then a new document. Another company's id is not found, and an
// approved document stays.
func TestRemove(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	content := pdfLike(chunkSize+9, "to be removed")
	kept, err := e.store.Intake(ctx, e.a, bytes.NewReader(pdfLike(100, "kept")), "kept.pdf", tester)
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.store.Intake(ctx, e.a, bytes.NewReader(content), "gone.pdf", tester)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Remove(ctx, e.b, d.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("B removes A's document: %v, want ErrNotFound", err)
	}
	if _, err := e.store.Remove(ctx, e.a, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Get(ctx, e.a, d.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Remove: %v", err)
	}
	if _, err := os.Stat(storedPath(e, e.a, d.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the encrypted original is still there: %v", err)
	}
	if _, err := os.Stat(storedPath(e, e.a, kept.ID)); err != nil {
		t.Fatalf("the other document's file: %v", err)
	}
	dbA := testDocDB.Client.Database(e.a.MongoDatabase())
	if n := docdbtest.Count(t, dbA, collHashes, bson.D{{Key: "document_id", Value: d.ID.String()}}); n != 0 {
		t.Fatalf("%d hash claims left", n)
	}
	if used, _ := e.quotas.StorageUsed(ctx, e.a); used != 100 {
		t.Fatalf("storage used %d after removing, want the kept document's 100", used)
	}
	again, err := e.store.Intake(ctx, e.a, bytes.NewReader(content), "again.pdf", tester)
	if err != nil || again.Duplicate || again.ID == d.ID {
		t.Fatalf("the same content after Remove = %+v, %v; want a new document", again, err)
	}
	if _, err := e.store.Remove(ctx, e.a, uuid.New()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Remove of nothing: %v", err)
	}
	if _, err := dbA.Collection(collDocuments).UpdateOne(ctx, bson.D{{Key: "_id", Value: kept.ID.String()}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: string(StatusApproved)}}}}); err != nil {
		t.Fatal(err)
	}
	var se *StateError
	if _, err := e.store.Remove(ctx, e.a, kept.ID); !errors.As(err, &se) || se.Status != StatusApproved {
		t.Fatalf("Remove of an approved document: %v", err)
	}
}

// Requeue takes a failed document back to queued, and only a failed one.
func TestRequeue(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	d, err := e.store.Intake(ctx, e.a, bytes.NewReader(pdfLike(200, "requeue")), "r.pdf", tester)
	if err != nil {
		t.Fatal(err)
	}
	var se *StateError
	if _, err := e.store.Requeue(ctx, e.a, d.ID); !errors.As(err, &se) || se.Status != StatusQueued {
		t.Fatalf("Requeue of a queued document: %v", err)
	}
	if err := e.store.Fail(ctx, e.a, d.ID, "corrupt PDF: no pages"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Requeue(ctx, e.b, d.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("B requeues A's document: %v", err)
	}
	got, err := e.store.Requeue(ctx, e.a, d.ID)
	if err != nil || got.Status != StatusQueued || got.Error != "" || got.JobID != d.JobID {
		t.Fatalf("Requeue = %+v, %v", got, err)
	}
}
