// Package ocppjson is the small JSON reader and writer behind the generated
// OCPP message packages (ocpp/v16, ocpp/v201, ocpp/v21). The generated code
// decodes and validates a payload in one pass with it, without reflection,
// and reports schema violations as *ocpp.ValidationError naming the field.
package ocppjson

import (
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/ocppd/ocppd/ocpp"
)

// Decoder reads one JSON payload. The generated decoders drive it: Object
// and Array open a container, NextKey and NextElem iterate it, the typed
// readers (String, Int, …) read and check one value. The first error is
// kept in Err and ends every iteration.
type Decoder struct {
	buf     []byte
	pos     int
	opts    ocpp.DecodeOptions
	stack   []frame
	key     []byte
	scratch []byte
	// Err is the first error met; once set, NextKey and NextElem return false.
	Err error
}

type frame struct {
	name string
	idx  int // -1 when the frame is an object property
}

var pool = sync.Pool{New: func() any { return &Decoder{stack: make([]frame, 0, 8)} }}

// Get returns a pooled decoder reading payload. Release it with Put.
func Get(payload []byte, opts ocpp.DecodeOptions) *Decoder {
	d := pool.Get().(*Decoder)
	d.buf, d.pos, d.opts, d.stack, d.key, d.Err = payload, 0, opts, d.stack[:0], nil, nil
	return d
}

// Put returns d to the pool.
func Put(d *Decoder) {
	d.buf, d.key, d.Err = nil, nil, nil
	d.opts = ocpp.DecodeOptions{}
	if cap(d.scratch) > 4096 {
		d.scratch = nil
	}
	pool.Put(d)
}

// Lenient reports whether the decoder tolerates unknown enum values and
// properties.
func (d *Decoder) Lenient() bool { return d.opts.Lenient }

// Push enters the property name; Pop leaves it. They keep the path that
// errors and warnings report.
func (d *Decoder) Push(name string) { d.stack = append(d.stack, frame{name, -1}) }

// Pop leaves the innermost property entered with Push.
func (d *Decoder) Pop() { d.stack = d.stack[:len(d.stack)-1] }

// SetIndex sets the array index of the innermost property.
func (d *Decoder) SetIndex(i int) { d.stack[len(d.stack)-1].idx = i }

// Path returns the dotted path of field inside the current position.
func (d *Decoder) Path(field string) string {
	n := 0
	for _, f := range d.stack {
		n += len(f.name) + 6
	}
	b := make([]byte, 0, n+len(field))
	for i, f := range d.stack {
		if i > 0 {
			b = append(b, '.')
		}
		b = append(b, f.name...)
		if f.idx >= 0 {
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(f.idx), 10)
			b = append(b, ']')
		}
	}
	if field != "" {
		if len(b) > 0 {
			b = append(b, '.')
		}
		b = append(b, field...)
	}
	return string(b)
}

// Fail returns a validation error of kind at field (relative to the
// current position; "" for the current position itself), and keeps it in
// Err.
func (d *Decoder) Fail(kind ocpp.ErrorKind, field, msg string) error {
	err := &ocpp.ValidationError{Kind: kind, Path: d.Path(field), Message: msg}
	if d.Err == nil {
		d.Err = err
	}
	return err
}

func (d *Decoder) syntax(msg string) error {
	return d.Fail(ocpp.ErrFormat, "", msg+" at offset "+strconv.Itoa(d.pos))
}

func (d *Decoder) warn(field, msg string) {
	if d.opts.Warn != nil {
		d.opts.Warn(d.Path(field), msg)
	}
}

func (d *Decoder) ws() {
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (d *Decoder) peek() byte {
	d.ws()
	if d.pos < len(d.buf) {
		return d.buf[d.pos]
	}
	return 0
}

// End checks that nothing but white space follows the payload.
func (d *Decoder) End() error {
	if d.Err != nil {
		return d.Err
	}
	if d.ws(); d.pos < len(d.buf) {
		return d.syntax("unexpected data after the payload")
	}
	return nil
}

func typeName(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case 0:
		return "nothing"
	}
	if c == '-' || (c >= '0' && c <= '9') {
		return "a number"
	}
	return "an invalid value"
}

// wrongType reports a value of the wrong JSON type at field, or a syntax
// error when the value is not JSON at all.
func (d *Decoder) wrongType(field, want string) error {
	c := d.peek()
	if t := typeName(c); t != "an invalid value" && t != "nothing" {
		// Check the value is well-formed JSON first: a syntax error wins.
		start := d.pos
		if err := d.skip(); err != nil {
			return err
		}
		d.pos = start
		return d.Fail(ocpp.ErrTypeConstraint, field, "must be "+want+", not "+t)
	}
	return d.syntax("invalid JSON value")
}

// Object opens an object; field names the value for errors ("" for the
// payload itself or an array element).
func (d *Decoder) Object(field string) error {
	if d.peek() != '{' {
		return d.wrongType(field, "an object")
	}
	d.pos++
	return nil
}

// NextKey advances to the i-th property of the open object and reports
// whether there is one; its name is then Key. At the closing brace, or on
// error, it returns false.
func (d *Decoder) NextKey(i int) bool {
	if d.Err != nil {
		return false
	}
	c := d.peek()
	if c == '}' {
		d.pos++
		return false
	}
	if i > 0 {
		if c != ',' {
			d.syntax("expected ',' or '}'")
			return false
		}
		d.pos++
		c = d.peek()
	}
	if c != '"' {
		d.syntax("expected a property name")
		return false
	}
	k, err := d.rawString()
	if err != nil {
		return false
	}
	d.key = k
	if d.peek() != ':' {
		d.syntax("expected ':'")
		return false
	}
	d.pos++
	return true
}

// Key returns the name of the current property. It is valid until the
// next read.
func (d *Decoder) Key() []byte { return d.key }

// Array opens an array at field.
func (d *Decoder) Array(field string) error {
	if d.peek() != '[' {
		return d.wrongType(field, "an array")
	}
	d.pos++
	return nil
}

// NextElem advances to the i-th element of the open array and reports
// whether there is one.
func (d *Decoder) NextElem(i int) bool {
	if d.Err != nil {
		return false
	}
	c := d.peek()
	if c == ']' {
		d.pos++
		return false
	}
	if i > 0 {
		if c != ',' {
			d.syntax("expected ',' or ']'")
			return false
		}
		d.pos++
	}
	return true
}

// Unknown handles a property the schema does not define: an error, or in
// lenient mode a warning and the value skipped (OCPP additionalProperties
// false).
func (d *Decoder) Unknown() error {
	name := string(d.key)
	if !d.opts.Lenient {
		start := d.pos
		if err := d.skip(); err != nil {
			return err
		}
		d.pos = start
		return d.Fail(ocpp.ErrFormat, name, "property is not allowed")
	}
	if err := d.skip(); err != nil {
		return err
	}
	d.warn(name, "unknown property ignored")
	return nil
}

// Missing reports the absence of a required property.
func (d *Decoder) Missing(field string) error {
	return d.Fail(ocpp.ErrOccurrenceConstraint, field, "required property is missing")
}

// rawString reads a string and returns its unescaped bytes, aliasing the
// input when it has no escapes and the scratch buffer otherwise.
func (d *Decoder) rawString() ([]byte, error) {
	d.pos++ // opening quote
	start := d.pos
	hi := false
	for d.pos < len(d.buf) {
		c := d.buf[d.pos]
		switch {
		case c == '"':
			s := d.buf[start:d.pos]
			d.pos++
			if hi && !utf8.Valid(s) {
				s = d.fixUTF8(s)
			}
			return s, nil
		case c >= utf8.RuneSelf:
			hi = true
		case c == '\\':
			return d.unescape(start)
		case c < 0x20:
			return nil, d.syntax("control character in string")
		}
		d.pos++
	}
	return nil, d.syntax("unterminated string")
}

func (d *Decoder) unescape(start int) ([]byte, error) {
	out := append(d.scratch[:0], d.buf[start:d.pos]...)
	for d.pos < len(d.buf) {
		c := d.buf[d.pos]
		switch {
		case c == '"':
			d.pos++
			if !utf8.Valid(out) {
				out = d.fixUTF8(out)
			}
			d.scratch = out
			return out, nil
		case c < 0x20:
			return nil, d.syntax("control character in string")
		case c != '\\':
			out = append(out, c)
			d.pos++
			continue
		}
		if d.pos+1 >= len(d.buf) {
			break
		}
		e := d.buf[d.pos+1]
		d.pos += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return nil, d.syntax("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if d.pos+1 < len(d.buf) && d.buf[d.pos] == '\\' && d.buf[d.pos+1] == 'u' {
					save := d.pos
					d.pos += 2
					if x, ok := d.hex4(); ok {
						r2 = x
					} else {
						return nil, d.syntax("invalid \\u escape")
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
					} else {
						d.pos = save
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, d.syntax("invalid escape in string")
		}
	}
	return nil, d.syntax("unterminated string")
}

// fixUTF8 replaces each invalid UTF-8 byte of b by U+FFFD, as
// encoding/json does, so that what is decoded is what would be encoded.
func (d *Decoder) fixUTF8(b []byte) []byte {
	out := make([]byte, 0, len(b)+8)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	d.scratch = out
	return out
}

func (d *Decoder) hex4() (rune, bool) {
	if d.pos+4 > len(d.buf) {
		return 0, false
	}
	var r rune
	for _, c := range d.buf[d.pos : d.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	d.pos += 4
	return r, true
}

// RawString reads a string value at field and returns its bytes, valid
// until the next read.
func (d *Decoder) RawString(field string) ([]byte, error) {
	if d.peek() != '"' {
		return nil, d.wrongType(field, "a string")
	}
	return d.rawString()
}

// String reads a string of at most maxLen characters (0: no limit).
func (d *Decoder) String(field string, maxLen int) (string, error) {
	b, err := d.RawString(field)
	if err != nil {
		return "", err
	}
	if maxLen > 0 && len(b) > maxLen && utf8.RuneCount(b) > maxLen {
		return "", d.Fail(ocpp.ErrPropertyConstraint, field, "longer than "+strconv.Itoa(maxLen)+" characters")
	}
	return string(b), nil
}

// URI reads a string that must be an absolute URI (JSON Schema format "uri").
func (d *Decoder) URI(field string, maxLen int) (string, error) {
	s, err := d.String(field, maxLen)
	if err != nil {
		return "", err
	}
	if msg := CheckURI(s); msg != "" {
		return "", d.Fail(ocpp.ErrPropertyConstraint, field, msg)
	}
	return s, nil
}

// Enum reads a string that must be one of an enum's values, as parse
// decides. In lenient mode an unknown value is kept with a warning.
func Enum[T ~string](d *Decoder, field string, parse func([]byte) (T, bool)) (T, error) {
	b, err := d.RawString(field)
	if err != nil {
		return "", err
	}
	if v, ok := parse(b); ok {
		return v, nil
	}
	if d.opts.Lenient {
		d.warn(field, "value "+strconv.Quote(string(b))+" is not in the enumeration; accepted")
		return T(b), nil
	}
	return "", d.Fail(ocpp.ErrPropertyConstraint, field, "value "+quoteShort(b)+" is not allowed")
}

func quoteShort(b []byte) string {
	if len(b) > 40 {
		return strconv.Quote(string(b[:40])) + "…"
	}
	return strconv.Quote(string(b))
}

// Bool reads a boolean.
func (d *Decoder) Bool(field string) (bool, error) {
	switch d.peek() {
	case 't':
		if d.lit("true") {
			return true, nil
		}
	case 'f':
		if d.lit("false") {
			return false, nil
		}
	default:
		return false, d.wrongType(field, "a boolean")
	}
	return false, d.syntax("invalid literal")
}

func (d *Decoder) lit(s string) bool {
	if len(d.buf)-d.pos >= len(s) && string(d.buf[d.pos:d.pos+len(s)]) == s {
		d.pos += len(s)
		return true
	}
	return false
}

// number scans a JSON number and returns its text and whether it has a
// fraction or exponent.
func (d *Decoder) number(field string) ([]byte, bool, error) {
	c := d.peek()
	if c != '-' && (c < '0' || c > '9') {
		return nil, false, d.wrongType(field, "a number")
	}
	start := d.pos
	if c == '-' {
		d.pos++
	}
	digits := func() int {
		n := 0
		for d.pos < len(d.buf) && d.buf[d.pos] >= '0' && d.buf[d.pos] <= '9' {
			d.pos++
			n++
		}
		return n
	}
	intStart := d.pos
	n := digits()
	if n == 0 || (n > 1 && d.buf[intStart] == '0') {
		return nil, false, d.syntax("invalid number")
	}
	frac := false
	if d.pos < len(d.buf) && d.buf[d.pos] == '.' {
		d.pos++
		frac = true
		if digits() == 0 {
			return nil, false, d.syntax("invalid number")
		}
	}
	if d.pos < len(d.buf) && (d.buf[d.pos] == 'e' || d.buf[d.pos] == 'E') {
		d.pos++
		frac = true
		if d.pos < len(d.buf) && (d.buf[d.pos] == '+' || d.buf[d.pos] == '-') {
			d.pos++
		}
		if digits() == 0 {
			return nil, false, d.syntax("invalid number")
		}
	}
	return d.buf[start:d.pos], frac, nil
}

func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// Int reads an integer: a JSON number with no fractional part (JSON Schema
// counts 1.0 as an integer). Values beyond the 64-bit range are refused.
func (d *Decoder) Int(field string) (int, error) {
	t, frac, err := d.number(field)
	if err != nil {
		return 0, err
	}
	if !frac && len(t) <= 18 {
		n := 0
		neg := t[0] == '-'
		if neg {
			t = t[1:]
		}
		for _, c := range t {
			n = n*10 + int(c-'0')
		}
		if neg {
			n = -n
		}
		return n, nil
	}
	var r big.Rat
	if _, ok := r.SetString(string(t)); !ok {
		return 0, d.syntax("invalid number")
	}
	if !r.IsInt() {
		return 0, d.Fail(ocpp.ErrTypeConstraint, field, "must be an integer, not "+quoteShort(t))
	}
	if !r.Num().IsInt64() {
		return 0, d.Fail(ocpp.ErrPropertyConstraint, field, "integer out of range")
	}
	return int(r.Num().Int64()), nil
}

// Number reads a number.
func (d *Decoder) Number(field string) (float64, error) {
	t, _, err := d.number(field)
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(bstr(t), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, d.Fail(ocpp.ErrPropertyConstraint, field, "number out of range")
	}
	return f, nil
}

// Time reads a date-time (RFC 3339, JSON Schema format "date-time") and
// returns it in UTC.
func (d *Decoder) Time(field string) (time.Time, error) {
	b, err := d.RawString(field)
	if err != nil {
		return time.Time{}, err
	}
	t, msg := ParseTime(b)
	if msg != "" {
		return time.Time{}, d.Fail(ocpp.ErrTypeConstraint, field, msg)
	}
	return t, nil
}

// Raw reads any JSON value and returns a copy of its text.
func (d *Decoder) Raw(field string) (json.RawMessage, error) {
	d.ws()
	start := d.pos
	if err := d.skip(); err != nil {
		return nil, err
	}
	return append(json.RawMessage(nil), d.buf[start:d.pos]...), nil
}

// skip reads over one JSON value, checking its syntax.
func (d *Decoder) skip() error {
	switch c := d.peek(); c {
	case '{':
		d.pos++
		for i := 0; d.NextKey(i); i++ {
			if err := d.skip(); err != nil {
				return err
			}
		}
		return d.Err
	case '[':
		d.pos++
		for i := 0; d.NextElem(i); i++ {
			if err := d.skip(); err != nil {
				return err
			}
		}
		return d.Err
	case '"':
		_, err := d.rawString()
		return err
	case 't':
		if d.lit("true") {
			return nil
		}
	case 'f':
		if d.lit("false") {
			return nil
		}
	case 'n':
		if d.lit("null") {
			return nil
		}
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			_, _, err := d.number("")
			return err
		}
	}
	return d.syntax("invalid JSON value")
}
