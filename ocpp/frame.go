package ocpp

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// MessageType is the first element of an OCPP-J frame.
type MessageType int

// OCPP-J message types. CallResultError and Send exist from OCPP 2.1 on.
const (
	Call            MessageType = 2
	CallResult      MessageType = 3
	CallError       MessageType = 4
	CallResultError MessageType = 5
	Send            MessageType = 6
)

// String returns the specification's name of the message type.
func (t MessageType) String() string {
	switch t {
	case Call:
		return "CALL"
	case CallResult:
		return "CALLRESULT"
	case CallError:
		return "CALLERROR"
	case CallResultError:
		return "CALLRESULTERROR"
	case Send:
		return "SEND"
	}
	return "type " + strconv.Itoa(int(t))
}

// Supports reports whether version v defines message type t.
func (v Version) Supports(t MessageType) bool {
	switch t {
	case Call, CallResult, CallError:
		return true
	case CallResultError, Send:
		return v == V21
	}
	return false
}

// MaxMessageIDLen is the longest message id allowed (OCPP-J: "maximum of 36
// characters, to allow for GUIDs").
const MaxMessageIDLen = 36

// UnreadableID is the message id used in a CALLERROR answering a frame whose
// own id could not be read (OCPP 2.0.1 Part 4 §4.2.3).
const UnreadableID = "-1"

// Frame is a parsed OCPP-J frame. Only the header is interpreted; Payload is
// the raw JSON of the payload (CALL, CALLRESULT, SEND) or of the error
// details (CALLERROR, CALLRESULTERROR).
type Frame struct {
	Type             MessageType
	ID               string
	Action           string          // CALL and SEND
	ErrorCode        string          // CALLERROR and CALLRESULTERROR
	ErrorDescription string          // CALLERROR and CALLRESULTERROR
	Payload          json.RawMessage // aliases the input of Parse
}

// FrameError says why a frame could not be parsed. Kind selects the
// CALLERROR code; ID is the frame's message id when it could be read and
// UnreadableID otherwise; Type is the message type when it could be read.
type FrameError struct {
	Kind    ErrorKind
	ID      string
	Type    MessageType
	Message string
}

// Error implements the error interface.
func (e *FrameError) Error() string { return e.Message }

// Parse reads an OCPP-J frame. It checks that the frame is one valid JSON
// array of the shape its message type requires, with a message id of at
// most 36 characters and an object payload; it does not look inside the
// payload. The returned frame's Payload aliases data.
//
// Parse does not check the message type against a version; use
// Version.Supports for that.
func Parse(data []byte) (Frame, *FrameError) {
	var f Frame
	if !utf8.Valid(data) || !json.Valid(data) {
		return f, &FrameError{Kind: ErrFormat, ID: UnreadableID, Message: "frame is not valid JSON"}
	}
	s := scanner{b: data}
	s.ws()
	if !s.eat('[') {
		return f, &FrameError{Kind: ErrRPCFramework, ID: UnreadableID, Message: "frame is not a JSON array"}
	}
	s.ws()
	n, ok := s.integer()
	if !ok {
		return f, &FrameError{Kind: ErrRPCFramework, ID: UnreadableID, Message: "message type is not an integer"}
	}
	f.Type = MessageType(n)
	// The id is read before the type is judged, so that an unsupported
	// type can be answered with the frame's own id.
	id, idOK := "", false
	if s.comma() {
		id, idOK = s.str()
	}
	fail := func(kind ErrorKind, msg string) (Frame, *FrameError) {
		fid := UnreadableID
		if idOK && id != "" && len(id) <= MaxMessageIDLen {
			fid = id
		}
		return Frame{}, &FrameError{Kind: kind, ID: fid, Type: f.Type, Message: msg}
	}
	if f.Type < Call || f.Type > Send {
		return fail(ErrMessageTypeNotSupported, "message type "+strconv.Itoa(n)+" is not supported")
	}
	if !idOK {
		return fail(ErrRPCFramework, "message id is missing or not a string")
	}
	if id == "" {
		return fail(ErrRPCFramework, "message id is empty")
	}
	if len(id) > MaxMessageIDLen {
		return fail(ErrRPCFramework, "message id is longer than 36 characters")
	}
	f.ID = id
	switch f.Type {
	case Call, Send:
		if !s.comma() {
			return fail(ErrRPCFramework, "action is missing")
		}
		a, ok := s.str()
		if !ok || a == "" {
			return fail(ErrRPCFramework, "action is not a string")
		}
		f.Action = a
		if !s.comma() {
			return fail(ErrFormat, "payload is missing")
		}
		p, ok := s.object()
		if !ok {
			return fail(ErrFormat, "payload is not a JSON object")
		}
		f.Payload = p
	case CallResult:
		if !s.comma() {
			return fail(ErrFormat, "payload is missing")
		}
		p, ok := s.object()
		if !ok {
			return fail(ErrFormat, "payload is not a JSON object")
		}
		f.Payload = p
	case CallError, CallResultError:
		if !s.comma() {
			return fail(ErrRPCFramework, "error code is missing")
		}
		code, ok := s.str()
		if !ok {
			return fail(ErrRPCFramework, "error code is not a string")
		}
		if !s.comma() {
			return fail(ErrRPCFramework, "error description is missing")
		}
		desc, ok := s.str()
		if !ok {
			return fail(ErrRPCFramework, "error description is not a string")
		}
		if !s.comma() {
			return fail(ErrFormat, "error details are missing")
		}
		p, ok := s.object()
		if !ok {
			return fail(ErrFormat, "error details are not a JSON object")
		}
		f.ErrorCode, f.ErrorDescription, f.Payload = code, desc, p
	}
	s.ws()
	if !s.eat(']') {
		return fail(ErrRPCFramework, "frame has more elements than a "+f.Type.String())
	}
	return f, nil
}

// scanner walks a byte slice already known to be valid JSON.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) comma() bool {
	s.ws()
	if !s.eat(',') {
		return false
	}
	s.ws()
	return true
}

// integer reads a non-negative JSON integer of at most 9 digits.
func (s *scanner) integer() (int, bool) {
	start, n := s.i, 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' && s.i-start < 9 {
		n = n*10 + int(s.b[s.i]-'0')
		s.i++
	}
	if s.i == start || (s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E' || (s.b[s.i] >= '0' && s.b[s.i] <= '9'))) {
		return 0, false
	}
	return n, true
}

// str reads a JSON string, unescaping only when it has escapes.
func (s *scanner) str() (string, bool) {
	if !s.eat('"') {
		return "", false
	}
	start, escaped := s.i, false
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '\\':
			escaped = true
			s.i += 2
			continue
		case '"':
			raw := s.b[start:s.i]
			s.i++
			if !escaped {
				return string(raw), true
			}
			var out string
			if err := json.Unmarshal(s.b[start-1:s.i], &out); err != nil {
				return "", false
			}
			return out, true
		}
		s.i++
	}
	return "", false
}

// object returns the raw bytes of a JSON object starting at the cursor.
func (s *scanner) object() (json.RawMessage, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return nil, false
	}
	start, depth, inStr := s.i, 0, false
	for ; s.i < len(s.b); s.i++ {
		c := s.b[s.i]
		if inStr {
			switch c {
			case '\\':
				s.i++
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				s.i++
				return json.RawMessage(s.b[start:s.i]), true
			}
		}
	}
	return nil, false
}

// AppendCall appends a CALL frame [2,"id","action",payload] to buf.
// payload must be a JSON object; nil stands for {}.
func AppendCall(buf []byte, id, action string, payload json.RawMessage) []byte {
	buf = append(buf, "[2,"...)
	buf = AppendString(buf, id)
	buf = append(buf, ',')
	buf = AppendString(buf, action)
	buf = append(buf, ',')
	return appendObject(buf, payload)
}

// AppendCallResult appends a CALLRESULT frame [3,"id",payload] to buf.
func AppendCallResult(buf []byte, id string, payload json.RawMessage) []byte {
	buf = append(buf, "[3,"...)
	buf = AppendString(buf, id)
	buf = append(buf, ',')
	return appendObject(buf, payload)
}

// MaxErrorDescriptionLen is the longest errorDescription sent; longer ones
// are cut at a rune boundary (OCPP 2.0.1 Part 4: errorDescription is at most
// 255 characters).
const MaxErrorDescriptionLen = 255

// AppendCallError appends a CALLERROR frame [4,"id","code","description",details]
// to buf, cutting the description to 255 characters.
func AppendCallError(buf []byte, id, code, description string, details json.RawMessage) []byte {
	return appendError(buf, CallError, id, code, description, details)
}

// AppendCallResultError appends an OCPP 2.1 CALLRESULTERROR frame
// [5,"id","code","description",details] to buf.
func AppendCallResultError(buf []byte, id, code, description string, details json.RawMessage) []byte {
	return appendError(buf, CallResultError, id, code, description, details)
}

func appendError(buf []byte, t MessageType, id, code, description string, details json.RawMessage) []byte {
	buf = append(buf, '[', byte('0'+t), ',')
	buf = AppendString(buf, id)
	buf = append(buf, ',')
	buf = AppendString(buf, code)
	buf = append(buf, ',')
	buf = AppendString(buf, TruncateDescription(description))
	buf = append(buf, ',')
	return appendObject(buf, details)
}

// TruncateDescription cuts s to at most 255 characters at a rune boundary.
func TruncateDescription(s string) string {
	if utf8.RuneCountInString(s) <= MaxErrorDescriptionLen {
		return s
	}
	n := 0
	for i := range s {
		if n == MaxErrorDescriptionLen {
			return s[:i]
		}
		n++
	}
	return s
}

func appendObject(buf []byte, payload json.RawMessage) []byte {
	if len(payload) == 0 {
		buf = append(buf, "{}"...)
	} else {
		buf = append(buf, payload...)
	}
	return append(buf, ']')
}

const hex = "0123456789abcdef"

// AppendString appends s to buf as a JSON string. Invalid UTF-8 is replaced
// by U+FFFD so the output is always valid JSON.
func AppendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
