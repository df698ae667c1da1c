package api

import (
	"net/http"

	"github.com/ocppd/ocppd/auth"
	"github.com/ocppd/ocppd/ocpp"
)

// setPassword is the body of PUT /chargepoints/{cp}/password.
type setPassword struct {
	// Password is the station's new HTTP Basic password (security
	// profiles 1 and 2), or empty with Generate.
	Password string `json:"password"`
	// Generate asks the server to generate a random password valid for
	// the station's OCPP version; it is returned once.
	Generate bool `json:"generate"`
}

// generatedPassword is the answer of a PUT with generate.
type generatedPassword struct {
	Password string `json:"password"`
}

// putPassword sets the password the station must present under security
// profiles 1 and 2 (stored as an argon2id hash). It sets what the
// station's password is, for provisioning; rotating the password of a
// running station goes through a command (SetVariables /
// ChangeConfiguration) handled by the CSMS.
func (s *Server) putPassword(w http.ResponseWriter, r *http.Request) error {
	var in setPassword
	if err := decode(w, r, &in); err != nil {
		return err
	}
	cp, err := s.opts.Store.GetChargePoint(r.Context(), r.PathValue("cp"))
	if err != nil {
		return err
	}
	v := ocpp.Version(cp.Protocol)
	if v == "" {
		v = ocpp.V201 // never connected: the 2.x rules (a 1.6 key is also a valid 2.x password)
	}
	switch {
	case in.Generate && in.Password != "":
		return invalid("password", "give a password or generate, not both")
	case in.Generate:
		if in.Password, err = auth.GeneratePassword(v); err != nil {
			return err
		}
	case in.Password == "":
		return invalid("password", "required (or generate: true); DELETE removes the password")
	default:
		if err := auth.ValidatePassword(v, in.Password, 0); err != nil {
			return withField(err, "password")
		}
	}
	hash, err := auth.HashPassword(in.Password)
	if err != nil {
		return err
	}
	if err := s.opts.Store.SetPassword(r.Context(), cp.ID, hash, s.opts.Now()); err != nil {
		return err
	}
	if in.Generate {
		writeJSON(w, http.StatusOK, generatedPassword{Password: in.Password})
		return nil
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deletePassword removes the station's password: it can no longer
// connect under security profiles 1 and 2.
func (s *Server) deletePassword(w http.ResponseWriter, r *http.Request) error {
	if err := s.opts.Store.SetPassword(r.Context(), r.PathValue("cp"), "", s.opts.Now()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
