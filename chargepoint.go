package ocppd

import "time"

// RegistrationStatus is the answer the CSMS gives a station's
// BootNotification, kept per station in the registry.
type RegistrationStatus string

// Registration statuses, shared by OCPP 1.6 and 2.x.
const (
	RegistrationAccepted RegistrationStatus = "Accepted"
	RegistrationPending  RegistrationStatus = "Pending"
	RegistrationRejected RegistrationStatus = "Rejected"
)

// Valid reports whether s is one of the defined statuses.
func (s RegistrationStatus) Valid() bool {
	switch s {
	case RegistrationAccepted, RegistrationPending, RegistrationRejected:
		return true
	}
	return false
}

// ChargePoint is a registered station and what is known of its connection.
type ChargePoint struct {
	ID           string             `json:"id"`
	Registration RegistrationStatus `json:"registration"`
	RegisteredAt time.Time          `json:"registeredAt"`

	// Connection state, maintained from the gateways' lifecycle events.
	Online      bool      `json:"online"`
	Protocol    string    `json:"protocol,omitempty"`  // negotiated subprotocol, e.g. "ocpp2.0.1"
	GatewayID   string    `json:"gatewayId,omitempty"` // gateway holding the session
	SessionID   string    `json:"sessionId,omitempty"` // current or last session
	RemoteAddr  string    `json:"remoteAddr,omitempty"`
	ConnectedAt time.Time `json:"connectedAt,omitzero"`
	LastSeen    time.Time `json:"lastSeen,omitzero"` // last message or heartbeat
}

// StatusEvent is one StatusNotification as stored in the status history.
// EVSE is 0 for OCPP 1.6 (which has connectors only) and for the station as
// a whole.
type StatusEvent struct {
	ChargePointID string    `json:"chargePointId"`
	EVSE          int       `json:"evseId"`
	Connector     int       `json:"connectorId"`
	Status        string    `json:"status"`
	ErrorCode     string    `json:"errorCode,omitempty"`
	Info          string    `json:"info,omitempty"`
	Timestamp     time.Time `json:"timestamp"` // as reported by the station
	ReceivedAt    time.Time `json:"receivedAt"`
}
