package csms

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/bus/embedded"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/shadow"
)

// watch collects the messages on filter.
func watch(t *testing.T, b bus.Bus, filter string) <-chan bus.Message {
	t.Helper()
	ch := make(chan bus.Message, 100)
	sub, err := b.Subscribe(context.Background(), filter, func(m bus.Message) {
		m.Payload = append([]byte(nil), m.Payload...)
		ch <- m
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe(context.Background()) })
	return ch
}

// nextMsg returns the next message of ch, requiring its topic.
func nextMsg(t *testing.T, ch <-chan bus.Message, topic string) map[string]any {
	t.Helper()
	select {
	case m := <-ch:
		if m.Topic != topic {
			t.Fatalf("message on %s (%s), want one on %s", m.Topic, m.Payload, topic)
		}
		var v map[string]any
		if err := json.Unmarshal(m.Payload, &v); err != nil {
			t.Fatalf("%s: %s: %v", topic, m.Payload, err)
		}
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no message on %s", topic)
	}
	panic("unreachable")
}

func TestShadowTopicsOverTheBus(t *testing.T) {
	e, sh := newShadowEnv(t)
	e.addCP("CP1", ocppd.RegistrationAccepted, "") // never connected: nothing is sent to it
	tp := bus.Topics{}
	msgs := watch(t, e.bus, "$shadow/#")
	pub := func(topic, payload string) {
		t.Helper()
		if err := e.bus.Publish(context.Background(), bus.Message{Topic: topic, Payload: []byte(payload)}); err != nil {
			t.Fatal(err)
		}
	}
	// An update: accepted, then the delta.
	pub(tp.ShadowUpdate("CP1"), `{"state":{"desired":{"configuration":{"HeartbeatInterval":"60"}}},"clientToken":"t1"}`)
	skipRequest(t, msgs, tp.ShadowUpdate("CP1"))
	acc := nextMsg(t, msgs, tp.ShadowUpdateAccepted("CP1"))
	if acc["clientToken"] != "t1" || acc["version"] != float64(1) || shadowJSON(acc["state"]) != `{"desired":{"configuration":{"HeartbeatInterval":"60"}}}` {
		t.Errorf("update/accepted %v", acc)
	}
	delta := nextMsg(t, msgs, tp.ShadowUpdateDelta("CP1"))
	if shadowJSON(delta["state"]) != `{"configuration":{"HeartbeatInterval":"60"}}` || delta["version"] != float64(1) {
		t.Errorf("update/delta %v", delta)
	}

	// A stale version: rejected with 409, nothing written.
	pub(tp.ShadowUpdate("CP1"), `{"state":{"desired":{"x":1}},"version":7,"clientToken":"t2"}`)
	skipRequest(t, msgs, tp.ShadowUpdate("CP1"))
	rej := nextMsg(t, msgs, tp.ShadowUpdateRejected("CP1"))
	if rej["code"] != float64(409) || rej["clientToken"] != "t2" {
		t.Errorf("update/rejected %v", rej)
	}
	// The right version: accepted; desired.x is in the delta now.
	pub(tp.ShadowUpdate("CP1"), `{"state":{"desired":{"x":1}},"version":1}`)
	skipRequest(t, msgs, tp.ShadowUpdate("CP1"))
	if acc := nextMsg(t, msgs, tp.ShadowUpdateAccepted("CP1")); acc["version"] != float64(2) {
		t.Errorf("update/accepted %v", acc)
	}
	nextMsg(t, msgs, tp.ShadowUpdateDelta("CP1"))

	// Get: the whole document.
	pub(tp.ShadowGet("CP1"), `{"clientToken":"g"}`)
	skipRequest(t, msgs, tp.ShadowGet("CP1"))
	got := nextMsg(t, msgs, tp.ShadowGetAccepted("CP1"))
	if got["version"] != float64(2) || got["clientToken"] != "g" ||
		shadowJSON(asObject(got["state"])["delta"]) != `{"configuration":{"HeartbeatInterval":"60"},"x":1}` {
		t.Errorf("get/accepted %v", got)
	}
	pub(tp.ShadowGet("CP1"), ``) // an empty request is fine
	skipRequest(t, msgs, tp.ShadowGet("CP1"))
	nextMsg(t, msgs, tp.ShadowGetAccepted("CP1"))

	// Unknown station, malformed update.
	pub(tp.ShadowGet("NOPE"), `{}`)
	skipRequest(t, msgs, tp.ShadowGet("NOPE"))
	if rej := nextMsg(t, msgs, tp.ShadowGetRejected("NOPE")); rej["code"] != float64(404) {
		t.Errorf("get/rejected %v", rej)
	}
	pub(tp.ShadowUpdate("CP1"), `{"state":{"desired":{"x":1}},"bogus":true,"clientToken":"b"}`)
	skipRequest(t, msgs, tp.ShadowUpdate("CP1"))
	if rej := nextMsg(t, msgs, tp.ShadowUpdateRejected("CP1")); rej["code"] != float64(400) || rej["clientToken"] != "b" {
		t.Errorf("update/rejected %v", rej)
	}
	if doc := getDoc(t, sh, "CP1"); doc.Version != 2 {
		t.Errorf("version %d after refused updates, want 2", doc.Version)
	}
}

// skipRequest consumes the request itself, which the watcher also sees.
func skipRequest(t *testing.T, ch <-chan bus.Message, topic string) {
	t.Helper()
	select {
	case m := <-ch:
		if m.Topic != topic {
			t.Fatalf("message on %s (%s), want the request on %s", m.Topic, m.Payload, topic)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no request on %s", topic)
	}
}

func TestUpdateShadowVersionConflict(t *testing.T) {
	e, sh := newShadowEnv(t)
	ctx := context.Background()
	e.addCP("CP1", ocppd.RegistrationAccepted, "")
	desired(t, sh, "CP1", `{"a":1}`)
	_, err := sh.UpdateShadow(ctx, "CP1", shadow.Update{State: shadow.UpdateState{Desired: map[string]any{"a": 2}}, Version: shadow.ExpectVersion(0)})
	if ocppd.ErrorCode(err) != ocppd.ECONFLICT {
		t.Fatalf("stale version: %v, want conflict", err)
	}
	doc := getDoc(t, sh, "CP1")
	if doc.Version != 1 || shadowJSON(doc.State.Desired) != `{"a":1}` {
		t.Errorf("after a conflict: v%d %s", doc.Version, shadowJSON(doc.State.Desired))
	}
	if _, err := sh.UpdateShadow(ctx, "NOPE", shadow.Update{State: shadow.UpdateState{Desired: map[string]any{"a": 2}}}); ocppd.ErrorCode(err) != ocppd.ENOTFOUND {
		t.Errorf("unknown station: %v", err)
	}
}

// A real MQTT client on the embedded broker's listener drives the shadow:
// it sets a desired variable, the CSMS sends SetVariables to the station,
// and the client sees the delta, then reads the document back.
func TestShadowTopicsWithPaho(t *testing.T) {
	broker := embedded.New(embedded.Options{ListenAddr: "127.0.0.1:0", Logger: quietLogger()})
	if err := broker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { broker.Close() })
	e := newEnv(t, func(o *Options) { o.Bus = broker })
	sh := NewShadows(e.svc, ShadowOptions{})
	if err := sh.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sh.Close() })
	e.addCP("CP1", ocppd.RegistrationAccepted, ocpp.V201)
	stationOut := watch(t, broker, "CP1/out")

	recv := make(chan *paho.Publish, 100)
	conn, err := net.Dial("tcp", broker.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) { recv <- pr.Packet; return true, nil },
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: "operator-tool", KeepAlive: 30, CleanStart: true}); err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(&paho.Disconnect{})
	if _, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: "$shadow/CP1/update/+", QoS: 1}, {Topic: "$shadow/CP1/get/+", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	next := func(topic string) map[string]any {
		t.Helper()
		for {
			select {
			case p := <-recv:
				if p.Topic != topic {
					continue
				}
				var v map[string]any
				if err := json.Unmarshal(p.Payload, &v); err != nil {
					t.Fatal(err)
				}
				return v
			case <-ctx.Done():
				t.Fatalf("no message on %s", topic)
			}
		}
	}
	if _, err := c.Publish(ctx, &paho.Publish{Topic: "$shadow/CP1/update", QoS: 1,
		Payload: []byte(`{"state":{"desired":{"variables":{"OCPPCommCtrlr":{"HeartbeatInterval":"90"}}}},"clientToken":"paho"}`)}); err != nil {
		t.Fatal(err)
	}
	if acc := next("$shadow/CP1/update/accepted"); acc["clientToken"] != "paho" {
		t.Errorf("accepted %v", acc)
	}
	if d := next("$shadow/CP1/update/delta"); shadowJSON(d["state"]) != `{"variables":{"OCPPCommCtrlr":{"HeartbeatInterval":"90"}}}` {
		t.Errorf("delta %v", d)
	}
	select {
	case m := <-stationOut:
		if f, fe := ocpp.Parse(m.Payload); fe != nil || f.Action != "SetVariables" || !strings.Contains(string(f.Payload), `"attributeValue":"90"`) {
			t.Errorf("sent the station %s", m.Payload)
		}
	case <-ctx.Done():
		t.Fatal("no SetVariables for the station")
	}
	if _, err := c.Publish(ctx, &paho.Publish{Topic: "$shadow/CP1/get", QoS: 1, Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if got := next("$shadow/CP1/get/accepted"); got["version"] != float64(1) {
		t.Errorf("get/accepted %v", got)
	}
}
