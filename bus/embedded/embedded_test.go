package embedded_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/wind-c/comqtt/v2/mqtt/packets"

	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/bus/bustest"
	"github.com/ocppd/ocppd/bus/embedded"
)

// testLogger sends logs to t.Log, so that a failing test shows what the
// broker said.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// start returns a started broker with a listener on a free loopback port.
func start(t testing.TB, opts embedded.Options) *embedded.Broker {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	b := embedded.New(opts)
	if err := b.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), bustest.Deadline)
	t.Cleanup(cancel)
	return c
}

func TestConformance(t *testing.T) {
	t.Run("NoListener", func(t *testing.T) {
		bustest.Run(t, func(t *testing.T) bus.Bus { return start(t, embedded.Options{}) })
	})
	t.Run("Listener", func(t *testing.T) {
		bustest.Run(t, func(t *testing.T) bus.Bus {
			return start(t, embedded.Options{ListenAddr: "127.0.0.1:0"})
		})
	})
	t.Run("NotStarted", func(t *testing.T) {
		// Publish and Subscribe work in-process from New on.
		bustest.Run(t, func(t *testing.T) bus.Bus { return embedded.New(embedded.Options{Logger: testLogger(t)}) })
	})
}

// pahoClient connects an MQTT v5 client to b's listener; every PUBLISH it
// receives goes to recv.
func pahoClient(t *testing.T, b *embedded.Broker, id string, recv chan<- *paho.Publish) *paho.Client {
	t.Helper()
	conn, err := net.Dial("tcp", b.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) {
				if recv != nil {
					recv <- pr.Packet
				}
				return true, nil
			},
		},
	})
	ca, err := c.Connect(ctx(t), &paho.Connect{ClientID: id, KeepAlive: 30, CleanStart: true})
	if err != nil {
		t.Fatalf("paho connect: %v", err)
	}
	if ca.ReasonCode != 0 {
		t.Fatalf("paho connect: reason code %d", ca.ReasonCode)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c
}

func pahoSubscribe(t *testing.T, c *paho.Client, filter string) {
	t.Helper()
	sa, err := c.Subscribe(ctx(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}})
	if err != nil {
		t.Fatalf("paho subscribe %q: %v", filter, err)
	}
	if len(sa.Reasons) != 1 || sa.Reasons[0] > 2 {
		t.Fatalf("paho subscribe %q: reasons %v", filter, sa.Reasons)
	}
}

func receive(t *testing.T, ch <-chan *paho.Publish) *paho.Publish {
	t.Helper()
	select {
	case p := <-ch:
		return p
	case <-time.After(bustest.Deadline):
		t.Fatal("timed out waiting for a PUBLISH")
		return nil
	}
}

func userProps(p *paho.Publish) map[string]string {
	m := map[string]string{}
	if p.Properties != nil {
		for _, u := range p.Properties.User {
			m[u.Key] = u.Value
		}
	}
	return m
}

// TestExternalV5SubscriberSeesInlinePublish: `mosquitto_sub -V 5 -t +/in`
// sees what the gateway publishes, with the user properties.
func TestExternalV5SubscriberSeesInlinePublish(t *testing.T) {
	b := start(t, embedded.Options{ListenAddr: "127.0.0.1:0"})
	recv := make(chan *paho.Publish, 10)
	c := pahoClient(t, b, "watcher", recv)
	pahoSubscribe(t, c, "+/in")

	frame := []byte(`[2,"1","Heartbeat",{}]`)
	props := map[string]string{bus.PropVersion: "ocpp2.0.1", bus.PropSession: "s1"}
	if err := b.Publish(ctx(t), bus.Message{Topic: "CP1/out", Payload: []byte("not for +/in")}); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx(t), bus.Message{Topic: "CP1/in", Payload: frame, Props: props}); err != nil {
		t.Fatal(err)
	}
	p := receive(t, recv)
	if p.Topic != "CP1/in" || !bytes.Equal(p.Payload, frame) || p.QoS != 1 {
		t.Errorf("got topic %q payload %q qos %d", p.Topic, p.Payload, p.QoS)
	}
	if got := userProps(p); got[bus.PropVersion] != "ocpp2.0.1" || got[bus.PropSession] != "s1" || len(got) != 2 {
		t.Errorf("user properties %v, want %v", got, props)
	}
}

// TestExternalPublishReachesInline: `mosquitto_pub -t CP1/out -m ...`
// reaches the gateway's subscription, with the publisher's client id.
func TestExternalPublishReachesInline(t *testing.T) {
	b := start(t, embedded.Options{ListenAddr: "127.0.0.1:0"})
	var exact, wild bustest.Collector
	for f, c := range map[string]*bustest.Collector{"CP1/out": &exact, "+/out": &wild} {
		if _, err := b.Subscribe(ctx(t), f, c.Handler()); err != nil {
			t.Fatal(err)
		}
	}
	c := pahoClient(t, b, "operator-tool", nil)
	frame := []byte(`[2,"r1","Reset",{"type":"Immediate"}]`)
	_, err := c.Publish(ctx(t), &paho.Publish{
		Topic: "CP1/out", QoS: 1, Payload: frame,
		Properties: &paho.PublishProperties{User: paho.UserProperties{{Key: "k", Value: "v"}}},
	})
	if err != nil {
		t.Fatalf("paho publish: %v", err)
	}
	for name, c := range map[string]*bustest.Collector{"CP1/out": &exact, "+/out": &wild} {
		m := c.WaitLen(t, 1)[0]
		if m.Topic != "CP1/out" || !bytes.Equal(m.Payload, frame) || m.ClientID != "operator-tool" || m.Prop("k") != "v" {
			t.Errorf("%s: got %+v", name, m)
		}
	}
}

// v311 is a bare MQTT 3.1.1 client built from comqtt's packet codec, the
// way mosquitto_sub -V 311 talks.
type v311 struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dial311(t *testing.T, b *embedded.Broker, id string) *v311 {
	t.Helper()
	conn, err := net.Dial("tcp", b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(bustest.Deadline))
	c := &v311{t: t, conn: conn, r: bufio.NewReader(conn)}
	c.write(packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Connect},
		ProtocolVersion: 4,
		Connect: packets.ConnectParams{
			ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 30, ClientIdentifier: id,
		},
	})
	if pk := c.read(); pk.FixedHeader.Type != packets.Connack || pk.ReasonCode != 0 {
		t.Fatalf("CONNACK: %+v", pk)
	}
	return c
}

func (c *v311) write(pk packets.Packet) {
	c.t.Helper()
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Subscribe:
		err = pk.SubscribeEncode(&buf)
	case packets.Puback:
		err = pk.PubackEncode(&buf)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.conn.Write(buf.Bytes()); err != nil {
		c.t.Fatal(err)
	}
}

func (c *v311) read() packets.Packet {
	c.t.Helper()
	hb, err := c.r.ReadByte()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	pk := packets.Packet{ProtocolVersion: 4}
	if err := pk.FixedHeader.Decode(hb); err != nil {
		c.t.Fatal(err)
	}
	n, _, err := packets.DecodeLength(c.r)
	if err != nil {
		c.t.Fatal(err)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		c.t.Fatal(err)
	}
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Suback:
		err = pk.SubackDecode(body)
	case packets.Publish:
		err = pk.PublishDecode(body)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	return pk
}

// TestExternalV311Subscriber: an MQTT 3.1.1 tool sees the same traffic
// (without user properties, which 3.1.1 cannot carry).
func TestExternalV311Subscriber(t *testing.T) {
	b := start(t, embedded.Options{ListenAddr: "127.0.0.1:0"})
	c := dial311(t, b, "old-tool")
	c.write(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1},
		PacketID:    7,
		Filters:     packets.Subscriptions{{Filter: "+/in", Qos: 1}},
	})
	if pk := c.read(); pk.FixedHeader.Type != packets.Suback || pk.PacketID != 7 {
		t.Fatalf("SUBACK: %+v", pk)
	}
	err := b.Publish(ctx(t), bus.Message{Topic: "CP9/in", Payload: []byte(`[3,"1",{}]`), Props: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	pk := c.read()
	if pk.FixedHeader.Type != packets.Publish || pk.TopicName != "CP9/in" || string(pk.Payload) != `[3,"1",{}]` || pk.FixedHeader.Qos != 1 {
		t.Errorf("got %+v", pk)
	}
}

// TestMalformedPackets: truncated and garbage MQTT from a TCP client must
// not take the broker down (mochi-mqtt v2.7.9 exited on a truncated
// MQTT 5 SUBSCRIBE, its issue #501).
func TestMalformedPackets(t *testing.T) {
	b := start(t, embedded.Options{ListenAddr: "127.0.0.1:0"})
	var c bustest.Collector
	if _, err := b.Subscribe(ctx(t), "+/in", c.Handler()); err != nil {
		t.Fatal(err)
	}

	connect5 := func() []byte {
		var buf bytes.Buffer
		pk := packets.Packet{
			FixedHeader:     packets.FixedHeader{Type: packets.Connect},
			ProtocolVersion: 5,
			Connect:         packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 30, ClientIdentifier: "evil"},
		}
		if err := pk.ConnectEncode(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	subscribe5 := func() []byte {
		var buf bytes.Buffer
		pk := packets.Packet{
			FixedHeader:     packets.FixedHeader{Type: packets.Subscribe, Qos: 1},
			ProtocolVersion: 5,
			PacketID:        1,
			Filters:         packets.Subscriptions{{Filter: "a/b/c", Qos: 1}},
		}
		if err := pk.SubscribeEncode(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	sub := subscribe5()
	// The SUBSCRIBE's remaining length cut short: the properties length
	// claims more than the body holds.
	truncated := append([]byte{sub[0], 3}, sub[2:4]...) // packet id only
	truncated = append(truncated, 0x05)                 // properties length 5, nothing follows

	inputs := map[string][]byte{
		"truncated SUBSCRIBE":      append(connect5(), truncated...),
		"SUBSCRIBE cut mid-packet": append(connect5(), sub[:len(sub)-3]...),
		"garbage":                  []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"garbage after CONNECT":    append(connect5(), 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02),
		"bad remaining length":     append(connect5(), 0x82, 0xff, 0xff, 0xff, 0xff, 0x7f),
		"zero filters":             append(connect5(), 0x82, 0x03, 0x00, 0x01, 0x00),
		"CONNECT truncated":        connect5()[:8],
		"bad protocol version":     {0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x09, 0x02, 0x00, 0x1e, 0x00, 0x00},
	}
	for name, in := range inputs {
		conn, err := net.Dial("tcp", b.Addr().String())
		if err != nil {
			t.Fatalf("%s: dial: %v", name, err)
		}
		if _, err := conn.Write(in); err != nil {
			t.Fatalf("%s: write: %v", name, err)
		}
		// Half-close so that incomplete packets end in EOF, then read
		// until the broker closes the connection (or we give up).
		_ = conn.(*net.TCPConn).CloseWrite()
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, _ = io.Copy(io.Discard, conn)
		_ = conn.Close()
	}

	// The broker still serves in-process and TCP clients.
	if err := b.Publish(ctx(t), bus.Message{Topic: "CP1/in", Payload: []byte("still here")}); err != nil {
		t.Fatalf("Publish after malformed input: %v", err)
	}
	if got := c.WaitLen(t, 1); string(got[0].Payload) != "still here" {
		t.Errorf("got %q", got[0].Payload)
	}
	recv := make(chan *paho.Publish, 1)
	pc := pahoClient(t, b, "good", recv)
	pahoSubscribe(t, pc, "+/in")
	if err := b.Publish(ctx(t), bus.Message{Topic: "CP2/in", Payload: []byte("ok")}); err != nil {
		t.Fatal(err)
	}
	if p := receive(t, recv); p.Topic != "CP2/in" {
		t.Errorf("got %q", p.Topic)
	}
}

func TestAddrInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	b := embedded.New(embedded.Options{ListenAddr: l.Addr().String(), Logger: testLogger(t)})
	defer b.Close()
	err = b.Start()
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Start on a taken port: err = %v, want EADDRINUSE", err)
	}
	if b.Addr() != nil {
		t.Errorf("Addr = %v after a failed Start, want nil", b.Addr())
	}
	// The documented fallback: a broker without the listener.
	b2 := start(t, embedded.Options{})
	if b2.Addr() != nil {
		t.Errorf("Addr = %v without a listener, want nil", b2.Addr())
	}
}

func TestStartTwiceAndAfterClose(t *testing.T) {
	b := start(t, embedded.Options{ListenAddr: "127.0.0.1:0"})
	if b.Addr() == nil {
		t.Fatal("Addr = nil with a listener")
	}
	if err := b.Start(); err == nil {
		t.Error("second Start succeeded")
	}
	b2 := embedded.New(embedded.Options{Logger: testLogger(t)})
	_ = b2.Close()
	if err := b2.Start(); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Start after Close: %v, want ErrClosed", err)
	}
}

// TestCloseDisconnectsClients: Close ends TCP connections, including one
// that never sent CONNECT, and returns.
func TestCloseDisconnectsClients(t *testing.T) {
	b := embedded.New(embedded.Options{ListenAddr: "127.0.0.1:0", Logger: testLogger(t)})
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	pc := pahoClient(t, b, "c1", nil)
	silent, err := net.Dial("tcp", b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	addr := b.Addr().String()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-pc.Done():
	case <-time.After(bustest.Deadline):
		t.Error("paho client still connected after Close")
	}
	_ = silent.SetReadDeadline(time.Now().Add(bustest.Deadline))
	if _, err := silent.Read(make([]byte, 1)); err == nil || errors.Is(err, syscall.ETIMEDOUT) {
		t.Errorf("silent connection: read err = %v, want EOF/reset", err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("listener still accepting after Close")
	}
}

// TestDeliverySynchronous: in-process handlers have run when Publish
// returns, on the publisher's goroutine (callers rely on it for ordering).
func TestDeliverySynchronous(t *testing.T) {
	b := start(t, embedded.Options{})
	var got []string
	if _, err := b.Subscribe(ctx(t), "CP1/in", func(m bus.Message) { got = append(got, string(m.Payload)) }); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"a", "b", "c"} {
		if err := b.Publish(ctx(t), bus.Message{Topic: "CP1/in", Payload: []byte(p)}); err != nil {
			t.Fatal(err)
		}
		if got[len(got)-1] != p { // no lock: the race detector checks it is the same goroutine
			t.Fatalf("after Publish(%q), handler saw %q", p, got)
		}
	}
}

func TestClientID(t *testing.T) {
	b := start(t, embedded.Options{ClientID: "gw-1"})
	var c bustest.Collector
	if _, err := b.Subscribe(ctx(t), "#", c.Handler()); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"", "csms-7", ""} {
		if err := b.Publish(ctx(t), bus.Message{Topic: "x", ClientID: id}); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for _, m := range c.Messages() {
		ids = append(ids, m.ClientID)
	}
	if strings.Join(ids, ",") != "gw-1,csms-7,gw-1" {
		t.Errorf("client ids %q", ids)
	}
	if d := embedded.New(embedded.Options{}); d == nil {
		t.Fatal("New returned nil")
	} else {
		var dc bustest.Collector
		if _, err := d.Subscribe(ctx(t), "x", dc.Handler()); err != nil {
			t.Fatal(err)
		}
		if err := d.Publish(ctx(t), bus.Message{Topic: "x"}); err != nil {
			t.Fatal(err)
		}
		if got := dc.Messages()[0].ClientID; got != embedded.DefaultClientID {
			t.Errorf("default client id %q, want %q", got, embedded.DefaultClientID)
		}
		_ = d.Close()
	}
}

// TestHashMatchesParent: "a/#" matches "a" too (MQTT-4.7.1-2), once.
func TestHashMatchesParent(t *testing.T) {
	b := start(t, embedded.Options{})
	var c bustest.Collector
	s, err := b.Subscribe(ctx(t), "fleet/#", c.Handler())
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range []string{"fleet", "fleet/CP1/in", "fleetx", "other/fleet"} {
		if err := b.Publish(ctx(t), bus.Message{Topic: tp}); err != nil {
			t.Fatal(err)
		}
	}
	var topics []string
	for _, m := range c.Messages() {
		topics = append(topics, m.Topic)
	}
	if strings.Join(topics, " ") != "fleet fleet/CP1/in" {
		t.Errorf("fleet/# received %q", topics)
	}
	if err := s.Unsubscribe(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx(t), bus.Message{Topic: "fleet"}); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 2 {
		t.Errorf("received %d messages after Unsubscribe, want 2", c.Len())
	}
}

// TestDollarTopics: wildcards at the first level do not match topics
// starting with '$' (MQTT-4.7.2-1), so "#" never sees $SYS.
func TestDollarTopics(t *testing.T) {
	b := start(t, embedded.Options{})
	var all, plus, dollar bustest.Collector
	for f, c := range map[string]*bustest.Collector{"#": &all, "+/x": &plus, "$app/#": &dollar} {
		if _, err := b.Subscribe(ctx(t), f, c.Handler()); err != nil {
			t.Fatal(err)
		}
	}
	for _, tp := range []string{"$app/x", "$app/y/z"} {
		if err := b.Publish(ctx(t), bus.Message{Topic: tp}); err != nil {
			t.Fatal(err)
		}
	}
	if all.Len() != 0 || plus.Len() != 0 || dollar.Len() != 2 {
		t.Errorf("# got %d, +/x got %d, $app/# got %d; want 0, 0, 2", all.Len(), plus.Len(), dollar.Len())
	}
}

func TestInvalid(t *testing.T) {
	b := start(t, embedded.Options{})
	for _, tp := range []string{"", "a/+", "a/#", "a\x00b", "\xff"} {
		if err := b.Publish(ctx(t), bus.Message{Topic: tp}); err == nil {
			t.Errorf("Publish to %q succeeded", tp)
		}
	}
	for _, f := range []string{"", "a/#/b", "a+", "a/b#", "$share/g", "$share//a", "$share/g+/a", "$share/g/a/#/b"} {
		if _, err := b.Subscribe(ctx(t), f, func(bus.Message) {}); err == nil {
			t.Errorf("Subscribe to %q succeeded", f)
		}
	}
	if _, err := b.Subscribe(ctx(t), "a", nil); err == nil {
		t.Error("Subscribe with a nil handler succeeded")
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Publish(cancelled, bus.Message{Topic: "a"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish with a cancelled context: %v", err)
	}
}

// TestSharedMixed: inline group members and a TCP client sharing the same
// group name each get every message once per side, and the external
// client's native $share works.
func TestSharedWithExternalClients(t *testing.T) {
	b := start(t, embedded.Options{ListenAddr: "127.0.0.1:0"})
	r1 := make(chan *paho.Publish, 100)
	r2 := make(chan *paho.Publish, 100)
	pahoSubscribe(t, pahoClient(t, b, "w1", r1), "$share/workers/+/in")
	pahoSubscribe(t, pahoClient(t, b, "w2", r2), "$share/workers/+/in")
	var inline1, inline2 bustest.Collector
	for _, c := range []*bustest.Collector{&inline1, &inline2} {
		if _, err := b.Subscribe(ctx(t), "$share/inline/+/in", c.Handler()); err != nil {
			t.Fatal(err)
		}
	}
	const n = 20
	for i := range n {
		if err := b.Publish(ctx(t), bus.Message{Topic: "CP1/in", Payload: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if inline1.Len() != n/2 || inline2.Len() != n/2 {
		t.Errorf("inline members got %d and %d, want %d each (round robin)", inline1.Len(), inline2.Len(), n/2)
	}
	seen := map[byte]int{}
	for range n {
		select {
		case p := <-r1:
			seen[p.Payload[0]]++
		case p := <-r2:
			seen[p.Payload[0]]++
		case <-time.After(bustest.Deadline):
			t.Fatalf("external group received %d of %d", len(seen), n)
		}
	}
	for i := range n {
		if seen[byte(i)] != 1 {
			t.Errorf("message %d reached the external group %d times", i, seen[byte(i)])
		}
	}
}

// TestConcurrentPublishers: many goroutines publishing and subscribing at
// once, for the race detector; each goroutine's messages stay in order.
// Half of them publish under the same default client id, as the stations
// of one gateway do.
func TestConcurrentPublishers(t *testing.T) {
	b := start(t, embedded.Options{ListenAddr: "127.0.0.1:0"})
	const pubs, n = 8, 200
	recv := make(chan *paho.Publish, pubs*n)
	pahoSubscribe(t, pahoClient(t, b, "watcher", recv), "+/in")
	var mu sync.Mutex
	last := map[string]int{}
	bad := 0
	if _, err := b.Subscribe(ctx(t), "+/in", func(m bus.Message) {
		mu.Lock()
		defer mu.Unlock()
		seq := int(m.Payload[0])<<8 | int(m.Payload[1])
		if prev, ok := last[m.Topic]; ok && seq != prev+1 {
			bad++
		}
		last[m.Topic] = seq
	}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for p := range pubs {
		wg.Go(func() {
			id := "gw-" + string(rune('a'+p))
			clientID := id
			if p%2 == 0 {
				clientID = ""
			}
			for i := range n {
				_ = b.Publish(context.Background(), bus.Message{Topic: id + "/in", ClientID: clientID, Payload: []byte{byte(i >> 8), byte(i)}})
				if i%50 == 0 {
					s, err := b.Subscribe(context.Background(), "$share/g/"+id+"/in", func(bus.Message) {})
					if err == nil {
						_ = s.Unsubscribe(context.Background())
					}
				}
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if bad != 0 || len(last) != pubs {
		t.Errorf("%d out-of-order deliveries, %d publishers seen", bad, len(last))
	}
	for id, seq := range last {
		if seq != n-1 {
			t.Errorf("%s: last seq %d, want %d", id, seq, n-1)
		}
	}
	for range pubs * n {
		receive(t, recv) // the TCP subscriber gets them all too
	}
}

func BenchmarkPublishDeliver(b *testing.B) {
	br := embedded.New(embedded.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := br.Start(); err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	var got int
	if _, err := br.Subscribe(context.Background(), "+/in", func(m bus.Message) { got += len(m.Payload) }); err != nil {
		b.Fatal(err)
	}
	m := bus.Message{
		Topic:   "CP000123/in",
		Payload: []byte(`[2,"a1b2c3d4-0001","Heartbeat",{}]` + strings.Repeat(" ", 80-len(`[2,"a1b2c3d4-0001","Heartbeat",{}]`))),
		Props:   map[string]string{bus.PropVersion: "ocpp2.0.1", bus.PropSession: "0f3c9a7e"},
	}
	ctx := context.Background()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := br.Publish(ctx, m); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if got != n*len(m.Payload) {
		b.Fatalf("delivered %d bytes, want %d", got, n*len(m.Payload))
	}
}

// TestRetained: a retained message reaches later plain subscribers, in
// process and over TCP, but not a new shared subscription (MQTT v5 §4.8.2).
func TestRetained(t *testing.T) {
	b := start(t, embedded.Options{ListenAddr: "127.0.0.1:0"})
	err := b.Publish(ctx(t), bus.Message{Topic: "CP1/config", Payload: []byte("v1"), Retain: true, Props: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	var plain, shared bustest.Collector
	if _, err := b.Subscribe(ctx(t), "+/config", plain.Handler()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Subscribe(ctx(t), "$share/g/+/config", shared.Handler()); err != nil {
		t.Fatal(err)
	}
	if m := plain.WaitLen(t, 1)[0]; string(m.Payload) != "v1" || !m.Retain || m.Prop("k") != "v" {
		t.Errorf("retained delivery %+v", m)
	}
	if shared.Len() != 0 {
		t.Errorf("shared subscription received %d retained messages", shared.Len())
	}
	recv := make(chan *paho.Publish, 1)
	pahoSubscribe(t, pahoClient(t, b, "late", recv), "CP1/config")
	if p := receive(t, recv); string(p.Payload) != "v1" || !p.Retain {
		t.Errorf("TCP retained delivery: payload %q retain %v", p.Payload, p.Retain)
	}
}

// TestHandlerUsesBrokerDuringClose: handlers running on TCP connections
// may subscribe and unsubscribe (shared groups included) while Close waits
// for those connections; Close must not deadlock.
func TestHandlerUsesBrokerDuringClose(t *testing.T) {
	b := embedded.New(embedded.Options{ListenAddr: "127.0.0.1:0", Logger: testLogger(t)})
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	var handled sync.WaitGroup
	handled.Add(1)
	var once sync.Once
	if _, err := b.Subscribe(ctx(t), "+/out", func(bus.Message) {
		once.Do(handled.Done)
		s, err := b.Subscribe(context.Background(), "$share/tmp/x/out", func(bus.Message) {})
		if err == nil {
			_ = s.Unsubscribe(context.Background())
		}
	}); err != nil {
		t.Fatal(err)
	}
	c := pahoClient(t, b, "spammer", nil)
	stop := make(chan struct{})
	var pubs sync.WaitGroup
	pubs.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := c.Publish(context.Background(), &paho.Publish{Topic: "CP1/out", QoS: 0, Payload: []byte("x")}); err != nil {
				return
			}
		}
	})
	handled.Wait()
	done := make(chan error, 1)
	go func() { done <- b.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(bustest.Deadline):
		t.Fatal("Close deadlocked")
	}
	close(stop)
	pubs.Wait()
}
