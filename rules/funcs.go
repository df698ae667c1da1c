package rules

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// funcSpec describes a function: its arity (max -1: any number) and its
// implementation, which evaluates its arguments itself (so that coalesce
// can stop early).
type funcSpec struct {
	min, max int
	fn       func(c *evalCtx, args []node) value
}

func (s funcSpec) arity() string {
	switch {
	case s.min == s.max && s.min == 1:
		return "1 argument"
	case s.min == s.max:
		return strconv.Itoa(s.min) + " arguments"
	case s.max < 0 && s.min == 1:
		return "at least 1 argument"
	case s.max < 0:
		return "at least " + strconv.Itoa(s.min) + " arguments"
	case s.max == s.min+1:
		return strconv.Itoa(s.min) + " or " + strconv.Itoa(s.max) + " arguments"
	}
	return strconv.Itoa(s.min) + " to " + strconv.Itoa(s.max) + " arguments"
}

var functions map[string]funcSpec

func init() {
	functions = map[string]funcSpec{
		"topic":       {0, 1, fnTopic},
		"timestamp":   {0, 0, fnTimestamp},
		"clientid":    {0, 0, fnClientID},
		"get":         {2, 2, func(c *evalCtx, a []node) value { return index(a[0].eval(c), a[1].eval(c)) }},
		"upper":       {1, 1, stringFn(strings.ToUpper)},
		"lower":       {1, 1, stringFn(strings.ToLower)},
		"trim":        {1, 1, stringFn(strings.TrimSpace)},
		"length":      {1, 1, fnLength},
		"concat":      {1, -1, fnConcat},
		"substring":   {2, 3, fnSubstring},
		"startswith":  {2, 2, stringPredicate(strings.HasPrefix)},
		"endswith":    {2, 2, stringPredicate(strings.HasSuffix)},
		"abs":         {1, 1, numberFn(func(i int64) (int64, bool) { return max(i, -i), i != math.MinInt64 }, math.Abs)},
		"round":       {1, 1, numberFn(nil, math.Round)},
		"floor":       {1, 1, numberFn(nil, math.Floor)},
		"ceil":        {1, 1, numberFn(nil, math.Ceil)},
		"coalesce":    {1, -1, fnCoalesce},
		"isundefined": {1, 1, func(c *evalCtx, a []node) value { return boolValue(a[0].eval(c).k == kUndef) }},
		"isnull":      {1, 1, func(c *evalCtx, a []node) value { return boolValue(a[0].eval(c).k == kNull) }},
	}
}

// callNode is a function call.
type callNode struct {
	name string
	fn   func(c *evalCtx, args []node) value
	args []node
}

func (n *callNode) eval(c *evalCtx) value { return n.fn(c, n.args) }

func (n *callNode) String() string {
	parts := make([]string, len(n.args))
	for i, a := range n.args {
		parts[i] = a.String()
	}
	return n.name + "(" + strings.Join(parts, ", ") + ")"
}

// toInt returns v as an integer: integers, integral decimals and strings
// holding them.
func toInt(v value) (int64, bool) {
	n, ok := toNumber(v)
	switch {
	case !ok:
		return 0, false
	case n.k == kInt:
		return n.i, true
	case n.f == math.Trunc(n.f) && math.Abs(n.f) < 1<<62:
		return int64(n.f), true
	}
	return 0, false
}

func fnTopic(c *evalCtx, a []node) value {
	t := c.in.Topic
	if len(a) == 0 {
		return value{k: kString, s: t}
	}
	n, ok := toInt(a[0].eval(c))
	if !ok || n < 1 {
		return undefined
	}
	for ; n > 1; n-- {
		j := strings.IndexByte(t, '/')
		if j < 0 {
			return undefined
		}
		t = t[j+1:]
	}
	if j := strings.IndexByte(t, '/'); j >= 0 {
		t = t[:j]
	}
	return value{k: kString, s: t}
}

func fnTimestamp(c *evalCtx, _ []node) value {
	return value{k: kInt, i: c.now().UnixMilli()}
}

func fnClientID(c *evalCtx, _ []node) value {
	if c.in.ClientID == "" {
		return undefined
	}
	return value{k: kString, s: c.in.ClientID}
}

// stringFn lifts a string function; other types are Undefined. The result
// may share the argument's memory, so it stays borrowed if that was.
func stringFn(f func(string) string) func(*evalCtx, []node) value {
	return func(c *evalCtx, a []node) value {
		v := a[0].eval(c)
		if v.k != kString {
			return undefined
		}
		return value{k: kString, s: f(v.s), borrowed: v.borrowed}
	}
}

func stringPredicate(f func(s, p string) bool) func(*evalCtx, []node) value {
	return func(c *evalCtx, a []node) value {
		s, p := a[0].eval(c), a[1].eval(c)
		if s.k != kString || p.k != kString {
			return undefined
		}
		return boolValue(f(s.s, p.s))
	}
}

// numberFn lifts a numeric function: fi for integers, ff for decimals.
// With fi nil (rounding functions) integers are returned as they are and
// decimal results become integers when they fit.
func numberFn(fi func(int64) (int64, bool), ff func(float64) float64) func(*evalCtx, []node) value {
	return func(c *evalCtx, a []node) value {
		n, ok := toNumber(a[0].eval(c))
		if !ok {
			return undefined
		}
		if n.k == kInt {
			if fi == nil {
				return n
			}
			if r, ok := fi(n.i); ok {
				return value{k: kInt, i: r}
			}
			n = value{k: kFloat, f: float64(n.i)}
		}
		r := ff(n.f)
		if fi == nil && math.Abs(r) < 1<<62 {
			return value{k: kInt, i: int64(r)}
		}
		return value{k: kFloat, f: r}
	}
}

func fnLength(c *evalCtx, a []node) value {
	v := a[0].eval(c)
	switch v.k {
	case kString:
		return value{k: kInt, i: int64(utf8.RuneCountInString(v.s))}
	case kArray:
		n, ok := arrayLen(v.raw)
		if !ok {
			return undefined
		}
		return value{k: kInt, i: int64(n)}
	}
	return undefined
}

// fnConcat joins strings (numbers and booleans are written out), or
// arrays when every argument is an array.
func fnConcat(c *evalCtx, a []node) value {
	vals := make([]value, len(a))
	arrays := 0
	for i, n := range a {
		vals[i] = n.eval(c)
		if vals[i].k == kArray {
			arrays++
		}
	}
	if arrays == len(vals) {
		var all []any
		for _, v := range vals {
			x, ok := decodeJSON(v.raw)
			if !ok {
				return undefined
			}
			all = append(all, x.([]any)...)
		}
		raw, err := json.Marshal(all)
		if err != nil {
			return undefined
		}
		return value{k: kArray, raw: raw}
	}
	var b strings.Builder
	for _, v := range vals {
		switch v.k {
		case kString:
			b.WriteString(v.s)
		case kInt:
			b.WriteString(strconv.FormatInt(v.i, 10))
		case kFloat:
			b.WriteString(strconv.FormatFloat(v.f, 'g', -1, 64))
		case kBool:
			b.WriteString(strconv.FormatBool(v.b))
		default:
			return undefined
		}
	}
	return value{k: kString, s: b.String()}
}

// fnSubstring is substring(s, start[, end]): characters start (0-based)
// up to end (exclusive), clamped to the string.
func fnSubstring(c *evalCtx, a []node) value {
	s := a[0].eval(c)
	if s.k != kString {
		return undefined
	}
	start, ok := toInt(a[1].eval(c))
	if !ok {
		return undefined
	}
	end := int64(math.MaxInt64)
	if len(a) == 3 {
		if end, ok = toInt(a[2].eval(c)); !ok {
			return undefined
		}
	}
	start = max(start, 0)
	if end <= start {
		return value{k: kString}
	}
	// byte offsets of the start-th and end-th characters
	bs, be := len(s.s), len(s.s)
	var n int64
	for off := range s.s {
		if n == start {
			bs = off
		}
		if n == end {
			be = off
			break
		}
		n++
	}
	if bs > be {
		bs = be
	}
	return value{k: kString, s: s.s[bs:be], borrowed: s.borrowed}
}

// fnCoalesce returns its first argument that is neither Undefined nor
// null; null if there is none but some were null.
func fnCoalesce(c *evalCtx, a []node) value {
	sawNull := false
	for _, n := range a {
		switch v := n.eval(c); v.k {
		case kUndef:
		case kNull:
			sawNull = true
		default:
			return v
		}
	}
	if sawNull {
		return value{k: kNull}
	}
	return undefined
}
