package embedded

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/wind-c/comqtt/v2/mqtt/listeners"
)

// connectTimeout bounds the time a TCP client has to send CONNECT; comqtt
// sets the keepalive deadline only afterwards.
const connectTimeout = 10 * time.Second

// listener is the broker's TCP listener. It replaces comqtt's own so that
// the socket is opened by Start (which reports the bind error), its real
// address is known for ":0", every connection goroutine is waited for on
// Close, and silent or half-open connections are cut.
type listener struct {
	nl  net.Listener
	log *slog.Logger

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup // one per connection
}

var _ listeners.Listener = (*listener)(nil)

func newListener(nl net.Listener, log *slog.Logger) *listener {
	return &listener{nl: nl, log: log, conns: map[net.Conn]struct{}{}}
}

// Addr returns the listening address.
func (l *listener) Addr() net.Addr { return l.nl.Addr() }

// ID names the listener; comqtt tags its clients with it.
func (l *listener) ID() string { return "tcp" }

// Address returns the listening address as a string.
func (l *listener) Address() string { return l.nl.Addr().String() }

// Protocol returns "tcp".
func (l *listener) Protocol() string { return "tcp" }

// Init does nothing: the socket is already open.
func (l *listener) Init(*slog.Logger) error { return nil }

// Serve accepts connections until Close and hands each to establish on a
// goroutine of its own, which comqtt uses as the client's read loop.
func (l *listener) Serve(establish listeners.EstablishFn) {
	for {
		c, err := l.nl.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			l.log.Warn("mqtt accept failed", "err", err)
			time.Sleep(50 * time.Millisecond) // e.g. out of file descriptors
			continue
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			_ = c.Close()
			return
		}
		l.conns[c] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		_ = c.SetDeadline(time.Now().Add(connectTimeout))
		go func() {
			defer l.wg.Done()
			defer func() {
				_ = c.Close()
				l.mu.Lock()
				delete(l.conns, c)
				l.mu.Unlock()
			}()
			if err := establish(l.ID(), c); err != nil {
				// Disconnects, malformed packets, timeouts: the peer's
				// business, not an operator's.
				l.log.Debug("mqtt client ended", "remote", c.RemoteAddr().String(), "err", err)
			}
		}()
	}
}

// Close stops accepting, disconnects the clients (closeClients sends MQTT v5
// clients a DISCONNECT), closes what remains and waits for every
// connection goroutine.
func (l *listener) Close(closeClients listeners.CloseFn) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	// A client that does not read must not hold up the DISCONNECT writes.
	for c := range l.conns {
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	}
	l.mu.Unlock()
	_ = l.nl.Close()
	closeClients(l.ID())
	l.mu.Lock()
	for c := range l.conns {
		_ = c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}
