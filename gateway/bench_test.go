package gateway

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/bus/memory"
	"github.com/ocppd/ocppd/ocpp"
)

// benchFrame is a typical OCPP 2.0.1 MeterValues CALL (about 330 bytes).
const benchFrame = `[2,"7f1c2a64-5d0e-4b7a-9c3e-0a1b2c3d4e5f","MeterValues",{"evseId":1,"meterValue":[{"timestamp":"2025-03-01T12:00:00Z","sampledValue":[{"value":7360.5,"measurand":"Power.Active.Import","unitOfMeasure":{"unit":"W"}},{"value":12873.2,"measurand":"Energy.Active.Import.Register","unitOfMeasure":{"unit":"Wh"}},{"value":32.1,"measurand":"Current.Import","phase":"L1"}]}]}]`

// BenchmarkFrameToBus measures a station frame arriving at the gateway
// until it is published on the (memory) bus.
//
//   - socket: frames written by a station over a loopback WebSocket, from
//     the wire to the /in subscriber (WebSocket read, unmasking, UTF-8
//     check, header parse, publish).
//   - handler: the gateway's per-frame work alone (header parse, version
//     check, publish), without the socket.
func BenchmarkFrameToBus(b *testing.B) {
	if _, fe := ocpp.Parse([]byte(benchFrame)); fe != nil {
		b.Fatal(fe)
	}
	b.Run("socket", func(b *testing.B) {
		mb := memory.New()
		var got atomic.Int64
		var target atomic.Int64
		done := make(chan struct{}, 1)
		if _, err := mb.Subscribe(context.Background(), bus.Topics{}.AllIn(), func(m bus.Message) {
			if got.Add(1) == target.Load() {
				done <- struct{}{}
			}
		}); err != nil {
			b.Fatal(err)
		}
		g := New(Options{Bus: mb, GatewayID: "bench", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		srv := httptest.NewServer(g)
		defer srv.Close()
		defer g.Shutdown(context.Background())
		c := dial(b, strings.TrimPrefix(srv.URL, "http://"), "/ocpp/CP1", "ocpp2.0.1")
		waitForB(b, func() bool { return g.Sessions() == 1 })

		// Pre-mask a batch of frames once; the station writes it repeatedly.
		const batch = 64
		one := maskedText([]byte(benchFrame))
		buf := make([]byte, 0, batch*len(one))
		for range batch {
			buf = append(buf, one...)
		}
		b.SetBytes(int64(len(benchFrame)))
		b.ReportAllocs()
		target.Store(int64(b.N))
		b.ResetTimer()
		for n := b.N; n > 0; n -= batch {
			k := min(n, batch)
			if _, err := c.conn.Write(buf[:k*len(one)]); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-done:
		case <-time.After(time.Minute):
			b.Fatalf("published %d of %d", got.Load(), b.N)
		}
		b.StopTimer()
	})
	b.Run("handler", func(b *testing.B) {
		mb := memory.New()
		var got atomic.Int64
		if _, err := mb.Subscribe(context.Background(), bus.Topics{}.AllIn(), func(bus.Message) { got.Add(1) }); err != nil {
			b.Fatal(err)
		}
		g := New(Options{Bus: mb, GatewayID: "bench", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		s := newSession(g, nil, "CP1", ocpp.V201, "127.0.0.1:1", g.log)
		frame := []byte(benchFrame)
		b.SetBytes(int64(len(frame)))
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			s.handleFrame(frame)
		}
		b.StopTimer()
		if got.Load() != int64(b.N) {
			b.Fatalf("published %d of %d", got.Load(), b.N)
		}
	})
}

// maskedText returns a complete masked client text frame.
func maskedText(p []byte) []byte {
	hdr := []byte{0x80 | opText}
	switch n := len(p); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	default:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	hdr = append(hdr, mask[:]...)
	for i, c := range p {
		hdr = append(hdr, c^mask[i%4])
	}
	return hdr
}

func waitForB(b *testing.B, cond func() bool) {
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}
