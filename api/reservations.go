package api

import (
	"net/http"

	"github.com/ocppd/ocppd/store"
)

// listReservations answers the reservations the CSMS keeps (made with
// ReserveNow, see docs/csms.md), newest request first, filtered by
// station and status (an elapsed requested/Accepted one is Expired).
func (s *Server) listReservations(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryLimit(r, defaultLimit)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	rs, err := s.opts.Store.ListReservations(r.Context(), store.ReservationFilter{ChargePointID: q.Get("cp"), Status: q.Get("status"), Limit: limit})
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []store.Reservation{}
	}
	writeJSON(w, http.StatusOK, List[store.Reservation]{Items: rs})
	return nil
}
