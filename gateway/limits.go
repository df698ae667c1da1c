package gateway

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Limits bound what one source address, and all of them together, may
// cost the gateway before a station has authenticated. Zero values
// disable each limit: behind a TCP load balancer without the PROXY
// protocol every connection comes from the balancer's address, so the
// per-address limits are opt-in.
type Limits struct {
	// ConnsPerAddr bounds the open connections (and upgrades in progress)
	// from one source IP address; more are refused with 429.
	ConnsPerAddr int
	// HandshakeRate and HandshakeBurst bound the upgrade requests per
	// second from one source IP address (a token bucket); more are
	// refused with 429 and a Retry-After header. Burst defaults to
	// 2×rate (at least 1).
	HandshakeRate  float64
	HandshakeBurst int
	// GlobalHandshakeRate and GlobalHandshakeBurst bound the upgrade
	// requests per second from all addresses together; more are refused
	// with 503 and a Retry-After header, so that a flood of handshakes
	// cannot starve the stations already connected. Burst defaults to
	// 2×rate (at least 1).
	GlobalHandshakeRate  float64
	GlobalHandshakeBurst int
	// MaxInvalidFrames is how many malformed frames a session may send
	// within InvalidFrameWindow before it is closed with 1008 "too many
	// invalid messages". Default 100; negative disables.
	MaxInvalidFrames int
	// InvalidFrameWindow is the window of MaxInvalidFrames. Default 1m.
	InvalidFrameWindow time.Duration
}

// Default limits.
const (
	DefaultMaxInvalidFrames   = 100
	DefaultInvalidFrameWindow = time.Minute
)

// maxTrackedAddrs bounds the per-address rate buckets kept; past it, full
// buckets are forgotten, and if that is not enough the oldest ones.
const maxTrackedAddrs = 1 << 16

// bucket is a token bucket on the gateway's monotonic clock.
type bucket struct {
	tokens float64
	last   time.Duration
}

// take refills b at rate up to burst and takes a token; it returns the
// time until a token is available when there is none.
func (b *bucket) take(now time.Duration, rate float64, burst int) (bool, time.Duration) {
	b.tokens += (now - b.last).Seconds() * rate
	if b.tokens > float64(burst) {
		b.tokens = float64(burst)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / rate * float64(time.Second))
}

// limiter enforces Limits at the upgrade.
type limiter struct {
	l     Limits
	mu    sync.Mutex
	conns map[string]int
	rates map[string]*bucket
	all   bucket
}

func newLimiter(l Limits, now time.Duration) *limiter {
	if l.HandshakeRate > 0 && l.HandshakeBurst <= 0 {
		l.HandshakeBurst = max(1, int(2*l.HandshakeRate))
	}
	if l.GlobalHandshakeRate > 0 && l.GlobalHandshakeBurst <= 0 {
		l.GlobalHandshakeBurst = max(1, int(2*l.GlobalHandshakeRate))
	}
	if l.MaxInvalidFrames == 0 {
		l.MaxInvalidFrames = DefaultMaxInvalidFrames
	}
	if l.InvalidFrameWindow <= 0 {
		l.InvalidFrameWindow = DefaultInvalidFrameWindow
	}
	return &limiter{
		l:     l,
		conns: map[string]int{},
		rates: map[string]*bucket{},
		all:   bucket{tokens: float64(l.GlobalHandshakeBurst), last: now},
	}
}

// verdict is the outcome of admit: status 0 admits (call release later).
type verdict struct {
	status     int
	reason     string
	retryAfter time.Duration
}

// admit applies the rate and connection limits to a request from addr.
// On success the caller must call release(addr) when the connection ends.
func (l *limiter) admit(addr string, now time.Duration) verdict {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.l.HandshakeRate > 0 {
		b := l.rates[addr]
		if b == nil {
			l.pruneLocked(now)
			b = &bucket{tokens: float64(l.l.HandshakeBurst), last: now}
			l.rates[addr] = b
		}
		if ok, wait := b.take(now, l.l.HandshakeRate, l.l.HandshakeBurst); !ok {
			return verdict{http.StatusTooManyRequests, RefusedRateLimited, wait}
		}
	}
	if l.l.ConnsPerAddr > 0 && l.conns[addr] >= l.l.ConnsPerAddr {
		return verdict{http.StatusTooManyRequests, RefusedTooManyConns, time.Second}
	}
	if l.l.GlobalHandshakeRate > 0 {
		if ok, wait := l.all.take(now, l.l.GlobalHandshakeRate, l.l.GlobalHandshakeBurst); !ok {
			return verdict{http.StatusServiceUnavailable, RefusedBusy, wait}
		}
	}
	if l.l.ConnsPerAddr > 0 {
		l.conns[addr]++
	}
	return verdict{}
}

// release ends a connection admitted by admit.
func (l *limiter) release(addr string) {
	if l.l.ConnsPerAddr <= 0 {
		return
	}
	l.mu.Lock()
	if n := l.conns[addr]; n <= 1 {
		delete(l.conns, addr)
	} else {
		l.conns[addr] = n - 1
	}
	l.mu.Unlock()
}

// pruneLocked keeps the per-address buckets bounded: buckets that have
// refilled completely carry no information and are dropped first.
func (l *limiter) pruneLocked(now time.Duration) {
	if len(l.rates) < maxTrackedAddrs {
		return
	}
	full := time.Duration(float64(l.l.HandshakeBurst) / l.l.HandshakeRate * float64(time.Second))
	for a, b := range l.rates {
		if now-b.last >= full {
			delete(l.rates, a)
		}
	}
	for a := range l.rates { // still too many: forget arbitrary ones
		if len(l.rates) < maxTrackedAddrs {
			break
		}
		delete(l.rates, a)
	}
}

// sourceIP returns the IP address of a request's remote address.
func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// invalidCounter counts malformed frames of a session in fixed windows.
type invalidCounter struct {
	start time.Duration
	n     int
}

// add counts one malformed frame at now and reports whether the session
// exceeded max within window.
func (c *invalidCounter) add(now, window time.Duration, max int) bool {
	if max < 0 {
		return false
	}
	if c.n == 0 || now-c.start >= window {
		c.start, c.n = now, 0
	}
	c.n++
	return c.n > max
}
