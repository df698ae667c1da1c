package csms

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/bus/memory"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/message"
	"github.com/ocppd/ocppd/store"
	"github.com/ocppd/ocppd/store/sqlite"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a CSMS on an in-memory bus and a SQLite store in a temp dir.
type env struct {
	t     testing.TB
	bus   *memory.Bus
	db    *sqlite.DB
	store store.Store // what the service uses (db, or a wrapper)
	svc   *Service
	clock *clock
}

// newEnv starts a service; tune may change its options (and Store).
func newEnv(t *testing.T, tune ...func(*Options)) *env {
	t.Helper()
	return newEnvTB(t, tune...)
}

func newEnvTB(t testing.TB, tune ...func(*Options)) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, bus: memory.New(), clock: &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}}
	e.db = sqlite.New(sqlite.Options{Path: filepath.Join(t.TempDir(), "ocppd.db"), Now: e.clock.Now})
	if err := e.db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	opts := Options{Bus: e.bus, Store: e.db, Workers: 4, Now: e.clock.Now, SweepInterval: 5 * time.Millisecond,
		PollInterval: 5 * time.Millisecond, Logger: quietLogger()}
	for _, f := range tune {
		f(&opts)
	}
	e.store = opts.Store
	e.svc = New(opts)
	if err := e.svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.svc.Close()
		e.db.Close()
		e.bus.Close()
	})
	return e
}

// addCP registers a station with registration reg; if v is not empty it
// is also connected (online) with that protocol.
func (e *env) addCP(id string, reg ocppd.RegistrationStatus, v ocpp.Version) {
	e.t.Helper()
	ctx := context.Background()
	if err := e.db.AddChargePoints(ctx, []ocppd.ChargePoint{{ID: id, Registration: reg, RegisteredAt: e.clock.Now()}}); err != nil {
		e.t.Fatal(err)
	}
	if v != "" {
		if err := e.db.RecordConnected(ctx, store.Connection{ChargePointID: id, SessionID: "s1", GatewayID: "gw", Protocol: string(v), At: e.clock.Now()}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// station is a fake charging station talking to the CSMS over the bus as
// a gateway would relay it.
type station struct {
	e   *env
	id  string
	v   ocpp.Version
	out chan []byte
	seq atomic.Int64
}

func (e *env) station(id string, v ocpp.Version) *station {
	e.t.Helper()
	st := &station{e: e, id: id, v: v, out: make(chan []byte, 1024)}
	sub, err := e.bus.Subscribe(context.Background(), bus.Topics{}.Out(id), func(m bus.Message) {
		st.out <- append([]byte(nil), m.Payload...)
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { sub.Unsubscribe(context.Background()) })
	return st
}

// publish sends a raw frame on {cp}/in.
func (st *station) publish(frame []byte) {
	st.e.t.Helper()
	err := st.e.bus.Publish(context.Background(), bus.Message{Topic: bus.Topics{}.In(st.id), Payload: frame,
		Props: map[string]string{bus.PropVersion: string(st.v), bus.PropSession: "s1"}})
	if err != nil {
		st.e.t.Fatal(err)
	}
}

// next returns the next frame the CSMS sent the station.
func (st *station) next() ocpp.Frame {
	st.e.t.Helper()
	select {
	case b := <-st.out:
		f, fe := ocpp.Parse(b)
		if fe != nil {
			st.e.t.Fatalf("CSMS sent a malformed frame %s: %v", b, fe.Message)
		}
		return f
	case <-time.After(10 * time.Second):
		st.e.t.Fatalf("%s: no frame from the CSMS", st.id)
	}
	panic("unreachable")
}

// callRaw sends a CALL with a JSON payload and returns the answer frame.
// A CALLRESULT is checked against the schema of the action's response: no
// test passes with an invalid answer.
func (st *station) callRaw(action string, payload string) ocpp.Frame {
	st.e.t.Helper()
	id := fmt.Sprintf("m%d", st.seq.Add(1))
	st.publish(ocpp.AppendCall(nil, id, action, json.RawMessage(payload)))
	f := st.next()
	if f.ID != id {
		st.e.t.Fatalf("answer id %q, want %q (frame type %s)", f.ID, id, f.Type)
	}
	if f.Type == ocpp.CallResult {
		if _, err := message.DecodeResponse(st.v, action, f.Payload, ocpp.DecodeOptions{}); err != nil {
			st.e.t.Fatalf("%s %s response %s is invalid: %v", st.v, action, f.Payload, err)
		}
	}
	return f
}

// call sends a CALL with payload marshalled to JSON and requires a
// CALLRESULT, unmarshalled into resp (if not nil).
func (st *station) call(action string, payload any, resp any) {
	st.e.t.Helper()
	b, err := json.Marshal(payload)
	if err != nil {
		st.e.t.Fatal(err)
	}
	f := st.callRaw(action, string(b))
	if f.Type != ocpp.CallResult {
		st.e.t.Fatalf("%s: got %s %s %q, want a CALLRESULT", action, f.Type, f.ErrorCode, f.ErrorDescription)
	}
	if resp != nil {
		if err := json.Unmarshal(f.Payload, resp); err != nil {
			st.e.t.Fatal(err)
		}
	}
}

// callError sends a CALL and requires a CALLERROR with code.
func (st *station) callError(action string, payload any, code string) ocpp.Frame {
	st.e.t.Helper()
	b, _ := json.Marshal(payload)
	f := st.callRaw(action, string(b))
	if f.Type != ocpp.CallError || f.ErrorCode != code {
		st.e.t.Fatalf("%s: got %s %s %q (%s), want CALLERROR %s", action, f.Type, f.ErrorCode, f.ErrorDescription, f.Payload, code)
	}
	return f
}

// eventually polls cond until it holds or a generous deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
