package store

import (
	"context"
	"encoding/json"
	"time"
)

// ChargingProfile is a charging profile installed on a station, as the
// CSMS knows it: accepted with SetChargingProfile (1.6 §5.16, 2.0.1 K01) or
// reported with ReportChargingProfiles (2.x K09).
type ChargingProfile struct {
	ChargePointID string `json:"chargePointId"`
	// EVSE is the 2.x evseId or the 1.6 connectorId; 0 is the whole
	// station.
	EVSE       int    `json:"evseId"`
	ProfileID  int    `json:"id"`
	StackLevel int    `json:"stackLevel"`
	Purpose    string `json:"chargingProfilePurpose"` // ChargePointMaxProfile/ChargingStationMaxProfile, TxDefaultProfile, TxProfile, …
	Kind       string `json:"chargingProfileKind"`    // Absolute, Recurring, Relative
	// TransactionID is the transaction a TxProfile is for, if given.
	TransactionID string `json:"transactionId,omitempty"`
	// Source is CSO for a profile the CSMS set; for a reported one the
	// report's chargingLimitSource (EMS, Other, SO, CSO).
	Source string `json:"source"`
	// Schedule is the profile's chargingSchedule as sent: an object (1.6)
	// or an array of schedules (2.x).
	Schedule json.RawMessage `json:"chargingSchedule"`
	// Profile is the whole profile as sent or reported.
	Profile   json.RawMessage `json:"profile"`
	UpdatedAt time.Time       `json:"updatedAt"`
}

// ChargingProfileCriteria selects profiles to clear, as ClearChargingProfile
// does: by ProfileID if set (the other criteria are then ignored), else
// every profile matching all the criteria given (nil/"" match any).
type ChargingProfileCriteria struct {
	ProfileID  *int
	EVSE       *int
	Purpose    string
	StackLevel *int
}

// ChargingProfiles keeps the charging profiles of every station.
type ChargingProfiles interface {
	// PutChargingProfile stores p, replacing the station's profiles with
	// the same id, or on the same EVSE with the same purpose and stack
	// level (1.6 §5.16, 2.0.1 K01). ENOTFOUND for an unknown
	// station.
	PutChargingProfile(ctx context.Context, p ChargingProfile) error
	// ClearChargingProfiles removes the station's profiles matching c and
	// returns how many it removed.
	ClearChargingProfiles(ctx context.Context, cpID string, c ChargingProfileCriteria) (int, error)
	// ListChargingProfiles returns the station's profiles ordered by EVSE,
	// purpose, stack level and id. ENOTFOUND for an unknown station.
	ListChargingProfiles(ctx context.Context, cpID string) ([]ChargingProfile, error)
}
