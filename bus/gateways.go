package bus

import (
	"encoding/json"
	"time"
)

// Gateway process states in a GatewayStatus.
const (
	GatewayUp   = "up"
	GatewayDown = "down"
)

// Reasons of a GatewayDown status.
const (
	// GatewayReasonShutdown: the gateway stopped cleanly after closing its
	// sessions.
	GatewayReasonShutdown = "shutdown"
	// GatewayReasonConnectionLost: the broker published the gateway's MQTT
	// will because its connection ended without a DISCONNECT (the process
	// died, or its host or network failed).
	GatewayReasonConnectionLost = "connection lost"
)

// GatewayStatus is the liveness of one gateway process, published retained
// on Topics.Gateway(GatewayID): GatewayUp when it starts (and again after
// each reconnection to the broker), GatewayDown when it stops cleanly, and
// GatewayDown with GatewayReasonConnectionLost by the broker itself, as the
// MQTT will of the gateway's connection, when the process dies. Consumers
// mark the stations of a gateway that went down offline.
//
// Instance is random per process start: a status about an older instance
// of the same gateway id (a process that died before a restart) can be told
// from the current one.
type GatewayStatus struct {
	GatewayID string `json:"gatewayId"`
	Instance  string `json:"instance"`
	Status    string `json:"status"` // GatewayUp or GatewayDown
	Reason    string `json:"reason,omitempty"`
	// Time is when the status was published; zero in a will, which is
	// written when the connection is made.
	Time time.Time `json:"time,omitzero"`
}

// Message returns the status as the retained message to publish.
func (s GatewayStatus) Message(t Topics) Message {
	b, _ := json.Marshal(s)
	return Message{Topic: t.Gateway(s.GatewayID), Payload: b, Retain: true}
}

// DecodeGatewayStatus parses a gateway status.
func DecodeGatewayStatus(b []byte) (GatewayStatus, error) {
	var s GatewayStatus
	err := json.Unmarshal(b, &s)
	return s, err
}

// Gateway returns the topic of gateway id's status.
func (t Topics) Gateway(id string) string {
	return t.Prefix + "ocppd/gateways/" + TopicSegment(id)
}

// AllGateways is the filter matching every gateway's status.
func (t Topics) AllGateways() string { return t.Prefix + "ocppd/gateways/+" }

// Resync returns the topic on which a consumer of lifecycle events asks
// every gateway to publish the connected events of its open sessions
// again (Gateway.Reannounce), after it may have missed some: a CSMS worker
// whose broker connection came back without its session. The payload is
// informative only (JSON naming the requester).
func (t Topics) Resync() string { return t.Prefix + "ocppd/resync" }
