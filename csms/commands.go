package csms

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/message"
	"github.com/ocppd/ocppd/store"
)

// Command is a CSMS→station command as stored: its request, its state
// (store.CommandQueued … store.CommandTimedOut) and its answer.
type Command = store.Command

// CommandOptions tunes one command. Zero values take the Service's
// defaults (Options.CommandTimeout, Options.QueueTimeout).
type CommandOptions struct {
	// Timeout is how long the station has to answer once the command is
	// sent.
	Timeout time.Duration
	// QueueTimeout is how long a command for an offline station waits to
	// be sent before it times out.
	QueueTimeout time.Duration
}

// Send issues a command to station cpID with the default options; see
// SendWith.
func (s *Service) Send(ctx context.Context, cpID, action string, payload any) (Command, error) {
	return s.SendWith(ctx, cpID, action, payload, CommandOptions{})
}

// SendWith issues a command to station cpID: it validates the request for
// the station's OCPP version, stores it as queued, and — if the station is
// online and not Rejected — publishes the CALL on {cp}/out and marks it
// sent. A command for an offline station stays queued and is sent when the
// station next connects, or times out after QueueTimeout.
//
// payload is a typed request of the station's version (e.g.
// *v201.ResetRequest; action may then be "", it is taken from the type) or
// its JSON (json.RawMessage, []byte, or any value encoding/json marshals).
// The command's ID is the CALL's message id. Wait awaits the answer.
//
// Errors: ENOTFOUND for an unknown station; EINVALID for a request that
// does not validate, a typed request of another version than the
// station's, or a station whose version is not known yet (it never
// connected) with an untyped request.
func (s *Service) SendWith(ctx context.Context, cpID, action string, payload any, o CommandOptions) (Command, error) {
	if o.Timeout <= 0 {
		o.Timeout = s.opts.CommandTimeout
	}
	if o.QueueTimeout <= 0 {
		o.QueueTimeout = s.opts.QueueTimeout
	}
	cp, err := s.opts.Store.GetChargePoint(ctx, cpID)
	if err != nil {
		return Command{}, fmt.Errorf("send %s to %s: %w", action, cpID, err)
	}
	v, action, raw, err := encodeCommand(ocpp.Version(cp.Protocol), action, payload)
	if err != nil {
		return Command{}, fmt.Errorf("send %s to %s: %w", action, cpID, err)
	}
	now := s.opts.Now()
	c := Command{
		ID: newMessageID(), ChargePointID: cpID, Protocol: string(v), Action: action, Request: raw,
		State: store.CommandQueued, CreatedAt: now, Deadline: now.Add(o.QueueTimeout), Timeout: o.Timeout,
	}
	if err := s.opts.Store.AddCommand(ctx, c); err != nil {
		return Command{}, fmt.Errorf("send %s to %s: %w", action, cpID, err)
	}
	s.metrics.commandsIssued.Add(1)
	s.commandIssued(ctx, c) // reservations.go
	// Read the station's state after storing the command: a connection
	// recorded since is either seen here or flushes the queue after this
	// command was stored (see flushQueued); MarkCommandSent decides who
	// sends it.
	if cp, err = s.opts.Store.GetChargePoint(ctx, cpID); err == nil && cp.Online &&
		cp.Registration != ocppd.RegistrationRejected && cp.Protocol == c.Protocol {
		if sent, err := s.publishCommand(ctx, c); err == nil {
			c = sent
		}
	}
	return c, nil
}

// encodeCommand validates payload as the request of action in version v
// (the station's version, "" if unknown) and returns its JSON.
func encodeCommand(v ocpp.Version, action string, payload any) (ocpp.Version, string, json.RawMessage, error) {
	if tv, ta, req, ok := message.Action(payload); ok {
		switch {
		case !req:
			return v, action, nil, ocppd.Errorf(ocppd.EINVALID, "%T is a response, not a request", payload)
		case action != "" && action != ta:
			return v, action, nil, ocppd.Errorf(ocppd.EINVALID, "%T is not a %s request", payload, action)
		case v != "" && tv != v:
			return v, ta, nil, ocppd.Errorf(ocppd.EINVALID, "the station speaks %s, the request is %s", v, tv)
		}
		if err := message.Validate(tv, payload); err != nil {
			return tv, ta, nil, ocppd.Errorf(ocppd.EINVALID, "invalid %s request: %v", ta, err)
		}
		raw, err := message.Encode(payload)
		if err != nil {
			return tv, ta, nil, ocppd.Errorf(ocppd.EINVALID, "%v", err)
		}
		return tv, ta, raw, nil
	}
	if v == "" {
		return v, action, nil, ocppd.Errorf(ocppd.EINVALID, "the station's OCPP version is not known yet (it never connected): send a typed request")
	}
	if action == "" {
		return v, action, nil, ocppd.Errorf(ocppd.EINVALID, "no action")
	}
	var raw json.RawMessage
	switch p := payload.(type) {
	case json.RawMessage:
		raw = p
	case []byte:
		raw = p
	case nil:
		raw = json.RawMessage(`{}`)
	default:
		b, err := json.Marshal(p)
		if err != nil {
			return v, action, nil, ocppd.Errorf(ocppd.EINVALID, "encode %s request: %v", action, err)
		}
		raw = b
	}
	if _, err := message.DecodeRequest(v, action, raw, ocpp.DecodeOptions{}); err != nil {
		return v, action, nil, ocppd.Errorf(ocppd.EINVALID, "invalid %s %s request: %v", v, action, err)
	}
	return v, action, append(json.RawMessage(nil), raw...), nil
}

// publishCommand claims a queued command (MarkCommandSent: only one worker
// wins), publishes its CALL and returns it as sent. A command that cannot
// be published is failed.
func (s *Service) publishCommand(ctx context.Context, c Command) (Command, error) {
	at := s.opts.Now()
	if err := s.opts.Store.MarkCommandSent(ctx, c.ID, at); err != nil {
		return c, err // ECONFLICT: someone else sent it, or it ended
	}
	c.State, c.SentAt, c.Deadline = store.CommandSent, at, at.Add(c.Timeout)
	err := s.opts.Bus.Publish(ctx, bus.Message{
		Topic:   s.opts.Topics.Out(c.ChargePointID),
		Payload: ocpp.AppendCall(nil, c.ID, c.Action, c.Request),
		Props:   map[string]string{bus.PropVersion: c.Protocol},
	})
	if err != nil {
		s.log.Warn("publishing command failed", "cp", c.ChargePointID, "action", c.Action, "id", c.ID, "err", err)
		s.finish(context.WithoutCancel(ctx), c.ChargePointID, c.ID, store.CommandOutcome{
			State: store.CommandFailed, ErrorDescription: "could not publish the command: " + err.Error(), At: s.opts.Now(),
		})
		return c, err
	}
	s.metrics.commandsSent.Add(1)
	return c, nil
}

// flushQueued sends the station's queued commands, oldest first. Commands
// built for another OCPP version than the one the station now speaks fail.
func (s *Service) flushQueued(ctx context.Context, cpID string, v ocpp.Version) {
	cmds, err := s.opts.Store.QueuedCommands(ctx, cpID)
	if err != nil {
		s.log.Error("loading queued commands failed", "cp", cpID, "err", err)
		return
	}
	for _, c := range cmds {
		if c.Protocol != string(v) {
			s.finish(ctx, cpID, c.ID, store.CommandOutcome{State: store.CommandFailed,
				ErrorDescription: fmt.Sprintf("built for %s, the station now speaks %s", c.Protocol, v), At: s.opts.Now()})
			continue
		}
		_, _ = s.publishCommand(ctx, c)
	}
}

// GetCommand returns a command; ENOTFOUND if there is none.
func (s *Service) GetCommand(ctx context.Context, id string) (Command, error) {
	return s.opts.Store.GetCommand(ctx, id)
}

// ListCommands returns the commands matching f, newest first.
func (s *Service) ListCommands(ctx context.Context, f store.CommandFilter) ([]Command, error) {
	return s.opts.Store.ListCommands(ctx, f)
}

// Wait returns the command once it is answered, failed or timed out — by
// whichever CSMS worker or process recorded it. Commands finished in this
// process wake Wait at once; others are found by polling the store every
// Options.PollInterval. If ctx ends first, Wait returns the command as last
// read and ctx's error.
func (s *Service) Wait(ctx context.Context, id string) (Command, error) {
	ch := s.waiters.add(id)
	defer s.waiters.remove(id, ch)
	t := time.NewTicker(s.opts.PollInterval)
	defer t.Stop()
	var last Command
	for {
		c, err := s.opts.Store.GetCommand(ctx, id)
		if err != nil {
			if ctx.Err() == nil {
				return c, err
			}
			if last.ID == "" { // ended before the first read
				last, err = s.opts.Store.GetCommand(context.WithoutCancel(ctx), id)
				if err != nil {
					return last, err
				}
			}
			return last, ctx.Err()
		}
		if c.State.Final() {
			// Observers of an outcome this process is recording run
			// before Wait returns it (see OnAnswer).
			for _, busy := range s.waiters.busy(id) {
				select {
				case <-busy:
				case <-ctx.Done():
					return c, ctx.Err()
				}
			}
			return c, nil
		}
		last = c
		select {
		case <-ctx.Done():
			return c, ctx.Err()
		case <-ch:
		case <-t.C:
		}
	}
}

// Call sends a command and waits for its outcome: Send followed by Wait.
func (s *Service) Call(ctx context.Context, cpID, action string, payload any) (Command, error) {
	c, err := s.Send(ctx, cpID, action, payload)
	if err != nil {
		return c, err
	}
	return s.Wait(ctx, c.ID)
}

// OnAnswer registers fn to be called with every command of action ("" for
// every action) that this process records as finished: answered (the
// CALLRESULT, validated), failed (a CALLERROR or an invalid answer) or
// timed out (by this process's sweeper). fn runs on a CSMS worker: it must
// not block for long. Register observers before Start.
//
// Observers run before Wait returns: a Wait (or Call) in this process
// that sees the outcome returns only once every observer of it has
// returned, so a caller can rely on what they record (e.g. the local list
// version of an accepted SendLocalList). A Wait in another process sees
// the outcome as soon as it is stored.
func (s *Service) OnAnswer(action string, fn func(ctx context.Context, c Command)) {
	s.obsMu.Lock()
	defer s.obsMu.Unlock()
	if s.observers == nil {
		s.observers = map[string][]func(context.Context, Command){}
	}
	s.observers[action] = append(s.observers[action], fn)
}

// notify runs the observers of a finished command, then wakes its
// waiters.
func (s *Service) notify(ctx context.Context, c Command) {
	s.obsMu.RLock()
	fns := append(append([]func(context.Context, Command){}, s.observers[c.Action]...), s.observers[""]...)
	s.obsMu.RUnlock()
	for _, fn := range fns {
		fn(ctx, c)
	}
	s.waiters.wake(c.ID)
}

// answer records a station's CALLRESULT or CALLERROR to a command.
func (s *Service) answer(ctx context.Context, cpID string, f ocpp.Frame) {
	c, err := s.opts.Store.GetCommand(ctx, f.ID)
	if err != nil || c.ChargePointID != cpID {
		// Not ours (another tool's call, or a command deleted since).
		s.log.Debug("answer to an unknown command", "cp", cpID, "id", f.ID, "err", err)
		return
	}
	o := store.CommandOutcome{At: s.opts.Now()}
	switch f.Type {
	case ocpp.CallResult:
		o.State, o.Response = store.CommandAnswered, append(json.RawMessage(nil), f.Payload...)
		v := ocpp.Version(c.Protocol)
		if _, err := message.DecodeResponse(v, c.Action, f.Payload, s.stationDecodeOptions(ctx, cpID)); err != nil {
			var ve *ocpp.ValidationError
			o.State, o.ErrorDescription = store.CommandFailed, "invalid response: "+err.Error()
			if errors.As(err, &ve) {
				o.ErrorCode = ve.Code(v)
			}
		}
	default: // CALLERROR
		o.State, o.ErrorCode, o.ErrorDescription = store.CommandFailed, f.ErrorCode, f.ErrorDescription
		if len(f.Payload) > 0 && string(f.Payload) != "{}" {
			o.ErrorDetails = append(json.RawMessage(nil), f.Payload...)
		}
	}
	s.finish(ctx, cpID, f.ID, o)
}

// finish stores a command's outcome and tells waiters and observers.
func (s *Service) finish(ctx context.Context, cpID, id string, o store.CommandOutcome) {
	// Marked busy before the outcome is stored: a Wait that reads it
	// waits for the observers (see OnAnswer).
	defer s.waiters.begin(id)()
	c, err := s.opts.Store.FinishCommand(ctx, cpID, id, o)
	switch ocppd.ErrorCode(err) {
	case "":
		if c.State == store.CommandAnswered {
			s.metrics.commandsAnswered.Add(1)
		} else {
			s.metrics.commandsFailed.Add(1)
		}
		s.notify(ctx, c)
	case ocppd.ECONFLICT, ocppd.ENOTFOUND:
		s.log.Debug("command already finished", "cp", cpID, "id", id, "err", err)
	default:
		s.log.Error("recording a command's answer failed", "cp", cpID, "id", id, "err", err)
	}
}

// sweep times out the commands past their deadline until the service
// closes.
func (s *Service) sweep(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.expire(ctx)
		}
	}
}

func (s *Service) expire(ctx context.Context) {
	defer s.waiters.begin(sweepKey)()
	cmds, err := s.opts.Store.ExpireCommands(ctx, s.opts.Now())
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("expiring commands failed", "err", err)
		}
		return
	}
	for _, c := range cmds {
		s.metrics.commandsTimedOut.Add(1)
		s.log.Info("command timed out", "cp", c.ChargePointID, "action", c.Action, "id", c.ID, "state_was_sent", !c.SentAt.IsZero())
		s.notify(ctx, c)
	}
}

// newMessageID returns a random UUID (version 4), the message id of a
// command's CALL.
func newMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// waiters wakes Wait calls in this process when their command finishes,
// and tells them which outcomes this process is still recording (their
// observers have not all returned yet).
type waiters struct {
	mu       sync.Mutex
	m        map[string][]chan struct{}
	inflight map[string]*inflight // by command id, or sweepKey
}

// inflight is an outcome being recorded; done is closed when the last of
// n recorders is through.
type inflight struct {
	n    int
	done chan struct{}
}

// sweepKey marks a sweep in progress: its timed-out commands are not
// known before they are stored.
const sweepKey = "\x00sweep"

// begin marks key busy until the returned function is called.
func (w *waiters) begin(key string) (end func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.inflight == nil {
		w.inflight = map[string]*inflight{}
	}
	f := w.inflight[key]
	if f == nil {
		f = &inflight{done: make(chan struct{})}
		w.inflight[key] = f
	}
	f.n++
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if f.n--; f.n == 0 {
			delete(w.inflight, key)
			close(f.done)
		}
	}
}

// busy returns the channels closed once this process has finished
// recording the outcome of command id and any sweep in progress; none if
// nothing is in progress.
func (w *waiters) busy(id string) []<-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []<-chan struct{}
	for _, k := range []string{id, sweepKey} {
		if f := w.inflight[k]; f != nil {
			out = append(out, f.done)
		}
	}
	return out
}

func (w *waiters) add(id string) chan struct{} {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string][]chan struct{}{}
	}
	w.m[id] = append(w.m[id], ch)
	return ch
}

func (w *waiters) remove(id string, ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	chs := w.m[id]
	for i, c := range chs {
		if c == ch {
			chs = append(chs[:i], chs[i+1:]...)
			break
		}
	}
	if len(chs) == 0 {
		delete(w.m, id)
	} else {
		w.m[id] = chs
	}
}

func (w *waiters) wake(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ch := range w.m[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
