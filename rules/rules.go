// Package rules is ocppd's rules engine: a SQL dialect, a subset of the
// AWS IoT rules SQL, evaluated over bus messages, and the Engine that
// subscribes to the bus and runs the actions (table, republish, webhook,
// log) of the rules that match. The dialect (Parse, Statement.Eval,
// ParseTemplate) is pure: it parses and evaluates one message at a time
// and does no I/O; Engine (engine.go, actions.go) and the rule definitions
// (definition.go) build on it. docs/shadows-and-rules.md is the user's
// guide.
//
// # Statements
//
//	SELECT <item>, ... FROM '<topic filter>' [WHERE <condition>]
//
// An item is `*` (the whole payload), or an expression with an optional
// `AS name`. The seed's rule works verbatim:
//
//	SELECT topic(1) AS chargePointId, timestamp() AS lastTimestamp
//	FROM '+/in'
//	WHERE get(*, 2) = 'Heartbeat'
//
// A string literal with a quote in it:
//
//	SELECT * FROM '+/in' WHERE get(*, 3).idTag = 'it''s me'
//
// Keywords and function names are case-insensitive; whitespace (newlines
// included) separates tokens. The FROM filter uses MQTT wildcards (`+` one
// level, `#` the rest) and is checked first: a message on another topic
// never matches.
//
// # Expressions
//
//   - Literals: strings in single quotes, where a doubled quote stands
//     for one (see the example above); numbers (12, -3, 1.5, 2e3); TRUE, FALSE, NULL.
//   - The payload: `*` is all of it; a bare name `a` is the payload
//     member a; `x.b` a member of x; `x[0]` and get(x, 0) an array element
//     (0-based), get(x, 'k') a member. OCPP-J frames are arrays, so
//     get(*, 2) is the action of a CALL. A name that clashes with a keyword
//     can be written "quoted".
//   - Operators, loosest first: OR; AND; NOT; comparisons (= <> != < <=
//     > >=); addition and subtraction; multiplication, division and
//     remainder (`*`, `/`, `%`); unary minus. Parentheses group.
//   - Functions: topic() (the whole topic), topic(n) (its n-th level,
//     1-based), timestamp() (the message time in milliseconds since the
//     epoch), clientid(), get(x, i), upper(s), lower(s), trim(s),
//     length(s or array), concat(a, b, ...), substring(s, start[, end])
//     (0-based, end exclusive, in characters), startswith(s, p),
//     endswith(s, p), abs(n), round(n), floor(n), ceil(n),
//     coalesce(a, b, ...) (the first neither undefined nor null),
//     isundefined(x), isnull(x).
//
// # Values and Undefined
//
// Values are JSON values: null, booleans, numbers (integers are kept apart
// from decimals: 7 / 2 is 3, 7.0 / 2 is 3.5), strings, arrays and objects.
// As in AWS IoT, a path that does not exist, and any operation on operands
// of the wrong type, is Undefined rather than an error. A SELECT item that
// is Undefined is left out of the result; a WHERE condition that is
// Undefined (or anything other than true) does not match. Comparisons:
// numbers compare numerically (1 = 1.0), strings lexically by bytes, a
// number and a string that holds a number numerically; = between other
// different types is false; < and friends between them are Undefined.
// AND, OR and NOT take booleans or the strings 'true' / 'false' (any case);
// AND and OR short-circuit (false AND x is false, true OR x is true).
// Arithmetic takes numbers or numeric strings; division by zero is
// Undefined.
//
// # Output
//
// Eval returns a Row: the selected fields in SELECT order, which marshals
// to a JSON object in that order. An item without AS is named after the
// last member of its path (`a.b` gives "b"), or `_N` for the N-th item
// otherwise. `*` merges the members of an object payload; any other
// payload becomes the field "payload". Values are nil, bool, int64,
// float64, string, []any or map[string]any.
//
// # Performance
//
// Evaluation is lazy over the raw payload: nothing is unmarshalled until a
// path reaches into it, and then only the values on the way are scanned,
// so a rule that looks at get(*, 2) of a large frame reads only its first
// three elements. The flip side: parts of a payload that a rule does not
// read are not validated.
package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Limits of the parser.
const (
	// MaxStatementLen is the longest statement Parse accepts, in bytes.
	MaxStatementLen = 16 << 10
	// MaxNesting is the deepest nesting of expressions Parse accepts.
	MaxNesting = 64
)

// ParseError describes why a statement does not parse. Error renders it as
// `line:col: expected X, found "Y"` or `line:col: message`.
type ParseError struct {
	Pos      int    // 1-based character (rune) offset in the statement
	Line     int    // 1-based line
	Col      int    // 1-based column, in characters
	Expected string // what the parser expected, if that is the problem
	Found    string // the text found instead; "" at the end of the statement
	Message  string // the problem, when it is not a matter of expected/found
}

// Error implements the error interface.
func (e *ParseError) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Message)
	}
	found := "end of statement"
	if e.Found != "" {
		found = fmt.Sprintf("%q", e.Found)
	}
	return fmt.Sprintf("%d:%d: expected %s, found %s", e.Line, e.Col, e.Expected, found)
}

// newError returns a ParseError at byte offset off of src.
func newError(src string, off int, expected, found, msg string) *ParseError {
	before := src[:off]
	line := strings.Count(before, "\n") + 1
	lineStart := strings.LastIndexByte(before, '\n') + 1
	return &ParseError{
		Pos:      utf8.RuneCountInString(before) + 1,
		Line:     line,
		Col:      utf8.RuneCountInString(before[lineStart:]) + 1,
		Expected: expected,
		Found:    found,
		Message:  msg,
	}
}

// Statement is a parsed rule statement. It is immutable and safe for
// concurrent use.
type Statement struct {
	src    string
	items  []selectItem
	topic  string
	filter []string // the FROM filter split into levels
	where  node     // nil without WHERE
}

type selectItem struct {
	expr node
	name string // "" for a bare *, whose members are merged
}

// Parse parses a statement. Errors are *ParseError.
func Parse(sql string) (*Statement, error) {
	if len(sql) > MaxStatementLen {
		return nil, newError(sql, 0, "", "", fmt.Sprintf("statement is %d bytes, more than the %d allowed", len(sql), MaxStatementLen))
	}
	if !utf8.ValidString(sql) {
		return nil, newError(sql, 0, "", "", "statement is not valid UTF-8")
	}
	toks, perr := lex(sql)
	if perr != nil {
		return nil, perr
	}
	p := &parser{src: sql, toks: toks}
	st, perr := p.statement()
	if perr != nil {
		return nil, perr
	}
	return st, nil
}

// String returns the statement as written.
func (s *Statement) String() string { return s.src }

// Topic returns the FROM topic filter.
func (s *Statement) Topic() string { return s.topic }

// MatchTopic reports whether topic matches the FROM filter under MQTT
// rules: `+` matches one level, a final `#` any number of levels (zero
// included), and wildcards at the first level do not match topics that
// start with '$'.
func (s *Statement) MatchTopic(topic string) bool {
	if topic == "" {
		return false
	}
	if topic[0] == '$' && (s.filter[0] == "+" || s.filter[0] == "#") {
		return false
	}
	pos := 0 // start of the next topic level; -1 once all are consumed
	for _, f := range s.filter {
		if f == "#" {
			return true // also matches the parent level: "a/#" matches "a"
		}
		if pos < 0 {
			return false
		}
		level, next := topic[pos:], -1
		if j := strings.IndexByte(level, '/'); j >= 0 {
			level, next = level[:j], pos+j+1
		}
		if f != "+" && f != level {
			return false
		}
		pos = next
	}
	return pos < 0
}

// Input is one bus message to evaluate a statement against.
type Input struct {
	Topic    string
	Payload  []byte // not modified, and not retained after Eval returns
	ClientID string // the publisher's client id, for clientid()
	// Timestamp is the message time, for timestamp(); the zero time means
	// now.
	Timestamp time.Time
}

// Field is one selected value of a Row.
type Field struct {
	Name  string
	Value any
}

// Row is the result of a matching statement: its fields in SELECT order.
type Row []Field

// Get returns the value of the field named name.
func (r Row) Get(name string) (any, bool) {
	for _, f := range r {
		if f.Name == name {
			return f.Value, true
		}
	}
	return nil, false
}

// Map returns the row as a map.
func (r Row) Map() map[string]any {
	m := make(map[string]any, len(r))
	for _, f := range r {
		m[f.Name] = f.Value
	}
	return m
}

// MarshalJSON encodes the row as a JSON object with its fields in order.
func (r Row) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range r {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(f.Name)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(f.Value)
		if err != nil {
			return nil, fmt.Errorf("marshal field %s: %w", f.Name, err)
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Eval evaluates the statement against one message. matched is false when
// the topic does not match the FROM filter or the WHERE condition is not
// true; row is then nil. Evaluation never fails: missing data and type
// mismatches are Undefined (see the package comment). A matching statement
// whose items are all Undefined gives an empty, non-nil Row.
func (s *Statement) Eval(in Input) (row Row, matched bool) {
	if !s.MatchTopic(in.Topic) {
		return nil, false
	}
	c := ctxPool.Get().(*evalCtx)
	c.in = in
	defer func() {
		*c = evalCtx{}
		ctxPool.Put(c)
	}()
	if s.where != nil {
		if v := s.where.eval(c); v.k != kBool || !v.b {
			return nil, false
		}
	}
	row = make(Row, 0, len(s.items))
	for _, it := range s.items {
		v := it.expr.eval(c)
		if it.name != "" || v.k != kObject {
			x, ok := v.toGo()
			if !ok {
				continue // Undefined: left out
			}
			name := it.name
			if name == "" {
				name = "payload" // a bare * over a payload that is not an object
			}
			row = row.set(name, x)
			continue
		}
		// a bare * over an object: its members
		eachMember(v.raw, func(k string, mv value) bool {
			if x, ok := mv.toGo(); ok {
				row = row.set(goString(k), x)
			}
			return true
		})
	}
	return row, true
}

// ctxPool recycles evaluation contexts: they escape to the heap through
// the node interface, and the hot path should not allocate.
var ctxPool = sync.Pool{New: func() any { return new(evalCtx) }}

// set sets the field name, replacing an earlier one of the same name.
func (r Row) set(name string, v any) Row {
	for i := range r {
		if r[i].Name == name {
			r[i].Value = v
			return r
		}
	}
	return append(r, Field{Name: name, Value: v})
}
