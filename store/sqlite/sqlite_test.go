package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ocppd/ocppd/store"
	"github.com/ocppd/ocppd/store/storetest"
)

// openTemp opens a DB on a new file in a temporary directory and closes it
// when the test ends.
func openTemp(t testing.TB) *DB {
	t.Helper()
	db := New(Options{Path: filepath.Join(t.TempDir(), "data", "ocppd.db")})
	if err := db.Open(context.Background()); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}
