// Package mqtt is the bus.Bus adapter for an external MQTT v5 broker
// (Mosquitto 2, EMQX, HiveMQ, VerneMQ, AWS IoT Core), used when ocppd runs
// as several gateway and CSMS processes. It is built on autopaho
// (github.com/eclipse/paho.golang), which keeps one connection up and
// reconnects with backoff.
//
// # One connection, many subscriptions
//
// A Client multiplexes every Subscribe over one MQTT connection. Each
// distinct filter is one broker subscription, shared by all local handlers
// of that filter; a gateway subscribing {cp}/out for thousands of stations
// sends thousands of SUBSCRIBEs over that one connection and receives only
// those stations' messages. Incoming PUBLISHes are routed locally:
//
//   - When the broker supports MQTT v5 Subscription Identifiers (Mosquitto,
//     EMQX, HiveMQ do), every filter is subscribed with its own identifier
//     and a message goes exactly to the handlers of the subscription the
//     broker delivered it for. This keeps overlapping subscriptions apart —
//     a "$share/csms/+/in" worker and a "+/in" watcher on one connection
//     each get their own copy, and the shared one only when the broker
//     chose this member of the group.
//   - Otherwise (AWS IoT Core) the topic is matched against a topic trie of
//     all local filters. Overlapping subscriptions on one connection then
//     cannot be told apart; use separate Clients for a shared subscription
//     and an overlapping plain one on such brokers.
//
// Several local handlers of one "$share/{group}/{filter}" are members of
// the group: each message the broker gives this connection goes to one of
// them, in turn.
//
// # Delivery and flow control
//
// Handlers run in arrival order on the connection's delivery goroutine
// (paho's router goroutine, one per connection; autopaho starts the next
// connection only after the previous one's goroutine has returned). The
// client acknowledges a QoS 1 message only after its handlers have returned
// (manual acknowledgement) and announces Options.ReceiveMaximum in CONNECT,
// so the broker never has more unacknowledged messages in flight to us than
// the client buffers: a slow handler slows the broker's sending to this
// connection (backpressure), it does not block the network reader, so
// PUBACKs and SUBACKs keep arriving and a handler may call Publish,
// Subscribe and Unsubscribe. A handler must not call Close.
//
// A handler that hands a message on to a goroutine of its own calls
// bus.Message.Hold before returning and the returned done when it has
// finished with the message (the CSMS: once it has stored and answered
// it): the PUBACK waits for done, so a process killed with messages in
// its queues gets them again from the broker when it comes back under the
// same client id within the session expiry (at least once; the receiver
// must tolerate duplicates). PUBACKs go out in arrival order (MQTT-4.6.0-2):
// a held message delays the acknowledgement of later ones, not their
// delivery, up to Receive Maximum unacknowledged messages — a message held
// forever eventually stops the flow.
//
// # Publishing across reconnects
//
// Publish sends at QoS 1 and returns nil only after the broker's PUBACK.
// While the connection is down it waits for the reconnection, bounded by its
// context; a message already written when the connection dropped stays in
// the persistent session and is retransmitted after the reconnection, and
// Publish still waits for its PUBACK. An error therefore means "not known to
// be delivered", never "not delivered": callers that retry get
// at-least-once delivery. autopaho's PublishViaQueue is not used because it
// reports success when a message is queued, before any PUBACK.
//
// # Sessions
//
// By default the session is persistent (Clean Start false, Session Expiry
// Interval Options.SessionExpiry), so QoS 1 messages in flight either way
// survive a reconnection and the broker keeps the subscriptions. When the
// broker reports no session on reconnection (it expired, or the broker
// restarted without persistence) the client subscribes every filter again.
// Close ends the session (DISCONNECT with Session Expiry Interval 0): a
// cleanly stopped process leaves nothing queued on the broker.
package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/session"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/bus"
)

// Options configures a Client. The zero value of every field but URL is a
// usable default.
type Options struct {
	// URL of the broker: mqtt://host:1883, mqtts://host:8883 (TLS), or
	// ws://host/mqtt and wss://host/mqtt (MQTT over WebSocket). User
	// information in the URL (mqtt://user:pass@host) is used when Username
	// is empty. Without a port, mqtt uses 1883 and mqtts 8883.
	URL string
	// ClientID is the MQTT client identifier. A persistent session is
	// found again only under the same id, so give every process a stable,
	// unique one (the gateway id). Default: "ocppd-{hostname}-{pid}".
	ClientID string
	// Username and Password authenticate the client.
	Username, Password string
	// TLS configures mqtts:// and wss:// connections (nil: system roots).
	TLS *tls.Config
	// CleanStart discards any session the broker holds for ClientID on the
	// first connection. Reconnections never discard the session.
	CleanStart bool
	// SessionExpiry is how long the broker keeps the session (subscriptions
	// and queued QoS 1 messages) after the connection drops. Default 5
	// minutes; it must outlast a broker failover or a network outage.
	SessionExpiry time.Duration
	// KeepAlive is the MQTT keep-alive interval. Default 30 seconds.
	KeepAlive time.Duration
	// ReceiveMaximum bounds the unacknowledged QoS 1 messages the broker
	// may send this client at once (MQTT v5 Receive Maximum). Default 1024.
	ReceiveMaximum uint16
	// AckTimeout bounds the wait for a PUBACK, SUBACK or UNSUBACK on top of
	// the caller's context; it covers a reconnection in between. Default
	// 30 seconds.
	AckTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the exponential backoff between
	// connection attempts (with jitter). Defaults 250ms and 10s.
	ReconnectMin, ReconnectMax time.Duration
	// Logger receives connection events and delivery problems. Default:
	// slog.Default().
	Logger *slog.Logger
	// Will, if set, is the MQTT will of every connection: the broker
	// publishes it at QoS 1 (retained if Will.Retain, with Will.Props as
	// user properties) when the connection ends without a DISCONNECT —
	// the process died, or its host or network failed. Close sends a
	// DISCONNECT, so a clean stop does not publish it.
	Will *bus.Message
	// StartupGrace, if positive, makes a message that arrives within
	// StartupGrace of Start and matches no handler wait (unacknowledged,
	// with the deliveries behind it) until a matching handler is
	// subscribed, instead of being dropped: a persistent session's queued
	// and unacknowledged messages arrive right after the first connection,
	// before the process has subscribed. Default 0: dropped at once.
	StartupGrace time.Duration
	// OnReconnect, if set, runs after every connection but the first is
	// up and its subscriptions are restored: the place to publish again
	// what the Will contradicted while the connection was down. It runs on
	// a goroutine of the client with a context that Close cancels; Close
	// waits for it.
	OnReconnect func(ctx context.Context)

	// noSubIDs makes the client ignore the broker's Subscription
	// Identifier support and route by the topic trie only (tests).
	noSubIDs bool
}

// Client is a bus.Bus over one MQTT v5 connection to an external broker.
// Create it with New, connect with Start, release with Close.
type Client struct {
	opts   Options
	log    *slog.Logger
	server *url.URL

	ctx    context.Context // lifetime of the client; cancelled by Close
	cancel context.CancelFunc

	mu        sync.Mutex
	cm        *autopaho.ConnectionManager
	started   bool
	startedAt time.Time // set by Start before connecting

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	up     atomic.Bool  // a connection is up
	ups    atomic.Int64 // connections set up so far
	subIDs atomic.Bool  // the current connection supports Subscription Identifiers
	// sessionGen counts the broker sessions: it grows on every connection
	// that finds no session, so subscriptions acknowledged in an older
	// generation are known to be gone.
	sessionGen  atomic.Int64
	firstUp     chan struct{} // closed when the first connection is set up
	firstUpOnce sync.Once
	connErr     atomic.Pointer[error]
	reg         registry
	inflight    inflight // Publish calls waiting for a PUBACK
	resubMu     sync.Mutex
	resubCxl    context.CancelFunc
	wg          sync.WaitGroup // resubscription goroutines
}

var _ bus.Bus = (*Client)(nil)

// New returns a Client for opts. It does no I/O; call Start.
func New(opts Options) *Client {
	if opts.ClientID == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "host"
		}
		opts.ClientID = "ocppd-" + host + "-" + strconv.Itoa(os.Getpid())
	}
	if opts.SessionExpiry <= 0 {
		opts.SessionExpiry = 5 * time.Minute
	}
	if opts.KeepAlive <= 0 {
		opts.KeepAlive = 30 * time.Second
	}
	if opts.ReceiveMaximum == 0 {
		opts.ReceiveMaximum = 1024
	}
	if opts.AckTimeout <= 0 {
		opts.AckTimeout = 30 * time.Second
	}
	if opts.ReconnectMin <= 0 {
		opts.ReconnectMin = 250 * time.Millisecond
	}
	if opts.ReconnectMax < opts.ReconnectMin {
		opts.ReconnectMax = max(10*time.Second, opts.ReconnectMin)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		opts:    opts,
		log:     opts.Logger.With("component", "mqtt", "client_id", opts.ClientID),
		ctx:     ctx,
		cancel:  cancel,
		firstUp: make(chan struct{}),
	}
	c.reg.init()
	return c
}

// ClientID returns the MQTT client identifier in use.
func (c *Client) ClientID() string { return c.opts.ClientID }

// parseURL checks the broker URL and fills in the default port.
func parseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, ocppd.Errorf(ocppd.EINVALID, "mqtt: no broker URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, ocppd.Errorf(ocppd.EINVALID, "mqtt: broker URL %q: %v", raw, err)
	}
	var port string
	switch u.Scheme {
	case "mqtt", "tcp":
		port = "1883"
	case "mqtts", "tls", "ssl":
		port = "8883"
	case "ws", "wss":
	default:
		return nil, ocppd.Errorf(ocppd.EINVALID, "mqtt: broker URL %q: scheme must be mqtt, mqtts, ws or wss", raw)
	}
	if u.Hostname() == "" {
		return nil, ocppd.Errorf(ocppd.EINVALID, "mqtt: broker URL %q has no host", raw)
	}
	if port != "" && u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	return u, nil
}

// Start connects to the broker and returns once the first connection is up,
// or with an EUNAVAILABLE error when ctx ends first (the client is then
// closed). After Start the client keeps reconnecting until Close.
func (c *Client) Start(ctx context.Context) error {
	u, err := parseURL(c.opts.URL)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return fmt.Errorf("mqtt: start: %w", bus.ErrClosed)
	}
	if c.started {
		c.mu.Unlock()
		return ocppd.Errorf(ocppd.EINVALID, "mqtt: client already started")
	}
	c.started = true
	c.startedAt = time.Now()
	c.server = u

	user, pass := c.opts.Username, c.opts.Password
	if user == "" && u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
	}
	expiry := uint32(min(c.opts.SessionExpiry/time.Second, 0xFFFFFFFE))
	recvMax := c.opts.ReceiveMaximum
	zero := uint32(0)
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		TlsCfg:                        c.opts.TLS,
		KeepAlive:                     uint16(min(c.opts.KeepAlive/time.Second, 0xFFFF)),
		CleanStartOnInitialConnection: c.opts.CleanStart,
		SessionExpiryInterval:         expiry,
		ReconnectBackoff:              c.backoff,
		ConnectTimeout:                10 * time.Second,
		ConnectUsername:               user,
		ConnectPassword:               []byte(pass),
		OnConnectionUp:                c.onConnectionUp,
		OnConnectionDown:              c.onConnectionDown,
		OnConnectError:                c.onConnectError,
		Errors:                        pahoLogger{c.log, slog.LevelWarn},
		PahoErrors:                    pahoLogger{c.log, slog.LevelWarn},
		ConnectPacketBuilder: func(cp *paho.Connect, _ *url.URL) (*paho.Connect, error) {
			if cp.Properties == nil {
				cp.Properties = &paho.ConnectProperties{}
			}
			cp.Properties.ReceiveMaximum = &recvMax
			return cp, nil
		},
		// Close ends the session: nothing should pile up on the broker
		// for a process that stopped on purpose.
		DisconnectPacketBuilder: func() *paho.Disconnect {
			return &paho.Disconnect{ReasonCode: 0, Properties: &paho.DisconnectProperties{SessionExpiryInterval: &zero}}
		},
		ClientConfig: paho.ClientConfig{
			ClientID:                   c.opts.ClientID,
			OnPublishReceived:          []func(paho.PublishReceived) (bool, error){c.onPublish},
			PacketTimeout:              c.opts.AckTimeout,
			EnableManualAcknowledgment: true,
			SendAcksInterval:           5 * time.Millisecond,
		},
	}
	if w := c.opts.Will; w != nil {
		cfg.WillMessage = &paho.WillMessage{Retain: w.Retain, QoS: 1, Topic: w.Topic, Payload: w.Payload}
		cfg.WillProperties = &paho.WillProperties{}
		for k, v := range w.Props {
			cfg.WillProperties.User = append(cfg.WillProperties.User, paho.UserProperty{Key: k, Value: v})
		}
	}
	cm, err := autopaho.NewConnection(c.ctx, cfg)
	if err != nil {
		c.mu.Unlock()
		return ocppd.Errorf(ocppd.EINVALID, "mqtt: %v", err)
	}
	c.cm = cm
	c.mu.Unlock()

	if _, err := c.connected(ctx); err != nil {
		msg := fmt.Sprintf("mqtt: connect to %s: %v", u.Redacted(), err)
		if last := c.connErr.Load(); last != nil {
			msg += fmt.Sprintf(" (last attempt: %v)", *last)
		}
		_ = c.Close()
		return ocppd.Errorf(ocppd.EUNAVAILABLE, "%s", msg)
	}
	return nil
}

// backoff is the delay before connection attempt n: exponential from
// ReconnectMin to ReconnectMax with full jitter over the upper half, so that
// many processes cut off by one broker restart do not reconnect in step.
func (c *Client) backoff(attempt int) time.Duration {
	if attempt <= 0 {
		return 0
	}
	d := c.opts.ReconnectMin
	for i := 1; i < attempt && d < c.opts.ReconnectMax; i++ {
		d *= 2
	}
	d = min(d, c.opts.ReconnectMax)
	return d/2 + rand.N(d/2+1)
}

func (c *Client) onConnectError(err error) {
	c.connErr.Store(&err)
	if !c.closed.Load() {
		c.log.Warn("mqtt connect failed", "broker", c.server.Redacted(), "err", err)
	}
}

// Connected reports whether the connection to the broker is up (for
// readiness checks; Publish and Subscribe wait for it themselves).
func (c *Client) Connected() bool { return c.up.Load() && !c.closed.Load() }

func (c *Client) onConnectionDown() bool {
	c.up.Store(false)
	if c.closed.Load() {
		return false
	}
	c.log.Warn("mqtt connection lost; reconnecting", "broker", c.server.Redacted())
	return true
}

// onConnectionUp runs on autopaho's goroutine and must not block: it records
// the broker's capabilities and starts the resubscription in the
// background when the broker has no session for us.
func (c *Client) onConnectionUp(cm *autopaho.ConnectionManager, ca *paho.Connack) {
	subIDs := ca.Properties == nil || ca.Properties.SubIDAvailable
	reconnect := c.ups.Add(1) > 1
	c.subIDs.Store(subIDs && !c.opts.noSubIDs)
	if !ca.SessionPresent {
		c.sessionGen.Add(1)
		if reconnect {
			c.inflight.sessionLost()
		}
	}
	c.up.Store(true)
	c.firstUpOnce.Do(func() { close(c.firstUp) })
	c.log.Info("mqtt connected", "broker", c.server.Redacted(), "session_present", ca.SessionPresent, "subscription_ids", subIDs)

	c.resubMu.Lock()
	defer c.resubMu.Unlock()
	if c.resubCxl != nil {
		c.resubCxl() // a resubscription for an older connection is moot
	}
	if c.closed.Load() {
		return
	}
	ctx, cancel := context.WithCancel(c.ctx)
	c.resubCxl = cancel
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if ca.SessionPresent {
			c.flushPendingUnsubscribes(ctx, cm)
			c.refreshShared(ctx)
		} else {
			c.reg.clearPendingUnsubscribes()
			c.resubscribeAll(ctx)
		}
		if reconnect && c.opts.OnReconnect != nil && ctx.Err() == nil {
			c.opts.OnReconnect(ctx)
		}
	}()
}

// errNotSent reports whether a request failed before it entered the
// session (no connection at that moment), so that sending it again after the
// reconnection cannot duplicate it.
func errNotSent(err error) bool {
	return errors.Is(err, autopaho.ConnectionDownError) || errors.Is(err, session.ErrNoConnection)
}

// connected waits until a connection is up (or ctx/Close ends the wait).
func (c *Client) connected(ctx context.Context) (*autopaho.ConnectionManager, error) {
	c.mu.Lock()
	cm := c.cm
	c.mu.Unlock()
	if cm == nil {
		return nil, ocppd.Errorf(ocppd.EUNAVAILABLE, "mqtt: client not started")
	}
	select {
	case <-c.firstUp:
	case <-ctx.Done():
		return nil, c.waitErr(ctx)
	}
	if err := cm.AwaitConnection(ctx); err != nil {
		return nil, c.waitErr(ctx)
	}
	return cm, nil
}

// waitErr is the error of a wait for the connection that ended.
func (c *Client) waitErr(ctx context.Context) error {
	if c.closed.Load() {
		return bus.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ocppd.Errorf(ocppd.EUNAVAILABLE, "mqtt: not connected to the broker"), err)
	}
	return ocppd.Errorf(ocppd.EUNAVAILABLE, "mqtt: not connected to the broker")
}

// lifetime returns ctx cancelled also when the client closes.
func (c *Client) lifetime(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(c.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// Publish sends m at QoS 1 with m.Props as MQTT v5 user properties and
// returns once the broker has acknowledged it (PUBACK). While the
// connection is down it waits for the reconnection, bounded by ctx. An
// error means the message is not known to be delivered; it may still be
// (see the package comment). Errors wrap bus.ErrClosed after Close.
func (c *Client) Publish(ctx context.Context, m bus.Message) error {
	if c.closed.Load() {
		return fmt.Errorf("mqtt: publish %s: %w", m.Topic, bus.ErrClosed)
	}
	if err := validTopic(m.Topic); err != nil {
		return err
	}
	p := &paho.Publish{QoS: 1, Retain: m.Retain, Topic: m.Topic, Payload: m.Payload}
	if len(m.Props) > 0 {
		p.Properties = &paho.PublishProperties{User: make(paho.UserProperties, 0, len(m.Props))}
		for k, v := range m.Props {
			p.Properties.User = append(p.Properties.User, paho.UserProperty{Key: k, Value: v})
		}
	}
	ctx, cancel := c.lifetime(ctx)
	defer cancel()
	for {
		cm, err := c.connected(ctx)
		if err == nil {
			var resp *paho.PublishResponse
			pctx, untrack := c.inflight.track(ctx)
			resp, err = cm.Publish(pctx, p)
			lost := untrack()
			if err == nil {
				return nil
			}
			if lost && ctx.Err() == nil {
				// The broker came back without our session: paho drops
				// the session's unacknowledged messages without telling
				// their senders, so this PUBACK would never come. The
				// broker may have the message or not: send it again
				// (at-least-once).
				continue
			}
			if resp != nil && resp.ReasonCode >= 0x80 {
				return ocppd.Errorf(ocppd.EUNAVAILABLE, "mqtt: publish %s: broker refused: reason code 0x%02x %s", m.Topic, resp.ReasonCode, resp.Properties.ReasonString)
			}
			if errNotSent(err) {
				// Not stored in the session: safe to send again once the
				// connection is back.
				if !sleep(ctx, 10*time.Millisecond) {
					err = ctx.Err()
				} else {
					continue
				}
			}
		}
		if c.closed.Load() {
			return fmt.Errorf("mqtt: publish %s: %w", m.Topic, bus.ErrClosed)
		}
		return fmt.Errorf("%w: %w", ocppd.Errorf(ocppd.EUNAVAILABLE, "mqtt: publish %s: not acknowledged by the broker", m.Topic), err)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Close ends the session (DISCONNECT), stops reconnecting and waits for the
// client's goroutines. Publish and Subscribe calls still waiting return
// errors wrapping bus.ErrClosed. Close is idempotent; it must not be called
// from a handler.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.mu.Lock()
		cm := c.cm
		c.mu.Unlock()
		// Cancelling the lifetime context makes autopaho send DISCONNECT
		// and exit, and unblocks Publish and Subscribe calls waiting in
		// handlers, so that the delivery goroutine can finish.
		c.cancel()
		if cm != nil {
			t := time.NewTimer(closeTimeout)
			defer t.Stop()
			select {
			case <-cm.Done():
			case <-t.C:
				c.closeErr = ocppd.Errorf(ocppd.EINTERNAL, "mqtt: close: connection did not shut down within %v (a handler still running?)", closeTimeout)
			}
		}
		c.wg.Wait()
	})
	return c.closeErr
}

// closeTimeout bounds how long Close waits for the connection to shut down.
const closeTimeout = 15 * time.Second

// pahoLogger adapts slog to paho's Println/Printf logger.
type pahoLogger struct {
	l     *slog.Logger
	level slog.Level
}

func (p pahoLogger) Println(v ...any) {
	p.l.Log(context.Background(), p.level, "paho: "+fmt.Sprint(v...))
}

func (p pahoLogger) Printf(format string, v ...any) {
	p.l.Log(context.Background(), p.level, "paho: "+fmt.Sprintf(format, v...))
}

// errSessionLost cancels a Publish whose session the broker no longer has.
var errSessionLost = errors.New("mqtt: broker session lost")

// inflight tracks the Publish calls waiting for their PUBACK, so that they
// can be told when the session they were sent in is gone.
type inflight struct {
	mu    sync.Mutex
	next  uint64
	calls map[uint64]context.CancelCauseFunc
}

// track returns ctx for one PUBLISH, and untrack, which ends the tracking
// and reports whether the session was lost meanwhile.
func (f *inflight) track(ctx context.Context) (context.Context, func() (lost bool)) {
	pctx, cancel := context.WithCancelCause(ctx)
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[uint64]context.CancelCauseFunc{}
	}
	f.next++
	id := f.next
	f.calls[id] = cancel
	f.mu.Unlock()
	return pctx, func() bool {
		f.mu.Lock()
		delete(f.calls, id)
		f.mu.Unlock()
		lost := errors.Is(context.Cause(pctx), errSessionLost)
		cancel(nil)
		return lost
	}
}

// sessionLost cancels every tracked call with errSessionLost.
func (f *inflight) sessionLost() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, cancel := range f.calls {
		cancel(errSessionLost)
		delete(f.calls, id)
	}
}
