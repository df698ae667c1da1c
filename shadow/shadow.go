// Package shadow implements the device shadow document of a charge point:
// what the station last reported, what the operator wants (desired), and
// the difference between the two (delta), in the shape of an AWS IoT
// classic shadow. The package is pure: it parses, merges and renders
// documents and does no I/O; the CSMS loads and stores them through
// store.Shadows.
//
// # Document
//
//	{
//	  "state": {
//	    "reported": {"chargingStation": {"model": "ABC 123"}, "reason": "PowerUp"},
//	    "desired":  {"HeartbeatInterval": 60},
//	    "delta":    {"HeartbeatInterval": 60}
//	  },
//	  "metadata": {
//	    "reported": {"chargingStation": {"model": {"timestamp": 1700000000}}, "reason": {"timestamp": 1700000000}},
//	    "desired":  {"HeartbeatInterval": {"timestamp": 1700000100}}
//	  },
//	  "version": 7,
//	  "timestamp": 1700000100
//	}
//
// state.delta holds the desired leaves whose value differs from, or is
// absent in, reported: objects are compared key by key, arrays and scalars
// as whole values, numbers numerically. It is recomputed on every change
// and omitted when empty. metadata mirrors reported and desired with
// {"timestamp": <unix seconds>} for every leaf (an array is one leaf),
// recording when that leaf was last written. version counts accepted
// updates; timestamp is the time of the last one. A document never holds
// empty objects: removing the last key of an object removes the object.
//
// Numbers are kept as json.Number, so integers of any size survive a round
// trip unchanged.
//
// # Updates
//
//	{"state": {"desired": {"a": {"b": 1}}, "reported": {...}}, "version": 7, "clientToken": "x"}
//
// An update merges into the document: objects merge key by key, any other
// value replaces what was there, and null deletes the key (and parents left
// empty). "desired": null or "reported": null clears that whole section.
// "version", when present, is the version the sender expects the document
// to have; on a mismatch the update is refused with ocppd.ECONFLICT and
// nothing changes. "clientToken" (at most 64 bytes) is echoed in the
// responses. Each accepted update increments version and sets timestamp.
// Updates larger than MaxSize bytes, nested deeper than MaxDepth levels
// inside reported or desired, or whose result would make the state larger
// than MaxSize, are refused with ocppd.EINVALID.
//
// # Responses
//
// Mirroring the AWS topics $shadow/{cpId}/update/accepted|rejected|delta
// and $shadow/{cpId}/get/accepted|rejected:
//
//	update/accepted (Document.UpdateAccepted): the update's state as sent (nulls
//	  included), metadata for the leaves it wrote, the new version and
//	  timestamp, clientToken:
//	  {"state":{"desired":{"a":1}},"metadata":{"desired":{"a":{"timestamp":1700000100}}},
//	   "version":8,"timestamp":1700000100,"clientToken":"x"}
//	get/accepted (Document.GetAccepted): the whole document plus clientToken.
//	update/rejected, get/rejected (NewRejected): an HTTP-like code (400 invalid,
//	  404 not found, 409 version conflict, 500 otherwise), a message, timestamp,
//	  clientToken:
//	  {"code":409,"message":"version conflict: expected 6, document is at 7","timestamp":1700000100,"clientToken":"x"}
//	update/delta (Document.DeltaMessage): state is the delta, metadata the
//	  desired metadata of its leaves:
//	  {"state":{"a":1},"metadata":{"a":{"timestamp":1700000100}},"version":8,"timestamp":1700000100}
//
// # Use with a store
//
//	rec, err := st.GetShadow(ctx, id)
//	doc, err := shadow.Parse(rec.Document)
//	doc.Version = rec.Version // the store's version is authoritative
//	err = doc.Apply(u, now)   // ECONFLICT or EINVALID: publish NewRejected
//	b, err := doc.Marshal()
//	err = st.PutShadow(ctx, id, b, rec.Version, now) // ECONFLICT: reload and retry
package shadow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/ocppd/ocppd"
)

// Limits on updates and documents.
const (
	// MaxSize is the largest update accepted, and the largest state
	// (reported plus desired, as JSON) a document may reach, in bytes.
	MaxSize = 64 << 10
	// MaxDepth is the deepest nesting of objects and arrays allowed inside
	// state.reported or state.desired; {"a":1} has depth 1.
	MaxDepth = 8
	// MaxClientTokenLen is the longest clientToken accepted, in bytes.
	MaxClientTokenLen = 64
)

// Document is a device shadow. The zero value is an empty document at
// version 0. Values inside the state maps are decoded JSON values:
// map[string]any, []any, string, json.Number or bool; nil (JSON null) only
// as an array element, since null as an object member means delete.
type Document struct {
	State     State    `json:"state"`
	Metadata  Metadata `json:"metadata"`
	Version   int64    `json:"version"`
	Timestamp int64    `json:"timestamp"`
}

// State holds the reported, desired and delta sections of a document.
type State struct {
	Reported map[string]any `json:"reported,omitempty"`
	Desired  map[string]any `json:"desired,omitempty"`
	Delta    map[string]any `json:"delta,omitempty"`
}

// Metadata holds, for every leaf of reported and desired, an object
// {"timestamp": <unix seconds>} recording when it was last written.
type Metadata struct {
	Reported map[string]any `json:"reported,omitempty"`
	Desired  map[string]any `json:"desired,omitempty"`
}

// Parse decodes a stored document. A nil or empty input gives the zero
// document. The stored delta is ignored and recomputed. A malformed
// document is an EINVALID error.
func Parse(b []byte) (Document, error) {
	var d Document
	if len(bytes.TrimSpace(b)) == 0 {
		return d, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		return Document{}, ocppd.Errorf(ocppd.EINVALID, "shadow document: %v", err)
	}
	if dec.More() {
		return Document{}, ocppd.Errorf(ocppd.EINVALID, "shadow document: trailing data after the document")
	}
	for _, sec := range []struct {
		name string
		m    *map[string]any
	}{{"state.reported", &d.State.Reported}, {"state.desired", &d.State.Desired}} {
		m, err := normalizeObject(*sec.m, sec.name, 1, true)
		if err != nil {
			return Document{}, err
		}
		// Be lenient with documents written by others: null members and
		// empty objects are dropped, as an update would have.
		if *sec.m = prune(m); len(*sec.m) == 0 {
			*sec.m = nil
		}
	}
	d.State.Delta = nil
	d.recompute()
	return d, nil
}

// Marshal encodes the document as JSON.
func (d Document) Marshal() ([]byte, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("marshal shadow document: %w", err)
	}
	return b, nil
}

// Delta returns a copy of the desired leaves that differ from reported;
// nil when there is none.
func (d Document) Delta() map[string]any {
	return delta(d.State.Desired, d.State.Reported)
}

// Apply merges u into the document at time now: it checks the expected
// version (ECONFLICT on a mismatch), merges reported and desired (null
// deletes), updates metadata, recomputes the delta, increments Version and
// sets Timestamp. On any error the document is left unchanged. Values in u
// may be any JSON-marshalable Go values; they are copied.
func (d *Document) Apply(u Update, now time.Time) error {
	if u.Version != nil && *u.Version != d.Version {
		return ocppd.Errorf(ocppd.ECONFLICT, "version conflict: expected %d, document is at %d", *u.Version, d.Version)
	}
	if err := u.validate(); err != nil {
		return err
	}
	rep, err := normalizeObject(u.State.Reported, "state.reported", 1, true)
	if err != nil {
		return err
	}
	des, err := normalizeObject(u.State.Desired, "state.desired", 1, true)
	if err != nil {
		return err
	}
	ts := now.Unix()
	next := Document{
		State: State{
			Reported: deepCopyMap(d.State.Reported),
			Desired:  deepCopyMap(d.State.Desired),
		},
		Metadata: Metadata{
			Reported: deepCopyMap(d.Metadata.Reported),
			Desired:  deepCopyMap(d.Metadata.Desired),
		},
		Version:   d.Version + 1,
		Timestamp: ts,
	}
	if u.State.ClearReported {
		next.State.Reported, next.Metadata.Reported = nil, nil
	}
	if u.State.ClearDesired {
		next.State.Desired, next.Metadata.Desired = nil, nil
	}
	next.State.Reported, next.Metadata.Reported = mergeSection(next.State.Reported, next.Metadata.Reported, rep, ts)
	next.State.Desired, next.Metadata.Desired = mergeSection(next.State.Desired, next.Metadata.Desired, des, ts)
	size, err := stateSize(next.State)
	if err != nil {
		return err
	}
	if size > MaxSize {
		return ocppd.Errorf(ocppd.EINVALID, "shadow state would be %d bytes, more than the %d allowed", size, MaxSize)
	}
	next.recompute()
	*d = next
	return nil
}

// prune removes null members and empty objects from m, recursively
// outside arrays, and returns m.
func prune(m map[string]any) map[string]any {
	for k, v := range m {
		switch v := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			if len(prune(v)) == 0 {
				delete(m, k)
			}
		}
	}
	return m
}

// recompute sets the delta from desired and reported.
func (d *Document) recompute() {
	d.State.Delta = delta(d.State.Desired, d.State.Reported)
}

func stateSize(s State) (int, error) {
	b, err := json.Marshal(struct {
		Reported map[string]any `json:"reported,omitempty"`
		Desired  map[string]any `json:"desired,omitempty"`
	}{s.Reported, s.Desired})
	if err != nil {
		return 0, fmt.Errorf("measure shadow state: %w", err)
	}
	return len(b), nil
}

// mergeSection merges src into dst (and its metadata meta) and returns
// them, nil when left empty.
func mergeSection(dst, meta, src map[string]any, ts int64) (map[string]any, map[string]any) {
	if len(src) == 0 {
		return dst, meta
	}
	if dst == nil {
		dst = map[string]any{}
	}
	if meta == nil {
		meta = map[string]any{}
	}
	merge(dst, meta, src, ts)
	if len(dst) == 0 {
		return nil, nil
	}
	return dst, meta
}

// merge merges src into dst. meta is dst's metadata tree: an object for
// every object of dst, {"timestamp": ts} for every other value.
func merge(dst, meta, src map[string]any, ts int64) {
	for k, v := range src {
		switch v := v.(type) {
		case nil:
			delete(dst, k)
			delete(meta, k)
		case map[string]any:
			d, isObj := dst[k].(map[string]any)
			m, metaObj := meta[k].(map[string]any)
			if !isObj {
				d = map[string]any{}
				m = map[string]any{}
			} else if !metaObj {
				m = map[string]any{}
			}
			merge(d, m, v, ts)
			if len(d) == 0 {
				delete(dst, k)
				delete(meta, k)
				continue
			}
			dst[k] = d
			meta[k] = m
		default:
			dst[k] = v // already a private copy (normalized)
			meta[k] = leafMeta(ts)
		}
	}
}

func leafMeta(ts int64) map[string]any {
	return map[string]any{"timestamp": ts}
}

// delta returns copies of the leaves of desired that differ from reported.
func delta(desired, reported map[string]any) map[string]any {
	var out map[string]any
	for k, dv := range desired {
		rv, present := reported[k]
		var d any
		if dm, ok := dv.(map[string]any); ok {
			if rm, ok := rv.(map[string]any); ok {
				if sub := delta(dm, rm); len(sub) > 0 {
					d = sub
				}
			} else {
				d = deepCopy(dv)
			}
		} else if !present || !equal(dv, rv) {
			d = deepCopy(dv)
		}
		if d != nil {
			if out == nil {
				out = map[string]any{}
			}
			out[k] = d
		}
	}
	return out
}

// metaFor returns the parts of the metadata tree meta that correspond to
// the keys of state (recursively).
func metaFor(state, meta map[string]any) map[string]any {
	if len(state) == 0 {
		return nil
	}
	out := make(map[string]any, len(state))
	for k, v := range state {
		m, ok := meta[k]
		if !ok {
			continue
		}
		if sv, isObj := v.(map[string]any); isObj {
			if mm, ok := m.(map[string]any); ok {
				if sub := metaFor(sv, mm); len(sub) > 0 {
					out[k] = sub
				}
			}
			continue
		}
		out[k] = deepCopy(m)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// equal reports whether two normalized JSON values are equal, comparing
// numbers numerically.
func equal(a, b any) bool {
	switch a := a.(type) {
	case json.Number:
		bn, ok := b.(json.Number)
		return ok && numbersEqual(a, bn)
	case string:
		bs, ok := b.(string)
		return ok && a == bs
	case bool:
		bb, ok := b.(bool)
		return ok && a == bb
	case nil:
		return b == nil
	case []any:
		bs, ok := b.([]any)
		if !ok || len(a) != len(bs) {
			return false
		}
		for i := range a {
			if !equal(a[i], bs[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, av := range a {
			bv, ok := bm[k]
			if !ok || !equal(av, bv) {
				return false
			}
		}
		return true
	}
	return false
}

func numbersEqual(a, b json.Number) bool {
	if a == b {
		return true
	}
	ai, aerr := strconv.ParseInt(string(a), 10, 64)
	bi, berr := strconv.ParseInt(string(b), 10, 64)
	if aerr == nil && berr == nil {
		return ai == bi
	}
	af, aerr := strconv.ParseFloat(string(a), 64)
	bf, berr := strconv.ParseFloat(string(b), 64)
	return aerr == nil && berr == nil && af == bf
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return deepCopyMap(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopy(e)
		}
		return out
	default:
		return v
	}
}

func deepCopyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepCopy(v)
	}
	return out
}
