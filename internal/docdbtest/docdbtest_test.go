package docdbtest

import (
	"context"
	"fmt"
	"os"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

var srv *Server

func TestMain(m *testing.M) {
	var err error
	if srv, err = Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	srv.Stop()
	os.Exit(code)
}

// Each test's database is its own: what one writes the other does not see.
func TestDatabasesAreSeparate(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"first", "second"} {
		t.Run(name, func(t *testing.T) {
			db := srv.Database(t)
			if err := Collections(ctx, db, "things", "things"); err != nil {
				t.Fatal(err)
			}
			if n := Count(t, db, "things", bson.D{}); n != 0 {
				t.Fatalf("a new database holds %d documents", n)
			}
			if _, err := db.Collection("things").InsertOne(ctx, bson.D{{Key: "name", Value: name}}); err != nil {
				t.Fatal(err)
			}
			if n := Count(t, db, "things", bson.D{{Key: "name", Value: name}}); n != 1 {
				t.Fatalf("found %d, want 1", n)
			}
		})
	}
}
