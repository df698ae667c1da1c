package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/ocppd/ocppd/bus"
)

// NewInstanceID returns a random id for one run of a gateway process
// (Options.Instance), so that the statuses of successive runs under the
// same gateway id can be told apart.
func NewInstanceID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Instance returns the id of this run of the gateway (Options.Instance).
func (g *Gateway) Instance() string { return g.opts.Instance }

// Will returns the status a broker should publish as this gateway's MQTT
// will: down, connection lost. Configure it on the bus client before it
// connects.
func Will(topics bus.Topics, gatewayID, instance string) bus.Message {
	return bus.GatewayStatus{
		GatewayID: gatewayID,
		Instance:  instance,
		Status:    bus.GatewayDown,
		Reason:    bus.GatewayReasonConnectionLost,
	}.Message(topics)
}

// publishStatus publishes this gateway's retained status.
func (g *Gateway) publishStatus(ctx context.Context, status, reason string) error {
	m := bus.GatewayStatus{
		GatewayID: g.opts.GatewayID,
		Instance:  g.opts.Instance,
		Status:    status,
		Reason:    reason,
		Time:      g.opts.Now().UTC(),
	}.Message(g.opts.Topics)
	m.ClientID = g.opts.GatewayID
	if err := g.opts.Bus.Publish(ctx, m); err != nil {
		g.stats.publishErrors.Add(1)
		return err
	}
	return nil
}

// Reannounce publishes the gateway's "up" status and a connected event for
// every open session again, with their original session ids and start
// times. Call it after the bus connection was lost and restored: the
// broker has published the gateway's will meanwhile, and its consumers have
// marked this gateway's stations offline. Events about sessions older than
// a station's newer connection elsewhere are ignored by the other gateways.
func (g *Gateway) Reannounce(ctx context.Context) error {
	if err := g.publishStatus(ctx, bus.GatewayUp, ""); err != nil {
		return err
	}
	g.mu.Lock()
	sessions := make([]*session, 0, len(g.sessions))
	for _, s := range g.sessions {
		sessions = append(sessions, s)
	}
	g.mu.Unlock()
	n := 0
	for _, s := range sessions {
		if !s.announced.Load() || s.closed.Load() {
			continue
		}
		g.publishLifecycle(bus.LifecycleEvent{
			Event:         bus.EventConnected,
			ChargePointID: s.cp,
			GatewayID:     g.opts.GatewayID,
			SessionID:     s.id,
			Protocol:      string(s.version),
			RemoteAddr:    s.remote,
			Time:          s.started,
		}, s.log)
		n++
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	g.log.Info("re-announced the gateway and its sessions after a bus reconnection", "sessions", n)
	return nil
}

// resyncDelay coalesces the resync requests of several CSMS workers that
// reconnected together into one re-announcement.
const resyncDelay = 200 * time.Millisecond

// resyncState answers resync requests (Topics.Resync) with Reannounce.
type resyncState struct {
	mu      sync.Mutex
	sub     bus.Subscription
	timer   *time.Timer // a re-announcement is scheduled
	stopped bool
	wg      sync.WaitGroup // the scheduled re-announcement
}

func (g *Gateway) startResync(ctx context.Context) error {
	sub, err := g.opts.Bus.Subscribe(ctx, g.opts.Topics.Resync(), g.onResync)
	if err != nil {
		return fmt.Errorf("subscribe to resync requests: %w", err)
	}
	r := &g.resync
	r.mu.Lock()
	stopped := r.stopped
	if !stopped {
		r.sub = sub
	}
	r.mu.Unlock()
	if stopped {
		_ = sub.Unsubscribe(ctx)
	}
	return nil
}

// onResync schedules a re-announcement; requests arriving meanwhile join
// it. It runs on the bus's delivery goroutine and does not block.
func (g *Gateway) onResync(bus.Message) {
	r := &g.resync
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped || r.timer != nil {
		return
	}
	r.wg.Add(1)
	r.timer = time.AfterFunc(resyncDelay, func() {
		defer r.wg.Done()
		r.mu.Lock()
		r.timer = nil
		r.mu.Unlock()
		if err := g.Reannounce(g.ctx); err != nil && g.ctx.Err() == nil {
			g.log.Warn("re-announcing sessions on a resync request failed", "err", err)
		}
	})
}

// stopResync ends the resync subscription and waits for a re-announcement
// under way.
func (g *Gateway) stopResync(ctx context.Context) {
	r := &g.resync
	r.mu.Lock()
	r.stopped = true
	sub, t := r.sub, r.timer
	r.sub = nil
	r.mu.Unlock()
	if t != nil && t.Stop() {
		r.wg.Done()
	}
	if sub != nil {
		if err := sub.Unsubscribe(ctx); err != nil {
			g.log.Warn("unsubscribe resync requests", "err", err)
		}
	}
	r.wg.Wait()
}
