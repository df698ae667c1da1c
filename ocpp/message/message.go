// Package message dispatches OCPP message decoding, validation and
// encoding to the package of the station's protocol version (ocpp/v16,
// ocpp/v201, ocpp/v21). Like them it does no I/O.
package message

import (
	"encoding/json"
	"fmt"

	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/v16"
	"github.com/ocppd/ocppd/ocpp/v201"
	"github.com/ocppd/ocppd/ocpp/v21"
)

func badVersion(v ocpp.Version) error {
	return &ocpp.ValidationError{Kind: ocpp.ErrInternal, Message: fmt.Sprintf("unknown OCPP version %q", v)}
}

// DecodeRequest decodes and validates the payload of a CALL (or an OCPP 2.1
// SEND) of action in version v, returning a pointer to the version's
// request type (e.g. *v201.BootNotificationRequest). Errors are
// *ocpp.ValidationError values: an unknown action has kind
// ocpp.ErrNotImplemented, a payload breaking the schema names the field.
func DecodeRequest(v ocpp.Version, action string, payload []byte, opts ocpp.DecodeOptions) (any, error) {
	switch v {
	case ocpp.V16:
		return v16.DecodeRequest(action, payload, opts)
	case ocpp.V201:
		return v201.DecodeRequest(action, payload, opts)
	case ocpp.V21:
		return v21.DecodeRequest(action, payload, opts)
	}
	return nil, badVersion(v)
}

// DecodeResponse decodes and validates the payload of the CALLRESULT
// answering a CALL of action in version v.
func DecodeResponse(v ocpp.Version, action string, payload []byte, opts ocpp.DecodeOptions) (any, error) {
	switch v {
	case ocpp.V16:
		return v16.DecodeResponse(action, payload, opts)
	case ocpp.V201:
		return v201.DecodeResponse(action, payload, opts)
	case ocpp.V21:
		return v21.DecodeResponse(action, payload, opts)
	}
	return nil, badVersion(v)
}

// Validate checks a message built in Go (a request or response type of the
// package of version v) against the official schema. A message of another
// version's package is an error.
func Validate(v ocpp.Version, msg any) error {
	switch v {
	case ocpp.V16:
		return v16.Validate(msg)
	case ocpp.V201:
		return v201.Validate(msg)
	case ocpp.V21:
		return v21.Validate(msg)
	}
	return badVersion(v)
}

// Actions returns every action of version v.
func Actions(v ocpp.Version) []string {
	switch v {
	case ocpp.V16:
		return v16.Actions
	case ocpp.V201:
		return v201.Actions
	case ocpp.V21:
		return v21.Actions
	}
	return nil
}

// Action returns the version, action and direction of a typed message.
func Action(msg any) (v ocpp.Version, action string, request bool, ok bool) {
	if a, req, ok := v16.Action(msg); ok {
		return ocpp.V16, a, req, true
	}
	if a, req, ok := v201.Action(msg); ok {
		return ocpp.V201, a, req, true
	}
	if a, req, ok := v21.Action(msg); ok {
		return ocpp.V21, a, req, true
	}
	return "", "", false, false
}

// Encode marshals a typed message to its JSON payload (date-times in UTC
// with a 'Z'). It does not validate: call Validate first for messages the
// CSMS sends.
func Encode(msg any) (json.RawMessage, error) {
	b, err := json.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", msg, err)
	}
	return b, nil
}
