// Package sim is a charge point simulator: a real OCPP-J client over
// WebSocket for OCPP 1.6, 2.0.1 and 2.1. The `ocppd sim` command, the load
// generator and the end-to-end tests drive ocppd with it.
//
// A Station connects to a CSMS (Connect), sends CALLs and waits for their
// answers (Call and the typed helpers Boot, Heartbeat, StatusNotification),
// answers CSMS-initiated CALLs with the handlers registered with Handle,
// and Run plays a whole station life: boot, status, heartbeats and
// reconnection with backoff.
//
// Every frame sent and received is logged at INFO with the message
// "<id>: send <frame>" or "<id>: receive <frame>".
package sim

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocppd/ocppd/ocpp"
)

// Defaults of the station's identity, as in the seed's simulate.py.
const (
	DefaultID              = "CP1"
	DefaultSerial          = "CP1234567890A01"
	DefaultModel           = "ABC 123 XYZ"
	DefaultFirmwareVersion = "10.9.8.ABC"
	DefaultVendor          = "Acme Electrical Systems"
	DefaultICCID           = "891004234814455936F"
	DefaultIMSI            = "310410123456789"
)

// Default timings.
const (
	DefaultCallTimeout       = 30 * time.Second
	DefaultReconnectDelay    = time.Second
	DefaultMaxReconnectDelay = 60 * time.Second
	// DefaultHeartbeatInterval is used when the CSMS returns an interval of
	// 0 and Options.HeartbeatInterval is not set.
	DefaultHeartbeatInterval = 60 * time.Second
	// DefaultBootRetry is the wait before a new BootNotification after
	// Pending or Rejected when the CSMS returns an interval of 0 (OCPP 1.6
	// §4.2: "the Charge Point chooses a waiting interval on its own").
	DefaultBootRetry = 30 * time.Second
)

// Log levels of the station's own events.
const (
	levelInfo = slog.LevelInfo
	levelWarn = slog.LevelWarn
)

// Options configure a Station. The zero value of every field is usable
// except URL, which Connect requires.
type Options struct {
	// URL is the CSMS base URL, e.g. ws://127.0.0.1:8080 or
	// wss://host/ocpp. The station id is appended as the last path
	// segment, percent-encoded.
	URL string
	// ID is the charge point identity; default "CP1".
	ID string
	// Version is the OCPP version, offered as the only subprotocol;
	// default ocpp.V201.
	Version ocpp.Version

	// Identity reported in BootNotification; defaults as in the seed.
	Serial, Model, FirmwareVersion, Vendor string
	// ICCID and IMSI of the modem; defaults as in the seed.
	ICCID, IMSI string

	// Logger receives the frame log lines and the station's events;
	// nil discards them.
	Logger *slog.Logger
	// Dialer dials the TCP connection; nil uses a net.Dialer with a 10 s
	// timeout. The load generator sets LocalAddr here.
	Dialer *net.Dialer
	// TLSConfig is used for wss:// URLs; nil uses the system roots.
	TLSConfig *tls.Config
	// Header holds extra handshake headers (e.g. Authorization).
	Header http.Header
	// Password, when set, is the station's HTTP Basic password (OCPP
	// security profiles 1 and 2): every connection sends the station id
	// and it as Basic credentials, replacing an Authorization in Header.
	// A Charger changes it when the CSMS sets AuthorizationKey (1.6) or
	// SecurityCtrlr.BasicAuthPassword (2.x); see Station.SetPassword.
	Password string

	// CallTimeout bounds the wait for the answer to a CALL; default 30 s.
	CallTimeout time.Duration
	// HeartbeatInterval, when positive, overrides the interval the CSMS
	// returns in BootNotificationResponse (Run only).
	HeartbeatInterval time.Duration
	// ReconnectDelay and MaxReconnectDelay bound Run's exponential
	// backoff between connection attempts; defaults 1 s and 60 s.
	ReconnectDelay, MaxReconnectDelay time.Duration
	// Now returns the current time for timestamps; default time.Now.
	Now func() time.Time
	// FrameBuffer is the capacity of the Frames channel: 0 means 64, a
	// negative value disables it (the load generator, with thousands of
	// stations, saves the memory).
	FrameBuffer int
}

// HandlerFunc answers a CSMS-initiated CALL. It returns the CALLRESULT
// payload (anything encoding/json marshals to an object; json.RawMessage
// is sent as is), or an error: a *CallError is sent as that CALLERROR, any
// other error as an InternalError. ctx ends when the connection does.
type HandlerFunc func(ctx context.Context, payload json.RawMessage) (any, error)

// Station is one simulated charge point. Its methods are safe for
// concurrent use.
type Station struct {
	opts   Options
	log    *slog.Logger
	prefix string // "CP1: "

	callSem chan struct{} // one outstanding CALL from the station (OCPP-J)
	frames  chan []byte
	dropped atomic.Int64

	hmu      sync.RWMutex
	handlers map[string]HandlerFunc

	mu       sync.Mutex
	cur      *conn
	closed   bool
	closedCh chan struct{}
	wg       sync.WaitGroup // every connection's goroutines

	rejected atomic.Bool // the last BootNotification was Rejected

	// life ends when the station is closed; follow-ups of handlers run
	// under it (they may outlive the connection, e.g. after a reset).
	life     context.Context
	stopLife context.CancelFunc

	bootReason atomic.Pointer[string] // 2.x BootNotification reason; nil: PowerUp
	// rebootPending: the connection was dropped for a reset; Run
	// connects again without waiting.
	rebootPending atomic.Bool

	// password is the current HTTP Basic password ("" none).
	password atomic.Pointer[string]

	// hooks, set by a Charger before Run, extend Run's session.
	hooks *runHooks
}

// runHooks let a Charger extend what Run does on each connection.
type runHooks struct {
	// booted runs once the boot was accepted, instead of the default
	// StatusNotification of EVSE 1 connector 1.
	booted func(ctx context.Context, res BootResult) error
	// interval, when set, returns the current heartbeat interval (the
	// device model may change it); 0 keeps the current one.
	interval func() time.Duration
}

// New returns a Station for opts, filling in defaults. It does no I/O.
func New(opts Options) *Station {
	if opts.ID == "" {
		opts.ID = DefaultID
	}
	if opts.Version == "" {
		opts.Version = ocpp.V201
	}
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&opts.Serial, DefaultSerial)
	def(&opts.Model, DefaultModel)
	def(&opts.FirmwareVersion, DefaultFirmwareVersion)
	def(&opts.Vendor, DefaultVendor)
	def(&opts.ICCID, DefaultICCID)
	def(&opts.IMSI, DefaultIMSI)
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.ReconnectDelay <= 0 {
		opts.ReconnectDelay = DefaultReconnectDelay
	}
	if opts.MaxReconnectDelay <= 0 {
		opts.MaxReconnectDelay = DefaultMaxReconnectDelay
	}
	if opts.MaxReconnectDelay < opts.ReconnectDelay {
		opts.MaxReconnectDelay = opts.ReconnectDelay
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	switch {
	case opts.FrameBuffer == 0:
		opts.FrameBuffer = 64
	case opts.FrameBuffer < 0:
		opts.FrameBuffer = 0
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	life, stopLife := context.WithCancel(context.Background())
	s := &Station{
		life:     life,
		stopLife: stopLife,
		opts:     opts,
		log:      log,
		prefix:   opts.ID + ": ",
		callSem:  make(chan struct{}, 1),
		frames:   make(chan []byte, opts.FrameBuffer),
		handlers: map[string]HandlerFunc{},
		closedCh: make(chan struct{}),
	}
	s.SetPassword(opts.Password)
	return s
}

// SetPassword sets the HTTP Basic password the next connections send
// ("" sends none, leaving Options.Header as it is). The current
// connection is not affected.
func (s *Station) SetPassword(password string) { s.password.Store(&password) }

// Password returns the station's current HTTP Basic password ("" none).
func (s *Station) Password() string {
	if p := s.password.Load(); p != nil {
		return *p
	}
	return ""
}

// ID returns the station's identity.
func (s *Station) ID() string { return s.opts.ID }

// Version returns the station's OCPP version.
func (s *Station) Version() ocpp.Version { return s.opts.Version }

// Handle registers fn to answer CSMS-initiated CALLs of action, replacing
// any earlier handler. CALLs without a handler are answered with the
// CALLERROR NotImplemented. CALLs are handled one at a time in arrival
// order, on a goroutine of their own, so a handler may itself use Call.
func (s *Station) Handle(action string, fn func(ctx context.Context, payload json.RawMessage) (any, error)) {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if fn == nil {
		delete(s.handlers, action)
		return
	}
	s.handlers[action] = fn
}

func (s *Station) handler(action string) HandlerFunc {
	s.hmu.RLock()
	defer s.hmu.RUnlock()
	return s.handlers[action]
}

// Frames returns a channel that receives a copy of every frame received
// from the CSMS, for tests. It is buffered (Options.FrameBuffer); frames
// that do not fit are dropped and counted by DroppedFrames. It is never
// closed.
func (s *Station) Frames() <-chan []byte { return s.frames }

// DroppedFrames returns how many received frames did not fit in the Frames
// channel.
func (s *Station) DroppedFrames() int64 { return s.dropped.Load() }

// Connected reports whether the station has an open connection.
func (s *Station) Connected() bool { return s.current() != nil }

func (s *Station) current() *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Call sends a CALL [2,"<uuid>",action,payload] and waits for the answer
// with the same message id. payload may be nil ({}), a json.RawMessage or
// []byte (sent as is) or anything encoding/json marshals. It returns the
// CALLRESULT payload, or a *CallError when the CSMS answered with a
// CALLERROR. Calls are serialised: the station has at most one CALL
// outstanding (OCPP-J, OCPP 2.0.1 Part 4 §4.1.1 "synchronicity"), and a
// second Call waits for the first. It fails with ErrNotConnected without a
// connection, wraps ErrTimeout after Options.CallTimeout, and wraps the
// reason (a *CloseError or ErrConnectionLost) when the connection ends
// while waiting.
func (s *Station) Call(ctx context.Context, action string, payload any) (json.RawMessage, error) {
	raw, err := marshalPayload(payload)
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", action, err)
	}
	select {
	case s.callSem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("call %s: %w", action, ctx.Err())
	}
	defer func() { <-s.callSem }()

	c := s.current()
	if c == nil {
		return nil, fmt.Errorf("call %s: %w", action, ErrNotConnected)
	}
	id := newUUID()
	ch := c.expect(id)
	defer c.forget(id)
	if err := c.write(ocpp.AppendCall(nil, id, action, raw)); err != nil {
		// A failed write closes the connection; report why it ended.
		select {
		case <-c.done:
			return nil, fmt.Errorf("call %s: %w", action, c.err)
		case <-ctx.Done():
			return nil, fmt.Errorf("call %s: %w", action, err)
		}
	}
	timer := time.NewTimer(s.opts.CallTimeout)
	defer timer.Stop()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, r.err
		}
		return r.payload, nil
	case <-c.done:
		return nil, fmt.Errorf("call %s: %w", action, c.err)
	case <-ctx.Done():
		return nil, fmt.Errorf("call %s: %w", action, ctx.Err())
	case <-timer.C:
		return nil, fmt.Errorf("call %s: %w within %s", action, ErrTimeout, s.opts.CallTimeout)
	}
}

// Send sends an OCPP 2.1 SEND frame [6,"<uuid>",action,payload]: a
// one-way message that gets no answer (e.g. NotifyPeriodicEventStream).
// It is not serialised with Call. Other versions do not define SEND and
// get an error.
func (s *Station) Send(ctx context.Context, action string, payload any) error {
	if !s.opts.Version.Supports(ocpp.Send) {
		return fmt.Errorf("send %s: %s has no SEND message type", action, s.opts.Version)
	}
	raw, err := marshalPayload(payload)
	if err != nil {
		return fmt.Errorf("send %s: %w", action, err)
	}
	frame := append([]byte("[6,"), ocpp.AppendString(nil, newUUID())...)
	frame = append(frame, ',')
	frame = ocpp.AppendString(frame, action)
	frame = append(frame, ',')
	frame = append(frame, raw...)
	frame = append(frame, ']')
	if err := s.SendRaw(ctx, frame); err != nil {
		return fmt.Errorf("send %s: %w", action, err)
	}
	return nil
}

// SendRaw writes frame as one text message, as is, for tests that need
// malformed or hand-made frames. Answers to it arrive on Frames (an answer
// to a CALL sent this way is not matched to any Call).
func (s *Station) SendRaw(ctx context.Context, frame []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("send raw frame: %w", err)
	}
	c := s.current()
	if c == nil {
		return fmt.Errorf("send raw frame: %w", ErrNotConnected)
	}
	if err := c.write(frame); err != nil {
		return fmt.Errorf("send raw frame: %w", err)
	}
	return nil
}

// Close closes the connection with 1000 (normal closure), makes Run return
// nil and waits for the station's goroutines (including running handlers)
// to end, so a handler must not call it. The station cannot connect again
// afterwards. Close is idempotent.
func (s *Station) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closedCh)
	s.stopLife()
	c := s.cur
	s.mu.Unlock()
	if c != nil {
		c.close(1000, "")
	}
	s.wg.Wait()
	return nil
}

// Disconnect closes the current connection with code and reason (code 0
// means 1000) without closing the station: Connect may be called again,
// and Run reconnects. It waits until the connection's goroutines ended. It
// is a no-op without a connection.
func (s *Station) Disconnect(code int, reason string) {
	c := s.current()
	if c == nil {
		return
	}
	if code == 0 {
		code = 1000
	}
	c.close(code, reason)
	c.wait()
}

// followUp is a handler result with work to do once the answer is sent.
type followUp struct {
	result any
	next   func(ctx context.Context)
}

// FollowedBy returns a handler result that answers the CALL with result
// and, once that answer was written, runs next on a goroutine of its own —
// for what a station does after accepting a command: the
// StatusNotification after a ChangeAvailability, the message a
// TriggerMessage asked for (OCPP 2.0.1 F06.FR.04: after the response), a
// reboot after a Reset. next's ctx ends when the station is closed, not
// with the connection; Close waits for next to return. If the answer
// could not be sent, next does not run.
func FollowedBy(result any, next func(ctx context.Context)) any {
	return &followUp{result: result, next: next}
}

// goFollow runs fn under the station's lifetime, owned by its WaitGroup.
func (s *Station) goFollow(fn func(ctx context.Context)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn(s.life)
	}()
}

func marshalPayload(p any) (json.RawMessage, error) {
	switch v := p.(type) {
	case nil:
		return json.RawMessage("{}"), nil
	case json.RawMessage:
		return v, nil
	case []byte:
		return v, nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode payload: %w", err)
	}
	return b, nil
}

// logFrame logs "<id>: <dir> <frame>" at INFO when enabled.
func (s *Station) logFrame(dir string, frame []byte) {
	if s.log.Enabled(context.Background(), slog.LevelInfo) {
		s.log.Info(s.prefix + dir + " " + string(frame))
	}
}

func (s *Station) logf(level slog.Level, format string, args ...any) {
	if s.log.Enabled(context.Background(), level) {
		s.log.Log(context.Background(), level, s.prefix+fmt.Sprintf(format, args...))
	}
}
