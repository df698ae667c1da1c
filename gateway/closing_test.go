package gateway

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/bus/memory"
	"github.com/ocppd/ocppd/ocpp"
)

// TestClosingSessionPublishesAnswers: a station that answers a CSMS call
// and reconnects at once (a Reset) can have its answer still unread on the
// old connection when the new one replaces it. The answer must reach the
// bus; a CALL read on the closing session must not (the station sends it
// again on its new connection, and its answer would go to the new one).
func TestClosingSessionPublishesAnswers(t *testing.T) {
	mb := memory.New()
	var mu sync.Mutex
	var got []string
	if _, err := mb.Subscribe(context.Background(), bus.Topics{}.AllIn(), func(m bus.Message) {
		mu.Lock()
		got = append(got, string(m.Payload))
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	g := New(Options{Bus: mb, GatewayID: "gw", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	s := newSession(g, nil, "CP1", ocpp.V201, "127.0.0.1:1", g.log)
	s.closed.Store(true)
	s.cancel() // the session's own context is gone once it closes

	for _, f := range []string{
		`[3,"reset-1",{"status":"Accepted"}]`,
		`[4,"get-2","InternalError","boom",{}]`,
		`[2,"hb-3","Heartbeat",{}]`,
		`not json`,
	} {
		s.handleFrame([]byte(f))
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{`[3,"reset-1",{"status":"Accepted"}]`, `[4,"get-2","InternalError","boom",{}]`}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("published from a closing session: %q, want the two answers only", got)
	}
}
