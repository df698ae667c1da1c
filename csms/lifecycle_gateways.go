package csms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/store"
)

// GatewayWatcherOptions configures a GatewayWatcher. Zero values take the
// defaults noted.
type GatewayWatcherOptions struct {
	Bus    bus.Bus
	Topics bus.Topics
	Store  store.ChargePoints
	// Logger: default slog.Default().
	Logger *slog.Logger
	// Now: default time.Now.
	Now func() time.Time
	// QueueSize bounds the statuses waiting to be handled; a full queue
	// makes the bus handler wait. Default 64.
	QueueSize int
}

// GatewayWatcher keeps "who is online where" right when a gateway process
// goes away: it consumes the gateways' retained statuses
// (bus.GatewayStatus on Topics.AllGateways) and, when one goes down —
// stopped cleanly, or its MQTT will published by the broker because the
// process died — marks every station whose current session that gateway
// held offline (store.MarkGatewayOffline). Stations that reconnected
// elsewhere have a newer session held by another gateway and are not
// touched.
//
// Every CSMS process runs one, on a plain (not shared) subscription:
// marking offline is idempotent, and a plain subscription also receives the
// retained statuses of gateways that went down while no CSMS was running.
type GatewayWatcher struct {
	opts GatewayWatcherOptions
	log  *slog.Logger

	mu      sync.Mutex // guards queue sends against close
	queue   chan bus.Message
	sub     bus.Subscription
	started bool
	closed  bool
	wg      sync.WaitGroup
}

// NewGatewayWatcher returns a watcher; Start subscribes.
func NewGatewayWatcher(opts GatewayWatcherOptions) *GatewayWatcher {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 64
	}
	return &GatewayWatcher{opts: opts, log: opts.Logger}
}

// Start subscribes to the gateways' statuses and starts handling them on
// one goroutine, in arrival order.
func (w *GatewayWatcher) Start(ctx context.Context) error {
	w.mu.Lock()
	if w.started || w.closed {
		w.mu.Unlock()
		return errors.New("csms: gateway watcher already started or closed")
	}
	w.started = true
	w.queue = make(chan bus.Message, w.opts.QueueSize)
	w.wg.Add(1)
	go w.run(w.queue)
	w.mu.Unlock()
	sub, err := w.opts.Bus.Subscribe(ctx, w.opts.Topics.AllGateways(), w.enqueue)
	if err != nil {
		_ = w.Close()
		return fmt.Errorf("csms: subscribe %s: %w", w.opts.Topics.AllGateways(), err)
	}
	w.mu.Lock()
	w.sub = sub
	w.mu.Unlock()
	return nil
}

// RequestResync asks every gateway to publish the connected events of its
// open sessions again (bus.Topics.Resync). Call it when this process may
// have missed lifecycle events: its broker connection came back without
// its session (the broker restarted without persistence, or the session
// expired), so events published meanwhile went nowhere.
func RequestResync(ctx context.Context, b bus.Bus, topics bus.Topics, requester string) error {
	payload, _ := json.Marshal(struct {
		Requester string    `json:"requester"`
		Time      time.Time `json:"time"`
	}{requester, time.Now().UTC()})
	if err := b.Publish(ctx, bus.Message{Topic: topics.Resync(), Payload: payload}); err != nil {
		return fmt.Errorf("csms: request resync: %w", err)
	}
	return nil
}

// Close unsubscribes, handles what is queued and waits. It is idempotent.
func (w *GatewayWatcher) Close() error {
	w.mu.Lock()
	sub := w.sub
	w.sub = nil
	w.mu.Unlock()
	if sub != nil {
		_ = sub.Unsubscribe(context.Background())
	}
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		if w.queue != nil {
			close(w.queue)
		}
	}
	w.mu.Unlock()
	w.wg.Wait()
	return nil
}

func (w *GatewayWatcher) enqueue(m bus.Message) {
	m.Payload = append([]byte(nil), m.Payload...)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.queue <- m
}

func (w *GatewayWatcher) run(q <-chan bus.Message) {
	defer w.wg.Done()
	for m := range q {
		w.handle(m)
	}
}

func (w *GatewayWatcher) handle(m bus.Message) {
	st, err := bus.DecodeGatewayStatus(m.Payload)
	if err != nil || st.GatewayID == "" || m.Topic != w.opts.Topics.Gateway(st.GatewayID) {
		if len(m.Payload) > 0 { // an empty retained message clears the topic
			w.log.Warn("malformed gateway status", "topic", m.Topic, "err", err)
		}
		return
	}
	if st.Status != bus.GatewayDown {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ids, err := w.opts.Store.MarkGatewayOffline(ctx, st.GatewayID, w.opts.Now().UTC())
	if err != nil {
		w.log.Error("marking a gateway's stations offline failed", "gateway", st.GatewayID, "err", err)
		return
	}
	if len(ids) > 0 || !m.Retain {
		w.log.Info("gateway down: its stations are offline", "gateway", st.GatewayID, "instance", st.Instance, "reason", st.Reason, "stations", len(ids))
	}
}
