package ocpp

import "strings"

// ValidationError says why a message payload does not conform to its
// schema. Kind selects the CALLERROR code (Version.ErrorCode); Path names
// the offending field in dotted form with array indexes, e.g.
// "chargingStation.model" or "meterValue[0].sampledValue[1].value"; it is
// empty when the payload as a whole is at fault.
type ValidationError struct {
	Kind    ErrorKind
	Path    string
	Message string
}

// Error returns "path: message", cut to the 255 characters an OCPP-J
// errorDescription may hold. When the text is too long the path is kept
// (it names the field) and the message shortened.
func (e *ValidationError) Error() string {
	if e.Path == "" {
		return TruncateDescription(e.Message)
	}
	s := e.Path + ": " + e.Message
	if len(s) <= MaxErrorDescriptionLen {
		return s
	}
	path := e.Path
	if len(path) > 200 {
		// Keep the tail of a very deep path: the field itself matters most.
		path = "…" + path[len(path)-190:]
	}
	return TruncateDescription(path + ": " + e.Message)
}

// Code returns the CALLERROR code for the error in version v.
func (e *ValidationError) Code(v Version) string { return v.ErrorCode(e.Kind) }

// DecodeOptions controls how the per-version packages decode payloads.
// The zero value is strict: every deviation from the official schema is an
// error.
type DecodeOptions struct {
	// Lenient accepts, for stations known to send out-of-spec data, enum
	// values outside the schema's list and properties the schema does not
	// define (they are dropped). Every other rule still applies.
	Lenient bool
	// Warn, when set, is called once for each leniency used, with the path
	// of the field and what was tolerated. Callers log it and count it.
	Warn func(path, msg string)
}

// JoinPath appends a property name to a dotted path.
func JoinPath(path, name string) string {
	if path == "" {
		return name
	}
	var b strings.Builder
	b.Grow(len(path) + 1 + len(name))
	b.WriteString(path)
	b.WriteByte('.')
	b.WriteString(name)
	return b.String()
}
