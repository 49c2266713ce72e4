package documents

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/vanta-ledger/vanta/internal/tenancy"
)

// CountByStatus is how many documents the company has in each status
// (every status of Statuses is present, 0 when none). It reads no
// document's content and needs no key: the appliance's metrics call it.
func (s Store) CountByStatus(ctx context.Context, sc tenancy.Scope) (map[Status]int64, error) {
	db, err := s.db(sc)
	if err != nil {
		return nil, err
	}
	cur, err := db.Collection(collDocuments).Aggregate(ctx, bson.A{
		bson.D{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$status"}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}},
	})
	if err != nil {
		return nil, fmt.Errorf("count documents: %w", err)
	}
	var rows []struct {
		ID string `bson:"_id"`
		N  int64  `bson:"n"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("count documents: %w", err)
	}
	out := make(map[Status]int64, len(Statuses))
	for _, st := range Statuses {
		out[st] = 0
	}
	for _, r := range rows {
		if validStatus(Status(r.ID)) { // only the known statuses: labels stay bounded
			out[Status(r.ID)] = r.N
		}
	}
	return out, nil
}
