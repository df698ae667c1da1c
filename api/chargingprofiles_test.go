package api

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/ocppd/ocppd/store"
)

// TestChargingProfiles: GET /chargingprofiles lists the profiles the store
// keeps; 404 for an unknown station.
func TestChargingProfiles(t *testing.T) {
	e := newEnv(t)
	e.addCP("CP1")
	path := "/api/v1/chargepoints/CP1/chargingprofiles"
	r := e.do("GET", path, e.readOnly, nil)
	want(t, r, http.StatusOK)
	if string(r.body) != `{"items":[]}`+"\n" {
		t.Fatalf("empty: %q", r.body)
	}
	if err := e.store.PutChargingProfile(context.Background(), store.ChargingProfile{ChargePointID: "CP1", ProfileID: 7, EVSE: 1,
		StackLevel: 2, Purpose: "TxDefaultProfile", Kind: "Absolute", Schedule: json.RawMessage(`{"chargingRateUnit":"A"}`),
		Profile: json.RawMessage(`{"chargingProfileId":7}`)}); err != nil {
		t.Fatal(err)
	}
	r = e.do("GET", path, e.readOnly, nil)
	want(t, r, http.StatusOK)
	var got List[map[string]any]
	r.decode(t, &got)
	if len(got.Items) != 1 || got.Items[0]["id"] != 7.0 || got.Items[0]["evseId"] != 1.0 || got.Items[0]["source"] != "CSO" ||
		got.Items[0]["chargingSchedule"].(map[string]any)["chargingRateUnit"] != "A" {
		t.Fatalf("profiles %s", r.body)
	}
	want(t, e.do("GET", "/api/v1/chargepoints/NOPE/chargingprofiles", e.admin, nil), http.StatusNotFound)
}
