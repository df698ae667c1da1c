package api

import (
	"net/http"
	"net/url"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/store"
)

// createChargePoint is the body of POST /chargepoints.
type createChargePoint struct {
	ID           string                   `json:"id"`
	Registration ocppd.RegistrationStatus `json:"registration"`
}

// updateChargePoint is the body of PATCH /chargepoints/{cp}.
type updateChargePoint struct {
	Registration *ocppd.RegistrationStatus `json:"registration"`
}

func (s *Server) listChargePoints(w http.ResponseWriter, r *http.Request) error {
	online, err := queryBool(r, "online")
	if err != nil {
		return err
	}
	limit, err := queryLimit(r, defaultLimit)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	cps, err := s.opts.Store.ListChargePoints(r.Context(), store.ListOptions{
		Online: online, Prefix: q.Get("prefix"), After: q.Get("after"), Limit: limit + 1,
	})
	if err != nil {
		return err
	}
	out := List[ocppd.ChargePoint]{Items: cps}
	if len(cps) > limit {
		out.Items = cps[:limit]
		out.Next = cps[limit-1].ID
	}
	if out.Items == nil {
		out.Items = []ocppd.ChargePoint{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) createChargePoint(w http.ResponseWriter, r *http.Request) error {
	var in createChargePoint
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.ID == "" {
		return invalid("id", "required")
	}
	if err := ocpp.ValidateIdentity(in.ID); err != nil {
		return invalid("id", "%v", err)
	}
	if in.Registration == "" {
		in.Registration = ocppd.RegistrationAccepted
	}
	if !in.Registration.Valid() {
		return invalid("registration", "expected Accepted, Pending or Rejected, got %q", in.Registration)
	}
	cp := ocppd.ChargePoint{ID: in.ID, Registration: in.Registration, RegisteredAt: s.opts.Now().UTC()}
	if err := s.opts.Store.AddChargePoints(r.Context(), []ocppd.ChargePoint{cp}); err != nil {
		return withField(err, "id")
	}
	cp, err := s.opts.Store.GetChargePoint(r.Context(), in.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/chargepoints/"+url.PathEscape(cp.ID))
	writeJSON(w, http.StatusCreated, cp)
	return nil
}

func (s *Server) getChargePoint(w http.ResponseWriter, r *http.Request) error {
	cp, err := s.opts.Store.GetChargePoint(r.Context(), r.PathValue("cp"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, cp)
	return nil
}

func (s *Server) updateChargePoint(w http.ResponseWriter, r *http.Request) error {
	var in updateChargePoint
	if err := decode(w, r, &in); err != nil {
		return err
	}
	id := r.PathValue("cp")
	if in.Registration != nil {
		if !in.Registration.Valid() {
			return invalid("registration", "expected Accepted, Pending or Rejected, got %q", *in.Registration)
		}
		if err := s.opts.Store.SetRegistration(r.Context(), id, *in.Registration); err != nil {
			return err
		}
	}
	return s.getChargePoint(w, r)
}

func (s *Server) deleteChargePoint(w http.ResponseWriter, r *http.Request) error {
	if err := s.opts.Store.DeleteChargePoint(r.Context(), r.PathValue("cp")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// stationExists returns ENOTFOUND for an unknown station; sub-resources
// whose store calls answer "nothing" for an unknown id use it to answer
// 404 instead of an empty list.
func (s *Server) stationExists(r *http.Request) (string, error) {
	id := r.PathValue("cp")
	_, err := s.opts.Store.GetChargePoint(r.Context(), id)
	return id, err
}

// getStatus answers the station's status history, newest first.
func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryLimit(r, defaultLimit)
	if err != nil {
		return err
	}
	id, err := s.stationExists(r)
	if err != nil {
		return err
	}
	evs, err := s.opts.Store.StatusHistory(r.Context(), id, limit)
	if err != nil {
		return err
	}
	if evs == nil {
		evs = []ocppd.StatusEvent{}
	}
	writeJSON(w, http.StatusOK, List[ocppd.StatusEvent]{Items: evs})
	return nil
}

// getConnectors answers the current status of each connector.
func (s *Server) getConnectors(w http.ResponseWriter, r *http.Request) error {
	id, err := s.stationExists(r)
	if err != nil {
		return err
	}
	evs, err := s.opts.Store.CurrentStatus(r.Context(), id)
	if err != nil {
		return err
	}
	if evs == nil {
		evs = []ocppd.StatusEvent{}
	}
	writeJSON(w, http.StatusOK, List[ocppd.StatusEvent]{Items: evs})
	return nil
}
