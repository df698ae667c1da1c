package api

import (
	"net/http"

	"github.com/ocppd/ocppd/store"
)

// stationAuthorization is the answer of GET /chargepoints/{cp}/authorization:
// what the CSMS knows of the station's local authorization list and its
// authorization cache, both kept in step from the station's answers.
type stationAuthorization struct {
	ChargePointID string `json:"chargePointId"`
	// LocalListVersion is the version of the local list the station last
	// confirmed (SendLocalList Accepted, GetLocalListVersion); 0 if none.
	LocalListVersion int             `json:"localListVersion"`
	Cache            store.AuthCache `json:"cache"`
}

func (s *Server) getAuthorization(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("cp")
	v, err := s.opts.Store.LocalListVersion(r.Context(), id)
	if err != nil {
		return err
	}
	c, err := s.opts.Store.GetAuthCache(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, stationAuthorization{ChargePointID: id, LocalListVersion: v, Cache: c})
	return nil
}
