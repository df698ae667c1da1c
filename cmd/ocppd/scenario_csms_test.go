package main

// Scenario tests of what ocppd keeps in step with each station beyond
// sessions — the authorization cache, reservations, charging profiles —
// per OCPP version, driven by the simulator's Charger against the real
// server and read back through the operator API.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/sim"
)

var keptVersions = []ocpp.Version{ocpp.V16, ocpp.V201}

// scenarioToken creates an API token with the CLI against the server's
// data directory.
func scenarioToken(t *testing.T, cfg serveConfig) string {
	t.Helper()
	out, errOut, err := runCLI(t, "token", "create", "--name", "scenario", "--data-dir", cfg.DataDir)
	if err != nil {
		t.Fatalf("token create: %v (%s)", err, errOut)
	}
	return strings.TrimSpace(out)
}

// apiJSON GETs path from the operator API and decodes the 200 answer.
func apiJSON(t *testing.T, srv *server, tok, path string, into any) {
	t.Helper()
	code, body := apiGet(t, srv, path, tok)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal(body, into); err != nil {
		t.Fatalf("GET %s: %v (%s)", path, err, body)
	}
}

type authView struct {
	LocalListVersion int `json:"localListVersion"`
	Cache            struct {
		LastClearStatus string    `json:"lastClearStatus"`
		LastClearAt     time.Time `json:"lastClearAt"`
		ClearedAt       time.Time `json:"clearedAt"`
		Enabled         *bool     `json:"enabled"`
	} `json:"cache"`
}

// TestScenarioAuthorizationInStep: the operator reads and changes the
// station's authorization cache and local list with commands; the
// simulator acts on them (a disabled cache cannot be cleared) and
// GET /authorization shows what the station confirmed.
func TestScenarioAuthorizationInStep(t *testing.T) {
	var ids []string
	for _, v := range keptVersions {
		ids = append(ids, stationID(v, "authcache"))
	}
	cfg := testConfig(t)
	srv := startServer(t, cfg, ids...)
	tok := scenarioToken(t, cfg)
	for _, v := range keptVersions {
		t.Run(string(v), func(t *testing.T) {
			id := stationID(v, "authcache")
			runningCharger(t, srv, id, v, sim.ChargerOptions{})
			path := "/api/v1/chargepoints/" + id + "/authorization"
			var a authView
			apiJSON(t, srv, tok, path, &a)
			if a.LocalListVersion != 0 || a.Cache.LastClearStatus != "" || a.Cache.Enabled != nil {
				t.Fatalf("before any command: %+v", a)
			}

			// Read the cache's enabled flag, clear it, send a local list.
			if v == ocpp.V16 {
				command(t, srv, id, "GetConfiguration", `{"key":["AuthorizationCacheEnabled"]}`)
				if r := command(t, srv, id, "SendLocalList", `{"listVersion":5,"updateType":"Full","localAuthorizationList":[{"idTag":"TAG-LOCAL","idTagInfo":{"status":"Accepted"}}]}`); r["status"] != "Accepted" {
					t.Fatalf("SendLocalList %v", r)
				}
			} else {
				command(t, srv, id, "GetVariables", `{"getVariableData":[{"component":{"name":"AuthCacheCtrlr"},"variable":{"name":"Enabled"}}]}`)
				if r := command(t, srv, id, "SendLocalList", `{"versionNumber":5,"updateType":"Full","localAuthorizationList":[{"idToken":{"idToken":"TAG-LOCAL","type":"ISO14443"},"idTokenInfo":{"status":"Accepted"}}]}`); r["status"] != "Accepted" {
					t.Fatalf("SendLocalList %v", r)
				}
			}
			if r := command(t, srv, id, "ClearCache", `{}`); r["status"] != "Accepted" {
				t.Fatalf("ClearCache %v", r)
			}
			apiJSON(t, srv, tok, path, &a)
			if a.LocalListVersion != 5 || a.Cache.LastClearStatus != "Accepted" || a.Cache.ClearedAt.IsZero() ||
				a.Cache.Enabled == nil || !*a.Cache.Enabled {
				t.Fatalf("after the clear: %+v", a)
			}
			cleared := a.Cache.ClearedAt

			// Disable the cache: the station then refuses to clear it.
			if v == ocpp.V16 {
				if r := command(t, srv, id, "ChangeConfiguration", `{"key":"AuthorizationCacheEnabled","value":"false"}`); r["status"] != "Accepted" {
					t.Fatalf("ChangeConfiguration %v", r)
				}
			} else {
				command(t, srv, id, "SetVariables", `{"setVariableData":[{"component":{"name":"AuthCacheCtrlr"},"variable":{"name":"Enabled"},"attributeValue":"false"}]}`)
			}
			if r := command(t, srv, id, "ClearCache", `{}`); r["status"] != "Rejected" {
				t.Fatalf("ClearCache of a disabled cache %v", r)
			}
			apiJSON(t, srv, tok, path, &a)
			if a.Cache.LastClearStatus != "Rejected" || !a.Cache.ClearedAt.Equal(cleared) || a.Cache.LastClearAt.Before(cleared) ||
				a.Cache.Enabled == nil || *a.Cache.Enabled {
				t.Fatalf("after the refused clear: %+v", a)
			}
		})
	}
}

type reservationsView struct {
	Items []struct {
		ReservationID int    `json:"reservationId"`
		Status        string `json:"status"`
		IDToken       string `json:"idToken"`
	} `json:"items"`
}

// reservationStatus reads one reservation's status through the API.
func reservationStatus(t *testing.T, srv *server, tok, id string, resID int) string {
	t.Helper()
	var l reservationsView
	apiJSON(t, srv, tok, "/api/v1/reservations?cp="+id, &l)
	for _, r := range l.Items {
		if r.ReservationID == resID {
			return r.Status
		}
	}
	return "absent"
}

// TestScenarioReservations: the operator reserves a connector for a tag;
// the station accepts, and a session started with that tag uses the
// reservation; another is cancelled; a 2.0.1 station reports one
// expired; one past its expiry reads as Expired.
func TestScenarioReservations(t *testing.T) {
	var ids []string
	for _, v := range keptVersions {
		ids = append(ids, stationID(v, "reserve"))
	}
	cfg := testConfig(t)
	srv := startServer(t, cfg, ids...)
	tok := scenarioToken(t, cfg)
	acceptTag(t, srv, "TAG-RES")
	for _, v := range keptVersions {
		t.Run(string(v), func(t *testing.T) {
			id := stationID(v, "reserve")
			ch := runningCharger(t, srv, id, v, sim.ChargerOptions{})
			ctx := ctxT(t)
			reserve := func(resID int, expiry time.Time) map[string]any {
				exp := expiry.UTC().Format(time.RFC3339)
				if v == ocpp.V16 {
					return command(t, srv, id, "ReserveNow", fmt.Sprintf(`{"connectorId":1,"expiryDate":%q,"idTag":"TAG-RES","reservationId":%d}`, exp, resID))
				}
				return command(t, srv, id, "ReserveNow", fmt.Sprintf(`{"id":%d,"evseId":1,"expiryDateTime":%q,"idToken":{"idToken":"TAG-RES","type":"ISO14443"}}`, resID, exp))
			}
			hour := time.Now().Add(time.Hour)

			if r := reserve(1, hour); r["status"] != "Accepted" {
				t.Fatalf("ReserveNow %v", r)
			}
			if got := reservationStatus(t, srv, tok, id, 1); got != "Accepted" {
				t.Fatalf("after ReserveNow: %s", got)
			}
			// The reserved tag starts a session there: the station names the
			// reservation, which is used.
			if _, err := ch.Start(ctx, 1, 1, "TAG-RES"); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the reservation used", func() bool { return reservationStatus(t, srv, tok, id, 1) == "Used" })
			if txs := transactions(t, srv, id); len(txs) != 1 || txs[0].ReservationID == nil || *txs[0].ReservationID != 1 {
				t.Fatalf("transactions %+v", txs)
			}
			if err := ch.Stop(ctx, 1, 1, "Local"); err != nil {
				t.Fatal(err)
			}

			if r := reserve(2, hour); r["status"] != "Accepted" {
				t.Fatalf("ReserveNow %v", r)
			}
			if r := command(t, srv, id, "CancelReservation", `{"reservationId":2}`); r["status"] != "Accepted" {
				t.Fatalf("CancelReservation %v", r)
			}
			if got := reservationStatus(t, srv, tok, id, 2); got != "Cancelled" {
				t.Fatalf("after CancelReservation: %s", got)
			}
			// Cancelling again: the station has none; nothing changes.
			if r := command(t, srv, id, "CancelReservation", `{"reservationId":2}`); r["status"] != "Rejected" {
				t.Fatalf("CancelReservation again %v", r)
			}

			if v == ocpp.V201 {
				if r := reserve(3, hour); r["status"] != "Accepted" {
					t.Fatalf("ReserveNow %v", r)
				}
				if _, err := ch.Call(ctx, "ReservationStatusUpdate", map[string]any{"reservationId": 3, "reservationUpdateStatus": "Removed"}); err != nil {
					t.Fatal(err)
				}
				if got := reservationStatus(t, srv, tok, id, 3); got != "Removed" {
					t.Fatalf("after ReservationStatusUpdate: %s", got)
				}
				_ = command(t, srv, id, "CancelReservation", `{"reservationId":3}`) // the simulator still holds it
			}
			if r := reserve(4, time.Now().Add(-time.Minute)); r["status"] != "Accepted" {
				t.Fatalf("ReserveNow %v", r)
			}
			var l reservationsView
			apiJSON(t, srv, tok, "/api/v1/reservations?status=Expired&cp="+id, &l)
			if len(l.Items) != 1 || l.Items[0].ReservationID != 4 || l.Items[0].IDToken != "TAG-RES" {
				t.Fatalf("expired %+v", l)
			}
		})
	}
}

// TestScenarioChargingProfiles: the operator sets charging profiles; the
// station keeps the ones it accepts (a TxProfile without a transaction is
// rejected), a ClearChargingProfile removes them on both sides, and a
// 2.0.1 station's ReportChargingProfiles is kept too.
func TestScenarioChargingProfiles(t *testing.T) {
	var ids []string
	for _, v := range keptVersions {
		ids = append(ids, stationID(v, "profiles"))
	}
	cfg := testConfig(t)
	srv := startServer(t, cfg, ids...)
	tok := scenarioToken(t, cfg)
	for _, v := range keptVersions {
		t.Run(string(v), func(t *testing.T) {
			id := stationID(v, "profiles")
			ch := runningCharger(t, srv, id, v, sim.ChargerOptions{})
			set := func(evse, profileID, level int, purpose string) map[string]any {
				if v == ocpp.V16 {
					return command(t, srv, id, "SetChargingProfile", fmt.Sprintf(`{"connectorId":%d,"csChargingProfiles":{"chargingProfileId":%d,"stackLevel":%d,
						"chargingProfilePurpose":%q,"chargingProfileKind":"Absolute","chargingSchedule":{"chargingRateUnit":"W",
						"chargingSchedulePeriod":[{"startPeriod":0,"limit":7400}]}}}`, evse, profileID, level, purpose))
				}
				return command(t, srv, id, "SetChargingProfile", fmt.Sprintf(`{"evseId":%d,"chargingProfile":{"id":%d,"stackLevel":%d,
					"chargingProfilePurpose":%q,"chargingProfileKind":"Absolute","chargingSchedule":[{"id":1,"chargingRateUnit":"W",
					"chargingSchedulePeriod":[{"startPeriod":0,"limit":7400}]}]}}`, evse, profileID, level, purpose))
			}
			profiles := func() (out []string) {
				var l struct {
					Items []struct {
						EVSE       int    `json:"evseId"`
						ID         int    `json:"id"`
						StackLevel int    `json:"stackLevel"`
						Purpose    string `json:"chargingProfilePurpose"`
						Source     string `json:"source"`
					} `json:"items"`
				}
				apiJSON(t, srv, tok, "/api/v1/chargepoints/"+id+"/chargingprofiles", &l)
				for _, p := range l.Items {
					out = append(out, fmt.Sprintf("%d@%d/%s/%d/%s", p.ID, p.EVSE, p.Purpose, p.StackLevel, p.Source))
				}
				return out
			}
			maxPurpose := "ChargePointMaxProfile"
			if v != ocpp.V16 {
				maxPurpose = "ChargingStationMaxProfile"
			}
			for _, p := range []struct {
				evse, id, level int
				purpose, want   string
			}{
				{0, 1, 0, maxPurpose, "Accepted"},
				{1, 2, 0, "TxDefaultProfile", "Accepted"},
				{1, 3, 1, "TxDefaultProfile", "Accepted"},
				{1, 4, 0, "TxProfile", "Rejected"}, // no transaction on it
			} {
				if r := set(p.evse, p.id, p.level, p.purpose); r["status"] != p.want {
					t.Fatalf("SetChargingProfile %d: %v, want %s", p.id, r, p.want)
				}
			}
			want := fmt.Sprintf("[1@0/%s/0/CSO 2@1/TxDefaultProfile/0/CSO 3@1/TxDefaultProfile/1/CSO]", maxPurpose)
			if got := fmt.Sprint(profiles()); got != want {
				t.Fatalf("profiles %s, want %s", got, want)
			}
			// The same purpose and stack level on the EVSE replaces profile 2.
			if r := set(1, 5, 0, "TxDefaultProfile"); r["status"] != "Accepted" {
				t.Fatalf("SetChargingProfile 5: %v", r)
			}
			// Clear the EVSE's TxDefaultProfiles.
			clear := `{"chargingProfileCriteria":{"evseId":1,"chargingProfilePurpose":"TxDefaultProfile"}}`
			if v == ocpp.V16 {
				clear = `{"connectorId":1,"chargingProfilePurpose":"TxDefaultProfile"}`
			}
			if r := command(t, srv, id, "ClearChargingProfile", clear); r["status"] != "Accepted" {
				t.Fatalf("ClearChargingProfile %v", r)
			}
			want = fmt.Sprintf("[1@0/%s/0/CSO]", maxPurpose)
			if got := fmt.Sprint(profiles()); got != want {
				t.Fatalf("after the clear %s, want %s", got, want)
			}
			if v == ocpp.V201 {
				if _, err := ch.Call(ctxT(t), "ReportChargingProfiles", map[string]any{"requestId": 1, "chargingLimitSource": "EMS", "evseId": 1,
					"chargingProfile": []any{map[string]any{"id": 40, "stackLevel": 3, "chargingProfilePurpose": "TxDefaultProfile",
						"chargingProfileKind": "Absolute", "chargingSchedule": []any{map[string]any{"id": 1, "chargingRateUnit": "A",
							"chargingSchedulePeriod": []any{map[string]any{"startPeriod": 0, "limit": 16}}}}}}}); err != nil {
					t.Fatal(err)
				}
				want = fmt.Sprintf("[1@0/%s/0/CSO 40@1/TxDefaultProfile/3/EMS]", maxPurpose)
				if got := fmt.Sprint(profiles()); got != want {
					t.Fatalf("after ReportChargingProfiles %s, want %s", got, want)
				}
			}
			// Clear by id.
			clear = `{"chargingProfileId":1}`
			if v == ocpp.V16 {
				clear = `{"id":1}`
			}
			if r := command(t, srv, id, "ClearChargingProfile", clear); r["status"] != "Accepted" {
				t.Fatalf("ClearChargingProfile by id %v", r)
			}
			want = "[]"
			if v == ocpp.V201 {
				want = "[40@1/TxDefaultProfile/3/EMS]" // reported, not cleared
			}
			if got := fmt.Sprint(profiles()); got != want {
				t.Fatalf("after clearing by id %s, want %s", got, want)
			}
		})
	}
}
