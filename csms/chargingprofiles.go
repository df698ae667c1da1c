package csms

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/ocppd/ocppd/store"
)

// Charging profiles (1.6 §3.13/§5.16/§5.5, 2.0.1 K01/K10/K09) are kept per
// station and EVSE (store.ChargingProfiles) from what the station
// confirmed:
//
//   - SetChargingProfile answered Accepted stores the profile (replacing
//     the one with its id, or with its EVSE, purpose and stack level, as
//     the station does: 1.6 §5.16, K01);
//   - ClearChargingProfile answered Accepted — or Unknown: the station has
//     no matching profile — removes the stored profiles matching its
//     criteria (by id, else by EVSE/connector, purpose and stack level);
//   - a 2.x ReportChargingProfiles (the answer to GetChargingProfiles,
//     K09) stores every profile it reports, with its chargingLimitSource.

// profileFields is a charging profile of any version.
type profileFields struct {
	ChargingProfileID *int            `json:"chargingProfileId"` // 1.6
	ID                *int            `json:"id"`                // 2.x
	StackLevel        int             `json:"stackLevel"`
	Purpose           string          `json:"chargingProfilePurpose"`
	Kind              string          `json:"chargingProfileKind"`
	TransactionID     json.RawMessage `json:"transactionId"` // 1.6 integer, 2.x string
	ChargingSchedule  json.RawMessage `json:"chargingSchedule"`
}

// storedProfile converts a profile as sent to its stored form.
func storedProfile(cp string, evse int, raw json.RawMessage, source string, at time.Time) (store.ChargingProfile, bool) {
	var f profileFields
	if json.Unmarshal(raw, &f) != nil {
		return store.ChargingProfile{}, false
	}
	p := store.ChargingProfile{ChargePointID: cp, EVSE: evse, StackLevel: f.StackLevel, Purpose: f.Purpose, Kind: f.Kind,
		Source: source, Schedule: f.ChargingSchedule, Profile: raw, UpdatedAt: at}
	switch {
	case f.ChargingProfileID != nil:
		p.ProfileID = *f.ChargingProfileID
	case f.ID != nil:
		p.ProfileID = *f.ID
	default:
		return p, false
	}
	if len(f.TransactionID) > 0 && string(f.TransactionID) != "null" {
		p.TransactionID = strings.Trim(string(f.TransactionID), `"`)
	}
	return p, true
}

// setChargingProfileAnswer stores a profile the station accepted.
func (s *Service) setChargingProfileAnswer(ctx context.Context, c Command) {
	if c.State != store.CommandAnswered || answerStatus(c) != "Accepted" {
		return
	}
	var q struct {
		ConnectorID        *int            `json:"connectorId"`        // 1.6
		CsChargingProfiles json.RawMessage `json:"csChargingProfiles"` // 1.6
		EvseID             *int            `json:"evseId"`             // 2.x
		ChargingProfile    json.RawMessage `json:"chargingProfile"`    // 2.x
	}
	if json.Unmarshal(c.Request, &q) != nil {
		return
	}
	evse, raw := q.EvseID, q.ChargingProfile
	if q.ConnectorID != nil {
		evse, raw = q.ConnectorID, q.CsChargingProfiles
	}
	if evse == nil {
		return
	}
	p, ok := storedProfile(c.ChargePointID, *evse, raw, "CSO", s.opts.Now())
	if !ok {
		return
	}
	if err := s.opts.Store.PutChargingProfile(ctx, p); err != nil {
		s.log.Warn("storing the charging profile failed", "cp", c.ChargePointID, "err", err)
	}
}

// clearChargingProfileAnswer removes the profiles a ClearChargingProfile
// cleared (Accepted) or found none of (Unknown).
func (s *Service) clearChargingProfileAnswer(ctx context.Context, c Command) {
	if c.State != store.CommandAnswered {
		return
	}
	if st := answerStatus(c); st != "Accepted" && st != "Unknown" {
		return
	}
	var q struct {
		ID                *int   `json:"id"`          // 1.6
		ConnectorID       *int   `json:"connectorId"` // 1.6
		Purpose           string `json:"chargingProfilePurpose"`
		StackLevel        *int   `json:"stackLevel"`
		ChargingProfileID *int   `json:"chargingProfileId"` // 2.x
		Criteria          *struct {
			EvseID     *int   `json:"evseId"`
			Purpose    string `json:"chargingProfilePurpose"`
			StackLevel *int   `json:"stackLevel"`
		} `json:"chargingProfileCriteria"`
	}
	if json.Unmarshal(c.Request, &q) != nil {
		return
	}
	crit := store.ChargingProfileCriteria{ProfileID: q.ID, EVSE: q.ConnectorID, Purpose: q.Purpose, StackLevel: q.StackLevel}
	if q.ChargingProfileID != nil {
		crit.ProfileID = q.ChargingProfileID
	}
	if q.Criteria != nil {
		crit.EVSE, crit.Purpose, crit.StackLevel = q.Criteria.EvseID, q.Criteria.Purpose, q.Criteria.StackLevel
	}
	if _, err := s.opts.Store.ClearChargingProfiles(ctx, c.ChargePointID, crit); err != nil {
		s.log.Warn("clearing the charging profiles failed", "cp", c.ChargePointID, "err", err)
	}
}

// reportChargingProfiles handles a 2.x ReportChargingProfiles (K09): the
// reported profiles are stored before the answer, and the report logged.
func (s *Service) reportChargingProfiles(ctx context.Context, r *Request) (any, error) {
	var p struct {
		ChargingLimitSource string            `json:"chargingLimitSource"`
		EvseID              int               `json:"evseId"`
		ChargingProfile     []json.RawMessage `json:"chargingProfile"`
	}
	if err := json.Unmarshal(r.Payload, &p); err != nil {
		return nil, err // validated already
	}
	for _, raw := range p.ChargingProfile {
		if cp, ok := storedProfile(r.ChargePointID, p.EvseID, raw, p.ChargingLimitSource, r.Received); ok {
			if err := s.opts.Store.PutChargingProfile(ctx, cp); err != nil {
				return nil, err
			}
		}
	}
	return s.logNotification(ctx, r)
}
