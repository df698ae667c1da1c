package csms

import (
	"context"
	"encoding/json"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/ocpp/v201"
	"github.com/ocppd/ocppd/ocpp/v21"
	"github.com/ocppd/ocppd/store"
)

// Reservations (1.6 §5.13/§5.3, 2.0.1 H01–H04) are kept in the store
// (store.Reservations) from what the CSMS sent and what the station said:
//
//   - a ReserveNow command stores the reservation as requested when it is
//     issued, and its answer sets the station's status (Accepted,
//     Occupied, Faulted, Unavailable, Rejected), or Failed for a CALLERROR
//     or no answer in time (a late answer still sets it);
//   - an accepted CancelReservation makes it Cancelled;
//   - a 2.x ReservationStatusUpdate sets Expired or Removed (H02/H04);
//   - a transaction started with its reservationId (1.6 StartTransaction,
//     2.x TransactionEvent) makes it Used (H01: the reservation ends
//     when the reserved EVSE is used).
//
// Later states replace only an open reservation (requested, Accepted,
// Failed), so a late or repeated message does not reopen a finished one.

// openReservation lists the statuses a later event may change.
var openReservation = []string{store.ReservationRequested, "Accepted", store.ReservationFailed}

// reserveNow is a ReserveNow request of any version.
type reserveNow struct {
	// 1.6
	ConnectorID   *int      `json:"connectorId"`
	ExpiryDate    time.Time `json:"expiryDate"`
	IDTag         string    `json:"idTag"`
	ParentIDTag   string    `json:"parentIdTag"`
	ReservationID *int      `json:"reservationId"`
	// 2.x
	ID             *int      `json:"id"`
	ExpiryDateTime time.Time `json:"expiryDateTime"`
	ConnectorType  string    `json:"connectorType"`
	EvseID         *int      `json:"evseId"`
	IDToken        struct {
		IDToken string `json:"idToken"`
		Type    string `json:"type"`
	} `json:"idToken"`
	GroupIDToken *struct {
		IDToken string `json:"idToken"`
	} `json:"groupIdToken"`
}

// reservation returns the stored form of the ReserveNow command c with
// status.
func reservation(c Command, status string, at time.Time) (store.Reservation, bool) {
	var q reserveNow
	if json.Unmarshal(c.Request, &q) != nil {
		return store.Reservation{}, false
	}
	r := store.Reservation{ChargePointID: c.ChargePointID, Status: status, CommandID: c.ID, RequestedAt: c.CreatedAt, UpdatedAt: at}
	switch {
	case q.ReservationID != nil: // 1.6
		r.ReservationID, r.IDToken, r.GroupID, r.ExpiresAt = *q.ReservationID, q.IDTag, q.ParentIDTag, q.ExpiryDate
		if q.ConnectorID != nil {
			r.Connector = *q.ConnectorID
		}
	case q.ID != nil: // 2.x
		r.ReservationID, r.IDToken, r.IDTokenType, r.ExpiresAt = *q.ID, q.IDToken.IDToken, q.IDToken.Type, q.ExpiryDateTime
		r.ConnectorType = q.ConnectorType
		if q.EvseID != nil {
			r.EVSE = *q.EvseID
		}
		if q.GroupIDToken != nil {
			r.GroupID = q.GroupIDToken.IDToken
		}
	default:
		return r, false
	}
	return r, true
}

// commandIssued is called for every command stored by SendWith.
func (s *Service) commandIssued(ctx context.Context, c Command) {
	if c.Action != "ReserveNow" {
		return
	}
	if r, ok := reservation(c, store.ReservationRequested, c.CreatedAt); ok {
		if err := s.opts.Store.PutReservation(ctx, r); err != nil {
			s.log.Warn("storing the requested reservation failed", "cp", c.ChargePointID, "err", err)
		}
	}
}

// reserveNowAnswer sets the reservation's status from the station's
// answer, or Failed.
func (s *Service) reserveNowAnswer(ctx context.Context, c Command) {
	status := store.ReservationFailed
	if c.State == store.CommandAnswered {
		status = answerStatus(c)
	}
	if r, ok := reservation(c, status, s.opts.Now()); ok && status != "" {
		if err := s.opts.Store.PutReservation(ctx, r); err != nil {
			s.log.Warn("storing the reservation failed", "cp", c.ChargePointID, "err", err)
		}
	}
}

// cancelReservationAnswer makes a reservation the station cancelled
// Cancelled.
func (s *Service) cancelReservationAnswer(ctx context.Context, c Command) {
	if c.State != store.CommandAnswered || answerStatus(c) != "Accepted" {
		return
	}
	var q struct {
		ReservationID *int `json:"reservationId"`
	}
	if json.Unmarshal(c.Request, &q) != nil || q.ReservationID == nil {
		return
	}
	s.setReservation(ctx, c.ChargePointID, *q.ReservationID, store.ReservationCancelled, s.opts.Now())
}

// setReservation changes an open reservation's status; an unknown one
// is no error (it was made by another CSMS or before ocppd kept them).
func (s *Service) setReservation(ctx context.Context, cp string, id int, status string, at time.Time) error {
	_, err := s.opts.Store.UpdateReservationStatus(ctx, cp, id, status, openReservation, at)
	if err != nil && ocppd.ErrorCode(err) != ocppd.ENOTFOUND {
		s.log.Warn("updating the reservation failed", "cp", cp, "reservation", id, "status", status, "err", err)
		return err
	}
	return nil
}

// reservationStatusUpdate handles a 2.x ReservationStatusUpdate (H02,
// H04): the reservation expired or was removed on the station. The
// status is stored before the answer (and logged with the station's
// events).
func (s *Service) reservationStatusUpdate(ctx context.Context, r *Request) (any, error) {
	var id int
	var status string
	switch p := r.Msg.(type) {
	case *v201.ReservationStatusUpdateRequest:
		id, status = p.ReservationID, string(p.ReservationUpdateStatus)
	case *v21.ReservationStatusUpdateRequest:
		id, status = p.ReservationID, string(p.ReservationUpdateStatus)
	}
	if err := s.setReservation(ctx, r.ChargePointID, id, status, r.Received); err != nil {
		return nil, err
	}
	return s.logNotification(ctx, r)
}

// reservationUsed marks the reservation a transaction started with as
// Used. A failure is returned so that the station repeats the message
// (the transaction update is idempotent).
func (s *Service) reservationUsed(ctx context.Context, cp string, id *int, at time.Time) error {
	if id == nil {
		return nil
	}
	return s.setReservation(ctx, cp, *id, store.ReservationUsed, at)
}
