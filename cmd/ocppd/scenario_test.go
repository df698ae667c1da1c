package main

// Scenario tests of the CSMS business logic, per OCPP version, driven by
// the simulator's Charger (a station with EVSEs, meters, a device model
// and answers to every command) against the real server: what a station
// does ends up as the right rows, and what the operator commands reaches
// the station and changes its state.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/sim"
	"github.com/ocppd/ocppd/store"
)

var scenarioVersions = []ocpp.Version{ocpp.V16, ocpp.V201, ocpp.V21}

// scenarioClock is a settable station clock: energy is power × the time
// that passes on it, so a test knows the exact Wh.
type scenarioClock struct {
	mu sync.Mutex
	t  time.Time
}

func newScenarioClock() *scenarioClock {
	return &scenarioClock{t: time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)}
}

func (c *scenarioClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *scenarioClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// stationID names a test station per version, e.g. "S16-session".
func stationID(v ocpp.Version, name string) string {
	return "S" + strings.NewReplacer("ocpp", "", ".", "").Replace(string(v)) + "-" + name
}

// acceptTag puts an Accepted RFID tag into the authorization list.
func acceptTag(t *testing.T, srv *server, tag string) {
	t.Helper()
	if err := srv.store.PutIDToken(ctxT(t), store.IDToken{Token: tag, Type: "ISO14443", Status: "Accepted"}); err != nil {
		t.Fatal(err)
	}
}

// charger returns a Charger for the station id, not yet connected; it is
// closed when the test ends.
func charger(t *testing.T, srv *server, id string, v ocpp.Version, clock *scenarioClock, co sim.ChargerOptions) *sim.Charger {
	t.Helper()
	opts := sim.Options{URL: wsURL(srv) + "/ocpp", ID: id, Version: v, CallTimeout: waitFor,
		ReconnectDelay: 20 * time.Millisecond, MaxReconnectDelay: 200 * time.Millisecond}
	if clock != nil {
		opts.Now = clock.Now
	}
	ch := sim.NewCharger(opts, co)
	t.Cleanup(func() { _ = ch.Close() })
	return ch
}

// bootedCharger connects and boots a Charger.
func bootedCharger(t *testing.T, srv *server, id string, v ocpp.Version, clock *scenarioClock, co sim.ChargerOptions) *sim.Charger {
	t.Helper()
	ch := charger(t, srv, id, v, clock, co)
	ctx := ctxT(t)
	if err := ch.Connect(ctx); err != nil {
		t.Fatalf("%s: connect: %v", id, err)
	}
	if res, err := ch.Boot(ctx); err != nil || res.Status != sim.StatusAccepted {
		t.Fatalf("%s: boot %+v %v", id, res, err)
	}
	return ch
}

// runningCharger runs a Charger's whole life (Run) in the background and
// waits for its first accepted boot.
func runningCharger(t *testing.T, srv *server, id string, v ocpp.Version, co sim.ChargerOptions) *sim.Charger {
	t.Helper()
	ch := charger(t, srv, id, v, nil, co)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ch.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	eventually(t, id+" booted", func() bool { return ch.Boots() >= 1 && ch.Online() })
	return ch
}

// command sends a command through the CSMS command API and returns the
// station's answer, which must be a CALLRESULT.
func command(t *testing.T, srv *server, id, action string, payload string) map[string]any {
	t.Helper()
	c, err := srv.csms.Call(ctxT(t), id, action, json.RawMessage(payload))
	if err != nil {
		t.Fatalf("%s %s: %v (%+v)", action, id, err, c)
	}
	if c.State != store.CommandAnswered {
		t.Fatalf("%s %s: state %s %s %s", action, id, c.State, c.ErrorCode, c.ErrorDescription)
	}
	var m map[string]any
	if err := json.Unmarshal(c.Response, &m); err != nil {
		t.Fatalf("%s response %s: %v", action, c.Response, err)
	}
	return m
}

func transaction(t *testing.T, srv *server, id, txID string) store.Transaction {
	t.Helper()
	tx, err := srv.store.GetTransaction(ctxT(t), id, txID)
	if err != nil {
		t.Fatalf("transaction %s/%s: %v", id, txID, err)
	}
	return tx
}

func transactions(t *testing.T, srv *server, id string) []store.Transaction {
	t.Helper()
	txs, err := srv.store.ListTransactions(ctxT(t), store.TransactionFilter{ChargePointID: id})
	if err != nil {
		t.Fatal(err)
	}
	return txs
}

func energySamples(t *testing.T, srv *server, id, txID string) []float64 {
	t.Helper()
	ss, err := srv.store.ListMeterSamples(ctxT(t), store.MeterFilter{ChargePointID: id, TransactionID: txID, Measurand: "Energy.Active.Import.Register"})
	if err != nil {
		t.Fatal(err)
	}
	var out []float64
	for _, s := range ss {
		out = append(out, s.Value)
	}
	return out
}

// TestScenarioChargingSession: authorize, start, meter values, stop — one
// row per session with the right energy, duration, reason and samples,
// the same for every version.
func TestScenarioChargingSession(t *testing.T) {
	var ids []string
	for _, v := range scenarioVersions {
		ids = append(ids, stationID(v, "session"))
	}
	srv := startServer(t, testConfig(t), ids...)
	acceptTag(t, srv, "TAG-SESSION")
	for _, v := range scenarioVersions {
		t.Run(string(v), func(t *testing.T) {
			id := stationID(v, "session")
			clock := newScenarioClock()
			start := clock.Now()
			ch := bootedCharger(t, srv, id, v, clock, sim.ChargerOptions{InitialMeterWh: 1000, EVSEs: 2})
			ctx := ctxT(t)
			stx, err := ch.Start(ctx, 2, 1, "TAG-SESSION")
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			clock.Add(30 * time.Minute)
			if err := ch.MeterValues(ctx, 2, 1); err != nil {
				t.Fatalf("meter values: %v", err)
			}
			// Live energy: the running transaction follows its meter
			// values (1.6 MeterValues, 2.x TransactionEvent Updated).
			if tx := transaction(t, srv, id, stx.ID); tx.State != store.TransactionActive || tx.EnergyWh != 5500 ||
				tx.MeterStopWh == nil || *tx.MeterStopWh != 6500 || tx.Duration() != 30*time.Minute {
				t.Fatalf("running transaction after 30 min: energy %v, latest reading %v, duration %v; want 5500, 6500, 30m",
					tx.EnergyWh, tx.MeterStopWh, tx.Duration())
			}
			clock.Add(30 * time.Minute)
			if err := ch.Stop(ctx, 2, 1, sim.ReasonLocal); err != nil {
				t.Fatalf("stop: %v", err)
			}
			for _, m := range ch.Sent() {
				if m.Err != nil {
					t.Fatalf("%s refused: %v", m.Action, m.Err)
				}
			}

			tx := transaction(t, srv, id, stx.ID)
			if tx.State != store.TransactionEnded || tx.IDToken != "TAG-SESSION" || tx.StopReason != "Local" {
				t.Fatalf("transaction %+v", tx)
			}
			if tx.MeterStartWh == nil || *tx.MeterStartWh != 1000 || tx.MeterStopWh == nil || *tx.MeterStopWh != 12000 || tx.EnergyWh != 11000 {
				t.Fatalf("energy: start %v stop %v energy %v, want 1000, 12000, 11000 (11 kW for 1 h)", tx.MeterStartWh, tx.MeterStopWh, tx.EnergyWh)
			}
			if !tx.StartedAt.Equal(start) || tx.Duration() != time.Hour {
				t.Fatalf("started %v (want %v), duration %v", tx.StartedAt, start, tx.Duration())
			}
			wantConn, wantEVSE := 2, 0 // 1.6: connector 2 across EVSEs, no EVSE
			if v != ocpp.V16 {
				wantConn, wantEVSE = 1, 2
			}
			if tx.Connector != wantConn || tx.EVSE != wantEVSE || tx.Protocol != string(v) {
				t.Fatalf("transaction place: evse %d connector %d protocol %s", tx.EVSE, tx.Connector, tx.Protocol)
			}
			if got := transactions(t, srv, id); len(got) != 1 {
				t.Fatalf("%d transactions", len(got))
			}
			samples := energySamples(t, srv, id, stx.ID)
			if !containsAll(samples, 6500, 12000) {
				t.Fatalf("energy samples %v lack 6500 (after 30 min) and 12000 (stop)", samples)
			}
		})
	}
}

// allSamples returns every meter sample of station id.
func allSamples(t *testing.T, srv *server, id string) []store.MeterSample {
	t.Helper()
	ss, err := srv.store.ListMeterSamples(ctxT(t), store.MeterFilter{ChargePointID: id})
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

func containsAll(have []float64, want ...float64) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

// TestScenarioSameMessageTwice: a transaction message (1.6 MeterValues
// of a transaction included) delivered twice (a retry after a lost answer)
// makes one row and one set of samples, and gets the same answer; so does
// a MeterValues outside a transaction.
func TestScenarioSameMessageTwice(t *testing.T) {
	var ids []string
	for _, v := range scenarioVersions {
		ids = append(ids, stationID(v, "twice"))
	}
	srv := startServer(t, testConfig(t), ids...)
	acceptTag(t, srv, "TAG-TWICE")
	for _, v := range scenarioVersions {
		t.Run(string(v), func(t *testing.T) {
			id := stationID(v, "twice")
			clock := newScenarioClock()
			ch := bootedCharger(t, srv, id, v, clock, sim.ChargerOptions{})
			ctx := ctxT(t)
			stx, err := ch.Start(ctx, 1, 1, "TAG-TWICE")
			if err != nil {
				t.Fatal(err)
			}
			clock.Add(time.Hour)
			if err := ch.MeterValues(ctx, 1, 1); err != nil {
				t.Fatal(err)
			}
			clock.Add(time.Hour)
			if err := ch.Stop(ctx, 1, 1, sim.ReasonLocal); err != nil {
				t.Fatal(err)
			}
			before := energySamples(t, srv, id, stx.ID)
			want := transaction(t, srv, id, stx.ID)
			for _, m := range ch.Sent() {
				resp, err := ch.Call(ctx, m.Action, m.Payload)
				if err != nil {
					t.Fatalf("%s again: %v", m.Action, err)
				}
				if !jsonEqual(t, resp, m.Response) {
					t.Fatalf("%s again answered %s, first %s", m.Action, resp, m.Response)
				}
			}
			if got := transactions(t, srv, id); len(got) != 1 {
				t.Fatalf("%d transactions after the repeats", len(got))
			}
			got := transaction(t, srv, id, stx.ID)
			if got.EnergyWh != want.EnergyWh || got.EnergyWh != 22000 || got.State != store.TransactionEnded {
				t.Fatalf("after repeats %+v, before %+v", got, want)
			}
			if after := energySamples(t, srv, id, stx.ID); len(after) != len(before) {
				t.Fatalf("energy samples %v after the repeats, %v before", after, before)
			}
			// MeterValues outside a transaction, delivered twice: the
			// samples are stored once (their identity, store.MeterSample).
			t.Run("MeterValues", func(t *testing.T) {
				ts := clock.Now().Add(time.Minute).Format(time.RFC3339)
				payload := `{"evseId":1,"meterValue":[{"timestamp":"` + ts + `","sampledValue":[{"value":22500},{"value":0,"measurand":"Power.Active.Import","unitOfMeasure":{"unit":"W"}}]}]}`
				if v == ocpp.V16 {
					payload = `{"connectorId":1,"meterValue":[{"timestamp":"` + ts + `","sampledValue":[{"value":"22500"},{"value":"0","measurand":"Power.Active.Import","unit":"W"}]}]}`
				}
				before := len(allSamples(t, srv, id))
				for range 2 {
					if _, err := ch.Call(ctx, "MeterValues", json.RawMessage(payload)); err != nil {
						t.Fatal(err)
					}
				}
				if after := len(allSamples(t, srv, id)); after != before+2 {
					t.Fatalf("%d samples after sending 2 samples twice, %d before", after, before)
				}
				if got := transaction(t, srv, id, stx.ID); got.EnergyWh != 22000 || got.State != store.TransactionEnded {
					t.Fatalf("the transaction changed: %+v", got)
				}
			})
		})
	}
}

// TestScenarioOfflineReplay: a session that happens while the link is
// down is queued and replayed in order after the reconnect and boot; the
// row carries the times of the events, not of the replay.
func TestScenarioOfflineReplay(t *testing.T) {
	var ids []string
	for _, v := range scenarioVersions {
		ids = append(ids, stationID(v, "offline"))
	}
	srv := startServer(t, testConfig(t), ids...)
	acceptTag(t, srv, "TAG-OFFLINE")
	for _, v := range scenarioVersions {
		t.Run(string(v), func(t *testing.T) {
			id := stationID(v, "offline")
			clock := newScenarioClock()
			ch := bootedCharger(t, srv, id, v, clock, sim.ChargerOptions{InitialMeterWh: 500})
			ctx := ctxT(t)
			// Authorized online once: the cache lets the tag charge offline.
			if st, err := ch.Authorize(ctx, "TAG-OFFLINE"); err != nil || st != "Accepted" {
				t.Fatalf("authorize %s %v", st, err)
			}
			ch.Disconnect(1000, "")
			start := clock.Now()
			stx, err := ch.Start(ctx, 1, 1, "TAG-OFFLINE")
			if err != nil {
				t.Fatalf("offline start: %v", err)
			}
			clock.Add(20 * time.Minute)
			if err := ch.MeterValues(ctx, 1, 1); err != nil {
				t.Fatal(err)
			}
			clock.Add(40 * time.Minute)
			if err := ch.Stop(ctx, 1, 1, sim.ReasonLocal); err != nil {
				t.Fatal(err)
			}
			if n := ch.Queued(); n != 3 {
				t.Fatalf("%d messages queued offline, want 3", n)
			}
			if len(transactions(t, srv, id)) != 0 {
				t.Fatal("a transaction reached the CSMS while offline")
			}

			if err := ch.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := ch.Boot(ctx); err != nil { // boots, then replays
				t.Fatal(err)
			}
			if n := ch.Queued(); n != 0 {
				t.Fatalf("%d still queued", n)
			}
			txID := stx.ID
			sent := ch.Sent()
			for _, m := range sent {
				if !m.Replayed || m.Err != nil {
					t.Fatalf("replayed %s: %+v", m.Action, m)
				}
			}
			if v == ocpp.V16 {
				var r struct{ TransactionID int }
				if err := json.Unmarshal(sent[0].Response, &r); err != nil || r.TransactionID == 0 {
					t.Fatalf("StartTransaction answer %s", sent[0].Response)
				}
				txID = fmt.Sprint(r.TransactionID)
			} else if !strings.Contains(string(sent[0].Payload), `"offline":true`) {
				t.Fatalf("replayed event not marked offline: %s", sent[0].Payload)
			}
			tx := transaction(t, srv, id, txID)
			if tx.State != store.TransactionEnded || tx.EnergyWh != 11000 || !tx.StartedAt.Equal(start) || tx.Duration() != time.Hour {
				t.Fatalf("replayed transaction %+v (energy %v, duration %v)", tx, tx.EnergyWh, tx.Duration())
			}
			if s := energySamples(t, srv, id, txID); !containsAll(s, 4166, 11500) { // 500 + 11 kW × 20 min, × 60 min
				t.Fatalf("samples %v", s)
			}
		})
	}
}

// TestScenarioRemoteStartStop: the operator starts and stops a session
// through the command API; the station charges and the row says Remote.
func TestScenarioRemoteStartStop(t *testing.T) {
	var ids []string
	for _, v := range scenarioVersions {
		ids = append(ids, stationID(v, "remote"))
	}
	srv := startServer(t, testConfig(t), ids...)
	acceptTag(t, srv, "TAG-REMOTE")
	for _, v := range scenarioVersions {
		t.Run(string(v), func(t *testing.T) {
			id := stationID(v, "remote")
			ch := runningCharger(t, srv, id, v, sim.ChargerOptions{})
			if v == ocpp.V16 {
				if a := command(t, srv, id, "RemoteStartTransaction", `{"connectorId":1,"idTag":"TAG-REMOTE"}`); a["status"] != "Accepted" {
					t.Fatalf("remote start %v", a)
				}
			} else {
				if a := command(t, srv, id, "RequestStartTransaction", `{"evseId":1,"remoteStartId":77,"idToken":{"idToken":"TAG-REMOTE","type":"ISO14443"}}`); a["status"] != "Accepted" {
					t.Fatalf("remote start %v", a)
				}
			}
			var tx store.Transaction
			eventually(t, "the remote-started transaction", func() bool {
				txs := transactions(t, srv, id)
				if len(txs) == 1 && txs[0].State == store.TransactionActive {
					tx = txs[0]
					return true
				}
				return false
			})
			if tx.IDToken != "TAG-REMOTE" {
				t.Fatalf("transaction %+v", tx)
			}
			if v != ocpp.V16 && (tx.RemoteStartID == nil || *tx.RemoteStartID != 77) {
				t.Fatalf("remote start id %v", tx.RemoteStartID)
			}
			if running := ch.Transactions(); len(running) != 1 || running[0].ID != tx.TransactionID {
				t.Fatalf("station runs %+v, CSMS has %s", running, tx.TransactionID)
			}

			if v == ocpp.V16 {
				if a := command(t, srv, id, "RemoteStopTransaction", `{"transactionId":`+tx.TransactionID+`}`); a["status"] != "Accepted" {
					t.Fatalf("remote stop %v", a)
				}
			} else {
				if a := command(t, srv, id, "RequestStopTransaction", `{"transactionId":"`+tx.TransactionID+`"}`); a["status"] != "Accepted" {
					t.Fatalf("remote stop %v", a)
				}
			}
			eventually(t, "the remote stop", func() bool {
				return transaction(t, srv, id, tx.TransactionID).State == store.TransactionEnded
			})
			if got := transaction(t, srv, id, tx.TransactionID); got.StopReason != "Remote" {
				t.Fatalf("stop reason %q", got.StopReason)
			}
			if len(ch.Transactions()) != 0 {
				t.Fatal("the station still charges")
			}
		})
	}
}

// TestScenarioReset: a Reset reboots the station: it stops its session,
// drops the connection, connects and boots again (2.x with reason
// RemoteReset, stored in the shadow).
func TestScenarioReset(t *testing.T) {
	var ids []string
	for _, v := range scenarioVersions {
		ids = append(ids, stationID(v, "reset"))
	}
	srv := startServer(t, testConfig(t), ids...)
	acceptTag(t, srv, sim.DefaultIDTag)
	for _, v := range scenarioVersions {
		t.Run(string(v), func(t *testing.T) {
			id := stationID(v, "reset")
			ch := runningCharger(t, srv, id, v, sim.ChargerOptions{})
			stx, err := ch.Start(ctxT(t), 1, 1, "")
			if err != nil {
				t.Fatal(err)
			}
			payload := `{"type":"Immediate"}`
			if v == ocpp.V16 {
				payload = `{"type":"Soft"}`
			}
			if a := command(t, srv, id, "Reset", payload); a["status"] != "Accepted" {
				t.Fatalf("reset %v", a)
			}
			eventually(t, "the boot after the reset", func() bool { return ch.Boots() == 2 && ch.Online() })
			tx := transaction(t, srv, id, stx.ID)
			wantReason := "SoftReset"
			if v != ocpp.V16 {
				wantReason = "ImmediateReset"
			}
			if tx.State != store.TransactionEnded || tx.StopReason != wantReason {
				t.Fatalf("transaction after reset: %s %q", tx.State, tx.StopReason)
			}
			if v != ocpp.V16 {
				eventually(t, "the reset reason in the shadow", func() bool {
					rec, err := srv.store.GetShadow(ctxT(t), id)
					return err == nil && bytes.Contains(rec.Document, []byte(`"RemoteReset"`))
				})
			}
			cp, err := srv.store.GetChargePoint(ctxT(t), id)
			if err != nil || !cp.Online {
				t.Fatalf("registry after reset: %+v %v", cp, err)
			}
		})
	}
}

// TestScenarioVariables: the operator reads and changes the station's
// settings (2.x Get/SetVariables and a base report into the stored
// device model; 1.6 Get/ChangeConfiguration), and the station acts on
// them.
func TestScenarioVariables(t *testing.T) {
	var ids []string
	for _, v := range scenarioVersions {
		ids = append(ids, stationID(v, "vars"))
	}
	srv := startServer(t, testConfig(t), ids...)
	for _, v := range scenarioVersions {
		t.Run(string(v), func(t *testing.T) {
			id := stationID(v, "vars")
			ch := runningCharger(t, srv, id, v, sim.ChargerOptions{})
			if v == ocpp.V16 {
				if a := command(t, srv, id, "ChangeConfiguration", `{"key":"HeartbeatInterval","value":"45"}`); a["status"] != "Accepted" {
					t.Fatalf("ChangeConfiguration %v", a)
				}
				if a := command(t, srv, id, "ChangeConfiguration", `{"key":"NoSuchKey","value":"1"}`); a["status"] != "NotSupported" {
					t.Fatalf("ChangeConfiguration of an unknown key %v", a)
				}
				a := command(t, srv, id, "GetConfiguration", `{"key":["HeartbeatInterval","NoSuchKey"]}`)
				keys, _ := a["configurationKey"].([]any)
				if len(keys) != 1 || keys[0].(map[string]any)["value"] != "45" || fmt.Sprint(a["unknownKey"]) != "[NoSuchKey]" {
					t.Fatalf("GetConfiguration %v", a)
				}
			} else {
				a := command(t, srv, id, "SetVariables", `{"setVariableData":[
					{"component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"},"attributeValue":"45"},
					{"component":{"name":"NoSuchCtrlr"},"variable":{"name":"X"},"attributeValue":"1"}]}`)
				res := a["setVariableResult"].([]any)
				if res[0].(map[string]any)["attributeStatus"] != "Accepted" || res[1].(map[string]any)["attributeStatus"] != "UnknownComponent" {
					t.Fatalf("SetVariables %v", a)
				}
				a = command(t, srv, id, "GetVariables", `{"getVariableData":[{"component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"}}]}`)
				if r := a["getVariableResult"].([]any)[0].(map[string]any); r["attributeValue"] != "45" || r["attributeStatus"] != "Accepted" {
					t.Fatalf("GetVariables %v", a)
				}
				if a := command(t, srv, id, "GetBaseReport", `{"requestId":1,"reportBase":"FullInventory"}`); a["status"] != "Accepted" {
					t.Fatalf("GetBaseReport %v", a)
				}
				eventually(t, "the device model from NotifyReport", func() bool {
					dm, err := srv.store.DeviceModel(ctxT(t), id)
					if err != nil {
						return false
					}
					for _, dv := range dm {
						if dv.Component == "OCPPCommCtrlr" && dv.Variable == "HeartbeatInterval" && bytes.Contains(dv.Attributes, []byte(`"45"`)) {
							return len(dm) > 40
						}
					}
					return false
				})
			}
			if got, _ := ch.Variable("HeartbeatInterval"); got != "45" {
				t.Fatalf("station's heartbeat interval %s", got)
			}
		})
	}
}

// TestScenarioFirmwareAndLogs: UpdateFirmware with a file the server
// itself serves on its OCPP port (files.Store under /files/): the station
// downloads it and walks through the statuses, which the CSMS stores;
// GetLog/GetDiagnostics makes it upload a log to the OCPP port, which the
// server keeps on disk.
func TestScenarioFirmwareAndLogs(t *testing.T) {
	var ids []string
	for _, v := range scenarioVersions {
		ids = append(ids, stationID(v, "fw"))
	}
	cfg := testConfig(t)
	srv := startServer(t, cfg, ids...)
	fs := srv.files.store
	if fs == nil {
		t.Fatal("serve has no files store")
	}
	fw, err := fs.PutFirmware(strings.NewReader("FIRMWARE 11.0"), "fw-11.0.bin")
	if err != nil {
		t.Fatal(err)
	}
	if base := "http://" + srv.OCPPAddr() + "/files/firmware/"; !strings.HasPrefix(fw.URL, base) {
		t.Fatalf("firmware URL %s is not on the OCPP port (%s…)", fw.URL, base)
	}
	for _, v := range scenarioVersions {
		t.Run(string(v), func(t *testing.T) {
			id := stationID(v, "fw")
			ch := runningCharger(t, srv, id, v, sim.ChargerOptions{})
			retrieve := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
			if v == ocpp.V16 {
				command(t, srv, id, "UpdateFirmware", `{"location":"`+fw.URL+`","retrieveDate":"`+retrieve+`"}`)
			} else if a := command(t, srv, id, "UpdateFirmware", `{"requestId":9,"firmware":{"location":"`+fw.URL+`","retrieveDateTime":"`+retrieve+`"}}`); a["status"] != "Accepted" {
				t.Fatalf("UpdateFirmware %v", a)
			}
			var statuses []string
			eventually(t, "FirmwareStatusNotification Installed", func() bool {
				evs, err := srv.store.ListStationEvents(ctxT(t), id, "FirmwareStatusNotification", 0)
				if err != nil {
					return false
				}
				statuses = statuses[:0]
				for i := len(evs) - 1; i >= 0; i-- {
					statuses = append(statuses, evs[i].Status)
				}
				return len(statuses) == 4
			})
			if got := strings.Join(statuses, ","); got != "Downloading,Downloaded,Installing,Installed" {
				t.Fatalf("stored firmware statuses %s", got)
			}
			if got := ch.Firmware(); string(got.Data) != "FIRMWARE 11.0" {
				t.Fatalf("station downloaded %q", got.Data)
			}

			action := "LogStatusNotification"
			if v == ocpp.V16 {
				action = "DiagnosticsStatusNotification"
				command(t, srv, id, "GetDiagnostics", `{"location":"`+fs.LogUploadURL(id)+`"}`)
			} else if a := command(t, srv, id, "GetLog", `{"logType":"DiagnosticsLog","requestId":4,"log":{"remoteLocation":"`+fs.LogUploadURL(id)+`"}}`); a["status"] != "Accepted" {
				t.Fatalf("GetLog %v", a)
			}
			eventually(t, action+" Uploaded", func() bool {
				evs, err := srv.store.ListStationEvents(ctxT(t), id, action, 1)
				return err == nil && len(evs) == 1 && evs[0].Status == "Uploaded"
			})
			logs, err := fs.Logs(id)
			if err != nil || len(logs) != 1 || logs[0].Size == 0 {
				t.Fatalf("uploaded logs %+v %v", logs, err)
			}
			if dir := filepath.Join(cfg.DataDir, "files", "logs", id); filepath.Dir(logs[0].Path) != dir {
				t.Fatalf("log kept at %s, want under %s", logs[0].Path, dir)
			}
			if b, err := os.ReadFile(logs[0].Path); err != nil || int64(len(b)) != logs[0].Size {
				t.Fatalf("log file on disk: %d bytes, %v", len(b), err)
			}
		})
	}
}

// TestScenarioForeignStop: a station cannot stop (or update) another
// station's transaction: SecurityError, and the transaction runs on.
func TestScenarioForeignStop(t *testing.T) {
	var ids []string
	for _, v := range scenarioVersions {
		ids = append(ids, stationID(v, "owner"), stationID(v, "intruder"))
	}
	srv := startServer(t, testConfig(t), ids...)
	acceptTag(t, srv, sim.DefaultIDTag)
	for _, v := range scenarioVersions {
		t.Run(string(v), func(t *testing.T) {
			owner := bootedCharger(t, srv, stationID(v, "owner"), v, nil, sim.ChargerOptions{})
			intruder := bootedCharger(t, srv, stationID(v, "intruder"), v, nil, sim.ChargerOptions{})
			ctx := ctxT(t)
			stx, err := owner.Start(ctx, 1, 1, "")
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC().Format(time.RFC3339)
			var p string
			if v == ocpp.V16 {
				p = `{"transactionId":` + stx.ID + `,"meterStop":99999,"timestamp":"` + now + `","reason":"Remote"}`
				_, err = intruder.Call(ctx, "StopTransaction", json.RawMessage(p))
			} else {
				p = `{"eventType":"Ended","timestamp":"` + now + `","triggerReason":"RemoteStop","seqNo":1,"transactionInfo":{"transactionId":"` + stx.ID + `","stoppedReason":"Remote"}}`
				_, err = intruder.Call(ctx, "TransactionEvent", json.RawMessage(p))
			}
			var ce *sim.CallError
			if !errors.As(err, &ce) || ce.Code != "SecurityError" {
				t.Fatalf("foreign stop answered %v, want CALLERROR SecurityError", err)
			}
			tx := transaction(t, srv, owner.ID(), stx.ID)
			if tx.State != store.TransactionActive || tx.ChargePointID != owner.ID() {
				t.Fatalf("owner's transaction after the foreign stop: %+v", tx)
			}
			if txs := transactions(t, srv, intruder.ID()); len(txs) != 0 {
				t.Fatalf("the intruder got rows: %+v", txs)
			}
			// The owner still stops it normally.
			if err := owner.Stop(ctx, 1, 1, sim.ReasonLocal); err != nil {
				t.Fatal(err)
			}
			if tx := transaction(t, srv, owner.ID(), stx.ID); tx.State != store.TransactionEnded {
				t.Fatalf("owner's stop: %s", tx.State)
			}
		})
	}
}

// failingStore makes transaction writes fail while fail is set.
type failingStore struct {
	store.Store
	fail atomic.Bool
}

func (f *failingStore) ApplyTransactionUpdate(ctx context.Context, u store.TransactionUpdate) (store.Transaction, bool, error) {
	if f.fail.Load() {
		return store.Transaction{}, false, ocppd.Errorf(ocppd.EINTERNAL, "disk full")
	}
	return f.Store.ApplyTransactionUpdate(ctx, u)
}

func (f *failingStore) AddMeterSamples(ctx context.Context, s []store.MeterSample) error {
	if f.fail.Load() {
		return ocppd.Errorf(ocppd.EINTERNAL, "disk full")
	}
	return f.Store.AddMeterSamples(ctx, s)
}

// TestScenarioStoreFailure: persist, then answer — when the store fails
// the station gets CALLERROR InternalError, never a CALLRESULT for data
// that was not stored; once the store is back, the same message succeeds.
func TestScenarioStoreFailure(t *testing.T) {
	fsWrap := &failingStore{}
	cfg := testConfig(t)
	cfg.wrapStore = func(s store.Store) store.Store {
		fsWrap.Store = s
		return fsWrap
	}
	var ids []string
	for _, v := range scenarioVersions {
		ids = append(ids, stationID(v, "storefail"))
	}
	srv := startServer(t, cfg, ids...)
	acceptTag(t, srv, sim.DefaultIDTag)
	for _, v := range scenarioVersions {
		t.Run(string(v), func(t *testing.T) {
			id := stationID(v, "storefail")
			ch := bootedCharger(t, srv, id, v, nil, sim.ChargerOptions{})
			ctx := ctxT(t)
			fsWrap.fail.Store(true)
			_, err := ch.Start(ctx, 1, 1, "")
			fsWrap.fail.Store(false)
			var ce *sim.CallError
			if !errors.As(err, &ce) || ce.Code != "InternalError" {
				t.Fatalf("start with a failing store answered %v, want CALLERROR InternalError", err)
			}
			if txs := transactions(t, srv, id); len(txs) != 0 {
				t.Fatalf("rows after a failed write: %+v", txs)
			}
			sent := ch.Sent()
			if len(sent) != 1 || sent[0].Response != nil {
				t.Fatalf("sent %+v", sent)
			}
			// The station's retry of the same message is stored.
			if _, err := ch.Call(ctx, sent[0].Action, sent[0].Payload); err != nil {
				t.Fatalf("retry: %v", err)
			}
			if txs := transactions(t, srv, id); len(txs) != 1 {
				t.Fatalf("%d rows after the retry", len(txs))
			}
		})
	}
}

// TestScenarioSimCommandSession: `ocppd sim --session` charges once and
// the session is stored.
func TestScenarioSimCommandSession(t *testing.T) {
	srv := startServer(t, testConfig(t), "CLI-SESSION")
	acceptTag(t, srv, "CLITAG")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- simCommand(ctx, []string{"--url", wsURL(srv), "--cp-id", "CLI-SESSION", "--ocpp", "2.0.1",
			"--id-tag", "CLITAG", "--evses", "2", "--session", "1500ms", "--meter-interval", "1"}, &bytes.Buffer{}, &stderr)
	}()
	eventually(t, "the CLI session to end", func() bool {
		txs := transactions(t, srv, "CLI-SESSION")
		return len(txs) == 1 && txs[0].State == store.TransactionEnded
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("sim: %v", err)
	}
	tx := transactions(t, srv, "CLI-SESSION")[0]
	if tx.IDToken != "CLITAG" || tx.StopReason != "Local" || tx.EnergyWh <= 0 {
		t.Fatalf("CLI session %+v", tx)
	}
	cur, err := srv.store.CurrentStatus(ctxT(t), "CLI-SESSION")
	if err != nil || len(cur) != 2 {
		t.Fatalf("statuses of the two EVSEs: %+v %v", cur, err)
	}
	if !strings.Contains(stderr.String(), `"TransactionEvent",{"eventType":"Updated"`) {
		t.Fatalf("no periodic meter values in the log:\n%s", stderr.String())
	}
}
