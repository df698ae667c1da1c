package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/bus/memory"
	"github.com/ocppd/ocppd/ocpp"
)

var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeRegistry admits every id except those in unknown (ENOTFOUND) and
// broken (another error).
type fakeRegistry struct {
	mu      sync.Mutex
	unknown map[string]bool
	broken  map[string]bool
	calls   []string
}

func (r *fakeRegistry) Admit(_ context.Context, id string, req *http.Request) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, id)
	if req == nil {
		return errors.New("no request")
	}
	if r.unknown[id] {
		return ocppd.Errorf(ocppd.ENOTFOUND, "charge point %s not found", id)
	}
	if r.broken[id] {
		return errors.New("database on fire")
	}
	return nil
}

// flakyBus fails Publish on /in topics while fail is set.
type flakyBus struct {
	bus.Bus
	fail atomic.Bool
}

func (b *flakyBus) Publish(ctx context.Context, m bus.Message) error {
	if b.fail.Load() && strings.HasSuffix(m.Topic, "/in") {
		return errors.New("broker unavailable")
	}
	return b.Bus.Publish(ctx, m)
}

// env is a gateway behind an httptest server on 127.0.0.1:0, on a memory
// bus, with the /in frames and lifecycle events collected.
type env struct {
	t    *testing.T
	bus  *memory.Bus
	flky *flakyBus
	gw   *Gateway
	srv  *httptest.Server
	addr string
	reg  *fakeRegistry
	in   chan bus.Message
	life chan bus.LifecycleEvent
}

func newEnv(t *testing.T, mod func(*Options)) *env {
	t.Helper()
	e := &env{
		t:    t,
		bus:  memory.New(),
		reg:  &fakeRegistry{unknown: map[string]bool{}, broken: map[string]bool{}},
		in:   make(chan bus.Message, 1024),
		life: make(chan bus.LifecycleEvent, 1024),
	}
	e.flky = &flakyBus{Bus: e.bus}
	opts := Options{
		Bus:       e.flky,
		Registry:  e.reg,
		GatewayID: "gw-test",
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:       func() time.Time { return testNow },
	}
	if mod != nil {
		mod(&opts)
	}
	ctx := context.Background()
	if _, err := e.bus.Subscribe(ctx, opts.Topics.AllIn(), func(m bus.Message) {
		m.Payload = append([]byte(nil), m.Payload...)
		e.in <- m
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.bus.Subscribe(ctx, opts.Topics.AllLifecycle(), func(m bus.Message) {
		ev, err := bus.DecodeLifecycle(m.Payload)
		if err != nil {
			t.Errorf("lifecycle event %s: %v", m.Payload, err)
		}
		e.life <- ev
	}); err != nil {
		t.Fatal(err)
	}
	e.gw = New(opts)
	if err := e.gw.Start(ctx); err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.gw)
	e.addr = strings.TrimPrefix(e.srv.URL, "http://")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if err := e.gw.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		e.srv.Close()
	})
	return e
}

// connect dials path and waits for the connected event.
func (e *env) connect(path string, protocols ...string) (*wsClient, bus.LifecycleEvent) {
	e.t.Helper()
	c := dial(e.t, e.addr, path, protocols...)
	ev := e.nextLife()
	if ev.Event != bus.EventConnected {
		e.t.Fatalf("lifecycle event %+v, want connected", ev)
	}
	return c, ev
}

func (e *env) nextIn() bus.Message {
	e.t.Helper()
	select {
	case m := <-e.in:
		return m
	case <-time.After(waitLimit):
		e.t.Fatal("no frame published on /in")
	}
	return bus.Message{}
}

func (e *env) nextLife() bus.LifecycleEvent {
	e.t.Helper()
	select {
	case ev := <-e.life:
		return ev
	case <-time.After(waitLimit):
		e.t.Fatal("no lifecycle event")
	}
	return bus.LifecycleEvent{}
}

// out publishes a frame to station cp as the CSMS would.
func (e *env) out(cp, frame string) {
	e.t.Helper()
	err := e.bus.Publish(context.Background(), bus.Message{Topic: e.gw.opts.Topics.Out(cp), Payload: []byte(frame)})
	if err != nil {
		e.t.Fatal(err)
	}
}

// probe makes the station send a Heartbeat CALL and waits for it on /in:
// every frame the station sent before has then been handled (the read path
// is ordered). Frames published on /in in between are returned.
func (e *env) probe(c *wsClient, id string) []bus.Message {
	e.t.Helper()
	c.Send(`[2,"` + id + `","Heartbeat",{}]`)
	var before []bus.Message
	for {
		m := e.nextIn()
		if strings.Contains(string(m.Payload), `"`+id+`"`) {
			return before
		}
		before = append(before, m)
	}
}

// sync publishes a CALLRESULT marker on /out and reads frames until it
// arrives, returning the frames the station received before it. Frames to
// a station are written in the order they were queued.
func (e *env) sync(c *wsClient, cp, id string) []string {
	e.t.Helper()
	e.out(cp, `[3,"`+id+`",{}]`)
	var before []string
	for {
		s := c.ExpectText()
		if s == `[3,"`+id+`",{}]` {
			return before
		}
		before = append(before, s)
	}
}

func TestStationID(t *testing.T) {
	ok := map[string]string{
		"/CP1":                        "CP1",
		"/ocpp/CP1":                   "CP1",
		"/any/prefix/CP1":             "CP1",
		"/ocpp/CP%2B1":                "CP+1",
		"/ocpp/a.b-c_d*e=f|g@h":       "a.b-c_d*e=f|g@h",
		"/" + strings.Repeat("x", 48): strings.Repeat("x", 48),
	}
	for path, want := range ok {
		u, err := url.Parse(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := StationID(u)
		if err != nil || got != want {
			t.Errorf("StationID(%q) = %q, %v; want %q", path, got, err, want)
		}
	}
	bad := []string{"/", "/ocpp/", "/ocpp/CP%2F1", "/ocpp/..", "/ocpp/%2E%2E", "/.",
		"/" + strings.Repeat("x", 49), "/CP%3A1", "/CP%201", "/CP%zz", "/CP%C3%A9"}
	for _, path := range bad {
		u, err := url.Parse(path)
		if err != nil {
			// "%zz" is refused by url.Parse already; build the URL raw.
			u = &url.URL{Path: path, RawPath: path}
		}
		if id, err := StationID(u); err == nil {
			t.Errorf("StationID(%q) = %q, want an error", path, id)
		}
	}
}

func TestInvalidIDRefusedBeforeUpgrade(t *testing.T) {
	e := newEnv(t, nil)
	for _, path := range []string{"/ocpp/", "/ocpp/CP%2F1", "/ocpp/..", "/ocpp/" + strings.Repeat("x", 49), "/CP%3A1"} {
		c, resp, err := dialRaw(t, e.addr, path, "ocpp2.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if c != nil {
			t.Fatalf("%s: upgraded, want 400", path)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "charge point id") {
			t.Errorf("%s: %d %q, want 400 with a clear text", path, resp.StatusCode, body)
		}
	}
	if n := e.gw.Stats().Refused[RefusedInvalidID]; n != 5 {
		t.Errorf("refused invalid id = %d, want 5", n)
	}
	if len(e.reg.calls) != 0 {
		t.Errorf("registry asked about %v", e.reg.calls)
	}
}

func TestConnectUnderAnyPrefix(t *testing.T) {
	e := newEnv(t, nil)
	for i, path := range []string{"/CP1", "/ocpp/CP2", "/any/prefix/CP%2B3"} {
		want := []string{"CP1", "CP2", "CP+3"}[i]
		c, ev := e.connect(path, "ocpp2.0.1")
		if ev.ChargePointID != want {
			t.Errorf("%s: connected %q, want %q", path, ev.ChargePointID, want)
		}
		e.probe(c, "p1")
	}
	if n := e.gw.Sessions(); n != 3 {
		t.Errorf("Sessions() = %d, want 3", n)
	}
}

func TestNotUpgradeRequest(t *testing.T) {
	e := newEnv(t, nil)
	resp, err := http.Get(e.srv.URL + "/ocpp/CP1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("plain GET: %d, want 426", resp.StatusCode)
	}
}

func TestSubprotocolNegotiation(t *testing.T) {
	e := newEnv(t, nil)
	cases := []struct {
		offer []string
		want  ocpp.Version
	}{
		{[]string{"ocpp1.6"}, ocpp.V16},
		{[]string{"ocpp2.0.1"}, ocpp.V201},
		{[]string{"ocpp2.1"}, ocpp.V21},
		{[]string{"ocpp1.6, ocpp2.0.1"}, ocpp.V201},
		{[]string{"ocpp2.0.1,ocpp1.6"}, ocpp.V201},
		{[]string{"ocpp1.6", "ocpp2.1, ocpp2.0.1"}, ocpp.V21}, // two header lines
		{[]string{"ocpp1.5, ocpp1.6, foo"}, ocpp.V16},
	}
	for i, tc := range cases {
		cp := "CP" + string(rune('A'+i))
		c, ev := e.connect("/ocpp/"+cp, tc.offer...)
		if c.Protocol != string(tc.want) || ev.Protocol != string(tc.want) {
			t.Errorf("offer %q: negotiated %q (event %q), want %q", tc.offer, c.Protocol, ev.Protocol, tc.want)
		}
		c.Send(`[2,"m1","Heartbeat",{}]`)
		m := e.nextIn()
		if m.Prop(bus.PropVersion) != string(tc.want) || m.Prop(bus.PropSession) != ev.SessionID || m.Prop(bus.PropGateway) != "gw-test" ||
			m.ClientID != "gw-test" || m.Topic != "CP"+string(rune('A'+i))+"/in" {
			t.Errorf("offer %q: published %+v", tc.offer, m)
		}
	}
}

func TestNegotiate(t *testing.T) {
	if v := Negotiate([]string{"ocpp1.6,ocpp2.1,ocpp2.0.1"}); v != ocpp.V21 {
		t.Errorf("Negotiate = %q, want ocpp2.1", v)
	}
	if v := Negotiate([]string{"OCPP2.0.1"}); v != "" {
		t.Errorf("Negotiate is case-insensitive: %q", v)
	}
	if v := Negotiate(nil); v != "" {
		t.Errorf("Negotiate(nil) = %q", v)
	}
}

func TestUnsupportedSubprotocol(t *testing.T) {
	e := newEnv(t, nil)
	const want = "unsupported subprotocol: supported are ocpp2.1, ocpp2.0.1, ocpp1.6"
	if len(want) > 123 {
		t.Fatalf("close reason is %d bytes, the limit is 123", len(want))
	}
	for _, offer := range [][]string{nil, {"ocpp1.5"}, {"OCPP1.6"}, {"ocpp2.0, soap"}} {
		c := dial(t, e.addr, "/ocpp/CP1", offer...)
		if c.Protocol != "" || len(c.resp.Header.Values("Sec-WebSocket-Protocol")) != 0 {
			t.Errorf("offer %q: handshake answered with subprotocol %q", offer, c.Protocol)
		}
		code, reason := c.ExpectClose()
		if code != 1002 || reason != want {
			t.Errorf("offer %q: close %d %q, want 1002 %q", offer, code, reason, want)
		}
	}
	st := e.gw.Stats()
	if st.Refused[RefusedSubprotocol] != 4 || st.Accepted != 0 {
		t.Errorf("stats %+v", st)
	}
	if len(e.reg.calls) != 0 || len(e.life) != 0 {
		t.Errorf("registry asked %v, %d lifecycle events", e.reg.calls, len(e.life))
	}
}

func TestNotRegistered(t *testing.T) {
	e := newEnv(t, nil)
	long := strings.Repeat("L", 48)
	e.reg.unknown["CPX"] = true
	e.reg.unknown[long] = true
	e.reg.broken["CPB"] = true
	for _, id := range []string{"CPX", long} {
		c := dial(t, e.addr, "/ocpp/"+id, "ocpp2.0.1")
		code, reason := c.ExpectClose()
		if want := "Charge Point " + id + " not registered"; code != 1008 || reason != want {
			t.Errorf("close %d %q, want 1008 %q", code, reason, want)
		}
	}
	c := dial(t, e.addr, "/ocpp/CPB", "ocpp2.0.1")
	if code, reason := c.ExpectClose(); code != 1011 || strings.Contains(reason, "fire") {
		t.Errorf("registry failure: close %d %q, want 1011 without internals", code, reason)
	}
	st := e.gw.Stats()
	if st.Refused[RefusedNotRegistered] != 2 || st.Refused[RefusedAdmissionError] != 1 || st.Accepted != 0 {
		t.Errorf("stats %+v", st)
	}
	if len(e.life) != 0 {
		t.Errorf("%d lifecycle events for refused stations", len(e.life))
	}
	if e.gw.Sessions() != 0 {
		t.Errorf("Sessions() = %d", e.gw.Sessions())
	}
}

func TestNilRegistryAdmitsAll(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Registry = nil })
	c, _ := e.connect("/CP1", "ocpp1.6")
	e.probe(c, "x")
}

func TestLifecycleEvents(t *testing.T) {
	e := newEnv(t, nil)
	c, ev := e.connect("/ocpp/CP1", "ocpp2.0.1")
	if ev.ChargePointID != "CP1" || ev.GatewayID != "gw-test" || ev.Protocol != "ocpp2.0.1" ||
		!regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(ev.SessionID) ||
		!strings.HasPrefix(ev.RemoteAddr, "127.0.0.1:") || !ev.Time.Equal(testNow) {
		t.Errorf("connected event %+v", ev)
	}
	c.CloseWith(1000, "bye")
	if code, _ := c.ExpectClose(); code != 1000 {
		t.Errorf("close echo %d", code)
	}
	d := e.nextLife()
	if d.Event != bus.EventDisconnected || d.SessionID != ev.SessionID || d.Reason != ReasonClosedByStation ||
		d.CloseCode != 1000 || d.ChargePointID != "CP1" || d.GatewayID != "gw-test" {
		t.Errorf("disconnected event %+v", d)
	}
	// A dropped TCP connection without close frame.
	c2, ev2 := e.connect("/ocpp/CP2", "ocpp1.6")
	c2.conn.Close()
	d2 := e.nextLife()
	if d2.Event != bus.EventDisconnected || d2.SessionID != ev2.SessionID || d2.Reason != ReasonConnectionLost {
		t.Errorf("disconnected event %+v", d2)
	}
	// The lifecycle topic carries JSON that other parts decode.
	var raw map[string]any
	if err := json.Unmarshal(d2.Encode(), &raw); err != nil || raw["chargePointId"] != "CP2" {
		t.Errorf("encoded event %v %v", raw, err)
	}
	waitFor(t, func() bool { return e.gw.Sessions() == 0 }, "sessions to end")
}

func TestDuplicateIDNewestWins(t *testing.T) {
	e := newEnv(t, nil)
	old, ev1 := e.connect("/ocpp/CP1", "ocpp2.0.1")
	cur := dial(t, e.addr, "/ocpp/CP1", "ocpp2.0.1")
	code, reason := old.ExpectClose()
	if code != 1000 || reason != "replaced by a new connection" {
		t.Errorf("old connection closed with %d %q", code, reason)
	}
	// The new connected and the old disconnected event come in either
	// order; consumers tell them apart by session id.
	var ev2, d bus.LifecycleEvent
	for range 2 {
		switch ev := e.nextLife(); ev.Event {
		case bus.EventConnected:
			ev2 = ev
		case bus.EventDisconnected:
			d = ev
		}
	}
	if d.SessionID != ev1.SessionID || d.Reason != ReasonReplaced || d.CloseCode != 1000 {
		t.Errorf("disconnected event %+v", d)
	}
	if ev2.SessionID == "" || ev2.SessionID == ev1.SessionID {
		t.Errorf("connected event %+v", ev2)
	}
	// The new session works and receives /out frames.
	cur.Send(`[2,"h1","Heartbeat",{}]`)
	if m := e.nextIn(); m.Prop(bus.PropSession) != ev2.SessionID {
		t.Errorf("frame published for session %q, want %q", m.Prop(bus.PropSession), ev2.SessionID)
	}
	e.out("CP1", `[3,"h1",{"currentTime":"2025-03-01T12:00:00Z"}]`)
	if got := cur.ExpectText(); !strings.Contains(got, `"h1"`) {
		t.Errorf("station got %s", got)
	}
	if e.gw.Sessions() != 1 || e.gw.Stats().Replaced != 1 {
		t.Errorf("sessions %d, stats %+v", e.gw.Sessions(), e.gw.Stats())
	}
}

func TestClusterTakeover(t *testing.T) {
	// Two gateways of a cluster on one bus.
	shared := memory.New()
	mk := func(id string) (*Gateway, string) {
		g := New(Options{Bus: shared, GatewayID: id, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err := g.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(g)
		t.Cleanup(func() {
			_ = g.Shutdown(context.Background())
			srv.Close()
		})
		return g, strings.TrimPrefix(srv.URL, "http://")
	}
	g1, a1 := mk("gw-1")
	g2, a2 := mk("gw-2")
	life := make(chan bus.LifecycleEvent, 16)
	if _, err := shared.Subscribe(context.Background(), bus.Topics{}.AllLifecycle(), func(m bus.Message) {
		ev, _ := bus.DecodeLifecycle(m.Payload)
		life <- ev
	}); err != nil {
		t.Fatal(err)
	}
	first := dial(t, a1, "/CP1", "ocpp2.0.1")
	ev1 := recvLife(t, life)
	sid := ev1.SessionID
	if ev1.Event != bus.EventConnected || ev1.GatewayID != "gw-1" {
		t.Fatalf("first event %+v", ev1)
	}

	// An event about this very session, from this gateway, a disconnect,
	// or a connection older than this one (a late event) changes nothing.
	later := time.Now().Add(time.Hour)
	for _, ev := range []bus.LifecycleEvent{
		{Event: bus.EventConnected, ChargePointID: "CP1", GatewayID: "gw-2", SessionID: sid, Time: later},
		{Event: bus.EventConnected, ChargePointID: "CP1", GatewayID: "gw-1", SessionID: "other", Time: later},
		{Event: bus.EventDisconnected, ChargePointID: "CP1", GatewayID: "gw-2", SessionID: "other", Time: later},
		{Event: bus.EventConnected, ChargePointID: "CP1", GatewayID: "gw-2", SessionID: "older", Time: ev1.Time.Add(-time.Second)},
	} {
		if err := shared.Publish(context.Background(), bus.Message{Topic: bus.Topics{}.Lifecycle("CP1"), Payload: ev.Encode()}); err != nil {
			t.Fatal(err)
		}
	}
	if g1.Sessions() != 1 || g1.Stats().Replaced != 0 {
		t.Fatalf("gw-1 reacted to an irrelevant event: %+v", g1.Stats())
	}
	for range 4 {
		recvLife(t, life) // our own fake events
	}

	second := dial(t, a2, "/CP1", "ocpp2.0.1")
	code, reason := first.ExpectClose()
	if code != 1000 || reason != "replaced by a new connection" {
		t.Errorf("first connection closed with %d %q", code, reason)
	}
	waitFor(t, func() bool { return g1.Sessions() == 0 && g2.Sessions() == 1 }, "takeover")
	var sawDisconnect bool
	for !sawDisconnect {
		select {
		case ev := <-life:
			if ev.Event == bus.EventDisconnected && ev.GatewayID == "gw-1" {
				sawDisconnect = true
				if ev.Reason != ReasonReplaced || ev.SessionID != sid {
					t.Errorf("gw-1 disconnected event %+v", ev)
				}
			}
		case <-time.After(waitLimit):
			t.Fatal("no disconnected event from gw-1")
		}
	}
	_ = second
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTopicPrefix(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Topics = bus.Topics{Prefix: "fleet1/"} })
	c, _ := e.connect("/ocpp/CP+1", "ocpp2.0.1")
	c.Send(`[2,"h","Heartbeat",{}]`)
	if m := e.nextIn(); m.Topic != "fleet1/CP%2B1/in" {
		t.Errorf("published on %q", m.Topic)
	}
	e.out("CP+1", `[3,"h",{}]`)
	if got := c.ExpectText(); got != `[3,"h",{}]` {
		t.Errorf("station got %s", got)
	}
}

func recvLife(t *testing.T, ch <-chan bus.LifecycleEvent) bus.LifecycleEvent {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(waitLimit):
		t.Fatal("no lifecycle event")
	}
	return bus.LifecycleEvent{}
}
