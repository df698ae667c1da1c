package metrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/bus/memory"
	"github.com/ocppd/ocppd/csms"
	"github.com/ocppd/ocppd/gateway"
	"github.com/ocppd/ocppd/rules"
	"github.com/ocppd/ocppd/store"
	"github.com/ocppd/ocppd/store/sqlite"
)

// value returns the value of the metric name whose labels include want,
// and whether it exists. Histograms give their sample count.
func value(t *testing.T, r *Registry, name string, want map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue next
				}
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				return m.GetCounter().GetValue(), true
			case dto.MetricType_GAUGE:
				return m.GetGauge().GetValue(), true
			case dto.MetricType_HISTOGRAM:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func expect(t *testing.T, r *Registry, name string, labels map[string]string, want float64) {
	t.Helper()
	got, ok := value(t, r, name, labels)
	if !ok || got != want {
		t.Errorf("%s%v = %v (present %v), want %v", name, labels, got, ok, want)
	}
}

func publish(t *testing.T, b bus.Bus, topic, payload string) {
	t.Helper()
	if err := b.Publish(context.Background(), bus.Message{Topic: topic, Payload: []byte(payload)}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

func newObserver(t *testing.T, b bus.Bus, topics bus.Topics, online OnlineLister) (*Registry, *Observer) {
	t.Helper()
	reg := NewRegistry()
	o, err := NewObserver(ObserverOptions{Bus: b, Topics: topics, Registerer: reg.Registerer(), Online: online})
	if err != nil {
		t.Fatalf("NewObserver: %v", err)
	}
	if err := o.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := o.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := o.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
	return reg, o
}

func TestObserverMessagesAndRoundTrips(t *testing.T) {
	b := memory.New()
	topics := bus.Topics{Prefix: "fleet/"}
	reg, o := newObserver(t, b, topics, nil)

	// Station-initiated: Heartbeat on /in answered on /out.
	publish(t, b, topics.In("CP1"), `[2,"h1","Heartbeat",{}]`)
	publish(t, b, topics.Out("CP1"), `[3,"h1",{"currentTime":"2025-01-01T00:00:00Z"}]`)
	// CSMS-initiated: Reset on /out answered with a CALLERROR on /in.
	publish(t, b, topics.Out("CP1"), `[2,"r1","Reset",{"type":"Hard"}]`)
	publish(t, b, topics.In("CP1"), `[4,"r1","NotSupported","no",{}]`)
	// The same id from another station is another call.
	publish(t, b, topics.In("CP2"), `[2,"h1","Heartbeat",{}]`)
	// An answer nobody asked for, an unknown action, a malformed frame and
	// a topic without the prefix.
	publish(t, b, topics.Out("CP3"), `[3,"zz",{}]`)
	publish(t, b, topics.In("CP3"), `[2,"x1","MadeUpAction",{}]`)
	publish(t, b, topics.In("CP3"), `not json`)
	publish(t, b, "CP1/in", `[2,"h9","Heartbeat",{}]`)
	o.flush()

	expect(t, reg, "ocppd_messages_total", map[string]string{"direction": "in", "type": "CALL", "action": "Heartbeat"}, 2)
	expect(t, reg, "ocppd_messages_total", map[string]string{"direction": "out", "type": "CALLRESULT", "action": "Heartbeat"}, 1)
	expect(t, reg, "ocppd_messages_total", map[string]string{"direction": "out", "type": "CALL", "action": "Reset"}, 1)
	expect(t, reg, "ocppd_messages_total", map[string]string{"direction": "in", "type": "CALLERROR", "action": "Reset"}, 1)
	expect(t, reg, "ocppd_messages_total", map[string]string{"direction": "out", "type": "CALLRESULT", "action": "unmatched"}, 1)
	expect(t, reg, "ocppd_messages_total", map[string]string{"direction": "in", "type": "CALL", "action": "other"}, 1)
	expect(t, reg, "ocppd_callerrors_total", map[string]string{"direction": "in", "code": "NotSupported"}, 1)
	expect(t, reg, "ocppd_roundtrip_seconds", map[string]string{"initiator": "station", "action": "Heartbeat"}, 1)
	expect(t, reg, "ocppd_roundtrip_seconds", map[string]string{"initiator": "csms", "action": "Reset"}, 1)

	s := o.Stats()
	if s.MessagesIn != 4 || s.MessagesOut != 3 || s.CallErrorsIn != 1 || s.CallErrorsOut != 0 {
		t.Errorf("Stats = %+v, want 4 in, 3 out, 1 CALLERROR in", s)
	}
	if s.RoundTrip["station"].Samples != 1 || s.RoundTrip["csms"].Samples != 1 {
		t.Errorf("round trip samples = %+v, want one per initiator", s.RoundTrip)
	}
}

func TestObserverConnectedByVersion(t *testing.T) {
	b := memory.New()
	topics := bus.Topics{}
	db := sqlite.New(sqlite.Options{Path: filepath.Join(t.TempDir(), "ocppd.db")})
	ctx := context.Background()
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.AddChargePoints(ctx, []ocppd.ChargePoint{{ID: "OLD", Registration: ocppd.RegistrationAccepted}}); err != nil {
		t.Fatal(err)
	}
	if err := db.RecordConnected(ctx, store.Connection{ChargePointID: "OLD", SessionID: "s0", Protocol: "ocpp1.6", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	reg, o := newObserver(t, b, topics, db)

	life := func(ev bus.LifecycleEvent) {
		publish(t, b, topics.Lifecycle(ev.ChargePointID), string(ev.Encode()))
	}
	life(bus.LifecycleEvent{Event: bus.EventConnected, ChargePointID: "A", SessionID: "a1", Protocol: "ocpp2.0.1"})
	life(bus.LifecycleEvent{Event: bus.EventConnected, ChargePointID: "B", SessionID: "b1", Protocol: "ocpp2.0.1"})
	// A reconnects with 1.6 before its old session's disconnect arrives.
	life(bus.LifecycleEvent{Event: bus.EventConnected, ChargePointID: "A", SessionID: "a2", Protocol: "ocpp1.6"})
	life(bus.LifecycleEvent{Event: bus.EventDisconnected, ChargePointID: "A", SessionID: "a1"})
	life(bus.LifecycleEvent{Event: bus.EventDisconnected, ChargePointID: "B", SessionID: "b1"})
	o.flush()

	expect(t, reg, "ocppd_stations_connected", map[string]string{"version": "ocpp1.6"}, 2) // OLD (seeded) and A
	expect(t, reg, "ocppd_stations_connected", map[string]string{"version": "ocpp2.0.1"}, 0)
	if got := o.Stats().Connected; len(got) != 1 || got["ocpp1.6"] != 2 {
		t.Errorf("Stats().Connected = %v, want ocpp1.6: 2", got)
	}
}

func TestObserverDropsWhenQueueFull(t *testing.T) {
	b := memory.New()
	reg := NewRegistry()
	o, err := NewObserver(ObserverOptions{Bus: b, Registerer: reg.Registerer(), QueueSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Subscribed but not running: handlers fill the queue. Start's
	// subscriptions are made by hand so that the goroutine does not run.
	sub, err := b.Subscribe(context.Background(), "+/in", o.frameHandler("in"))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe(context.Background())
	for range 3 {
		publish(t, b, "CP1/in", `[2,"1","Heartbeat",{}]`)
	}
	expect(t, reg, "ocppd_observer_dropped_total", nil, 2)
	expect(t, reg, "ocppd_queue_depth", map[string]string{"queue": "metrics_observer"}, 1)
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestObserverSweepForgetsUnanswered(t *testing.T) {
	b := memory.New()
	reg, o := newObserver(t, b, bus.Topics{}, nil)
	publish(t, b, "CP1/out", `[2,"r1","Reset",{}]`)
	o.flush()
	// sweep runs on the observer's goroutine in production; after flush
	// that goroutine is idle, and the next event is queued only after
	// sweep returns (the channel send orders the two).
	o.sweep(time.Now().Add(time.Hour))
	expect(t, reg, "ocppd_calls_unanswered_total", map[string]string{"initiator": "csms"}, 1)
	publish(t, b, "CP1/in", `[3,"r1",{}]`)
	o.flush()
	expect(t, reg, "ocppd_messages_total", map[string]string{"direction": "in", "type": "CALLRESULT", "action": "unmatched"}, 1)
}

type fakeGateway struct{}

func (fakeGateway) Stats() gateway.Stats {
	return gateway.Stats{
		Accepted: 5, Refused: map[string]uint64{gateway.RefusedNotRegistered: 2},
		FramesIn: 10, FramesOut: 9, CallErrorsSent: map[string]uint64{"FormationViolation": 1},
		Abusive: 4,
	}
}
func (fakeGateway) Sessions() int { return 3 }

func TestGatewayCollectorAndScrape(t *testing.T) {
	reg := NewRegistry()
	reg.Registerer().MustRegister(NewGatewayCollector(fakeGateway{}))
	if err := reg.QueueDepth("csms", func() int { return 7 }); err != nil {
		t.Fatal(err)
	}
	if err := reg.QueueDepth("csms", func() int { return 7 }); err == nil {
		t.Error("QueueDepth registered the same queue twice")
	}
	expect(t, reg, "ocppd_gateway_sessions", nil, 3)
	expect(t, reg, "ocppd_gateway_connections_refused_total", map[string]string{"reason": gateway.RefusedNotRegistered}, 2)
	expect(t, reg, "ocppd_gateway_callerrors_sent_total", map[string]string{"code": "FormationViolation"}, 1)
	expect(t, reg, "ocppd_gateway_abusive_sessions_total", nil, 4)

	srv := httptest.NewServer(reg.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"ocppd_gateway_frames_in_total 10",
		`ocppd_queue_depth{queue="csms"} 7`,
		"go_goroutines ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}

func TestInstrumentStore(t *testing.T) {
	reg := NewRegistry()
	sm, err := NewStoreMetrics(reg.Registerer())
	if err != nil {
		t.Fatal(err)
	}
	db := sqlite.New(sqlite.Options{Path: filepath.Join(t.TempDir(), "ocppd.db")})
	ctx := context.Background()
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	s := sm.Instrument(db)
	defer s.Close()
	if err := s.AddChargePoints(ctx, []ocppd.ChargePoint{{ID: "A", Registration: ocppd.RegistrationAccepted}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetChargePoint(ctx, "A"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetChargePoint(ctx, "nope"); ocppd.ErrorCode(err) != ocppd.ENOTFOUND {
		t.Fatalf("GetChargePoint(nope) = %v", err)
	}
	// A method the wrapper does not time still works.
	if _, err := s.ListTokens(ctx); err != nil {
		t.Fatal(err)
	}
	expect(t, reg, "ocppd_store_seconds", map[string]string{"op": "GetChargePoint"}, 2)
	expect(t, reg, "ocppd_store_seconds", map[string]string{"op": "AddChargePoints"}, 1)
	expect(t, reg, "ocppd_store_errors_total", map[string]string{"op": "GetChargePoint", "code": ocppd.ENOTFOUND}, 1)
}

type fakeCSMS struct{}

func (fakeCSMS) Stats() csms.Stats {
	return csms.Stats{CommandsIssued: 3, CommandsAnswered: 2, LenientWarnings: 1}
}

type fakeRules struct{}

func (fakeRules) Stats() []rules.RuleStats {
	return []rules.RuleStats{{
		Name: "heartbeats", Matched: 5,
		Actions:     []rules.ActionStats{{Kind: "table", OK: 4, Dropped: 1, Queued: 2}},
		ErrorAction: &rules.ActionStats{Kind: "log", OK: 1},
	}}
}

func TestComponentCollectors(t *testing.T) {
	reg := NewRegistry()
	reg.Registerer().MustRegister(NewCSMSCollector(fakeCSMS{}), NewRulesCollector(fakeRules{}))
	expect(t, reg, "ocppd_csms_commands_total", map[string]string{"state": "issued"}, 3)
	expect(t, reg, "ocppd_csms_commands_total", map[string]string{"state": "answered"}, 2)
	expect(t, reg, "ocppd_csms_lenient_warnings_total", nil, 1)
	expect(t, reg, "ocppd_rule_matched_total", map[string]string{"rule": "heartbeats"}, 5)
	expect(t, reg, "ocppd_rule_action_rows_total", map[string]string{"rule": "heartbeats", "action": "0", "kind": "table", "result": "dropped"}, 1)
	expect(t, reg, "ocppd_rule_action_rows_total", map[string]string{"rule": "heartbeats", "action": "error", "kind": "log", "result": "ok"}, 1)
	expect(t, reg, "ocppd_rule_action_queue_depth", map[string]string{"rule": "heartbeats", "action": "0"}, 2)
}
