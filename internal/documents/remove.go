package documents

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// Remove deletes a document that was not approved: its encrypted
// original, its metadata, OCR text, extractions and training pairs, and
// its claim on its content hash (the same file may be uploaded again);
// its bytes go back to the storage quota. An approved document is linked
// to a journal entry and stays (*StateError). The caller cancels the
// document's job first, so nothing writes to it afterwards.
func (s Store) Remove(ctx context.Context, sc tenancy.Scope, id uuid.UUID) (Document, error) {
	db, err := s.db(sc)
	if err != nil {
		return Document{}, err
	}
	r, err := s.load(ctx, db, id)
	if err != nil {
		return Document{}, err
	}
	if Status(r.Status) == StatusApproved {
		return Document{}, &StateError{Status: StatusApproved, Action: "delete"}
	}
	// The metadata goes first: once it is gone the document is gone for
	// every reader, and what follows only frees space.
	res, err := db.Collection(collDocuments).DeleteOne(ctx, bson.D{{Key: "_id", Value: r.ID},
		{Key: "status", Value: bson.D{{Key: "$ne", Value: string(StatusApproved)}}}})
	if err != nil {
		return Document{}, fmt.Errorf("remove document %s: %w", id, err)
	}
	if res.DeletedCount == 0 {
		cur, err := s.load(ctx, db, id)
		if err != nil {
			return Document{}, err
		}
		return Document{}, &StateError{Status: Status(cur.Status), Action: "delete"}
	}
	var errs []error
	for _, del := range []struct {
		coll   string
		filter bson.D
	}{
		{collAnalyses, bson.D{{Key: "_id", Value: r.ID}}},
		{collExtractions, bson.D{{Key: "document_id", Value: r.ID}}},
		{collCorrections, bson.D{{Key: "document_id", Value: r.ID}}},
		{collHashes, bson.D{{Key: "_id", Value: r.ContentMAC}, {Key: "document_id", Value: r.ID}}},
	} {
		if _, err := db.Collection(del.coll).DeleteMany(ctx, del.filter); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", del.coll, err))
		}
	}
	path := filepath.Join(sc.Files(s.Files), "documents", filepath.Base(r.Category), r.ID)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	if s.Quota != nil {
		if err := s.Quota.ReleaseStorage(ctx, sc, r.Size); err != nil {
			errs = append(errs, fmt.Errorf("release storage: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Document{}, fmt.Errorf("remove document %s: %w", id, err)
	}
	return r.document(""), nil
}
