package csms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/ocpp"
)

// Request is a CALL from a station, as handed to a handler.
type Request struct {
	ChargePointID string
	Version       ocpp.Version
	Action        string
	MessageID     string
	Payload       json.RawMessage
	Session       string
	Received      time.Time
}

// handlerFunc handles one action. It stores what the request reports and
// returns the CALLRESULT payload; an error becomes a CALLERROR (see
// errorKind).
type handlerFunc func(s *Service, ctx context.Context, r *Request) (json.RawMessage, error)

// handlers maps version and action to handler. Actions missing here are
// answered NotImplemented. Each file registers the actions it implements
// with handle in an init function, so features live in their own files.
var handlers = map[ocpp.Version]map[string]handlerFunc{}

// handle registers h for action in each of the versions. Registering an
// action twice is a programming error and panics.
func handle(action string, h handlerFunc, versions ...ocpp.Version) {
	for _, v := range versions {
		if handlers[v] == nil {
			handlers[v] = map[string]handlerFunc{}
		}
		if _, dup := handlers[v][action]; dup {
			panic("csms: handler for " + string(v) + " " + action + " registered twice")
		}
		handlers[v][action] = h
	}
}

// allVersions lists every version, for actions shared by all of them.
var allVersions = []ocpp.Version{ocpp.V16, ocpp.V201, ocpp.V21}

func init() {
	handle("BootNotification", (*Service).bootNotification, allVersions...)
	handle("Heartbeat", (*Service).heartbeat, allVersions...)
	handle("StatusNotification", (*Service).statusNotification16, ocpp.V16)
	handle("StatusNotification", (*Service).statusNotification2x, ocpp.V201, ocpp.V21)
}

func (s *Service) dispatch(ctx context.Context, r *Request) (json.RawMessage, error) {
	h, ok := handlers[r.Version][r.Action]
	if !ok {
		return nil, callErrorf(ocpp.ErrNotImplemented, "action %s is not implemented", r.Action)
	}
	return h(s, ctx, r)
}

// callError is an error that carries the CALLERROR kind to answer with.
type callError struct {
	kind ocpp.ErrorKind
	msg  string
}

func (e *callError) Error() string { return e.msg }

func callErrorf(kind ocpp.ErrorKind, format string, args ...any) error {
	return &callError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// errorKind maps a handler error to the CALLERROR kind and description
// sent to the station. This is the one place where domain errors become
// OCPP errors: store failures become InternalError so the station retries,
// and internals never leak into the description.
func errorKind(err error) (ocpp.ErrorKind, string) {
	var ce *callError
	var ve *ocpp.ValidationError
	switch {
	case errors.As(err, &ce):
		return ce.kind, ce.msg
	case errors.As(err, &ve):
		return ve.Kind, ve.Error()
	}
	switch ocppd.ErrorCode(err) {
	case ocppd.EINVALID:
		return ocpp.ErrProtocol, ocppd.ErrorMessage(err)
	case ocppd.EFORBIDDEN, ocppd.EUNAUTHORIZED:
		return ocpp.ErrSecurity, ocppd.ErrorMessage(err)
	}
	return ocpp.ErrInternal, "the CSMS could not store this message; retry later"
}

// rfc3339 formats t as RFC 3339 in UTC with a Z and millisecond precision.
func rfc3339(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

func (s *Service) bootNotification(ctx context.Context, r *Request) (json.RawMessage, error) {
	if err := decode(r, new(map[string]any)); err != nil {
		return nil, err
	}
	status := ocppd.RegistrationRejected
	cp, err := s.opts.Store.GetChargePoint(ctx, r.ChargePointID)
	switch {
	case err == nil:
		status = cp.Registration
	case ocppd.ErrorCode(err) != ocppd.ENOTFOUND:
		return nil, err
	}
	if status != ocppd.RegistrationRejected {
		// The seed keeps the BootNotification request as the shadow's
		// state.reported: for 2.x {"chargingStation":{…},"reason":…}, for
		// 1.6 its own field names.
		if err := s.report(ctx, r.ChargePointID, r.Payload); err != nil {
			return nil, err
		}
	}
	if err := s.opts.Store.MarkSeen(ctx, r.ChargePointID, r.Received); err != nil {
		return nil, err
	}
	interval := s.opts.HeartbeatInterval
	if status != ocppd.RegistrationAccepted {
		interval = s.opts.RetryInterval
	}
	return json.Marshal(struct {
		CurrentTime string `json:"currentTime"`
		Interval    int    `json:"interval"`
		Status      string `json:"status"`
	}{rfc3339(s.opts.Now()), int(interval / time.Second), string(status)})
}

func (s *Service) heartbeat(ctx context.Context, r *Request) (json.RawMessage, error) {
	if err := decode(r, new(map[string]any)); err != nil {
		return nil, err
	}
	if err := s.opts.Store.MarkSeen(ctx, r.ChargePointID, r.Received); err != nil {
		return nil, err
	}
	return json.Marshal(struct {
		CurrentTime string `json:"currentTime"`
	}{rfc3339(s.opts.Now())})
}

func (s *Service) statusNotification16(ctx context.Context, r *Request) (json.RawMessage, error) {
	var p struct {
		ConnectorID *int       `json:"connectorId"`
		ErrorCode   string     `json:"errorCode"`
		Status      string     `json:"status"`
		Info        string     `json:"info"`
		Timestamp   *time.Time `json:"timestamp"`
	}
	if err := decode(r, &p); err != nil {
		return nil, err
	}
	if p.ConnectorID == nil || p.ErrorCode == "" || p.Status == "" {
		return nil, callErrorf(ocpp.ErrOccurrenceConstraint, "connectorId, errorCode and status are required")
	}
	ts := r.Received
	if p.Timestamp != nil {
		ts = *p.Timestamp
	}
	return s.storeStatus(ctx, ocppd.StatusEvent{
		ChargePointID: r.ChargePointID, Connector: *p.ConnectorID, Status: p.Status,
		ErrorCode: p.ErrorCode, Info: p.Info, Timestamp: ts, ReceivedAt: r.Received,
	})
}

func (s *Service) statusNotification2x(ctx context.Context, r *Request) (json.RawMessage, error) {
	var p struct {
		Timestamp       *time.Time `json:"timestamp"`
		ConnectorStatus string     `json:"connectorStatus"`
		EVSEID          *int       `json:"evseId"`
		ConnectorID     *int       `json:"connectorId"`
	}
	if err := decode(r, &p); err != nil {
		return nil, err
	}
	if p.Timestamp == nil || p.ConnectorStatus == "" || p.EVSEID == nil || p.ConnectorID == nil {
		return nil, callErrorf(ocpp.ErrOccurrenceConstraint, "timestamp, connectorStatus, evseId and connectorId are required")
	}
	return s.storeStatus(ctx, ocppd.StatusEvent{
		ChargePointID: r.ChargePointID, EVSE: *p.EVSEID, Connector: *p.ConnectorID,
		Status: p.ConnectorStatus, Timestamp: *p.Timestamp, ReceivedAt: r.Received,
	})
}

func (s *Service) storeStatus(ctx context.Context, ev ocppd.StatusEvent) (json.RawMessage, error) {
	if err := s.opts.Store.AddStatus(ctx, ev); err != nil {
		return nil, err
	}
	return json.RawMessage(`{}`), nil
}

// decode unmarshals the payload into v, mapping JSON errors to the
// version's CALLERROR kinds.
func decode(r *Request, v any) error {
	if err := json.Unmarshal(r.Payload, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return callErrorf(ocpp.ErrTypeConstraint, "%s: expected %s", te.Field, te.Type)
		}
		return callErrorf(ocpp.ErrFormat, "payload: %v", err)
	}
	return nil
}
