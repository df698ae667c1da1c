package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/ocpp"
)

// callError decodes a CALLERROR (or CALLRESULTERROR) frame.
func callError(t *testing.T, frame string) (typ int, id, code string) {
	t.Helper()
	var a []json.RawMessage
	if err := json.Unmarshal([]byte(frame), &a); err != nil || len(a) != 5 {
		t.Fatalf("not an error frame: %s", frame)
	}
	_ = json.Unmarshal(a[0], &typ)
	_ = json.Unmarshal(a[1], &id)
	_ = json.Unmarshal(a[2], &code)
	return typ, id, code
}

func TestMalformedFrames(t *testing.T) {
	id37 := strings.Repeat("a", 37)
	type answer struct {
		typ      int // 0: no answer, frame not published; -1: published, no answer
		id, code string
	}
	cases := []struct {
		name  string
		frame string
		want  map[ocpp.Version]answer
	}{
		{"not JSON", `[2,"a1","Heartbeat",{]`, map[ocpp.Version]answer{
			ocpp.V16: {4, "-1", "FormationViolation"}, ocpp.V201: {4, "-1", "FormatViolation"}, ocpp.V21: {4, "-1", "FormatViolation"}}},
		{"not an array", `{"a":1}`, map[ocpp.Version]answer{
			ocpp.V16: {4, "-1", "ProtocolError"}, ocpp.V201: {4, "-1", "RpcFrameworkError"}, ocpp.V21: {4, "-1", "RpcFrameworkError"}}},
		{"type only", `[2]`, map[ocpp.Version]answer{
			ocpp.V16: {4, "-1", "ProtocolError"}, ocpp.V201: {4, "-1", "RpcFrameworkError"}, ocpp.V21: {4, "-1", "RpcFrameworkError"}}},
		{"unknown type 7", `[7,"a7",{}]`, map[ocpp.Version]answer{
			ocpp.V16: {4, "a7", "ProtocolError"}, ocpp.V201: {4, "a7", "MessageTypeNotSupported"}, ocpp.V21: {4, "a7", "MessageTypeNotSupported"}}},
		{"id of 37 chars", `[2,"` + id37 + `","Heartbeat",{}]`, map[ocpp.Version]answer{
			ocpp.V16: {4, "-1", "ProtocolError"}, ocpp.V201: {4, "-1", "RpcFrameworkError"}, ocpp.V21: {4, "-1", "RpcFrameworkError"}}},
		{"payload not an object", `[2,"a2","Heartbeat","notobject"]`, map[ocpp.Version]answer{
			ocpp.V16: {4, "a2", "FormationViolation"}, ocpp.V201: {4, "a2", "FormatViolation"}, ocpp.V21: {4, "a2", "FormatViolation"}}},
		{"CALLRESULTERROR (type 5)", `[5,"a5","InternalError","boom",{}]`, map[ocpp.Version]answer{
			ocpp.V16: {4, "a5", "ProtocolError"}, ocpp.V201: {4, "a5", "MessageTypeNotSupported"}, ocpp.V21: {-1, "", ""}}},
		{"SEND (type 6)", `[6,"a6","NotifyPeriodicEventStream",{}]`, map[ocpp.Version]answer{
			ocpp.V16: {4, "a6", "ProtocolError"}, ocpp.V201: {4, "a6", "MessageTypeNotSupported"}, ocpp.V21: {-1, "", ""}}},
		{"malformed CALLRESULT", `[3,"a3","x"]`, map[ocpp.Version]answer{
			ocpp.V16: {0, "", ""}, ocpp.V201: {0, "", ""}, ocpp.V21: {5, "a3", "FormatViolation"}}},
		{"malformed CALLERROR", `[4,"a4","GenericError"]`, map[ocpp.Version]answer{
			ocpp.V16: {0, "", ""}, ocpp.V201: {0, "", ""}, ocpp.V21: {0, "", ""}}},
		{"valid CALL", `[2,"a8","Heartbeat",{}]`, map[ocpp.Version]answer{
			ocpp.V16: {-1, "", ""}, ocpp.V201: {-1, "", ""}, ocpp.V21: {-1, "", ""}}},
	}
	for _, v := range ocpp.Versions {
		t.Run(string(v), func(t *testing.T) {
			e := newEnv(t, nil)
			c, _ := e.connect("/ocpp/CP1", string(v))
			for i, tc := range cases {
				want := tc.want[v]
				c.Send(tc.frame)
				published := e.probe(c, fmt.Sprintf("probe-%d", i))
				got := e.sync(c, "CP1", fmt.Sprintf("sync-%d", i))
				switch {
				case want.typ == -1:
					if len(published) != 1 || string(published[0].Payload) != tc.frame || len(got) != 0 {
						t.Errorf("%s: published %d, answered %q; want published and no answer", tc.name, len(published), got)
					}
				case want.typ == 0:
					if len(published) != 0 || len(got) != 0 {
						t.Errorf("%s: published %d, answered %q; want neither", tc.name, len(published), got)
					}
				default:
					if len(published) != 0 {
						t.Errorf("%s: malformed frame published", tc.name)
					}
					if len(got) != 1 {
						t.Errorf("%s: answers %q, want one", tc.name, got)
						continue
					}
					typ, id, code := callError(t, got[0])
					if typ != want.typ || id != want.id || code != want.code {
						t.Errorf("%s: answer %s, want [%d,%q,%q,...]", tc.name, got[0], want.typ, want.id, want.code)
					}
				}
			}
			st := e.gw.Stats()
			if st.FramesInvalid == 0 || len(st.CallErrorsSent) == 0 {
				t.Errorf("stats %+v", st)
			}
			if n := e.gw.Sessions(); n != 1 {
				t.Errorf("malformed frames closed the session")
			}
		})
	}
}

func TestPublishFailureAnswersInternalError(t *testing.T) {
	e := newEnv(t, nil)
	c, _ := e.connect("/ocpp/CP1", "ocpp1.6")
	e.flky.fail.Store(true)
	c.Send(`[2,"c1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]`)
	c.Send(`[3,"r1",{}]`) // an answer that cannot be published gets no reply
	c.Send(`[2,"c2","Heartbeat",{}]`)
	for _, want := range []string{"c1", "c2"} {
		typ, id, code := callError(t, c.ExpectText())
		if typ != 4 || id != want || code != "InternalError" {
			t.Errorf("answer [%d,%q,%q], want CALLERROR InternalError for %s", typ, id, code, want)
		}
	}
	e.flky.fail.Store(false)
	if got := e.probe(c, "p"); len(got) != 0 {
		t.Errorf("frames published while the bus failed: %d", len(got))
	}
	st := e.gw.Stats()
	if st.PublishErrors != 3 || st.CallErrorsSent["InternalError"] != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestOneOutstandingCall(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.QueueSize = 2 })
	c, _ := e.connect("/ocpp/CP1", "ocpp2.0.1")
	for i := 1; i <= 4; i++ {
		e.out("CP1", fmt.Sprintf(`[2,"k%d","GetVariables",{"n":%d}]`, i, i))
	}
	if got := c.ExpectText(); got != `[2,"k1","GetVariables",{"n":1}]` {
		t.Fatalf("first frame %s", got)
	}
	// Until the station answers k1, nothing else is sent; answers to the
	// station's own calls still go out at once.
	if got := e.sync(c, "CP1", "s1"); len(got) != 0 {
		t.Fatalf("sent while k1 outstanding: %q", got)
	}
	if st := e.gw.Stats(); st.CallsDropped != 1 {
		t.Errorf("CallsDropped = %d, want 1 (queue of 2)", st.CallsDropped)
	}
	// A CALLRESULT with another id does not release the queue.
	c.Send(`[3,"unrelated",{}]`)
	e.probe(c, "p0")
	if got := e.sync(c, "CP1", "s2"); len(got) != 0 {
		t.Fatalf("sent after an unrelated answer: %q", got)
	}
	c.Send(`[3,"k1",{"ok":1}]`)
	if got := c.ExpectText(); got != `[2,"k2","GetVariables",{"n":2}]` {
		t.Fatalf("after k1: %s", got)
	}
	if m := e.nextIn(); string(m.Payload) != `[3,"k1",{"ok":1}]` {
		t.Errorf("answer not published: %s", m.Payload)
	}
	c.Send(`[4,"k2","NotSupported","no",{}]`) // a CALLERROR answers too
	if got := c.ExpectText(); got != `[2,"k3","GetVariables",{"n":3}]` {
		t.Fatalf("after k2: %s", got)
	}
	c.Send(`[3,"k3",{}]`)
	e.probe(c, "p1")
	if got := e.sync(c, "CP1", "s3"); len(got) != 0 {
		t.Errorf("k4 should have been dropped, got %q", got)
	}
}

func TestCallTimeout(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.CallTimeout = 50 * time.Millisecond })
	c, _ := e.connect("/ocpp/CP1", "ocpp2.1")
	e.out("CP1", `[2,"t1","Reset",{"type":"Immediate"}]`)
	e.out("CP1", `[2,"t2","Reset",{"type":"OnIdle"}]`)
	if got := c.ExpectText(); !strings.Contains(got, `"t1"`) {
		t.Fatalf("first %s", got)
	}
	// No answer: after CallTimeout the gateway gives up and sends t2.
	if got := c.ExpectText(); !strings.Contains(got, `"t2"`) {
		t.Fatalf("second %s", got)
	}
	if st := e.gw.Stats(); st.CallTimeouts != 1 {
		t.Errorf("CallTimeouts = %d", st.CallTimeouts)
	}
	// A late answer to t1 is still published and does not release anything.
	c.Send(`[3,"t1",{}]`)
	if m := e.nextIn(); string(m.Payload) != `[3,"t1",{}]` {
		t.Errorf("late answer: %s", m.Payload)
	}
	c.Send(`[3,"t2",{}]`)
	e.nextIn()
	waitFor(t, func() bool { return e.gw.Stats().CallTimeouts == 1 }, "stable count")
}

func TestInvalidOutFramesDropped(t *testing.T) {
	e := newEnv(t, nil)
	c, _ := e.connect("/ocpp/CP1", "ocpp2.0.1")
	e.out("CP1", `garbage`)
	e.out("CP1", `[2,"x"]`)
	e.out("CP1", `[6,"s","NotifyPeriodicEventStream",{}]`) // SEND is not 2.0.1
	if got := e.sync(c, "CP1", "s"); len(got) != 0 {
		t.Errorf("invalid /out frames written: %q", got)
	}
	if st := e.gw.Stats(); st.OutInvalid != 3 {
		t.Errorf("OutInvalid = %d", st.OutInvalid)
	}
}

func TestFrameSizeBinaryUTF8(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxFrameSize = 1024 })
	cases := []struct {
		name   string
		send   func(c *wsClient)
		code   int
		reason string
		life   string
	}{
		{"too large", func(c *wsClient) {
			c.Send(`[2,"b","DataTransfer",{"data":"` + strings.Repeat("x", 2000) + `"}]`)
		}, 1009, "", ReasonFrameTooLarge},
		{"binary", func(c *wsClient) { _ = c.writeFrame(opBinary, []byte(`[2,"b","Heartbeat",{}]`)) },
			1003, "binary frames are not supported", ReasonBinaryFrame},
		{"invalid utf-8", func(c *wsClient) { _ = c.writeFrame(opText, []byte("[2,\"b\",\"Heart\xffbeat\",{}]")) },
			1007, "", ReasonInvalidUTF8},
	}
	for _, tc := range cases {
		c, ev := e.connect("/ocpp/CP1", "ocpp2.0.1")
		// A frame just under the limit is fine.
		c.Send(`[2,"ok","DataTransfer",{"data":"` + strings.Repeat("y", 900) + `"}]`)
		e.nextIn()
		tc.send(c)
		code, reason := c.ExpectClose()
		if code != tc.code || (tc.reason != "" && reason != tc.reason) {
			t.Errorf("%s: close %d %q, want %d %q", tc.name, code, reason, tc.code, tc.reason)
		}
		d := e.nextLife()
		if d.SessionID != ev.SessionID || d.Reason != tc.life || d.CloseCode != tc.code {
			t.Errorf("%s: disconnected event %+v", tc.name, d)
		}
	}
	if len(e.in) != 0 {
		t.Errorf("refused frames were published")
	}
}

func TestPingPong(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.PingInterval = 20 * time.Millisecond
		o.PongTimeout = time.Second
	})
	// Our pong echoes the station's ping payload (RFC 6455 §5.5.3).
	c, _ := e.connect("/ocpp/CP1", "ocpp2.0.1")
	c.AutoPong = false
	_ = c.writeFrame(opPing, []byte("hello-ocppd"))
	pings := 0
	for {
		f, err := c.next()
		if err != nil {
			t.Fatal(err)
		}
		if f.Op == opPing {
			pings++
			_ = c.writeFrame(opPong, f.Payload)
			continue
		}
		if f.Op != opPong || string(f.Payload) != "hello-ocppd" {
			t.Fatalf("got %d %q, want the pong echo", f.Op, f.Payload)
		}
		break
	}
	// A station that answers pings stays connected through many of them.
	for pings < 15 {
		f, err := c.next()
		if err != nil {
			t.Fatal(err)
		}
		if f.Op != opPing {
			t.Fatalf("unexpected frame %d %q", f.Op, describeFrame(f))
		}
		pings++
		_ = c.writeFrame(opPong, f.Payload)
	}
	e.probe(c, "alive")
	c.AutoPong = true
	go func() { // keep answering pings in the background
		for {
			if _, err := c.next(); err != nil {
				return
			}
		}
	}()

	// A silent station is dropped after PongTimeout.
	silent, ev := e.connect("/ocpp/CP2", "ocpp2.0.1")
	silent.AutoPong = false
	for {
		f, err := silent.next()
		if err != nil {
			break // TCP closed: also acceptable
		}
		if f.Op == opClose {
			if code, _ := silent.parseClose(f); code != 1001 {
				t.Errorf("silent station closed with %d, want 1001", code)
			}
			break
		}
	}
	for {
		d := e.nextLife()
		if d.Event == bus.EventDisconnected && d.SessionID == ev.SessionID {
			if d.Reason != ReasonPingTimeout {
				t.Errorf("disconnected event %+v", d)
			}
			break
		}
	}
	// The well-behaved station is still there.
	if e.gw.Sessions() != 1 {
		t.Errorf("Sessions() = %d, want 1", e.gw.Sessions())
	}
}

func (c *wsClient) parseClose(f wsFrame) (int, string) {
	if len(f.Payload) < 2 {
		return 0, ""
	}
	return int(f.Payload[0])<<8 | int(f.Payload[1]), string(f.Payload[2:])
}

func TestPingsDisabled(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.PingInterval = -1 })
	c, _ := e.connect("/ocpp/CP1", "ocpp2.0.1")
	c.AutoPong = false
	e.probe(c, "p")
	e.gw.mu.Lock()
	s := e.gw.sessions["CP1"]
	e.gw.mu.Unlock()
	s.mu.Lock()
	timer := s.pingTimer
	s.mu.Unlock()
	if timer != nil {
		t.Error("keepalive timer started with pings disabled")
	}
}

func TestSlowPeerDisconnected(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.WriteQueueSize = 4
		o.WriteTimeout = time.Minute // the queue, not the write deadline, must catch it
	})
	c, ev := e.connect("/ocpp/CP1", "ocpp2.0.1")
	_ = c // the station never reads
	big := `[3,"r",{"data":"` + strings.Repeat("z", 64<<10) + `"}]`
	for i := 0; i < 5000 && e.gw.Stats().SlowPeers == 0; i++ {
		e.out("CP1", big) // never blocks, however slow the station
	}
	if st := e.gw.Stats(); st.SlowPeers != 1 {
		t.Fatalf("SlowPeers = %d; %+v", st.SlowPeers, st)
	}
	for {
		d := e.nextLife()
		if d.Event == bus.EventDisconnected && d.SessionID == ev.SessionID {
			if d.Reason != ReasonSlowPeer || d.CloseCode != 1008 {
				t.Errorf("disconnected event %+v", d)
			}
			break
		}
	}
}

func TestShutdown(t *testing.T) {
	before := runtime.NumGoroutine()
	e := newEnv(t, func(o *Options) { o.PingInterval = 50 * time.Millisecond; o.CallTimeout = time.Hour })
	var clients []*wsClient
	for i := range 3 {
		c, _ := e.connect(fmt.Sprintf("/ocpp/CP%d", i), "ocpp2.0.1")
		clients = append(clients, c)
	}
	e.out("CP0", `[2,"pending","Reset",{"type":"Immediate"}]`) // a call timer runs
	clients[0].ExpectText()

	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := e.gw.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// Every disconnected event is published by the time Shutdown returns.
	for range 3 {
		select {
		case d := <-e.life:
			if d.Event != bus.EventDisconnected || d.Reason != ReasonShutdown || d.CloseCode != 1001 {
				t.Errorf("event %+v", d)
			}
		default:
			t.Fatal("Shutdown returned before publishing every disconnected event")
		}
	}
	for _, c := range clients {
		if code, reason := c.ExpectClose(); code != 1001 || reason != "server shutting down" {
			t.Errorf("close %d %q", code, reason)
		}
	}
	if e.gw.Sessions() != 0 {
		t.Errorf("Sessions() = %d", e.gw.Sessions())
	}
	// New upgrades are refused with 503; Shutdown is idempotent; Start
	// after Shutdown fails.
	if _, resp, err := dialRaw(t, e.addr, "/ocpp/CP9", "ocpp2.0.1"); err != nil || resp == nil || resp.StatusCode != 503 {
		t.Errorf("upgrade after shutdown: %v %v", resp, err)
	}
	if err := e.gw.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if err := e.gw.Start(ctx); err == nil {
		t.Error("Start after Shutdown succeeded")
	}
	for _, c := range clients {
		c.conn.Close()
	}
	e.srv.Close()
	e.srv.Client().CloseIdleConnections()
	// No goroutine of the gateway remains.
	deadline := time.Now().Add(waitLimit)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestShutdownDuringAdmission(t *testing.T) {
	block := make(chan struct{})
	reg := registryFunc(func(ctx context.Context, id string) error {
		close(block)
		<-ctx.Done()
		return ctx.Err()
	})
	e := newEnv(t, func(o *Options) { o.Registry = reg })
	done := make(chan struct{})
	go func() {
		defer close(done)
		c := dial(t, e.addr, "/ocpp/CP1", "ocpp2.0.1")
		if code, _ := c.ExpectClose(); code != 1001 {
			t.Errorf("close %d, want 1001", code)
		}
	}()
	<-block
	if err := e.gw.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-done
	if st := e.gw.Stats(); st.Refused[RefusedShutdown] != 1 || st.Accepted != 0 {
		t.Errorf("stats %+v", st)
	}
}

type registryFunc func(ctx context.Context, id string) error

func (f registryFunc) Admit(ctx context.Context, id string, _ *http.Request) error { return f(ctx, id) }
