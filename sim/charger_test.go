package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/message"
)

var allVersions = []ocpp.Version{ocpp.V16, ocpp.V201, ocpp.V21}

// fakeClock is a settable clock for meter readings and timestamps.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Add(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// csmsServer is a test server that answers what a CSMS must: every
// station CALL is validated against the schema of the version and
// answered with a valid CALLRESULT; 1.6 transaction ids count from 100.
func csmsServer(t *testing.T) *testServer {
	t.Helper()
	ts := newTestServer(t)
	var txID atomic.Int64
	txID.Store(99)
	ts.answer = func(tc *testConn, f ocpp.Frame) []byte {
		v := ocpp.Version(tc.Subprotocol)
		if _, err := message.DecodeRequest(v, f.Action, f.Payload, ocpp.DecodeOptions{}); err != nil {
			t.Errorf("%s: the station sent an invalid %s %s: %v", v, f.Action, f.Payload, err)
		}
		var p string
		switch f.Action {
		case "BootNotification", "Heartbeat", "StatusNotification":
			return nil
		case "Authorize":
			if v == ocpp.V16 {
				p = `{"idTagInfo":{"status":"Accepted"}}`
			} else {
				p = `{"idTokenInfo":{"status":"Accepted"}}`
			}
			if strings.Contains(string(f.Payload), "BLOCKED") {
				p = strings.Replace(p, "Accepted", "Blocked", 1)
			}
		case "StartTransaction":
			p = fmt.Sprintf(`{"idTagInfo":{"status":"Accepted"},"transactionId":%d}`, txID.Add(1))
		case "StopTransaction":
			p = `{"idTagInfo":{"status":"Accepted"}}`
		case "TransactionEvent":
			p = `{}`
		default:
			p = `{}`
		}
		return ocpp.AppendCallResult(nil, f.ID, json.RawMessage(p))
	}
	return ts
}

// newCharger connects a charger to ts and boots it.
func newCharger(t *testing.T, ts *testServer, v ocpp.Version, co ChargerOptions, clock *fakeClock) (*Charger, *testConn) {
	t.Helper()
	opts := Options{URL: ts.URL, ID: "CP1", Version: v, CallTimeout: waitFor}
	if clock != nil {
		opts.Now = clock.Now
	}
	ch := NewCharger(opts, co)
	t.Cleanup(func() { _ = ch.Close() })
	ctx := testCtx(t)
	if err := ch.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	tc := ts.next()
	if res, err := ch.Boot(ctx); err != nil || res.Status != StatusAccepted {
		t.Fatalf("boot: %+v %v", res, err)
	}
	tc.nextCallOf(t, "BootNotification")
	return ch, tc
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

// payload decodes a frame's payload into a map.
func payload(t *testing.T, f ocpp.Frame) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(f.Payload, &m); err != nil {
		t.Fatalf("%s payload %s: %v", f.Action, f.Payload, err)
	}
	return m
}

// get walks a decoded JSON value: keys for objects, ints for arrays.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

// energy returns the energy register value of a frame's first meter
// value (1.6 strings, 2.x numbers) and its context.
func energy(t *testing.T, v ocpp.Version, f ocpp.Frame) (float64, string) {
	t.Helper()
	m := payload(t, f)
	var mv any
	switch {
	case v == ocpp.V16 && f.Action == "StopTransaction":
		mv = get(m, "transactionData", 0)
	default:
		mv = get(m, "meterValue", 0)
	}
	sv := get(mv, "sampledValue", 0)
	ctx, _ := get(sv, "context").(string)
	switch x := get(sv, "value").(type) {
	case string:
		var n float64
		fmt.Sscan(x, &n)
		return n, ctx
	case float64:
		return x, ctx
	}
	t.Fatalf("no energy in %s", f.Payload)
	return 0, ""
}

// callValid sends a CALL to the station and checks that its CALLRESULT
// is valid for the version.
func callValid(t *testing.T, tc *testConn, action, p string) map[string]any {
	t.Helper()
	ans := tc.call(t, action+"-1", action, p)
	if ans.Type != ocpp.CallResult {
		t.Fatalf("%s: answer %+v %s", action, ans, ans.Payload)
	}
	v := ocpp.Version(tc.Subprotocol)
	if _, err := message.DecodeResponse(v, action, ans.Payload, ocpp.DecodeOptions{}); err != nil {
		t.Fatalf("%s: invalid answer %s: %v", action, ans.Payload, err)
	}
	return payload(t, ans)
}

func TestChargerSessionPerVersion(t *testing.T) {
	for _, v := range allVersions {
		t.Run(string(v), func(t *testing.T) {
			ts := csmsServer(t)
			clock := newFakeClock()
			ch, tc := newCharger(t, ts, v, ChargerOptions{InitialMeterWh: 1000}, clock)
			ctx := testCtx(t)

			tx, err := ch.Start(ctx, 1, 1, "")
			if err != nil {
				t.Fatal(err)
			}
			if tx.MeterStartWh != 1000 || tx.IDTag != DefaultIDTag {
				t.Fatalf("started %+v", tx)
			}
			auth := tc.nextCallOf(t, "Authorize")
			if !strings.Contains(string(auth.Payload), DefaultIDTag) {
				t.Fatalf("Authorize %s", auth.Payload)
			}
			clock.Add(30 * time.Minute)
			if err := ch.MeterValues(ctx, 1, 1); err != nil {
				t.Fatal(err)
			}
			clock.Add(30 * time.Minute)
			if err := ch.Stop(ctx, 1, 1, ReasonLocal); err != nil {
				t.Fatal(err)
			}
			if len(ch.Transactions()) != 0 {
				t.Fatalf("transactions after stop: %+v", ch.Transactions())
			}

			if v == ocpp.V16 {
				start := tc.nextCallOf(t, "StartTransaction")
				m := payload(t, start)
				if m["meterStart"] != 1000.0 || m["idTag"] != DefaultIDTag || m["connectorId"] != 1.0 {
					t.Fatalf("StartTransaction %s", start.Payload)
				}
				if tx.ID != "100" {
					t.Fatalf("transaction id %q, want the CSMS's 100", tx.ID)
				}
				mv := tc.nextCallOf(t, "MeterValues")
				if get(payload(t, mv), "transactionId") != 100.0 {
					t.Fatalf("MeterValues %s", mv.Payload)
				}
				if e, c := energy(t, v, mv); e != 6500 || c != "Sample.Periodic" {
					t.Fatalf("MeterValues energy %v %s, want 6500 (1000 + 11 kW × 30 min)", e, c)
				}
				stop := tc.nextCallOf(t, "StopTransaction")
				m = payload(t, stop)
				if m["meterStop"] != 12000.0 || m["transactionId"] != 100.0 || m["reason"] != "Local" || m["idTag"] != DefaultIDTag {
					t.Fatalf("StopTransaction %s", stop.Payload)
				}
				return
			}
			var evs []ocpp.Frame
			for range 3 {
				evs = append(evs, tc.nextCallOf(t, "TransactionEvent"))
			}
			for i, want := range []struct {
				typ, trigger, ctx string
				wh                float64
			}{{"Started", "Authorized", "Transaction.Begin", 1000}, {"Updated", "MeterValuePeriodic", "Sample.Periodic", 6500}, {"Ended", "StopAuthorized", "Transaction.End", 12000}} {
				m := payload(t, evs[i])
				if m["eventType"] != want.typ || m["triggerReason"] != want.trigger || m["seqNo"] != float64(i) ||
					get(m, "transactionInfo", "transactionId") != tx.ID || m["offline"] != nil {
					t.Fatalf("event %d: %s", i, evs[i].Payload)
				}
				if e, c := energy(t, v, evs[i]); e != want.wh || c != want.ctx {
					t.Fatalf("event %d energy %v %s, want %v %s", i, e, c, want.wh, want.ctx)
				}
			}
			if m := payload(t, evs[2]); get(m, "transactionInfo", "stoppedReason") != "Local" || get(m, "idToken", "idToken") != DefaultIDTag {
				t.Fatalf("Ended %s", evs[2].Payload)
			}
			if m := payload(t, evs[0]); get(m, "evse", "id") != 1.0 || get(m, "idToken", "type") != "ISO14443" {
				t.Fatalf("Started %s", evs[0].Payload)
			}
		})
	}
}

func TestChargerNotAuthorized(t *testing.T) {
	ts := csmsServer(t)
	ch, _ := newCharger(t, ts, ocpp.V201, ChargerOptions{}, nil)
	_, err := ch.Start(testCtx(t), 1, 1, "BLOCKED")
	if err == nil || !strings.Contains(err.Error(), "Blocked") {
		t.Fatalf("start with a blocked tag: %v", err)
	}
	if len(ch.Transactions()) != 0 {
		t.Fatal("a transaction started")
	}
}

func TestChargerOfflineReplay(t *testing.T) {
	for _, v := range allVersions {
		t.Run(string(v), func(t *testing.T) {
			ts := csmsServer(t)
			clock := newFakeClock()
			ch, tc := newCharger(t, ts, v, ChargerOptions{}, clock)
			ctx := testCtx(t)

			// Goes offline before the session: everything is queued,
			// the start included.
			ch.Disconnect(1000, "")
			<-tc.Closed
			if ch.Online() {
				t.Fatal("online after disconnect")
			}
			tx, err := ch.Start(ctx, 1, 1, "OFFLINE1")
			if err != nil {
				t.Fatalf("offline start: %v", err)
			}
			clock.Add(time.Hour)
			if err := ch.MeterValues(ctx, 1, 1); err != nil {
				t.Fatal(err)
			}
			clock.Add(time.Hour)
			if err := ch.Stop(ctx, 1, 1, ReasonLocal); err != nil {
				t.Fatal(err)
			}
			if n := ch.Queued(); n != 3 {
				t.Fatalf("queued %d, want 3", n)
			}

			if err := ch.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			tc = ts.next()
			if _, err := ch.Boot(ctx); err != nil {
				t.Fatal(err)
			}
			if n := ch.Queued(); n != 0 {
				t.Fatalf("queued %d after replay", n)
			}
			tc.nextCallOf(t, "BootNotification")
			var got []ocpp.Frame
			for range 3 {
				got = append(got, tc.nextCall(t))
			}
			if v == ocpp.V16 {
				if got[0].Action != "StartTransaction" || got[1].Action != "MeterValues" || got[2].Action != "StopTransaction" {
					t.Fatalf("replayed %s %s %s", got[0].Action, got[1].Action, got[2].Action)
				}
				// The id the CSMS gave on replay is used by what follows.
				if get(payload(t, got[1]), "transactionId") != 100.0 || get(payload(t, got[2]), "transactionId") != 100.0 {
					t.Fatalf("replayed %s / %s", got[1].Payload, got[2].Payload)
				}
				// Timestamps are those of the events, not of the replay.
				if ts, _ := get(payload(t, got[0]), "timestamp").(string); ts != "2025-03-01T10:00:00Z" {
					t.Fatalf("start timestamp %s", ts)
				}
				if e, _ := energy(t, v, got[2]); e != 22000 {
					t.Fatalf("stop energy %v", e)
				}
			} else {
				for i, f := range got {
					m := payload(t, f)
					if f.Action != "TransactionEvent" || m["offline"] != true || m["seqNo"] != float64(i) || get(m, "transactionInfo", "transactionId") != tx.ID {
						t.Fatalf("replayed %d: %s %s", i, f.Action, f.Payload)
					}
				}
			}
			sent := ch.Sent()
			if len(sent) != 3 || !sent[0].Replayed {
				t.Fatalf("sent log %+v", sent)
			}
		})
	}
}

func TestChargerQueuesWhenTheLinkDropsMidSession(t *testing.T) {
	ts := csmsServer(t)
	ch, tc := newCharger(t, ts, ocpp.V201, ChargerOptions{}, nil)
	ctx := testCtx(t)
	if _, err := ch.Start(ctx, 1, 1, ""); err != nil {
		t.Fatal(err)
	}
	tc.nextCallOf(t, "TransactionEvent")
	_ = tc.ws.NetConn().Close() // the server vanishes
	<-tc.Closed
	eventually(t, func() bool { return !ch.Connected() })
	if err := ch.Stop(ctx, 1, 1, ReasonLocal); err != nil {
		t.Fatal(err)
	}
	if ch.Queued() != 1 {
		t.Fatalf("queued %d", ch.Queued())
	}
	r := runStation(t, ch.Station)
	_ = r
	tc = ts.next()
	f := tc.nextCallOf(t, "TransactionEvent")
	if m := payload(t, f); m["eventType"] != "Ended" || m["offline"] != true {
		t.Fatalf("replayed %s", f.Payload)
	}
	// Run reports every connector after the replay.
	if f := tc.nextCallOf(t, "StatusNotification"); get(payload(t, f), "connectorStatus") != "Available" {
		t.Fatalf("status %s", f.Payload)
	}
}

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestChargerMeterInterval(t *testing.T) {
	ts := csmsServer(t)
	ch, tc := newCharger(t, ts, ocpp.V16, ChargerOptions{}, nil)
	ctx := testCtx(t)
	// The CSMS sets the interval; the session then samples on its own.
	if a := callValid(t, tc, "ChangeConfiguration", `{"key":"MeterValueSampleInterval","value":"1"}`); a["status"] != "Accepted" {
		t.Fatalf("ChangeConfiguration %v", a)
	}
	if _, err := ch.Start(ctx, 1, 1, ""); err != nil {
		t.Fatal(err)
	}
	mv := tc.nextCallOf(t, "MeterValues")
	if get(payload(t, mv), "transactionId") != 100.0 {
		t.Fatalf("MeterValues %s", mv.Payload)
	}
}

func TestChargerSession(t *testing.T) {
	ts := csmsServer(t)
	ch, tc := newCharger(t, ts, ocpp.V201, ChargerOptions{EVSEs: 2, MeterInterval: time.Second}, nil)
	tx, err := ch.Session(testCtx(t), SessionOptions{EVSE: 2, Duration: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if tx.EVSE != 2 || tx.ID == "" || tx.MeterNowWh < tx.MeterStartWh {
		t.Fatalf("session %+v", tx)
	}
	var types []string
	for {
		f := tc.nextCallOf(t, "TransactionEvent")
		m := payload(t, f)
		types = append(types, m["eventType"].(string))
		if get(m, "evse", "id") != 2.0 {
			t.Fatalf("event on EVSE %v", get(m, "evse", "id"))
		}
		if m["eventType"] == "Ended" {
			break
		}
	}
	if len(types) < 3 || types[0] != "Started" || types[1] != "Updated" {
		t.Fatalf("events %v: want Started, at least one Updated (interval 1 s over 1.5 s), Ended", types)
	}
}

func TestChargerReset(t *testing.T) {
	for _, v := range allVersions {
		t.Run(string(v), func(t *testing.T) {
			ts := csmsServer(t)
			ch := NewCharger(Options{URL: ts.URL, Version: v, CallTimeout: waitFor}, ChargerOptions{})
			t.Cleanup(func() { _ = ch.Close() })
			runStation(t, ch.Station)
			tc := ts.next()
			tc.nextCallOf(t, "StatusNotification")
			if _, err := ch.Start(testCtx(t), 1, 1, ""); err != nil {
				t.Fatal(err)
			}
			typ := `{"type":"Immediate"}`
			if v == ocpp.V16 {
				typ = `{"type":"Hard"}`
			}
			if a := callValid(t, tc, "Reset", typ); a["status"] != "Accepted" {
				t.Fatalf("Reset %v", a)
			}
			// The running transaction is stopped for the reset.
			if v == ocpp.V16 {
				if f := tc.nextCallOf(t, "StopTransaction"); get(payload(t, f), "reason") != "HardReset" {
					t.Fatalf("stop %s", f.Payload)
				}
			} else {
				for {
					f := tc.nextCallOf(t, "TransactionEvent")
					if m := payload(t, f); m["eventType"] == "Ended" {
						if m["triggerReason"] != "ResetCommand" || get(m, "transactionInfo", "stoppedReason") != "ImmediateReset" {
							t.Fatalf("ended %s", f.Payload)
						}
						break
					}
				}
			}
			<-tc.Closed
			tc2 := ts.next()
			boot := tc2.nextCallOf(t, "BootNotification")
			if v != ocpp.V16 && get(payload(t, boot), "reason") != "RemoteReset" {
				t.Fatalf("boot after reset %s", boot.Payload)
			}
			eventually(t, func() bool { return ch.Boots() == 2 })
		})
	}
}

func TestChargerResetOnIdleIsScheduled(t *testing.T) {
	ts := csmsServer(t)
	ch := NewCharger(Options{URL: ts.URL, Version: ocpp.V201, CallTimeout: waitFor}, ChargerOptions{})
	t.Cleanup(func() { _ = ch.Close() })
	runStation(t, ch.Station)
	tc := ts.next()
	tc.nextCallOf(t, "StatusNotification")
	ctx := testCtx(t)
	if _, err := ch.Start(ctx, 1, 1, ""); err != nil {
		t.Fatal(err)
	}
	if a := callValid(t, tc, "Reset", `{"type":"OnIdle"}`); a["status"] != "Scheduled" {
		t.Fatalf("Reset %v", a)
	}
	if err := ch.Stop(ctx, 1, 1, ReasonLocal); err != nil {
		t.Fatal(err)
	}
	<-tc.Closed // rebooted once idle
	ts.next().nextCallOf(t, "BootNotification")
}

func TestChargerRemoteStartStop(t *testing.T) {
	for _, v := range allVersions {
		t.Run(string(v), func(t *testing.T) {
			ts := csmsServer(t)
			ch, tc := newCharger(t, ts, v, ChargerOptions{EVSEs: 2}, nil)
			var id string
			if v == ocpp.V16 {
				if a := callValid(t, tc, "RemoteStartTransaction", `{"connectorId":2,"idTag":"REMOTE1"}`); a["status"] != "Accepted" {
					t.Fatalf("remote start %v", a)
				}
				f := tc.nextCallOf(t, "StartTransaction")
				if m := payload(t, f); m["connectorId"] != 2.0 || m["idTag"] != "REMOTE1" {
					t.Fatalf("start %s", f.Payload)
				}
				id = "100"
			} else {
				if a := callValid(t, tc, "RequestStartTransaction", `{"evseId":2,"remoteStartId":42,"idToken":{"idToken":"REMOTE1","type":"Central"}}`); a["status"] != "Accepted" {
					t.Fatalf("remote start %v", a)
				}
				f := tc.nextCallOf(t, "TransactionEvent")
				m := payload(t, f)
				if m["triggerReason"] != "RemoteStart" || get(m, "transactionInfo", "remoteStartId") != 42.0 || get(m, "evse", "id") != 2.0 {
					t.Fatalf("started %s", f.Payload)
				}
				id = get(m, "transactionInfo", "transactionId").(string)
			}
			eventually(t, func() bool { tx := ch.Transactions(); return len(tx) == 1 && tx[0].ID == id })

			// Stopping an unknown transaction is refused.
			if v == ocpp.V16 {
				if a := callValid(t, tc, "RemoteStopTransaction", `{"transactionId":999}`); a["status"] != "Rejected" {
					t.Fatalf("stop unknown %v", a)
				}
				if a := callValid(t, tc, "RemoteStopTransaction", `{"transactionId":`+id+`}`); a["status"] != "Accepted" {
					t.Fatalf("remote stop %v", a)
				}
				if f := tc.nextCallOf(t, "StopTransaction"); get(payload(t, f), "reason") != "Remote" {
					t.Fatalf("stop %s", f.Payload)
				}
			} else {
				if a := callValid(t, tc, "RequestStopTransaction", `{"transactionId":"nope"}`); a["status"] != "Rejected" {
					t.Fatalf("stop unknown %v", a)
				}
				if a := callValid(t, tc, "RequestStopTransaction", `{"transactionId":"`+id+`"}`); a["status"] != "Accepted" {
					t.Fatalf("remote stop %v", a)
				}
				f := tc.nextCallOf(t, "TransactionEvent")
				if m := payload(t, f); m["eventType"] != "Ended" || m["triggerReason"] != "RemoteStop" || get(m, "transactionInfo", "stoppedReason") != "Remote" {
					t.Fatalf("ended %s", f.Payload)
				}
			}
			eventually(t, func() bool { return len(ch.Transactions()) == 0 })
		})
	}
}

func TestChargerDeviceModel16(t *testing.T) {
	ts := csmsServer(t)
	ch, tc := newCharger(t, ts, ocpp.V16, ChargerOptions{}, nil)
	a := callValid(t, tc, "GetConfiguration", `{"key":["HeartbeatInterval","NoSuchKey","AuthorizationKey"]}`)
	keys := get(a, "configurationKey").([]any)
	if len(keys) != 2 || get(keys[0], "key") != "HeartbeatInterval" || get(keys[0], "value") != "300" || get(keys[0], "readonly") != false {
		t.Fatalf("configurationKey %v", keys)
	}
	if get(keys[1], "key") != "AuthorizationKey" || get(keys[1], "value") != nil {
		t.Fatalf("write-only AuthorizationKey reported as %v", keys[1])
	}
	if u := get(a, "unknownKey").([]any); len(u) != 1 || u[0] != "NoSuchKey" {
		t.Fatalf("unknownKey %v", u)
	}
	all := callValid(t, tc, "GetConfiguration", `{}`)
	if n := len(get(all, "configurationKey").([]any)); n < 20 {
		t.Fatalf("%d keys in the full configuration", n)
	}
	for _, c := range []struct{ key, value, want string }{
		{"HeartbeatInterval", "120", "Accepted"},
		{"HeartbeatInterval", "soon", "Rejected"},
		{"NumberOfConnectors", "4", "Rejected"},
		{"Frobnicate", "1", "NotSupported"},
		{"LocalAuthorizeOffline", "FALSE", "Accepted"},
		{"AuthorizationKey", "short", "Rejected"},
		{"AuthorizationKey", "0123456789abcdef0123", "Accepted"},
	} {
		p, _ := json.Marshal(map[string]string{"key": c.key, "value": c.value})
		if a := callValid(t, tc, "ChangeConfiguration", string(p)); a["status"] != c.want {
			t.Errorf("ChangeConfiguration %s=%s: %v, want %s", c.key, c.value, a["status"], c.want)
		}
	}
	if v, _ := ch.Variable("HeartbeatInterval"); v != "120" {
		t.Errorf("HeartbeatInterval %s", v)
	}
	if v, _ := ch.Variable("LocalAuthorizeOffline"); v != "false" {
		t.Errorf("LocalAuthorizeOffline %s", v)
	}
}

func TestChargerDeviceModel2x(t *testing.T) {
	for _, v := range []ocpp.Version{ocpp.V201, ocpp.V21} {
		t.Run(string(v), func(t *testing.T) {
			ts := csmsServer(t)
			ch, tc := newCharger(t, ts, v, ChargerOptions{EVSEs: 2}, nil)
			a := callValid(t, tc, "GetVariables", `{"getVariableData":[
				{"component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"}},
				{"component":{"name":"SecurityCtrlr"},"variable":{"name":"BasicAuthPassword"}},
				{"component":{"name":"OCPPCommCtrlr"},"variable":{"name":"NoSuchVariable"}},
				{"component":{"name":"NoSuchCtrlr"},"variable":{"name":"Enabled"}},
				{"component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"},"attributeType":"Target"},
				{"component":{"name":"EVSE","evse":{"id":2}},"variable":{"name":"AvailabilityState"}}]}`)
			res := get(a, "getVariableResult").([]any)
			want := []string{"Accepted", "Rejected", "UnknownVariable", "UnknownComponent", "NotSupportedAttributeType", "Accepted"}
			for i, w := range want {
				if get(res[i], "attributeStatus") != w {
					t.Errorf("item %d: %v, want %s", i, res[i], w)
				}
			}
			if get(res[0], "attributeValue") != "300" || get(res[5], "attributeValue") != "Available" || get(res[1], "attributeValue") != nil {
				t.Errorf("values %v", res)
			}
			a = callValid(t, tc, "SetVariables", `{"setVariableData":[
				{"component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"},"attributeValue":"60"},
				{"component":{"name":"SecurityCtrlr"},"variable":{"name":"BasicAuthPassword"},"attributeValue":"0123456789abcdef0123"},
				{"component":{"name":"SecurityCtrlr"},"variable":{"name":"SecurityProfile"},"attributeValue":"2"},
				{"component":{"name":"AuthCtrlr"},"variable":{"name":"Enabled"},"attributeValue":"maybe"},
				{"component":{"name":"AuthCtrlr"},"variable":{"name":"Nope"},"attributeValue":"1"}]}`)
			res = get(a, "setVariableResult").([]any)
			want = []string{"Accepted", "Accepted", "Rejected", "Rejected", "UnknownVariable"}
			for i, w := range want {
				if get(res[i], "attributeStatus") != w {
					t.Errorf("set item %d: %v, want %s", i, res[i], w)
				}
			}
			if v, _ := ch.Variable("OCPPCommCtrlr.HeartbeatInterval"); v != "60" {
				t.Errorf("HeartbeatInterval %s", v)
			}

			// A full base report arrives in several NotifyReport parts.
			if a := callValid(t, tc, "GetBaseReport", `{"requestId":7,"reportBase":"FullInventory"}`); a["status"] != "Accepted" {
				t.Fatalf("GetBaseReport %v", a)
			}
			items := 0
			for seq := 0; ; seq++ {
				f := tc.nextCallOf(t, "NotifyReport")
				m := payload(t, f)
				if m["requestId"] != 7.0 || m["seqNo"] != float64(seq) {
					t.Fatalf("NotifyReport %s", f.Payload)
				}
				items += len(get(m, "reportData").([]any))
				if m["tbc"] != true {
					break
				}
			}
			if items < 40 {
				t.Fatalf("%d report items", items)
			}
			a = callValid(t, tc, "GetReport", `{"requestId":8,"componentVariable":[{"component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"}}]}`)
			if a["status"] != "Accepted" {
				t.Fatalf("GetReport %v", a)
			}
			f := tc.nextCallOf(t, "NotifyReport")
			if m := payload(t, f); len(get(m, "reportData").([]any)) != 1 || get(m, "reportData", 0, "variableAttribute", 0, "value") != "60" {
				t.Fatalf("GetReport's NotifyReport %s", f.Payload)
			}
			if a := callValid(t, tc, "GetReport", `{"requestId":9,"componentVariable":[{"component":{"name":"NoSuchCtrlr"}}]}`); a["status"] != "EmptyResultSet" {
				t.Fatalf("GetReport unknown %v", a)
			}
		})
	}
}

func TestChargerRejectsInvalidCommands(t *testing.T) {
	ts := csmsServer(t)
	_, tc := newCharger(t, ts, ocpp.V201, ChargerOptions{}, nil)
	ans := tc.call(t, "bad", "Reset", `{"type":"Sometimes"}`)
	if ans.Type != ocpp.CallError || ans.ErrorCode != "PropertyConstraintViolation" {
		t.Fatalf("invalid Reset answered %+v", ans)
	}
	ans = tc.call(t, "bad2", "ChangeAvailability", `{}`)
	if ans.Type != ocpp.CallError || ans.ErrorCode != "OccurrenceConstraintViolation" {
		t.Fatalf("invalid ChangeAvailability answered %+v", ans)
	}
}

// fileServer serves a firmware file and accepts log uploads.
type fileServer struct {
	*httptest.Server
	mu      sync.Mutex
	uploads map[string][]byte
}

func newFileServer(t *testing.T) *fileServer {
	fs := &fileServer{uploads: map[string][]byte{}}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/fw/v2.bin":
			_, _ = w.Write([]byte("FIRMWARE-V2"))
		case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/logs/"):
			b, _ := io.ReadAll(r.Body)
			fs.mu.Lock()
			fs.uploads[r.URL.Path] = b
			fs.mu.Unlock()
			w.WriteHeader(http.StatusCreated)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(fs.Close)
	return fs
}

func (fs *fileServer) upload(path string) []byte {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.uploads[path]
}

func TestChargerFirmwareAndLogs(t *testing.T) {
	for _, v := range allVersions {
		t.Run(string(v), func(t *testing.T) {
			ts := csmsServer(t)
			files := newFileServer(t)
			ch, tc := newCharger(t, ts, v, ChargerOptions{}, nil)
			statuses := func(action string, n int) []string {
				var out []string
				for range n {
					f := tc.nextCallOf(t, action)
					m := payload(t, f)
					if v != ocpp.V16 && action == "FirmwareStatusNotification" && m["requestId"] != 5.0 {
						t.Fatalf("%s %s", action, f.Payload)
					}
					out = append(out, m["status"].(string))
				}
				return out
			}
			if v == ocpp.V16 {
				callValid(t, tc, "UpdateFirmware", `{"location":"`+files.URL+`/fw/v2.bin","retrieveDate":"2020-01-01T00:00:00Z"}`)
			} else {
				a := callValid(t, tc, "UpdateFirmware", `{"requestId":5,"firmware":{"location":"`+files.URL+`/fw/v2.bin","retrieveDateTime":"2020-01-01T00:00:00Z"}}`)
				if a["status"] != "Accepted" {
					t.Fatalf("UpdateFirmware %v", a)
				}
			}
			if got := strings.Join(statuses("FirmwareStatusNotification", 4), ","); got != "Downloading,Downloaded,Installing,Installed" {
				t.Fatalf("firmware statuses %s", got)
			}
			eventually(t, func() bool { return !ch.Firmware().InProgress })
			if fw := ch.Firmware(); string(fw.Data) != "FIRMWARE-V2" || fw.Status != "Installed" {
				t.Fatalf("firmware downloaded %+v", fw)
			}

			// A missing file fails the download.
			if v == ocpp.V16 {
				callValid(t, tc, "UpdateFirmware", `{"location":"`+files.URL+`/fw/missing.bin","retrieveDate":"2020-01-01T00:00:00Z"}`)
			} else {
				callValid(t, tc, "UpdateFirmware", `{"requestId":5,"firmware":{"location":"`+files.URL+`/fw/missing.bin","retrieveDateTime":"2020-01-01T00:00:00Z"}}`)
			}
			if got := strings.Join(statuses("FirmwareStatusNotification", 2), ","); got != "Downloading,DownloadFailed" {
				t.Fatalf("failed firmware statuses %s", got)
			}

			var action, name string
			if v == ocpp.V16 {
				a := callValid(t, tc, "GetDiagnostics", `{"location":"`+files.URL+`/logs/"}`)
				action, name = "DiagnosticsStatusNotification", a["fileName"].(string)
			} else {
				a := callValid(t, tc, "GetLog", `{"logType":"DiagnosticsLog","requestId":3,"log":{"remoteLocation":"`+files.URL+`/logs/"}}`)
				action, name = "LogStatusNotification", a["filename"].(string)
			}
			if got := strings.Join(statuses(action, 2), ","); got != "Uploading,Uploaded" {
				t.Fatalf("log statuses %s", got)
			}
			if b := files.upload("/logs/" + name); !strings.Contains(string(b), "station CP1") {
				t.Fatalf("uploaded log %q", b)
			}
		})
	}
}

func TestChargerOtherCommands16(t *testing.T) {
	ts := csmsServer(t)
	ch, tc := newCharger(t, ts, ocpp.V16, ChargerOptions{EVSEs: 2}, nil)
	ctx := testCtx(t)
	check := func(action, p, want string) map[string]any {
		t.Helper()
		a := callValid(t, tc, action, p)
		if want != "" && a["status"] != want {
			t.Fatalf("%s %s: %v, want %s", action, p, a, want)
		}
		return a
	}
	check("ChangeAvailability", `{"connectorId":2,"type":"Inoperative"}`, "Accepted")
	if f := tc.nextCallOf(t, "StatusNotification"); get(payload(t, f), "status") != "Unavailable" || get(payload(t, f), "connectorId") != 2.0 {
		t.Fatalf("status %s", f.Payload)
	}
	if _, err := ch.Start(ctx, 2, 1, ""); err == nil {
		t.Fatal("started on an inoperative connector")
	}
	check("ChangeAvailability", `{"connectorId":9,"type":"Inoperative"}`, "Rejected")
	check("ChangeAvailability", `{"connectorId":2,"type":"Operative"}`, "Accepted")

	check("TriggerMessage", `{"requestedMessage":"Heartbeat"}`, "Accepted")
	tc.nextCallOf(t, "Heartbeat")
	check("TriggerMessage", `{"requestedMessage":"StatusNotification","connectorId":1}`, "Accepted")
	tc.nextCallOf(t, "StatusNotification")

	check("SendLocalList", `{"listVersion":3,"updateType":"Full","localAuthorizationList":[{"idTag":"LOCAL1","idTagInfo":{"status":"Accepted"}}]}`, "Accepted")
	check("SendLocalList", `{"listVersion":3,"updateType":"Differential","localAuthorizationList":[]}`, "VersionMismatch")
	if a := check("GetLocalListVersion", `{}`, ""); a["listVersion"] != 3.0 {
		t.Fatalf("list version %v", a)
	}
	check("ClearCache", `{}`, "Accepted")

	check("ReserveNow", `{"connectorId":1,"expiryDate":"2030-01-01T00:00:00Z","idTag":"RES1","reservationId":11}`, "Accepted")
	if f := tc.nextCallOf(t, "StatusNotification"); get(payload(t, f), "status") != "Reserved" {
		t.Fatalf("status %s", f.Payload)
	}
	if _, err := ch.Start(ctx, 1, 1, "OTHER"); err == nil {
		t.Fatal("another tag charged on a reserved connector")
	}
	check("CancelReservation", `{"reservationId":11}`, "Accepted")
	check("CancelReservation", `{"reservationId":11}`, "Rejected")

	check("SetChargingProfile", `{"connectorId":1,"csChargingProfiles":{"chargingProfileId":1,"stackLevel":0,"chargingProfilePurpose":"TxDefaultProfile","chargingProfileKind":"Absolute","chargingSchedule":{"chargingRateUnit":"W","chargingSchedulePeriod":[{"startPeriod":0,"limit":7400}]}}}`, "Accepted")
	check("SetChargingProfile", `{"connectorId":1,"csChargingProfiles":{"chargingProfileId":2,"stackLevel":0,"chargingProfilePurpose":"TxProfile","chargingProfileKind":"Absolute","chargingSchedule":{"chargingRateUnit":"W","chargingSchedulePeriod":[{"startPeriod":0,"limit":7400}]}}}`, "Rejected")
	a := check("GetCompositeSchedule", `{"connectorId":1,"duration":3600,"chargingRateUnit":"W"}`, "Accepted")
	if get(a, "chargingSchedule", "chargingSchedulePeriod", 0, "limit") != 7400.0 {
		t.Fatalf("composite %v", a)
	}
	check("ClearChargingProfile", `{"id":1}`, "Accepted")
	check("ClearChargingProfile", `{"id":1}`, "Unknown")

	check("DataTransfer", `{"vendorId":"Other"}`, "UnknownVendorId")
	if a := check("DataTransfer", `{"vendorId":"Acme Electrical Systems","data":"ping"}`, "Accepted"); a["data"] != "ping" {
		t.Fatalf("data transfer %v", a)
	}

	if _, err := ch.Start(ctx, 1, 1, ""); err != nil {
		t.Fatal(err)
	}
	check("UnlockConnector", `{"connectorId":1}`, "Unlocked")
	if f := tc.nextCallOf(t, "StopTransaction"); get(payload(t, f), "reason") != "UnlockCommand" {
		t.Fatalf("stop %s", f.Payload)
	}
	check("UnlockConnector", `{"connectorId":7}`, "NotSupported")
}

func TestChargerOtherCommands2x(t *testing.T) {
	for _, v := range []ocpp.Version{ocpp.V201, ocpp.V21} {
		t.Run(string(v), func(t *testing.T) {
			ts := csmsServer(t)
			ch, tc := newCharger(t, ts, v, ChargerOptions{EVSEs: 2}, nil)
			ctx := testCtx(t)
			check := func(action, p, want string) map[string]any {
				t.Helper()
				a := callValid(t, tc, action, p)
				if want != "" && a["status"] != want {
					t.Fatalf("%s %s: %v, want %s", action, p, a, want)
				}
				return a
			}
			check("ChangeAvailability", `{"operationalStatus":"Inoperative","evse":{"id":2}}`, "Accepted")
			if f := tc.nextCallOf(t, "StatusNotification"); get(payload(t, f), "connectorStatus") != "Unavailable" || get(payload(t, f), "evseId") != 2.0 {
				t.Fatalf("status %s", f.Payload)
			}
			check("ChangeAvailability", `{"operationalStatus":"Operative","evse":{"id":2}}`, "Accepted")

			check("TriggerMessage", `{"requestedMessage":"BootNotification"}`, "Rejected")
			check("TriggerMessage", `{"requestedMessage":"MeterValues","evse":{"id":1}}`, "Accepted")
			if f := tc.nextCallOf(t, "MeterValues"); get(payload(t, f), "evseId") != 1.0 {
				t.Fatalf("meter values %s", f.Payload)
			}
			check("TriggerMessage", `{"requestedMessage":"SignChargingStationCertificate"}`, "NotImplemented")

			check("SendLocalList", `{"versionNumber":2,"updateType":"Full","localAuthorizationList":[{"idToken":{"idToken":"LOCAL1","type":"ISO14443"},"idTokenInfo":{"status":"Accepted"}}]}`, "Accepted")
			if a := check("GetLocalListVersion", `{}`, ""); a["versionNumber"] != 2.0 {
				t.Fatalf("list version %v", a)
			}
			check("ClearCache", `{}`, "Accepted")
			check("ReserveNow", `{"id":4,"expiryDateTime":"2030-01-01T00:00:00Z","idToken":{"idToken":"RES1","type":"ISO14443"},"evseId":1}`, "Accepted")
			check("CancelReservation", `{"reservationId":4}`, "Accepted")
			check("SetChargingProfile", `{"evseId":1,"chargingProfile":{"id":1,"stackLevel":0,"chargingProfilePurpose":"TxDefaultProfile","chargingProfileKind":"Absolute","chargingSchedule":[{"id":1,"chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":16}]}]}}`, "Accepted")
			a := check("GetCompositeSchedule", `{"duration":600,"evseId":1,"chargingRateUnit":"A"}`, "Accepted")
			if get(a, "schedule", "chargingSchedulePeriod", 0, "limit") != 16.0 {
				t.Fatalf("composite %v", a)
			}
			check("ClearChargingProfile", `{"chargingProfileCriteria":{"evseId":1}}`, "Accepted")
			check("DataTransfer", `{"vendorId":"Other"}`, "UnknownVendorId")

			tx, err := ch.Start(ctx, 1, 1, "")
			if err != nil {
				t.Fatal(err)
			}
			check("UnlockConnector", `{"evseId":1,"connectorId":1}`, "OngoingAuthorizedTransaction")
			check("UnlockConnector", `{"evseId":5,"connectorId":1}`, "UnknownConnector")
			if a := check("GetTransactionStatus", `{"transactionId":"`+tx.ID+`"}`, ""); a["ongoingIndicator"] != true || a["messagesInQueue"] != false {
				t.Fatalf("transaction status %v", a)
			}
			check("ChangeAvailability", `{"operationalStatus":"Inoperative","evse":{"id":1}}`, "Scheduled")
			if err := ch.Stop(ctx, 1, 1, ReasonLocal); err != nil {
				t.Fatal(err)
			}
			if st := ch.Status(1, 1); st != "Unavailable" {
				t.Fatalf("status after the scheduled change: %s", st)
			}
		})
	}
}
