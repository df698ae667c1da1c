package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/ocppd/ocppd/bus"
)

// TestGatewayStatus: Start publishes a retained "up", Reannounce (and a
// resync request) "up" again and a connected event per open session,
// Shutdown a retained "down"
// (shutdown) after the sessions' disconnected events; Will describes the
// broker's "down" (connection lost) with the same instance.
func TestGatewayStatus(t *testing.T) {
	statuses := make(chan bus.Message, 16)
	var gwID, instance string
	e := newEnv(t, func(o *Options) {
		o.Instance = "run1"
		gwID, instance = o.GatewayID, o.Instance
		if _, err := o.Bus.Subscribe(context.Background(), o.Topics.AllGateways(), func(m bus.Message) {
			m.Payload = append([]byte(nil), m.Payload...)
			statuses <- m
		}); err != nil {
			t.Fatal(err)
		}
	})
	next := func() (bus.Message, bus.GatewayStatus) {
		t.Helper()
		select {
		case m := <-statuses:
			st, err := bus.DecodeGatewayStatus(m.Payload)
			if err != nil {
				t.Fatalf("status %s: %v", m.Payload, err)
			}
			return m, st
		case <-time.After(waitLimit):
			t.Fatal("no gateway status published")
		}
		return bus.Message{}, bus.GatewayStatus{}
	}
	m, st := next()
	if !m.Retain || m.Topic != "ocppd/gateways/"+gwID || st.Status != bus.GatewayUp || st.GatewayID != gwID || st.Instance != instance || st.Time.IsZero() {
		t.Fatalf("after Start: %s %s retain=%v, want a retained up status of %s/%s", m.Topic, m.Payload, m.Retain, gwID, instance)
	}
	if e.gw.Instance() != instance {
		t.Errorf("Instance() = %q", e.gw.Instance())
	}

	_, connected := e.connect("/CP1", "ocpp2.0.1")
	if err := e.gw.Reannounce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, st = next(); st.Status != bus.GatewayUp {
		t.Fatalf("Reannounce published %+v, want up", st)
	}
	again := e.nextLife()
	if again.Event != bus.EventConnected || again.SessionID != connected.SessionID || !again.Time.Equal(connected.Time) {
		t.Fatalf("Reannounce: lifecycle %+v, want the original connected event %+v", again, connected)
	}

	// A resync request: the same re-announcement.
	if err := e.bus.Publish(context.Background(), bus.Message{Topic: bus.Topics{}.Resync(), Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, st = next(); st.Status != bus.GatewayUp {
		t.Fatalf("resync published %+v, want up", st)
	}
	if ev := e.nextLife(); ev.Event != bus.EventConnected || ev.SessionID != connected.SessionID {
		t.Fatalf("resync: lifecycle %+v, want the original connected event", ev)
	}

	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := e.gw.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if ev := e.nextLife(); ev.Event != bus.EventDisconnected {
		t.Fatalf("after Shutdown: lifecycle %+v, want disconnected", ev)
	}
	m, st = next()
	if !m.Retain || st.Status != bus.GatewayDown || st.Reason != bus.GatewayReasonShutdown || st.Instance != instance {
		t.Fatalf("after Shutdown: %s retain=%v, want a retained down (shutdown)", m.Payload, m.Retain)
	}
	if err := e.gw.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-statuses:
		t.Fatalf("a second Shutdown published %s", m.Payload)
	default:
	}

	will := Will(bus.Topics{Prefix: "p/"}, gwID, instance)
	wst, err := bus.DecodeGatewayStatus(will.Payload)
	if err != nil || !will.Retain || will.Topic != "p/ocppd/gateways/"+gwID || wst.Status != bus.GatewayDown || wst.Reason != bus.GatewayReasonConnectionLost || wst.Instance != instance || !wst.Time.IsZero() {
		t.Fatalf("Will = %s %s retain=%v (%v)", will.Topic, will.Payload, will.Retain, err)
	}
}
