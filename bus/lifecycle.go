package bus

import (
	"encoding/json"
	"time"
)

// Lifecycle event kinds.
const (
	EventConnected    = "connected"
	EventDisconnected = "disconnected"
)

// LifecycleEvent is published by a gateway on Topics.Lifecycle when a
// station's session starts or ends. Consumers must compare SessionID before
// acting on a disconnect: a station that reconnected elsewhere has a newer
// session, and the old session's disconnect must not mark it offline.
type LifecycleEvent struct {
	Event         string    `json:"event"` // EventConnected or EventDisconnected
	ChargePointID string    `json:"chargePointId"`
	GatewayID     string    `json:"gatewayId"`
	SessionID     string    `json:"sessionId"`
	Protocol      string    `json:"protocol,omitempty"`
	RemoteAddr    string    `json:"remoteAddr,omitempty"`
	Reason        string    `json:"reason,omitempty"`    // why the session ended
	CloseCode     int       `json:"closeCode,omitempty"` // WebSocket close code, when one was sent or received
	Time          time.Time `json:"time"`
}

// Encode returns the event as JSON.
func (e LifecycleEvent) Encode() []byte {
	b, _ := json.Marshal(e)
	return b
}

// DecodeLifecycle parses a lifecycle event.
func DecodeLifecycle(b []byte) (LifecycleEvent, error) {
	var e LifecycleEvent
	err := json.Unmarshal(b, &e)
	return e, err
}
