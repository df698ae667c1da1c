package main

// End-to-end tests of `ocppd serve`: the real server on :0 ports, driven by
// the simulator (a real OCPP-J client), raw WebSocket clients, an MQTT v5
// client on the embedded broker's listener, and the independent npm client
// ocpp-rpc (ocpprpc_test.go).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/lxzan/gws"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/sim"
	"github.com/ocppd/ocppd/store"
)

// waitFor is how long a test waits for something asynchronous before
// failing; it only bounds a hang, it is not a performance assertion.
const waitFor = 20 * time.Second

// testConfig is a serve configuration on loopback :0 ports and a temp dir.
func testConfig(t *testing.T) serveConfig {
	return serveConfig{
		OCPPAddr:          "127.0.0.1:0",
		HTTPAddr:          "127.0.0.1:0",
		MQTTAddr:          "127.0.0.1:0",
		MQTTAddrExplicit:  true,
		DataDir:           t.TempDir(),
		HeartbeatInterval: 300 * time.Second,
		PingInterval:      30 * time.Second,
		MaxFrameSize:      64 << 10,
		CallTimeout:       60 * time.Second,
		ShutdownTimeout:   10 * time.Second,
	}
}

// testLogger sends server logs to the test log at warning level and above.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startServer starts `ocppd serve` in-process and registers the given
// stations as Accepted. It is shut down when the test ends.
func startServer(t *testing.T, cfg serveConfig, stations ...string) *server {
	t.Helper()
	srv := newServer(cfg, testLogger(t))
	if err := srv.Start(context.Background()); err != nil {
		_ = srv.Shutdown(context.Background())
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	if len(stations) > 0 {
		cps := make([]ocppd.ChargePoint, len(stations))
		for i, id := range stations {
			cps[i] = ocppd.ChargePoint{ID: id, Registration: ocppd.RegistrationAccepted, RegisteredAt: time.Now()}
		}
		if err := srv.store.AddChargePoints(context.Background(), cps); err != nil {
			t.Fatalf("register stations: %v", err)
		}
	}
	return srv
}

func wsURL(srv *server) string { return "ws://" + srv.OCPPAddr() }

// station connects a simulated station; it is closed when the test ends.
func station(t *testing.T, srv *server, id string, v ocpp.Version) *sim.Station {
	t.Helper()
	st := sim.New(sim.Options{URL: wsURL(srv) + "/ocpp", ID: id, Version: v, CallTimeout: waitFor})
	if err := st.Connect(context.Background()); err != nil {
		t.Fatalf("%s: connect: %v", id, err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or waitFor passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("invalid JSON %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

// TestBootHeartbeatStatus is the seed's exchange for every version: boot
// accepted with the configured interval, the request stored as the
// shadow's state.reported, heartbeats answered with a UTC time and
// recorded as last-seen, status stored.
func TestBootHeartbeatStatus(t *testing.T) {
	cfg := testConfig(t)
	cfg.HeartbeatInterval = 10 * time.Second
	srv := startServer(t, cfg, "CP16", "CP201", "CP21")
	for _, tc := range []struct {
		id string
		v  ocpp.Version
	}{{"CP16", ocpp.V16}, {"CP201", ocpp.V201}, {"CP21", ocpp.V21}} {
		t.Run(string(tc.v), func(t *testing.T) {
			ctx := ctxT(t)
			st := station(t, srv, tc.id, tc.v)
			boot, err := st.Boot(ctx)
			if err != nil {
				t.Fatalf("boot: %v", err)
			}
			if boot.Status != "Accepted" || boot.Interval != 10*time.Second {
				t.Fatalf("boot answer %s: want Accepted with interval 10", boot.Raw)
			}

			// The shadow's state.reported is the BootNotification request,
			// field for field (the seed's shape for 2.x, 1.6 names for 1.6).
			rec, err := srv.store.GetShadow(ctx, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				State struct {
					Reported json.RawMessage `json:"reported"`
				} `json:"state"`
			}
			if err := json.Unmarshal(rec.Document, &doc); err != nil {
				t.Fatalf("shadow %s: %v", rec.Document, err)
			}
			if !jsonEqual(t, doc.State.Reported, st.BootPayload()) {
				t.Fatalf("shadow state.reported = %s\nwant the BootNotification request %s", doc.State.Reported, st.BootPayload())
			}
			if tc.v != ocpp.V16 && !strings.Contains(string(doc.State.Reported), `"chargingStation":{`) {
				t.Fatalf("2.x shadow lacks chargingStation: %s", doc.State.Reported)
			}

			before, err := srv.store.GetChargePoint(ctx, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := st.Call(ctx, "Heartbeat", struct{}{})
			if err != nil {
				t.Fatalf("heartbeat: %v", err)
			}
			var hb struct {
				CurrentTime string `json:"currentTime"`
			}
			if err := json.Unmarshal(raw, &hb); err != nil {
				t.Fatal(err)
			}
			if ts, err := time.Parse(time.RFC3339Nano, hb.CurrentTime); err != nil || !strings.HasSuffix(hb.CurrentTime, "Z") {
				t.Fatalf("currentTime %q: want RFC 3339 UTC with Z (%v)", hb.CurrentTime, err)
			} else if d := time.Since(ts); d < -time.Minute || d > time.Minute {
				t.Fatalf("currentTime %s is %s away from now", hb.CurrentTime, d)
			}
			after, err := srv.store.GetChargePoint(ctx, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if after.LastSeen.IsZero() || after.LastSeen.Before(before.LastSeen) {
				t.Fatalf("last seen %v after heartbeat, %v before", after.LastSeen, before.LastSeen)
			}
			if !after.Online || after.Protocol != string(tc.v) {
				t.Fatalf("registry after connect: online %v protocol %q", after.Online, after.Protocol)
			}

			if err := st.StatusNotification(ctx, 1, 1, "Available"); err != nil {
				t.Fatalf("status: %v", err)
			}
			cur, err := srv.store.CurrentStatus(ctx, tc.id)
			if err != nil || len(cur) != 1 || cur[0].Status != "Available" || cur[0].Connector != 1 {
				t.Fatalf("current status %+v, %v", cur, err)
			}

			// An action the CSMS does not know is a NotImplemented
			// CALLERROR, never a CALLRESULT.
			_, err = st.Call(ctx, "FrobnicateWidget", struct{}{})
			var ce *sim.CallError
			if !errors.As(err, &ce) || ce.Code != "NotImplemented" {
				t.Fatalf("unknown action answered %v, want CALLERROR NotImplemented", err)
			}
		})
	}
}

// TestUnknownStationRefused: the seed's CP2 example.
func TestUnknownStationRefused(t *testing.T) {
	srv := startServer(t, testConfig(t), "CP1")
	st := sim.New(sim.Options{URL: wsURL(srv), ID: "CP2", ReconnectDelay: 10 * time.Millisecond})
	defer st.Close()
	err := st.Run(ctxT(t))
	var ce *sim.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("Run = %v, want a close error", err)
	}
	if ce.Code != 1008 || ce.Reason != "Charge Point CP2 not registered" {
		t.Fatalf("closed with %d %q", ce.Code, ce.Reason)
	}
	if got := ce.Error(); got != "1008 (policy violation) Charge Point CP2 not registered" {
		t.Fatalf("error text %q", got)
	}
	// The CLI prints that text and exits non-zero.
	_, _, cliErr := runCLI(t, "sim", "--url", wsURL(srv), "--cp-id", "CP2")
	if cliErr == nil || cliErr.Error() != "1008 (policy violation) Charge Point CP2 not registered" {
		t.Fatalf("ocppd sim for an unknown station: %v", cliErr)
	}
}

// TestAllowUnknown registers an unknown station as Pending and answers its
// boot Pending.
func TestAllowUnknown(t *testing.T) {
	cfg := testConfig(t)
	cfg.AllowUnknown = true
	srv := startServer(t, cfg)
	st := station(t, srv, "LAB1", ocpp.V201)
	boot, err := st.Boot(ctxT(t))
	if err != nil || boot.Status != "Pending" {
		t.Fatalf("boot = %+v, %v; want Pending", boot, err)
	}
	cp, err := srv.store.GetChargePoint(ctxT(t), "LAB1")
	if err != nil || cp.Registration != ocppd.RegistrationPending {
		t.Fatalf("registry: %+v, %v", cp, err)
	}
}

// rawConn is a bare WebSocket client that records frames and the close.
type rawConn struct {
	gws.BuiltinEventHandler
	conn   *gws.Conn
	frames chan string
	closed chan *gws.CloseError
	proto  string
}

func (c *rawConn) OnMessage(_ *gws.Conn, m *gws.Message) {
	c.frames <- string(m.Bytes())
	m.Close()
}

func (c *rawConn) OnClose(_ *gws.Conn, err error) {
	ce, _ := err.(*gws.CloseError)
	if ce == nil {
		ce = &gws.CloseError{Code: 1006, Reason: []byte(fmt.Sprint(err))}
	}
	c.closed <- ce
}

func dialRaw(t *testing.T, url string, protocols ...string) *rawConn {
	t.Helper()
	rc := &rawConn{frames: make(chan string, 100), closed: make(chan *gws.CloseError, 1)}
	h := http.Header{}
	if len(protocols) > 0 {
		h.Set("Sec-WebSocket-Protocol", strings.Join(protocols, ", "))
	}
	conn, resp, err := gws.NewClient(rc, &gws.ClientOption{Addr: url, RequestHeader: h})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	rc.conn = conn
	rc.proto = resp.Header.Get("Sec-WebSocket-Protocol")
	go conn.ReadLoop()
	t.Cleanup(func() { _ = conn.NetConn().Close() })
	return rc
}

func (c *rawConn) send(t *testing.T, frame string) {
	t.Helper()
	if err := c.conn.WriteString(frame); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func (c *rawConn) next(t *testing.T) string {
	t.Helper()
	select {
	case f := <-c.frames:
		return f
	case ce := <-c.closed:
		t.Fatalf("connection closed (%d %s) while waiting for a frame", ce.Code, ce.Reason)
	case <-time.After(waitFor):
		t.Fatal("timed out waiting for a frame")
	}
	return ""
}

func (c *rawConn) waitClose(t *testing.T) *gws.CloseError {
	t.Helper()
	select {
	case ce := <-c.closed:
		return ce
	case <-time.After(waitFor):
		t.Fatal("timed out waiting for the close")
	}
	return nil
}

// TestDuplicateConnection: the new connection wins, the old one is closed
// with 1000 (the seed's wscat example).
func TestDuplicateConnection(t *testing.T) {
	srv := startServer(t, testConfig(t), "CP1")
	first := dialRaw(t, wsURL(srv)+"/CP1", "ocpp2.0.1")
	first.send(t, `[2,"h1","Heartbeat",{}]`)
	if f := first.next(t); !strings.HasPrefix(f, `[3,"h1",{"currentTime":`) {
		t.Fatalf("first connection's heartbeat answer: %s", f)
	}
	second := dialRaw(t, wsURL(srv)+"/CP1", "ocpp2.0.1")
	if ce := first.waitClose(t); ce.Code != 1000 {
		t.Fatalf("old connection closed with %d %q, want 1000", ce.Code, ce.Reason)
	}
	second.send(t, `[2,"h2","Heartbeat",{}]`)
	if f := second.next(t); !strings.HasPrefix(f, `[3,"h2",`) {
		t.Fatalf("new connection's heartbeat answer: %s", f)
	}
}

// TestSubprotocolNegotiation: the newest version the station offers wins.
func TestSubprotocolNegotiation(t *testing.T) {
	srv := startServer(t, testConfig(t), "CP1")
	c := dialRaw(t, wsURL(srv)+"/CP1", "ocpp1.6", "ocpp2.0.1")
	if c.proto != "ocpp2.0.1" {
		t.Fatalf("negotiated %q, want ocpp2.0.1", c.proto)
	}
	// A station offering nothing acceptable gets a handshake without a
	// subprotocol and then 1002; the gateway's tests cover that with a raw
	// client (gws's client refuses such a handshake itself).
}

// TestMalformedFrames: the version's CALLERROR, id -1 when unreadable, and
// the session goes on.
func TestMalformedFrames(t *testing.T) {
	srv := startServer(t, testConfig(t), "CP16", "CP201")
	cases := []struct {
		proto, frame, want string
	}{
		{"ocpp1.6", `not json`, `[4,"-1","FormationViolation",`},
		{"ocpp1.6", `{"a":1}`, `[4,"-1","ProtocolError",`},
		{"ocpp1.6", `[2,"x1","Heartbeat","no"]`, `[4,"x1","FormationViolation",`},
		{"ocpp2.0.1", `not json`, `[4,"-1","FormatViolation",`},
		{"ocpp2.0.1", `[2]`, `[4,"-1","RpcFrameworkError",`},
		{"ocpp2.0.1", `[7,"x2","Heartbeat",{}]`, `[4,"x2","MessageTypeNotSupported",`},
		{"ocpp2.0.1", `[6,"x3","NotifyPeriodicEventStream",{}]`, `[4,"x3","MessageTypeNotSupported",`},
		{"ocpp2.0.1", `[2,"` + strings.Repeat("i", 37) + `","Heartbeat",{}]`, `[4,"-1","RpcFrameworkError",`},
	}
	conns := map[string]*rawConn{
		"ocpp1.6":   dialRaw(t, wsURL(srv)+"/CP16", "ocpp1.6"),
		"ocpp2.0.1": dialRaw(t, wsURL(srv)+"/CP201", "ocpp2.0.1"),
	}
	for _, c := range cases {
		conn := conns[c.proto]
		conn.send(t, c.frame)
		got := conn.next(t)
		if !strings.HasPrefix(got, c.want) || !json.Valid([]byte(got)) {
			t.Errorf("%s %s → %s, want prefix %s", c.proto, c.frame, got, c.want)
		}
	}
	for proto, conn := range conns {
		conn.send(t, `[2,"after","Heartbeat",{}]`)
		if f := conn.next(t); !strings.HasPrefix(f, `[3,"after",`) {
			t.Errorf("%s: session broken after malformed frames: %s", proto, f)
		}
	}
}

// mqttObserver connects an MQTT v5 client to the embedded broker's
// listener, like mosquitto_sub.
func mqttObserver(t *testing.T, srv *server, filters ...string) (*paho.Client, <-chan *paho.Publish) {
	t.Helper()
	recv := make(chan *paho.Publish, 100)
	conn, err := net.Dial("tcp", srv.broker.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) { recv <- pr.Packet; return true, nil },
		},
	})
	if _, err := c.Connect(ctxT(t), &paho.Connect{ClientID: "observer", KeepAlive: 30, CleanStart: true}); err != nil {
		t.Fatalf("mqtt connect: %v", err)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	for _, f := range filters {
		if _, err := c.Subscribe(ctxT(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: f, QoS: 1}}}); err != nil {
			t.Fatalf("subscribe %s: %v", f, err)
		}
	}
	return c, recv
}

// nextOn waits for a PUBLISH on topic whose payload contains substr.
func nextOn(t *testing.T, ch <-chan *paho.Publish, topic, substr string) *paho.Publish {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case p := <-ch:
			if p.Topic == topic && strings.Contains(string(p.Payload), substr) {
				return p
			}
		case <-deadline:
			t.Fatalf("no message on %s containing %q", topic, substr)
		}
	}
}

// TestMQTTObserver: an MQTT client sees /in and /out with the user
// properties, and what it publishes on /out reaches the station, whose
// answer appears on /in.
func TestMQTTObserver(t *testing.T) {
	srv := startServer(t, testConfig(t), "CP1")
	obs, recv := mqttObserver(t, srv, "+/in", "+/out", "ocppd/lifecycle/+")
	st := station(t, srv, "CP1", ocpp.V201)
	resetSeen := make(chan json.RawMessage, 1)
	st.Handle("Reset", func(_ context.Context, p json.RawMessage) (any, error) {
		resetSeen <- p
		return map[string]string{"status": "Accepted"}, nil
	})
	nextOn(t, recv, "ocppd/lifecycle/CP1", `"event":"connected"`)
	if _, err := st.Boot(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	in := nextOn(t, recv, "CP1/in", `"BootNotification"`)
	props := map[string]string{}
	for _, u := range in.Properties.User {
		props[u.Key] = u.Value
	}
	if props[bus.PropVersion] != "ocpp2.0.1" || props[bus.PropSession] == "" {
		t.Fatalf("user properties on CP1/in: %v", props)
	}
	if in.QoS != 1 {
		t.Fatalf("CP1/in delivered at QoS %d, want 1", in.QoS)
	}
	nextOn(t, recv, "CP1/out", `"status":"Accepted"`)

	// Act as the CSMS by hand, like mosquitto_pub.
	if _, err := obs.Publish(ctxT(t), &paho.Publish{Topic: "CP1/out", QoS: 1, Payload: []byte(`[2,"r1","Reset",{"type":"Immediate"}]`)}); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-resetSeen:
		if !jsonEqual(t, p, []byte(`{"type":"Immediate"}`)) {
			t.Fatalf("station got Reset %s", p)
		}
	case <-time.After(waitFor):
		t.Fatal("the station never got the Reset published on CP1/out")
	}
	nextOn(t, recv, "CP1/in", `[3,"r1",{"status":"Accepted"}]`)
}

// TestShutdownClosesSessions: a shutdown closes every session with 1001 and
// records the stations offline.
func TestShutdownClosesSessions(t *testing.T) {
	srv := newServer(testConfig(t), testLogger(t))
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := srv.store.AddChargePoints(context.Background(), []ocppd.ChargePoint{{ID: "CP1", Registration: ocppd.RegistrationAccepted}}); err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, wsURL(srv)+"/CP1", "ocpp1.6")
	c.send(t, `[2,"h","Heartbeat",{}]`)
	c.next(t)
	var wg sync.WaitGroup
	wg.Add(1)
	var shutdownErr error
	go func() {
		defer wg.Done()
		shutdownErr = srv.Shutdown(ctxT(t))
	}()
	if ce := c.waitClose(t); ce.Code != 1001 {
		t.Fatalf("closed with %d %q, want 1001", ce.Code, ce.Reason)
	}
	wg.Wait()
	if shutdownErr != nil {
		t.Fatalf("shutdown: %v", shutdownErr)
	}
}

// TestHealth: /healthz and /readyz answer without credentials.
func TestHealth(t *testing.T) {
	srv := startServer(t, testConfig(t))
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + srv.HTTPAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !json.Valid(body) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
}

// TestMQTTDefaultPortTaken: the default MQTT address taken → warn and run
// on without the listener; an explicitly chosen address taken → error.
func TestMQTTDefaultPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := testConfig(t)
	cfg.MQTTAddr = ln.Addr().String()
	cfg.MQTTAddrExplicit = false // as if it were the default
	srv := startServer(t, cfg, "CP1")
	if srv.broker.Addr() != nil {
		t.Fatal("the broker has a listener although its address was taken")
	}
	st := station(t, srv, "CP1", ocpp.V16)
	if b, err := st.Boot(ctxT(t)); err != nil || b.Status != "Accepted" {
		t.Fatalf("boot without the MQTT listener: %+v %v", b, err)
	}

	cfg2 := testConfig(t)
	cfg2.MQTTAddr = ln.Addr().String()
	srv2 := newServer(cfg2, testLogger(t))
	err = srv2.Start(context.Background())
	_ = srv2.Shutdown(context.Background())
	if err == nil || !strings.Contains(err.Error(), "--mqtt-addr") {
		t.Fatalf("explicit taken address: %v", err)
	}
}

// TestLastSeenStore checks the registry view of a connected then
// disconnected station (lifecycle events through the bus).
func TestOnlineState(t *testing.T) {
	srv := startServer(t, testConfig(t), "CP1")
	c := dialRaw(t, wsURL(srv)+"/CP1", "ocpp2.1")
	c.send(t, `[2,"h","Heartbeat",{}]`)
	c.next(t)
	online := true
	eventually(t, "CP1 online", func() bool {
		cps, err := srv.store.ListChargePoints(context.Background(), store.ListOptions{Online: &online})
		return err == nil && len(cps) == 1 && cps[0].Protocol == "ocpp2.1"
	})
	c.conn.WriteClose(1000, nil)
	eventually(t, "CP1 offline", func() bool {
		cp, err := srv.store.GetChargePoint(context.Background(), "CP1")
		return err == nil && !cp.Online
	})
}
