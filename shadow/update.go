package shadow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"

	"github.com/ocppd/ocppd"
)

// Update is a request to change a document; see the package comment for
// its JSON form. Build it with ParseUpdate from a message, or directly in
// Go: values may be any JSON-marshalable Go values (structs included), and
// a nil map value deletes that key.
type Update struct {
	State UpdateState
	// Version, when set, is the version the document must have for the
	// update to apply (optimistic concurrency).
	Version *int64
	// ClientToken is echoed in the responses; at most MaxClientTokenLen
	// bytes.
	ClientToken string
}

// UpdateState holds the sections an update writes.
type UpdateState struct {
	Reported map[string]any // merged into state.reported
	Desired  map[string]any // merged into state.desired
	// ClearReported and ClearDesired ("reported": null, "desired": null)
	// empty the whole section before Reported or Desired are merged.
	ClearReported bool
	ClearDesired  bool
}

// ExpectVersion returns a pointer to v, for Update.Version.
func ExpectVersion(v int64) *int64 { return &v }

// ParseUpdate decodes and validates an update message. Only state (with
// reported and/or desired, each an object or null), version (a
// non-negative integer) and clientToken (a string) are allowed; anything
// else, a message over MaxSize bytes, or nesting over MaxDepth levels is
// an EINVALID error naming the field.
func ParseUpdate(b []byte) (Update, error) {
	var u Update
	if len(b) > MaxSize {
		return u, ocppd.Errorf(ocppd.EINVALID, "shadow update is %d bytes, more than the %d allowed", len(b), MaxSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return u, ocppd.Errorf(ocppd.EINVALID, "shadow update: invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return u, ocppd.Errorf(ocppd.EINVALID, "shadow update: trailing data after the JSON object")
	}
	top, ok := v.(map[string]any)
	if !ok {
		return u, ocppd.Errorf(ocppd.EINVALID, "shadow update: must be a JSON object")
	}
	for k, fv := range top {
		switch k {
		case "state":
			st, ok := fv.(map[string]any)
			if !ok {
				return u, ocppd.Errorf(ocppd.EINVALID, "shadow update: state: must be an object")
			}
			if err := parseState(st, &u.State); err != nil {
				return Update{}, err
			}
		case "version":
			n, ok := fv.(json.Number)
			if !ok {
				return Update{}, ocppd.Errorf(ocppd.EINVALID, "shadow update: version: must be a non-negative integer")
			}
			ver, err := strconv.ParseInt(string(n), 10, 64)
			if err != nil || ver < 0 {
				return Update{}, ocppd.Errorf(ocppd.EINVALID, "shadow update: version: must be a non-negative integer, got %s", n)
			}
			u.Version = &ver
		case "clientToken":
			s, ok := fv.(string)
			if !ok {
				return Update{}, ocppd.Errorf(ocppd.EINVALID, "shadow update: clientToken: must be a string")
			}
			u.ClientToken = s
		default:
			return Update{}, ocppd.Errorf(ocppd.EINVALID, "shadow update: unknown field %q (allowed: state, version, clientToken)", k)
		}
	}
	if _, ok := top["state"]; !ok {
		return Update{}, ocppd.Errorf(ocppd.EINVALID, "shadow update: state: missing")
	}
	if err := u.validate(); err != nil {
		return Update{}, err
	}
	return u, nil
}

func parseState(st map[string]any, out *UpdateState) error {
	for k, sv := range st {
		var sec *map[string]any
		var clear *bool
		switch k {
		case "reported":
			sec, clear = &out.Reported, &out.ClearReported
		case "desired":
			sec, clear = &out.Desired, &out.ClearDesired
		case "delta":
			return ocppd.Errorf(ocppd.EINVALID, "shadow update: state.delta: is computed and cannot be written")
		default:
			return ocppd.Errorf(ocppd.EINVALID, "shadow update: state.%s: unknown section (allowed: reported, desired)", k)
		}
		switch sv := sv.(type) {
		case nil:
			*clear = true
		case map[string]any:
			if _, err := normalizeObject(sv, "state."+k, 1, true); err != nil {
				return err
			}
			*sec = sv
		default:
			return ocppd.Errorf(ocppd.EINVALID, "shadow update: state.%s: must be an object or null", k)
		}
	}
	return nil
}

// validate checks what ParseUpdate and Apply both require.
func (u Update) validate() error {
	s := u.State
	if s.Reported == nil && s.Desired == nil && !s.ClearReported && !s.ClearDesired {
		return ocppd.Errorf(ocppd.EINVALID, "shadow update: state: must contain reported or desired")
	}
	if len(u.ClientToken) > MaxClientTokenLen {
		return ocppd.Errorf(ocppd.EINVALID, "shadow update: clientToken: longer than %d bytes", MaxClientTokenLen)
	}
	return nil
}

// MarshalJSON encodes the update in its message form. An update that both
// clears a section and merges into it cannot be expressed in JSON; the
// merge is encoded and the clear dropped.
func (u Update) MarshalJSON() ([]byte, error) {
	st := map[string]any{}
	if u.State.Reported != nil {
		st["reported"] = u.State.Reported
	} else if u.State.ClearReported {
		st["reported"] = nil
	}
	if u.State.Desired != nil {
		st["desired"] = u.State.Desired
	} else if u.State.ClearDesired {
		st["desired"] = nil
	}
	return json.Marshal(struct {
		State       map[string]any `json:"state"`
		Version     *int64         `json:"version,omitempty"`
		ClientToken string         `json:"clientToken,omitempty"`
	}{st, u.Version, u.ClientToken})
}

// normalizeObject returns a private copy of m with every value in
// canonical JSON form (see Document), checking nesting depth; m is at
// nesting level depth. allowNull permits null members (deletions).
func normalizeObject(m map[string]any, path string, depth int, allowNull bool) (map[string]any, error) {
	if m == nil {
		return nil, nil
	}
	if depth > MaxDepth {
		return nil, ocppd.Errorf(ocppd.EINVALID, "shadow: %s: nested deeper than %d levels", path, MaxDepth)
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		p := path + "." + k
		if v == nil {
			if !allowNull {
				return nil, ocppd.Errorf(ocppd.EINVALID, "shadow: %s: null is not a stored value", p)
			}
			out[k] = nil
			continue
		}
		nv, err := normalize(v, p, depth+1, allowNull)
		if err != nil {
			return nil, err
		}
		out[k] = nv
	}
	return out, nil
}

// normalize converts v, found at nesting level depth if it is an object or
// array, to canonical form.
func normalize(v any, path string, depth int, allowNull bool) (any, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string, bool:
		return v, nil
	case json.Number:
		if !validNumber(string(v)) {
			return nil, ocppd.Errorf(ocppd.EINVALID, "shadow: %s: invalid number %q", path, string(v))
		}
		return v, nil
	case map[string]any:
		m, err := normalizeObject(v, path, depth, allowNull)
		if err != nil {
			return nil, err
		}
		return m, nil
	case []any:
		if depth > MaxDepth {
			return nil, ocppd.Errorf(ocppd.EINVALID, "shadow: %s: nested deeper than %d levels", path, MaxDepth)
		}
		out := make([]any, len(v))
		for i, e := range v {
			ne, err := normalize(e, fmt.Sprintf("%s[%d]", path, i), depth+1, true)
			if err != nil {
				return nil, err
			}
			out[i] = ne
		}
		return out, nil
	case float64:
		return floatNumber(v, path)
	case float32:
		return floatNumber(float64(v), path)
	case int:
		return json.Number(strconv.FormatInt(int64(v), 10)), nil
	case int8:
		return json.Number(strconv.FormatInt(int64(v), 10)), nil
	case int16:
		return json.Number(strconv.FormatInt(int64(v), 10)), nil
	case int32:
		return json.Number(strconv.FormatInt(int64(v), 10)), nil
	case int64:
		return json.Number(strconv.FormatInt(v, 10)), nil
	case uint:
		return json.Number(strconv.FormatUint(uint64(v), 10)), nil
	case uint8:
		return json.Number(strconv.FormatUint(uint64(v), 10)), nil
	case uint16:
		return json.Number(strconv.FormatUint(uint64(v), 10)), nil
	case uint32:
		return json.Number(strconv.FormatUint(uint64(v), 10)), nil
	case uint64:
		return json.Number(strconv.FormatUint(v, 10)), nil
	}
	// Anything else (structs, typed maps and slices, json.RawMessage,
	// pointers): take its JSON form.
	if rv := reflect.ValueOf(v); (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Map || rv.Kind() == reflect.Slice) && rv.IsNil() {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, ocppd.Errorf(ocppd.EINVALID, "shadow: %s: %v", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var dv any
	if err := dec.Decode(&dv); err != nil {
		return nil, ocppd.Errorf(ocppd.EINVALID, "shadow: %s: %v", path, err)
	}
	return normalize(dv, path, depth, allowNull)
}

func floatNumber(f float64, path string) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, ocppd.Errorf(ocppd.EINVALID, "shadow: %s: %v is not a JSON number", path, f)
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
}

// validNumber reports whether s is a JSON number literal.
func validNumber(s string) bool {
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return false
	}
	var f float64
	return json.Unmarshal([]byte(s), &f) == nil || isBigInt(s)
}

func isBigInt(s string) bool {
	i := 0
	if s[0] == '-' {
		i = 1
	}
	if i == len(s) || (s[i] == '0' && len(s) > i+1) {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
