package sim

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"

	"github.com/ocppd/ocppd/ocpp"
)

// handshakeTimeout bounds the WebSocket upgrade when ctx has no earlier
// deadline.
const handshakeTimeout = 10 * time.Second

// maxQueuedCalls bounds the CSMS-initiated CALLs waiting for the handler
// goroutine. The CSMS should have at most one outstanding (OCPP-J); more
// are answered at once with an InternalError instead of piling up.
const maxQueuedCalls = 8

// HandshakeError is returned by Connect when the server answered the
// WebSocket upgrade request with an HTTP status other than 101, e.g. 401
// when credentials are required or 404 for an unknown station.
type HandshakeError struct {
	StatusCode int    // e.g. 401
	Status     string // e.g. "401 Unauthorized"
	Body       string // the start of the response body, if it could be read
}

// Error returns "websocket upgrade refused: <status>[: <body>]".
func (e *HandshakeError) Error() string {
	s := "websocket upgrade refused: " + e.Status
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// Connect dials the CSMS at Options.URL + "/" + ID and performs the
// WebSocket handshake offering Options.Version as the only subprotocol. It
// fails if the server does not select that subprotocol, answers the
// upgrade with another HTTP status (*HandshakeError), or if the station is
// already connected or closed.
func (s *Station) Connect(ctx context.Context) error {
	_, err := s.connect(ctx)
	return err
}

func (s *Station) connect(ctx context.Context) (*conn, error) {
	s.mu.Lock()
	closed, connected := s.closed, s.cur != nil
	s.mu.Unlock()
	switch {
	case closed:
		return nil, ErrClosed
	case connected:
		return nil, fmt.Errorf("connect %s: already connected", s.opts.ID)
	case !s.opts.Version.Valid():
		return nil, fmt.Errorf("connect %s: unsupported OCPP version %q: supported are %s", s.opts.ID, s.opts.Version, ocpp.SupportedSubprotocols())
	}
	addr, hostport, err := stationURL(s.opts.URL, s.opts.ID)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", s.opts.ID, err)
	}
	c, err := s.dial(ctx, addr, hostport)
	if err != nil {
		return nil, fmt.Errorf("connect %s to %s: %w", s.opts.ID, addr, err)
	}

	s.mu.Lock()
	if s.closed || s.cur != nil {
		closed := s.closed
		s.mu.Unlock()
		c.closing.Store(true)
		_ = c.ws.WriteClose(1000, nil)
		if closed {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("connect %s: already connected", s.opts.ID)
	}
	s.cur = c
	s.wg.Add(2)
	c.wg.Add(2)
	s.mu.Unlock()

	go func() {
		defer s.wg.Done()
		defer c.wg.Done()
		c.ws.ReadLoop()
	}()
	go func() {
		defer s.wg.Done()
		defer c.wg.Done()
		c.serveCalls()
	}()
	s.logf(levelInfo, "connected to %s with subprotocol %s", addr, s.opts.Version)
	return c, nil
}

// dial opens the TCP (and TLS) connection and performs the upgrade. ctx
// cancels every step.
func (s *Station) dial(ctx context.Context, addr, hostport string) (*conn, error) {
	dialer := s.opts.Dialer
	if dialer == nil {
		dialer = &net.Dialer{Timeout: 10 * time.Second}
	}
	nc, err := dialer.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return nil, err
	}
	// Closing the socket is the only way to interrupt gws's handshake.
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	if strings.HasPrefix(addr, "wss:") {
		cfg := &tls.Config{}
		if s.opts.TLSConfig != nil {
			cfg = s.opts.TLSConfig.Clone()
		}
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(hostport)
			cfg.ServerName = host
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			stop()
			_ = nc.Close()
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		nc = tc
	}

	hdr := http.Header{}
	for k, v := range s.opts.Header {
		hdr[k] = append([]string(nil), v...)
	}
	hdr.Set("Sec-WebSocket-Protocol", string(s.opts.Version))
	if pw := s.Password(); pw != "" {
		// Security profiles 1 and 2: the user name is the station id
		// (A00.FR.204), the password the AuthorizationKey/BasicAuthPassword.
		hdr.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(s.opts.ID+":"+pw)))
	}
	timeout := handshakeTimeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = max(time.Until(d), time.Millisecond)
	}
	c := newConn(s)
	ws, resp, err := gws.NewClientFromConn(c, &gws.ClientOption{
		Addr:             addr,
		RequestHeader:    hdr,
		HandshakeTimeout: timeout,
	}, nc)
	if !stop() {
		if err == nil {
			_ = ws.NetConn().Close()
		}
		return nil, ctx.Err()
	}
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			he := &HandshakeError{StatusCode: resp.StatusCode, Status: resp.Status}
			if resp.Body != nil {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
				he.Body = strings.TrimSpace(string(b))
			}
			return nil, he
		}
		if errors.Is(err, gws.ErrSubprotocolNegotiation) {
			return nil, fmt.Errorf("server did not accept subprotocol %s", s.opts.Version)
		}
		return nil, fmt.Errorf("websocket handshake: %w", err)
	}
	if got := ws.SubProtocol(); got != string(s.opts.Version) {
		_ = ws.WriteClose(1002, []byte("subprotocol mismatch"))
		return nil, fmt.Errorf("server selected subprotocol %q, not %s", got, s.opts.Version)
	}
	c.ws = ws
	return c, nil
}

// stationURL appends the percent-encoded id to base's path and returns the
// URL and the host:port to dial.
func stationURL(base, id string) (addr, hostport string, err error) {
	if base == "" {
		return "", "", errors.New("no URL given")
	}
	if id == "" {
		return "", "", errors.New("charge point id is empty")
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", "", fmt.Errorf("bad URL %q: %w", base, err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return "", "", fmt.Errorf("bad URL %q: scheme must be ws or wss", base)
	}
	if u.Host == "" {
		return "", "", fmt.Errorf("bad URL %q: no host", base)
	}
	raw := strings.TrimSuffix(u.EscapedPath(), "/") + "/" + url.PathEscape(id)
	p, err := url.PathUnescape(raw)
	if err != nil {
		return "", "", fmt.Errorf("bad URL %q: %w", base, err)
	}
	u.Path, u.RawPath = p, raw
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "wss" {
			port = "443"
		}
	}
	return u.String(), net.JoinHostPort(u.Hostname(), port), nil
}

// reply is the answer to the station's own CALL.
type reply struct {
	payload json.RawMessage
	err     error
}

// conn is one WebSocket connection of a station and the gws event handler
// for it. Frames are read on gws's read loop (one goroutine, in order);
// CSMS-initiated CALLs are handed to serveCalls, another goroutine, so that
// a handler may block — even on the station's own Call — without stopping
// the reader.
type conn struct {
	s      *Station
	ws     *gws.Conn
	ctx    context.Context // ends with the connection; handlers get it
	cancel context.CancelFunc
	done   chan struct{} // closed when the connection ended
	err    error         // why it ended; read only after done

	closing atomic.Bool // the station closed it

	pmu     sync.Mutex
	pending map[string]chan reply

	calls chan ocpp.Frame
	wg    sync.WaitGroup // the read loop and serveCalls
}

func newConn(s *Station) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	return &conn{
		s:       s,
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
		pending: map[string]chan reply{},
		calls:   make(chan ocpp.Frame, maxQueuedCalls),
	}
}

// write sends one text frame, logging it first.
func (c *conn) write(frame []byte) error {
	c.s.logFrame("send", frame)
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.s.opts.CallTimeout))
	if err := c.ws.WriteMessage(gws.OpcodeText, frame); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// close sends a close frame with code and reason and drops the socket.
func (c *conn) close(code int, reason string) {
	c.closing.Store(true)
	_ = c.ws.WriteClose(uint16(code), []byte(reason))
}

// wait blocks until the connection's goroutines ended.
func (c *conn) wait() {
	<-c.done
	c.wg.Wait()
}

func (c *conn) expect(id string) chan reply {
	ch := make(chan reply, 1)
	c.pmu.Lock()
	c.pending[id] = ch
	c.pmu.Unlock()
	return ch
}

func (c *conn) forget(id string) {
	c.pmu.Lock()
	delete(c.pending, id)
	c.pmu.Unlock()
}

// OnOpen implements gws.Event.
func (c *conn) OnOpen(*gws.Conn) {}

// OnPing answers a ping with a pong echoing its payload (RFC 6455 §5.5.3;
// gws's default pong is empty).
func (c *conn) OnPing(ws *gws.Conn, payload []byte) { _ = ws.WritePong(payload) }

// OnPong implements gws.Event.
func (c *conn) OnPong(*gws.Conn, []byte) {}

// OnClose records why the connection ended and releases everything that
// waits on it.
func (c *conn) OnClose(_ *gws.Conn, err error) {
	var ce *gws.CloseError
	switch {
	case errors.As(err, &ce):
		c.err = &CloseError{Code: int(ce.Code), Reason: string(ce.Reason)}
	case c.closing.Load():
		c.err = fmt.Errorf("%w: closed by the station", ErrConnectionLost)
		c.s.mu.Lock()
		if c.s.closed {
			c.err = ErrClosed
		}
		c.s.mu.Unlock()
	case err == nil:
		c.err = ErrConnectionLost
	default:
		c.err = fmt.Errorf("%w: %v", ErrConnectionLost, err)
	}
	c.s.mu.Lock()
	if c.s.cur == c {
		c.s.cur = nil
	}
	c.s.mu.Unlock()
	switch {
	case errors.Is(c.err, ErrClosed):
	case c.closing.Load():
		c.s.logf(levelInfo, "connection closed by the station")
	default:
		c.s.logf(levelInfo, "connection closed: %v", c.err)
	}
	c.cancel()
	close(c.done)
}

// OnMessage dispatches one frame: answers to the station's CALL go to the
// waiting Call, CSMS CALLs to serveCalls; anything else is logged. It never
// panics on bad input.
func (c *conn) OnMessage(_ *gws.Conn, msg *gws.Message) {
	data := bytes.Clone(msg.Bytes())
	op := msg.Opcode
	_ = msg.Close()
	s := c.s
	s.logFrame("receive", data)
	if cap(s.frames) > 0 {
		select {
		case s.frames <- data:
		default:
			s.dropped.Add(1)
		}
	}
	if op != gws.OpcodeText {
		s.logf(levelWarn, "ignoring a binary frame (OCPP-J uses text frames)")
		return
	}
	v := s.opts.Version
	f, ferr := ocpp.Parse(data)
	if ferr == nil && !v.Supports(f.Type) {
		ferr = &ocpp.FrameError{Kind: ocpp.ErrMessageTypeNotSupported, ID: f.ID, Type: f.Type,
			Message: "message type " + f.Type.String() + " is not defined in " + string(v)}
	}
	if ferr != nil {
		s.logf(levelWarn, "malformed frame: %s", ferr.Message)
		if ans := ocpp.CallErrorFrame(v, ferr); ans != nil {
			_ = c.write(ans)
		}
		return
	}
	switch f.Type {
	case ocpp.Call:
		if s.rejected.Load() {
			// OCPP 1.6 §4.2: while Rejected, the Charge Point SHALL NOT
			// respond to any Central System initiated message.
			s.logf(levelWarn, "not answering %s while the registration is Rejected", f.Action)
			return
		}
		select {
		case c.calls <- f:
		default:
			s.logf(levelWarn, "too many CSMS calls queued; refusing %s", f.Action)
			_ = c.write(ocpp.AppendCallError(nil, f.ID, v.ErrorCode(ocpp.ErrInternal), "too many calls outstanding", nil))
		}
	case ocpp.CallResult, ocpp.CallError:
		c.pmu.Lock()
		ch := c.pending[f.ID]
		delete(c.pending, f.ID)
		c.pmu.Unlock()
		if ch == nil {
			s.logf(levelWarn, "unexpected %s with id %s: no CALL of ours is waiting for it", f.Type, f.ID)
			return
		}
		if f.Type == ocpp.CallResult {
			ch <- reply{payload: f.Payload}
		} else {
			ch <- reply{err: &CallError{Code: f.ErrorCode, Description: f.ErrorDescription, Details: f.Payload}}
		}
	case ocpp.CallResultError:
		s.logf(levelWarn, "the CSMS refused our answer %s: %s %s", f.ID, f.ErrorCode, f.ErrorDescription)
	case ocpp.Send:
		s.logf(levelWarn, "ignoring SEND %s from the CSMS", f.Action)
	}
}

// serveCalls answers CSMS-initiated CALLs one at a time, in order, until
// the connection ends.
func (c *conn) serveCalls() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case f := <-c.calls:
			ans, next := c.answer(f)
			if err := c.write(ans); err != nil {
				c.s.logf(levelWarn, "answer to %s not sent: %v", f.Action, err)
				continue
			}
			if next != nil {
				c.s.goFollow(next)
			}
		}
	}
}

// answer runs the handler of f's action and builds the CALLRESULT or
// CALLERROR frame, and returns the follow-up to run once it is sent.
func (c *conn) answer(f ocpp.Frame) ([]byte, func(context.Context)) {
	v := c.s.opts.Version
	h := c.s.handler(f.Action)
	if h == nil {
		return ocpp.AppendCallError(nil, f.ID, v.ErrorCode(ocpp.ErrNotImplemented),
			"action "+f.Action+" is not implemented by this charge point", nil), nil
	}
	res, err := runHandler(c.ctx, h, f.Payload)
	var next func(context.Context)
	if fu, ok := res.(*followUp); ok && err == nil {
		res, next = fu.result, fu.next
	}
	var payload json.RawMessage
	if err == nil {
		payload, err = marshalPayload(res)
		if err == nil && !isObject(payload) {
			err = fmt.Errorf("handler for %s returned a non-object payload", f.Action)
		}
	}
	if err != nil {
		var ce *CallError
		if errors.As(err, &ce) {
			return ocpp.AppendCallError(nil, f.ID, ce.Code, ce.Description, ce.Details), nil
		}
		return ocpp.AppendCallError(nil, f.ID, v.ErrorCode(ocpp.ErrInternal), err.Error(), nil), nil
	}
	return ocpp.AppendCallResult(nil, f.ID, payload), next
}

func runHandler(ctx context.Context, h HandlerFunc, payload json.RawMessage) (res any, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return h(ctx, payload)
}

func isObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) >= 2 && b[0] == '{' && json.Valid(b)
}
