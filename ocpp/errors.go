package ocpp

// ErrorKind is a version-independent CALLERROR reason. Version.ErrorCode
// turns it into the code the station's protocol version defines.
type ErrorKind int

// Error kinds, named after the OCPP 2.x codes.
const (
	ErrGeneric                 ErrorKind = iota
	ErrFormat                            // payload syntactically incorrect (1.6 FormationViolation)
	ErrRPCFramework                      // not a valid RPC frame, e.g. unreadable message id
	ErrMessageTypeNotSupported           // unknown or, for the version, undefined message type
	ErrProtocol                          // payload not conform the PDU structure / incomplete
	ErrPropertyConstraint                // a field holds a value its constraints forbid
	ErrOccurrenceConstraint              // a required field is missing or one occurs too often
	ErrTypeConstraint                    // a field has the wrong JSON type
	ErrNotImplemented                    // the action is not known
	ErrNotSupported                      // the action is known but not supported
	ErrSecurity                          // not allowed in the current security state (e.g. not Accepted)
	ErrInternal                          // the receiver failed; the sender may retry
)

// Codes per version. OCPP 1.6J §4.2.3 spells "FormationViolation" and
// "OccurenceConstraintViolation"; OCPP 2.0.1 and 2.1 Part 4 §4.3 spell
// "FormatViolation" and "OccurrenceConstraintViolation" and add
// RpcFrameworkError and MessageTypeNotSupported, which 1.6 lacks (there a
// frame that is not a valid RPC message is a ProtocolError).
var (
	codes16 = [...]string{
		ErrGeneric:                 "GenericError",
		ErrFormat:                  "FormationViolation",
		ErrRPCFramework:            "ProtocolError",
		ErrMessageTypeNotSupported: "ProtocolError",
		ErrProtocol:                "ProtocolError",
		ErrPropertyConstraint:      "PropertyConstraintViolation",
		ErrOccurrenceConstraint:    "OccurenceConstraintViolation",
		ErrTypeConstraint:          "TypeConstraintViolation",
		ErrNotImplemented:          "NotImplemented",
		ErrNotSupported:            "NotSupported",
		ErrSecurity:                "SecurityError",
		ErrInternal:                "InternalError",
	}
	codes2x = [...]string{
		ErrGeneric:                 "GenericError",
		ErrFormat:                  "FormatViolation",
		ErrRPCFramework:            "RpcFrameworkError",
		ErrMessageTypeNotSupported: "MessageTypeNotSupported",
		ErrProtocol:                "ProtocolError",
		ErrPropertyConstraint:      "PropertyConstraintViolation",
		ErrOccurrenceConstraint:    "OccurrenceConstraintViolation",
		ErrTypeConstraint:          "TypeConstraintViolation",
		ErrNotImplemented:          "NotImplemented",
		ErrNotSupported:            "NotSupported",
		ErrSecurity:                "SecurityError",
		ErrInternal:                "InternalError",
	}
)

// ErrorCode returns the CALLERROR code for kind in version v. Unknown kinds
// give GenericError.
func (v Version) ErrorCode(kind ErrorKind) string {
	table := codes2x[:]
	if v == V16 {
		table = codes16[:]
	}
	if kind < 0 || int(kind) >= len(table) {
		return "GenericError"
	}
	return table[kind]
}

// ErrorCodes returns every CALLERROR code defined by version v.
func (v Version) ErrorCodes() []string {
	table := codes2x[:]
	if v == V16 {
		table = codes16[:]
	}
	seen := map[string]bool{}
	var out []string
	for _, c := range table {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// CallErrorFrame builds the answer to a frame that failed to parse, in
// version v: a CALLERROR, or nil when no answer is due. A malformed
// CALLRESULT or CALLERROR is never answered with a CALLERROR (there is no
// call to fail); in OCPP 2.1 a malformed CALLRESULT is answered with a
// CALLRESULTERROR.
func CallErrorFrame(v Version, e *FrameError) []byte {
	switch e.Type {
	case CallResult:
		if v == V21 && e.ID != UnreadableID {
			return AppendCallResultError(nil, e.ID, v.ErrorCode(e.Kind), e.Message, nil)
		}
		return nil
	case CallError, CallResultError, Send:
		if v.Supports(e.Type) {
			return nil // never answer an error or a SEND
		}
	}
	return AppendCallError(nil, e.ID, v.ErrorCode(e.Kind), e.Message, nil)
}
