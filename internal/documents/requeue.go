package documents

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// Requeue puts a failed document back to queued, its error cleared and
// its finished stages kept (the pipeline resumes at the first unfinished
// one); the caller enqueues its job again. Only a failed document can be
// retried (*StateError).
func (s Store) Requeue(ctx context.Context, sc tenancy.Scope, id uuid.UUID) (Document, error) {
	db, err := s.db(sc)
	if err != nil {
		return Document{}, err
	}
	res, err := db.Collection(collDocuments).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id.String()}, {Key: "status", Value: string(StatusFailed)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: string(StatusQueued)}, {Key: "error", Value: ""}, {Key: "updated_at", Value: now()}}}})
	if err != nil {
		return Document{}, fmt.Errorf("retry document %s: %w", id, err)
	}
	if res.MatchedCount == 0 {
		r, err := s.load(ctx, db, id)
		if err != nil {
			return Document{}, err
		}
		return Document{}, &StateError{Status: Status(r.Status), Action: "retry"}
	}
	return s.Get(ctx, sc, id)
}
