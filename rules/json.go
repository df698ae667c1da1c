package rules

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// This file is a minimal JSON reader over raw bytes. It finds array
// elements and object members without decoding what it passes over, so
// that evaluating get(*, 2) on a large frame costs a short scan and no
// allocation. What it skips it still checks for well-formedness.

// maxJSONDepth bounds the nesting the skipper follows.
const maxJSONDepth = 512

// view returns a string sharing b's memory. The payload is not modified
// during Eval and strings that leave Eval are cloned (value.borrowed), so
// the view never outlives its bytes.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// rootValue returns the payload as a value. An object or array is taken
// as it is, unscanned; a scalar is parsed and must be all there is.
func rootValue(b []byte) value {
	i := skipWS(b, 0)
	if i >= len(b) {
		return undefined
	}
	switch b[i] {
	case '{':
		return value{k: kObject, raw: b[i:]}
	case '[':
		return value{k: kArray, raw: b[i:]}
	}
	v, end, ok := parseAt(b, i, 0)
	if !ok || skipWS(b, end) != len(b) {
		return undefined
	}
	return v
}

// parseAt reads the value at b[i] (not whitespace) and returns it and the
// index after it.
func parseAt(b []byte, i, depth int) (value, int, bool) {
	if i >= len(b) {
		return undefined, i, false
	}
	switch c := b[i]; {
	case c == '"':
		end, escaped, ok := scanString(b, i)
		if !ok {
			return undefined, i, false
		}
		if !escaped {
			return value{k: kString, s: view(b[i+1 : end-1]), borrowed: true}, end, true
		}
		s, ok := unescape(b[i+1 : end-1])
		if !ok {
			return undefined, i, false
		}
		return value{k: kString, s: s}, end, true
	case c == '-' || (c >= '0' && c <= '9'):
		end, isInt, ok := scanNumber(b, i)
		if !ok {
			return undefined, i, false
		}
		return numberValue(b[i:end], isInt), end, true
	case c == '{' || c == '[':
		end, ok := skipContainer(b, i, depth)
		if !ok {
			return undefined, i, false
		}
		k := kObject
		if c == '[' {
			k = kArray
		}
		return value{k: k, raw: b[i:end]}, end, true
	case c == 't' && bytes.HasPrefix(b[i:], []byte("true")):
		return boolValue(true), i + 4, true
	case c == 'f' && bytes.HasPrefix(b[i:], []byte("false")):
		return boolValue(false), i + 5, true
	case c == 'n' && bytes.HasPrefix(b[i:], []byte("null")):
		return value{k: kNull}, i + 4, true
	}
	return undefined, i, false
}

func numberValue(lit []byte, isInt bool) value {
	if isInt && len(lit) <= 18 {
		var n int64
		neg := lit[0] == '-'
		digits := lit
		if neg {
			digits = lit[1:]
		}
		for _, c := range digits {
			n = n*10 + int64(c-'0')
		}
		if neg {
			n = -n
		}
		return value{k: kInt, i: n}
	}
	s := view(lit)
	if isInt {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return value{k: kInt, i: n}
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil { // out of range
		return undefined
	}
	return value{k: kFloat, f: f}
}

// skipValue returns the index after the value at b[i].
func skipValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '"':
		end, _, ok := scanString(b, i)
		return end, ok
	case c == '{' || c == '[':
		return skipContainer(b, i, depth)
	case c == '-' || (c >= '0' && c <= '9'):
		end, _, ok := scanNumber(b, i)
		return end, ok
	case c == 't' && bytes.HasPrefix(b[i:], []byte("true")):
		return i + 4, true
	case c == 'f' && bytes.HasPrefix(b[i:], []byte("false")):
		return i + 5, true
	case c == 'n' && bytes.HasPrefix(b[i:], []byte("null")):
		return i + 4, true
	}
	return i, false
}

// skipContainer returns the index after the object or array at b[i].
func skipContainer(b []byte, i, depth int) (int, bool) {
	if depth >= maxJSONDepth {
		return i, false
	}
	closer := byte(']')
	isObj := b[i] == '{'
	if isObj {
		closer = '}'
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == closer {
		return i + 1, true
	}
	for {
		var ok bool
		if isObj {
			if i >= len(b) || b[i] != '"' {
				return i, false
			}
			if i, _, ok = scanString(b, i); !ok {
				return i, false
			}
			i = skipWS(b, i)
			if i >= len(b) || b[i] != ':' {
				return i, false
			}
			i = skipWS(b, i+1)
		}
		if i, ok = skipValue(b, i, depth+1); !ok {
			return i, false
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return i, false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case closer:
			return i + 1, true
		default:
			return i, false
		}
	}
}

// scanString returns the index after the string starting at b[i] == '"',
// and whether it holds escapes.
func scanString(b []byte, i int) (end int, escaped, ok bool) {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, escaped, true
		case c == '\\':
			escaped = true
			i++
			if i >= len(b) {
				return i, false, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return i, false, false
				}
				for _, h := range b[i+1 : i+5] {
					if !isHex(h) {
						return i, false, false
					}
				}
				i += 4
			default:
				return i, false, false
			}
		case c < 0x20:
			return i, false, false
		}
	}
	return i, false, false
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// scanNumber returns the index after the JSON number at b[i].
func scanNumber(b []byte, i int) (end int, isInt, ok bool) {
	digits := func(i int) int {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i
	}
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(i)
	default:
		return i, false, false
	}
	isInt = true
	if i < len(b) && b[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return i, false, false
		}
		i, isInt = j, false
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return i, false, false
		}
		i, isInt = j, false
	}
	return i, isInt, true
}

// unescape decodes the body of a JSON string that holds escapes (already
// checked by scanString).
func unescape(b []byte) (string, bool) {
	var sb strings.Builder
	sb.Grow(len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			sb.WriteByte(c)
			continue
		}
		i++
		switch b[i] {
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'u':
			r := hex4(b[i+1 : i+5])
			i += 4
			if utf16.IsSurrogate(r) {
				if i+6 < len(b) && b[i+1] == '\\' && b[i+2] == 'u' {
					if r2 := utf16.DecodeRune(r, hex4(b[i+3:i+7])); r2 != utf8.RuneError {
						r = r2
						i += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			sb.WriteRune(r)
		default: // " \ /
			sb.WriteByte(b[i])
		}
	}
	return sb.String(), true
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// arrayElement returns element n (0-based) of the JSON array raw.
func arrayElement(raw []byte, n int) value {
	i := skipWS(raw, 1)
	if i < len(raw) && raw[i] == ']' {
		return undefined
	}
	for idx := 0; ; idx++ {
		if idx == n {
			v, _, ok := parseAt(raw, i, 1)
			if !ok {
				return undefined
			}
			return v
		}
		end, ok := skipValue(raw, i, 1)
		if !ok {
			return undefined
		}
		i = skipWS(raw, end)
		if i >= len(raw) || raw[i] != ',' {
			return undefined
		}
		i = skipWS(raw, i+1)
	}
}

// arrayLen counts the elements of the JSON array raw.
func arrayLen(raw []byte) (int, bool) {
	i := skipWS(raw, 1)
	if i < len(raw) && raw[i] == ']' {
		return 0, true
	}
	for n := 1; ; n++ {
		end, ok := skipValue(raw, i, 1)
		if !ok {
			return 0, false
		}
		i = skipWS(raw, end)
		if i >= len(raw) {
			return 0, false
		}
		switch raw[i] {
		case ']':
			return n, true
		case ',':
			i = skipWS(raw, i+1)
		default:
			return 0, false
		}
	}
}

// eachMember calls fn for each member of the JSON object raw, in order,
// until fn returns false or the object ends. It stops quietly at
// malformed JSON. key may view raw's memory: clone it to keep it.
func eachMember(raw []byte, fn func(key string, v value) bool) {
	i := skipWS(raw, 1)
	if i < len(raw) && raw[i] == '}' {
		return
	}
	for i < len(raw) && raw[i] == '"' {
		end, escaped, ok := scanString(raw, i)
		if !ok {
			return
		}
		key := raw[i+1 : end-1]
		i = skipWS(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return
		}
		i = skipWS(raw, i+1)
		v, vend, ok := parseAt(raw, i, 1)
		if !ok {
			return
		}
		k := view(key)
		if escaped {
			if k, ok = unescape(key); !ok {
				return
			}
		}
		if !fn(k, v) {
			return
		}
		i = skipWS(raw, vend)
		if i >= len(raw) || raw[i] != ',' {
			return
		}
		i = skipWS(raw, i+1)
	}
}

// objectMember returns the member name of the JSON object raw; with
// duplicate names the last wins, as in encoding/json.
func objectMember(raw []byte, name string) value {
	found := undefined
	eachMember(raw, func(k string, v value) bool {
		if k == name {
			found = v
		}
		return true
	})
	return found
}

// decodeJSON decodes an array or object for a Row: numbers become int64
// when they are integers that fit, float64 otherwise.
func decodeJSON(raw []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false // trailing data after the value
	}
	v, ok := convertNumbers(v)
	return v, ok
}

// convertNumbers replaces json.Numbers in v; ok is false if one is out of
// the range of float64.
func convertNumbers(v any) (any, bool) {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i, true
		}
		f, err := v.Float64()
		return f, err == nil
	case []any:
		for i, e := range v {
			var ok bool
			if v[i], ok = convertNumbers(e); !ok {
				return nil, false
			}
		}
	case map[string]any:
		for k, e := range v {
			var ok bool
			if v[k], ok = convertNumbers(e); !ok {
				return nil, false
			}
		}
	}
	return v, true
}
