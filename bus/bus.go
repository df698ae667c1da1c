// Package bus defines the message bus between the gateways and the CSMS:
// MQTT v5 topics carrying raw OCPP-J frames, and the small interface both
// the embedded broker (bus/embedded) and the external-broker client
// (bus/mqtt) implement.
//
// Topic layout (with an optional prefix, "" by default):
//
//	{prefix}{cp}/in                 frames from station cp, QoS 1
//	{prefix}{cp}/out                frames to station cp, QoS 1
//	{prefix}ocppd/lifecycle/{cp}    connected / disconnected events (JSON)
//
// The station id is used as one topic level. MQTT forbids '+' and '#' in
// topic names and '/' separates levels; ids are checked by
// ocpp.ValidateIdentity, which admits '+' only, so TopicSegment escapes '+'
// as "%2B" (and '%' as "%25"). Every other valid id is its own topic level.
package bus

import (
	"context"
	"errors"
	"strings"
)

// User property names set on /in and /out messages (MQTT v5 user
// properties).
const (
	PropVersion = "ocpp-version" // negotiated subprotocol, e.g. "ocpp2.0.1"
	PropSession = "session"      // gateway session id of the station's connection
	PropGateway = "gateway"      // id of the gateway that published the message
)

// Message is one bus message.
type Message struct {
	Topic   string
	Payload []byte
	// Props are the MQTT v5 user properties.
	Props map[string]string
	// ClientID is the MQTT client id of the publisher when the adapter
	// knows it ("" otherwise).
	ClientID string
	// Retain asks the broker to keep the message for new subscribers.
	Retain bool
	// Hold, set by adapters that acknowledge deliveries to a broker (bus/mqtt),
	// lets a handler keep the message unacknowledged after it returns: a
	// handler calls Hold before returning and gets done, which it must call
	// exactly once when it has finished with the message (e.g. stored it).
	// The adapter acknowledges the message only when every handler that held
	// it is done, so a process that dies before then gets it again from the
	// broker (at least once). A handler that does not call Hold has its
	// message acknowledged when it returns. nil where the adapter has
	// nothing to acknowledge (bus/embedded, bus/memory). Ignored by Publish.
	Hold func() (done func())
}

// Prop returns the user property k, or "".
func (m Message) Prop(k string) string { return m.Props[k] }

// Handler receives messages of a subscription. Adapters may call it on
// their own delivery goroutine or on the publisher's goroutine (the embedded
// broker does): a handler must not block for long, and must copy Payload
// if it keeps it after returning.
type Handler func(Message)

// Bus is a publish/subscribe message bus with MQTT v5 semantics.
//
// Publish returns once the message is handed to the broker at QoS 1 (for
// an external broker: acknowledged by it). Subscribe registers h for every
// message whose topic matches filter (MQTT wildcards + and #). A filter of
// the form "$share/{group}/{filter}" is a shared subscription: each matching
// message goes to one subscriber of the group. Errors wrap ErrClosed after
// Close.
type Bus interface {
	Publish(ctx context.Context, m Message) error
	Subscribe(ctx context.Context, filter string, h Handler) (Subscription, error)
	Close() error
}

// Subscription is an active subscription.
type Subscription interface {
	// Unsubscribe ends the subscription; it is idempotent.
	Unsubscribe(ctx context.Context) error
}

// ErrClosed is returned by a bus used after Close.
var ErrClosed = errors.New("bus closed")

// Topics builds topic names under a prefix.
type Topics struct {
	Prefix string // e.g. "" or "fleet1/"; a non-empty prefix should end in '/'
}

// In returns the topic of frames from station cp.
func (t Topics) In(cp string) string { return t.Prefix + TopicSegment(cp) + "/in" }

// Out returns the topic of frames to station cp.
func (t Topics) Out(cp string) string { return t.Prefix + TopicSegment(cp) + "/out" }

// AllIn is the filter matching every station's /in topic.
func (t Topics) AllIn() string { return t.Prefix + "+/in" }

// AllOut is the filter matching every station's /out topic.
func (t Topics) AllOut() string { return t.Prefix + "+/out" }

// Lifecycle returns the topic of station cp's lifecycle events.
func (t Topics) Lifecycle(cp string) string {
	return t.Prefix + "ocppd/lifecycle/" + TopicSegment(cp)
}

// AllLifecycle is the filter matching every station's lifecycle events.
func (t Topics) AllLifecycle() string { return t.Prefix + "ocppd/lifecycle/+" }

// Shared returns filter as a shared subscription of group.
func Shared(group, filter string) string { return "$share/" + group + "/" + filter }

// StationOf returns the station id of a per-station topic ({cp}/in,
// {cp}/out, ocppd/lifecycle/{cp}) and ok=false for other topics.
func (t Topics) StationOf(topic string) (cp string, ok bool) {
	rest, found := strings.CutPrefix(topic, t.Prefix)
	if !found {
		return "", false
	}
	if seg, ok := strings.CutPrefix(rest, "ocppd/lifecycle/"); ok {
		if strings.Contains(seg, "/") {
			return "", false
		}
		return UnescapeSegment(seg), true
	}
	seg, kind, found := strings.Cut(rest, "/")
	if !found || (kind != "in" && kind != "out") {
		return "", false
	}
	return UnescapeSegment(seg), true
}

// TopicSegment escapes a station id for use as one topic level.
func TopicSegment(cp string) string {
	if !strings.ContainsAny(cp, "+#/%") {
		return cp
	}
	r := strings.NewReplacer("%", "%25", "+", "%2B", "#", "%23", "/", "%2F")
	return r.Replace(cp)
}

// UnescapeSegment reverses TopicSegment.
func UnescapeSegment(seg string) string {
	if !strings.Contains(seg, "%") {
		return seg
	}
	r := strings.NewReplacer("%2B", "+", "%23", "#", "%2F", "/", "%25", "%")
	return r.Replace(seg)
}
