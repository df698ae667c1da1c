package sim

import (
	"context"
	"testing"
)

// BenchmarkHeartbeatRoundTrip measures one Heartbeat CALL and its
// CALLRESULT over a loopback WebSocket to the in-test server (logging
// off), i.e. the simulator's per-call overhead plus the round trip.
func BenchmarkHeartbeatRoundTrip(b *testing.B) {
	ts := newTestServer(b)
	st := New(Options{URL: ts.URL})
	defer st.Close()
	ctx := context.Background()
	if err := st.Connect(ctx); err != nil {
		b.Fatal(err)
	}
	conn := <-ts.conns
	go func() { // drain the server's copy of each CALL
		for range conn.Calls {
		}
	}()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Heartbeat(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewUUID measures message id generation.
func BenchmarkNewUUID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = newUUID()
	}
}
