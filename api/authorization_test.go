package api

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestStationAuthorization: GET /authorization shows the local list
// version and the cache record the store keeps; 404 for an unknown
// station.
func TestStationAuthorization(t *testing.T) {
	e := newEnv(t)
	e.addCP("CP1")
	ctx := context.Background()
	path := "/api/v1/chargepoints/CP1/authorization"
	r := e.do("GET", path, e.readOnly, nil)
	want(t, r, http.StatusOK)
	if string(r.body) != `{"chargePointId":"CP1","localListVersion":0,"cache":{"chargePointId":"CP1"}}`+"\n" {
		t.Fatalf("empty: %q", r.body)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := e.store.SetLocalListVersion(ctx, "CP1", 12, at); err != nil {
		t.Fatal(err)
	}
	if err := e.store.RecordCacheClear(ctx, "CP1", "Accepted", at); err != nil {
		t.Fatal(err)
	}
	if err := e.store.RecordCacheEnabled(ctx, "CP1", true, at); err != nil {
		t.Fatal(err)
	}
	r = e.do("GET", path, e.readOnly, nil)
	want(t, r, http.StatusOK)
	var got struct {
		LocalListVersion int `json:"localListVersion"`
		Cache            struct {
			LastClearStatus string    `json:"lastClearStatus"`
			ClearedAt       time.Time `json:"clearedAt"`
			Enabled         *bool     `json:"enabled"`
		} `json:"cache"`
	}
	r.decode(t, &got)
	if got.LocalListVersion != 12 || got.Cache.LastClearStatus != "Accepted" || !got.Cache.ClearedAt.Equal(at) ||
		got.Cache.Enabled == nil || !*got.Cache.Enabled {
		t.Fatalf("authorization %s", r.body)
	}
	want(t, e.do("GET", "/api/v1/chargepoints/NOPE/authorization", e.admin, nil), http.StatusNotFound)
}
