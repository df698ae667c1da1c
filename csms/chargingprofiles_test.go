package csms

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/ocpp"
)

// TestChargingProfilesTracked: accepted SetChargingProfile stores the
// profile (a rejected one does not), ClearChargingProfile Accepted/Unknown
// removes the matching ones, and a 2.x ReportChargingProfiles stores what
// it reports.
func TestChargingProfilesTracked(t *testing.T) {
	for _, v := range []ocpp.Version{ocpp.V16, ocpp.V201} {
		t.Run(string(v), func(t *testing.T) {
			e := newEnv(t)
			e.addCP("CP1", ocppd.RegistrationAccepted, v)
			st := e.station("CP1", v)
			ctx := context.Background()
			set := func(id, evse, level int, purpose, answer string) {
				t.Helper()
				var req string
				if v == ocpp.V16 {
					req = fmt.Sprintf(`{"connectorId":%d,"csChargingProfiles":{"chargingProfileId":%d,"stackLevel":%d,"chargingProfilePurpose":%q,
						"chargingProfileKind":"Absolute","chargingSchedule":{"chargingRateUnit":"W","chargingSchedulePeriod":[{"startPeriod":0,"limit":7400}]}}}`,
						evse, id, level, purpose)
				} else {
					req = fmt.Sprintf(`{"evseId":%d,"chargingProfile":{"id":%d,"stackLevel":%d,"chargingProfilePurpose":%q,"chargingProfileKind":"Absolute",
						"chargingSchedule":[{"id":1,"chargingRateUnit":"W","chargingSchedulePeriod":[{"startPeriod":0,"limit":7400}]}]}}`, evse, id, level, purpose)
				}
				answerAction(t, e, st, "CP1", "SetChargingProfile", json.RawMessage(req), `{"status":"`+answer+`"}`)
			}
			list := func() (out []string) {
				ps, err := e.db.ListChargingProfiles(ctx, "CP1")
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range ps {
					out = append(out, fmt.Sprintf("%d:%d:%d:%s", p.ProfileID, p.EVSE, p.StackLevel, p.Source))
				}
				return out
			}
			maxPurpose := "ChargePointMaxProfile"
			if v != ocpp.V16 {
				maxPurpose = "ChargingStationMaxProfile"
			}
			set(1, 0, 0, maxPurpose, "Accepted")
			set(2, 1, 1, "TxDefaultProfile", "Accepted")
			set(3, 1, 2, "TxDefaultProfile", "Rejected")
			if l := fmt.Sprint(list()); l != "[1:0:0:CSO 2:1:1:CSO]" {
				t.Fatalf("after set: %s", l)
			}
			ps, _ := e.db.ListChargingProfiles(ctx, "CP1")
			if ps[1].Purpose != "TxDefaultProfile" || ps[1].Kind != "Absolute" || len(ps[1].Schedule) == 0 {
				t.Fatalf("stored %+v", ps[1])
			}
			if v == ocpp.V16 {
				answerAction(t, e, st, "CP1", "ClearChargingProfile", json.RawMessage(`{"connectorId":1,"chargingProfilePurpose":"TxDefaultProfile"}`), `{"status":"Accepted"}`)
				answerAction(t, e, st, "CP1", "ClearChargingProfile", json.RawMessage(`{"id":1}`), `{"status":"Unknown"}`)
			} else {
				answerAction(t, e, st, "CP1", "ClearChargingProfile", json.RawMessage(`{"chargingProfileCriteria":{"evseId":1,"chargingProfilePurpose":"TxDefaultProfile"}}`), `{"status":"Accepted"}`)
				answerAction(t, e, st, "CP1", "ClearChargingProfile", json.RawMessage(`{"chargingProfileId":1}`), `{"status":"Unknown"}`)
			}
			if l := list(); len(l) != 0 {
				t.Fatalf("after clear: %v", l)
			}
			if v == ocpp.V201 {
				st.call("ReportChargingProfiles", m{"requestId": 4, "chargingLimitSource": "EMS", "evseId": 2, "chargingProfile": []m{{
					"id": 30, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Absolute",
					"chargingSchedule": []m{{"id": 1, "chargingRateUnit": "A", "chargingSchedulePeriod": []m{{"startPeriod": 0, "limit": 16}}}}}}}, nil)
				if l := fmt.Sprint(list()); l != "[30:2:0:EMS]" {
					t.Fatalf("after report: %s", l)
				}
				if evs, _ := e.db.ListStationEvents(ctx, "CP1", "ReportChargingProfiles", 0); len(evs) != 1 {
					t.Fatalf("report logged %d times", len(evs))
				}
			}
		})
	}
}
