package embedded

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"
)

// connectTimeout bounds the time a TCP client has to send CONNECT; comqtt
// sets the keepalive deadline only afterwards.
const connectTimeout = 10 * time.Second

// listenerID tags the broker's TCP clients in comqtt.
const listenerID = "tcp"

// listener is the broker's TCP listener. It is not registered with comqtt
// (whose Listeners.Serve calls WaitGroup.Add inside the goroutine it waits
// for, racing with Close); it owns its accept loop and one goroutine per
// connection, hands each connection to comqtt's EstablishConnection, and
// waits for all of them on Close. Silent connections are cut after
// connectTimeout.
type listener struct {
	nl        net.Listener
	log       *slog.Logger
	establish func(net.Conn) error // runs the connection until it ends

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup // the accept loop and one per connection
}

func newListener(nl net.Listener, log *slog.Logger, establish func(net.Conn) error) *listener {
	return &listener{nl: nl, log: log, establish: establish, conns: map[net.Conn]struct{}{}}
}

// Addr returns the listening address.
func (l *listener) Addr() net.Addr { return l.nl.Addr() }

// start runs the accept loop until close.
func (l *listener) start() {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.acceptLoop()
	}()
}

func (l *listener) acceptLoop() {
	for {
		c, err := l.nl.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
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
			if err := l.establish(c); err != nil {
				// Disconnects, malformed packets, timeouts: the peer's
				// business, not an operator's.
				l.log.Debug("mqtt client ended", "remote", c.RemoteAddr().String(), "err", err)
			}
		}()
	}
}

// close stops accepting, lets disconnect say goodbye to the connected
// clients (an MQTT v5 DISCONNECT), closes what remains and waits for every
// goroutine of the listener.
func (l *listener) close(disconnect func()) {
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
	disconnect()
	l.mu.Lock()
	for c := range l.conns {
		_ = c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}
