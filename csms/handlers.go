package csms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/message"
	"github.com/ocppd/ocppd/ocpp/v16"
	"github.com/ocppd/ocppd/ocpp/v201"
	"github.com/ocppd/ocppd/ocpp/v21"
	"github.com/ocppd/ocppd/store"
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
	// Msg is the decoded, validated request: a pointer to the version's
	// type (e.g. *v201.TransactionEventRequest).
	Msg any
	// Station is the station's registration, protocol and lenient flag
	// as read for this message.
	Station store.StationPolicy
}

// handlerFunc handles one action. It stores what the request reports and
// returns the CALLRESULT payload — a typed response of the station's
// version, or json.RawMessage; an error becomes a CALLERROR (see
// errorKind).
type handlerFunc func(s *Service, ctx context.Context, r *Request) (any, error)

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

// allVersions lists every version, for actions shared by all of them;
// v2x the OCPP 2.x versions.
var (
	allVersions = []ocpp.Version{ocpp.V16, ocpp.V201, ocpp.V21}
	v2x         = []ocpp.Version{ocpp.V201, ocpp.V21}
)

func init() {
	handle("BootNotification", (*Service).bootNotification, allVersions...)
	handle("Heartbeat", (*Service).heartbeat, allVersions...)
	handle("StatusNotification", (*Service).statusNotification16, ocpp.V16)
	handle("StatusNotification", (*Service).statusNotification2x, v2x...)
}

// dispatch gates, decodes and handles a CALL, and returns the encoded
// CALLRESULT payload.
func (s *Service) dispatch(ctx context.Context, r *Request) (json.RawMessage, error) {
	h, ok := handlers[r.Version][r.Action]
	if !ok {
		return nil, callErrorf(ocpp.ErrNotImplemented, "action %s is not implemented", r.Action)
	}
	pol, err := s.stationPolicy(ctx, r.ChargePointID, r.Action == "BootNotification")
	switch {
	case err == nil:
	case ocppd.ErrorCode(err) == ocppd.ENOTFOUND:
		pol = store.StationPolicy{Registration: ocppd.RegistrationRejected} // deleted while connected
	default:
		return nil, err
	}
	r.Station = pol
	if r.Action != "BootNotification" && pol.Registration != ocppd.RegistrationAccepted && !s.allowedBeforeAccepted(ctx, r) {
		// 2.0.1 B02.FR.09 (Pending) and B03.FR.07 (Rejected): a CALL
		// other than BootNotification, or one TriggerMessage asked
		// for, MAY be answered with SecurityError. 1.6 §4.2 says the
		// Charge Point SHALL NOT send other requests before it is
		// accepted; OCPP-J 1.6 defines SecurityError too, so it gets
		// the same answer.
		return nil, callErrorf(ocpp.ErrSecurity, "the station is %s, not Accepted: send BootNotification", pol.Registration)
	}
	msg, err := message.DecodeRequest(r.Version, r.Action, r.Payload, s.decodeOptions(r.ChargePointID, pol))
	if err != nil {
		return nil, err
	}
	r.Msg = msg
	resp, err := h(s, ctx, r)
	if err != nil {
		return nil, err
	}
	if raw, ok := resp.(json.RawMessage); ok {
		return raw, nil
	}
	return message.Encode(resp)
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

func (s *Service) bootNotification(ctx context.Context, r *Request) (any, error) {
	status := r.Station.Registration
	if status != ocppd.RegistrationRejected {
		// The seed keeps the BootNotification request as the shadow's
		// state.reported: for 2.x {"chargingStation":{…},"reason":…}, for
		// 1.6 its own field names.
		if err := s.report(ctx, r.ChargePointID, r.Payload); err != nil && ocppd.ErrorCode(err) != ocppd.ENOTFOUND {
			return nil, err
		}
	}
	if err := s.opts.Store.MarkSeen(ctx, r.ChargePointID, r.Received); err != nil {
		return nil, err
	}
	if status != ocppd.RegistrationRejected {
		// Commands queued for the station (e.g. provisioning while
		// Pending) go out now; B02.FR.02 lets the CSMS send them.
		defer s.flushQueued(context.WithoutCancel(ctx), r.ChargePointID, r.Version)
	}
	interval := s.opts.HeartbeatInterval
	if status != ocppd.RegistrationAccepted {
		interval = s.opts.RetryInterval
	}
	now := s.opts.Now().UTC().Truncate(time.Millisecond)
	secs := int(interval / time.Second)
	switch r.Version {
	case ocpp.V16:
		return &v16.BootNotificationResponse{Status: v16.RegistrationStatus(status), CurrentTime: now, Interval: secs}, nil
	case ocpp.V201:
		return &v201.BootNotificationResponse{Status: v201.RegistrationStatusEnumType(status), CurrentTime: now, Interval: secs}, nil
	default:
		return &v21.BootNotificationResponse{Status: v21.RegistrationStatusEnumType(status), CurrentTime: now, Interval: secs}, nil
	}
}

func (s *Service) heartbeat(ctx context.Context, r *Request) (any, error) {
	if err := s.opts.Store.MarkSeen(ctx, r.ChargePointID, r.Received); err != nil {
		return nil, err
	}
	now := s.opts.Now().UTC().Truncate(time.Millisecond)
	switch r.Version {
	case ocpp.V16:
		return &v16.HeartbeatResponse{CurrentTime: now}, nil
	case ocpp.V201:
		return &v201.HeartbeatResponse{CurrentTime: now}, nil
	default:
		return &v21.HeartbeatResponse{CurrentTime: now}, nil
	}
}

func (s *Service) statusNotification16(ctx context.Context, r *Request) (any, error) {
	p := r.Msg.(*v16.StatusNotificationRequest)
	ts := p.Timestamp
	if ts.IsZero() {
		ts = r.Received
	}
	info := p.Info
	if p.VendorErrorCode != "" {
		info = joinNonEmpty(info, p.VendorID+":"+p.VendorErrorCode)
	}
	err := s.opts.Store.AddStatus(ctx, ocppd.StatusEvent{
		ChargePointID: r.ChargePointID, Connector: p.ConnectorID, Status: string(p.Status),
		ErrorCode: string(p.ErrorCode), Info: info, Timestamp: ts, ReceivedAt: r.Received,
	})
	if err != nil {
		return nil, err
	}
	return &v16.StatusNotificationResponse{}, nil
}

func (s *Service) statusNotification2x(ctx context.Context, r *Request) (any, error) {
	ev := ocppd.StatusEvent{ChargePointID: r.ChargePointID, ReceivedAt: r.Received}
	var resp any
	switch p := r.Msg.(type) {
	case *v201.StatusNotificationRequest:
		ev.EVSE, ev.Connector, ev.Status, ev.Timestamp = p.EvseID, p.ConnectorID, string(p.ConnectorStatus), p.Timestamp
		resp = &v201.StatusNotificationResponse{}
	case *v21.StatusNotificationRequest:
		ev.EVSE, ev.Connector, ev.Status, ev.Timestamp = p.EvseID, p.ConnectorID, string(p.ConnectorStatus), p.Timestamp
		resp = &v21.StatusNotificationResponse{}
	}
	if err := s.opts.Store.AddStatus(ctx, ev); err != nil {
		return nil, err
	}
	return resp, nil
}

func joinNonEmpty(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
