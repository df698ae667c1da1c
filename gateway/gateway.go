// Package gateway is the WebSocket side of ocppd: it owns the charge point
// connections and nothing else.
//
// For each station it authenticates and admits the connection, negotiates
// the OCPP subprotocol, keeps the connection alive (ping/pong, frame size
// limit, slow-peer detection), publishes every valid frame on the bus topic
// {cp}/in and writes what arrives on {cp}/out to the socket. It parses only
// the OCPP-J frame header (ocpp.Parse), never the payload; malformed frames
// are answered with the CALLERROR of the station's protocol version. It
// keeps at most one CSMS→station CALL outstanding per connection and queues
// the rest (OCPP-J synchronicity rule), with a timeout. Session starts and
// ends are published as bus.LifecycleEvent on ocppd/lifecycle/{cp}.
//
// The gateway never imports the CSMS or the store: they meet on the bus.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lxzan/gws"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/ocpp"
)

// Registry decides whether a station may connect.
//
// Admit returns nil to admit the station id. An error whose
// ocppd.ErrorCode is ocppd.ENOTFOUND means "not registered": the connection
// is closed with 1008 and the reason "Charge Point <id> not registered". Any
// other error closes the connection with 1011 and is logged. r is the
// upgrade request (headers, TLS state, remote address); it must not be
// retained.
type Registry interface {
	Admit(ctx context.Context, id string, r *http.Request) error
}

// Authenticator is implemented by a Registry that checks a station's
// credentials BEFORE the WebSocket upgrade, as OCPP security profiles 1
// and 2 require of HTTP Basic authentication (1.6 security whitepaper and
// 2.0.1 Part 2 A00.FR.202–207: a refused station gets an HTTP error, never
// a 101). When the Registry implements it, ServeHTTP calls Authenticate
// after the station id and the upgrade headers were checked and before
// anything is upgraded; Admit still runs after the upgrade.
//
// Authenticate returns nil to let the upgrade proceed. Errors map to the
// HTTP answer by their ocppd.ErrorCode: EUNAUTHORIZED → 401 with
// "WWW-Authenticate: Basic", EFORBIDDEN → 403, ENOTFOUND → 404,
// EUNAVAILABLE → 503, anything else → 500. The error text is logged, never
// sent. r must not be retained; its body is empty.
type Authenticator interface {
	Authenticate(ctx context.Context, id string, r *http.Request) error
}

// Options configure a Gateway. Zero values select the defaults noted.
type Options struct {
	// Bus carries the frames and lifecycle events. Required.
	Bus bus.Bus
	// Topics names the bus topics (an optional prefix).
	Topics bus.Topics
	// Registry admits stations; nil admits every valid station id.
	Registry Registry
	// GatewayID identifies this gateway on the bus (lifecycle events,
	// the gateway user property, the publisher's client id). Default:
	// hostname-pid.
	GatewayID string
	// Instance identifies this run of the gateway in its status messages
	// (bus.GatewayStatus). Default: NewInstanceID().
	Instance string
	// PingInterval is the time between server pings. Default 30s; a
	// negative value disables server pings (and the pong timeout).
	PingInterval time.Duration
	// PongTimeout: a peer that sends nothing at all (no frame, no pong)
	// for this long after a ping is disconnected. Default 2×PingInterval.
	PongTimeout time.Duration
	// MaxFrameSize is the largest message accepted from a station; a
	// larger one closes the connection with 1009. Default 64 KiB.
	MaxFrameSize int
	// CallTimeout is how long an outstanding CSMS→station CALL may wait
	// for its answer before the next queued one is sent. Default 60s.
	CallTimeout time.Duration
	// QueueSize bounds the CSMS→station CALLs waiting behind the
	// outstanding one, per connection; more are dropped and counted.
	// Default 32.
	QueueSize int
	// WriteQueueSize bounds the frames waiting to be written to one
	// connection; a peer too slow to drain it is disconnected with 1008
	// "too slow" and counted. Default 128.
	WriteQueueSize int
	// WriteTimeout bounds one socket write; a write that cannot complete
	// in time closes the connection. Default 10s.
	WriteTimeout time.Duration
	// HandshakeTimeout bounds writing the upgrade response and the
	// Registry's Admit call. Default 10s.
	HandshakeTimeout time.Duration
	// Limits bound connections, handshake rates and malformed frames per
	// source address and session; see Limits for the defaults.
	Limits Limits
	// Logger receives the gateway's logs, narrowed with .With("cp", id)
	// per session. Default: slog.Default().
	Logger *slog.Logger
	// Now returns the current time for lifecycle events. Default
	// time.Now.
	Now func() time.Time
}

// Defaults.
const (
	DefaultPingInterval     = 30 * time.Second
	DefaultMaxFrameSize     = 64 << 10
	DefaultCallTimeout      = 60 * time.Second
	DefaultQueueSize        = 32
	DefaultWriteQueueSize   = 128
	DefaultWriteTimeout     = 10 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
)

// closeGrace bounds how long a close frame may take to be written before
// the TCP connection is closed anyway.
const closeGrace = 2 * time.Second

// Reasons of lifecycle "disconnected" events and of refused connections.
const (
	ReasonClosedByStation = "closed by station"
	ReasonConnectionLost  = "connection lost"
	ReasonReplaced        = "replaced"
	ReasonPingTimeout     = "ping timeout"
	ReasonShutdown        = "shutdown"
	ReasonFrameTooLarge   = "frame too large"
	ReasonBinaryFrame     = "binary frame"
	ReasonInvalidUTF8     = "invalid utf-8"
	ReasonProtocolError   = "websocket protocol error"
	ReasonSlowPeer        = "too slow"
	ReasonWriteFailed     = "write failed"
	ReasonInternal        = "internal error"
	ReasonTooManyInvalid  = "too many invalid messages"

	RefusedInvalidID      = "invalid id"
	RefusedNotUpgrade     = "not a websocket upgrade"
	RefusedUpgrade        = "upgrade failed"
	RefusedSubprotocol    = "unsupported subprotocol"
	RefusedNotRegistered  = "not registered"
	RefusedAdmissionError = "admission error"
	RefusedShutdown       = "shutting down"
	RefusedUnauthorized   = "unauthorized"
	RefusedForbidden      = "forbidden"
	RefusedAuthError      = "authentication error"
	RefusedRateLimited    = "rate limited"
	RefusedTooManyConns   = "too many connections from address"
	RefusedBusy           = "busy"
)

// WebSocket close codes used by the gateway (RFC 6455 §7.4.1).
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001
	CloseProtocolError   = 1002
	CloseUnsupportedData = 1003
	CloseInvalidPayload  = 1007
	ClosePolicyViolation = 1008
	CloseMessageTooBig   = 1009
	CloseInternalError   = 1011
)

// Close reasons sent to stations.
var (
	closeTextUnsupportedSubprotocol = "unsupported subprotocol: supported are " + ocpp.SupportedSubprotocols()
	closeTextReplaced               = "replaced by a new connection"
	closeTextShutdown               = "server shutting down"
	closeTextBinary                 = "binary frames are not supported"
	closeTextSlow                   = "too slow"
	closeTextPingTimeout            = "ping timeout"
	closeTextInternal               = "internal error"
	closeTextTooManyInvalid         = "too many invalid messages"
)

// Gateway accepts charge point WebSocket connections and bridges them to
// the bus. Create it with New; it is an http.Handler for the upgrade.
type Gateway struct {
	opts Options
	log  *slog.Logger

	// upgraders[v] answers with subprotocol v; upgraders[""] with none.
	upgraders map[ocpp.Version]*gws.Upgrader

	ctx    context.Context // canceled by Shutdown
	cancel context.CancelFunc
	epoch  time.Time // monotonic base of the keepalive clock

	mu       sync.Mutex
	sessions map[string]*session
	closing  bool
	lcSub    bus.Subscription
	started  bool

	wg           sync.WaitGroup // ServeHTTP calls in flight
	shutdownOnce sync.Once
	downOnce     sync.Once // the "down" status is published once
	resync       resyncState

	stats counters
	limit *limiter
}

// New returns a gateway configured by opts. It does no I/O; mount it with
// ServeHTTP and call Start to take part in cluster-wide takeover. It panics
// if opts.Bus is nil.
func New(opts Options) *Gateway {
	if opts.Bus == nil {
		panic("gateway: Options.Bus is nil")
	}
	if opts.GatewayID == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "gateway"
		}
		opts.GatewayID = host + "-" + strconv.Itoa(os.Getpid())
	}
	if opts.Instance == "" {
		opts.Instance = NewInstanceID()
	}
	if opts.PingInterval == 0 {
		opts.PingInterval = DefaultPingInterval
	}
	if opts.PongTimeout <= 0 {
		opts.PongTimeout = 2 * opts.PingInterval
	}
	if opts.MaxFrameSize <= 0 {
		opts.MaxFrameSize = DefaultMaxFrameSize
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.WriteQueueSize <= 0 {
		opts.WriteQueueSize = DefaultWriteQueueSize
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	g := &Gateway{
		opts:      opts,
		log:       opts.Logger.With("gateway", opts.GatewayID),
		sessions:  map[string]*session{},
		upgraders: map[ocpp.Version]*gws.Upgrader{},
		epoch:     time.Now(),
	}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.stats.init()
	g.limit = newLimiter(opts.Limits, g.mono())
	h := &handler{g: g}
	// gws negotiates a subprotocol by the server's order of preference
	// (internal.GetIntersectionElem walks the server's list), but refuses
	// the handshake with HTTP 400 when none matches. ocppd must finish the
	// handshake without a subprotocol and close with 1002 instead, so it
	// negotiates itself and uses one upgrader per outcome.
	for _, v := range append([]ocpp.Version{""}, ocpp.Versions...) {
		so := &gws.ServerOption{
			ReadMaxPayloadSize: opts.MaxFrameSize,
			// Each connection holds its read buffer for life; OCPP frames
			// are small, and a larger one is read through in several
			// calls. 1 KiB instead of gws's 4 KiB: 10,000 idle stations
			// cost 25 instead of 29 KiB each (docs/performance.md).
			ReadBufferSize:   readBufferSize,
			CheckUtf8Enabled: true, // invalid UTF-8 text closes with 1007
			HandshakeTimeout: opts.HandshakeTimeout,
			NewSession:       func() gws.SessionStorage { return &slot{} },
			Logger:           gwsLogger{g.log},
			Recovery:         gws.Recovery, // a panic in a callback is logged, not fatal
		}
		if v != "" {
			so.SubProtocols = []string{string(v)}
		}
		g.upgraders[v] = gws.NewUpgrader(h, so)
	}
	return g
}

// ID returns the gateway id used on the bus.
func (g *Gateway) ID() string { return g.opts.GatewayID }

// Start subscribes to the lifecycle events of the cluster, so that a
// station that connects to another gateway is disconnected here (the newest
// connection wins across all gateways; events about connections older than
// the local one are ignored), and publishes the gateway's retained "up"
// status on Topics.Gateway (bus.GatewayStatus). ServeHTTP works without
// Start, but then only connections to this gateway replace each other.
func (g *Gateway) Start(ctx context.Context) error {
	g.mu.Lock()
	if g.closing {
		g.mu.Unlock()
		return errors.New("start gateway: shut down")
	}
	if g.started {
		g.mu.Unlock()
		return errors.New("start gateway: already started")
	}
	g.started = true
	g.mu.Unlock()
	sub, err := g.opts.Bus.Subscribe(ctx, g.opts.Topics.AllLifecycle(), g.onLifecycle)
	if err != nil {
		return fmt.Errorf("start gateway: subscribe to lifecycle events: %w", err)
	}
	g.mu.Lock()
	g.lcSub = sub
	closing := g.closing
	g.mu.Unlock()
	if closing {
		_ = sub.Unsubscribe(ctx)
		return nil
	}
	if err := g.startResync(ctx); err != nil {
		return fmt.Errorf("start gateway: %w", err)
	}
	if err := g.publishStatus(ctx, bus.GatewayUp, ""); err != nil {
		return fmt.Errorf("start gateway: publish status: %w", err)
	}
	return nil
}

// onLifecycle closes a local session whose station connected to another
// gateway. It runs on the bus's delivery goroutine and does not block.
func (g *Gateway) onLifecycle(m bus.Message) {
	ev, err := bus.DecodeLifecycle(m.Payload)
	if err != nil || ev.Event != bus.EventConnected || ev.GatewayID == g.opts.GatewayID {
		return
	}
	g.mu.Lock()
	s := g.sessions[ev.ChargePointID]
	g.mu.Unlock()
	if s == nil || s.id == ev.SessionID || !newer(ev, s) {
		return
	}
	s.log.Info("station connected to another gateway; closing this session",
		"otherGateway", ev.GatewayID, "otherSession", ev.SessionID)
	g.stats.replaced.Add(1)
	s.close(CloseNormal, closeTextReplaced, ReasonReplaced)
}

// newer reports whether the remote session of ev started after local
// session s. A late event about an older connection must not close the
// newer one (both would close each other otherwise); equal times are
// decided by the session ids, so exactly one of two sessions survives.
// Gateways' clocks are assumed to agree to better than a reconnect.
func newer(ev bus.LifecycleEvent, s *session) bool {
	if !ev.Time.Equal(s.started) {
		return ev.Time.After(s.started)
	}
	return ev.SessionID > s.id
}

// Sessions returns the number of open station sessions.
func (g *Gateway) Sessions() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.sessions)
}

// Shutdown stops accepting connections (new upgrades get 503), closes every
// session with 1001 "server shutting down", publishes their disconnected
// events and waits until every goroutine of the gateway has ended or ctx is
// done; a started gateway then publishes its retained "down" status. It is
// idempotent; later calls wait the same way.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.shutdownOnce.Do(func() {
		g.mu.Lock()
		g.closing = true
		sub := g.lcSub
		sessions := make([]*session, 0, len(g.sessions))
		for _, s := range g.sessions {
			sessions = append(sessions, s)
		}
		g.mu.Unlock()
		g.cancel()
		if sub != nil {
			if err := sub.Unsubscribe(ctx); err != nil {
				g.log.Warn("unsubscribe lifecycle events", "err", err)
			}
		}
		g.stopResync(ctx)
		for _, s := range sessions {
			s.close(CloseGoingAway, closeTextShutdown, ReasonShutdown)
		}
	})
	done := make(chan struct{})
	go func() {
		g.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("shut down gateway: %w", ctx.Err())
	}
	g.mu.Lock()
	started := g.started && g.lcSub != nil
	g.mu.Unlock()
	if started {
		g.downOnce.Do(func() {
			if err := g.publishStatus(ctx, bus.GatewayDown, bus.GatewayReasonShutdown); err != nil {
				g.log.Warn("publish gateway status", "status", bus.GatewayDown, "err", err)
			}
		})
	}
	return nil
}

// enter registers a ServeHTTP call in flight; false once shutting down.
func (g *Gateway) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return false
	}
	g.wg.Add(1)
	return true
}

// ServeHTTP upgrades a charge point's request to an OCPP-J WebSocket
// connection and serves it until it closes. Mount it on any path: the
// station id is the last path segment, percent-decoded.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !g.enter() {
		g.stats.refuse(RefusedShutdown)
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	addr := sourceIP(r)
	if v := g.limit.admit(addr, g.mono()); v.status != 0 {
		g.wg.Done()
		g.stats.refuse(v.reason)
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int((v.retryAfter+time.Second-1)/time.Second))))
		http.Error(w, v.reason, v.status)
		return
	}
	// An admitted session is served on a goroutine of its own (serve);
	// until it is handed over, returning releases what enter and admit
	// took.
	handedOver := false
	defer func() {
		if !handedOver {
			g.limit.release(addr)
			g.wg.Done()
		}
	}()

	id, err := StationID(r.URL)
	if err != nil {
		g.stats.refuse(RefusedInvalidID)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !isUpgrade(r) {
		g.stats.refuse(RefusedNotUpgrade)
		w.Header().Set("Upgrade", "websocket")
		http.Error(w, "this endpoint expects a WebSocket upgrade (OCPP-J)", http.StatusUpgradeRequired)
		return
	}
	log := g.log.With("cp", id)
	if a, ok := g.opts.Registry.(Authenticator); ok && !g.authenticate(w, r, a, id, log) {
		return
	}
	offered := r.Header.Values("Sec-WebSocket-Protocol")
	v := Negotiate(offered)
	if len(offered) > 1 {
		// gws reads only the first header line; present the offer as one.
		r.Header.Set("Sec-WebSocket-Protocol", strings.Join(offered, ","))
	}
	conn, err := g.upgraders[v].Upgrade(w, r)
	if err != nil {
		g.stats.refuse(RefusedUpgrade)
		log.Debug("websocket upgrade failed", "err", err, "remote", r.RemoteAddr)
		return
	}
	if v == "" {
		// OCPP-J: the CSMS must not accept a connection without an agreed
		// subprotocol (1.6J §3.1.2, 2.0.1 Part 4 §3.1.2); the handshake is
		// finished without one so that the station sees why.
		g.stats.refuse(RefusedSubprotocol)
		log.Info("refused: no supported subprotocol offered", "offered", strings.Join(offered, ","), "remote", r.RemoteAddr)
		closeNow(conn, CloseProtocolError, closeTextUnsupportedSubprotocol)
		return
	}

	actx, cancel := context.WithTimeout(g.ctx, g.opts.HandshakeTimeout)
	var admitErr error
	if g.opts.Registry != nil {
		admitErr = g.opts.Registry.Admit(actx, id, r)
	}
	cancel()
	if admitErr != nil {
		switch {
		case g.ctx.Err() != nil:
			g.stats.refuse(RefusedShutdown)
			closeNow(conn, CloseGoingAway, closeTextShutdown)
		case ocppd.ErrorCode(admitErr) == ocppd.ENOTFOUND:
			g.stats.refuse(RefusedNotRegistered)
			log.Info("refused: not registered", "remote", r.RemoteAddr)
			closeNow(conn, ClosePolicyViolation, "Charge Point "+id+" not registered")
		default:
			g.stats.refuse(RefusedAdmissionError)
			log.Error("admission failed", "err", admitErr, "remote", r.RemoteAddr)
			closeNow(conn, CloseInternalError, closeTextInternal)
		}
		return
	}

	s := newSession(g, conn, id, v, r.RemoteAddr, log)
	conn.Session().(*slot).s = s
	s.start() // on failure the session is already closing
	// The read loop runs on a new goroutine and ServeHTTP returns, so that
	// net/http's goroutine ends and frees what it holds for the life of a
	// blocked handler: its connection's 4 KiB read and write buffers, the
	// request, and a stack grown by the handshake and admission (about
	// 16 KiB). That is most of an idle station's cost (see
	// docs/performance.md, "Load and benchmarks").
	handedOver = true
	go func() {
		defer g.wg.Done()
		defer g.limit.release(addr)
		conn.ReadLoop()
		s.end()
	}()
}

// authenticate runs the Authenticator before the upgrade and answers a
// refusal with the HTTP status of its error code; it reports whether the
// upgrade may proceed.
func (g *Gateway) authenticate(w http.ResponseWriter, r *http.Request, a Authenticator, id string, log *slog.Logger) bool {
	ctx, cancel := context.WithTimeout(g.ctx, g.opts.HandshakeTimeout)
	err := a.Authenticate(ctx, id, r)
	cancel()
	if err == nil {
		return true
	}
	var status int
	var reason string
	switch ocppd.ErrorCode(err) {
	case ocppd.EUNAUTHORIZED:
		status, reason = http.StatusUnauthorized, RefusedUnauthorized
		w.Header().Set("WWW-Authenticate", `Basic realm="ocppd", charset="UTF-8"`)
	case ocppd.EFORBIDDEN:
		status, reason = http.StatusForbidden, RefusedForbidden
	case ocppd.ENOTFOUND:
		status, reason = http.StatusNotFound, RefusedNotRegistered
	case ocppd.EUNAVAILABLE:
		status, reason = http.StatusServiceUnavailable, RefusedAuthError
		w.Header().Set("Retry-After", "5")
	default:
		status, reason = http.StatusInternalServerError, RefusedAuthError
	}
	if g.ctx.Err() != nil {
		status, reason = http.StatusServiceUnavailable, RefusedShutdown
	}
	g.stats.refuse(reason)
	if status >= 500 {
		log.Error("authentication failed", "err", err, "remote", r.RemoteAddr)
	} else {
		// A00.FR.323/408: a connection refused for a security reason is
		// logged as a security event.
		log.Warn("refused before upgrade", "reason", reason, "err", err, "remote", r.RemoteAddr)
	}
	http.Error(w, http.StatusText(status), status)
	return false
}

// register makes s the session of its station, returning the session it
// replaces; ok is false when the gateway is shutting down.
func (g *Gateway) register(s *session) (old *session, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return nil, false
	}
	old = g.sessions[s.cp]
	g.sessions[s.cp] = s
	return old, true
}

// unregister removes s if it is still its station's session.
func (g *Gateway) unregister(s *session) {
	g.mu.Lock()
	if g.sessions[s.cp] == s {
		delete(g.sessions, s.cp)
	}
	g.mu.Unlock()
}

// publishLifecycle publishes a lifecycle event; it uses its own timeout so
// that disconnected events go out during shutdown too.
func (g *Gateway) publishLifecycle(ev bus.LifecycleEvent, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), g.opts.HandshakeTimeout)
	defer cancel()
	err := g.opts.Bus.Publish(ctx, bus.Message{
		Topic:    g.opts.Topics.Lifecycle(ev.ChargePointID),
		Payload:  ev.Encode(),
		ClientID: g.opts.GatewayID,
	})
	if err != nil {
		g.stats.publishErrors.Add(1)
		log.Warn("publish lifecycle event", "event", ev.Event, "err", err)
	}
}

// StationID returns the charge point id of an OCPP-J connection URL: the
// last path segment, percent-decoded ("/CP1", "/ocpp/CP1" and
// "/any/prefix/CP1" all give "CP1"), checked with ocpp.ValidateIdentity.
// The segment is cut from the escaped path before decoding, so "%2F" is
// part of the id (and refused), never a separator. "." and ".." are
// refused.
func StationID(u *url.URL) (string, error) {
	p := u.EscapedPath()
	seg := p[strings.LastIndexByte(p, '/')+1:]
	if seg == "" {
		return "", errors.New("charge point id missing: connect to ws(s)://host/<path>/<chargePointId>")
	}
	id, err := url.PathUnescape(seg)
	if err != nil {
		return "", fmt.Errorf("charge point id %q is not a valid percent-encoded path segment", seg)
	}
	if id == "." || id == ".." {
		return "", fmt.Errorf("charge point id %q is not allowed", id)
	}
	if err := ocpp.ValidateIdentity(id); err != nil {
		return "", fmt.Errorf("invalid charge point id %q: %w", id, err)
	}
	return id, nil
}

// Negotiate picks the newest supported OCPP version offered in the
// Sec-WebSocket-Protocol header values (each a comma-separated list), or ""
// when none is offered. Subprotocol names are case-sensitive (RFC 6455
// §4.1).
func Negotiate(offered []string) ocpp.Version {
	best := -1
	for _, line := range offered {
		for tok := range strings.SplitSeq(line, ",") {
			tok = strings.TrimSpace(tok)
			for i, v := range ocpp.Versions {
				if tok == string(v) && (best < 0 || i < best) {
					best = i
				}
			}
		}
	}
	if best < 0 {
		return ""
	}
	return ocpp.Versions[best]
}

// isUpgrade reports whether r asks for a WebSocket upgrade.
func isUpgrade(r *http.Request) bool {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return false
	}
	for _, v := range r.Header.Values("Connection") {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

// closeNow sends a close frame on a connection that has no session and
// closes it.
func closeNow(conn *gws.Conn, code uint16, reason string) {
	_ = conn.NetConn().SetWriteDeadline(time.Now().Add(closeGrace))
	_ = conn.WriteClose(code, []byte(reason))
}

// newSessionID returns 16 random bytes in hex.
func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// slot is the gws session storage of a connection: it only carries the
// gateway session, so that event callbacks find it without a map lookup.
type slot struct{ s *session }

func (*slot) Len() int                     { return 0 }
func (*slot) Load(string) (any, bool)      { return nil, false }
func (*slot) Delete(string)                {}
func (*slot) Store(string, any)            {}
func (*slot) Range(func(string, any) bool) {}
func sessionOf(c *gws.Conn) *session       { return c.Session().(*slot).s }

var _ gws.SessionStorage = (*slot)(nil)

// gwsLogger routes gws's own error logs to slog.
type gwsLogger struct{ l *slog.Logger }

func (l gwsLogger) Error(v ...any) { l.l.Error(fmt.Sprint(v...)) }

// readBufferSize is the per-connection read buffer (see New).
const readBufferSize = 1 << 10
