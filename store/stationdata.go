package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/ocppd/ocppd"
)

// StationPolicy is what the CSMS looks up for every message of a station.
type StationPolicy struct {
	Registration ocppd.RegistrationStatus
	Protocol     string
	// Lenient marks a station known to send out-of-spec payloads: they
	// are decoded leniently (ocpp.DecodeOptions.Lenient).
	Lenient bool
}

// StationEvent is a notification a station sent that the CSMS keeps as a
// log: FirmwareStatusNotification, LogStatusNotification,
// NotifyEvent, NotifyEVChargingNeeds, ReservationStatusUpdate,
// DataTransfer, …
type StationEvent struct {
	ChargePointID string          `json:"chargePointId"`
	Action        string          `json:"action"`           // the OCPP action
	Status        string          `json:"status,omitempty"` // its main status field, when it has one
	Timestamp     time.Time       `json:"timestamp"`        // as reported, or when received
	Payload       json.RawMessage `json:"payload"`          // the request as received
	ReceivedAt    time.Time       `json:"receivedAt"`
}

// DeviceVariable is one variable of a station's 2.x device model, as
// reported by NotifyReport: its component, its attributes
// (Actual/Target/MinSet/MaxSet with value, mutability, persistence) and
// characteristics (unit, data type, limits, values list).
type DeviceVariable struct {
	ChargePointID     string          `json:"chargePointId"`
	Component         string          `json:"component"`
	ComponentInstance string          `json:"componentInstance,omitempty"`
	EVSE              *int            `json:"evseId,omitempty"`
	Connector         *int            `json:"connectorId,omitempty"`
	Variable          string          `json:"variable"`
	VariableInstance  string          `json:"variableInstance,omitempty"`
	Attributes        json.RawMessage `json:"attributes"`                // array of variableAttribute
	Characteristics   json.RawMessage `json:"characteristics,omitempty"` // variableCharacteristics
	UpdatedAt         time.Time       `json:"updatedAt"`
}

// StationData is the per-station data the CSMS keeps beyond sessions:
// the lenient flag, the notification log and the device model.
type StationData interface {
	// GetStationPolicy returns the registration, protocol and lenient
	// flag of the station in one read. ENOTFOUND for an unknown station.
	GetStationPolicy(ctx context.Context, cpID string) (StationPolicy, error)
	// SetLenient sets the station's lenient flag. ENOTFOUND for an
	// unknown station.
	SetLenient(ctx context.Context, cpID string, lenient bool) error
	// AddStationEvent appends ev to the station's log; an event stored
	// before (same action, Timestamp and payload: a redelivery) is not
	// appended again. ENOTFOUND for an
	// unknown station.
	AddStationEvent(ctx context.Context, ev StationEvent) error
	// ListStationEvents returns up to limit events of the station (of
	// action, if not empty), newest first by Timestamp then arrival;
	// limit ≤ 0 means no limit.
	ListStationEvents(ctx context.Context, cpID, action string, limit int) ([]StationEvent, error)
	// PutDeviceVariables adds or replaces variables of the station's
	// device model (keyed by component, its instance, EVSE, connector,
	// variable and its instance). ENOTFOUND for an unknown station.
	PutDeviceVariables(ctx context.Context, vars []DeviceVariable) error
	// DeviceModel returns the station's device model ordered by component
	// and variable.
	DeviceModel(ctx context.Context, cpID string) ([]DeviceVariable, error)
}
