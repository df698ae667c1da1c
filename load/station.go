package load

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/lxzan/gws"

	"github.com/ocppd/ocppd/ocpp"
)

// step is what a station sends next (or last sent).
type step uint8

const (
	stepNone step = iota
	stepBoot
	stepHeartbeat
	stepStatusAvailable
	stepAuthorize
	stepStart
	stepStatusCharging
	stepMeter
	stepStop
	stepStatusAfter
)

// pending is a station's one outstanding call (OCPP-J allows one).
type pending struct {
	id     string
	action string
	step   step
	sent   time.Time
	active bool
}

// station is one lean simulated charge point: a gws client connection
// whose read loop is its only goroutine, a state machine advanced by the
// answers, and one runtime timer for pacing.
type station struct {
	r   *Runner
	idx int // within this fleet
	id  string
	ver ocpp.Version

	mu       sync.Mutex
	ws       *gws.Conn
	pend     pending
	lastLost string // id of the last call counted lost, to tell late answers from mismatches
	seq      uint64
	accepted bool // Boot-Accepted on the current connection
	dropping bool // Drop closed the connection: its end is expected
	dropWait bool // dropped and not yet Boot-Accepted again
	queued   bool // waiting in the dial queue
	backoff  time.Duration
	timer    *time.Timer
	due      step      // what the timer sends
	nextBeat time.Time // paced heartbeat schedule

	// session state
	tx      int // transactions started, also the 1.6 fallback transaction id
	txID    string
	meterWh int
	seqNo   int
	meters  int
	started bool // first session scheduled with a random offset
}

// wsHandler receives one connection's events.
type wsHandler struct {
	gws.BuiltinEventHandler
	st *station
}

// OnPing answers with a pong carrying the ping's payload (gws's default
// pong does not echo it).
func (h *wsHandler) OnPing(c *gws.Conn, payload []byte) { _ = c.WritePong(payload) }

// OnClose accounts for the end of a connection and schedules the
// reconnection when the run goes on.
func (h *wsHandler) OnClose(c *gws.Conn, err error) { h.st.closed(c, err) }

// OnMessage handles one frame from the server.
func (h *wsHandler) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	if m.Opcode != gws.OpcodeText {
		return
	}
	h.st.received(c, m.Bytes())
}

// connect dials and upgrades, then sends BootNotification. It returns
// the delay before the next attempt after a failure.
func (st *station) connect() (retry time.Duration, ok bool) {
	r := st.r
	r.c.attempts.Add(1)
	hdr := http.Header{}
	hdr.Set("Sec-WebSocket-Protocol", string(st.ver))
	opt := &gws.ClientOption{
		Addr:             r.stationURL(st.id),
		RequestHeader:    hdr,
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   2048,
		NewDialer: func() (gws.Dialer, error) {
			d := &net.Dialer{Timeout: 10 * time.Second}
			if len(r.cfg.SrcIPs) > 0 {
				ip := net.ParseIP(r.cfg.SrcIPs[(r.cfg.Index+st.idx)%len(r.cfg.SrcIPs)])
				d.LocalAddr = &net.TCPAddr{IP: ip}
			}
			return d, nil
		},
	}
	h := &wsHandler{st: st}
	ws, resp, err := gws.NewClient(h, opt)
	if err != nil {
		reason, wait := classifyDialError(resp, err)
		r.c.failed.Add(1)
		r.c.inc(r.c.failedBy, reason)
		return wait, false
	}
	if ws.SubProtocol() != string(st.ver) {
		_ = ws.WriteClose(1002, []byte("subprotocol mismatch"))
		_ = ws.NetConn().Close()
		r.c.failed.Add(1)
		r.c.inc(r.c.failedBy, "subprotocol")
		return 5 * time.Second, false
	}
	_ = ws.SetNoDelay(true)
	r.c.made.Add(1)
	r.c.connected.Add(1)

	st.mu.Lock()
	st.ws = ws
	st.accepted = false
	st.dropping = false
	st.pend.active = false
	st.backoff = 0
	frame := st.prepare(stepBoot)
	st.mu.Unlock()

	r.conns.Add(1)
	go func() {
		defer r.conns.Done()
		ws.ReadLoop()
	}()
	st.write(ws, frame)
	return 0, true
}

// classifyDialError names a failed connection attempt for the report and
// says how long to wait before the next one (honouring Retry-After).
func classifyDialError(resp *http.Response, err error) (string, time.Duration) {
	if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
		wait := 2 * time.Second
		if s, e := strconv.Atoi(resp.Header.Get("Retry-After")); e == nil && s > 0 {
			wait = time.Duration(min(s, 30)) * time.Second
		}
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			wait = 10 * time.Second
		}
		return "http " + strconv.Itoa(resp.StatusCode), wait
	}
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused", time.Second
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no free local port", 5 * time.Second
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too many open files", 5 * time.Second
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset", time.Second
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout", time.Second
	case errors.Is(err, gws.ErrSubprotocolNegotiation):
		return "subprotocol", 5 * time.Second
	}
	return "handshake", time.Second
}

// write sends frame on ws; a failed write ends the connection, which
// OnClose accounts for.
func (st *station) write(ws *gws.Conn, frame []byte) {
	if frame == nil || ws == nil {
		return
	}
	if err := ws.WriteMessage(gws.OpcodeText, frame); err != nil {
		_ = ws.NetConn().Close()
	}
}

// prepare records the call of step s as outstanding and returns its
// frame; nil when the run is ending or has sent MaxCalls. st.mu is held.
func (st *station) prepare(s step) []byte {
	r := st.r
	if st.ws == nil || r.stopping.Load() {
		return nil
	}
	if r.c.calls.Add(1) > r.cfg.MaxCalls {
		r.capped.Store(true)
		return nil
	}
	action, payload := st.payload(s)
	st.seq++
	id := strconv.FormatUint(st.seq, 10)
	st.pend = pending{id: id, action: action, step: s, sent: time.Now(), active: true}
	r.c.act[actionIndex[action]].sent.Add(1)
	return ocpp.AppendCall(make([]byte, 0, 64+len(payload)), id, action, payload)
}

// schedule arms the timer to send s after d. st.mu is held.
func (st *station) schedule(s step, d time.Duration) {
	st.due = s
	if st.timer == nil {
		st.timer = time.AfterFunc(d, st.fire)
		return
	}
	st.timer.Reset(d)
}

// fire sends the step the timer was armed for.
func (st *station) fire() {
	st.mu.Lock()
	ws := st.ws
	var frame []byte
	switch {
	case ws == nil || st.r.stopping.Load():
	case st.due == stepHeartbeat && st.r.cfg.Scenario == Heartbeat && st.r.cfg.Rate > 0:
		// Paced heartbeats keep their schedule; a tick that finds the
		// previous call still outstanding is skipped (one call at a time).
		iv := st.r.beatInterval
		st.nextBeat = st.nextBeat.Add(iv)
		now := time.Now()
		if st.nextBeat.Before(now) {
			st.nextBeat = now
		}
		st.schedule(stepHeartbeat, st.nextBeat.Sub(now))
		if !st.pend.active {
			frame = st.prepare(stepHeartbeat)
		}
	case st.pend.active:
		// An answer is still awaited; its arrival moves the machine on.
	default:
		frame = st.prepare(st.due)
	}
	st.mu.Unlock()
	st.write(ws, frame)
}

// received handles a frame from the server on connection c.
func (st *station) received(c *gws.Conn, data []byte) {
	r := st.r
	f, ferr := ocpp.Parse(data)
	if ferr != nil {
		r.c.mismatches.Add(1)
		return
	}
	if f.Type == ocpp.Call {
		// A CSMS-initiated call: the lean station implements none.
		r.c.srvCalls.Add(1)
		st.write(c, ocpp.AppendCallError(nil, f.ID, "NotImplemented", "not implemented by the load generator", nil))
		return
	}
	if f.Type != ocpp.CallResult && f.Type != ocpp.CallError && f.Type != ocpp.CallResultError {
		return
	}
	now := time.Now()
	st.mu.Lock()
	if st.ws != c || !st.pend.active || st.pend.id != f.ID {
		if f.ID == st.lastLost {
			r.c.late.Add(1)
		} else {
			r.c.mismatches.Add(1)
		}
		st.mu.Unlock()
		return
	}
	p := st.pend
	st.pend.active = false
	a := &r.c.act[actionIndex[p.action]]
	a.latency.Record(now.Sub(p.sent))
	ok := f.Type == ocpp.CallResult
	if ok {
		a.results.Add(1)
	} else {
		a.errors.Add(1)
		r.c.inc(r.c.callErrors, f.ErrorCode)
	}
	frame := st.advance(p.step, ok, f.Payload, now)
	st.mu.Unlock()
	st.write(c, frame)
}

// lose counts the outstanding call as lost when it has waited longer
// than the call timeout, and moves the machine on as if it had failed.
func (st *station) lose(now time.Time) {
	st.mu.Lock()
	if !st.pend.active || now.Sub(st.pend.sent) < st.r.cfg.CallTimeout {
		st.mu.Unlock()
		return
	}
	p := st.pend
	st.pend.active = false
	st.lastLost = p.id
	st.r.c.act[actionIndex[p.action]].lost.Add(1)
	ws := st.ws
	frame := st.advance(p.step, false, nil, now)
	st.mu.Unlock()
	st.write(ws, frame)
}

// advance moves the scenario on after the answer to step s (ok: a
// CALLRESULT) and returns the frame to send now, if any. st.mu is held.
func (st *station) advance(s step, ok bool, payload json.RawMessage, now time.Time) []byte {
	r := st.r
	cfg := &r.cfg
	switch s {
	case stepBoot:
		var resp struct {
			Status   string `json:"status"`
			Interval int    `json:"interval"`
		}
		if ok {
			_ = json.Unmarshal(payload, &resp)
		}
		switch resp.Status {
		case "Accepted":
			r.c.bootAccepted.Add(1)
		case "Pending":
			r.c.bootPending.Add(1)
		case "Rejected":
			r.c.bootRejected.Add(1)
		}
		if resp.Status != "Accepted" {
			wait := min(max(time.Duration(resp.Interval)*time.Second, time.Second), 10*time.Second)
			st.schedule(stepBoot, wait)
			return nil
		}
		if !st.accepted {
			st.accepted = true
			r.c.accepted.Add(1)
		}
		if st.dropWait {
			st.dropWait = false
			r.c.recovered.Add(1)
			if at := r.c.dropAt.Load(); at != 0 {
				r.c.recovery.Record(now.Sub(time.Unix(0, at)))
			}
			for n := now.UnixNano(); ; {
				last := r.c.lastRecovered.Load()
				if n <= last || r.c.lastRecovered.CompareAndSwap(last, n) {
					break
				}
			}
		}
		switch cfg.Scenario {
		case Heartbeat:
			if cfg.Rate > 0 {
				// Spread the fleet's first beats over one interval.
				off := time.Duration(rand.Int64N(int64(r.beatInterval)))
				st.nextBeat = now.Add(off)
				st.schedule(stepHeartbeat, off)
				return nil
			}
			return st.prepare(stepHeartbeat)
		case Sessions:
			return st.prepare(stepStatusAvailable)
		}
		return nil
	case stepHeartbeat:
		if cfg.Rate == 0 {
			return st.prepare(stepHeartbeat)
		}
		return nil
	case stepStatusAvailable, stepStatusAfter:
		gap := cfg.SessionGap
		if !st.started {
			st.started = true
			gap = time.Duration(rand.Int64N(int64(gap) + 1))
		}
		st.schedule(stepAuthorize, gap)
		return nil
	case stepAuthorize:
		return st.prepare(stepStart)
	case stepStart:
		st.txID = ""
		if ok && st.ver == ocpp.V16 {
			var resp struct {
				TransactionID *int `json:"transactionId"`
			}
			if json.Unmarshal(payload, &resp) == nil && resp.TransactionID != nil {
				st.txID = strconv.Itoa(*resp.TransactionID)
			}
		}
		return st.prepare(stepStatusCharging)
	case stepStatusCharging:
		st.meters = cfg.MetersPerSession
		if st.meters == 0 {
			return st.prepare(stepStop)
		}
		st.schedule(stepMeter, cfg.MeterInterval)
		return nil
	case stepMeter:
		st.meters--
		if st.meters > 0 {
			st.schedule(stepMeter, cfg.MeterInterval)
			return nil
		}
		return st.prepare(stepStop)
	case stepStop:
		return st.prepare(stepStatusAfter)
	}
	return nil
}

// closed accounts for the end of connection c.
func (st *station) closed(c *gws.Conn, err error) {
	r := st.r
	st.mu.Lock()
	if st.ws != c {
		st.mu.Unlock()
		return
	}
	st.ws = nil
	if st.accepted {
		st.accepted = false
		r.c.accepted.Add(-1)
	}
	if st.timer != nil {
		st.timer.Stop()
	}
	if st.pend.active {
		// The answer can no longer come.
		st.pend.active = false
		st.lastLost = st.pend.id
		r.c.act[actionIndex[st.pend.action]].lost.Add(1)
	}
	dropped := st.dropping
	st.dropping = false
	r.c.connected.Add(-1)
	if r.stopping.Load() {
		st.mu.Unlock()
		return
	}
	var wait time.Duration
	if !dropped {
		r.c.unexpected.Add(1)
		r.c.inc(r.c.closedBy, closeReason(err))
		st.backoff = min(max(2*st.backoff, time.Second), 10*time.Second)
		wait = st.backoff
	}
	st.mu.Unlock()
	r.redial(st, wait)
}

// closeReason names how a connection ended: "close 1008" for a close
// frame with a code, else "eof" or "error".
func closeReason(err error) string {
	var ce *gws.CloseError
	switch {
	case errors.As(err, &ce):
		return "close " + strconv.Itoa(int(ce.Code))
	case err == nil:
		return "close"
	case errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	}
	return "eof"
}

// drop closes the connection abruptly (no close frame), as a network
// failure would, and marks the station as awaiting recovery. It reports
// whether the station was connected.
func (st *station) drop() bool {
	st.mu.Lock()
	ws := st.ws
	if ws == nil {
		st.mu.Unlock()
		return false
	}
	st.dropping = true
	st.dropWait = true
	st.mu.Unlock()
	_ = ws.NetConn().Close()
	return true
}

// payload returns the action and payload of step s in the station's
// OCPP version.
func (st *station) payload(s step) (string, json.RawMessage) {
	v16 := st.ver == ocpp.V16
	ts := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	switch s {
	case stepBoot:
		if v16 {
			return "BootNotification", json.RawMessage(`{"chargePointVendor":"ocppd","chargePointModel":"load","chargePointSerialNumber":"` + st.id + `"}`)
		}
		return "BootNotification", json.RawMessage(`{"chargingStation":{"model":"load","vendorName":"ocppd","serialNumber":"` + st.id + `"},"reason":"PowerUp"}`)
	case stepHeartbeat:
		return "Heartbeat", json.RawMessage(`{}`)
	case stepStatusAvailable, stepStatusAfter, stepStatusCharging:
		status16, status2 := "Available", "Available"
		if s == stepStatusCharging {
			status16, status2 = "Charging", "Occupied"
		}
		if v16 {
			return "StatusNotification", fmt.Appendf(nil, `{"connectorId":1,"errorCode":"NoError","status":%q,"timestamp":%q}`, status16, ts)
		}
		return "StatusNotification", fmt.Appendf(nil, `{"timestamp":%q,"connectorStatus":%q,"evseId":1,"connectorId":1}`, ts, status2)
	case stepAuthorize:
		if v16 {
			return "Authorize", fmt.Appendf(nil, `{"idTag":%q}`, st.tag())
		}
		return "Authorize", fmt.Appendf(nil, `{"idToken":{"idToken":%q,"type":"ISO14443"}}`, st.tag())
	case stepStart:
		st.tx++
		st.seqNo = 0
		if v16 {
			return "StartTransaction", fmt.Appendf(nil, `{"connectorId":1,"idTag":%q,"meterStart":%d,"timestamp":%q}`, st.tag(), st.meterWh, ts)
		}
		st.txID = fmt.Sprintf("%s-%d", st.id, st.tx)
		return "TransactionEvent", fmt.Appendf(nil,
			`{"eventType":"Started","timestamp":%q,"triggerReason":"Authorized","seqNo":0,"transactionInfo":{"transactionId":%q,"chargingState":"Charging"},"idToken":{"idToken":%q,"type":"ISO14443"},"evse":{"id":1,"connectorId":1},"meterValue":[{"timestamp":%q,"sampledValue":[{"value":%d,"measurand":"Energy.Active.Import.Register"}]}]}`,
			ts, st.txID, st.tag(), ts, st.meterWh)
	case stepMeter:
		st.meterWh += 1000 + rand.IntN(1000)
		st.seqNo++
		if v16 {
			return "MeterValues", fmt.Appendf(nil,
				`{"connectorId":1,"transactionId":%s,"meterValue":[{"timestamp":%q,"sampledValue":[{"value":"%d","measurand":"Energy.Active.Import.Register","unit":"Wh"},{"value":"%d","measurand":"Power.Active.Import","unit":"W"}]}]}`,
				st.txID16(), ts, st.meterWh, 7000+rand.IntN(4000))
		}
		return "TransactionEvent", fmt.Appendf(nil,
			`{"eventType":"Updated","timestamp":%q,"triggerReason":"MeterValuePeriodic","seqNo":%d,"transactionInfo":{"transactionId":%q,"chargingState":"Charging"},"meterValue":[{"timestamp":%q,"sampledValue":[{"value":%d,"measurand":"Energy.Active.Import.Register"},{"value":%d,"measurand":"Power.Active.Import"}]}]}`,
			ts, st.seqNo, st.txID, ts, st.meterWh, 7000+rand.IntN(4000))
	case stepStop:
		st.seqNo++
		if v16 {
			return "StopTransaction", fmt.Appendf(nil, `{"transactionId":%s,"idTag":%q,"meterStop":%d,"timestamp":%q,"reason":"Local"}`,
				st.txID16(), st.tag(), st.meterWh, ts)
		}
		return "TransactionEvent", fmt.Appendf(nil,
			`{"eventType":"Ended","timestamp":%q,"triggerReason":"StopAuthorized","seqNo":%d,"transactionInfo":{"transactionId":%q,"stoppedReason":"Local"},"idToken":{"idToken":%q,"type":"ISO14443"},"meterValue":[{"timestamp":%q,"sampledValue":[{"value":%d,"measurand":"Energy.Active.Import.Register"}]}]}`,
			ts, st.seqNo, st.txID, st.tag(), ts, st.meterWh)
	}
	panic("load: no payload for step " + strconv.Itoa(int(s)))
}

// tag is the station's id token: its id, at most 20 characters (the 1.6
// CiString20 limit of idTag).
func (st *station) tag() string {
	if len(st.id) > 20 {
		return st.id[len(st.id)-20:]
	}
	return st.id
}

// txID16 is the 1.6 transaction id: the CSMS's, or the station's own
// count when StartTransaction was not answered (it is still sent, so that
// the traffic keeps its shape and the errors are counted).
func (st *station) txID16() string {
	if st.txID != "" {
		return st.txID
	}
	return strconv.Itoa(st.tx)
}
