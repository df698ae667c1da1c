package store

import (
	"context"
	"time"
)

// Reservation statuses besides the station's answers to ReserveNow
// (Accepted, Faulted, Occupied, Rejected, Unavailable) and the 2.x
// ReservationStatusUpdate statuses (Expired, Removed).
const (
	// ReservationRequested: ReserveNow was issued, not answered yet.
	ReservationRequested = "requested"
	// ReservationFailed: the ReserveNow command failed (CALLERROR) or was
	// not answered in time. A late answer still sets the station's status.
	ReservationFailed = "Failed"
	// ReservationCancelled: the station accepted a CancelReservation.
	ReservationCancelled = "Cancelled"
	// ReservationUsed: a transaction started with the reservation's id.
	ReservationUsed = "Used"
	// ReservationExpired: the station said so (2.x), or the expiry time
	// passed while it was requested or Accepted (computed on read).
	ReservationExpired = "Expired"
)

// Reservation is a reservation of a station's EVSE/connector for an id
// token (OCPP 1.6 §5.13 ReserveNow, 2.0.1 H01), as the CSMS knows it from
// the ReserveNow it issued and what followed.
type Reservation struct {
	ChargePointID string `json:"chargePointId"`
	ReservationID int    `json:"reservationId"`
	// EVSE is the 2.x evseId (0: any EVSE); Connector the 1.6 connectorId
	// (0: any connector). ConnectorType is the 2.x connectorType, if
	// given.
	EVSE          int       `json:"evseId"`
	Connector     int       `json:"connectorId"`
	ConnectorType string    `json:"connectorType,omitempty"`
	IDToken       string    `json:"idToken"`
	IDTokenType   string    `json:"idTokenType,omitempty"`
	GroupID       string    `json:"groupId,omitempty"` // 1.6 parentIdTag, 2.x groupIdToken
	ExpiresAt     time.Time `json:"expiresAt"`
	// Status is one of the statuses above or the station's answer. Reads
	// return Expired for a requested or Accepted reservation whose
	// ExpiresAt has passed.
	Status string `json:"status"`
	// CommandID is the ReserveNow command that made it; RequestedAt that
	// command's creation time.
	CommandID   string    `json:"commandId,omitempty"`
	RequestedAt time.Time `json:"requestedAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// ReservationFilter selects reservations. Zero values mean no filter.
type ReservationFilter struct {
	ChargePointID string
	Status        string // as read (an elapsed reservation is Expired)
	Limit         int    // at most this many; 0 means no limit
}

// Reservations keeps the reservations of every station, one per
// (station, reservation id): a ReserveNow with the id of an existing
// reservation replaces it (1.6 §5.13, 2.0.1 H01).
type Reservations interface {
	// PutReservation stores r, replacing the station's reservation with
	// the same id unless that one was requested later (RequestedAt), so a
	// late answer to an older ReserveNow does not undo a newer one.
	// ENOTFOUND for an unknown station.
	PutReservation(ctx context.Context, r Reservation) error
	// UpdateReservationStatus sets the status of the station's
	// reservation id, if its stored status is one of from (any if from is
	// empty); it reports whether it changed it. ENOTFOUND if the station
	// has no reservation with that id.
	UpdateReservationStatus(ctx context.Context, cpID string, id int, status string, from []string, at time.Time) (bool, error)
	// GetReservation returns one reservation; ENOTFOUND if unknown.
	GetReservation(ctx context.Context, cpID string, id int) (Reservation, error)
	// ListReservations returns the reservations matching f, newest
	// request first.
	ListReservations(ctx context.Context, f ReservationFilter) ([]Reservation, error)
}
