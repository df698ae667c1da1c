// Package ocppd holds the domain types and the error type shared by every
// part of ocppd: charge points, their registration and connection state,
// and the error codes that the HTTP API and the OCPP layer translate in one
// place each.
//
// The package has no dependencies beyond the standard library. Transports
// (gateway, bus adapters), stores and the CSMS logic depend on it, never the
// reverse.
package ocppd

import (
	"errors"
	"fmt"
)

// Error codes. They name what went wrong from the caller's point of view and
// are mapped to HTTP statuses by the API and to OCPP CALLERROR codes by the
// CSMS.
const (
	EINVALID      = "invalid"      // the caller sent something malformed
	ENOTFOUND     = "not_found"    // the thing named does not exist
	ECONFLICT     = "conflict"     // it exists already, or a version did not match
	EUNAUTHORIZED = "unauthorized" // credentials missing or wrong
	EFORBIDDEN    = "forbidden"    // authenticated but not allowed
	EUNAVAILABLE  = "unavailable"  // a dependency (store, bus) is down; try again
	EINTERNAL     = "internal"     // a bug or an unexpected failure
	ENOTIMPL      = "not_implemented"
)

// Error is the domain error. Code is one of the E* constants; Message is
// safe to show to the caller.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the message of the first *Error in err's chain, or
// "internal error" for any other error so that internals never leak to
// callers.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	if err == nil {
		return ""
	}
	return "internal error"
}
