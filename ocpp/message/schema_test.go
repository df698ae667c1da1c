package message_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ocppd/ocppd/internal/ocppschema"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/message"
)

// The cross-check: for every action of every version, examples synthesized
// from the official schema (all properties, required ones only, every enum
// value) must be accepted both by the official schema (compiled by
// santhosh-tekuri/jsonschema with format assertions) and by our decoder;
// what we encode back must be accepted by the schema and decode to the
// same value; and every mutation of an example that breaks one schema rule
// must be rejected by both, ours with the CALLERROR kind the rule maps to.

var versions = []struct {
	v    ocpp.Version
	name string
}{{ocpp.V16, "1.6"}, {ocpp.V201, "2.0.1"}, {ocpp.V21, "2.1"}}

// official is one compiled schema with its raw JSON.
type official struct {
	action  string
	request bool
	doc     map[string]any
	schema  *jsonschema.Schema
}

func loadOfficial(t testing.TB, version string) []official {
	t.Helper()
	list, err := ocppschema.Load(version, true)
	if err != nil {
		t.Skipf("official OCPP schemas unavailable (install them with `npm ci --prefix tools/schemas`; npm could not fetch them: %v)", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	var out []official
	for _, raw := range list {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		m := doc.(map[string]any)
		id := m["$id"].(string)
		if err := c.AddResource(id, doc); err != nil {
			t.Fatal(err)
		}
		sch, err := c.Compile(id)
		if err != nil {
			t.Fatalf("compile %s: %v", id, err)
		}
		name := strings.TrimPrefix(id, "urn:")
		o := official{doc: m, schema: sch, request: true}
		switch {
		case strings.HasSuffix(name, ".req"):
			o.action = strings.TrimSuffix(name, ".req")
		case strings.HasSuffix(name, ".conf"):
			o.action, o.request = strings.TrimSuffix(name, ".conf"), false
		case strings.HasSuffix(name, "Request"):
			o.action = strings.TrimSuffix(name, "Request")
		case strings.HasSuffix(name, "Response"):
			o.action, o.request = strings.TrimSuffix(name, "Response"), false
		default:
			o.action = name
		}
		out = append(out, o)
	}
	return out
}

// synth builds instances of a schema.
type synth struct {
	defs    map[string]any
	all     bool // include optional properties
	single  bool // arrays of one item
	variant int  // selects enum values and other choices
}

func (s *synth) resolve(sch map[string]any) map[string]any {
	if ref, ok := sch["$ref"].(string); ok {
		return s.defs[strings.TrimPrefix(ref, "#/definitions/")].(map[string]any)
	}
	return sch
}

func num(v any) (float64, bool) {
	f, ok := v.(float64)
	if !ok {
		if n, ok2 := v.(json.Number); ok2 {
			f, _ = n.Float64()
			return f, true
		}
	}
	return f, ok
}

func (s *synth) value(sch map[string]any, depth int) any {
	sch = s.resolve(sch)
	if enum, ok := sch["enum"].([]any); ok {
		return enum[s.variant%len(enum)]
	}
	switch sch["type"] {
	case "object":
		return s.object(sch, depth)
	case "array":
		n := 1
		if s.all && !s.single {
			n = 2
		}
		if min, ok := num(sch["minItems"]); ok && int(min) > n {
			n = int(min)
		}
		if max, ok := num(sch["maxItems"]); ok && int(max) < n {
			n = int(max)
		}
		arr := make([]any, n)
		for i := range arr {
			arr[i] = s.value(sch["items"].(map[string]any), depth+1)
		}
		return arr
	case "string":
		switch sch["format"] {
		case "date-time":
			if s.variant%2 == 1 {
				return "2025-01-31T14:45:00.5+01:00"
			}
			return "2025-01-31T13:45:00Z"
		case "uri":
			return "https://example.com/firmware.bin"
		}
		n := 3
		if max, ok := num(sch["maxLength"]); ok {
			if s.all {
				n = int(max) // exactly at the limit, in multi-byte runes
			} else if int(max) < n {
				n = int(max)
			}
		}
		if s.all && s.variant%2 == 1 {
			return strings.Repeat("é", n)
		}
		return strings.Repeat("x", n)
	case "integer":
		if min, ok := num(sch["minimum"]); ok {
			if s.all {
				return json.Number(fmt.Sprint(int(min)))
			}
			return json.Number(fmt.Sprint(int(min) + 1))
		}
		if max, ok := num(sch["maximum"]); ok {
			return json.Number(fmt.Sprint(int(max)))
		}
		return json.Number("7")
	case "number":
		if max, ok := num(sch["maximum"]); ok && max < 2 {
			return json.Number(fmt.Sprint(max))
		}
		return json.Number("1.5")
	case "boolean":
		return s.variant%2 == 0
	case nil:
		return map[string]any{"anything": []any{1, "x", nil}}
	}
	panic(fmt.Sprintf("unsupported schema %v", sch))
}

func (s *synth) object(sch map[string]any, depth int) map[string]any {
	out := map[string]any{}
	req := map[string]bool{}
	if r, ok := sch["required"].([]any); ok {
		for _, n := range r {
			req[n.(string)] = true
		}
	}
	props, _ := sch["properties"].(map[string]any)
	for name, p := range props {
		if !req[name] && (!s.all || depth > 6) {
			continue
		}
		out[name] = s.value(p.(map[string]any), depth+1)
	}
	if ap, ok := sch["additionalProperties"]; s.all && (!ok || ap == true) {
		out["vendorExtension"] = map[string]any{"a": []any{json.Number("1"), "b"}}
	}
	return out
}

func canon(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decode(v ocpp.Version, o official, payload []byte, opts ocpp.DecodeOptions) (any, error) {
	if o.request {
		return message.DecodeRequest(v, o.action, payload, opts)
	}
	return message.DecodeResponse(v, o.action, payload, opts)
}

func instance(t testing.TB, payload []byte) any {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		t.Fatalf("unmarshal %s: %v", payload, err)
	}
	return doc
}

func TestSchemaCrossCheck(t *testing.T) {
	for _, ver := range versions {
		t.Run(ver.name, func(t *testing.T) {
			schemas := loadOfficial(t, ver.name)
			actions := map[string]bool{}
			valid, invalid := 0, 0
			for _, o := range schemas {
				actions[o.action] = true
				defs, _ := o.doc["definitions"].(map[string]any)
				var examples [][]byte
				for variant := 0; variant < 4; variant++ {
					for _, all := range []bool{true, false} {
						s := &synth{defs: defs, all: all, variant: variant}
						examples = append(examples, canon(t, s.object(o.doc, 0)))
					}
				}
				for _, ex := range examples {
					valid++
					if err := o.schema.Validate(instance(t, ex)); err != nil {
						t.Fatalf("%s %s: synthesized example rejected by the official schema: %v\n%s", ver.name, o.action, err, ex)
					}
					msg, err := decode(ver.v, o, ex, ocpp.DecodeOptions{})
					if err != nil {
						t.Errorf("%s %s: valid example rejected: %v\n%s", ver.name, o.action, err, ex)
						continue
					}
					if err := message.Validate(ver.v, msg); err != nil {
						t.Errorf("%s %s: Validate rejects a decoded valid message: %v", ver.name, o.action, err)
					}
					enc, err := message.Encode(msg)
					if err != nil {
						t.Fatalf("%s %s: encode: %v", ver.name, o.action, err)
					}
					if err := o.schema.Validate(instance(t, enc)); err != nil {
						t.Errorf("%s %s: our encoding rejected by the official schema: %v\n%s", ver.name, o.action, err, enc)
					}
					again, err := decode(ver.v, o, enc, ocpp.DecodeOptions{})
					if err != nil {
						t.Errorf("%s %s: our encoding does not decode: %v\n%s", ver.name, o.action, err, enc)
					} else if !reflect.DeepEqual(msg, again) {
						t.Errorf("%s %s: round trip changed the message:\n%s\n%s", ver.name, o.action, ex, enc)
					}
				}
				// Mutations of the full example (it holds every property, so
				// every rule of the schema can be broken once).
				{
					s := &synth{defs: defs, all: true, single: true}
					base := s.object(o.doc, 0)
					for _, m := range mutations(s, o.doc, base, "") {
						invalid++
						payload := canon(t, m.doc)
						if err := o.schema.Validate(any(m.doc)); err == nil {
							t.Errorf("%s %s: mutation %q at %s accepted by the official schema (test bug)", ver.name, o.action, m.what, m.path)
							continue
						}
						_, err := decode(ver.v, o, payload, ocpp.DecodeOptions{})
						var ve *ocpp.ValidationError
						if !errors.As(err, &ve) {
							t.Errorf("%s %s: mutation %q at %s accepted by our decoder:\n%s", ver.name, o.action, m.what, m.path, payload)
							continue
						}
						if ve.Kind != m.kind || ve.Path != m.path {
							t.Errorf("%s %s: mutation %q: got %s at %q, want %s at %q", ver.name, o.action, m.what, ver.v.ErrorCode(ve.Kind), ve.Path, ver.v.ErrorCode(m.kind), m.path)
						}
						if n := len([]rune(ve.Error())); n > ocpp.MaxErrorDescriptionLen {
							t.Errorf("error description of %d characters", n)
						}
					}
				}
			}
			got := message.Actions(ver.v)
			want := make([]string, 0, len(actions))
			for a := range actions {
				want = append(want, a)
			}
			sort.Strings(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Actions = %v, want %v", got, want)
			}
			t.Logf("OCPP %s: %d actions, %d valid examples and %d invalid mutations agreed with the official schemas", ver.name, len(want), valid, invalid)
		})
	}
}

type mutation struct {
	what string
	path string
	kind ocpp.ErrorKind
	doc  map[string]any
}

// deepCopy copies a JSON document.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, v := range t {
			out[k] = deepCopy(v)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, v := range t {
			out[i] = deepCopy(v)
		}
		return out
	}
	return v
}

// mutations returns the single-rule breakages of the object obj (an
// instance of sch) at path; root is the whole document they apply to.
func mutations(s *synth, sch, obj map[string]any, path string) []mutation {
	var out []mutation
	join := func(name string) string {
		if path == "" {
			return name
		}
		return path + "." + name
	}
	// Each mutation works on a copy of obj, re-rooted by the caller.
	add := func(what, p string, kind ocpp.ErrorKind, o map[string]any) {
		out = append(out, mutation{what: what, path: p, kind: kind, doc: o})
	}
	sch = s.resolve(sch)
	if ap, ok := sch["additionalProperties"]; ok && ap == false {
		o := deepCopy(obj).(map[string]any)
		o["zzUndefined"] = json.Number("1")
		add("additional property", join("zzUndefined"), ocpp.ErrFormat, o)
	}
	req := map[string]bool{}
	if r, ok := sch["required"].([]any); ok {
		for _, n := range r {
			req[n.(string)] = true
		}
	}
	props, _ := sch["properties"].(map[string]any)
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		ps, ok := props[name].(map[string]any)
		if !ok {
			continue
		}
		p := join(name)
		if req[name] {
			o := deepCopy(obj).(map[string]any)
			delete(o, name)
			add("missing required", p, ocpp.ErrOccurrenceConstraint, o)
		}
		for _, m := range valueMutations(s, ps, obj[name], p) {
			o := deepCopy(obj).(map[string]any)
			o[name] = m.value
			add(m.what, m.path, m.kind, o)
		}
	}
	return out
}

type valueMutation struct {
	what  string
	path  string
	kind  ocpp.ErrorKind
	value any
}

func valueMutations(s *synth, sch map[string]any, v any, path string) []valueMutation {
	sch = s.resolve(sch)
	var out []valueMutation
	add := func(what string, p string, kind ocpp.ErrorKind, val any) {
		out = append(out, valueMutation{what, p, kind, val})
	}
	if _, ok := sch["enum"]; ok {
		add("enum value", path, ocpp.ErrPropertyConstraint, "NotAnEnumValue")
		add("wrong type", path, ocpp.ErrTypeConstraint, json.Number("3"))
		return out
	}
	switch sch["type"] {
	case "object":
		add("wrong type", path, ocpp.ErrTypeConstraint, "string")
		for _, m := range mutations(s, sch, v.(map[string]any), path) {
			add(m.what, m.path, m.kind, m.doc)
		}
	case "array":
		arr := v.([]any)
		add("wrong type", path, ocpp.ErrTypeConstraint, map[string]any{})
		if min, ok := num(sch["minItems"]); ok && min > 0 {
			add("too few items", path, ocpp.ErrOccurrenceConstraint, []any{})
		}
		if max, ok := num(sch["maxItems"]); ok {
			long := make([]any, int(max)+1)
			for i := range long {
				long[i] = deepCopy(arr[0])
			}
			add("too many items", path, ocpp.ErrOccurrenceConstraint, long)
		}
		// Break the first element.
		for _, m := range valueMutations(s, sch["items"].(map[string]any), arr[0], path+"[0]") {
			c := deepCopy(arr).([]any)
			c[0] = m.value
			add(m.what, m.path, m.kind, c)
		}
	case "string":
		add("wrong type", path, ocpp.ErrTypeConstraint, true)
		switch sch["format"] {
		case "date-time":
			add("bad date-time", path, ocpp.ErrTypeConstraint, "2025-02-30T10:00:00Z")
			add("date-time without zone", path, ocpp.ErrTypeConstraint, "2025-01-31T10:00:00")
		case "uri":
			add("relative uri", path, ocpp.ErrPropertyConstraint, "firmware.bin")
		}
		if max, ok := num(sch["maxLength"]); ok {
			add("too long", path, ocpp.ErrPropertyConstraint, strings.Repeat("é", int(max)+1))
		}
	case "integer":
		add("wrong type", path, ocpp.ErrTypeConstraint, "7")
		add("fraction", path, ocpp.ErrTypeConstraint, json.Number("7.5"))
		if min, ok := num(sch["minimum"]); ok {
			add("below minimum", path, ocpp.ErrPropertyConstraint, json.Number(fmt.Sprint(int(min)-1)))
		}
		if max, ok := num(sch["maximum"]); ok {
			add("above maximum", path, ocpp.ErrPropertyConstraint, json.Number(fmt.Sprint(int(max)+1)))
		}
	case "number":
		add("wrong type", path, ocpp.ErrTypeConstraint, []any{})
		if min, ok := num(sch["minimum"]); ok {
			add("below minimum", path, ocpp.ErrPropertyConstraint, json.Number(fmt.Sprint(min-0.5)))
		}
		if max, ok := num(sch["maximum"]); ok {
			add("above maximum", path, ocpp.ErrPropertyConstraint, json.Number(fmt.Sprint(max+0.5)))
		}
		if m, ok := num(sch["multipleOf"]); ok {
			add("not a multiple", path, ocpp.ErrPropertyConstraint, json.Number(fmt.Sprint(m*3.5)))
		}
	case "boolean":
		add("wrong type", path, ocpp.ErrTypeConstraint, "true")
	}
	return out
}
