package mqtt

import (
	"context"
	"fmt"
	"hash/maphash"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/bus"
)

// maxSubID is the largest MQTT v5 Subscription Identifier (a variable byte
// integer, 1..268,435,455).
const maxSubID = 268_435_455

// resubscribeWorkers bounds the SUBSCRIBEs in flight while restoring the
// subscriptions after a session loss. Each filter needs its own SUBSCRIBE
// because the Subscription Identifier is a property of the packet.
const resubscribeWorkers = 16

// entry is one broker subscription: a distinct filter string and the local
// handlers registered for it.
type entry struct {
	filter string // as sent to the broker, "$share/{group}/…" included
	match  string // the filter proper, without the share prefix
	shared bool
	id     int // Subscription Identifier

	subs []*subscription // guarded by registry.mu
	next atomic.Uint64   // round robin among the members of a shared group

	// gen is the session generation in which the broker acknowledged the
	// subscription (-1: never). Guarded by the filter's lock.
	gen int64
}

// registry holds the client's subscriptions and routes incoming messages.
type registry struct {
	mu       sync.RWMutex
	byFilter map[string]*entry
	byID     map[int]*entry
	trie     trie
	lastID   int
	pending  map[string]struct{} // filters to UNSUBSCRIBE at the next chance
	// added is closed (and replaced) whenever a handler is registered:
	// deliveries waiting for a handler look again (Options.StartupGrace).
	added chan struct{}

	// locks serialize SUBSCRIBE and UNSUBSCRIBE of one filter, so that
	// an UNSUBSCRIBE of a filter just dropped cannot overtake the
	// SUBSCRIBE of the same filter registered again.
	seed  maphash.Seed
	locks [64]sync.Mutex
}

func (r *registry) init() {
	r.byFilter = make(map[string]*entry)
	r.byID = make(map[int]*entry)
	r.pending = make(map[string]struct{})
	r.added = make(chan struct{})
	r.seed = maphash.MakeSeed()
}

// addedSignal returns a channel closed at the next registration.
func (r *registry) addedSignal() <-chan struct{} {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.added
}

func (r *registry) lock(filter string) *sync.Mutex {
	return &r.locks[maphash.String(r.seed, filter)%uint64(len(r.locks))]
}

// add registers h for filter, creating the entry if needed.
func (r *registry) add(c *Client, filter string, h bus.Handler) *subscription {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.byFilter[filter]
	if e == nil {
		group, f := bus.SplitShared(filter)
		e = &entry{filter: filter, match: f, shared: group != "", id: r.allocID(), gen: -1}
		r.byFilter[filter] = e
		r.byID[e.id] = e
		r.trie.add(e)
		delete(r.pending, filter)
	}
	s := &subscription{c: c, e: e, h: h}
	e.subs = append(e.subs, s)
	close(r.added)
	r.added = make(chan struct{})
	return s
}

// allocID returns an unused Subscription Identifier. r.mu must be held.
func (r *registry) allocID() int {
	for {
		r.lastID++
		if r.lastID > maxSubID {
			r.lastID = 1
		}
		if r.byID[r.lastID] == nil {
			return r.lastID
		}
	}
}

// remove drops s and reports whether its entry is gone with it.
func (r *registry) remove(s *subscription) (last bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := s.e
	for i, x := range e.subs {
		if x == s {
			e.subs = append(e.subs[:i], e.subs[i+1:]...)
			break
		}
	}
	if len(e.subs) > 0 || r.byFilter[e.filter] != e {
		return false
	}
	delete(r.byFilter, e.filter)
	delete(r.byID, e.id)
	r.trie.remove(e)
	return true
}

// live reports whether e is still registered.
func (r *registry) live(e *entry) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.byFilter[e.filter] == e
}

func (r *registry) entries() []*entry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*entry, 0, len(r.byFilter))
	for _, e := range r.byFilter {
		out = append(out, e)
	}
	return out
}

func (r *registry) clearPendingUnsubscribes() {
	r.mu.Lock()
	clear(r.pending)
	r.mu.Unlock()
}

// handlers appends to hs the handlers that get a message on topic that the
// broker delivered for Subscription Identifier subID (nil: none in the
// PUBLISH).
func (r *registry) handlers(hs []bus.Handler, topic string, subID *int) []bus.Handler {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if subID != nil {
		// The broker says which subscription this copy is for.
		if e := r.byID[*subID]; e != nil && bus.Match(e.match, topic) {
			return e.pick(hs)
		}
		// An identifier we do not know, or whose filter does not match,
		// was given by an earlier session with this client id: the
		// messages the broker queued or had in flight for a previous run
		// of this process, delivered right after the connection, under
		// the identifiers that run chose. Route them by topic like a
		// broker without identifiers, so that they are handled rather
		// than lost. (A copy for a filter this run no longer subscribes
		// may then reach an overlapping one.)
	}
	r.trie.match(topic, func(e *entry) { hs = e.pick(hs) })
	return hs
}

// pick appends the handlers of e that get a message: all of them, or one
// member in turn for a shared subscription.
func (e *entry) pick(hs []bus.Handler) []bus.Handler {
	switch {
	case len(e.subs) == 0:
		return hs
	case e.shared:
		i := (e.next.Add(1) - 1) % uint64(len(e.subs))
		return append(hs, e.subs[i].h)
	default:
		for _, s := range e.subs {
			hs = append(hs, s.h)
		}
		return hs
	}
}

// subscription is a local handler registration.
type subscription struct {
	c    *Client
	e    *entry
	h    bus.Handler
	once sync.Once
}

// Subscribe registers h for every message whose topic matches filter, and
// returns once the broker has acknowledged the subscription (SUBACK). A
// filter "$share/{group}/{filter}" is passed to the broker as a shared
// subscription. Filters already subscribed on this connection are not sent
// again. While the connection is down Subscribe waits for it, bounded by
// ctx. Errors: EINVALID for a malformed filter, bus.ErrClosed after Close,
// and the broker's refusal.
func (c *Client) Subscribe(ctx context.Context, filter string, h bus.Handler) (bus.Subscription, error) {
	if c.closed.Load() {
		return nil, fmt.Errorf("mqtt: subscribe %s: %w", filter, bus.ErrClosed)
	}
	if h == nil {
		return nil, ocppd.Errorf(ocppd.EINVALID, "mqtt: subscribe %s: nil handler", filter)
	}
	if err := validFilter(filter); err != nil {
		return nil, err
	}
	s := c.reg.add(c, filter, h)
	if err := c.ensureSubscribed(ctx, s.e); err != nil {
		_ = s.Unsubscribe(context.Background())
		if c.closed.Load() {
			return nil, fmt.Errorf("mqtt: subscribe %s: %w", filter, bus.ErrClosed)
		}
		return nil, fmt.Errorf("mqtt: subscribe %s: %w", filter, err)
	}
	return s, nil
}

// ensureSubscribed sends SUBSCRIBE for e unless the broker has acknowledged
// it in the current session already.
func (c *Client) ensureSubscribed(ctx context.Context, e *entry) error {
	ctx, cancel := c.lifetime(ctx)
	defer cancel()
	if _, err := c.connected(ctx); err != nil { // before taking the lock
		return err
	}
	lk := c.reg.lock(e.filter)
	lk.Lock()
	defer lk.Unlock()
	if e.gen == c.sessionGen.Load() || !c.reg.live(e) {
		return nil
	}
	return c.subscribe(ctx, e)
}

// subscribe sends SUBSCRIBE for e, again after a reconnection if the
// connection drops before the SUBACK. The filter's lock must be held.
func (c *Client) subscribe(ctx context.Context, e *entry) error {
	for {
		cm, err := c.connected(ctx)
		if err != nil {
			return err
		}
		gen := c.sessionGen.Load()
		sub := &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: e.filter, QoS: 1}}}
		if c.subIDs.Load() {
			id := e.id
			sub.Properties = &paho.SubscribeProperties{SubscriptionIdentifier: &id}
		}
		sa, err := cm.Subscribe(ctx, sub)
		if err == nil {
			e.gen = gen
			return nil
		}
		if sa != nil && len(sa.Reasons) > 0 && sa.Reasons[0] >= 0x80 {
			reason := ""
			if sa.Properties != nil {
				reason = sa.Properties.ReasonString
			}
			return ocppd.Errorf(ocppd.EFORBIDDEN, "broker refused subscription %s: reason code 0x%02x %s", e.filter, sa.Reasons[0], reason)
		}
		if ctx.Err() != nil || c.closed.Load() {
			return err
		}
		// The connection dropped before or after sending: SUBSCRIBE is
		// idempotent, send it again on the next connection.
		c.log.Debug("mqtt subscribe interrupted; retrying", "filter", e.filter, "err", err)
		if !sleep(ctx, 10*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// Unsubscribe ends the subscription. The handler gets no message after
// Unsubscribe returns. The last handler of a filter sends UNSUBSCRIBE; if
// that fails (connection down) it is sent after the reconnection, unless the
// session was lost anyway. It is idempotent and never fails; after Close it
// does nothing.
func (s *subscription) Unsubscribe(ctx context.Context) error {
	s.once.Do(func() {
		c := s.c
		if !c.reg.remove(s) || c.closed.Load() {
			return
		}
		lk := c.reg.lock(s.e.filter)
		lk.Lock()
		defer lk.Unlock()
		if s.e.gen < 0 || c.reg.hasFilter(s.e.filter) {
			return // never subscribed, or registered again meanwhile
		}
		if err := c.unsubscribe(ctx, s.e.filter); err != nil {
			c.log.Debug("mqtt unsubscribe deferred", "filter", s.e.filter, "err", err)
			c.reg.mu.Lock()
			c.reg.pending[s.e.filter] = struct{}{}
			c.reg.mu.Unlock()
		}
	})
	return nil
}

func (r *registry) hasFilter(filter string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.byFilter[filter] != nil
}

// unsubscribe sends UNSUBSCRIBE if connected; it does not wait for a
// connection.
func (c *Client) unsubscribe(ctx context.Context, filter string) error {
	c.mu.Lock()
	cm := c.cm
	c.mu.Unlock()
	if cm == nil {
		return nil
	}
	ctx, cancel := c.lifetime(ctx)
	defer cancel()
	_, err := cm.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{filter}})
	return err
}

// flushPendingUnsubscribes sends the UNSUBSCRIBEs that failed while the
// connection was down; the broker kept those subscriptions in the session.
func (c *Client) flushPendingUnsubscribes(ctx context.Context, cm *autopaho.ConnectionManager) {
	c.reg.mu.Lock()
	filters := make([]string, 0, len(c.reg.pending))
	for f := range c.reg.pending {
		filters = append(filters, f)
	}
	c.reg.mu.Unlock()
	for _, f := range filters {
		lk := c.reg.lock(f)
		lk.Lock()
		var err error
		if !c.reg.hasFilter(f) {
			_, err = cm.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{f}})
		}
		if err == nil {
			c.reg.mu.Lock()
			delete(c.reg.pending, f)
			c.reg.mu.Unlock()
		}
		lk.Unlock()
		if ctx.Err() != nil {
			return
		}
	}
}

// resubscribeAll subscribes every filter again after the broker reported
// no session, with a few SUBSCRIBEs in flight at a time.
func (c *Client) resubscribeAll(ctx context.Context) {
	entries := c.reg.entries()
	if len(entries) == 0 {
		return
	}
	c.log.Info("mqtt session not present; subscribing again", "filters", len(entries))
	work := make(chan *entry)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range min(resubscribeWorkers, len(entries)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range work {
				if err := c.ensureSubscribed(ctx, e); err != nil && ctx.Err() == nil {
					failed.Add(1)
					c.log.Error("mqtt resubscribe failed", "filter", e.filter, "err", err)
				}
			}
		}()
	}
	for _, e := range entries {
		select {
		case work <- e:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	if ctx.Err() == nil {
		c.log.Info("mqtt subscriptions restored", "filters", len(entries), "failed", failed.Load())
	}
}

// onPublish is paho's callback for every incoming PUBLISH, on the
// connection's delivery goroutine. It calls the matching handlers in turn
// and then acknowledges the message.
func (c *Client) onPublish(pr paho.PublishReceived) (bool, error) {
	p := pr.Packet
	m := bus.Message{Topic: p.Topic, Payload: p.Payload, Retain: p.Retain}
	var subID *int
	if p.Properties != nil {
		if c.subIDs.Load() {
			subID = p.Properties.SubscriptionIdentifier
		}
		if len(p.Properties.User) > 0 {
			m.Props = make(map[string]string, len(p.Properties.User))
			for _, u := range p.Properties.User {
				m.Props[u.Key] = u.Value
			}
		}
	}
	var buf [4]bus.Handler
	hs := c.reg.handlers(buf[:0], p.Topic, subID)
	if len(hs) == 0 && c.opts.StartupGrace > 0 {
		hs = c.awaitHandler(buf[:0], p.Topic, subID)
	}
	if len(hs) == 0 {
		c.log.Debug("mqtt message matches no subscription; dropped", "topic", p.Topic)
	}
	var h *held
	if p.QoS > 0 {
		h = &held{c: c, pr: pr}
		h.n.Store(1) // onPublish's own hold, released below
		m.Hold = h.hold
	}
	for _, hd := range hs {
		c.call(hd, m)
	}
	if h != nil {
		h.release()
	}
	return true, nil
}

// awaitHandler waits, within Options.StartupGrace of Start, for a handler
// of a message that none matches yet: a persistent session's queued and
// unacknowledged messages arrive right after the first connection, before
// the process has subscribed its handlers. Deliveries behind it wait too
// (they are handled in order on this goroutine). Close ends the wait.
func (c *Client) awaitHandler(hs []bus.Handler, topic string, subID *int) []bus.Handler {
	deadline := c.startedAt.Add(c.opts.StartupGrace)
	if !time.Now().Before(deadline) {
		return hs
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for {
		added := c.reg.addedSignal()
		if hs = c.reg.handlers(hs[:0], topic, subID); len(hs) > 0 {
			return hs
		}
		select {
		case <-added:
		case <-t.C:
			return c.reg.handlers(hs[:0], topic, subID)
		case <-c.ctx.Done():
			return hs[:0]
		}
	}
}

// held counts the holds on one QoS 1 delivery (onPublish's own while the
// handlers run, and each bus.Message.Hold) and acknowledges it when the
// last is released. Acknowledging after handling bounds, with Receive
// Maximum, what the broker sends ahead of the handlers; a handler that
// holds the message until it has stored it makes a crash before then a
// redelivery instead of a loss.
//
// paho sends PUBACKs in the order the PUBLISHes arrived (MQTT-4.6.0-2),
// holding back an acknowledged message behind an earlier one still held;
// a hold therefore delays the acknowledgements of the messages after it,
// not their delivery (up to Receive Maximum unacknowledged messages). An
// acknowledgement for a connection that is gone is dropped: its paho
// client no longer sends, and the broker delivers the message again in
// the resumed session.
type held struct {
	c  *Client
	pr paho.PublishReceived
	n  atomic.Int32
}

func (h *held) hold() (done func()) {
	if h.n.Add(1) <= 1 {
		// Held after onPublish let go: acknowledged already, or about to be.
		h.n.Add(-1)
		h.c.log.Error("bus.Message.Hold called after the handler returned; ignored", "topic", h.pr.Packet.Topic)
		return func() {}
	}
	var once sync.Once
	return func() { once.Do(h.release) }
}

func (h *held) release() {
	if h.n.Add(-1) != 0 {
		return
	}
	if err := h.pr.Client.Ack(h.pr.Packet); err != nil {
		h.c.log.Debug("mqtt ack for a closed connection ignored", "topic", h.pr.Packet.Topic, "err", err)
	}
}

// call runs one handler; a panic is logged and the delivery goes on, so
// that one bad message does not stop a gateway's whole connection.
func (c *Client) call(h bus.Handler, m bus.Message) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("bus handler panicked", "topic", m.Topic, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	h(m)
}

// validTopic checks a topic name for Publish.
func validTopic(topic string) error {
	switch {
	case topic == "":
		return ocppd.Errorf(ocppd.EINVALID, "mqtt: empty topic")
	case len(topic) > 65535:
		return ocppd.Errorf(ocppd.EINVALID, "mqtt: topic longer than 65535 bytes")
	case strings.ContainsAny(topic, "+#\x00"):
		return ocppd.Errorf(ocppd.EINVALID, "mqtt: topic %q contains a wildcard or NUL", topic)
	}
	return nil
}

// validFilter checks a topic filter (MQTT-4.7.1, 4.8.2) for Subscribe.
func validFilter(filter string) error {
	if len(filter) > 65535 || strings.ContainsRune(filter, 0) {
		return ocppd.Errorf(ocppd.EINVALID, "mqtt: invalid topic filter")
	}
	f := filter
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		group, ff, found := strings.Cut(rest, "/")
		if !found || group == "" || strings.ContainsAny(group, "+#") {
			return ocppd.Errorf(ocppd.EINVALID, "mqtt: invalid shared subscription %q: want $share/{group}/{filter}", filter)
		}
		f = ff
	}
	if f == "" {
		return ocppd.Errorf(ocppd.EINVALID, "mqtt: empty topic filter")
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.ContainsAny(l, "+#") && len(l) > 1 {
			return ocppd.Errorf(ocppd.EINVALID, "mqtt: topic filter %q: a wildcard must be a whole level", filter)
		}
		if l == "#" && i != len(levels)-1 {
			return ocppd.Errorf(ocppd.EINVALID, "mqtt: topic filter %q: '#' must be the last level", filter)
		}
	}
	return nil
}
