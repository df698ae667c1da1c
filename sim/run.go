package sim

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"time"
)

// Run plays the station's life until ctx ends or Close is called: Connect;
// BootNotification, repeated after the returned interval while the CSMS
// answers Pending or Rejected; StatusNotification Available for EVSE 1
// connector 1; then Heartbeat at the interval the CSMS returned (or
// Options.HeartbeatInterval). When the connection is lost, or cannot be
// made, it reconnects after an exponential backoff with jitter between
// Options.ReconnectDelay and Options.MaxReconnectDelay and boots again.
//
// Run returns nil when ctx ends or the station is closed. It returns the
// *CloseError at once, without retrying, when the server closes the
// connection with 1008 (policy violation) or 1002 (protocol error): those
// will not fix themselves. Run must not be called twice at the same time.
func (s *Station) Run(ctx context.Context) error {
	attempt := 0
	for {
		booted, err := s.session(ctx)
		if ctx.Err() != nil || errors.Is(err, ErrClosed) {
			return nil
		}
		var ce *CloseError
		if errors.As(err, &ce) && ce.Permanent() {
			return ce
		}
		if booted {
			attempt = 0
		}
		if s.rebootPending.Swap(false) {
			// A reset: boot again at once.
			s.logf(levelInfo, "rebooting")
			continue
		}
		d := backoff(attempt, s.opts.ReconnectDelay, s.opts.MaxReconnectDelay, rand.Float64())
		attempt++
		s.logf(levelWarn, "%v; reconnecting in %s", err, d.Round(time.Millisecond))
		if !s.sleep(ctx, d) {
			return nil
		}
	}
}

// backoff returns the wait before reconnection attempt n (0-based): lo
// doubled n times, capped at hi, plus up to a quarter of it as jitter
// (still capped at hi). r is a random number in [0,1).
func backoff(n int, lo, hi time.Duration, r float64) time.Duration {
	d := lo
	for i := 0; i < n && d < hi; i++ {
		d *= 2
	}
	d = d + time.Duration(float64(d)/4*r)
	if d > hi {
		d = hi
	}
	return d
}

// sleep waits d; it returns false if ctx ended or the station was closed.
func (s *Station) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closedCh:
		return false
	}
}

// session runs one connection: connect, boot, status, heartbeats. It
// returns why the connection ended and whether the boot was accepted. The
// connection is closed (1000) and its goroutines ended when it returns.
func (s *Station) session(ctx context.Context) (booted bool, err error) {
	c, err := s.connect(ctx)
	if err != nil {
		return false, err
	}
	// sctx ends with ctx, with the connection, or with Close.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel)
	defer stop()
	defer func() {
		select {
		case <-c.done:
		default:
			c.close(1000, "")
		}
		c.wait()
		// Prefer the connection's own reason (e.g. the server's close
		// frame) over the error of the call it interrupted.
		if err != nil && ctx.Err() == nil && !errors.Is(err, ErrTimeout) {
			select {
			case <-c.done:
				if c.err != nil {
					err = c.err
				}
			default:
			}
		}
	}()

	// OCPP 1.6 §4.2, OCPP 2.0.1 B01–B03: boot until Accepted; after
	// Pending or Rejected wait the returned interval before the next
	// BootNotification.
	var res BootResult
	for {
		res, err = s.Boot(sctx)
		if err != nil {
			return false, err
		}
		if res.Status == StatusAccepted {
			break
		}
		wait := res.Interval
		if wait <= 0 {
			wait = DefaultBootRetry
		}
		s.logf(levelInfo, "registration %s; sending BootNotification again in %s", res.Status, wait)
		if !s.sleep(sctx, wait) {
			return false, sctx.Err()
		}
	}
	s.logf(levelInfo, "connected to central system")
	interval := res.Interval
	if s.opts.HeartbeatInterval > 0 {
		interval = s.opts.HeartbeatInterval
	} else if interval <= 0 {
		interval = DefaultHeartbeatInterval
	}
	s.logf(levelInfo, "heartbeat interval set to %s", strconv.FormatFloat(interval.Seconds(), 'f', -1, 64))

	if h := s.hooks; h != nil && h.booted != nil {
		if err := h.booted(sctx, res); err != nil {
			return true, err
		}
	} else if err := s.StatusNotification(sctx, 1, 1, "Available"); err != nil {
		var ce *CallError
		if !errors.As(err, &ce) {
			return true, err
		}
		s.logf(levelWarn, "StatusNotification refused: %v", err)
	}

	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-sctx.Done():
			return true, sctx.Err()
		case <-s.closedCh:
			return true, ErrClosed
		case <-t.C:
		}
		if h := s.hooks; h != nil && h.interval != nil && s.opts.HeartbeatInterval <= 0 {
			if d := h.interval(); d > 0 {
				interval = d
			}
		}
		t.Reset(interval)
		if _, err := s.Heartbeat(sctx); err != nil {
			var ce *CallError
			if errors.As(err, &ce) {
				s.logf(levelWarn, "Heartbeat refused: %v", err)
				continue
			}
			// A heartbeat without answer means the link is dead even if
			// TCP has not noticed yet: reconnect.
			return true, err
		}
	}
}
