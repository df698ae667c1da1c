package csms

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/v201"
	"github.com/ocppd/ocppd/store"
)

// TestWaitReturnsAfterObservers: a slow observer has returned by the time
// Wait returns the outcome — for an answer and for a sweeper timeout — so
// what observers record can be read right after Call.
func TestWaitReturnsAfterObservers(t *testing.T) {
	e := newEnv(t)
	e.addCP("CP1", ocppd.RegistrationAccepted, ocpp.V201)
	st := e.station("CP1", ocpp.V201)
	ctx := context.Background()
	var done atomic.Int32
	e.svc.OnAnswer("", func(context.Context, Command) {
		time.Sleep(30 * time.Millisecond) // widen the window a wrong order would show in
		done.Add(1)
	})

	c, err := e.svc.Send(ctx, "CP1", "", &v201.ResetRequest{Type: v201.ResetEnumTypeImmediate})
	if err != nil {
		t.Fatal(err)
	}
	f := st.next()
	st.publish(ocpp.AppendCallResult(nil, f.ID, json.RawMessage(`{"status":"Accepted"}`)))
	if got, err := e.svc.Wait(ctx, c.ID); err != nil || got.State != store.CommandAnswered {
		t.Fatalf("Wait = %+v, %v", got, err)
	}
	if n := done.Load(); n != 1 {
		t.Fatalf("Wait returned with %d observer calls finished, want 1", n)
	}

	c, err = e.svc.SendWith(ctx, "CP1", "", &v201.ClearCacheRequest{}, CommandOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st.next()
	e.clock.Advance(2 * time.Second) // the sweeper times it out
	if got, err := e.svc.Wait(ctx, c.ID); err != nil || got.State != store.CommandTimedOut {
		t.Fatalf("Wait = %+v, %v", got, err)
	}
	if n := done.Load(); n != 2 {
		t.Fatalf("Wait returned with %d observer calls finished, want 2", n)
	}
}
