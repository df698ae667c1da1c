package mqtt

import (
	"context"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/bus/bustest"
)

// TestWillAndReconnect: a connection that dies without DISCONNECT makes
// the broker publish the will; after the reconnection OnReconnect runs, and
// a clean Close publishes no will.
func TestWillAndReconnect(t *testing.T) {
	u, _ := url.Parse(brokerURL(t))
	px := newProxy(t, u.Host)
	p := bustest.Prefix(t)
	watcher := open(t, Options{})
	var got bustest.Collector
	if _, err := watcher.Subscribe(tctx(t), p+"status/+", got.Handler()); err != nil {
		t.Fatal(err)
	}
	var reconnects atomic.Int64
	reconnected := make(chan struct{}, 1)
	c := open(t, Options{
		URL:  "mqtt://" + px.addr(),
		Will: &bus.Message{Topic: p + "status/gw1", Payload: []byte("down"), Props: map[string]string{"k": "v"}},
		OnReconnect: func(ctx context.Context) {
			reconnects.Add(1)
			select {
			case reconnected <- struct{}{}:
			default:
			}
		},
	})
	if err := c.Publish(tctx(t), bus.Message{Topic: p + "status/gw1", Payload: []byte("up")}); err != nil {
		t.Fatal(err)
	}
	got.WaitLen(t, 1)
	if reconnects.Load() != 0 {
		t.Fatalf("OnReconnect ran %d times before any reconnection", reconnects.Load())
	}

	px.Cut()
	msgs := got.WaitLen(t, 2)
	if string(msgs[1].Payload) != "down" || msgs[1].Prop("k") != "v" {
		t.Fatalf("after the cut got %q %v, want the will \"down\" with its user property", msgs[1].Payload, msgs[1].Props)
	}
	px.Resume()
	select {
	case <-reconnected:
	case <-tctx(t).Done():
		t.Fatal("OnReconnect did not run after the reconnection")
	}

	// A clean close: DISCONNECT, no will. A marker published after the
	// close by another client arrives after anything the close caused.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := watcher.Publish(tctx(t), bus.Message{Topic: p + "status/marker", Payload: []byte("marker")}); err != nil {
		t.Fatal(err)
	}
	msgs = got.WaitLen(t, 3)
	if string(msgs[2].Payload) != "marker" {
		t.Fatalf("a clean Close published %q; want no will", msgs[2].Payload)
	}
}
