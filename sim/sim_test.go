package sim

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocppd/ocppd/ocpp"
)

func decode(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("payload %s: %v", raw, err)
	}
	return m
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestBootPayloadPerVersion(t *testing.T) {
	ts := newTestServer(t)
	ts.interval = 10
	for _, tc := range []struct {
		version ocpp.Version
		want    string // the exact payload
	}{
		{ocpp.V201, `{"chargingStation":{"model":"ABC 123 XYZ","vendorName":"Acme Electrical Systems","firmwareVersion":"10.9.8.ABC","serialNumber":"CP1234567890A01","modem":{"iccid":"891004234814455936F","imsi":"310410123456789"}},"reason":"PowerUp"}`},
		{ocpp.V21, `{"chargingStation":{"model":"ABC 123 XYZ","vendorName":"Acme Electrical Systems","firmwareVersion":"10.9.8.ABC","serialNumber":"CP1234567890A01","modem":{"iccid":"891004234814455936F","imsi":"310410123456789"}},"reason":"PowerUp"}`},
		// 1.6 chargePointVendor is CiString20: the default vendor is cut.
		{ocpp.V16, `{"chargePointVendor":"Acme Electrical Syst","chargePointModel":"ABC 123 XYZ","chargePointSerialNumber":"CP1234567890A01","firmwareVersion":"10.9.8.ABC","iccid":"891004234814455936F","imsi":"310410123456789"}`},
	} {
		t.Run(tc.version.Short(), func(t *testing.T) {
			st, conn := connected(t, ts, Options{Version: tc.version})
			if conn.Subprotocol != string(tc.version) {
				t.Errorf("negotiated %q, want %q", conn.Subprotocol, tc.version)
			}
			if got := conn.Header.Get("Sec-WebSocket-Protocol"); got != string(tc.version) {
				t.Errorf("offered subprotocols %q, want only %q", got, tc.version)
			}
			if conn.Path != "/CP1" {
				t.Errorf("path %q, want /CP1", conn.Path)
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			res, err := st.Boot(ctx)
			if err != nil {
				t.Fatalf("Boot: %v", err)
			}
			call := conn.nextCall(t)
			if call.Action != "BootNotification" {
				t.Fatalf("action %q", call.Action)
			}
			if !uuidRE.MatchString(call.ID) {
				t.Errorf("message id %q is not a UUIDv4", call.ID)
			}
			if string(call.Payload) != tc.want {
				t.Errorf("payload\n got %s\nwant %s", call.Payload, tc.want)
			}
			if res.Status != StatusAccepted || res.Interval != 10*time.Second || res.CurrentTime.IsZero() {
				t.Errorf("result %+v", res)
			}
		})
	}
}

func TestBootPayloadCustomIdentity(t *testing.T) {
	st := New(Options{Version: ocpp.V201, ID: "X", Serial: "S1", Model: "M1", FirmwareVersion: "F1", Vendor: "V1", ICCID: "I1", IMSI: "I2"})
	want := `{"chargingStation":{"model":"M1","vendorName":"V1","firmwareVersion":"F1","serialNumber":"S1","modem":{"iccid":"I1","imsi":"I2"}},"reason":"PowerUp"}`
	if got := string(st.BootPayload()); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestStatusNotificationPayloadPerVersion(t *testing.T) {
	ts := newTestServer(t)
	now := func() time.Time { return time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600)) }
	for _, tc := range []struct {
		version ocpp.Version
		want    map[string]any
	}{
		{ocpp.V16, map[string]any{"connectorId": 2.0, "errorCode": "NoError", "status": "Available", "timestamp": "2026-03-04T04:06:07Z"}},
		{ocpp.V201, map[string]any{"timestamp": "2026-03-04T04:06:07Z", "connectorStatus": "Available", "evseId": 1.0, "connectorId": 2.0}},
	} {
		t.Run(tc.version.Short(), func(t *testing.T) {
			st, conn := connected(t, ts, Options{Version: tc.version, Now: now})
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			if err := st.StatusNotification(ctx, 1, 2, "Available"); err != nil {
				t.Fatalf("StatusNotification: %v", err)
			}
			if got := decode(t, conn.nextCall(t).Payload); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("payload %v, want %v", got, tc.want)
			}
		})
	}
}

func TestHeartbeatReturnsCurrentTime(t *testing.T) {
	ts := newTestServer(t)
	ts.answer = func(tc *testConn, f ocpp.Frame) []byte {
		if f.Action == "Heartbeat" {
			// The seed's gateway sends local time without a zone.
			return ocpp.AppendCallResult(nil, f.ID, json.RawMessage(`{"currentTime":"2023-02-16T19:00:19.073675"}`))
		}
		return nil
	}
	st, conn := connected(t, ts, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	got, err := st.Heartbeat(ctx)
	if err != nil {
		t.Fatalf("Heartbeat: %v", err)
	}
	if want := time.Date(2023, 2, 16, 19, 0, 19, 73675000, time.UTC); !got.Equal(want) {
		t.Errorf("currentTime %v, want %v", got, want)
	}
	if f := conn.nextCall(t); f.Action != "Heartbeat" || string(f.Payload) != "{}" {
		t.Errorf("frame %+v", f)
	}
}

func TestURLPrefixAndEncoding(t *testing.T) {
	ts := newTestServer(t)
	st := New(Options{URL: ts.URL + "/ocpp/", ID: "CP|1"})
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := st.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ts.next().Path; got != "/ocpp/CP%7C1" {
		t.Errorf("path %q, want /ocpp/CP%%7C1", got)
	}
}

func TestRunHeartbeatsAtReturnedInterval(t *testing.T) {
	ts := newTestServer(t)
	ts.interval = 1
	rec := &logRecorder{}
	st := New(Options{URL: ts.URL, Logger: slog.New(rec)})
	defer st.Close()
	r := runStation(t, st)
	conn := ts.next()
	want := []string{"BootNotification", "StatusNotification", "Heartbeat", "Heartbeat", "Heartbeat"}
	for i, action := range want {
		if f := conn.nextCall(t); f.Action != action {
			t.Fatalf("call %d is %s, want %s", i, f.Action, action)
		}
	}
	if err := r.stop(t); err != nil {
		t.Errorf("Run after cancel: %v", err)
	}
	select {
	case <-conn.Closed:
	case <-time.After(waitFor):
		t.Fatal("the connection stayed open after Run returned")
	}

	// The seed's log lines.
	boot := rec.waitLog(t, `INFO CP1: send [2,"`)
	if !strings.Contains(boot, `"BootNotification",{"chargingStation":{"model":"ABC 123 XYZ"`) {
		t.Errorf("first send line %q", boot)
	}
	rec.waitLog(t, `INFO CP1: receive [3,"`)
	rec.waitLog(t, "INFO CP1: connected to central system")
	rec.waitLog(t, "INFO CP1: heartbeat interval set to 1")
}

func TestRunHeartbeatOverride(t *testing.T) {
	ts := newTestServer(t)
	ts.interval = 3600
	st := New(Options{URL: ts.URL, HeartbeatInterval: 50 * time.Millisecond})
	defer st.Close()
	runStation(t, st)
	conn := ts.next()
	conn.nextCallOf(t, "Heartbeat")
	conn.nextCallOf(t, "Heartbeat")
}

func TestRunRetriesBootWhilePending(t *testing.T) {
	ts := newTestServer(t)
	ts.interval = 1
	var mu sync.Mutex
	boots := 0
	ts.answer = func(tc *testConn, f ocpp.Frame) []byte {
		if f.Action != "BootNotification" {
			return nil
		}
		mu.Lock()
		boots++
		status := StatusPending
		if boots > 1 {
			status = StatusAccepted
		}
		mu.Unlock()
		p, _ := json.Marshal(map[string]any{"currentTime": time.Now().UTC().Format(time.RFC3339), "interval": 1, "status": status})
		return ocpp.AppendCallResult(nil, f.ID, p)
	}
	st := New(Options{URL: ts.URL})
	defer st.Close()
	runStation(t, st)
	conn := ts.next()
	for i, action := range []string{"BootNotification", "BootNotification", "StatusNotification"} {
		if f := conn.nextCall(t); f.Action != action {
			t.Fatalf("call %d is %s, want %s", i, f.Action, action)
		}
	}
	if n := ts.connCount(); n != 1 {
		t.Errorf("%d connections; Pending must not reconnect", n)
	}
}

func TestCallErrorReturned(t *testing.T) {
	ts := newTestServer(t)
	ts.answer = func(tc *testConn, f ocpp.Frame) []byte {
		if f.Action == "DataTransfer" {
			return ocpp.AppendCallError(nil, f.ID, "SecurityError", "not accepted yet", json.RawMessage(`{"hint":"boot first"}`))
		}
		return nil
	}
	st, _ := connected(t, ts, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err := st.Call(ctx, "DataTransfer", map[string]string{"vendorId": "x"})
	var ce *CallError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T), want *CallError", err, err)
	}
	if ce.Code != "SecurityError" || ce.Description != "not accepted yet" || string(ce.Details) != `{"hint":"boot first"}` {
		t.Errorf("CallError %+v", ce)
	}
	if err.Error() != "CALLERROR SecurityError: not accepted yet" {
		t.Errorf("Error() = %q", err.Error())
	}
}

func TestHandleCSMSCalls(t *testing.T) {
	ts := newTestServer(t)
	st, conn := connected(t, ts, Options{Version: ocpp.V201})
	var got json.RawMessage
	st.Handle("Reset", func(ctx context.Context, p json.RawMessage) (any, error) {
		got = append(json.RawMessage(nil), p...)
		return map[string]string{"status": "Accepted"}, nil
	})
	st.Handle("RequestStartTransaction", func(ctx context.Context, p json.RawMessage) (any, error) {
		return nil, &CallError{Code: "OccurrenceConstraintViolation", Description: "idToken missing", Details: json.RawMessage(`{"field":"idToken"}`)}
	})
	st.Handle("GetVariables", func(ctx context.Context, p json.RawMessage) (any, error) {
		return nil, errors.New("disk on fire")
	})
	st.Handle("SetVariables", func(ctx context.Context, p json.RawMessage) (any, error) {
		panic("boom")
	})

	ans := conn.call(t, "r1", "Reset", `{"type":"Immediate"}`)
	if ans.Type != ocpp.CallResult || ans.ID != "r1" || string(ans.Payload) != `{"status":"Accepted"}` {
		t.Errorf("Reset answer %+v %s", ans, ans.Payload)
	}
	if string(got) != `{"type":"Immediate"}` {
		t.Errorf("handler got %s", got)
	}

	for _, tc := range []struct{ id, action, code, desc, details string }{
		{"n1", "UnlockConnector", "NotImplemented", "action UnlockConnector is not implemented by this charge point", "{}"},
		{"c1", "RequestStartTransaction", "OccurrenceConstraintViolation", "idToken missing", `{"field":"idToken"}`},
		{"e1", "GetVariables", "InternalError", "disk on fire", "{}"},
		{"p1", "SetVariables", "InternalError", "handler panicked: boom", "{}"},
	} {
		ans := conn.call(t, tc.id, tc.action, `{}`)
		if ans.Type != ocpp.CallError || ans.ID != tc.id || ans.ErrorCode != tc.code || ans.ErrorDescription != tc.desc || string(ans.Payload) != tc.details {
			t.Errorf("%s: answer %+v details %s", tc.action, ans, ans.Payload)
		}
	}
}

func TestNotImplementedIsVersionIndependent(t *testing.T) {
	ts := newTestServer(t)
	_, conn := connected(t, ts, Options{Version: ocpp.V16})
	ans := conn.call(t, "x", "ChangeAvailability", `{"connectorId":0,"type":"Inoperative"}`)
	if ans.Type != ocpp.CallError || ans.ErrorCode != "NotImplemented" {
		t.Errorf("answer %+v", ans)
	}
}

func TestMalformedFramesDoNotBreakTheStation(t *testing.T) {
	ts := newTestServer(t)
	st, conn := connected(t, ts, Options{Version: ocpp.V201})
	conn.send(t, []byte(`not json`))
	if ans := conn.nextAnswer(t); ans.ID != "-1" || ans.ErrorCode != "FormatViolation" {
		t.Errorf("answer to garbage %+v", ans)
	}
	conn.send(t, []byte(`[2,"m1","Reset"]`))
	if ans := conn.nextAnswer(t); ans.ID != "m1" || ans.ErrorCode != "FormatViolation" {
		t.Errorf("answer to a CALL without payload %+v", ans)
	}
	conn.send(t, []byte(`[9,"m2",{}]`))
	if ans := conn.nextAnswer(t); ans.ID != "m2" || ans.ErrorCode != "MessageTypeNotSupported" {
		t.Errorf("answer to type 9 %+v", ans)
	}
	// Answers nobody waits for are logged and dropped.
	conn.send(t, []byte(`[3,"nobody",{}]`))
	conn.send(t, []byte(`[4,"nobody","GenericError","",{}]`))

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if _, err := st.Heartbeat(ctx); err != nil {
		t.Fatalf("Heartbeat after malformed frames: %v", err)
	}
	// Every received frame is on Frames, in order.
	want := []string{`not json`, `[2,"m1","Reset"]`, `[9,"m2",{}]`, `[3,"nobody",{}]`, `[4,"nobody","GenericError","",{}]`}
	for _, w := range want {
		select {
		case f := <-st.Frames():
			if string(f) != w {
				t.Errorf("Frames: got %s, want %s", f, w)
			}
		case <-time.After(waitFor):
			t.Fatalf("Frames: %s missing", w)
		}
	}
}

func TestSendRaw(t *testing.T) {
	ts := newTestServer(t)
	st, conn := connected(t, ts, Options{})
	ctx := context.Background()
	if err := st.SendRaw(ctx, []byte(`[2,"raw-1","Heartbeat",{}]`)); err != nil {
		t.Fatal(err)
	}
	if f := conn.nextCall(t); f.ID != "raw-1" {
		t.Errorf("server got %+v", f)
	}
	select {
	case f := <-st.Frames():
		if !strings.HasPrefix(string(f), `[3,"raw-1",`) {
			t.Errorf("answer %s", f)
		}
	case <-time.After(waitFor):
		t.Fatal("no answer on Frames")
	}
}

func TestCSMSCallWhileStationCallOutstanding(t *testing.T) {
	ts := newTestServer(t)
	ts.answer = func(tc *testConn, f ocpp.Frame) []byte {
		if f.Action == "DataTransfer" {
			return noAnswer // answered below, after the CSMS's own CALL
		}
		return nil
	}
	st, conn := connected(t, ts, Options{})
	st.Handle("GetVariables", func(ctx context.Context, p json.RawMessage) (any, error) {
		return map[string]any{"getVariableResult": []any{}}, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	type result struct {
		payload json.RawMessage
		err     error
	}
	res := make(chan result, 1)
	go func() {
		p, err := st.Call(ctx, "DataTransfer", map[string]string{"vendorId": "acme"})
		res <- result{p, err}
	}()
	dt := conn.nextCall(t)
	if dt.Action != "DataTransfer" {
		t.Fatalf("got %s", dt.Action)
	}
	// The station's CALL is outstanding; the CSMS calls the station.
	ans := conn.call(t, "csms-1", "GetVariables", `{"getVariableData":[]}`)
	if ans.Type != ocpp.CallResult || ans.ID != "csms-1" {
		t.Fatalf("answer %+v", ans)
	}
	conn.send(t, ocpp.AppendCallResult(nil, dt.ID, json.RawMessage(`{"status":"Accepted"}`)))
	r := <-res
	if r.err != nil || string(r.payload) != `{"status":"Accepted"}` {
		t.Errorf("Call: %s, %v", r.payload, r.err)
	}
}

func TestCallsAreSerialised(t *testing.T) {
	ts := newTestServer(t)
	ts.answer = func(tc *testConn, f ocpp.Frame) []byte { return noAnswer }
	st, conn := connected(t, ts, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := st.Call(ctx, "DataTransfer", map[string]string{"vendorId": "acme"})
			errs <- err
		}()
	}
	first := conn.nextCall(t)
	// The second CALL may not be sent while the first is unanswered.
	select {
	case f := <-conn.Calls:
		t.Fatalf("second CALL %s sent while %s was outstanding", f.ID, first.ID)
	case <-time.After(200 * time.Millisecond):
	}
	conn.send(t, ocpp.AppendCallResult(nil, first.ID, nil))
	second := conn.nextCall(t)
	if second.ID == first.ID {
		t.Fatal("same message id twice")
	}
	conn.send(t, ocpp.AppendCallResult(nil, second.ID, nil))
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestCallTimeout(t *testing.T) {
	ts := newTestServer(t)
	ts.answer = func(tc *testConn, f ocpp.Frame) []byte { return noAnswer }
	st, _ := connected(t, ts, Options{CallTimeout: 50 * time.Millisecond})
	_, err := st.Call(context.Background(), "Heartbeat", nil)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("error %v, want ErrTimeout", err)
	}
}

func TestReconnectAfterDroppedConnection(t *testing.T) {
	ts := newTestServer(t)
	st := New(Options{URL: ts.URL, ReconnectDelay: 10 * time.Millisecond})
	defer st.Close()
	r := runStation(t, st)
	first := ts.next()
	first.nextCallOf(t, "StatusNotification")
	// Drop the TCP connection without a close frame.
	_ = first.ws.NetConn().Close()

	second := ts.next()
	if f := second.nextCall(t); f.Action != "BootNotification" {
		t.Errorf("first call after reconnecting is %s, want BootNotification", f.Action)
	}
	second.nextCallOf(t, "StatusNotification")
	// A server close with 1001 (going away) is retried as well.
	_ = second.ws.WriteClose(1001, []byte("restarting"))
	third := ts.next()
	if f := third.nextCall(t); f.Action != "BootNotification" {
		t.Errorf("first call after 1001 is %s", f.Action)
	}
	if err := r.stop(t); err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestReconnectWhenServerUnreachable(t *testing.T) {
	ts := newTestServer(t)
	url := ts.URL
	ts.Close() // nothing listens any more
	rec := &logRecorder{}
	st := New(Options{URL: url, Logger: slog.New(rec), ReconnectDelay: 10 * time.Millisecond, MaxReconnectDelay: 20 * time.Millisecond})
	defer st.Close()
	r := runStation(t, st)
	rec.waitLog(t, "WARN CP1: connect CP1 to ")
	// It keeps trying.
	count := func() (n int) {
		for _, m := range rec.messages() {
			if strings.Contains(m, "reconnecting in") {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(waitFor); count() < 3 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := count(); n < 3 {
		t.Errorf("%d reconnection attempts logged, want at least 3", n)
	}
	if err := r.stop(t); err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestRefusedWith1008(t *testing.T) {
	ts := newTestServer(t)
	ts.refuse = func(path string) (int, string) {
		return 1008, "Charge Point " + strings.TrimPrefix(path, "/") + " not registered"
	}
	st := New(Options{URL: ts.URL, ID: "CP2", ReconnectDelay: 10 * time.Millisecond})
	defer st.Close()
	r := runStation(t, st)
	err := r.wait(t)
	var ce *CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("Run returned %v (%T), want *CloseError", err, err)
	}
	if got, want := err.Error(), "1008 (policy violation) Charge Point CP2 not registered"; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
	if n := ts.connCount(); n != 1 {
		t.Errorf("%d connection attempts; 1008 must not be retried", n)
	}
}

func TestRefusedWith1002(t *testing.T) {
	ts := newTestServer(t)
	ts.refuse = func(string) (int, string) { return 1002, "" }
	st := New(Options{URL: ts.URL, ReconnectDelay: 10 * time.Millisecond})
	defer st.Close()
	err := runStation(t, st).wait(t)
	if err == nil || err.Error() != "1002 (protocol error)" {
		t.Errorf("Run returned %v", err)
	}
}

func TestCallFailsWithCloseReason(t *testing.T) {
	ts := newTestServer(t)
	ts.answer = func(tc *testConn, f ocpp.Frame) []byte {
		_ = tc.ws.WriteClose(1008, []byte("go away"))
		return noAnswer
	}
	st, _ := connected(t, ts, Options{})
	_, err := st.Boot(context.Background())
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != 1008 || ce.Reason != "go away" {
		t.Fatalf("Boot error %v, want the 1008 close", err)
	}
	if st.Connected() {
		t.Error("still connected after the server closed")
	}
	if _, err := st.Heartbeat(context.Background()); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Heartbeat after close: %v, want ErrNotConnected", err)
	}
}

func TestConnectErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()

	t.Run("subprotocol not selected", func(t *testing.T) {
		ts := newTestServer(t, []string{}...) // selects none
		err := New(Options{URL: ts.URL}).Connect(ctx)
		if err == nil || !strings.Contains(err.Error(), "did not accept subprotocol ocpp2.0.1") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("http status", func(t *testing.T) {
		ts := newTestServer(t)
		err := New(Options{URL: ts.URL + "/missing"}).Connect(ctx)
		var he *HandshakeError
		if !errors.As(err, &he) || he.StatusCode != 404 {
			t.Fatalf("error %v, want a 404 HandshakeError", err)
		}
		if !strings.Contains(he.Body, "no such station") {
			t.Errorf("body %q", he.Body)
		}
	})
	t.Run("bad url", func(t *testing.T) {
		for _, u := range []string{"", "http://x", "ws://", "::"} {
			if err := New(Options{URL: u}).Connect(ctx); err == nil {
				t.Errorf("URL %q accepted", u)
			}
		}
	})
	t.Run("bad version", func(t *testing.T) {
		if err := New(Options{URL: "ws://127.0.0.1:1", Version: "ocpp9"}).Connect(ctx); err == nil || !strings.Contains(err.Error(), "unsupported OCPP version") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("twice", func(t *testing.T) {
		ts := newTestServer(t)
		st, _ := connected(t, ts, Options{})
		if err := st.Connect(ctx); err == nil {
			t.Error("second Connect succeeded")
		}
	})
}

func TestPingIsEchoed(t *testing.T) {
	ts := newTestServer(t)
	_, conn := connected(t, ts, Options{})
	if err := conn.ws.WritePing([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-conn.Pongs:
		if string(p) != "hello" {
			t.Errorf("pong %q, want the ping's payload", p)
		}
	case <-time.After(waitFor):
		t.Fatal("no pong")
	}
}

func TestCloseIsIdempotentAndFinal(t *testing.T) {
	ts := newTestServer(t)
	st, conn := connected(t, ts, Options{})
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-conn.Closed:
	case <-time.After(waitFor):
		t.Fatal("server connection not closed")
	}
	if err := st.Connect(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Connect after Close: %v", err)
	}
	if err := st.Run(context.Background()); err != nil {
		t.Errorf("Run after Close: %v", err)
	}
}

func TestCloseEndsRun(t *testing.T) {
	ts := newTestServer(t)
	st := New(Options{URL: ts.URL})
	r := runStation(t, st)
	ts.next().nextCallOf(t, "StatusNotification")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.wait(t); err != nil {
		t.Errorf("Run after Close: %v", err)
	}
}

func TestDisconnectAndConnectAgain(t *testing.T) {
	ts := newTestServer(t)
	st, first := connected(t, ts, Options{})
	st.Disconnect(0, "")
	<-first.Closed
	if st.Connected() {
		t.Fatal("still connected")
	}
	if err := st.Connect(context.Background()); err != nil {
		t.Fatalf("reconnect: %v", err)
	}
	ts.next()
}

func TestRejectedStationIgnoresCSMSCalls(t *testing.T) {
	ts := newTestServer(t)
	ts.bootStatus = StatusRejected
	st, conn := connected(t, ts, Options{})
	st.Handle("Reset", func(context.Context, json.RawMessage) (any, error) {
		return map[string]string{"status": "Accepted"}, nil
	})
	res, err := st.Boot(context.Background())
	if err != nil || res.Status != StatusRejected {
		t.Fatalf("Boot: %+v, %v", res, err)
	}
	conn.send(t, ocpp.AppendCall(nil, "r1", "Reset", json.RawMessage(`{"type":"Immediate"}`)))
	select {
	case ans := <-conn.Answers:
		t.Errorf("answered %+v while Rejected", ans)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestCloseErrorText(t *testing.T) {
	for _, tc := range []struct {
		e    CloseError
		want string
	}{
		{CloseError{1000, ""}, "1000 (normal closure)"},
		{CloseError{1001, "bye"}, "1001 (going away) bye"},
		{CloseError{1003, ""}, "1003 (unsupported data)"},
		{CloseError{1007, ""}, "1007 (invalid frame payload data)"},
		{CloseError{1008, "Charge Point CP2 not registered"}, "1008 (policy violation) Charge Point CP2 not registered"},
		{CloseError{1009, ""}, "1009 (message too big)"},
		{CloseError{1011, "oops"}, "1011 (internal error) oops"},
		{CloseError{4000, "custom"}, "4000 custom"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%d: %q, want %q", tc.e.Code, got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := time.Second, 60*time.Second
	for n, want := range []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60} {
		if got := backoff(n, lo, hi, 0); got != want*time.Second {
			t.Errorf("attempt %d without jitter: %s, want %s", n, got, want*time.Second)
		}
		got := backoff(n, lo, hi, 0.999)
		if got < want*time.Second || got > hi || (want < 32 && got <= want*time.Second) {
			t.Errorf("attempt %d with jitter: %s", n, got)
		}
	}
	if got := backoff(1000, lo, hi, 0.5); got != hi {
		t.Errorf("huge attempt: %s", got)
	}
}

func TestStationURL(t *testing.T) {
	for _, tc := range []struct{ base, id, url, hostport string }{
		{"ws://localhost:8080", "CP1", "ws://localhost:8080/CP1", "localhost:8080"},
		{"ws://localhost:8080/", "CP1", "ws://localhost:8080/CP1", "localhost:8080"},
		{"ws://host/ocpp", "CP1", "ws://host/ocpp/CP1", "host:80"},
		{"wss://host/ocpp/", "a b/c", "wss://host/ocpp/a%20b%2Fc", "host:443"},
		{"ws://[::1]:9/x%2Fy", "CP1", "ws://[::1]:9/x%2Fy/CP1", "[::1]:9"},
	} {
		u, hp, err := stationURL(tc.base, tc.id)
		if err != nil || u != tc.url || hp != tc.hostport {
			t.Errorf("stationURL(%q, %q) = %q, %q, %v; want %q, %q", tc.base, tc.id, u, hp, err, tc.url, tc.hostport)
		}
	}
}

func TestNewUUID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newUUID()
		if !uuidRE.MatchString(id) || len(id) > ocpp.MaxMessageIDLen {
			t.Fatalf("bad id %q", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}

func TestFramesBufferDropsWhenFull(t *testing.T) {
	ts := newTestServer(t)
	st, conn := connected(t, ts, Options{FrameBuffer: 1})
	for range 3 {
		conn.send(t, []byte(`[3,"nobody",{}]`))
	}
	if _, err := st.Heartbeat(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Four frames arrived, in order; the first is kept, the rest dropped.
	if got := st.DroppedFrames(); got != 3 {
		t.Errorf("DroppedFrames = %d, want 3", got)
	}
	if f := <-st.Frames(); string(f) != `[3,"nobody",{}]` {
		t.Errorf("kept frame %s", f)
	}

	off, conn2 := connected(t, ts, Options{ID: "CP2", FrameBuffer: -1})
	conn2.send(t, []byte(`[3,"nobody",{}]`))
	if _, err := off.Heartbeat(context.Background()); err != nil {
		t.Fatal(err)
	}
	if cap(off.Frames()) != 0 || off.DroppedFrames() != 0 {
		t.Errorf("disabled Frames: cap %d, dropped %d", cap(off.Frames()), off.DroppedFrames())
	}
}

func TestSendOnlyIn21(t *testing.T) {
	ts := newTestServer(t)
	st, conn := connected(t, ts, Options{Version: ocpp.V21})
	if err := st.Send(context.Background(), "NotifyPeriodicEventStream", map[string]any{"id": 1, "pending": 0, "basetime": "2026-01-01T00:00:00Z", "data": []any{}}); err != nil {
		t.Fatal(err)
	}
	select {
	case f := <-conn.Sends:
		if f.Action != "NotifyPeriodicEventStream" || !uuidRE.MatchString(f.ID) || !strings.Contains(string(f.Payload), `"pending":0`) {
			t.Errorf("SEND %+v %s", f, f.Payload)
		}
	case <-time.After(waitFor):
		t.Fatal("no SEND arrived")
	}
	old, _ := connected(t, ts, Options{ID: "CP2", Version: ocpp.V201})
	if err := old.Send(context.Background(), "NotifyPeriodicEventStream", nil); err == nil {
		t.Error("SEND accepted in 2.0.1")
	}
}
