package api

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/ocpp"
)

// Event is one item of the event stream and of a station's message log:
// an OCPP-J frame seen on the bus (Kind "message") or a gateway lifecycle
// event (Kind "lifecycle").
type Event struct {
	// Seq numbers the events of this process in the order it saw them; it
	// is the SSE event id.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"` // when this process saw it
	Kind string    `json:"kind"` // "message" or "lifecycle"
	// ChargePointID is the station the event is about.
	ChargePointID string `json:"cp"`

	// Messages: Direction "in" (from the station) or "out" (to it), the
	// frame's type, id and action — for CALLRESULT and CALLERROR the
	// action of the CALL they answer, when this process saw it — and the
	// frame itself.
	Direction string          `json:"direction,omitempty"`
	Type      string          `json:"type,omitempty"`
	MessageID string          `json:"messageId,omitempty"`
	Action    string          `json:"action,omitempty"`
	ErrorCode string          `json:"errorCode,omitempty"`
	Frame     json.RawMessage `json:"frame,omitempty"`

	// Lifecycle events: the gateway's event.
	Lifecycle *bus.LifecycleEvent `json:"lifecycle,omitempty"`
}

// raw is a bus message queued for the hub's goroutine.
type raw struct {
	at      time.Time
	dir     string // "in", "out" or "lifecycle"
	topic   string
	payload []byte // copied
	flushed chan struct{}
}

type pendingCallKey struct{ cp, id, dir string }

// hub subscribes to the bus once and feeds the event stream's clients and
// the message log from one goroutine.
type hub struct {
	opts Options
	m    *apiMetrics

	queue chan raw
	subs  []bus.Subscription
	quit  chan struct{}
	done  chan struct{}

	started atomic.Bool
	closed  atomic.Bool
	seq     uint64                    // owned by run
	calls   map[pendingCallKey]string // CALL → action, owned by run

	mu      sync.Mutex
	clients map[*client]struct{}
	log     *messageLog

	slow atomic.Uint64
}

// maxPendingCalls bounds the CALL→action table used to label answers.
const maxPendingCalls = 100_000

func newHub(opts Options, m *apiMetrics) *hub {
	return &hub{
		opts:    opts,
		m:       m,
		queue:   make(chan raw, 4096),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		calls:   map[pendingCallKey]string{},
		clients: map[*client]struct{}{},
		log:     newMessageLog(opts.MessageLog, opts.MessageLogBytes),
	}
}

func (h *hub) start(ctx context.Context) error {
	h.started.Store(true)
	go h.run()
	t := h.opts.Topics
	for _, s := range []struct{ filter, dir string }{
		{t.AllIn(), "in"}, {t.AllOut(), "out"}, {t.AllLifecycle(), "lifecycle"},
	} {
		sub, err := h.opts.Bus.Subscribe(ctx, s.filter, h.handler(s.dir))
		if err != nil {
			return fmt.Errorf("api: subscribe %s: %w", s.filter, err)
		}
		h.subs = append(h.subs, sub)
	}
	return nil
}

func (h *hub) close() error {
	h.closed.Store(true)
	var errs []error
	for _, s := range h.subs {
		errs = append(errs, s.Unsubscribe(context.Background()))
	}
	close(h.quit)
	if h.started.Load() {
		<-h.done
	}
	h.mu.Lock()
	for c := range h.clients {
		delete(h.clients, c)
		close(c.gone)
	}
	h.mu.Unlock()
	return errors.Join(errs...)
}

// handler queues a copy of each message; it runs on the publisher's
// goroutine, so it never blocks: when the queue is full the message is
// dropped and counted.
func (h *hub) handler(dir string) bus.Handler {
	return func(m bus.Message) {
		r := raw{at: h.opts.Now(), dir: dir, topic: m.Topic, payload: append([]byte(nil), m.Payload...)}
		select {
		case h.queue <- r:
		default:
			h.m.eventsDropped.Inc()
		}
	}
}

// flush waits until everything queued before it is processed (tests).
func (h *hub) flush() {
	ch := make(chan struct{})
	h.queue <- raw{flushed: ch}
	<-ch
}

func (h *hub) run() {
	defer close(h.done)
	for {
		select {
		case r := <-h.queue:
			if r.flushed != nil {
				close(r.flushed)
				continue
			}
			if ev, ok := h.event(r); ok {
				h.dispatch(ev)
			}
		case <-h.quit:
			return
		}
	}
}

// event turns a bus message into an Event.
func (h *hub) event(r raw) (Event, bool) {
	cp, ok := h.opts.Topics.StationOf(r.topic)
	if !ok {
		return Event{}, false
	}
	h.seq++
	ev := Event{Seq: h.seq, Time: r.at.UTC(), ChargePointID: cp}
	if r.dir == "lifecycle" {
		le, err := bus.DecodeLifecycle(r.payload)
		if err != nil {
			return Event{}, false
		}
		ev.Kind, ev.Lifecycle, ev.Action = "lifecycle", &le, le.Event
		return ev, true
	}
	ev.Kind, ev.Direction = "message", r.dir
	if json.Valid(r.payload) {
		ev.Frame = r.payload
	} else {
		ev.Frame, _ = json.Marshal(string(r.payload))
	}
	f, ferr := ocpp.Parse(r.payload)
	if ferr != nil {
		ev.Type = "invalid"
		return ev, true
	}
	ev.Type, ev.MessageID, ev.Action, ev.ErrorCode = f.Type.String(), f.ID, f.Action, f.ErrorCode
	switch f.Type {
	case ocpp.Call:
		if len(h.calls) < maxPendingCalls {
			h.calls[pendingCallKey{cp, f.ID, r.dir}] = f.Action
		}
	case ocpp.CallResult, ocpp.CallError, ocpp.CallResultError:
		other := "in"
		if r.dir == "in" {
			other = "out"
		}
		k := pendingCallKey{cp, f.ID, other}
		if a, ok := h.calls[k]; ok {
			ev.Action = a
			delete(h.calls, k)
		}
	}
	return ev, true
}

// dispatch logs ev and sends it to the clients whose filter matches. A
// client whose buffer is full is dropped.
func (h *hub) dispatch(ev Event) {
	data, err := json.Marshal(ev)
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if ev.Kind == "message" {
		h.log.add(ev)
	}
	for c := range h.clients {
		if !c.filter.match(ev) {
			continue
		}
		select {
		case c.ch <- sse{id: ev.Seq, kind: ev.Kind, data: data}:
		default:
			delete(h.clients, c)
			close(c.gone)
			h.slow.Add(1)
			h.m.slowClients.Inc()
			h.m.clients.Dec()
		}
	}
}

// sse is one encoded event for a client.
type sse struct {
	id   uint64
	kind string
	data []byte
}

// client is one event-stream connection.
type client struct {
	filter filter
	ch     chan sse
	gone   chan struct{} // closed when the hub dropped the client
}

// filter selects events by station and action; empty sets match all.
// Lifecycle events have the action "connected" or "disconnected".
type filter struct {
	cps, actions map[string]bool
}

func (f filter) match(ev Event) bool {
	return (len(f.cps) == 0 || f.cps[ev.ChargePointID]) && (len(f.actions) == 0 || f.actions[ev.Action])
}

func (h *hub) add(f filter) (*client, error) {
	c := &client{filter: f, ch: make(chan sse, h.opts.EventBuffer), gone: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed.Load() {
		return nil, ocppd.Errorf(ocppd.EUNAVAILABLE, "the server is shutting down")
	}
	h.clients[c] = struct{}{}
	h.m.clients.Inc()
	return c, nil
}

func (h *hub) remove(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		h.m.clients.Dec()
	}
}

func (h *hub) clientCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// events streams events as server-sent events until the client goes, the
// server closes, the client falls behind, or its token is revoked.
func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Bus == nil || !s.hub.started.Load() {
		return ocppd.Errorf(ocppd.EUNAVAILABLE, "the event stream is not running")
	}
	q := r.URL.Query()
	f := filter{}
	for _, cp := range q["cp"] {
		if err := ocpp.ValidateIdentity(cp); err != nil {
			return invalid("cp", "%v", err)
		}
		if f.cps == nil {
			f.cps = map[string]bool{}
		}
		f.cps[cp] = true
	}
	for _, a := range q["action"] {
		if a == "" {
			return invalid("action", "empty action")
		}
		if f.actions == nil {
			f.actions = map[string]bool{}
		}
		f.actions[a] = true
	}
	c, err := s.hub.add(f)
	if err != nil {
		return err
	}
	defer s.hub.remove(c)

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	// The first comment tells the client that the subscription is in
	// place: every event from now on reaches it.
	if _, err := fmt.Fprint(w, ": ocppd event stream\nretry: 3000\n\n"); err != nil {
		return nil
	}
	if err := rc.Flush(); err != nil {
		return nil
	}
	tick := time.NewTicker(s.opts.EventHeartbeat)
	defer tick.Stop()
	tok, _ := TokenFrom(r.Context())
	for {
		select {
		case e := <-c.ch:
			if _, err := fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", strconv.FormatUint(e.id, 10), e.kind, e.data); err != nil {
				return nil
			}
			// Write what else is queued before flushing.
			for n := len(c.ch); n > 0; n-- {
				e := <-c.ch
				if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.id, e.kind, e.data); err != nil {
					return nil
				}
			}
			if err := rc.Flush(); err != nil {
				return nil
			}
		case <-tick.C:
			if tok.ID != "" {
				if t, err := s.opts.Store.TokenByHash(r.Context(), tok.Hash); err == nil && !t.Active() ||
					ocppd.ErrorCode(err) == ocppd.ENOTFOUND {
					fmt.Fprint(w, "event: error\ndata: {\"error\":{\"code\":\"unauthorized\",\"message\":\"token revoked\"}}\n\n")
					_ = rc.Flush()
					return nil
				}
			}
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
				return nil
			}
			if err := rc.Flush(); err != nil {
				return nil
			}
		case <-c.gone:
			// Dropped for falling behind, or the server is closing.
			fmt.Fprint(w, "event: error\ndata: {\"error\":{\"code\":\"unavailable\",\"message\":\"stream closed: the client fell behind or the server is shutting down\"}}\n\n")
			_ = rc.Flush()
			return nil
		case <-r.Context().Done():
			return nil
		}
	}
}

// messageLog keeps the latest frames of each station in memory: at most
// perStation frames per station and about maxBytes in all; past that the
// station written to least recently is forgotten.
type messageLog struct {
	perStation, maxBytes int
	bytes                int
	byCP                 map[string]*list.Element // of *stationLog
	lru                  *list.List               // front: written most recently
}

type stationLog struct {
	cp     string
	events []Event // ring
	next   int
	n      int
	bytes  int
}

// eventOverhead approximates an Event's memory beyond its frame.
const eventOverhead = 200

func newMessageLog(perStation, maxBytes int) *messageLog {
	return &messageLog{perStation: perStation, maxBytes: maxBytes, byCP: map[string]*list.Element{}, lru: list.New()}
}

func eventSize(ev Event) int {
	return len(ev.Frame) + len(ev.ChargePointID) + len(ev.MessageID) + eventOverhead
}

func (l *messageLog) add(ev Event) {
	if l.perStation <= 0 {
		return
	}
	e, ok := l.byCP[ev.ChargePointID]
	if !ok {
		e = l.lru.PushFront(&stationLog{cp: ev.ChargePointID, events: make([]Event, 0, min(l.perStation, 8))})
		l.byCP[ev.ChargePointID] = e
	} else {
		l.lru.MoveToFront(e)
	}
	sl := e.Value.(*stationLog)
	size := eventSize(ev)
	if len(sl.events) < l.perStation {
		sl.events = append(sl.events, ev)
	} else {
		old := sl.events[sl.next]
		sl.bytes -= eventSize(old)
		l.bytes -= eventSize(old)
		sl.events[sl.next] = ev
	}
	sl.next = (sl.next + 1) % l.perStation
	sl.bytes += size
	l.bytes += size
	for l.bytes > l.maxBytes && l.lru.Len() > 1 {
		last := l.lru.Back()
		victim := last.Value.(*stationLog)
		l.lru.Remove(last)
		delete(l.byCP, victim.cp)
		l.bytes -= victim.bytes
	}
}

// recent returns up to limit of the station's latest frames, oldest first.
func (l *messageLog) recent(cp string, limit int) []Event {
	e, ok := l.byCP[cp]
	if !ok {
		return []Event{}
	}
	sl := e.Value.(*stationLog)
	n := len(sl.events)
	out := make([]Event, 0, min(n, limit))
	start := 0
	if n == l.perStation {
		start = sl.next // the oldest
	}
	for i := max(0, n-limit); i < n; i++ {
		out = append(out, sl.events[(start+i)%n])
	}
	return out
}

// stations returns how many stations the log holds and its size.
func (l *messageLog) size() (stations, bytes int) { return len(l.byCP), l.bytes }

// getMessages answers the station's recent frames from this process's
// message log, oldest first.
func (s *Server) getMessages(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryInt(r, "limit", max(s.opts.MessageLog, 1), 1, max(s.opts.MessageLog, 1))
	if err != nil {
		return err
	}
	id, err := s.stationExists(r)
	if err != nil {
		return err
	}
	s.hub.mu.Lock()
	evs := s.hub.log.recent(id, limit)
	s.hub.mu.Unlock()
	writeJSON(w, http.StatusOK, List[Event]{Items: evs})
	return nil
}
