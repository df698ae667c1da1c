package gateway

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"

	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/ocpp"
)

// session is one station connection. Its read path runs on the ServeHTTP
// goroutine (gws ReadLoop, ordered: no parallel message handling); its
// writes go through the connection's write queue (gws Async, concurrency
// 1), bounded by WriteQueueSize here; bus deliveries (onOut) and timer
// callbacks only enqueue writes and never block.
type session struct {
	g       *Gateway
	conn    *gws.Conn
	cp      string
	id      string
	version ocpp.Version
	remote  string
	log     *slog.Logger
	inTopic string
	props   map[string]string // user properties of /in messages; read-only once built
	started time.Time

	ctx    context.Context // canceled when the session starts closing
	cancel context.CancelFunc

	// Set and read on the ServeHTTP goroutine only.
	sub       bus.Subscription
	announced atomic.Bool    // the connected event was published
	closeErr  error          // what gws reported in OnClose
	invalid   invalidCounter // malformed frames received (read path)

	closed   atomic.Bool  // mirrors closing, for the read path
	lastRecv atomic.Int64 // keepalive clock (ns) of the last frame received

	mu        sync.Mutex
	closing   bool
	endReason string
	endCode   int
	pending   int            // writes queued and not yet done
	wg        sync.WaitGroup // queued writes and close goroutines

	// CSMS→station calls (OCPP-J synchronicity: one outstanding CALL).
	callID       string
	callDeadline time.Duration // keepalive clock
	callTimer    *time.Timer
	queue        []queuedCall

	// Keepalive, on the gateway's monotonic clock; unanswered is the time
	// of the oldest ping not followed by any frame, or -1.
	pingTimer  *time.Timer
	nextPing   time.Duration
	lastPing   time.Duration
	unanswered time.Duration
}

type queuedCall struct {
	id    string
	frame []byte
}

func newSession(g *Gateway, conn *gws.Conn, cp string, v ocpp.Version, remote string, log *slog.Logger) *session {
	id := newSessionID()
	s := &session{
		g:       g,
		conn:    conn,
		cp:      cp,
		id:      id,
		version: v,
		remote:  remote,
		log:     log.With("session", id),
		inTopic: g.opts.Topics.In(cp),
		props: map[string]string{
			bus.PropVersion: string(v),
			bus.PropSession: id,
			bus.PropGateway: g.opts.GatewayID,
		},
		started:    g.opts.Now(),
		unanswered: -1,
	}
	s.ctx, s.cancel = context.WithCancel(g.ctx)
	return s
}

// mono returns the gateway's monotonic clock.
func (g *Gateway) mono() time.Duration { return time.Since(g.epoch) }

// start registers the session (replacing an older one of the station),
// subscribes to its /out topic, announces it and starts the keepalive. On
// failure it starts closing the session; the caller runs the read loop
// and end in either case.
func (s *session) start() {
	g := s.g
	old, ok := g.register(s)
	if !ok {
		g.stats.refuse(RefusedShutdown)
		s.close(CloseGoingAway, closeTextShutdown, ReasonShutdown)
		return
	}
	if old != nil {
		// The newest connection wins (seed behaviour); the old one is
		// closed normally.
		g.stats.replaced.Add(1)
		old.log.Info("replaced by a new connection", "newSession", s.id)
		old.close(CloseNormal, closeTextReplaced, ReasonReplaced)
	}
	sub, err := g.opts.Bus.Subscribe(s.ctx, g.opts.Topics.Out(s.cp), s.onOut)
	if err != nil {
		g.stats.refuse(RefusedAdmissionError)
		s.log.Error("subscribe to outgoing frames", "err", err)
		s.close(CloseInternalError, closeTextInternal, ReasonInternal)
		return
	}
	s.sub = sub
	g.stats.accepted.Add(1)
	s.lastRecv.Store(int64(g.mono()))
	s.mu.Lock()
	if !s.closing && g.opts.PingInterval > 0 {
		s.nextPing = g.mono() + g.opts.PingInterval
		s.pingTimer = time.AfterFunc(g.opts.PingInterval, s.onKeepalive)
	}
	s.mu.Unlock()
	s.announced.Store(true)
	g.publishLifecycle(bus.LifecycleEvent{
		Event:         bus.EventConnected,
		ChargePointID: s.cp,
		GatewayID:     g.opts.GatewayID,
		SessionID:     s.id,
		Protocol:      string(s.version),
		RemoteAddr:    s.remote,
		Time:          s.started,
	}, s.log)
	s.log.Info("connected", "protocol", s.version, "remote", s.remote)
}

// end runs after the read loop has returned: it stops the timers, ends the
// /out subscription, waits for queued writes, unregisters the session and
// publishes the disconnected event.
func (s *session) end() {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		s.closed.Store(true)
		s.endReason, s.endCode = classifyClose(s.closeErr)
	}
	reason, code := s.endReason, s.endCode
	queued := len(s.queue)
	s.queue = nil
	if s.pingTimer != nil {
		s.pingTimer.Stop()
	}
	if s.callTimer != nil {
		s.callTimer.Stop()
	}
	s.mu.Unlock()
	s.cancel()
	if s.sub != nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.g.opts.HandshakeTimeout)
		if err := s.sub.Unsubscribe(ctx); err != nil {
			s.log.Warn("unsubscribe outgoing frames", "err", err)
		}
		cancel()
	}
	s.wg.Wait()
	s.g.unregister(s)
	if !s.announced.Load() {
		return
	}
	s.g.publishLifecycle(bus.LifecycleEvent{
		Event:         bus.EventDisconnected,
		ChargePointID: s.cp,
		GatewayID:     s.g.opts.GatewayID,
		SessionID:     s.id,
		Protocol:      string(s.version),
		RemoteAddr:    s.remote,
		Reason:        reason,
		CloseCode:     code,
		Time:          s.g.opts.Now(),
	}, s.log)
	attrs := []any{"reason", reason, "closeCode", code}
	if queued > 0 {
		attrs = append(attrs, "droppedCalls", queued)
	}
	s.log.Info("disconnected", attrs...)
}

// classifyClose turns what gws reported at the end of the read loop into
// a lifecycle reason and close code, for sessions the gateway did not
// close itself.
func classifyClose(err error) (string, int) {
	var ce *gws.CloseError
	if errors.As(err, &ce) {
		return ReasonClosedByStation, int(ce.Code)
	}
	if errors.Is(err, gws.ErrTextEncoding) {
		return ReasonInvalidUTF8, CloseInvalidPayload
	}
	var sc interface{ Uint16() uint16 } // gws's internal StatusCode
	if errors.As(err, &sc) {
		if sc.Uint16() == CloseMessageTooBig {
			return ReasonFrameTooLarge, CloseMessageTooBig
		}
		return ReasonProtocolError, int(sc.Uint16())
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "write" || errors.Is(err, os.ErrDeadlineExceeded) {
		return ReasonWriteFailed, CloseGoingAway
	}
	return ReasonConnectionLost, 0
}

// close starts closing the session with a close frame (code, text) and
// records reason for the disconnected event. It never blocks: the close
// frame is written by a goroutine of the session, within closeGrace. It
// reports whether this call started the close.
func (s *session) close(code uint16, text, reason string) bool {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return false
	}
	s.closing = true
	s.closed.Store(true)
	s.endReason, s.endCode = reason, int(code)
	s.wg.Add(1)
	s.mu.Unlock()
	s.cancel()
	go func() {
		defer s.wg.Done()
		closeNow(s.conn, code, text)
	}()
	return true
}

// tooSlow disconnects a peer whose write queue is full.
func (s *session) tooSlow() {
	if s.close(ClosePolicyViolation, closeTextSlow, ReasonSlowPeer) {
		s.g.stats.slowPeers.Add(1)
		s.log.Warn("write queue full; disconnecting slow peer", "queue", s.g.opts.WriteQueueSize)
	}
}

// enqueueLocked hands p to the connection's write queue. It returns false
// when the queue is full (the caller must call tooSlow after unlocking);
// frames for a closing session are dropped. s.mu must be held; p must not
// change afterwards.
func (s *session) enqueueLocked(op gws.Opcode, p []byte) bool {
	if s.closing {
		return true
	}
	if s.pending >= s.g.opts.WriteQueueSize {
		return false
	}
	s.pending++
	s.wg.Add(1)
	s.conn.Async(func() { s.write(op, p) })
	return true
}

// send enqueues one frame.
func (s *session) send(op gws.Opcode, p []byte) {
	s.mu.Lock()
	ok := s.enqueueLocked(op, p)
	s.mu.Unlock()
	if !ok {
		s.tooSlow()
	}
}

// write runs on the connection's writer (gws Async, one at a time).
func (s *session) write(op gws.Opcode, p []byte) {
	defer s.wg.Done()
	if !s.closed.Load() {
		_ = s.conn.NetConn().SetWriteDeadline(time.Now().Add(s.g.opts.WriteTimeout))
	}
	// A failed write closes the connection (gws), which ends the read loop.
	err := s.conn.WriteMessage(op, p)
	s.mu.Lock()
	s.pending--
	s.mu.Unlock()
	if err == nil && op == gws.OpcodeText {
		s.g.stats.framesOut.Add(1)
	}
}

// touch records that the peer sent something.
func (s *session) touch() { s.lastRecv.Store(int64(s.g.mono())) }

// handleFrame processes one text frame from the station.
// closingPublishTimeout bounds publishing an answer that arrives on a
// session already closing (its own context is cancelled by then).
const closingPublishTimeout = 5 * time.Second

func (s *session) handleFrame(data []byte) {
	g := s.g
	g.stats.framesIn.Add(1)
	closing := s.closed.Load()
	f, fe := ocpp.Parse(data)
	if closing {
		// Frames the station sent before this session was closed (for
		// example replaced by its own reconnection right after answering
		// a Reset) are still read here. An answer is a fact the CSMS
		// must record, so it is published; a CALL is dropped unanswered,
		// and the station sends it again on its new connection.
		if fe != nil || (f.Type != ocpp.CallResult && f.Type != ocpp.CallError && f.Type != ocpp.CallResultError) {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), closingPublishTimeout)
		defer cancel()
		if err := g.opts.Bus.Publish(ctx, bus.Message{Topic: s.inTopic, Payload: data, Props: s.props, ClientID: g.opts.GatewayID}); err != nil {
			g.stats.publishErrors.Add(1)
			s.log.Warn("publish answer from a closing session", "err", err, "messageId", f.ID)
		}
		return
	}
	if fe == nil && !s.version.Supports(f.Type) {
		// CALLRESULTERROR and SEND exist from OCPP 2.1 on (2.1 Part 4
		// §4.2.4); earlier versions answer MessageTypeNotSupported.
		fe = &ocpp.FrameError{
			Kind:    ocpp.ErrMessageTypeNotSupported,
			ID:      f.ID,
			Type:    f.Type,
			Message: "message type " + f.Type.String() + " is not defined in " + string(s.version),
		}
	}
	if fe != nil {
		g.stats.framesInvalid.Add(1)
		s.log.Info("malformed frame", "err", fe.Message, "messageId", fe.ID)
		// OCPP 2.0.1 Part 4 §4.2.3 / 1.6J §4.2.3: answer with a CALLERROR
		// of the version's code (id "-1" when unreadable); never answer a
		// malformed CALLERROR, and never publish a malformed frame.
		if resp := ocpp.CallErrorFrame(s.version, fe); resp != nil {
			g.stats.callError(s.version.ErrorCode(fe.Kind))
			s.send(gws.OpcodeText, resp)
		}
		lim := g.limit.l
		if s.invalid.add(g.mono(), lim.InvalidFrameWindow, lim.MaxInvalidFrames) &&
			s.close(ClosePolicyViolation, closeTextTooManyInvalid, ReasonTooManyInvalid) {
			g.stats.abusive.Add(1)
			s.log.Warn("too many malformed frames; disconnecting", "max", lim.MaxInvalidFrames, "window", lim.InvalidFrameWindow)
		}
		return
	}
	err := g.opts.Bus.Publish(s.ctx, bus.Message{
		Topic:    s.inTopic,
		Payload:  data,
		Props:    s.props,
		ClientID: g.opts.GatewayID,
	})
	if err != nil {
		g.stats.publishErrors.Add(1)
		s.log.Warn("publish frame", "err", err, "type", f.Type.String(), "messageId", f.ID)
		if f.Type == ocpp.Call {
			// Nothing is acknowledged that was not handed to the bus.
			code := s.version.ErrorCode(ocpp.ErrInternal)
			g.stats.callError(code)
			s.send(gws.OpcodeText, ocpp.AppendCallError(nil, f.ID, code, "not accepted, retry later", nil))
		}
	}
	if f.Type == ocpp.CallResult || f.Type == ocpp.CallError {
		s.answered(f.ID)
	}
}

// onOut receives frames addressed to the station from the bus. It may run
// on the publisher's goroutine: it only enqueues.
func (s *session) onOut(m bus.Message) {
	g := s.g
	f, fe := ocpp.Parse(m.Payload)
	if fe == nil && !s.version.Supports(f.Type) {
		fe = &ocpp.FrameError{Message: "message type " + f.Type.String() + " is not defined in " + string(s.version)}
	}
	if fe != nil {
		g.stats.outInvalid.Add(1)
		s.log.Warn("dropped invalid frame from the bus", "err", fe.Message)
		return
	}
	p := bytes.Clone(m.Payload) // written asynchronously or queued
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		g.stats.outDropped.Add(1)
		s.log.Debug("dropped frame for a closing session", "type", f.Type.String(), "messageId", f.ID)
		return
	}
	ok := true
	if f.Type == ocpp.Call {
		// OCPP-J synchronicity (1.6J §4.1.1, 2.0.1 Part 4 §4.1.1): at most
		// one CALL outstanding; the rest wait in a bounded queue.
		switch {
		case s.callID == "":
			ok = s.startCallLocked(f.ID, p)
		case len(s.queue) >= g.opts.QueueSize:
			s.mu.Unlock()
			g.stats.callsDropped.Add(1)
			s.log.Warn("call queue full; dropped CALL", "action", f.Action, "messageId", f.ID, "queue", g.opts.QueueSize)
			return
		default:
			s.queue = append(s.queue, queuedCall{id: f.ID, frame: p})
		}
	} else {
		// Answers to the station's calls (and 2.1 SENDs) go out at once.
		ok = s.enqueueLocked(gws.OpcodeText, p)
	}
	s.mu.Unlock()
	if !ok {
		s.tooSlow()
	}
}

// startCallLocked writes a CALL and makes it the outstanding one.
func (s *session) startCallLocked(id string, frame []byte) bool {
	s.callID = id
	s.callDeadline = s.g.mono() + s.g.opts.CallTimeout
	if s.callTimer == nil {
		s.callTimer = time.AfterFunc(s.g.opts.CallTimeout, s.onCallTimer)
	} else {
		s.callTimer.Reset(s.g.opts.CallTimeout)
	}
	return s.enqueueLocked(gws.OpcodeText, frame)
}

// nextCallLocked writes the next queued CALL, if any.
func (s *session) nextCallLocked() bool {
	if len(s.queue) == 0 {
		return true
	}
	c := s.queue[0]
	copy(s.queue, s.queue[1:])
	s.queue[len(s.queue)-1] = queuedCall{}
	s.queue = s.queue[:len(s.queue)-1]
	return s.startCallLocked(c.id, c.frame)
}

// answered is called for every CALLRESULT and CALLERROR from the station:
// the answer to the outstanding CALL releases the next one.
func (s *session) answered(id string) {
	s.mu.Lock()
	if s.closing || s.callID == "" || s.callID != id {
		s.mu.Unlock()
		return
	}
	s.callID = ""
	s.callTimer.Stop()
	ok := s.nextCallLocked()
	s.mu.Unlock()
	if !ok {
		s.tooSlow()
	}
}

// onCallTimer gives up on an outstanding CALL that was not answered within
// CallTimeout and sends the next one.
func (s *session) onCallTimer() {
	s.mu.Lock()
	if s.closing || s.callID == "" {
		s.mu.Unlock()
		return
	}
	if rem := s.callDeadline - s.g.mono(); rem > 0 {
		s.callTimer.Reset(rem) // a later call reused the timer
		s.mu.Unlock()
		return
	}
	id := s.callID
	s.callID = ""
	s.g.stats.callTimeouts.Add(1)
	ok := s.nextCallLocked()
	s.mu.Unlock()
	s.log.Warn("no answer to CALL; giving up on it", "messageId", id, "timeout", s.g.opts.CallTimeout)
	if !ok {
		s.tooSlow()
	}
}

// onKeepalive sends pings every PingInterval and drops a peer that sent
// nothing for PongTimeout after a ping.
func (s *session) onKeepalive() {
	g := s.g
	now := g.mono()
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	if recv := time.Duration(s.lastRecv.Load()); s.unanswered >= 0 && recv >= s.unanswered {
		if recv < s.lastPing {
			s.unanswered = s.lastPing
		} else {
			s.unanswered = -1
		}
	}
	if s.unanswered >= 0 && now-s.unanswered >= g.opts.PongTimeout {
		s.mu.Unlock()
		if s.close(CloseGoingAway, closeTextPingTimeout, ReasonPingTimeout) {
			s.log.Info("no frame or pong after ping; disconnecting", "pongTimeout", g.opts.PongTimeout)
		}
		return
	}
	ok := true
	if now >= s.nextPing {
		ok = s.enqueueLocked(gws.OpcodePing, nil)
		s.lastPing = now
		if s.unanswered < 0 {
			s.unanswered = now
		}
		s.nextPing = now + g.opts.PingInterval
	}
	next := s.nextPing
	if s.unanswered >= 0 && s.unanswered+g.opts.PongTimeout < next {
		next = s.unanswered + g.opts.PongTimeout
	}
	s.pingTimer.Reset(next - now)
	s.mu.Unlock()
	if !ok {
		s.tooSlow()
	}
}

// handler receives gws events for every connection of the gateway.
type handler struct{ g *Gateway }

func (h *handler) OnOpen(*gws.Conn) {}

func (h *handler) OnClose(c *gws.Conn, err error) { sessionOf(c).closeErr = err }

// OnPing answers with a pong carrying the ping's payload (RFC 6455
// §5.5.3); gws's built-in handler sends an empty one.
func (h *handler) OnPing(c *gws.Conn, payload []byte) {
	s := sessionOf(c)
	s.touch()
	s.send(gws.OpcodePong, payload)
}

func (h *handler) OnPong(c *gws.Conn, _ []byte) { sessionOf(c).touch() }

func (h *handler) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	s := sessionOf(c)
	s.touch()
	if m.Opcode != gws.OpcodeText {
		// OCPP-J uses text frames only.
		s.close(CloseUnsupportedData, closeTextBinary, ReasonBinaryFrame)
		return
	}
	s.handleFrame(m.Bytes())
}
