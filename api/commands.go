package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/csms"
	"github.com/ocppd/ocppd/store"
)

// Commander issues CSMS→station commands; *csms.Service implements it.
type Commander interface {
	SendWith(ctx context.Context, cpID, action string, payload any, o csms.CommandOptions) (store.Command, error)
	Wait(ctx context.Context, id string) (store.Command, error)
}

// sendCommand is the body of POST /chargepoints/{cp}/commands.
type sendCommand struct {
	// Action is the OCPP action, e.g. "Reset".
	Action string `json:"action"`
	// Payload is the request, in the station's OCPP version.
	Payload json.RawMessage `json:"payload"`
	// Timeout is how long the station has to answer once the command is
	// sent (a Go duration such as "30s"); default the CSMS's.
	Timeout string `json:"timeout"`
	// QueueTimeout is how long a command for an offline station waits to
	// be sent; default the CSMS's.
	QueueTimeout string `json:"queueTimeout"`
}

// maxWait bounds the wait parameter.
const maxWait = 5 * time.Minute

// queryWait reads the optional "wait" parameter: how long to wait for a
// command to end before answering.
func queryWait(r *http.Request) (time.Duration, error) {
	v := r.URL.Query().Get("wait")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > maxWait {
		return 0, invalid("wait", "expected a duration from 0s to %s, such as 30s, got %q", maxWait, v)
	}
	return d, nil
}

func parseDuration(field, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, invalid(field, "expected a positive duration such as 30s, got %q", v)
	}
	return d, nil
}

// waitCommand waits up to d for c to end; it answers c as it is when d
// passes.
func (s *Server) waitCommand(ctx context.Context, c store.Command, d time.Duration) (store.Command, error) {
	if d <= 0 || c.State.Final() {
		return c, nil
	}
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	got, err := s.opts.Commands.Wait(wctx, c.ID)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return s.opts.Store.GetCommand(ctx, c.ID)
	}
	return got, err
}

func (s *Server) createCommand(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Commands == nil {
		return ocppd.Errorf(ocppd.ENOTIMPL, "commands are not available in this process")
	}
	wait, err := queryWait(r)
	if err != nil {
		return err
	}
	var in sendCommand
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Action == "" {
		return invalid("action", "required")
	}
	if len(in.Payload) == 0 || in.Payload[0] != '{' {
		return invalid("payload", "required: the request as a JSON object")
	}
	var o csms.CommandOptions
	if o.Timeout, err = parseDuration("timeout", in.Timeout); err != nil {
		return err
	}
	if o.QueueTimeout, err = parseDuration("queueTimeout", in.QueueTimeout); err != nil {
		return err
	}
	cp := r.PathValue("cp")
	c, err := s.opts.Commands.SendWith(r.Context(), cp, in.Action, in.Payload, o)
	if err != nil {
		if ocppd.ErrorCode(err) == ocppd.EINVALID {
			return withField(err, "payload")
		}
		return err
	}
	if c, err = s.waitCommand(r.Context(), c, wait); err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/commands/"+url.PathEscape(c.ID))
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Server) getCommand(w http.ResponseWriter, r *http.Request) error {
	wait, err := queryWait(r)
	if err != nil {
		return err
	}
	c, err := s.opts.Store.GetCommand(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if wait > 0 {
		if s.opts.Commands == nil {
			return invalid("wait", "waiting is not available in this process")
		}
		if c, err = s.waitCommand(r.Context(), c, wait); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) listCommands(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryLimit(r, defaultLimit)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := store.CommandFilter{ChargePointID: q.Get("cp"), Action: q.Get("action"), State: store.CommandState(q.Get("state")), Limit: limit}
	switch f.State {
	case "", store.CommandQueued, store.CommandSent, store.CommandAnswered, store.CommandFailed, store.CommandTimedOut:
	default:
		return invalid("state", "expected queued, sent, answered, failed or timed_out, got %q", f.State)
	}
	cs, err := s.opts.Store.ListCommands(r.Context(), f)
	if err != nil {
		return err
	}
	if cs == nil {
		cs = []store.Command{}
	}
	writeJSON(w, http.StatusOK, List[store.Command]{Items: cs})
	return nil
}
