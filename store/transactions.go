package store

import (
	"context"
	"encoding/json"
	"time"
)

// TransactionState is whether a charging transaction is running.
type TransactionState string

// Transaction states.
const (
	TransactionActive TransactionState = "active"
	TransactionEnded  TransactionState = "ended"
)

// Transaction is one charging session, the same row for every OCPP
// version: OCPP 1.6 transaction ids (integers the CSMS assigns) are stored
// as text, OCPP 2.x ids as the station sent them. Energies are in Wh.
type Transaction struct {
	ChargePointID string           `json:"chargePointId"`
	TransactionID string           `json:"transactionId"`
	Protocol      string           `json:"protocol"`
	EVSE          int              `json:"evseId"` // 0 for OCPP 1.6
	Connector     int              `json:"connectorId"`
	IDToken       string           `json:"idToken,omitempty"` // who started it
	IDTokenType   string           `json:"idTokenType,omitempty"`
	StopIDToken   string           `json:"stopIdToken,omitempty"` // who stopped it, if another token
	State         TransactionState `json:"state"`
	ChargingState string           `json:"chargingState,omitempty"` // 2.x: Charging, EVConnected, SuspendedEV…
	StartedAt     time.Time        `json:"startedAt,omitzero"`
	EndedAt       time.Time        `json:"endedAt,omitzero"`
	// MeterStartWh and MeterStopWh are the energy register readings at
	// the start and the end (as far as known: MeterStartAt/MeterStopAt say
	// when they were read); EnergyWh is their difference.
	MeterStartWh *float64  `json:"meterStartWh,omitempty"`
	MeterStartAt time.Time `json:"meterStartAt,omitzero"`
	MeterStopWh  *float64  `json:"meterStopWh,omitempty"`
	MeterStopAt  time.Time `json:"meterStopAt,omitzero"`
	EnergyWh     float64   `json:"energyWh"`
	StopReason   string    `json:"stopReason,omitempty"`
	// RemoteStartID and ReservationID link the session to a
	// RequestStartTransaction / ReserveNow command.
	RemoteStartID *int `json:"remoteStartId,omitempty"`
	ReservationID *int `json:"reservationId,omitempty"`
	// LastEventAt is the timestamp of the latest event applied (the
	// station's clock), LastSeqNo its 2.x sequence number.
	LastEventAt time.Time `json:"lastEventAt,omitzero"`
	LastSeqNo   int       `json:"lastSeqNo"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// Duration is how long the transaction ran (so far, for an active one:
// until LastEventAt).
func (t Transaction) Duration() time.Duration {
	end := t.EndedAt
	if end.IsZero() {
		end = t.LastEventAt
	}
	if t.StartedAt.IsZero() || end.Before(t.StartedAt) {
		return 0
	}
	return end.Sub(t.StartedAt)
}

// MeterSample is one sampled value of a station's meter, inside a
// transaction (TransactionID set) or outside. Fields follow OCPP's
// SampledValue; defaults are filled in by the CSMS (measurand
// Energy.Active.Import.Register, unit Wh, location Outlet, context
// Sample.Periodic).
//
// A sample's identity is (ChargePointID, Timestamp, TransactionID, EVSE,
// Connector, Measurand, Phase, Location, Context, Unit, and whether it is
// Signed): a sample with the identity of one already stored is not stored
// again — the first one stays, whatever its Value — so a MeterValues or
// transaction message delivered twice adds no samples. Timestamps are
// compared at the store's precision (at least milliseconds).
type MeterSample struct {
	ChargePointID string    `json:"chargePointId"`
	TransactionID string    `json:"transactionId,omitempty"`
	EVSE          int       `json:"evseId"`
	Connector     int       `json:"connectorId"`
	Timestamp     time.Time `json:"timestamp"`
	Measurand     string    `json:"measurand"`
	Phase         string    `json:"phase,omitempty"`
	Unit          string    `json:"unit"`
	Location      string    `json:"location"`
	Context       string    `json:"context"`
	Value         float64   `json:"value"`
	// Signed is the signed meter data as sent: 2.x signedMeterValue
	// (JSON object), or 1.6 a SignedData value as a JSON string.
	Signed     json.RawMessage `json:"signed,omitempty"`
	ReceivedAt time.Time       `json:"receivedAt"`
}

// TransactionUpdate is one transaction message applied atomically by
// ApplyTransactionUpdate.
type TransactionUpdate struct {
	ChargePointID string
	// TransactionID is the transaction the message is about; empty for a
	// 1.6 StartTransaction, which gets a new numeric id.
	TransactionID string
	// EventKey identifies the message for idempotency, unique per
	// station: a message whose key was applied before is not applied
	// again. E.g. "<txid>#<seqNo>" for 2.x, "start:<connector>:<idTag>:<ms>"
	// for a 1.6 start.
	EventKey string
	// Event is logged with the key: the message as received.
	Event     json.RawMessage
	EventType string // Started, Updated, Ended (StartTransaction/StopTransaction for 1.6)
	Timestamp time.Time
	// Samples are stored with the update (their TransactionID is set to
	// the transaction's), skipping those stored before (see MeterSample).
	Samples []MeterSample
	// Apply changes t, the stored transaction (found=false: none yet, t
	// has only ChargePointID and TransactionID set). It runs inside the
	// database transaction and must not do I/O; an error aborts the
	// update and is returned.
	Apply func(t *Transaction, found bool) error
	At    time.Time // server time of the update (UpdatedAt)
}

// TransactionFilter selects transactions for ListTransactions. Zero
// values mean no filter; results are newest first by StartedAt.
type TransactionFilter struct {
	ChargePointID string
	State         TransactionState
	IDToken       string
	// From and To select transactions with StartedAt in [From, To); zero:
	// open. (Added for the operator API.)
	From, To time.Time
	Limit    int
	// Offset skips that many results first (paging with Limit).
	Offset int
}

// MeterFilter selects samples for ListMeterSamples; results are ordered
// by Timestamp (oldest first).
type MeterFilter struct {
	ChargePointID string // required
	TransactionID string // only this transaction's samples
	Measurand     string
	From, To      time.Time // Timestamp in [From, To); zero: open
	Limit         int
}

// Transactions stores charging sessions and the meter time series.
type Transactions interface {
	// ApplyTransactionUpdate applies u in one database transaction and
	// returns the transaction as stored. If u.EventKey was applied
	// before for the station, nothing is written and the transaction the
	// key was applied to is returned with duplicate=true. An empty
	// u.TransactionID gets the next numeric id. If no transaction
	// u.TransactionID exists for the station but one with that id
	// belongs to another station, the error is EFORBIDDEN and nothing is
	// written. ENOTFOUND for an unknown station.
	ApplyTransactionUpdate(ctx context.Context, u TransactionUpdate) (tx Transaction, duplicate bool, err error)
	// GetTransaction returns the station's transaction; ENOTFOUND if
	// there is none.
	GetTransaction(ctx context.Context, cpID, txID string) (Transaction, error)
	// ListTransactions returns the transactions matching f.
	ListTransactions(ctx context.Context, f TransactionFilter) ([]Transaction, error)
	// AddMeterSamples appends samples to the time series, skipping any
	// with the identity of a stored one (see MeterSample), also within
	// samples. Concurrent calls may be committed together; it returns
	// once they are durable. ENOTFOUND for an unknown station.
	AddMeterSamples(ctx context.Context, samples []MeterSample) error
	// ListMeterSamples returns the samples matching f.
	ListMeterSamples(ctx context.Context, f MeterFilter) ([]MeterSample, error)
}
