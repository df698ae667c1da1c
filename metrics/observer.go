package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/message"
	"github.com/ocppd/ocppd/store"
)

// OnlineLister lists the stations online now; store.Store is one. The
// observer reads it once at Start so that its count of connected stations
// includes sessions that began before it started.
type OnlineLister interface {
	ListChargePoints(ctx context.Context, opts store.ListOptions) ([]ocppd.ChargePoint, error)
}

// ObserverOptions configure an Observer. Bus and Registerer are required;
// zero values of the others take the defaults noted.
type ObserverOptions struct {
	Bus        bus.Bus
	Topics     bus.Topics
	Registerer prometheus.Registerer
	// Online, if set, seeds the connected-stations gauge at Start.
	Online OnlineLister
	// QueueSize bounds the events waiting for the observer's goroutine;
	// when it is full, events are dropped and counted
	// (ocppd_observer_dropped_total). Default 8192.
	QueueSize int
	// MaxPending bounds the CALLs waiting for their answer that are
	// remembered for timing. Default 100000.
	MaxPending int
	// PendingTTL is how long an unanswered CALL is remembered. Default
	// 10 minutes.
	PendingTTL time.Duration
	Logger     *slog.Logger
}

// Observer derives message metrics from the bus traffic: it subscribes to
// every station's /in and /out topics and to the lifecycle events, parses
// only the frame header, and matches CALLs to their CALLRESULT or
// CALLERROR by station and message id (OCPP-J: the answer carries the id
// of the CALL). Because it watches the bus, it sees the whole fleet's
// traffic through this bus, whichever gateway or CSMS worker handled it.
//
// Metrics:
//
//	ocppd_messages_total{direction,type,action}   direction: in (from stations) or out
//	ocppd_callerrors_total{direction,code}
//	ocppd_roundtrip_seconds{initiator,action}     initiator: station (CSMS answer time) or csms (station answer time)
//	ocppd_calls_unanswered_total{initiator}       CALLs forgotten after PendingTTL
//	ocppd_stations_connected{version}
//	ocppd_observer_dropped_total
type Observer struct {
	opts ObserverOptions
	log  *slog.Logger

	messages   *prometheus.CounterVec
	callErrors *prometheus.CounterVec
	roundTrip  *prometheus.HistogramVec
	unanswered *prometheus.CounterVec
	connected  *prometheus.GaugeVec
	droppedC   prometheus.Counter

	queue chan event
	subs  []bus.Subscription
	quit  chan struct{}
	done  chan struct{}

	// Owned by the run goroutine.
	pending  map[pendingKey]pendingCall
	stations map[string]session

	// Read by Stats.
	in, out, errsIn, errsOut, dropped atomic.Uint64
	mu                                sync.Mutex
	byVersion                         map[string]int
	samples                           map[string]*ring // by initiator

	started   atomic.Bool
	closeOnce sync.Once
}

// event is one observed bus message, already parsed on the publisher's
// goroutine (strings only; nothing aliases the payload).
type event struct {
	at        time.Time
	cp        string
	dir       string // "in" or "out"; "" for lifecycle events and flush markers
	typ       ocpp.MessageType
	id        string
	action    string
	errorCode string
	life      *bus.LifecycleEvent
	flushed   chan struct{} // a marker: closed when reached
}

type pendingKey struct {
	cp, id, dir string // dir: the direction of the CALL
}

type pendingCall struct {
	action string
	at     time.Time
}

type session struct {
	id, version string
}

// knownActions is every action of every supported OCPP version; other
// action names (a station can send anything) are counted as "other" so
// that a misbehaving station cannot create unbounded label values.
var knownActions = func() map[string]bool {
	m := map[string]bool{}
	for _, v := range []ocpp.Version{ocpp.V16, ocpp.V201, ocpp.V21} {
		for _, a := range message.Actions(v) {
			m[a] = true
		}
	}
	return m
}()

func actionLabel(a string) string {
	switch {
	case a == "":
		return "unmatched" // an answer whose CALL the observer did not see
	case knownActions[a]:
		return a
	}
	return "other"
}

// NewObserver returns an Observer and registers its metrics; Start
// subscribes to the bus.
func NewObserver(opts ObserverOptions) (*Observer, error) {
	if opts.Registerer == nil {
		return nil, errors.New("metrics observer: no Registerer")
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 8192
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = 100_000
	}
	if opts.PendingTTL <= 0 {
		opts.PendingTTL = 10 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	o := &Observer{
		opts: opts,
		log:  opts.Logger,
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ocppd_messages_total",
			Help: "OCPP-J frames on the bus, by direction (in: from stations, out: to stations), message type and action (answers take the action of their CALL).",
		}, []string{"direction", "type", "action"}),
		callErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ocppd_callerrors_total",
			Help: "CALLERROR and CALLRESULTERROR frames on the bus, by direction and error code.",
		}, []string{"direction", "code"}),
		roundTrip: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ocppd_roundtrip_seconds",
			Help:    "Time from a CALL to its answer on the bus, by initiator (station: the CSMS answered; csms: the station answered) and action.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16), // 1 ms … 33 s
		}, []string{"initiator", "action"}),
		unanswered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ocppd_calls_unanswered_total",
			Help: "CALLs whose answer was not seen on the bus within the observer's TTL (or that did not fit its table), by initiator.",
		}, []string{"initiator"}),
		connected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ocppd_stations_connected",
			Help: "Stations connected to any gateway on this bus, by negotiated OCPP version.",
		}, []string{"version"}),
		droppedC: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ocppd_observer_dropped_total",
			Help: "Bus messages the metrics observer dropped because its queue was full.",
		}),
		queue:     make(chan event, opts.QueueSize),
		quit:      make(chan struct{}),
		done:      make(chan struct{}),
		pending:   map[pendingKey]pendingCall{},
		stations:  map[string]session{},
		byVersion: map[string]int{},
		samples:   map[string]*ring{"station": newRing(1024), "csms": newRing(1024)},
	}
	for _, c := range []prometheus.Collector{o.messages, o.callErrors, o.roundTrip, o.unanswered, o.connected, o.droppedC} {
		if err := opts.Registerer.Register(c); err != nil {
			return nil, fmt.Errorf("metrics observer: %w", err)
		}
	}
	if err := opts.Registerer.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "ocppd_queue_depth",
		Help:        "Items waiting in an internal queue, by queue.",
		ConstLabels: prometheus.Labels{"queue": "metrics_observer"},
	}, func() float64 { return float64(len(o.queue)) })); err != nil {
		return nil, fmt.Errorf("metrics observer: %w", err)
	}
	return o, nil
}

// Start seeds the connected stations from Online (if set), subscribes to
// the bus and starts the observer's goroutine. On error, call Close.
func (o *Observer) Start(ctx context.Context) error {
	if o.opts.Online != nil {
		online := true
		cps, err := o.opts.Online.ListChargePoints(ctx, store.ListOptions{Online: &online})
		if err != nil {
			return fmt.Errorf("metrics observer: list online stations: %w", err)
		}
		for _, cp := range cps {
			o.connect(cp.ID, cp.SessionID, cp.Protocol)
		}
	}
	o.started.Store(true)
	go o.run()
	t := o.opts.Topics
	for _, s := range []struct {
		filter string
		h      bus.Handler
	}{
		{t.AllIn(), o.frameHandler("in")},
		{t.AllOut(), o.frameHandler("out")},
		{t.AllLifecycle(), o.lifecycleHandler},
	} {
		sub, err := o.opts.Bus.Subscribe(ctx, s.filter, s.h)
		if err != nil {
			return fmt.Errorf("metrics observer: subscribe %s: %w", s.filter, err)
		}
		o.subs = append(o.subs, sub)
	}
	return nil
}

// Close unsubscribes and stops the goroutine. It is idempotent.
func (o *Observer) Close() error {
	var errs []error
	o.closeOnce.Do(func() {
		for _, s := range o.subs {
			errs = append(errs, s.Unsubscribe(context.Background()))
		}
		close(o.quit)
		if o.started.Load() {
			<-o.done
		}
	})
	return errors.Join(errs...)
}

func (o *Observer) enqueue(ev event) {
	select {
	case o.queue <- ev:
	default:
		o.dropped.Add(1)
		o.droppedC.Inc()
	}
}

// frameHandler parses the header of a frame on {cp}/in or {cp}/out on the
// publisher's goroutine and queues what the metrics need.
func (o *Observer) frameHandler(dir string) bus.Handler {
	return func(m bus.Message) {
		cp, ok := o.opts.Topics.StationOf(m.Topic)
		if !ok {
			return
		}
		f, ferr := ocpp.Parse(m.Payload)
		if ferr != nil {
			return // the gateway answers malformed frames; nothing to time
		}
		o.enqueue(event{at: time.Now(), cp: cp, dir: dir, typ: f.Type, id: f.ID, action: f.Action, errorCode: f.ErrorCode})
	}
}

func (o *Observer) lifecycleHandler(m bus.Message) {
	ev, err := bus.DecodeLifecycle(m.Payload)
	if err != nil || ev.ChargePointID == "" {
		return
	}
	o.enqueue(event{at: time.Now(), cp: ev.ChargePointID, life: &ev})
}

// flush waits until every event queued before it is processed (tests).
func (o *Observer) flush() {
	ch := make(chan struct{})
	o.queue <- event{flushed: ch}
	<-ch
}

func (o *Observer) run() {
	defer close(o.done)
	sweep := time.NewTicker(time.Minute)
	defer sweep.Stop()
	for {
		select {
		case ev := <-o.queue:
			o.process(ev)
		case now := <-sweep.C:
			o.sweep(now)
		case <-o.quit:
			return
		}
	}
}

func initiator(callDir string) string {
	if callDir == "in" {
		return "station"
	}
	return "csms"
}

func opposite(dir string) string {
	if dir == "in" {
		return "out"
	}
	return "in"
}

func (o *Observer) process(ev event) {
	switch {
	case ev.flushed != nil:
		close(ev.flushed)
		return
	case ev.life != nil:
		switch ev.life.Event {
		case bus.EventConnected:
			o.connect(ev.cp, ev.life.SessionID, ev.life.Protocol)
		case bus.EventDisconnected:
			o.disconnect(ev.cp, ev.life.SessionID)
		}
		return
	}
	if ev.dir == "in" {
		o.in.Add(1)
	} else {
		o.out.Add(1)
	}
	action := ev.action
	switch ev.typ {
	case ocpp.Call:
		k := pendingKey{ev.cp, ev.id, ev.dir}
		if len(o.pending) < o.opts.MaxPending {
			o.pending[k] = pendingCall{action: ev.action, at: ev.at}
		} else {
			o.unanswered.WithLabelValues(initiator(ev.dir)).Inc()
		}
	case ocpp.CallResult, ocpp.CallError, ocpp.CallResultError:
		k := pendingKey{ev.cp, ev.id, opposite(ev.dir)}
		if p, ok := o.pending[k]; ok {
			delete(o.pending, k)
			action = p.action
			d := ev.at.Sub(p.at)
			who := initiator(k.dir)
			o.roundTrip.WithLabelValues(who, actionLabel(action)).Observe(d.Seconds())
			o.mu.Lock()
			o.samples[who].add(d)
			o.mu.Unlock()
		}
		if ev.typ != ocpp.CallResult {
			o.callErrors.WithLabelValues(ev.dir, ev.errorCode).Inc()
			if ev.dir == "in" {
				o.errsIn.Add(1)
			} else {
				o.errsOut.Add(1)
			}
		}
	}
	o.messages.WithLabelValues(ev.dir, typeLabel(ev.typ), actionLabel(action)).Inc()
}

// typeLabel names an OCPP-J message type for labels.
func typeLabel(t ocpp.MessageType) string {
	switch t {
	case ocpp.Call:
		return "CALL"
	case ocpp.CallResult:
		return "CALLRESULT"
	case ocpp.CallError:
		return "CALLERROR"
	case ocpp.CallResultError:
		return "CALLRESULTERROR"
	case ocpp.Send:
		return "SEND"
	}
	return "other"
}

// sweep forgets CALLs older than PendingTTL.
func (o *Observer) sweep(now time.Time) {
	for k, p := range o.pending {
		if now.Sub(p.at) > o.opts.PendingTTL {
			delete(o.pending, k)
			o.unanswered.WithLabelValues(initiator(k.dir)).Inc()
		}
	}
}

func (o *Observer) connect(cp, sessionID, version string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if old, ok := o.stations[cp]; ok {
		o.byVersion[old.version]--
		o.connected.WithLabelValues(old.version).Dec()
	}
	o.stations[cp] = session{id: sessionID, version: version}
	o.byVersion[version]++
	o.connected.WithLabelValues(version).Inc()
}

// disconnect forgets cp's session if sessionID is still its current one: a
// station that reconnected (perhaps to another gateway) has a newer
// session, whose late disconnect of the old one must not count.
func (o *Observer) disconnect(cp, sessionID string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	old, ok := o.stations[cp]
	if !ok || old.id != sessionID {
		return
	}
	delete(o.stations, cp)
	o.byVersion[old.version]--
	o.connected.WithLabelValues(old.version).Dec()
}

// ObserverStats is a snapshot of what the observer has counted since
// Start.
type ObserverStats struct {
	// MessagesIn and MessagesOut count frames from and to stations.
	MessagesIn  uint64 `json:"messagesIn"`
	MessagesOut uint64 `json:"messagesOut"`
	// CallErrorsIn and CallErrorsOut count CALLERRORs (and
	// CALLRESULTERRORs) from and to stations.
	CallErrorsIn  uint64 `json:"callErrorsIn"`
	CallErrorsOut uint64 `json:"callErrorsOut"`
	// Dropped counts bus messages not observed because the queue was full.
	Dropped uint64 `json:"dropped"`
	// Connected counts connected stations by OCPP version.
	Connected map[string]int `json:"connected"`
	// RoundTrip has quantiles of the latest round trips, by initiator
	// ("station": the CSMS answered; "csms": the station answered).
	RoundTrip map[string]Quantiles `json:"roundTrip"`
}

// Quantiles summarise the latest round trips, in seconds.
type Quantiles struct {
	Samples int     `json:"samples"`
	P50     float64 `json:"p50"`
	P95     float64 `json:"p95"`
	P99     float64 `json:"p99"`
}

// Stats returns a snapshot of the observer's figures.
func (o *Observer) Stats() ObserverStats {
	s := ObserverStats{
		MessagesIn: o.in.Load(), MessagesOut: o.out.Load(),
		CallErrorsIn: o.errsIn.Load(), CallErrorsOut: o.errsOut.Load(),
		Dropped:   o.dropped.Load(),
		Connected: map[string]int{},
		RoundTrip: map[string]Quantiles{},
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for v, n := range o.byVersion {
		if n > 0 {
			s.Connected[v] = n
		}
	}
	for who, r := range o.samples {
		s.RoundTrip[who] = r.quantiles()
	}
	return s
}

// ring keeps the latest durations for quantiles.
type ring struct {
	buf  []time.Duration
	next int
	full bool
}

func newRing(n int) *ring { return &ring{buf: make([]time.Duration, n)} }

func (r *ring) add(d time.Duration) {
	r.buf[r.next] = d
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
}

func (r *ring) quantiles() Quantiles {
	n := r.next
	if r.full {
		n = len(r.buf)
	}
	if n == 0 {
		return Quantiles{}
	}
	s := slices.Clone(r.buf[:n])
	slices.Sort(s)
	q := func(p float64) float64 { return s[min(n-1, int(p*float64(n)))].Seconds() }
	return Quantiles{Samples: n, P50: q(0.50), P95: q(0.95), P99: q(0.99)}
}
