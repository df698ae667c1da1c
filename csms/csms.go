// Package csms is the charging station management logic behind the bus: it
// consumes the frames stations send ({cp}/in, as a shared subscription so
// that several workers split the load), decodes and validates them per OCPP
// version, stores what they report, and only then publishes the answer on
// {cp}/out. It also consumes the gateways' lifecycle events to keep each
// station's online state.
//
// The service is stateless between messages: everything that must survive
// lives in the store, so any worker can handle any message. Messages of one
// station are handled in order (they are sharded by station id onto a fixed
// set of worker goroutines); different stations proceed in parallel.
package csms

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/store"
)

// Options configures a Service. Zero values take the defaults noted.
type Options struct {
	Bus    bus.Bus
	Topics bus.Topics
	Store  store.Store
	// Group is the shared-subscription group of the CSMS workers; every
	// worker process of a cluster uses the same group. Default "csms".
	Group string
	// HeartbeatInterval is the interval returned in an accepted
	// BootNotification. Default 300 s.
	HeartbeatInterval time.Duration
	// RetryInterval is the interval returned to Pending and Rejected
	// stations: when to boot again. Default 60 s.
	RetryInterval time.Duration
	// Workers is the number of worker goroutines; a station's messages
	// always go to the same one. Default 512: each worker waits for its
	// message's group commit, so the workers bound how many writes share one
	// commit (with 64 the Heartbeat throughput was less than half).
	Workers int
	// QueueSize bounds each worker's queue; a full queue makes the bus
	// handler wait (back-pressure to the publisher). Default 32.
	QueueSize int
	// CommandTimeout is how long a station has to answer a command once
	// it is sent. Default 60 s.
	CommandTimeout time.Duration
	// QueueTimeout is how long a command for an offline station stays
	// queued before it times out. Default 24 h.
	QueueTimeout time.Duration
	// SweepInterval is how often this process times out commands past
	// their deadline. Default 1 s.
	SweepInterval time.Duration
	// PollInterval is how often Wait re-reads a command that another
	// process may finish. Default 250 ms.
	PollInterval time.Duration
	// AcceptUnknownTokens authorizes id tokens that are not in the
	// authorization list (for labs and test benches). Default: they are
	// Invalid (1.6) / Unknown (2.x).
	AcceptUnknownTokens bool
	// PolicyTTL is how long a station's registration status and lenient
	// flag, read from the store, are reused for its messages other than
	// BootNotification (which always reads them afresh). Default 2 s;
	// negative disables the cache.
	PolicyTTL time.Duration
	Logger    *slog.Logger
	Now       func() time.Time
}

// Service is the CSMS.
type Service struct {
	opts   Options
	log    *slog.Logger
	seed   maphash.Seed
	queues []chan queued
	subs   []bus.Subscription

	mu      sync.RWMutex // guards started, closed and sends on queues
	started bool
	closed  bool
	cancel  context.CancelFunc // stops the sweeper
	wg      sync.WaitGroup

	metrics   metrics
	waiters   waiters
	obsMu     sync.RWMutex
	observers map[string][]func(context.Context, Command) // by action; "" for all
	vendors   map[string]DataTransferHandler              // by vendor id (HandleDataTransfer)
	callObs   map[string][]CallObserver                   // by action; "" for all (see OnCall)
	policies  policyCache
}

// New returns a Service; Start subscribes and starts the workers.
func New(opts Options) *Service {
	if opts.Group == "" {
		opts.Group = "csms"
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = 300 * time.Second
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = 60 * time.Second
	}
	if opts.Workers <= 0 {
		opts.Workers = 512
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 32
	}
	if opts.CommandTimeout <= 0 {
		opts.CommandTimeout = 60 * time.Second
	}
	if opts.QueueTimeout <= 0 {
		opts.QueueTimeout = 24 * time.Hour
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = time.Second
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 250 * time.Millisecond
	}
	if opts.PolicyTTL == 0 {
		opts.PolicyTTL = defaultPolicyTTL
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Service{opts: opts, log: opts.Logger, seed: maphash.MakeSeed()}
	s.policies.ttl = opts.PolicyTTL
	s.OnAnswer("SendLocalList", s.trackLocalList)
	s.OnAnswer("GetLocalListVersion", s.trackLocalList)
	s.trackAuthCache()                           // authcache.go
	s.OnAnswer("ReserveNow", s.reserveNowAnswer) // reservations.go
	s.OnAnswer("CancelReservation", s.cancelReservationAnswer)
	s.OnAnswer("SetChargingProfile", s.setChargingProfileAnswer) // chargingprofiles.go
	s.OnAnswer("ClearChargingProfile", s.clearChargingProfileAnswer)
	return s
}

// Start starts the workers and the command sweeper, and subscribes to the
// stations' frames and the lifecycle events.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.started || s.closed {
		s.mu.Unlock()
		return errors.New("csms: already started or closed")
	}
	s.started = true
	s.queues = make([]chan queued, s.opts.Workers)
	for i := range s.queues {
		q := make(chan queued, s.opts.QueueSize)
		s.queues[i] = q
		s.wg.Add(1)
		go s.work(q)
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.wg.Add(1)
	go s.sweep(sctx)
	s.mu.Unlock()
	for _, filter := range []string{s.opts.Topics.AllIn(), s.opts.Topics.AllLifecycle()} {
		sub, err := s.opts.Bus.Subscribe(ctx, bus.Shared(s.opts.Group, filter), s.enqueue)
		if err != nil {
			_ = s.Close()
			return fmt.Errorf("csms: subscribe %s: %w", filter, err)
		}
		s.subs = append(s.subs, sub)
	}
	return nil
}

// Close unsubscribes, lets the workers finish what they hold and waits for
// them. It is idempotent.
func (s *Service) Close() error {
	// Unsubscribe without holding the lock: a bus handler may be waiting
	// for it on the publisher's goroutine.
	for _, sub := range s.subs {
		_ = sub.Unsubscribe(context.Background())
	}
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		for _, q := range s.queues {
			close(q)
		}
		if s.cancel != nil {
			s.cancel()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// queued is a message on a worker queue, with the release of its hold on
// the bus's acknowledgement (nil where the bus has none).
type queued struct {
	m    bus.Message
	done func()
}

// enqueue is the bus handler. It may run on the publisher's goroutine, so
// it only copies the message onto the station's worker queue. Where the
// bus acknowledges deliveries to a broker, the message is held
// unacknowledged until its worker has handled it — stored and answered —
// so that a process killed with messages in its queues gets them again
// (see bus.Message.Hold). Handlers tolerate a redelivery: transactions,
// meter samples, status history and the notification log are idempotent
// in the store.
func (s *Service) enqueue(m bus.Message) {
	cp, ok := s.opts.Topics.StationOf(m.Topic)
	if !ok {
		return
	}
	m.Payload = append([]byte(nil), m.Payload...)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return // closing: the station gets no answer and sends it again
	}
	var done func()
	if m.Hold != nil {
		done = m.Hold()
		m.Hold = nil
	}
	s.queues[maphash.String(s.seed, cp)%uint64(len(s.queues))] <- queued{m: m, done: done}
}

func (s *Service) work(q <-chan queued) {
	defer s.wg.Done()
	for j := range q {
		s.handle(j.m)
		if j.done != nil {
			j.done()
		}
	}
}

func (s *Service) handle(m bus.Message) {
	cp, _ := s.opts.Topics.StationOf(m.Topic)
	if m.Topic == s.opts.Topics.Lifecycle(cp) {
		s.lifecycle(cp, m)
		return
	}
	ctx := context.Background()
	log := s.log.With("cp", cp)
	v, err := ocpp.ParseVersion(m.Prop(bus.PropVersion))
	if err != nil {
		cpRec, gerr := s.opts.Store.GetChargePoint(ctx, cp)
		if gerr != nil || cpRec.Protocol == "" {
			log.Warn("dropping frame without a known OCPP version", "topic", m.Topic)
			return
		}
		v = ocpp.Version(cpRec.Protocol)
	}
	f, ferr := ocpp.Parse(m.Payload)
	if ferr != nil {
		// The gateway answers malformed frames itself; anything else on
		// the bus (an outside tool) gets the same answer here.
		if out := ocpp.CallErrorFrame(v, ferr); out != nil {
			s.reply(ctx, cp, v, m, out)
		}
		log.Warn("malformed frame on the bus", "err", ferr.Message)
		return
	}
	switch f.Type {
	case ocpp.Call:
		s.call(ctx, log, cp, v, m, f)
	case ocpp.CallResult, ocpp.CallError:
		// Answers to commands, whichever worker sent them.
		s.answer(ctx, cp, f)
	case ocpp.CallResultError:
		log.Debug("CALLRESULTERROR from station", "id", f.ID, "code", f.ErrorCode)
	case ocpp.Send:
		s.send(ctx, log, cp, v, f) // send.go
	}
}

// call runs the handler of a CALL and publishes its answer. The handler
// stores what it must before returning; only then is the answer sent.
func (s *Service) call(ctx context.Context, log *slog.Logger, cp string, v ocpp.Version, m bus.Message, f ocpp.Frame) {
	req := &Request{ChargePointID: cp, Version: v, Action: f.Action, MessageID: f.ID, Payload: f.Payload, Session: m.Prop(bus.PropSession), Received: s.opts.Now()}
	resp, err := s.dispatch(ctx, req)
	var out []byte
	if err != nil {
		kind, desc := errorKind(err)
		if kind == ocpp.ErrInternal {
			log.Error("handling call failed", "action", f.Action, "id", f.ID, "err", err)
		} else {
			log.Info("call refused", "action", f.Action, "id", f.ID, "err", err)
		}
		out = ocpp.AppendCallError(nil, f.ID, v.ErrorCode(kind), desc, nil)
	} else {
		out = ocpp.AppendCallResult(nil, f.ID, resp)
	}
	s.reply(ctx, cp, v, m, out)
	if err == nil {
		s.observeCall(ctx, req, resp)
	}
}

func (s *Service) reply(ctx context.Context, cp string, v ocpp.Version, in bus.Message, frame []byte) {
	err := s.opts.Bus.Publish(ctx, bus.Message{
		Topic:   s.opts.Topics.Out(cp),
		Payload: frame,
		Props:   map[string]string{bus.PropVersion: string(v), bus.PropSession: in.Prop(bus.PropSession)},
	})
	if err != nil {
		s.log.Error("publishing answer failed", "cp", cp, "err", err)
	}
}

func (s *Service) lifecycle(cp string, m bus.Message) {
	ev, err := bus.DecodeLifecycle(m.Payload)
	if err != nil || ev.ChargePointID != cp {
		s.log.Warn("malformed lifecycle event", "cp", cp, "err", err)
		return
	}
	ctx := context.Background()
	switch ev.Event {
	case bus.EventConnected:
		err = s.opts.Store.RecordConnected(ctx, store.Connection{
			ChargePointID: cp, SessionID: ev.SessionID, GatewayID: ev.GatewayID,
			Protocol: ev.Protocol, RemoteAddr: ev.RemoteAddr, At: ev.Time,
		})
		if err == nil {
			// Commands queued while the station was offline go out now
			// (unless it is Rejected: B02.FR.xx, 1.6 §4.2.1 — nothing is
			// sent to a rejected station).
			if cp, gerr := s.opts.Store.GetChargePoint(ctx, cp); gerr == nil && cp.Registration != ocppd.RegistrationRejected {
				s.flushQueued(ctx, cp.ID, ocpp.Version(ev.Protocol))
			}
		}
	case bus.EventDisconnected:
		err = s.opts.Store.RecordDisconnected(ctx, cp, ev.SessionID, ev.Time)
	}
	if err != nil && ocppd.ErrorCode(err) != ocppd.ENOTFOUND {
		s.log.Error("recording lifecycle event failed", "cp", cp, "event", ev.Event, "err", err)
	}
}
