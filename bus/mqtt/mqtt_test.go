package mqtt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/bus/bustest"
)

// brokerURL returns OCPPD_TEST_MQTT_URL or skips the test.
func brokerURL(t testing.TB) string {
	u := os.Getenv("OCPPD_TEST_MQTT_URL")
	if u == "" {
		t.Skip("OCPPD_TEST_MQTT_URL not set (e.g. mqtt://127.0.0.1:1883 with Mosquitto 2); skipping external-broker test")
	}
	return u
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }

func randomID(t testing.TB, prefix string) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b[:])
}

// open starts a client on opts (URL and ClientID filled in when empty) and
// closes it when the test ends.
func open(t testing.TB, opts Options) *Client {
	t.Helper()
	if opts.URL == "" {
		opts.URL = brokerURL(t)
	}
	if opts.ClientID == "" {
		opts.ClientID = randomID(t, "ocppd-test-")
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	if opts.ReconnectMin == 0 {
		opts.ReconnectMin, opts.ReconnectMax = 20*time.Millisecond, 200*time.Millisecond
	}
	c := New(opts)
	ctx, cancel := context.WithTimeout(context.Background(), bustest.Deadline)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func tctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), bustest.Deadline)
	t.Cleanup(cancel)
	return ctx
}

func TestConformance(t *testing.T) {
	brokerURL(t)
	bustest.Run(t, func(t *testing.T) bus.Bus { return open(t, Options{}) })
}

func TestStartErrors(t *testing.T) {
	if err := New(Options{URL: "http://x"}).Start(context.Background()); ocppd.ErrorCode(err) != ocppd.EINVALID {
		t.Errorf("Start with http URL: %v, want EINVALID", err)
	}
	if err := New(Options{}).Start(context.Background()); ocppd.ErrorCode(err) != ocppd.EINVALID {
		t.Errorf("Start without URL: %v, want EINVALID", err)
	}
	// Nothing listens on a closed proxy port: Start gives up with ctx.
	p := newProxy(t, "127.0.0.1:1")
	p.Cut()
	c := New(Options{URL: "mqtt://" + p.addr(), Logger: testLogger(t), ReconnectMin: 10 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := c.Start(ctx); ocppd.ErrorCode(err) != ocppd.EUNAVAILABLE {
		t.Errorf("Start against a dead broker: %v, want EUNAVAILABLE", err)
	}
	if err := c.Publish(context.Background(), bus.Message{Topic: "x"}); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Publish after failed Start: %v, want bus.ErrClosed", err)
	}
	if err := New(Options{URL: "mqtt://127.0.0.1:1"}).Close(); err != nil {
		t.Errorf("Close of a client never started: %v", err)
	}
}

func TestParseURL(t *testing.T) {
	for in, want := range map[string]string{
		"mqtt://h":         "mqtt://h:1883",
		"mqtts://h":        "mqtts://h:8883",
		"mqtt://u:p@h:1":   "mqtt://u:p@h:1",
		"wss://h/mqtt":     "wss://h/mqtt",
		"tcp://[::1]":      "tcp://[::1]:1883",
		"mqtt://h:2883/ab": "mqtt://h:2883/ab",
	} {
		u, err := parseURL(in)
		if err != nil || u.String() != want {
			t.Errorf("parseURL(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for _, in := range []string{"", "http://h", "mqtt://", "::"} {
		if _, err := parseURL(in); ocppd.ErrorCode(err) != ocppd.EINVALID {
			t.Errorf("parseURL(%q) error = %v, want EINVALID", in, err)
		}
	}
}

// TestSharedAcrossClients: CSMS workers are separate processes sharing
// "$share/csms/+/in"; each message reaches exactly one of them.
func TestSharedAcrossClients(t *testing.T) {
	w1, w2, pub := open(t, Options{}), open(t, Options{}), open(t, Options{})
	p := bustest.Prefix(t)
	filter := bus.Shared(randomID(t, "csms"), p+"+/in")
	var c1, c2 bustest.Collector
	for _, x := range []struct {
		c *Client
		h bus.Handler
	}{{w1, c1.Handler()}, {w2, c2.Handler()}} {
		if _, err := x.c.Subscribe(tctx(t), filter, x.h); err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
	}
	const n = 300
	for i := range n {
		m := bus.Message{Topic: p + "CP" + strconv.Itoa(i%13) + "/in", Payload: []byte(strconv.Itoa(i))}
		if err := pub.Publish(tctx(t), m); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	bustest.WaitFor(t, "all messages across the group", func() bool { return c1.Len()+c2.Len() >= n })
	seen := map[string]int{}
	for _, m := range append(c1.Messages(), c2.Messages()...) {
		seen[string(m.Payload)]++
	}
	for i := range n {
		if k := seen[strconv.Itoa(i)]; k != 1 {
			t.Errorf("message %d delivered %d times to the group", i, k)
		}
	}
	if c1.Len() == 0 || c2.Len() == 0 {
		t.Errorf("workers received %d and %d messages; want both to get some", c1.Len(), c2.Len())
	}
}

// TestPerStationSubscriptions: a gateway subscribes {cp}/out for each of
// the 1,000 stations it holds over one connection and must hand each
// message to that station's handler only, never to another's, and receive
// nothing for stations it does not hold. Run with Subscription Identifiers
// (the broker routes) and without (the topic trie routes).
func TestPerStationSubscriptions(t *testing.T) {
	for _, mode := range []struct {
		name     string
		noSubIDs bool
	}{{"SubscriptionIDs", false}, {"Trie", true}} {
		t.Run(mode.name, func(t *testing.T) {
			gw := open(t, Options{noSubIDs: mode.noSubIDs})
			pub := open(t, Options{})
			p := bustest.Prefix(t)
			topics := bus.Topics{Prefix: p}
			const held, others = 1000, 200
			counts := make([]atomic.Int64, held)
			var wrong atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, held)
			sem := make(chan struct{}, 32)
			for i := range held {
				cp := fmt.Sprintf("CP%04d", i)
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					_, err := gw.Subscribe(tctx(t), topics.Out(cp), func(m bus.Message) {
						if m.Topic != topics.Out(cp) || string(m.Payload) != cp {
							wrong.Add(1)
							return
						}
						counts[i].Add(1)
					})
					if err != nil {
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("Subscribe: %v", err)
			}
			// A catch-all on the publisher's side proves the other
			// messages were published; the gateway must not see them.
			var all bustest.Collector
			if _, err := pub.Subscribe(tctx(t), p+"#", all.Handler()); err != nil {
				t.Fatal(err)
			}
			for i := range held + others {
				cp := fmt.Sprintf("CP%04d", i)
				for _, topic := range []string{topics.Out(cp), topics.In(cp)} {
					if err := pub.Publish(tctx(t), bus.Message{Topic: topic, Payload: []byte(cp)}); err != nil {
						t.Fatalf("Publish: %v", err)
					}
				}
			}
			all.WaitLen(t, 2*(held+others))
			bustest.WaitFor(t, "every held station's message", func() bool {
				for i := range counts {
					if counts[i].Load() < 1 {
						return false
					}
				}
				return true
			})
			for i := range counts {
				if k := counts[i].Load(); k != 1 {
					t.Errorf("CP%04d: %d deliveries, want 1", i, k)
				}
			}
			if k := wrong.Load(); k != 0 {
				t.Errorf("%d messages reached the handler of another station", k)
			}
		})
	}
}

// TestPublishAcrossCut publishes from several goroutines through a proxy
// that is cut twice mid-stream: every Publish must succeed (waiting for the
// reconnection, the session retransmitting what was in flight), and every
// message reported published must reach a subscriber.
func TestPublishAcrossCut(t *testing.T) {
	u, _ := url.Parse(brokerURL(t))
	px := newProxy(t, u.Host)
	pub := open(t, Options{URL: "mqtt://" + px.addr()})
	sub := open(t, Options{})
	p := bustest.Prefix(t)
	var got bustest.Collector
	if _, err := sub.Subscribe(tctx(t), p+"+/in", got.Handler()); err != nil {
		t.Fatal(err)
	}

	const workers, per = 4, 150
	var acked atomic.Int64
	var mu sync.Mutex
	ok := map[string]bool{}
	var failed []error
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				id := fmt.Sprintf("w%d-%d", w, i)
				err := pub.Publish(tctx(t), bus.Message{Topic: p + "CP" + strconv.Itoa(w) + "/in", Payload: []byte(id)})
				mu.Lock()
				if err == nil {
					ok[id] = true
				} else {
					failed = append(failed, err)
				}
				mu.Unlock()
				acked.Add(1)
			}
		}()
	}
	// Cut twice while publishes are in flight, keeping the link down for
	// a moment each time so that publishes pile up behind it.
	for _, at := range []int64{100, 350} {
		bustest.WaitFor(t, "publishes before the cut", func() bool { return acked.Load() >= at })
		px.Cut()
		time.Sleep(100 * time.Millisecond)
		px.Resume()
	}
	wg.Wait()
	for _, err := range failed {
		t.Errorf("Publish across the cut: %v", err)
	}
	if len(ok) != workers*per {
		t.Fatalf("%d publishes succeeded, want %d", len(ok), workers*per)
	}
	bustest.WaitFor(t, "every acknowledged message", func() bool {
		seen := map[string]bool{}
		for _, m := range got.Messages() {
			seen[string(m.Payload)] = true
		}
		for id := range ok {
			if !seen[id] {
				return false
			}
		}
		return true
	})
	// Each worker waits for a PUBACK before its next message, so its
	// messages arrive in order; a retransmitted one may repeat (QoS 1 is
	// at least once) but never after a later one.
	last := map[int]int{}
	for _, m := range got.Messages() {
		var w, i int
		if _, err := fmt.Sscanf(string(m.Payload), "w%d-%d", &w, &i); err != nil {
			t.Fatalf("payload %q: %v", m.Payload, err)
		}
		if prev, seen := last[w]; seen && i < prev {
			t.Errorf("worker %d: message %d arrived after %d", w, i, prev)
		}
		last[w] = i
	}
}

// TestPublishWhileDown: with the broker unreachable, Publish waits for the
// connection until its context ends and then reports failure — never
// success — and the message is not delivered later either, because it never
// left the client.
func TestPublishWhileDown(t *testing.T) {
	u, _ := url.Parse(brokerURL(t))
	px := newProxy(t, u.Host)
	pub := open(t, Options{URL: "mqtt://" + px.addr()})
	sub := open(t, Options{})
	p := bustest.Prefix(t)
	var got bustest.Collector
	if _, err := sub.Subscribe(tctx(t), p+"#", got.Handler()); err != nil {
		t.Fatal(err)
	}
	px.Cut()
	// Once the client has noticed, nothing can enter its session.
	bustest.WaitFor(t, "the client to notice the cut", func() bool { return !pub.Connected() })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err := pub.Publish(ctx, bus.Message{Topic: p + "lost", Payload: []byte("lost")})
	cancel()
	if err == nil {
		t.Fatal("Publish while the broker is unreachable returned nil")
	}
	if ocppd.ErrorCode(err) != ocppd.EUNAVAILABLE || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v (code %q), want EUNAVAILABLE wrapping context.DeadlineExceeded", err, ocppd.ErrorCode(err))
	}
	px.Resume()
	bustest.WaitFor(t, "reconnection", pub.Connected)
	if err := pub.Publish(tctx(t), bus.Message{Topic: p + "after", Payload: []byte("after")}); err != nil {
		t.Fatalf("Publish after reconnect: %v", err)
	}
	msgs := got.WaitLen(t, 1)
	for _, m := range msgs {
		if string(m.Payload) == "lost" {
			t.Errorf("the message whose Publish failed before reaching the broker was delivered")
		}
	}
}

// TestSubscriberAcrossCut: a subscriber's link is cut while messages are
// published; its persistent session keeps them on the broker and they all
// arrive after the reconnection.
func TestSubscriberAcrossCut(t *testing.T) {
	u, _ := url.Parse(brokerURL(t))
	px := newProxy(t, u.Host)
	sub := open(t, Options{URL: "mqtt://" + px.addr()})
	pub := open(t, Options{})
	p := bustest.Prefix(t)
	var got bustest.Collector
	if _, err := sub.Subscribe(tctx(t), p+"CP1/out", got.Handler()); err != nil {
		t.Fatal(err)
	}
	px.Cut()
	const n = 100
	for i := range n {
		if err := pub.Publish(tctx(t), bus.Message{Topic: p + "CP1/out", Payload: []byte(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	px.Resume()
	msgs := got.WaitLen(t, n)
	seen := map[string]bool{}
	for _, m := range msgs {
		seen[string(m.Payload)] = true
	}
	for i := range n {
		if !seen[strconv.Itoa(i)] {
			t.Errorf("message %d lost across the cut", i)
		}
	}
}

// TestResubscribeAfterSessionLoss: while the subscriber is cut off, its
// session is taken over and discarded; on reconnection the broker has no
// session and the client must subscribe every filter again.
func TestResubscribeAfterSessionLoss(t *testing.T) {
	u, _ := url.Parse(brokerURL(t))
	px := newProxy(t, u.Host)
	id := randomID(t, "ocppd-test-")
	sub := open(t, Options{URL: "mqtt://" + px.addr(), ClientID: id})
	pub := open(t, Options{})
	p := bustest.Prefix(t)
	var a, b bustest.Collector
	for f, h := range map[string]bus.Handler{p + "CP1/out": a.Handler(), p + "+/in": b.Handler()} {
		if _, err := sub.Subscribe(tctx(t), f, h); err != nil {
			t.Fatal(err)
		}
	}
	px.Cut()
	// Take the session over with a clean start, then end it.
	thief := open(t, Options{ClientID: id, CleanStart: true})
	if err := thief.Close(); err != nil {
		t.Fatal(err)
	}
	px.Resume()
	// Publish until the resubscribed filters deliver again.
	bustest.WaitFor(t, "deliveries after resubscription", func() bool {
		_ = pub.Publish(tctx(t), bus.Message{Topic: p + "CP1/out", Payload: []byte("o")})
		_ = pub.Publish(tctx(t), bus.Message{Topic: p + "CP1/in", Payload: []byte("i")})
		time.Sleep(20 * time.Millisecond)
		return a.Len() > 0 && b.Len() > 0
	})
	for _, m := range a.Messages() {
		if m.Topic != p+"CP1/out" {
			t.Errorf("CP1/out handler got %q", m.Topic)
		}
	}
}

// BenchmarkPublish measures one Publish round trip (PUBLISH → PUBACK) and,
// in parallel, the throughput of concurrent publishers on one connection.
func BenchmarkPublish(b *testing.B) {
	c := open(b, Options{})
	p := bustest.Prefix(b)
	payload := []byte(`[2,"1","Heartbeat",{}]`)
	props := map[string]string{bus.PropVersion: "ocpp2.0.1", bus.PropSession: "s1"}
	b.Run("Serial", func(b *testing.B) {
		for b.Loop() {
			if err := c.Publish(context.Background(), bus.Message{Topic: p + "CP1/in", Payload: payload, Props: props}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := c.Publish(context.Background(), bus.Message{Topic: p + "CP1/in", Payload: payload, Props: props}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
