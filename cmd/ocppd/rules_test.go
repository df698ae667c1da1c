package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/rules"
	"github.com/ocppd/ocppd/shadow"
	"github.com/ocppd/ocppd/sim"
)

const seedRulesYAML = `
heartbeat-interval: 300
rules:
  - name: heartbeats
    description: the seed's IoT rule
    sql: SELECT topic(1) AS chargePointId, timestamp() AS lastTimestamp FROM '+/in' WHERE get(*, 2) = 'Heartbeat'
    actions:
      - table: {name: chargePointHeartbeat, key: chargePointId}
`

// configRules reads the rules of a config file the way serve does.
func configRules(t *testing.T, yaml string) rulesConfig {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ocppd.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Int("heartbeat-interval", 0, "")
	opts, err := loadFlags(fs, []string{"--config", path}, rulesSection)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rulesFromConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestRulesConfigErrors(t *testing.T) {
	for yaml, want := range map[string]string{
		"rules:\n  - name: x\n    sql: SELECT * FROM\n    actions: [{log: {}}]\n": "expected a topic filter",
		"rules:\n  - name: x\n    sql: SELECT * FROM 'a'\n    actoins: []\n":      "unknown field",
		"rules: {name: x}\n": "expected a list",
	} {
		path := filepath.Join(t.TempDir(), "ocppd.yaml")
		os.WriteFile(path, []byte(yaml), 0o600)
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		opts, err := loadFlags(fs, []string{"--config", path}, rulesSection)
		if err == nil {
			_, err = rulesFromConfig(opts)
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error containing %q", yaml, err, want)
		}
	}
}

// The seed's rule end to end: heartbeats from the simulator become rows
// of the table chargePointHeartbeat keyed by chargePointId, with
// lastTimestamp advancing.
func TestE2ESeedRuleHeartbeatTable(t *testing.T) {
	cfg := testConfig(t)
	cfg.Rules = configRules(t, seedRulesYAML)
	cfg.API.MetricsPublic = true
	srv := startServer(t, cfg, "CP1", "CP2")
	ctx := ctxT(t)
	stations := []*sim.Station{station(t, srv, "CP1", ocpp.V201), station(t, srv, "CP2", ocpp.V16)}
	for _, st := range stations {
		if _, err := st.Boot(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Heartbeat(ctx); err != nil {
			t.Fatal(err)
		}
	}
	lastTimestamp := func(cp string) int64 {
		row, err := srv.rulesAPI().TableRow(ctx, "chargePointHeartbeat", cp)
		if err != nil {
			return 0
		}
		var v struct {
			ChargePointID string `json:"chargePointId"`
			LastTimestamp int64  `json:"lastTimestamp"`
		}
		if err := json.Unmarshal(row.Data, &v); err != nil || v.ChargePointID != cp {
			t.Fatalf("row %s: %v", row.Data, err)
		}
		return v.LastTimestamp
	}
	eventually(t, "both rows", func() bool { return lastTimestamp("CP1") > 0 && lastTimestamp("CP2") > 0 })
	first := lastTimestamp("CP1")
	time.Sleep(5 * time.Millisecond) // timestamp() has millisecond resolution
	if _, err := stations[0].Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "lastTimestamp to advance", func() bool { return lastTimestamp("CP1") > first })
	tables, err := srv.rulesAPI().Tables(ctx)
	if err != nil || len(tables) != 1 || tables[0].Name != "chargePointHeartbeat" || tables[0].Rows != 2 {
		t.Errorf("tables %+v, %v", tables, err)
	}
	// A rule created at run time (as the REST API does) takes effect at
	// once: it republishes BootNotifications for an MQTT client.
	_, msgs := mqttObserver(t, srv, "boots/#")
	r, err := rules.ParseRule([]byte(`{"name":"boots","sql":"SELECT topic(1) AS cp, get(*, 3).reason AS reason FROM '+/in' WHERE get(*, 2) = 'BootNotification'",
		"actions":[{"republish":{"topic":"boots/${cp}"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.rulesAPI().Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := stations[0].Boot(ctx); err != nil {
		t.Fatal(err)
	}
	nextOn(t, msgs, "boots/CP1", `"reason":"PowerUp"`)
	if st := srv.rulesAPI().Stats(); len(st) != 2 || st[0].Name != "boots" || st[0].Actions[0].OK != 1 {
		t.Errorf("stats %+v", st)
	}
	// The counters are on /metrics.
	resp, err := http.Get("http://" + srv.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `ocppd_rule_matched_total{rule="heartbeats"} 3`) {
		t.Errorf("/metrics has no rule counters:\n%s", body)
	}
}

// setVariablesAnswerer makes a simulated 2.x station accept every variable
// and counts the SetVariables it got.
func setVariablesAnswerer(st *sim.Station, count *atomic.Int32) {
	st.Handle("SetVariables", func(_ context.Context, payload json.RawMessage) (any, error) {
		count.Add(1)
		var req struct {
			SetVariableData []struct {
				Component map[string]any `json:"component"`
				Variable  map[string]any `json:"variable"`
			} `json:"setVariableData"`
		}
		if err := json.Unmarshal(payload, &req); err != nil {
			return nil, err
		}
		res := []map[string]any{}
		for _, d := range req.SetVariableData {
			res = append(res, map[string]any{"attributeStatus": "Accepted", "component": d.Component, "variable": d.Variable})
		}
		return map[string]any{"setVariableResult": res}, nil
	})
}

// The shadow round trip with the simulator: desired → SetVariables →
// reported, for a station online and one that is offline until it boots.
func TestE2EShadowDesiredSetVariables(t *testing.T) {
	srv := startServer(t, testConfig(t), "ON", "OFF")
	ctx := ctxT(t)
	sh := srv.shadowsAPI()
	if sh == nil {
		t.Fatal("no shadow runtime")
	}
	setDesired := func(cp string) {
		t.Helper()
		u, err := shadow.ParseUpdate([]byte(`{"state":{"desired":{"variables":{"OCPPCommCtrlr":{"HeartbeatInterval":"120"}}}}}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sh.UpdateShadow(ctx, cp, u); err != nil {
			t.Fatal(err)
		}
	}
	settled := func(cp string) bool {
		doc, err := sh.GetShadow(ctx, cp)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := doc.State.Reported["variables"].(map[string]any)
		c, _ := v["OCPPCommCtrlr"].(map[string]any)
		return doc.Delta() == nil && c["HeartbeatInterval"] == "120"
	}

	// Online.
	var onCount atomic.Int32
	on := sim.New(sim.Options{URL: wsURL(srv) + "/ocpp", ID: "ON", Version: ocpp.V201, CallTimeout: waitFor})
	setVariablesAnswerer(on, &onCount)
	if err := on.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { on.Close() })
	if _, err := on.Boot(ctx); err != nil {
		t.Fatal(err)
	}
	setDesired("ON")
	eventually(t, "ON's reported state to match", func() bool { return settled("ON") })

	// Offline: the station has connected once (its version is known),
	// then the desired state changes while it is away.
	var offCount atomic.Int32
	off := sim.New(sim.Options{URL: wsURL(srv) + "/ocpp", ID: "OFF", Version: ocpp.V201, CallTimeout: waitFor})
	setVariablesAnswerer(off, &offCount)
	if err := off.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := off.Boot(ctx); err != nil {
		t.Fatal(err)
	}
	off.Close()
	eventually(t, "OFF to be offline", func() bool {
		cp, err := srv.store.GetChargePoint(ctx, "OFF")
		return err == nil && !cp.Online
	})
	setDesired("OFF")
	if settled("OFF") || offCount.Load() != 0 {
		t.Fatal("an offline station was configured")
	}
	off = sim.New(sim.Options{URL: wsURL(srv) + "/ocpp", ID: "OFF", Version: ocpp.V201, CallTimeout: waitFor})
	setVariablesAnswerer(off, &offCount)
	if err := off.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { off.Close() })
	if _, err := off.Boot(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "OFF's reported state to match", func() bool { return settled("OFF") })
	if n := offCount.Load(); n != 1 {
		t.Errorf("OFF got %d SetVariables, want 1 (the queued command, not again at boot)", n)
	}
}
