package main

// Scenario tests of what ocppd keeps in step with each station beyond
// sessions — the authorization cache, reservations, charging profiles —
// per OCPP version, driven by the simulator's Charger against the real
// server and read back through the operator API.

import (
	"encoding/json"
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
