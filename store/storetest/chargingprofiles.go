package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

// testChargingProfiles checks store.ChargingProfiles: replacement by id
// and by EVSE+purpose+stack level, clearing by id or criteria, the order,
// JSON kept as a value, ENOTFOUND and the cascade on station delete.
func testChargingProfiles(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "CP1")
	sched := json.RawMessage(`{"chargingRateUnit":"W","chargingSchedulePeriod":[{"startPeriod":0,"limit":7400}]}`)
	put := func(id, evse, level int, purpose string) {
		t.Helper()
		err := s.PutChargingProfile(ctx, store.ChargingProfile{ChargePointID: "CP1", ProfileID: id, EVSE: evse, StackLevel: level,
			Purpose: purpose, Kind: "Absolute", Schedule: sched, Profile: json.RawMessage(fmt.Sprintf(`{"id":%d}`, id)), UpdatedAt: at(id)})
		if err != nil {
			t.Fatal(err)
		}
	}
	list := func() (out []string) {
		t.Helper()
		ps, err := s.ListChargingProfiles(ctx, "CP1")
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			out = append(out, fmt.Sprintf("%d:%d:%s:%d", p.ProfileID, p.EVSE, p.Purpose, p.StackLevel))
		}
		return out
	}
	if l := list(); len(l) != 0 {
		t.Fatalf("empty: %v", l)
	}
	put(1, 0, 0, "ChargePointMaxProfile")
	put(2, 1, 1, "TxDefaultProfile")
	put(3, 2, 1, "TxDefaultProfile")
	put(4, 1, 2, "TxDefaultProfile")
	if l := fmt.Sprint(list()); l != "[1:0:ChargePointMaxProfile:0 2:1:TxDefaultProfile:1 4:1:TxDefaultProfile:2 3:2:TxDefaultProfile:1]" {
		t.Fatalf("list = %s", l)
	}
	ps, _ := s.ListChargingProfiles(ctx, "CP1")
	p := ps[0]
	if p.Kind != "Absolute" || p.Source != "CSO" || !jsonSame(p.Schedule, sched) || !jsonSame(p.Profile, json.RawMessage(`{"id":1}`)) {
		t.Fatalf("profile = %+v", p)
	}
	checkTime(t, "UpdatedAt", p.UpdatedAt, at(1))
	// Same EVSE, purpose and stack level: replaces 2. Same id: replaces 3.
	put(5, 1, 1, "TxDefaultProfile")
	put(3, 0, 7, "TxDefaultProfile")
	if l := fmt.Sprint(list()); l != "[1:0:ChargePointMaxProfile:0 3:0:TxDefaultProfile:7 5:1:TxDefaultProfile:1 4:1:TxDefaultProfile:2]" {
		t.Fatalf("after replacing = %s", l)
	}
	if err := s.PutChargingProfile(ctx, store.ChargingProfile{ChargePointID: "CP1", ProfileID: 9, EVSE: 2, Purpose: "TxProfile",
		TransactionID: "tx-9", Source: "EMS", Schedule: json.RawMessage(`[{"id":1}]`), Profile: json.RawMessage(`{"id":9}`)}); err != nil {
		t.Fatal(err)
	}
	ps, _ = s.ListChargingProfiles(ctx, "CP1")
	if last := ps[len(ps)-1]; last.ProfileID != 9 || last.Source != "EMS" || last.TransactionID != "tx-9" || !jsonSame(last.Schedule, json.RawMessage(`[{"id":1}]`)) {
		t.Fatalf("reported profile = %+v", last)
	}

	// Clear by id (other criteria ignored), then by criteria.
	ip := func(v int) *int { return &v }
	if n, err := s.ClearChargingProfiles(ctx, "CP1", store.ChargingProfileCriteria{ProfileID: ip(9), EVSE: ip(5)}); err != nil || n != 1 {
		t.Fatalf("clear by id = %d, %v", n, err)
	}
	if n, err := s.ClearChargingProfiles(ctx, "CP1", store.ChargingProfileCriteria{EVSE: ip(1), Purpose: "TxDefaultProfile", StackLevel: ip(2)}); err != nil || n != 1 {
		t.Fatalf("clear by criteria = %d, %v", n, err)
	}
	if n, err := s.ClearChargingProfiles(ctx, "CP1", store.ChargingProfileCriteria{Purpose: "TxDefaultProfile"}); err != nil || n != 2 {
		t.Fatalf("clear by purpose = %d, %v", n, err)
	}
	if l := fmt.Sprint(list()); l != "[1:0:ChargePointMaxProfile:0]" {
		t.Fatalf("after clearing = %s", l)
	}
	if n, err := s.ClearChargingProfiles(ctx, "CP1", store.ChargingProfileCriteria{ProfileID: ip(42)}); err != nil || n != 0 {
		t.Fatalf("clear unknown = %d, %v", n, err)
	}
	if n, err := s.ClearChargingProfiles(ctx, "CP1", store.ChargingProfileCriteria{}); err != nil || n != 1 {
		t.Fatalf("clear all = %d, %v", n, err)
	}

	wantCode(t, s.PutChargingProfile(ctx, store.ChargingProfile{ChargePointID: "NOPE", ProfileID: 1, Purpose: "TxDefaultProfile"}), ocppd.ENOTFOUND)
	_, err := s.ListChargingProfiles(ctx, "NOPE")
	wantCode(t, err, ocppd.ENOTFOUND)
	put(1, 0, 0, "ChargePointMaxProfile")
	if err := s.DeleteChargePoint(ctx, "CP1"); err != nil {
		t.Fatal(err)
	}
	add(t, s, "CP1")
	if l := list(); len(l) != 0 {
		t.Fatalf("profiles of a deleted station: %v", l)
	}
}

// jsonSame reports whether a and b are equal as JSON values.
func jsonSame(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}
