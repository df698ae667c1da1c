package sim

import (
	"encoding/json"
	"errors"
	"strconv"
)

// Sentinel errors of a Station.
var (
	// ErrNotConnected is returned by Call and SendRaw when the station has
	// no open connection.
	ErrNotConnected = errors.New("not connected")
	// ErrClosed is returned once Close has been called.
	ErrClosed = errors.New("station closed")
	// ErrTimeout is wrapped by Call when no answer arrived within
	// Options.CallTimeout.
	ErrTimeout = errors.New("no answer")
	// ErrConnectionLost is wrapped when the connection ended without a
	// close frame from the server (TCP reset, EOF, write failure).
	ErrConnectionLost = errors.New("connection lost")
)

// CloseError is the close frame the server ended the connection with.
type CloseError struct {
	Code   int    // RFC 6455 status code, e.g. 1008
	Reason string // the reason text, possibly empty
}

// Error returns the code, its RFC 6455 name in parentheses and the reason,
// e.g. "1008 (policy violation) Charge Point CP2 not registered".
func (e *CloseError) Error() string {
	s := strconv.Itoa(e.Code)
	if name := closeCodeName(e.Code); name != "" {
		s += " (" + name + ")"
	}
	if e.Reason != "" {
		s += " " + e.Reason
	}
	return s
}

// Permanent reports whether reconnecting cannot help: the server refused
// the station by policy (1008) or for a protocol error (1002).
func (e *CloseError) Permanent() bool { return e.Code == 1008 || e.Code == 1002 }

// closeCodeName returns the RFC 6455 §7.4.1 name of a close status code,
// or "" for codes it does not name.
func closeCodeName(code int) string {
	switch code {
	case 1000:
		return "normal closure"
	case 1001:
		return "going away"
	case 1002:
		return "protocol error"
	case 1003:
		return "unsupported data"
	case 1005:
		return "no status received"
	case 1006:
		return "abnormal closure"
	case 1007:
		return "invalid frame payload data"
	case 1008:
		return "policy violation"
	case 1009:
		return "message too big"
	case 1010:
		return "mandatory extension"
	case 1011:
		return "internal error"
	}
	return ""
}

// CallError is a CALLERROR: the answer of the peer that refused or failed
// a CALL. A handler registered with Station.Handle returns one to send
// that CALLERROR; Station.Call returns one when the CSMS answered with it.
type CallError struct {
	Code        string          // e.g. "NotImplemented", "FormatViolation"
	Description string          // free text, at most 255 characters on the wire
	Details     json.RawMessage // a JSON object; nil stands for {}
}

// Error returns "CALLERROR <code>: <description>".
func (e *CallError) Error() string {
	s := "CALLERROR " + e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}
