package csms

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/ocpp"
)

// TestSendStored: an OCPP 2.1 SEND (NotifyPeriodicEventStream) is stored
// in the station's event log at its basetime and gets no answer; an
// invalid one and one from a station that is not Accepted are dropped.
func TestSendStored(t *testing.T) {
	e := newEnv(t)
	e.addCP("CP1", ocppd.RegistrationAccepted, ocpp.V21)
	e.addCP("CP2", ocppd.RegistrationPending, ocpp.V21)
	st := e.station("CP1", ocpp.V21)
	pending := e.station("CP2", ocpp.V21)
	ctx := context.Background()
	send := func(st *station, id, payload string) {
		t.Helper()
		st.publish([]byte(`[6,"` + id + `","NotifyPeriodicEventStream",` + payload + `]`))
	}
	base := time.Date(2025, 6, 1, 11, 59, 0, 0, time.UTC)
	good := `{"id":7,"pending":0,"basetime":"2025-06-01T11:59:00Z","data":[{"t":0,"v":"230.1"},{"t":1.5,"v":"230.4"}]}`
	send(pending, "s0", good)
	send(st, "s1", `{"id":7,"pending":0}`) // no basetime, no data: invalid
	send(st, "s2", good)
	// A CALL after the SENDs: once it is answered, the SENDs (same
	// station, same worker, in order) have been handled.
	st.call("Heartbeat", m{}, nil)
	pending.callError("Heartbeat", m{}, "SecurityError")

	evs, err := e.db.ListStationEvents(ctx, "CP1", "NotifyPeriodicEventStream", 0)
	if err != nil || len(evs) != 1 {
		t.Fatalf("stored SENDs %+v, %v; want the valid one", evs, err)
	}
	var got, want any
	_ = json.Unmarshal(evs[0].Payload, &got)
	_ = json.Unmarshal([]byte(good), &want)
	if !evs[0].Timestamp.Equal(base) || !jsonSame(got, want) {
		t.Fatalf("stored %+v", evs[0])
	}
	if evs, _ := e.db.ListStationEvents(ctx, "CP2", "", 0); len(evs) != 0 {
		t.Fatalf("a Pending station's SEND was stored: %+v", evs)
	}
	select {
	case b := <-st.out:
		t.Fatalf("the CSMS answered a SEND: %s", b)
	default:
	}
}

func jsonSame(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
