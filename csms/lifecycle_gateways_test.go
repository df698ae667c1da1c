package csms

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/bus/memory"
	"github.com/ocppd/ocppd/store"
	"github.com/ocppd/ocppd/store/sqlite"
)

// TestGatewayWatcher: a gateway's "down" status marks offline exactly the
// stations whose current session it held; "up" and malformed statuses
// change nothing.
func TestGatewayWatcher(t *testing.T) {
	ctx := context.Background()
	st := sqlite.New(sqlite.Options{Path: filepath.Join(t.TempDir(), "ocppd.db")})
	if err := st.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	now := time.Now().UTC()
	var cps []ocppd.ChargePoint
	for _, id := range []string{"A", "B", "C", "D"} {
		cps = append(cps, ocppd.ChargePoint{ID: id, Registration: ocppd.RegistrationAccepted, RegisteredAt: now})
	}
	if err := st.AddChargePoints(ctx, cps); err != nil {
		t.Fatal(err)
	}
	for _, c := range []store.Connection{
		{ChargePointID: "A", SessionID: "s1", GatewayID: "gw1", At: now},
		{ChargePointID: "B", SessionID: "s2", GatewayID: "gw1", At: now},
		{ChargePointID: "C", SessionID: "s3", GatewayID: "gw2", At: now},
		// D was on gw1, then reconnected to gw2.
		{ChargePointID: "D", SessionID: "s4", GatewayID: "gw1", At: now},
		{ChargePointID: "D", SessionID: "s5", GatewayID: "gw2", At: now.Add(time.Second)},
	} {
		if err := st.RecordConnected(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	b := memory.New()
	tp := bus.Topics{Prefix: "x/"}
	w := NewGatewayWatcher(GatewayWatcherOptions{Bus: b, Topics: tp, Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	publish := func(m bus.Message) {
		t.Helper()
		if err := b.Publish(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	publish(bus.GatewayStatus{GatewayID: "gw1", Instance: "i1", Status: bus.GatewayUp}.Message(tp))
	publish(bus.Message{Topic: tp.Gateway("gw1"), Payload: []byte("{not json")})
	publish(bus.Message{Topic: tp.Gateway("gw2"), Payload: bus.GatewayStatus{GatewayID: "gw1", Status: bus.GatewayDown}.Message(tp).Payload}) // topic and id disagree
	publish(bus.GatewayStatus{GatewayID: "gw1", Instance: "i1", Status: bus.GatewayDown, Reason: bus.GatewayReasonConnectionLost}.Message(tp))

	deadline := time.Now().Add(20 * time.Second)
	for {
		a, err := st.GetChargePoint(ctx, "A")
		if err != nil {
			t.Fatal(err)
		}
		if !a.Online {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("A is still online after its gateway went down")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := w.Close(); err != nil { // handles what is queued
		t.Fatal(err)
	}
	want := map[string]bool{"A": false, "B": false, "C": true, "D": true}
	for id, online := range want {
		cp, err := st.GetChargePoint(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if cp.Online != online {
			t.Errorf("%s online = %v, want %v", id, cp.Online, online)
		}
	}
}
