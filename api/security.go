package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/auth"
	"github.com/ocppd/ocppd/store"
)

// PasswordRotator changes a running station's HTTP Basic password over
// OCPP (ChangeConfiguration AuthorizationKey / SetVariables
// BasicAuthPassword); *csms.Service implements it. When Options.Commands
// implements it too, POST /chargepoints/{cp}/password/rotate is served.
type PasswordRotator interface {
	// RotatePassword sends password (generated when "") to the online
	// station and returns the command, whose stored request has the
	// password redacted, and the password. ENOTFOUND for an unknown
	// station, EUNAVAILABLE when it is offline, EINVALID for a password
	// that breaks its version's rules.
	RotatePassword(ctx context.Context, cpID, password string, maxLen int) (store.Command, string, error)
}

// rotatePasswordRequest is the body of POST
// /chargepoints/{cp}/password/rotate (all optional).
type rotatePasswordRequest struct {
	// Password is the new password; empty generates one valid for the
	// station's OCPP version.
	Password string `json:"password"`
	// MaxLength is the station's BasicAuthPassword maxLimit (2.x, 40 to
	// 64); 0 means 40.
	MaxLength int `json:"maxLength"`
}

// rotatePasswordResponse is the answer: the command that carries the
// password, and the password when it was generated (shown once, never
// stored).
type rotatePasswordResponse struct {
	Command  store.Command `json:"command"`
	Password string        `json:"password,omitempty"`
}

// rotatePassword rotates the station's password while it is online
// (1.6 security whitepaper and 2.0.1 A01): the old password stays valid
// until the station accepts the new one or connects with it.
func (s *Server) rotatePassword(w http.ResponseWriter, r *http.Request) error {
	rot, ok := s.opts.Commands.(PasswordRotator)
	if !ok {
		return ocppd.Errorf(ocppd.ENOTIMPL, "password rotation is not available in this process")
	}
	wait, err := queryWait(r)
	if err != nil {
		return err
	}
	var in rotatePasswordRequest
	if r.ContentLength != 0 {
		if err := decode(w, r, &in); err != nil {
			return err
		}
	}
	if in.MaxLength != 0 && (in.MaxLength < auth.DefaultMaxPasswordLen || in.MaxLength > auth.MaxPasswordLen) {
		return invalid("maxLength", "expected %d to %d", auth.DefaultMaxPasswordLen, auth.MaxPasswordLen)
	}
	c, pw, err := rot.RotatePassword(r.Context(), r.PathValue("cp"), in.Password, in.MaxLength)
	if err != nil {
		if ocppd.ErrorCode(err) == ocppd.EINVALID {
			return withField(err, "password")
		}
		return err
	}
	if c, err = s.waitCommand(r.Context(), c, wait); err != nil {
		return err
	}
	out := rotatePasswordResponse{Command: c}
	if in.Password == "" {
		out.Password = pw
	}
	w.Header().Set("Location", Prefix+"/commands/"+url.PathEscape(c.ID))
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// securitySettings is a station's security state, GET and PATCH
// /chargepoints/{cp}/security. It never holds a password or a hash.
type securitySettings struct {
	// SecurityProfile is the lowest OCPP security profile the station may
	// connect with: the highest it has connected with (no downgrade,
	// 2.0.1 A05.FR.07), unless an operator lowered it.
	SecurityProfile int `json:"securityProfile"`
	// HasPassword says whether an HTTP Basic password is set.
	HasPassword bool `json:"hasPassword"`
	// PendingPasswordSince is when a rotation the station has not
	// confirmed yet started (absent without one).
	PendingPasswordSince *time.Time `json:"pendingPasswordSince,omitempty"`
	// SerialNumber is the CN its profile 3 client certificate must carry
	// ("" means the station id).
	SerialNumber string `json:"serialNumber"`
}

// securityPatch is the body of PATCH /chargepoints/{cp}/security.
type securityPatch struct {
	SecurityProfile *int    `json:"securityProfile"`
	SerialNumber    *string `json:"serialNumber"`
}

func (s *Server) getSecurity(w http.ResponseWriter, r *http.Request) error {
	c, err := s.opts.Store.GetCredentials(r.Context(), r.PathValue("cp"))
	if err != nil {
		return err
	}
	out := securitySettings{SecurityProfile: c.SecurityProfile, HasPassword: c.PasswordHash != "", SerialNumber: c.SerialNumber}
	if c.PendingHash != "" {
		t := c.PendingSince.UTC()
		out.PendingPasswordSince = &t
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// patchSecurity sets the station's minimum security profile (the
// operator's reset after it connected with a higher one) and the serial
// number of its certificate.
func (s *Server) patchSecurity(w http.ResponseWriter, r *http.Request) error {
	var in securityPatch
	if err := decode(w, r, &in); err != nil {
		return err
	}
	id := r.PathValue("cp")
	if in.SecurityProfile != nil {
		if p := *in.SecurityProfile; !auth.Profile(p).Valid() {
			return invalid("securityProfile", "expected 0 to 3, got %d", p)
		}
	}
	if _, err := s.opts.Store.GetCredentials(r.Context(), id); err != nil {
		return err
	}
	if in.SecurityProfile != nil {
		if err := s.opts.Store.SetSecurityProfile(r.Context(), id, *in.SecurityProfile, s.opts.Now()); err != nil {
			return withField(err, "securityProfile")
		}
	}
	if in.SerialNumber != nil {
		if err := s.opts.Store.SetSerialNumber(r.Context(), id, *in.SerialNumber, s.opts.Now()); err != nil {
			return withField(err, "serialNumber")
		}
	}
	return s.getSecurity(w, r)
}

// issuedCertificate is a certificate the CSMS's CA issued to the station
// (SignCertificate → CertificateSigned).
type issuedCertificate struct {
	SerialNumber string    `json:"serialNumber"`
	Use          string    `json:"certificateType"`
	Subject      string    `json:"subject"`
	NotBefore    time.Time `json:"notBefore"`
	NotAfter     time.Time `json:"notAfter"`
	IssuedAt     time.Time `json:"issuedAt"`
	PEM          string    `json:"pem"`
}

// stationCertificates is the answer of GET /chargepoints/{cp}/certificates.
type stationCertificates struct {
	// Installed is what the station reported installed
	// (GetInstalledCertificateIds) or accepted (InstallCertificate), less
	// what it deleted.
	Installed []store.InstalledCertificate `json:"installed"`
	// Issued are the certificates the CSMS's CA signed for it, newest
	// first.
	Issued []issuedCertificate `json:"issued"`
}

func (s *Server) getCertificates(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("cp")
	inst, err := s.opts.Store.ListInstalledCertificates(r.Context(), id)
	if err != nil {
		return err
	}
	iss, err := s.opts.Store.ListCertificates(r.Context(), id)
	if err != nil {
		return err
	}
	out := stationCertificates{Installed: inst, Issued: make([]issuedCertificate, len(iss))}
	if out.Installed == nil {
		out.Installed = []store.InstalledCertificate{}
	}
	for i, c := range iss {
		out.Issued[i] = issuedCertificate{SerialNumber: c.SerialNumber, Use: c.Use, Subject: c.Subject,
			NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(), IssuedAt: c.IssuedAt.UTC(), PEM: c.PEM}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
