package shadow

import (
	"time"

	"github.com/ocppd/ocppd"
)

// Accepted is the message published on $shadow/{cpId}/update/accepted and
// $shadow/{cpId}/get/accepted.
type Accepted struct {
	State       map[string]any `json:"state"`
	Metadata    map[string]any `json:"metadata"`
	Version     int64          `json:"version"`
	Timestamp   int64          `json:"timestamp"`
	ClientToken string         `json:"clientToken,omitempty"`
}

// Rejected is the message published on $shadow/{cpId}/update/rejected and
// $shadow/{cpId}/get/rejected.
type Rejected struct {
	Code        int    `json:"code"` // 400, 404, 409 or 500
	Message     string `json:"message"`
	Timestamp   int64  `json:"timestamp"`
	ClientToken string `json:"clientToken,omitempty"`
}

// DeltaMessage is the message published on $shadow/{cpId}/update/delta:
// the desired values that differ from reported.
type DeltaMessage struct {
	State       map[string]any `json:"state"`
	Metadata    map[string]any `json:"metadata"`
	Version     int64          `json:"version"`
	Timestamp   int64          `json:"timestamp"`
	ClientToken string         `json:"clientToken,omitempty"`
}

// UpdateAccepted returns the update/accepted message for u, which was just
// applied to d: the state u sent (nulls included), metadata for every leaf
// it wrote, d's version and timestamp, and u's client token.
func (d Document) UpdateAccepted(u Update) Accepted {
	state, meta := map[string]any{}, map[string]any{}
	for _, sec := range []struct {
		name  string
		m     map[string]any
		clear bool
	}{{"reported", u.State.Reported, u.State.ClearReported}, {"desired", u.State.Desired, u.State.ClearDesired}} {
		switch {
		case sec.m != nil:
			// Apply succeeded, so u normalizes without error.
			m, _ := normalizeObject(sec.m, "state."+sec.name, 1, true)
			state[sec.name] = m
			meta[sec.name] = touched(m, d.Timestamp)
		case sec.clear:
			state[sec.name] = nil
			meta[sec.name] = leafMeta(d.Timestamp)
		}
	}
	return Accepted{State: state, Metadata: meta, Version: d.Version, Timestamp: d.Timestamp, ClientToken: u.ClientToken}
}

// touched returns the metadata tree of an update object: {"timestamp": ts}
// for each leaf (null deletions included).
func touched(m map[string]any, ts int64) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			out[k] = touched(sub, ts)
			continue
		}
		out[k] = leafMeta(ts)
	}
	return out
}

// GetAccepted returns the get/accepted message: the whole document
// (reported, desired, delta and their metadata) and clientToken.
func (d Document) GetAccepted(clientToken string) Accepted {
	state, meta := map[string]any{}, map[string]any{}
	if d.State.Reported != nil {
		state["reported"] = deepCopyMap(d.State.Reported)
	}
	if d.State.Desired != nil {
		state["desired"] = deepCopyMap(d.State.Desired)
	}
	if dl := d.Delta(); dl != nil {
		state["delta"] = dl
	}
	if d.Metadata.Reported != nil {
		meta["reported"] = deepCopyMap(d.Metadata.Reported)
	}
	if d.Metadata.Desired != nil {
		meta["desired"] = deepCopyMap(d.Metadata.Desired)
	}
	return Accepted{State: state, Metadata: meta, Version: d.Version, Timestamp: d.Timestamp, ClientToken: clientToken}
}

// DeltaMessage returns the update/delta message and true, or false when
// desired and reported agree. The CSMS publishes it after an accepted
// update that changed desired or reported, and acts on it (SetVariables /
// ChangeConfiguration).
func (d Document) DeltaMessage(clientToken string) (DeltaMessage, bool) {
	dl := d.Delta()
	if len(dl) == 0 {
		return DeltaMessage{}, false
	}
	meta := metaFor(dl, d.Metadata.Desired)
	if meta == nil {
		meta = map[string]any{}
	}
	return DeltaMessage{State: dl, Metadata: meta, Version: d.Version, Timestamp: d.Timestamp, ClientToken: clientToken}, true
}

// NewRejected returns the rejected message for err: code 400 for
// EINVALID, 404 for ENOTFOUND, 409 for ECONFLICT and 500 (with a generic
// message, so internals do not leak) for anything else.
func NewRejected(err error, clientToken string, now time.Time) Rejected {
	code := 500
	switch ocppd.ErrorCode(err) {
	case ocppd.EINVALID:
		code = 400
	case ocppd.ENOTFOUND:
		code = 404
	case ocppd.ECONFLICT:
		code = 409
	}
	return Rejected{Code: code, Message: ocppd.ErrorMessage(err), Timestamp: now.Unix(), ClientToken: clientToken}
}
