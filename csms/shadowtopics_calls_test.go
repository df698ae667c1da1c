package csms

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/ocpp"
)

func TestOnCallSeesAnsweredCallsOnly(t *testing.T) {
	e := newEnv(t)
	e.addCP("CP1", ocppd.RegistrationAccepted, ocpp.V201)
	type seen struct {
		action, resp string
	}
	got := make(chan seen, 10)
	e.svc.OnCall("Heartbeat", func(_ context.Context, r *Request, resp json.RawMessage) {
		got <- seen{"hb:" + r.Action, string(resp)}
	})
	e.svc.OnCall("", func(_ context.Context, r *Request, resp json.RawMessage) {
		got <- seen{"all:" + r.Action, ""}
	})
	st := e.station("CP1", ocpp.V201)
	st.call("Heartbeat", map[string]any{}, nil)
	st.callError("NoSuchAction", map[string]any{}, "NotImplemented")
	want := []string{"hb:Heartbeat", "all:Heartbeat"}
	for _, w := range want {
		select {
		case s := <-got:
			if s.action != w {
				t.Errorf("observed %s, want %s", s.action, w)
			}
			if s.action == "hb:Heartbeat" {
				var p map[string]any
				if err := json.Unmarshal([]byte(s.resp), &p); err != nil || p["currentTime"] == nil {
					t.Errorf("response %s", s.resp)
				}
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no observation of %s", w)
		}
	}
	select {
	case s := <-got:
		t.Errorf("observed %s: a CALLERROR must not be observed", s.action)
	case <-time.After(50 * time.Millisecond):
	}
}
