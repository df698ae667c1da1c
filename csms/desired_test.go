package csms

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/shadow"
	"github.com/ocppd/ocppd/store"
)

// newShadowEnv is an env with the shadow runtime serving its topics.
func newShadowEnv(t *testing.T) (*env, *Shadows) {
	t.Helper()
	e := newEnv(t)
	sh := NewShadows(e.svc, ShadowOptions{})
	if err := sh.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sh.Close() })
	return e, sh
}

func desired(t *testing.T, sh *Shadows, cp, js string) shadow.Document {
	t.Helper()
	u, err := shadow.ParseUpdate([]byte(`{"state":{"desired":` + js + `}}`))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := sh.UpdateShadow(context.Background(), cp, u)
	if err != nil {
		t.Fatalf("UpdateShadow: %v", err)
	}
	return doc
}

// expectCall returns the next CALL the CSMS sends the station, requiring
// action.
func (st *station) expectCall(action string) ocpp.Frame {
	st.e.t.Helper()
	f := st.next()
	if f.Type != ocpp.Call || f.Action != action {
		st.e.t.Fatalf("got %s %s %s, want a %s CALL", f.Type, f.Action, f.Payload, action)
	}
	return f
}

// answer sends a CALLRESULT to a CSMS CALL.
func (st *station) answer(f ocpp.Frame, payload string) {
	st.publish(ocpp.AppendCallResult(nil, f.ID, json.RawMessage(payload)))
}

// noFrame requires that the CSMS sends nothing more for a moment (an
// absence cannot be proven by waiting; this catches what is sent at once).
func (st *station) noFrame() {
	st.e.t.Helper()
	select {
	case b := <-st.out:
		st.e.t.Fatalf("unexpected frame %s", b)
	case <-time.After(100 * time.Millisecond):
	}
}

func getDoc(t *testing.T, sh *Shadows, cp string) shadow.Document {
	t.Helper()
	doc, err := sh.GetShadow(context.Background(), cp)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func shadowJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestDesiredVariablesOnline(t *testing.T) {
	e, sh := newShadowEnv(t)
	e.addCP("CP1", ocppd.RegistrationAccepted, ocpp.V201)
	st := e.station("CP1", ocpp.V201)
	doc := desired(t, sh, "CP1", `{"variables":{"OCPPCommCtrlr":{"HeartbeatInterval":60},"AuthCtrlr":{"Enabled":"false"}}}`)
	if shadowJSON(doc.Delta()) != `{"variables":{"AuthCtrlr":{"Enabled":"false"},"OCPPCommCtrlr":{"HeartbeatInterval":60}}}` {
		t.Fatalf("delta %s", shadowJSON(doc.Delta()))
	}
	f := st.expectCall("SetVariables")
	var req struct {
		SetVariableData []variableData `json:"setVariableData"`
	}
	if err := json.Unmarshal(f.Payload, &req); err != nil || len(req.SetVariableData) != 2 {
		t.Fatalf("SetVariables %s", f.Payload)
	}
	if d := req.SetVariableData[1]; d.Component.Name != "OCPPCommCtrlr" || d.Variable.Name != "HeartbeatInterval" || d.AttributeValue != "60" {
		t.Errorf("request %s", f.Payload)
	}
	st.answer(f, `{"setVariableResult":[
		{"attributeStatus":"Rejected","component":{"name":"AuthCtrlr"},"variable":{"name":"Enabled"},"attributeStatusInfo":{"reasonCode":"ReadOnly"}},
		{"attributeStatus":"Accepted","component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"}}]}`)
	eventually(t, "the outcome in reported", func() bool {
		return asObject(getDoc(t, sh, "CP1").State.Reported["variablesStatus"]) != nil
	})
	doc = getDoc(t, sh, "CP1")
	// The accepted value clears its delta (a desired 60 is reported as 60,
	// not "60"); the rejected one stays, with its status.
	if got := shadowJSON(doc.Delta()); got != `{"variables":{"AuthCtrlr":{"Enabled":"false"}}}` {
		t.Errorf("delta %s", got)
	}
	vs := asObject(doc.State.Reported["variablesStatus"])
	if s := asObject(asObject(vs["AuthCtrlr"])["Enabled"]); s["status"] != "Rejected" || s["error"] != "ReadOnly" || s["value"] != "false" {
		t.Errorf("AuthCtrlr status %v", s)
	}
	if s := asObject(asObject(vs["OCPPCommCtrlr"])["HeartbeatInterval"]); s["status"] != "Accepted" || s["commandId"] != f.ID {
		t.Errorf("HeartbeatInterval status %v", s)
	}
	// Another desired change sends only that one: the rejected value is
	// not retried in a loop.
	desired(t, sh, "CP1", `{"variables":{"SampledDataCtrlr":{"TxUpdatedInterval":"30"}}}`)
	f = st.expectCall("SetVariables")
	if err := json.Unmarshal(f.Payload, &req); err != nil || len(req.SetVariableData) != 1 || req.SetVariableData[0].Component.Name != "SampledDataCtrlr" {
		t.Fatalf("SetVariables %s, want SampledDataCtrlr only", f.Payload)
	}
	st.answer(f, `{"setVariableResult":[{"attributeStatus":"RebootRequired","component":{"name":"SampledDataCtrlr"},"variable":{"name":"TxUpdatedInterval"}}]}`)
	eventually(t, "the RebootRequired outcome", func() bool {
		return asObject(asObject(getDoc(t, sh, "CP1").State.Reported["variables"])["SampledDataCtrlr"])["TxUpdatedInterval"] == "30"
	})
	// A changed desired value for the rejected variable is sent again.
	desired(t, sh, "CP1", `{"variables":{"AuthCtrlr":{"Enabled":"true"}}}`)
	f = st.expectCall("SetVariables")
	st.answer(f, `{"setVariableResult":[{"attributeStatus":"Accepted","component":{"name":"AuthCtrlr"},"variable":{"name":"Enabled"}}]}`)
	eventually(t, "an empty delta", func() bool { return getDoc(t, sh, "CP1").Delta() == nil })
	st.noFrame()
}

func TestDesiredConfigurationOffline16(t *testing.T) {
	e, sh := newShadowEnv(t)
	ctx := context.Background()
	e.addCP("CP1", ocppd.RegistrationAccepted, ocpp.V16)
	if err := e.db.RecordDisconnected(ctx, "CP1", "s1", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	st := e.station("CP1", ocpp.V16)
	desired(t, sh, "CP1", `{"configuration":{"HeartbeatInterval":"120","MeterValueSampleInterval":30}}`)
	st.noFrame() // offline: queued
	queued, err := e.svc.ListCommands(ctx, store.CommandFilter{ChargePointID: "CP1", State: store.CommandQueued})
	if err != nil || len(queued) != 2 {
		t.Fatalf("queued commands %v, %v; want 2", queued, err)
	}
	// It connects: the queued commands go out; its boot does not send
	// them a second time.
	ev := bus.LifecycleEvent{Event: bus.EventConnected, ChargePointID: "CP1", GatewayID: "gw", SessionID: "s2", Protocol: "ocpp1.6", Time: e.clock.Now()}
	if err := e.bus.Publish(ctx, bus.Message{Topic: bus.Topics{}.Lifecycle("CP1"), Payload: ev.Encode()}); err != nil {
		t.Fatal(err)
	}
	answers := map[string]string{"HeartbeatInterval": "Accepted", "MeterValueSampleInterval": "NotSupported"}
	var calls []ocpp.Frame
	for range 2 {
		calls = append(calls, st.expectCall("ChangeConfiguration"))
	}
	st.call("BootNotification", map[string]any{"chargePointVendor": "V", "chargePointModel": "M", "firmwareVersion": "1.0"}, nil)
	for _, f := range calls {
		var r struct{ Key, Value string }
		json.Unmarshal(f.Payload, &r)
		st.answer(f, `{"status":"`+answers[r.Key]+`"}`)
	}
	eventually(t, "both outcomes", func() bool {
		return len(asObject(getDoc(t, sh, "CP1").State.Reported["configurationStatus"])) == 2
	})
	doc := getDoc(t, sh, "CP1")
	if got := shadowJSON(doc.Delta()); got != `{"configuration":{"MeterValueSampleInterval":30}}` {
		t.Errorf("delta %s, want the NotSupported key only", got)
	}
	if got := asObject(doc.State.Reported["configuration"])["HeartbeatInterval"]; got != "120" {
		t.Errorf("reported HeartbeatInterval %v", got)
	}
	// Without a desired firmware, reported keeps the seed's shape.
	if doc.State.Reported["firmware"] != nil || doc.State.Reported["firmwareVersion"] != "1.0" {
		t.Errorf("reported firmware %v, firmwareVersion %v", doc.State.Reported["firmware"], doc.State.Reported["firmwareVersion"])
	}
	// A reboot does not retry a refused value.
	st.call("BootNotification", map[string]any{"chargePointVendor": "V", "chargePointModel": "M"}, nil)
	st.noFrame()
}

// A command that timed out is retried when the station boots, not before.
func TestDesiredTimedOutRetriedAtBoot(t *testing.T) {
	e, sh := newShadowEnv(t)
	e.addCP("CP1", ocppd.RegistrationAccepted, ocpp.V16)
	st := e.station("CP1", ocpp.V16)
	desired(t, sh, "CP1", `{"configuration":{"HeartbeatInterval":"120"}}`)
	st.expectCall("ChangeConfiguration") // never answered
	e.clock.Advance(2 * time.Minute)     // past the 60 s command timeout
	eventually(t, "the timeout in reported", func() bool {
		s := asObject(asObject(getDoc(t, sh, "CP1").State.Reported["configurationStatus"])["HeartbeatInterval"])
		return s["status"] == statusTimedOut
	})
	desired(t, sh, "CP1", `{"configuration":{"Other":"1"}}`)
	f := st.expectCall("ChangeConfiguration")
	if string(f.Payload) != `{"key":"Other","value":"1"}` {
		t.Errorf("sent %s, want Other only", f.Payload)
	}
	st.answer(f, `{"status":"Accepted"}`)
	st.call("BootNotification", map[string]any{"chargePointVendor": "V", "chargePointModel": "M"}, nil)
	f = st.expectCall("ChangeConfiguration")
	if string(f.Payload) != `{"key":"HeartbeatInterval","value":"120"}` {
		t.Errorf("sent %s at boot, want the timed-out HeartbeatInterval", f.Payload)
	}
}

func TestDesiredFirmware(t *testing.T) {
	e, sh := newShadowEnv(t)
	e.addCP("CP1", ocppd.RegistrationAccepted, ocpp.V201)
	st := e.station("CP1", ocpp.V201)
	boot := func(fw string) {
		st.call("BootNotification", map[string]any{"reason": "PowerUp",
			"chargingStation": map[string]any{"model": "M", "vendorName": "V", "firmwareVersion": fw}}, nil)
	}
	boot("1.0")
	desired(t, sh, "CP1", `{"firmware":{"version":"2.0","location":"https://fw.example/2.0.bin"}}`)
	f := st.expectCall("UpdateFirmware")
	var req struct {
		RequestID int `json:"requestId"`
		Firmware  struct {
			Location string `json:"location"`
		} `json:"firmware"`
	}
	if err := json.Unmarshal(f.Payload, &req); err != nil || req.Firmware.Location != "https://fw.example/2.0.bin" {
		t.Fatalf("UpdateFirmware %s", f.Payload)
	}
	st.answer(f, `{"status":"Accepted"}`)
	eventually(t, "the accepted update", func() bool {
		return asObject(asObject(asObject(getDoc(t, sh, "CP1").State.Reported["firmware"])["update"]))["status"] == "Accepted"
	})
	// FirmwareStatusNotification is recorded once the CSMS handles it.
	fsn := st.callRaw("FirmwareStatusNotification", fmt.Sprintf(`{"status":"Installed","requestId":%d}`, req.RequestID))
	boot("2.0")
	eventually(t, "an empty delta", func() bool { return getDoc(t, sh, "CP1").Delta() == nil })
	fw := asObject(getDoc(t, sh, "CP1").State.Reported["firmware"])
	if fw["version"] != "2.0" || fw["location"] != "https://fw.example/2.0.bin" {
		t.Errorf("reported firmware %v", fw)
	}
	if fsn.Type == ocpp.CallResult && asObject(fw["status"])["status"] != "Installed" {
		t.Errorf("reported firmware status %v", fw["status"])
	}
	st.noFrame()
}

func TestReportedStatusAndReads(t *testing.T) {
	e, sh := newShadowEnv(t)
	ctx := context.Background()
	e.addCP("CP1", ocppd.RegistrationAccepted, ocpp.V201)
	st := e.station("CP1", ocpp.V201)
	desired(t, sh, "CP1", `{"variables":{"OCPPCommCtrlr":{"HeartbeatInterval":300}}}`)
	st.answer(st.expectCall("SetVariables"), `{"setVariableResult":[{"attributeStatus":"Rejected","component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"}}]}`)
	st.call("StatusNotification", map[string]any{"timestamp": "2025-06-01T12:00:00Z", "connectorStatus": "Available", "evseId": 1, "connectorId": 1}, nil)
	c, err := e.svc.Send(ctx, "CP1", "GetVariables", map[string]any{"getVariableData": []map[string]any{
		{"component": map[string]any{"name": "OCPPCommCtrlr"}, "variable": map[string]any{"name": "HeartbeatInterval"}}}})
	if err != nil {
		t.Fatal(err)
	}
	f := st.expectCall("GetVariables")
	st.answer(f, `{"getVariableResult":[{"attributeStatus":"Accepted","attributeValue":"300","component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"}}]}`)
	if _, err := e.svc.Wait(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the read value to clear the delta", func() bool { return getDoc(t, sh, "CP1").Delta() == nil })
	doc := getDoc(t, sh, "CP1")
	if got := shadowJSON(doc.State.Reported["connectors"]); got != `{"1/1":{"status":"Available","timestamp":"2025-06-01T12:00:00Z"}}` {
		t.Errorf("connectors %s", got)
	}
}
