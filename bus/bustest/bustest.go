// Package bustest is the conformance suite every bus.Bus adapter runs:
// the embedded broker (bus/embedded) and the external-broker client
// (bus/mqtt).
//
// An adapter's test calls Run with a function that opens a fresh, started
// bus:
//
//	func TestConformance(t *testing.T) {
//		bustest.Run(t, func(t *testing.T) bus.Bus { ... })
//	}
//
// Every subtest opens its own bus and builds its topics under a random
// prefix, so reruns against a shared external broker do not see each
// other's messages. The suite waits for deliveries by polling with generous
// deadlines (an external broker is asynchronous) and never asserts timing.
package bustest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ocppd/ocppd/bus"
)

// Deadline bounds every wait of the suite. It only keeps a broken adapter
// from hanging the test run; nothing is expected to take nearly this long.
const Deadline = 20 * time.Second

// Run runs the conformance suite against the buses that open returns.
//
// open is called once per subtest and must return a started bus that is
// ready for Publish and Subscribe. Run closes the bus when the subtest ends
// (and calls Close twice: Close must be idempotent); open may register its
// own cleanup as well.
func Run(t *testing.T, open func(t *testing.T) bus.Bus) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, b bus.Bus, prefix string)
	}{
		{"Delivery", testDelivery},
		{"EmptyPayloadNoProps", testEmptyPayload},
		{"FanOut", testFanOut},
		{"WildcardPlus", testWildcardPlus},
		{"WildcardHash", testWildcardHash},
		{"Ordering", testOrdering},
		{"SharedSubscription", testShared},
		{"Unsubscribe", testUnsubscribe},
		{"PublishFromHandler", testPublishFromHandler},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := open(t)
			if b == nil {
				t.Fatal("open returned a nil bus")
			}
			t.Cleanup(func() {
				if err := b.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
				if err := b.Close(); err != nil {
					t.Errorf("second Close: %v", err)
				}
			})
			tc.fn(t, b, Prefix(t))
		})
	}
}

// Prefix returns a random topic prefix ending in '/', unique per call, for
// tests that share a broker with other runs.
func Prefix(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random prefix: %v", err)
	}
	return "bustest-" + hex.EncodeToString(b[:]) + "/"
}

// Collector records the messages a handler receives. Its Handler copies
// Payload and Props, as the bus.Handler contract requires of a handler that
// keeps them.
type Collector struct {
	mu   sync.Mutex
	msgs []bus.Message
}

// Handler returns the bus.Handler that records into c.
func (c *Collector) Handler() bus.Handler {
	return func(m bus.Message) {
		m.Payload = slices.Clone(m.Payload)
		m.Props = maps.Clone(m.Props)
		c.mu.Lock()
		c.msgs = append(c.msgs, m)
		c.mu.Unlock()
	}
}

// Messages returns a copy of the messages received so far.
func (c *Collector) Messages() []bus.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.msgs)
}

// Len returns the number of messages received so far.
func (c *Collector) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

// WaitFor polls until cond is true and fails the test if it is still false
// after Deadline. what describes the condition for the failure message.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Deadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", Deadline, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// WaitLen waits until c has received at least n messages.
func (c *Collector) WaitLen(t testing.TB, n int) []bus.Message {
	t.Helper()
	WaitFor(t, fmt.Sprintf("%d messages (have %d)", n, c.Len()), func() bool { return c.Len() >= n })
	return c.Messages()
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), Deadline)
	t.Cleanup(cancel)
	return c
}

func subscribe(t *testing.T, b bus.Bus, filter string, h bus.Handler) bus.Subscription {
	t.Helper()
	s, err := b.Subscribe(ctx(t), filter, h)
	if err != nil {
		t.Fatalf("Subscribe %q: %v", filter, err)
	}
	if s == nil {
		t.Fatalf("Subscribe %q returned a nil subscription", filter)
	}
	return s
}

func publish(t *testing.T, b bus.Bus, m bus.Message) {
	t.Helper()
	if err := b.Publish(ctx(t), m); err != nil {
		t.Fatalf("Publish to %q: %v", m.Topic, err)
	}
}

func testDelivery(t *testing.T, b bus.Bus, p string) {
	var c Collector
	subscribe(t, b, p+"CP1/in", c.Handler())

	payload := []byte(`[2,"19223201","BootNotification",{"reason":"PowerUp","chargingStation":{"model":"m","vendorName":"v"}}]`)
	props := map[string]string{bus.PropVersion: "ocpp2.0.1", bus.PropSession: "s-1", bus.PropGateway: "gw-ä"}
	publish(t, b, bus.Message{Topic: p + "CP1/in", Payload: payload, Props: props})

	got := c.WaitLen(t, 1)[0]
	if got.Topic != p+"CP1/in" {
		t.Errorf("Topic = %q, want %q", got.Topic, p+"CP1/in")
	}
	if string(got.Payload) != string(payload) {
		t.Errorf("Payload = %q, want %q", got.Payload, payload)
	}
	if !maps.Equal(got.Props, props) {
		t.Errorf("Props = %v, want %v", got.Props, props)
	}
	if got.Prop(bus.PropVersion) != "ocpp2.0.1" {
		t.Errorf("Prop(%q) = %q", bus.PropVersion, got.Prop(bus.PropVersion))
	}
}

func testEmptyPayload(t *testing.T, b bus.Bus, p string) {
	var c Collector
	subscribe(t, b, p+"CP1/in", c.Handler())
	publish(t, b, bus.Message{Topic: p + "CP1/in"})
	got := c.WaitLen(t, 1)[0]
	if len(got.Payload) != 0 {
		t.Errorf("Payload = %q, want empty", got.Payload)
	}
	if len(got.Props) != 0 {
		t.Errorf("Props = %v, want none", got.Props)
	}
}

func testFanOut(t *testing.T, b bus.Bus, p string) {
	var c1, c2 Collector
	subscribe(t, b, p+"CP1/out", c1.Handler())
	subscribe(t, b, p+"CP1/out", c2.Handler())
	publish(t, b, bus.Message{Topic: p + "CP1/out", Payload: []byte("x")})
	for i, c := range []*Collector{&c1, &c2} {
		if got := c.WaitLen(t, 1)[0]; string(got.Payload) != "x" {
			t.Errorf("subscriber %d: Payload = %q", i+1, got.Payload)
		}
	}
}

func testWildcardPlus(t *testing.T, b bus.Bus, p string) {
	var in, out Collector
	subscribe(t, b, p+"+/in", in.Handler())
	subscribe(t, b, p+"+/out", out.Handler())

	// Messages that must not match +/in; published first so that, with
	// per-publisher ordering, they would arrive before the last match.
	publish(t, b, bus.Message{Topic: p + "CP1/out", Payload: []byte("out1")})
	publish(t, b, bus.Message{Topic: p + "a/b/in", Payload: []byte("deep")})
	publish(t, b, bus.Message{Topic: p + "CP1/in/x", Payload: []byte("longer")})
	for _, cp := range []string{"CP1", "CP2", bus.TopicSegment("CP+3")} {
		publish(t, b, bus.Message{Topic: p + cp + "/in", Payload: []byte(cp)})
	}

	msgs := in.WaitLen(t, 3)
	var topics []string
	for _, m := range msgs {
		topics = append(topics, m.Topic)
	}
	slices.Sort(topics) // ordering across topics is not part of the contract
	want := []string{p + "CP%2B3/in", p + "CP1/in", p + "CP2/in"}
	if !slices.Equal(topics, want) {
		t.Errorf("+/in received topics %q, want %q", topics, want)
	}
	if got := out.WaitLen(t, 1); len(got) != 1 || got[0].Topic != p+"CP1/out" {
		t.Errorf("+/out received %v, want one message on %q", got, p+"CP1/out")
	}
}

func testWildcardHash(t *testing.T, b bus.Bus, p string) {
	var all, lc Collector
	subscribe(t, b, p+"#", all.Handler())
	subscribe(t, b, p+"ocppd/lifecycle/#", lc.Handler())
	// "x/#" also matches "x" itself (MQTT-4.7.1-2).
	topics := []string{p + "CP1/in", p + "CP1/out", p + "ocppd/lifecycle", p + "ocppd/lifecycle/CP1", p + "a/b/c/d"}
	for _, tp := range topics {
		publish(t, b, bus.Message{Topic: tp, Payload: []byte(tp)})
	}
	msgs := all.WaitLen(t, len(topics))
	var got []string
	for _, m := range msgs {
		got = append(got, m.Topic)
	}
	slices.Sort(got) // ordering across topics is not part of the contract
	if want := slices.Sorted(slices.Values(topics)); !slices.Equal(got, want) {
		t.Errorf("# received topics %q, want %q", got, want)
	}
	var lcTopics []string
	for _, m := range lc.WaitLen(t, 2) {
		lcTopics = append(lcTopics, m.Topic)
	}
	slices.Sort(lcTopics)
	if want := []string{p + "ocppd/lifecycle", p + "ocppd/lifecycle/CP1"}; !slices.Equal(lcTopics, want) {
		t.Errorf("ocppd/lifecycle/# received topics %q, want %q", lcTopics, want)
	}
}

func testOrdering(t *testing.T, b bus.Bus, p string) {
	const n = 1000
	var c Collector
	subscribe(t, b, p+"+/in", c.Handler())
	for i := range n {
		publish(t, b, bus.Message{
			Topic:   p + "CP1/in",
			Payload: []byte(strconv.Itoa(i)),
			Props:   map[string]string{"seq": strconv.Itoa(i)},
		})
	}
	msgs := c.WaitLen(t, n)
	if len(msgs) != n {
		t.Fatalf("received %d messages, want %d", len(msgs), n)
	}
	for i, m := range msgs {
		if string(m.Payload) != strconv.Itoa(i) || m.Prop("seq") != strconv.Itoa(i) {
			t.Fatalf("message %d: payload %q seq %q, want %d (order lost)", i, m.Payload, m.Prop("seq"), i)
		}
	}
}

func testShared(t *testing.T, b bus.Bus, p string) {
	const n = 200
	group := "g" + p[len("bustest-"):len(p)-1]
	filter := bus.Shared(group, p+"+/in")
	var c1, c2, plain Collector
	subscribe(t, b, filter, c1.Handler())
	subscribe(t, b, filter, c2.Handler())
	// A plain subscriber to the same topics receives every message
	// besides the group.
	subscribe(t, b, p+"+/in", plain.Handler())

	for i := range n {
		publish(t, b, bus.Message{Topic: p + "CP" + strconv.Itoa(i%7) + "/in", Payload: []byte(strconv.Itoa(i))})
	}
	WaitFor(t, "shared subscribers to receive all messages", func() bool { return c1.Len()+c2.Len() >= n })
	plain.WaitLen(t, n)

	seen := make(map[string]int)
	for _, m := range append(c1.Messages(), c2.Messages()...) {
		seen[string(m.Payload)]++
		if m.Topic == "" || m.Topic[0] == '$' {
			t.Errorf("shared delivery has topic %q, want the message's topic", m.Topic)
		}
	}
	for i := range n {
		if k := seen[strconv.Itoa(i)]; k != 1 {
			t.Errorf("message %d delivered %d times to the group, want exactly once", i, k)
		}
	}
	if len(seen) != n {
		t.Errorf("group received %d distinct messages, want %d", len(seen), n)
	}
	if c1.Len() == 0 || c2.Len() == 0 {
		t.Errorf("group members received %d and %d messages, want both to get some", c1.Len(), c2.Len())
	}
	if plain.Len() != n {
		t.Errorf("plain subscriber received %d messages, want %d", plain.Len(), n)
	}
}

func testUnsubscribe(t *testing.T, b bus.Bus, p string) {
	var gone, stays Collector
	s := subscribe(t, b, p+"CP1/in", gone.Handler())
	subscribe(t, b, p+"CP1/in", stays.Handler())

	publish(t, b, bus.Message{Topic: p + "CP1/in", Payload: []byte("before")})
	gone.WaitLen(t, 1)
	stays.WaitLen(t, 1)

	if err := s.Unsubscribe(ctx(t)); err != nil {
		t.Fatalf("Unsubscribe: %v", err)
	}
	if err := s.Unsubscribe(ctx(t)); err != nil {
		t.Fatalf("second Unsubscribe: %v", err)
	}
	const n = 20
	for i := range n {
		publish(t, b, bus.Message{Topic: p + "CP1/in", Payload: []byte("after" + strconv.Itoa(i))})
	}
	stays.WaitLen(t, 1+n)
	if got := gone.Messages(); len(got) != 1 {
		t.Errorf("unsubscribed handler received %d messages, want only the one before Unsubscribe: %v", len(got), got)
	}

	// A shared subscription can be ended too; the remaining member then
	// receives every message of the group.
	group := "u" + p[len("bustest-"):len(p)-1]
	var m1, m2 Collector
	s1 := subscribe(t, b, bus.Shared(group, p+"CP2/in"), m1.Handler())
	subscribe(t, b, bus.Shared(group, p+"CP2/in"), m2.Handler())
	if err := s1.Unsubscribe(ctx(t)); err != nil {
		t.Fatalf("Unsubscribe shared: %v", err)
	}
	for i := range n {
		publish(t, b, bus.Message{Topic: p + "CP2/in", Payload: []byte(strconv.Itoa(i))})
	}
	m2.WaitLen(t, n)
	if m1.Len() != 0 {
		t.Errorf("unsubscribed group member received %d messages", m1.Len())
	}
}

// testPublishFromHandler checks that a handler may publish: CSMS logic
// answers /in with /out, and the rules engine republishes. The embedded
// broker runs handlers on the publisher's goroutine, so this is where a
// lock held across delivery would deadlock.
func testPublishFromHandler(t *testing.T, b bus.Bus, p string) {
	var out Collector
	subscribe(t, b, p+"+/out", out.Handler())
	errs := make(chan error, 10)
	subscribe(t, b, p+"+/in", func(m bus.Message) {
		cp, _ := bus.Topics{Prefix: p}.StationOf(m.Topic)
		c, cancel := context.WithTimeout(context.Background(), Deadline)
		defer cancel()
		reply := bus.Message{Topic: bus.Topics{Prefix: p}.Out(cp), Payload: append([]byte("re:"), m.Payload...)}
		if err := b.Publish(c, reply); err != nil {
			errs <- err
		}
	})
	publish(t, b, bus.Message{Topic: p + "CP1/in", Payload: []byte("a")})
	publish(t, b, bus.Message{Topic: p + "CP2/in", Payload: []byte("b")})
	msgs := out.WaitLen(t, 2)
	got := map[string]string{}
	for _, m := range msgs {
		got[m.Topic] = string(m.Payload)
	}
	want := map[string]string{p + "CP1/out": "re:a", p + "CP2/out": "re:b"}
	if !maps.Equal(got, want) {
		t.Errorf("replies %v, want %v", got, want)
	}
	select {
	case err := <-errs:
		t.Errorf("Publish from handler: %v", err)
	default:
	}
}

func testClose(t *testing.T, b bus.Bus, p string) {
	s := subscribe(t, b, p+"CP1/in", func(bus.Message) {})
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	err := b.Publish(ctx(t), bus.Message{Topic: p + "CP1/in", Payload: []byte("x")})
	if !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Publish after Close: err = %v, want one wrapping bus.ErrClosed", err)
	}
	_, err = b.Subscribe(ctx(t), p+"CP2/in", func(bus.Message) {})
	if !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Subscribe after Close: err = %v, want one wrapping bus.ErrClosed", err)
	}
	// Ending a subscription of a closed bus must not fail or hang.
	if err := s.Unsubscribe(ctx(t)); err != nil && !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Unsubscribe after Close: %v", err)
	}
}
