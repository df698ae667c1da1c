package api

import (
	"net/http"

	"github.com/ocppd/ocppd/store"
)

// getChargingProfiles answers the charging profiles installed on the
// station as the CSMS knows them (accepted SetChargingProfile, less what
// ClearChargingProfile removed, plus 2.x ReportChargingProfiles), by EVSE,
// purpose, stack level and id.
func (s *Server) getChargingProfiles(w http.ResponseWriter, r *http.Request) error {
	ps, err := s.opts.Store.ListChargingProfiles(r.Context(), r.PathValue("cp"))
	if err != nil {
		return err
	}
	if ps == nil {
		ps = []store.ChargingProfile{}
	}
	writeJSON(w, http.StatusOK, List[store.ChargingProfile]{Items: ps})
	return nil
}
