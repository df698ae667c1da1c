package csms

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/v16"
	"github.com/ocppd/ocppd/ocpp/v201"
	"github.com/ocppd/ocppd/store"
)

func quietLogger() *slog.Logger {
	if os.Getenv("CSMS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func TestCommandAnswered(t *testing.T) {
	e := newEnv(t)
	e.addCP("CP1", ocppd.RegistrationAccepted, ocpp.V201)
	st := e.station("CP1", ocpp.V201)
	ctx := context.Background()

	var observed []Command
	var mu sync.Mutex
	e.svc.OnAnswer("Reset", func(_ context.Context, c Command) {
		mu.Lock()
		observed = append(observed, c)
		mu.Unlock()
	})

	c, err := e.svc.Send(ctx, "CP1", "", &v201.ResetRequest{Type: v201.ResetEnumTypeImmediate})
	if err != nil {
		t.Fatal(err)
	}
	if c.State != store.CommandSent || c.Action != "Reset" || c.Protocol != "ocpp2.0.1" || c.Timeout != 60*time.Second {
		t.Fatalf("Send = %+v", c)
	}
	f := st.next()
	if f.Type != ocpp.Call || f.ID != c.ID || f.Action != "Reset" || string(f.Payload) != `{"type":"Immediate"}` {
		t.Fatalf("station got %+v (%s)", f, f.Payload)
	}
	st.publish(ocpp.AppendCallResult(nil, f.ID, json.RawMessage(`{"status":"Accepted"}`)))
	got, err := e.svc.Wait(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != store.CommandAnswered || string(got.Response) != `{"status":"Accepted"}` || got.FinishedAt.IsZero() {
		t.Fatalf("Wait = %+v", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(observed) != 1 || observed[0].ID != c.ID || observed[0].State != store.CommandAnswered {
		t.Errorf("observer saw %+v", observed)
	}
}

func TestCommandCallErrorAndInvalidAnswer(t *testing.T) {
	e := newEnv(t)
	e.addCP("CP1", ocppd.RegistrationAccepted, ocpp.V16)
	st := e.station("CP1", ocpp.V16)
	ctx := context.Background()

	c1, err := e.svc.Send(ctx, "CP1", "UnlockConnector", json.RawMessage(`{"connectorId":1}`))
	if err != nil {
		t.Fatal(err)
	}
	f := st.next()
	st.publish(ocpp.AppendCallError(nil, f.ID, "NotSupported", "no lock", json.RawMessage(`{"why":"none"}`)))
	got, _ := e.svc.Wait(ctx, c1.ID)
	if got.State != store.CommandFailed || got.ErrorCode != "NotSupported" || got.ErrorDescription != "no lock" || string(got.ErrorDetails) != `{"why":"none"}` {
		t.Fatalf("CALLERROR → %+v", got)
	}

	c2, err := e.svc.Send(ctx, "CP1", "", &v16.ResetRequest{Type: v16.ResetTypeSoft})
	if err != nil {
		t.Fatal(err)
	}
	f = st.next()
	st.publish(ocpp.AppendCallResult(nil, f.ID, json.RawMessage(`{"status":"Maybe"}`)))
	got, _ = e.svc.Wait(ctx, c2.ID)
	if got.State != store.CommandFailed || got.ErrorCode == "" || string(got.Response) != `{"status":"Maybe"}` {
		t.Fatalf("invalid answer → %+v", got)
	}
}

func TestCommandRefused(t *testing.T) {
	e := newEnv(t)
	e.addCP("CP16", ocppd.RegistrationAccepted, ocpp.V16)
	e.addCP("NEW", ocppd.RegistrationAccepted, "")
	ctx := context.Background()
	for _, tc := range []struct {
		name, cp, action string
		payload          any
		code             string
	}{
		{"unknown station", "NOPE", "Reset", &v16.ResetRequest{Type: v16.ResetTypeSoft}, ocppd.ENOTFOUND},
		{"other version", "CP16", "", &v201.ResetRequest{Type: v201.ResetEnumTypeImmediate}, ocppd.EINVALID},
		{"invalid typed", "CP16", "", &v16.ResetRequest{Type: "Hard-ish"}, ocppd.EINVALID},
		{"invalid json", "CP16", "Reset", json.RawMessage(`{"type":"Later"}`), ocppd.EINVALID},
		{"action mismatch", "CP16", "ClearCache", &v16.ResetRequest{Type: v16.ResetTypeSoft}, ocppd.EINVALID},
		{"unknown action", "CP16", "Explode", json.RawMessage(`{}`), ocppd.EINVALID},
		{"version unknown, untyped", "NEW", "Reset", json.RawMessage(`{"type":"Soft"}`), ocppd.EINVALID},
		{"response type", "CP16", "", &v16.ResetResponse{Status: "Accepted"}, ocppd.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.Send(ctx, tc.cp, tc.action, tc.payload)
			if got := ocppd.ErrorCode(err); got != tc.code {
				t.Errorf("Send: %v (code %q), want code %q", err, got, tc.code)
			}
		})
	}
	cmds, _ := e.svc.ListCommands(ctx, store.CommandFilter{})
	if len(cmds) != 0 {
		t.Errorf("refused commands were stored: %+v", cmds)
	}
}

func TestCommandQueuedUntilConnected(t *testing.T) {
	e := newEnv(t)
	e.addCP("CP1", ocppd.RegistrationAccepted, "")
	st := e.station("CP1", ocpp.V16)
	ctx := context.Background()
	c, err := e.svc.Send(ctx, "CP1", "", &v16.ClearCacheRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if c.State != store.CommandQueued {
		t.Fatalf("command for an offline station: %+v", c)
	}
	ev := bus.LifecycleEvent{Event: bus.EventConnected, ChargePointID: "CP1", GatewayID: "gw", SessionID: "s9", Protocol: "ocpp1.6", Time: e.clock.Now()}
	if err := e.bus.Publish(ctx, bus.Message{Topic: bus.Topics{}.Lifecycle("CP1"), Payload: ev.Encode()}); err != nil {
		t.Fatal(err)
	}
	f := st.next()
	if f.Type != ocpp.Call || f.ID != c.ID || f.Action != "ClearCache" {
		t.Fatalf("after connecting the station got %+v", f)
	}
	st.publish(ocpp.AppendCallResult(nil, f.ID, json.RawMessage(`{"status":"Accepted"}`)))
	got, _ := e.svc.Wait(ctx, c.ID)
	if got.State != store.CommandAnswered || got.SentAt.IsZero() {
		t.Fatalf("got %+v", got)
	}
}

func TestCommandQueuedForOtherVersionFails(t *testing.T) {
	e := newEnv(t)
	e.addCP("CP1", ocppd.RegistrationAccepted, "")
	ctx := context.Background()
	c, err := e.svc.Send(ctx, "CP1", "", &v16.ClearCacheRequest{})
	if err != nil {
		t.Fatal(err)
	}
	ev := bus.LifecycleEvent{Event: bus.EventConnected, ChargePointID: "CP1", GatewayID: "gw", SessionID: "s9", Protocol: "ocpp2.0.1", Time: e.clock.Now()}
	_ = e.bus.Publish(ctx, bus.Message{Topic: bus.Topics{}.Lifecycle("CP1"), Payload: ev.Encode()})
	got, _ := e.svc.Wait(ctx, c.ID)
	if got.State != store.CommandFailed || got.ErrorDescription == "" {
		t.Fatalf("got %+v", got)
	}
}

func TestCommandTimesOut(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.CommandTimeout = 30 * time.Second })
	e.addCP("CP1", ocppd.RegistrationAccepted, ocpp.V201)
	st := e.station("CP1", ocpp.V201)
	ctx := context.Background()
	c, err := e.svc.Send(ctx, "CP1", "", &v201.ClearCacheRequest{})
	if err != nil {
		t.Fatal(err)
	}
	st.next()
	e.clock.Advance(29 * time.Second)
	time.Sleep(30 * time.Millisecond) // several sweeps
	if got, _ := e.svc.GetCommand(ctx, c.ID); got.State != store.CommandSent {
		t.Fatalf("before the deadline: %+v", got)
	}
	e.clock.Advance(2 * time.Second)
	got, _ := e.svc.Wait(ctx, c.ID)
	if got.State != store.CommandTimedOut {
		t.Fatalf("after the deadline: %+v", got)
	}
	// A late answer is still recorded: the station did act on it.
	st.publish(ocpp.AppendCallResult(nil, c.ID, json.RawMessage(`{"status":"Accepted"}`)))
	eventually(t, "late answer recorded", func() bool {
		got, _ := e.svc.GetCommand(ctx, c.ID)
		return got.State == store.CommandAnswered
	})
}

// TestCommandAnsweredByAnotherWorker sends from one service (think: the
// API process) and lets another, sharing the store, receive the answer.
func TestCommandAnsweredByAnotherWorker(t *testing.T) {
	e := newEnv(t)
	e.addCP("CP1", ocppd.RegistrationAccepted, ocpp.V201)
	st := e.station("CP1", ocpp.V201)
	sender := New(Options{Bus: e.bus, Store: e.db, Now: e.clock.Now, PollInterval: 5 * time.Millisecond, Logger: quietLogger()})
	ctx := context.Background()
	c, err := sender.Send(ctx, "CP1", "", &v201.GetVariablesRequest{GetVariableData: []v201.GetVariableDataType{
		{Component: v201.ComponentType{Name: "OCPPCommCtrlr"}, Variable: v201.VariableType{Name: "HeartbeatInterval"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	f := st.next()
	st.publish(ocpp.AppendCallResult(nil, f.ID, json.RawMessage(`{"getVariableResult":[{"attributeStatus":"Accepted","attributeValue":"300","component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"}}]}`)))
	got, err := sender.Wait(ctx, c.ID)
	if err != nil || got.State != store.CommandAnswered {
		t.Fatalf("Wait = %+v, %v", got, err)
	}
}

func TestWaitContextEnds(t *testing.T) {
	e := newEnv(t)
	e.addCP("CP1", ocppd.RegistrationAccepted, ocpp.V201)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	c, err := e.svc.Send(context.Background(), "CP1", "", &v201.ClearCacheRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Wait(ctx, c.ID)
	if err == nil || got.ID != c.ID || got.State != store.CommandSent {
		t.Fatalf("Wait = %+v, %v; want the sent command and the context's error", got, err)
	}
}
