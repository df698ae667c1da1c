package storetest

import (
	"context"
	"testing"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

// testAuthCaches checks store.AuthCaches: the last ClearCache answer, the
// last accepted one, the enabled flag, that an older record changes
// nothing, ENOTFOUND, and that deleting the station removes the record.
func testAuthCaches(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "CP1", "CP2")
	a, err := s.GetAuthCache(ctx, "CP1")
	if err != nil || a.ChargePointID != "CP1" || a.LastClearStatus != "" || !a.LastClearAt.IsZero() || !a.ClearedAt.IsZero() || a.Enabled != nil {
		t.Fatalf("GetAuthCache before any = %+v, %v", a, err)
	}
	if err := s.RecordCacheClear(ctx, "CP1", "Accepted", at(10)); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordCacheClear(ctx, "CP1", "Rejected", at(20)); err != nil {
		t.Fatal(err)
	}
	// A late answer, older than the stored one, changes nothing.
	if err := s.RecordCacheClear(ctx, "CP1", "Accepted", at(5)); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordCacheEnabled(ctx, "CP1", false, at(30)); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordCacheEnabled(ctx, "CP1", true, at(25)); err != nil {
		t.Fatal(err)
	}
	a, err = s.GetAuthCache(ctx, "CP1")
	if err != nil || a.LastClearStatus != "Rejected" || a.Enabled == nil || *a.Enabled {
		t.Fatalf("GetAuthCache = %+v, %v", a, err)
	}
	checkTime(t, "LastClearAt", a.LastClearAt, at(20))
	checkTime(t, "ClearedAt", a.ClearedAt, at(10))
	checkTime(t, "EnabledAt", a.EnabledAt, at(30))
	if a.LastClearAt.Location().String() != "UTC" {
		t.Errorf("LastClearAt not UTC: %v", a.LastClearAt)
	}
	if err := s.RecordCacheClear(ctx, "CP1", "Accepted", at(40)); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordCacheEnabled(ctx, "CP1", true, at(40)); err != nil {
		t.Fatal(err)
	}
	a, _ = s.GetAuthCache(ctx, "CP1")
	if a.LastClearStatus != "Accepted" || a.Enabled == nil || !*a.Enabled {
		t.Fatalf("GetAuthCache after a newer clear = %+v", a)
	}
	checkTime(t, "ClearedAt", a.ClearedAt, at(40))
	// Only the enabled flag known.
	if err := s.RecordCacheEnabled(ctx, "CP2", true, at(1)); err != nil {
		t.Fatal(err)
	}
	if a, err := s.GetAuthCache(ctx, "CP2"); err != nil || a.LastClearStatus != "" || !a.ClearedAt.IsZero() || a.Enabled == nil || !*a.Enabled {
		t.Fatalf("GetAuthCache CP2 = %+v, %v", a, err)
	}

	wantCode(t, s.RecordCacheClear(ctx, "NOPE", "Accepted", at(1)), ocppd.ENOTFOUND)
	wantCode(t, s.RecordCacheEnabled(ctx, "NOPE", true, at(1)), ocppd.ENOTFOUND)
	_, err = s.GetAuthCache(ctx, "NOPE")
	wantCode(t, err, ocppd.ENOTFOUND)

	if err := s.DeleteChargePoint(ctx, "CP1"); err != nil {
		t.Fatal(err)
	}
	add(t, s, "CP1")
	if a, err := s.GetAuthCache(ctx, "CP1"); err != nil || a.LastClearStatus != "" || a.Enabled != nil {
		t.Fatalf("GetAuthCache after delete and re-add = %+v, %v", a, err)
	}
}
