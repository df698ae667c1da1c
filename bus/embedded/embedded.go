// Package embedded is the in-process MQTT v5 broker behind `ocppd serve`:
// a bus.Bus for the gateway and the CSMS in the same process, with an
// optional TCP listener so that outside MQTT tools (mosquitto_sub,
// mosquitto_pub, MQTT Explorer, paho clients, MQTT 3.1.1 and 5) see and
// inject the same traffic.
//
// It is built on github.com/wind-c/comqtt/v2 with its inline client:
// Publish injects a QoS 1 PUBLISH into the broker as if a client had sent
// it, and Subscribe registers an inline subscription.
//
// # Delivery runs on the publisher's goroutine
//
// Handlers are called synchronously, on the goroutine that published the
// message: the caller of Publish for in-process publishers, the reading
// goroutine of the connection for TCP clients. Publish returns after every
// in-process handler has returned. This keeps the messages of one
// publisher in order for every subscriber without queues; the price is
// that a handler must not block for long — hand slow work to a goroutine
// or a queue of your own. A handler may call Publish, Subscribe and
// Unsubscribe.
//
// # Shared subscriptions
//
// comqtt does not deliver "$share/{group}/{filter}" to inline
// subscriptions, so the adapter implements groups itself: one inline
// subscription per (group, filter) and round robin over the group's
// handlers; each matching message goes to exactly one of them. TCP clients
// use the broker's native shared subscriptions. A group with members on
// both sides gets each message once on each side.
package embedded

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/wind-c/comqtt/v2/mqtt"
	"github.com/wind-c/comqtt/v2/mqtt/packets"

	"github.com/ocppd/ocppd/bus"
)

// Defaults of Options.
const (
	DefaultClientID      = "ocppd"
	DefaultMaxPacketSize = 4 << 20 // 4 MiB
)

// Options configures a Broker. The zero value is an in-process broker
// without a listener.
type Options struct {
	// ListenAddr is the TCP address of the MQTT listener for outside tools,
	// e.g. ":1883" or "127.0.0.1:0". "" means no listener.
	ListenAddr string
	// ClientID is the client id in-process messages are published as when
	// Message.ClientID is empty; default DefaultClientID.
	ClientID string
	// MaxPacketSize bounds the MQTT packets TCP clients may send, in bytes;
	// default DefaultMaxPacketSize.
	MaxPacketSize int
	// Logger receives the adapter's logs; default slog.Default(). comqtt's
	// own logging goes to the same handler, at warning level and above.
	Logger *slog.Logger
	// Users may log in to the listener; without credentials a client is
	// admitted only when ListenAddr is a loopback address (see auth.go).
	Users []User
}

// Broker is the embedded MQTT broker. Create it with New; Publish and
// Subscribe work from then on, Start opens the listener, Close ends it.
type Broker struct {
	opts Options
	log  *slog.Logger
	srv  *mqtt.Server
	ln   atomic.Pointer[listener] // nil until Start, and without ListenAddr

	closed atomic.Bool
	nextID atomic.Int64 // inline subscription identifiers

	// lifeMu orders Start and Close. It is never held while handlers run
	// on other goroutines' behalf, so a handler may use the broker while
	// Close waits for the connections to end.
	lifeMu  sync.Mutex
	started bool

	mu     sync.Mutex
	groups map[groupKey]*group // adapter-side shared subscriptions

	pubMu sync.RWMutex
	pubs  map[string]*mqtt.Client // inline publisher clients by client id
}

var _ bus.Bus = (*Broker)(nil)

// maxPublishers bounds the cache of inline publisher clients; beyond it a
// client is made for each message (cheap, and not expected: ids are few).
const maxPublishers = 1024

// New returns a broker with opts; it does no I/O.
func New(opts Options) *Broker {
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.MaxPacketSize <= 0 {
		opts.MaxPacketSize = DefaultMaxPacketSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	log := opts.Logger.With("component", "mqtt")

	caps := *mqtt.DefaultServerCapabilities // a copy: comqtt writes to it
	caps.MaximumPacketSize = uint32(opts.MaxPacketSize)
	srv := mqtt.New(&mqtt.Options{
		Capabilities:           &caps,
		InlineClient:           true,
		Logger:                 slog.New(minLevel{h: log.Handler(), min: slog.LevelWarn}),
		SysTopicResendInterval: 10,
	})
	// One hook decides who may connect and what they may do: see auth.go.
	if err := srv.AddHook(newAuthHook(opts), nil); err != nil {
		// Only possible for a hook whose Init fails; ours does not.
		panic(fmt.Sprintf("embedded: add auth hook: %v", err))
	}
	return &Broker{
		opts:   opts,
		log:    log,
		srv:    srv,
		groups: map[groupKey]*group{},
		pubs:   map[string]*mqtt.Client{},
	}
}

// Start opens the TCP listener (if Options.ListenAddr is set) and starts
// the broker's housekeeping. If the address is taken, the error satisfies
// errors.Is(err, syscall.EADDRINUSE) and the broker is left unstarted; to
// run on without the listener, make a new Broker with an empty ListenAddr
// (New is cheap) and start that:
//
//	b := embedded.New(opts)
//	if err := b.Start(); errors.Is(err, syscall.EADDRINUSE) {
//		log.Warn("MQTT port taken; running without the MQTT listener", "addr", opts.ListenAddr)
//		opts.ListenAddr = ""
//		b = embedded.New(opts)
//		err = b.Start()
//	}
func (b *Broker) Start() error {
	b.lifeMu.Lock()
	defer b.lifeMu.Unlock()
	if b.closed.Load() {
		return fmt.Errorf("start mqtt broker: %w", bus.ErrClosed)
	}
	if b.started {
		return errors.New("start mqtt broker: already started")
	}
	var ln *listener
	if b.opts.ListenAddr != "" {
		nl, err := net.Listen("tcp", b.opts.ListenAddr)
		if err != nil {
			return fmt.Errorf("mqtt listener on %s: %w", b.opts.ListenAddr, err)
		}
		ln = newListener(nl, b.log, func(c net.Conn) error {
			return b.srv.EstablishConnection(listenerID, c)
		})
	}
	if err := b.srv.Serve(); err != nil {
		if ln != nil {
			_ = ln.nl.Close()
		}
		return fmt.Errorf("start mqtt broker: %w", err)
	}
	b.started = true
	if ln != nil {
		ln.start()
		b.ln.Store(ln)
		b.log.Info("mqtt listener started", "addr", ln.Addr().String())
	}
	return nil
}

// Addr returns the address of the TCP listener, or nil if there is none
// (not started, or no ListenAddr).
func (b *Broker) Addr() net.Addr {
	if ln := b.ln.Load(); ln != nil {
		return ln.Addr()
	}
	return nil
}

// Close stops the listener, disconnects TCP clients, waits for their
// connections to end and ends every subscription. It is idempotent;
// Publish and Subscribe fail with bus.ErrClosed afterwards. A handler must
// not call Close: Close waits for the connection the handler runs on.
func (b *Broker) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	b.lifeMu.Lock() // waits for a Start in progress
	defer b.lifeMu.Unlock()
	if ln := b.ln.Load(); ln != nil {
		ln.close(b.disconnectClients)
	}
	if err := b.srv.Close(); err != nil {
		return fmt.Errorf("close mqtt broker: %w", err)
	}
	return nil
}

// disconnectClients sends every TCP client a DISCONNECT (server shutting
// down) and closes its connection.
func (b *Broker) disconnectClients() {
	for _, cl := range b.srv.Clients.GetAll() {
		if cl.Net.Listener == listenerID && !cl.Closed() {
			_ = b.srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
		}
	}
}

// Publish delivers m at QoS 1 as if client m.ClientID (default
// Options.ClientID) had sent it, with m.Props as MQTT v5 user properties.
// In-process handlers run before Publish returns, on this goroutine; TCP
// subscribers get the message queued on their connections.
func (b *Broker) Publish(ctx context.Context, m bus.Message) error {
	if b.closed.Load() {
		return fmt.Errorf("publish %s: %w", m.Topic, bus.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish %s: %w", m.Topic, err)
	}
	if err := validTopic(m.Topic); err != nil {
		return fmt.Errorf("publish %q: %w", m.Topic, err)
	}
	id := m.ClientID
	if id == "" {
		id = b.opts.ClientID
	}
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1, Retain: m.Retain},
		TopicName:   m.Topic,
		Payload:     m.Payload,
		PacketID:    1, // required for QoS 1; comqtt never acknowledges inline packets
	}
	if len(m.Props) > 0 {
		user := make([]packets.UserProperty, 0, len(m.Props))
		for k, v := range m.Props {
			user = append(user, packets.UserProperty{Key: k, Val: v})
		}
		// A stable order on the wire, whatever the map's.
		slices.SortFunc(user, func(a, b packets.UserProperty) int { return cmp.Compare(a.Key, b.Key) })
		pk.Properties.User = user
	}
	if err := b.srv.InjectPacket(b.publisher(id), pk); err != nil {
		return fmt.Errorf("publish %s: %w", m.Topic, err)
	}
	return nil
}

// publisher returns the inline client that publishes as id. comqtt sets a
// message's origin from the injecting client, which is how subscribers
// learn the publisher's id. These clients are not registered with the
// broker, so they never clash with a TCP client of the same id.
func (b *Broker) publisher(id string) *mqtt.Client {
	b.pubMu.RLock()
	cl, ok := b.pubs[id]
	b.pubMu.RUnlock()
	if ok {
		return cl
	}
	cl = b.srv.NewClient(nil, mqtt.LocalListener, id, true)
	cl.Properties.ProtocolVersion = 5
	b.pubMu.Lock()
	if prev, ok := b.pubs[id]; ok {
		cl = prev
	} else if len(b.pubs) < maxPublishers {
		b.pubs[id] = cl
	}
	b.pubMu.Unlock()
	return cl
}

// Subscribe calls h for every message whose topic matches filter, on the
// publisher's goroutine (see the package documentation). A filter
// "$share/{group}/{f}" joins h to a shared subscription: each message
// matching f goes to one handler of the group, in turn.
func (b *Broker) Subscribe(ctx context.Context, filter string, h bus.Handler) (bus.Subscription, error) {
	if b.closed.Load() {
		return nil, fmt.Errorf("subscribe %s: %w", filter, bus.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", filter, err)
	}
	if h == nil {
		return nil, fmt.Errorf("subscribe %s: nil handler", filter)
	}
	groupName, f := bus.SplitShared(filter)
	if strings.HasPrefix(filter, "$share/") && (groupName == "" || strings.ContainsAny(groupName, "+#")) {
		return nil, fmt.Errorf("subscribe %q: invalid shared subscription", filter)
	}
	if err := validFilter(f); err != nil {
		return nil, fmt.Errorf("subscribe %q: %w", filter, err)
	}
	s := &subscription{b: b, filter: f, h: h}
	s.active.Store(true)
	if groupName != "" {
		b.joinGroup(groupKey{groupName, f}, s)
		return s, nil
	}
	s.ids = b.inlineSubscribe(f, s.deliver)
	return s, nil
}

// inlineSubscribe registers fn for filter with comqtt and returns the
// identifiers to unsubscribe with.
func (b *Broker) inlineSubscribe(filter string, fn func(packets.Packet)) []int {
	id := int(b.nextID.Add(1))
	sub := func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		if pk.TopicName != "" && pk.TopicName[0] == '$' && (filter[0] == '+' || filter[0] == '#') {
			return // wildcards do not match $SYS and friends (MQTT-4.7.2-1)
		}
		fn(pk)
	}
	// The errors are for a broker without an inline client, a nil handler
	// and an invalid filter: none can happen here.
	_ = b.srv.Subscribe(filter, id, sub)
	ids := []int{id}
	if parent, ok := strings.CutSuffix(filter, "/#"); ok {
		// "a/#" also matches "a" (MQTT-4.7.1-2), which comqtt 2.6.5
		// misses for inline subscriptions. Subscribing the parent level
		// under the same identifier covers it, and cannot deliver twice:
		// comqtt collects matches by identifier.
		_ = b.srv.Subscribe(parent, id, sub)
		ids = append(ids, id)
	}
	return ids
}

func (b *Broker) inlineUnsubscribe(filter string, ids []int) {
	for i, id := range ids {
		f := filter
		if i == 1 {
			f = strings.TrimSuffix(filter, "/#")
		}
		_ = b.srv.Unsubscribe(f, id)
	}
}

// subscription is one Subscribe call.
type subscription struct {
	b      *Broker
	filter string // without "$share/{group}/"
	h      bus.Handler
	ids    []int  // comqtt identifiers of a plain subscription
	group  *group // the group of a shared subscription
	active atomic.Bool
	once   sync.Once
}

// deliver converts pk and calls the handler, unless the subscription has
// ended.
func (s *subscription) deliver(pk packets.Packet) {
	if !s.active.Load() || s.b.closed.Load() {
		return
	}
	s.h(message(pk))
}

// Unsubscribe ends the subscription: once it returns, the handler is not
// called again (a call already running may still finish). It is idempotent
// and never fails.
func (s *subscription) Unsubscribe(context.Context) error {
	s.once.Do(func() {
		s.active.Store(false)
		if s.group != nil {
			s.b.leaveGroup(s)
			return
		}
		s.b.inlineUnsubscribe(s.filter, s.ids)
	})
	return nil
}

// message converts a PUBLISH to a bus.Message. Payload is shared with the
// packet, as the bus.Handler contract allows.
func message(pk packets.Packet) bus.Message {
	m := bus.Message{
		Topic:    pk.TopicName,
		Payload:  pk.Payload,
		ClientID: pk.Origin,
		Retain:   pk.FixedHeader.Retain,
	}
	if len(pk.Properties.User) > 0 {
		m.Props = make(map[string]string, len(pk.Properties.User))
		for _, u := range pk.Properties.User {
			m.Props[u.Key] = u.Val
		}
	}
	return m
}

// groupKey identifies an adapter-side shared subscription.
type groupKey struct{ name, filter string }

// group is a shared subscription of in-process handlers: one inline
// subscription to the filter, dispatched round robin.
type group struct {
	b       *Broker
	key     groupKey
	ids     []int
	members atomic.Pointer[[]*subscription] // copy on write, under Broker.mu
	next    atomic.Uint64
	ready   atomic.Bool
}

func (b *Broker) joinGroup(k groupKey, s *subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s.group = b.groups[k]
	if s.group != nil {
		members := append(slices.Clone(*s.group.members.Load()), s)
		s.group.members.Store(&members)
		return
	}
	g := &group{b: b, key: k}
	g.members.Store(&[]*subscription{s})
	s.group = g
	b.groups[k] = g
	g.ids = b.inlineSubscribe(k.filter, g.deliver)
	// Retained messages are not sent to shared subscriptions
	// (MQTT-3.8.3 note on Retain Handling); comqtt hands them to the
	// inline handler within Subscribe, so the group opens only now.
	g.ready.Store(true)
}

func (b *Broker) leaveGroup(s *subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	g := s.group
	members := slices.DeleteFunc(slices.Clone(*g.members.Load()), func(m *subscription) bool { return m == s })
	g.members.Store(&members)
	if len(members) == 0 && b.groups[g.key] == g {
		delete(b.groups, g.key)
		b.inlineUnsubscribe(g.key.filter, g.ids)
	}
}

// deliver hands pk to the next active member of the group.
func (g *group) deliver(pk packets.Packet) {
	if !g.ready.Load() || g.b.closed.Load() {
		return
	}
	members := *g.members.Load()
	n := uint64(len(members))
	for range n {
		s := members[(g.next.Add(1)-1)%n]
		if s.active.Load() {
			s.h(message(pk))
			return
		}
	}
}

// validTopic checks a topic name for Publish (MQTT-4.7.3-1, MQTT-3.3.2-2).
func validTopic(t string) error {
	switch {
	case t == "":
		return errors.New("empty topic")
	case strings.ContainsAny(t, "+#\x00"):
		return errors.New("topic contains a wildcard or NUL")
	case !utf8.ValidString(t):
		return errors.New("topic is not valid UTF-8")
	case len(t) > 65535:
		return errors.New("topic too long")
	}
	return nil
}

// validFilter checks a topic filter: '+' and '#' stand for whole levels,
// '#' only last (MQTT-4.7.1-1, MQTT-4.7.1-2, MQTT-4.7.1-3).
func validFilter(f string) error {
	if f == "" {
		return errors.New("empty topic filter")
	}
	if strings.ContainsRune(f, 0) || !utf8.ValidString(f) || len(f) > 65535 {
		return errors.New("invalid topic filter")
	}
	rest := f
	for {
		level, tail, more := strings.Cut(rest, "/")
		if strings.ContainsAny(level, "+#") && len(level) > 1 {
			return errors.New("wildcard must be a whole topic level")
		}
		if level == "#" && more {
			return errors.New("'#' must be the last topic level")
		}
		if !more {
			return nil
		}
		rest = tail
	}
}
