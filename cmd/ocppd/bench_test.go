package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/load"
	"github.com/ocppd/ocppd/ocpp"
)

// BenchmarkHeartbeatRoundTrip measures the full pipeline — WebSocket,
// gateway, embedded bus, CSMS, SQLite (MarkSeen, group-committed) and back
// — with the real `ocppd serve` on 127.0.0.1:0 and N stations, each doing
// Heartbeat CALL → CALLRESULT in a closed loop (one outstanding call per
// station, as OCPP-J allows). ns/op is the inverse of the fleet's
// throughput; p50/p99 are per-call latencies.
//
//	go test -run '^$' -bench HeartbeatRoundTrip -benchtime 20000x ./cmd/ocppd
func BenchmarkHeartbeatRoundTrip(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("stations=%d", n), func(b *testing.B) { benchHeartbeats(b, n) })
	}
}

func benchHeartbeats(b *testing.B, n int) {
	cfg := serveConfig{
		OCPPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", MQTTAddr: "",
		DataDir: b.TempDir(), HeartbeatInterval: 300 * time.Second, PingInterval: 30 * time.Second,
		MaxFrameSize: 64 << 10, CallTimeout: 60 * time.Second, ShutdownTimeout: 10 * time.Second,
	}
	srv := newServer(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	if err := srv.Start(ctx); err != nil {
		_ = srv.Shutdown(ctx)
		b.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	cps := make([]ocppd.ChargePoint, n)
	for i := range cps {
		cps[i] = ocppd.ChargePoint{ID: fmt.Sprintf("BENCH%05d", i), Registration: ocppd.RegistrationAccepted, RegisteredAt: time.Now()}
	}
	if err := srv.store.AddChargePoints(ctx, cps); err != nil {
		b.Fatal(err)
	}

	clients := make([]*benchClient, n)
	var wg sync.WaitGroup
	defer func() {
		for _, c := range clients {
			if c != nil {
				_ = c.ws.WriteClose(1000, nil)
			}
		}
		wg.Wait()
	}()
	for i := range clients {
		c, err := dialBench(srv.OCPPAddr(), cps[i].ID)
		if err != nil {
			b.Fatal(err)
		}
		clients[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.ws.ReadLoop()
		}()
		if _, err := c.call("BootNotification", `{"chargingStation":{"model":"bench","vendorName":"ocppd"},"reason":"PowerUp"}`); err != nil {
			b.Fatal(err)
		}
	}

	var lat load.Histogram
	var next atomic.Int64
	var failed atomic.Value
	var run sync.WaitGroup
	b.ResetTimer()
	for _, c := range clients {
		run.Add(1)
		go func() {
			defer run.Done()
			for next.Add(1) <= int64(b.N) {
				start := time.Now()
				if _, err := c.call("Heartbeat", `{}`); err != nil {
					failed.Store(err)
					return
				}
				lat.Record(time.Since(start))
			}
		}()
	}
	run.Wait()
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	h := lat.Snapshot()
	b.ReportMetric(float64(h.Quantile(0.5))/1e6, "p50-ms")
	b.ReportMetric(float64(h.Quantile(0.99))/1e6, "p99-ms")
}

// benchClient is a minimal OCPP 2.0.1 station: one call at a time.
type benchClient struct {
	gws.BuiltinEventHandler
	ws   *gws.Conn
	seq  int
	resp chan ocpp.Frame
}

func dialBench(addr, id string) (*benchClient, error) {
	c := &benchClient{resp: make(chan ocpp.Frame, 1)}
	hdr := http.Header{}
	hdr.Set("Sec-WebSocket-Protocol", string(ocpp.V201))
	ws, _, err := gws.NewClient(c, &gws.ClientOption{Addr: "ws://" + addr + "/" + id, RequestHeader: hdr})
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", id, err)
	}
	c.ws = ws
	return c, nil
}

func (c *benchClient) OnMessage(_ *gws.Conn, m *gws.Message) {
	defer m.Close()
	f, ferr := ocpp.Parse(m.Bytes())
	if ferr != nil || f.Type == ocpp.Call {
		return
	}
	f.Payload = append([]byte(nil), f.Payload...) // m's buffer is reused
	c.resp <- f
}

func (c *benchClient) OnClose(*gws.Conn, error) { close(c.resp) }

func (c *benchClient) call(action, payload string) (ocpp.Frame, error) {
	c.seq++
	id := strconv.Itoa(c.seq)
	if err := c.ws.WriteMessage(gws.OpcodeText, ocpp.AppendCall(nil, id, action, []byte(payload))); err != nil {
		return ocpp.Frame{}, err
	}
	select {
	case f, ok := <-c.resp:
		switch {
		case !ok:
			return f, fmt.Errorf("%s: connection closed", action)
		case f.ID != id:
			return f, fmt.Errorf("%s: answer to %q, want %q", action, f.ID, id)
		case f.Type != ocpp.CallResult:
			return f, fmt.Errorf("%s: %s %s", action, f.ErrorCode, f.ErrorDescription)
		}
		return f, nil
	case <-time.After(30 * time.Second):
		return ocpp.Frame{}, fmt.Errorf("%s: no answer in 30 s", action)
	}
}
