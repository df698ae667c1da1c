package rules

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// kind is the type of a value.
type kind uint8

const (
	kUndef kind = iota
	kNull
	kBool
	kInt
	kFloat
	kString
	kArray
	kObject
)

// value is an SQL value. Strings read from the payload view its bytes
// (borrowed) and are copied only when they leave Eval; arrays and objects
// are kept as their raw JSON text and scanned on demand.
type value struct {
	k        kind
	b        bool
	borrowed bool // s views the payload
	i        int64
	f        float64
	s        string
	raw      []byte // JSON text of an array or object
}

var undefined = value{}

func boolValue(b bool) value { return value{k: kBool, b: b} }

// toGo converts v for a Row; ok is false for Undefined, and for arrays or
// objects that turn out not to be valid JSON.
func (v value) toGo() (any, bool) {
	switch v.k {
	case kNull:
		return nil, true
	case kBool:
		return v.b, true
	case kInt:
		return v.i, true
	case kFloat:
		return v.f, true
	case kString:
		if v.borrowed {
			return goString(v.s), true
		}
		if !utf8.ValidString(v.s) {
			return validUTF8(v.s), true
		}
		return v.s, true
	case kArray, kObject:
		return decodeJSON(v.raw)
	}
	return nil, false
}

// goString copies a string that views the payload, making it valid UTF-8.
func goString(s string) string {
	if !utf8.ValidString(s) {
		return validUTF8(s) // a copy
	}
	return strings.Clone(s)
}

// validUTF8 replaces each byte of s that is not part of valid UTF-8 with
// U+FFFD, as encoding/json does when it decodes.
func validUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r) // RuneError for an invalid byte, with n == 1
		i += n
	}
	return b.String()
}

// evalCtx is the state of one evaluation.
type evalCtx struct {
	in      Input
	root    value
	rootSet bool
}

// payload returns the payload as a value, looked at lazily.
func (c *evalCtx) payload() value {
	if !c.rootSet {
		c.root, c.rootSet = rootValue(c.in.Payload), true
	}
	return c.root
}

func (c *evalCtx) now() time.Time {
	if c.in.Timestamp.IsZero() {
		return time.Now()
	}
	return c.in.Timestamp
}

// node is an expression.
type node interface {
	eval(c *evalCtx) value
	String() string // the expression in canonical form, fully parenthesized
}

type literal struct{ v value }

func (n literal) eval(*evalCtx) value { return n.v }

func (n literal) String() string {
	switch n.v.k {
	case kNull:
		return "NULL"
	case kBool:
		if n.v.b {
			return "TRUE"
		}
		return "FALSE"
	case kInt:
		return strconv.FormatInt(n.v.i, 10)
	case kFloat:
		if n.v.f == 0 {
			// Negative zero would print as "-0" and read back as the
			// integer 0; both zeros print as a float that reads back as
			// itself (found by FuzzParse).
			return "0.0"
		}
		return strconv.FormatFloat(n.v.f, 'g', -1, 64)
	case kString:
		return "'" + strings.ReplaceAll(n.v.s, "'", "''") + "'"
	}
	return "?"
}

// rootNode is * — the whole payload.
type rootNode struct{}

func (rootNode) eval(c *evalCtx) value { return c.payload() }
func (rootNode) String() string        { return "*" }

// fieldNode is a bare name: a member of the payload.
type fieldNode struct{ name string }

func (n fieldNode) eval(c *evalCtx) value { return member(c.payload(), n.name) }
func (n fieldNode) String() string        { return quoteName(n.name) }

// memberNode is x.name.
type memberNode struct {
	x    node
	name string
}

func (n memberNode) eval(c *evalCtx) value { return member(n.x.eval(c), n.name) }
func (n memberNode) String() string        { return n.x.String() + "." + quoteName(n.name) }

// indexNode is x[i].
type indexNode struct{ x, i node }

func (n *indexNode) eval(c *evalCtx) value { return index(n.x.eval(c), n.i.eval(c)) }
func (n *indexNode) String() string        { return n.x.String() + "[" + n.i.String() + "]" }

func quoteName(s string) string {
	plain := s != "" && isIdentStart(s[0]) && !reserved[strings.ToUpper(s)]
	for i := 0; plain && i < len(s); i++ {
		plain = isIdentPart(s[i])
	}
	if plain {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// member returns the member name of an object, Undefined otherwise.
func member(v value, name string) value {
	if v.k != kObject {
		return undefined
	}
	return objectMember(v.raw, name)
}

// index returns element i of an array or member i of an object.
func index(v, i value) value {
	switch {
	case v.k == kArray && i.k == kInt:
		if i.i < 0 || i.i > math.MaxInt32 {
			return undefined
		}
		return arrayElement(v.raw, int(i.i))
	case v.k == kArray && i.k == kFloat && i.f == math.Trunc(i.f) && i.f >= 0 && i.f <= math.MaxInt32:
		return arrayElement(v.raw, int(i.f))
	case v.k == kObject && i.k == kString:
		return objectMember(v.raw, i.s)
	}
	return undefined
}

type notNode struct{ x node }

func (n *notNode) eval(c *evalCtx) value {
	b, ok := truth(n.x.eval(c))
	if !ok {
		return undefined
	}
	return boolValue(!b)
}

func (n *notNode) String() string { return "(NOT " + n.x.String() + ")" }

type negNode struct{ x node }

func (n *negNode) eval(c *evalCtx) value {
	v, ok := toNumber(n.x.eval(c))
	switch {
	case !ok:
		return undefined
	case v.k == kInt && v.i != math.MinInt64:
		return value{k: kInt, i: -v.i}
	case v.k == kInt:
		return value{k: kFloat, f: -float64(v.i)}
	}
	return value{k: kFloat, f: -v.f}
}

func (n *negNode) String() string {
	x := n.x.String()
	if strings.HasPrefix(x, "-") {
		return "(- " + x + ")"
	}
	return "(-" + x + ")"
}

type op uint8

const (
	opOr op = iota
	opAnd
	opEq
	opNe
	opLt
	opLe
	opGt
	opGe
	opAdd
	opSub
	opMul
	opDiv
	opMod
)

var opNames = [...]string{opOr: "OR", opAnd: "AND", opEq: "=", opNe: "<>", opLt: "<", opLe: "<=", opGt: ">", opGe: ">=",
	opAdd: "+", opSub: "-", opMul: "*", opDiv: "/", opMod: "%"}

type binaryNode struct {
	op   op
	l, r node
}

func (n *binaryNode) String() string {
	return "(" + n.l.String() + " " + opNames[n.op] + " " + n.r.String() + ")"
}

func (n *binaryNode) eval(c *evalCtx) value {
	switch n.op {
	case opAnd, opOr:
		l, ok := truth(n.l.eval(c))
		if !ok {
			return undefined
		}
		if (n.op == opAnd && !l) || (n.op == opOr && l) {
			return boolValue(l)
		}
		r, ok := truth(n.r.eval(c))
		if !ok {
			return undefined
		}
		return boolValue(r)
	}
	l := n.l.eval(c)
	if l.k == kUndef {
		return undefined
	}
	r := n.r.eval(c)
	if r.k == kUndef {
		return undefined
	}
	switch n.op {
	case opEq:
		return boolValue(equal(l, r))
	case opNe:
		return boolValue(!equal(l, r))
	case opLt, opLe, opGt, opGe:
		cmp, ok := compare(l, r)
		if !ok {
			return undefined
		}
		switch n.op {
		case opLt:
			return boolValue(cmp < 0)
		case opLe:
			return boolValue(cmp <= 0)
		case opGt:
			return boolValue(cmp > 0)
		}
		return boolValue(cmp >= 0)
	}
	return arith(n.op, l, r)
}

// truth converts v for AND, OR and NOT: booleans, and the strings "true"
// and "false" in any case.
func truth(v value) (b, ok bool) {
	switch {
	case v.k == kBool:
		return v.b, true
	case v.k == kString && strings.EqualFold(v.s, "true"):
		return true, true
	case v.k == kString && strings.EqualFold(v.s, "false"):
		return false, true
	}
	return false, false
}

// toNumber returns v as a kInt or kFloat value: numbers as they are,
// strings that hold a number converted.
func toNumber(v value) (value, bool) {
	switch v.k {
	case kInt, kFloat:
		return v, true
	case kString:
		s := strings.TrimSpace(v.s)
		if s == "" {
			return undefined, false
		}
		if c := s[0]; !(c >= '0' && c <= '9') && c != '-' && c != '+' && c != '.' {
			return undefined, false // rejects "NaN", "Inf"
		}
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return value{k: kInt, i: i}, true
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return undefined, false
		}
		return value{k: kFloat, f: f}, true
	}
	return undefined, false
}

func (v value) float() float64 {
	if v.k == kInt {
		return float64(v.i)
	}
	return v.f
}

func isNumber(v value) bool { return v.k == kInt || v.k == kFloat }

// compare orders two defined values: numbers numerically, strings by
// bytes, a number and a numeric string numerically.
func compare(a, b value) (int, bool) {
	if a.k == kString && b.k == kString {
		return strings.Compare(a.s, b.s), true
	}
	if !isNumber(a) && !isNumber(b) {
		return 0, false
	}
	na, ok := toNumber(a)
	if !ok {
		return 0, false
	}
	nb, ok := toNumber(b)
	if !ok {
		return 0, false
	}
	if na.k == kInt && nb.k == kInt {
		switch {
		case na.i < nb.i:
			return -1, true
		case na.i > nb.i:
			return 1, true
		}
		return 0, true
	}
	fa, fb := na.float(), nb.float()
	switch {
	case fa < fb:
		return -1, true
	case fa > fb:
		return 1, true
	}
	return 0, true
}

// equal reports whether two defined values are equal.
func equal(a, b value) bool {
	switch {
	case a.k == kString && b.k == kString:
		return a.s == b.s
	case isNumber(a) || isNumber(b):
		c, ok := compare(a, b)
		return ok && c == 0
	case a.k != b.k:
		return false
	case a.k == kNull:
		return true
	case a.k == kBool:
		return a.b == b.b
	case a.k == kArray || a.k == kObject:
		x, okx := decodeJSON(a.raw)
		y, oky := decodeJSON(b.raw)
		return okx && oky && deepEqual(x, y)
	}
	return false
}

// deepEqual compares decoded JSON values, numbers numerically.
func deepEqual(x, y any) bool {
	switch x := x.(type) {
	case int64, float64:
		var fy float64
		switch y := y.(type) {
		case int64:
			if xi, ok := x.(int64); ok {
				return xi == y
			}
			fy = float64(y)
		case float64:
			fy = y
		default:
			return false
		}
		if xi, ok := x.(int64); ok {
			return float64(xi) == fy
		}
		return x.(float64) == fy
	case []any:
		ys, ok := y.([]any)
		if !ok || len(x) != len(ys) {
			return false
		}
		for i := range x {
			if !deepEqual(x[i], ys[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		ym, ok := y.(map[string]any)
		if !ok || len(x) != len(ym) {
			return false
		}
		for k, xv := range x {
			yv, ok := ym[k]
			if !ok || !deepEqual(xv, yv) {
				return false
			}
		}
		return true
	default:
		return x == y
	}
}

// arith applies an arithmetic operator to numbers (or numeric strings).
// Integers stay integers (falling back to decimals on overflow); division
// by zero and non-finite results are Undefined.
func arith(o op, a, b value) value {
	na, ok := toNumber(a)
	if !ok {
		return undefined
	}
	nb, ok := toNumber(b)
	if !ok {
		return undefined
	}
	if na.k == kInt && nb.k == kInt {
		x, y := na.i, nb.i
		switch o {
		case opAdd:
			if s := x + y; (s > x) == (y > 0) {
				return value{k: kInt, i: s}
			}
		case opSub:
			if d := x - y; (d < x) == (y > 0) {
				return value{k: kInt, i: d}
			}
		case opMul:
			if x == 0 || y == 0 {
				return value{k: kInt}
			}
			if p := x * y; p/y == x && !(x == -1 && y == math.MinInt64) && !(y == -1 && x == math.MinInt64) {
				return value{k: kInt, i: p}
			}
		case opDiv:
			if y == 0 {
				return undefined
			}
			if !(x == math.MinInt64 && y == -1) {
				return value{k: kInt, i: x / y}
			}
		case opMod:
			if y == 0 {
				return undefined
			}
			if y == -1 {
				return value{k: kInt}
			}
			return value{k: kInt, i: x % y}
		}
		// overflow: fall through to decimals
	}
	x, y := na.float(), nb.float()
	var r float64
	switch o {
	case opAdd:
		r = x + y
	case opSub:
		r = x - y
	case opMul:
		r = x * y
	case opDiv:
		if y == 0 {
			return undefined
		}
		r = x / y
	case opMod:
		if y == 0 {
			return undefined
		}
		r = math.Mod(x, y)
	}
	if math.IsInf(r, 0) || math.IsNaN(r) {
		return undefined
	}
	return value{k: kFloat, f: r}
}
