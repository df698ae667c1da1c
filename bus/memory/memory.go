// Package memory is an in-process bus.Bus without a broker: subscriptions
// are matched with bus.Match and handlers are called synchronously on the
// publisher's goroutine, like the embedded broker. It is meant for unit
// tests of the gateway and the CSMS; `ocppd serve` uses bus/embedded.
package memory

import (
	"context"
	"fmt"
	"sync"

	"github.com/ocppd/ocppd/bus"
)

// Bus is an in-memory bus. The zero value is not usable; call New.
type Bus struct {
	mu     sync.RWMutex
	subs   map[*sub]struct{}
	rr     map[string]int // round-robin counters per shared group+filter
	closed bool
}

type sub struct {
	b      *Bus
	filter string
	group  string
	h      bus.Handler
}

var _ bus.Bus = (*Bus)(nil)

// New returns an empty bus.
func New() *Bus { return &Bus{subs: map[*sub]struct{}{}, rr: map[string]int{}} }

// Publish delivers m to every matching subscription (one member per shared
// group) before returning.
func (b *Bus) Publish(_ context.Context, m bus.Message) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return fmt.Errorf("publish %s: %w", m.Topic, bus.ErrClosed)
	}
	var targets []bus.Handler
	groups := map[string][]*sub{}
	for s := range b.subs {
		if !bus.Match(s.filter, m.Topic) {
			continue
		}
		if s.group == "" {
			targets = append(targets, s.h)
			continue
		}
		k := s.group + "\x00" + s.filter
		groups[k] = append(groups[k], s)
	}
	for k, members := range groups {
		i := b.rr[k] % len(members)
		b.rr[k]++
		targets = append(targets, members[i].h)
	}
	b.mu.Unlock()
	for _, h := range targets {
		h(m)
	}
	return nil
}

// Subscribe registers h for filter.
func (b *Bus) Subscribe(_ context.Context, filter string, h bus.Handler) (bus.Subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, fmt.Errorf("subscribe %s: %w", filter, bus.ErrClosed)
	}
	g, f := bus.SplitShared(filter)
	s := &sub{b: b, filter: f, group: g, h: h}
	b.subs[s] = struct{}{}
	return s, nil
}

// Unsubscribe removes the subscription; it is idempotent.
func (s *sub) Unsubscribe(context.Context) error {
	s.b.mu.Lock()
	delete(s.b.subs, s)
	s.b.mu.Unlock()
	return nil
}

// Close drops every subscription; it is idempotent.
func (b *Bus) Close() error {
	b.mu.Lock()
	b.closed = true
	b.subs = map[*sub]struct{}{}
	b.mu.Unlock()
	return nil
}
