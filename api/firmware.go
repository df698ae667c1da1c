package api

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/csms"
	"github.com/ocppd/ocppd/files"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/message"
	"github.com/ocppd/ocppd/store"
)

// FirmwareFiles keeps the bytes of firmware images and builds the URLs
// stations download them from; *files.Store implements it.
type FirmwareFiles interface {
	// PutFirmware stores an image read from r under name (content-
	// addressed: the same bytes are stored once). EINVALID when it is
	// larger than the store accepts.
	PutFirmware(r io.Reader, name string) (files.Firmware, error)
	// FirmwareURL is the download URL of a stored image.
	FirmwareURL(sha, name string) string
}

// defaultFirmwareMaxBytes bounds an uploaded image unless
// Options.FirmwareMaxBytes says otherwise.
const defaultFirmwareMaxBytes = 256 << 20

// firmwareImage is an image as the API shows it: with its download URL.
type firmwareImage struct {
	store.FirmwareImage
	URL string `json:"url"`
}

func (s *Server) firmwareJSON(img store.FirmwareImage) firmwareImage {
	return firmwareImage{FirmwareImage: img, URL: s.opts.Firmware.FirmwareURL(img.SHA256, img.Name)}
}

func (s *Server) firmwareAvailable() error {
	if s.opts.Firmware == nil {
		return ocppd.Errorf(ocppd.ENOTIMPL, "firmware files are not available in this process")
	}
	return nil
}

// uploadFirmware stores an image: a multipart form's first file, or the
// raw body with ?name=. It answers 201 for a new image and 200 when the
// same bytes were uploaded before.
func (s *Server) uploadFirmware(w http.ResponseWriter, r *http.Request) error {
	if err := s.firmwareAvailable(); err != nil {
		return err
	}
	q := r.URL.Query()
	name, wantSum := q.Get("name"), strings.ToLower(q.Get("sha256"))
	if wantSum != "" && (len(wantSum) != 64 || strings.Trim(wantSum, "0123456789abcdef") != "") {
		return invalid("sha256", "expected 64 hexadecimal digits, got %q", q.Get("sha256"))
	}
	limit := s.opts.FirmwareMaxBytes
	if limit <= 0 {
		limit = defaultFirmwareMaxBytes
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	body := io.Reader(r.Body)
	if ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "multipart/form-data" {
		if params["boundary"] == "" {
			return invalid("Content-Type", "multipart/form-data without a boundary")
		}
		mr, err := r.MultipartReader()
		if err != nil {
			return invalid("file", "bad multipart body: %v", err)
		}
		part, err := mr.NextPart()
		for err == nil && part.FileName() == "" {
			part, err = mr.NextPart()
		}
		var me *http.MaxBytesError
		switch {
		case errors.As(err, &me):
			return tooLarge(limit)
		case err != nil:
			return invalid("file", "no file part in the multipart body")
		}
		body = part
		if name == "" {
			name = part.FileName()
		}
	} else if r.ContentLength == 0 {
		return invalid("file", "the request body is empty; send the image as the body or as a multipart form")
	}
	if name == "" {
		return invalid("name", "required: the image's file name (?name=, or the multipart part's file name)")
	}
	fw, err := s.opts.Firmware.PutFirmware(body, name)
	var me *http.MaxBytesError
	switch {
	case errors.As(err, &me):
		return tooLarge(limit)
	case ocppd.ErrorCode(err) == ocppd.EINVALID:
		return withField(err, "file")
	case err != nil:
		return err
	case fw.Size == 0:
		return invalid("file", "the image is empty")
	case wantSum != "" && wantSum != fw.SHA256:
		return invalid("sha256", "the uploaded image's SHA-256 is %s, not %s (corrupted upload?)", fw.SHA256, wantSum)
	}
	img, created, err := s.opts.Store.PutFirmwareImage(r.Context(), store.FirmwareImage{
		SHA256: fw.SHA256, Name: fw.Name, Size: fw.Size, UploadedAt: s.opts.Now().UTC(),
	})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		s.log.Info("firmware uploaded", "sha256", img.SHA256, "name", img.Name, "bytes", img.Size)
	}
	w.Header().Set("Location", Prefix+"/firmware/"+img.SHA256)
	writeJSON(w, status, s.firmwareJSON(img))
	return nil
}

func tooLarge(limit int64) error {
	return &Error{Code: "too_large", Field: "file", Message: fmt.Sprintf("the image is larger than %d bytes", limit)}
}

func (s *Server) listFirmware(w http.ResponseWriter, r *http.Request) error {
	if err := s.firmwareAvailable(); err != nil {
		return err
	}
	imgs, err := s.opts.Store.ListFirmwareImages(r.Context())
	if err != nil {
		return err
	}
	out := make([]firmwareImage, len(imgs))
	for i, img := range imgs {
		out[i] = s.firmwareJSON(img)
	}
	writeJSON(w, http.StatusOK, List[firmwareImage]{Items: out})
	return nil
}

func (s *Server) getFirmware(w http.ResponseWriter, r *http.Request) error {
	if err := s.firmwareAvailable(); err != nil {
		return err
	}
	img, err := s.opts.Store.GetFirmwareImage(r.Context(), strings.ToLower(r.PathValue("id")))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.firmwareJSON(img))
	return nil
}

// startRollout is the body of POST /firmware/{id}/rollouts.
type startRollout struct {
	// ChargePoints are the stations to update; All selects every station
	// instead.
	ChargePoints []string `json:"chargePoints"`
	All          bool     `json:"all"`
	// RetrieveAt (RFC 3339) is when the stations download the image;
	// default now.
	RetrieveAt string `json:"retrieveAt"`
	// Retries and RetryInterval (seconds) are passed to the stations.
	Retries       *int `json:"retries"`
	RetryInterval *int `json:"retryInterval"`
	// SigningCertificate (PEM) and Signature (base64) are sent to 2.x
	// stations for signed firmware (L01.FR.11); 1.6 UpdateFirmware has
	// no such fields.
	SigningCertificate string `json:"signingCertificate"`
	Signature          string `json:"signature"`
	// Timeout and QueueTimeout are the command options (Go durations).
	Timeout      string `json:"timeout"`
	QueueTimeout string `json:"queueTimeout"`
}

// maxRolloutStations bounds an explicit station list.
const maxRolloutStations = 10000

// rolloutPayload builds the UpdateFirmware request of version v.
func rolloutPayload(v ocpp.Version, in *startRollout, location string, retrieve time.Time, requestID int) map[string]any {
	at := retrieve.UTC().Format(time.RFC3339)
	p := map[string]any{}
	if in.Retries != nil {
		p["retries"] = *in.Retries
	}
	if in.RetryInterval != nil {
		p["retryInterval"] = *in.RetryInterval
	}
	if v == ocpp.V16 {
		p["location"], p["retrieveDate"] = location, at
		return p
	}
	fw := map[string]any{"location": location, "retrieveDateTime": at}
	if in.SigningCertificate != "" {
		fw["signingCertificate"] = in.SigningCertificate
	}
	if in.Signature != "" {
		fw["signature"] = in.Signature
	}
	p["requestId"], p["firmware"] = requestID, fw
	return p
}

// newRolloutID returns a random rollout id.
func newRolloutID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newRequestID returns a random 2.x requestId (a positive int32).
func newRequestID() int {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return int(uint32(b[0])<<23|uint32(b[1])<<15|uint32(b[2])<<7|uint32(b[3])>>1) + 1
}

// inflightUpdate returns the id of a queued or sent UpdateFirmware command
// of station cp, or "".
func (s *Server) inflightUpdate(r *http.Request, cp string) (string, error) {
	for _, st := range []store.CommandState{store.CommandQueued, store.CommandSent} {
		cs, err := s.opts.Store.ListCommands(r.Context(), store.CommandFilter{ChargePointID: cp, Action: "UpdateFirmware", State: st, Limit: 1})
		if err != nil {
			return "", err
		}
		if len(cs) > 0 {
			return cs[0].ID, nil
		}
	}
	return "", nil
}

// createRollout sends UpdateFirmware for image {id} to the stations of the
// body and records the rollout. With an explicit list, a station that is
// unknown is a 404, and one whose OCPP version is unknown (it never
// connected) or that has an UpdateFirmware command still queued or sent is
// a 409, and nothing is sent; with "all", such stations are recorded as
// skipped.
func (s *Server) createRollout(w http.ResponseWriter, r *http.Request) error {
	if err := s.firmwareAvailable(); err != nil {
		return err
	}
	if s.opts.Commands == nil {
		return ocppd.Errorf(ocppd.ENOTIMPL, "commands are not available in this process")
	}
	ctx := r.Context()
	img, err := s.opts.Store.GetFirmwareImage(ctx, strings.ToLower(r.PathValue("id")))
	if err != nil {
		return err
	}
	var in startRollout
	if err := decode(w, r, &in); err != nil {
		return err
	}
	switch {
	case in.All && len(in.ChargePoints) > 0:
		return invalid("all", "give either chargePoints or all, not both")
	case !in.All && len(in.ChargePoints) == 0:
		return invalid("chargePoints", "required: the stations to update (or \"all\": true)")
	case len(in.ChargePoints) > maxRolloutStations:
		return invalid("chargePoints", "at most %d stations per rollout; use \"all\": true for the whole fleet", maxRolloutStations)
	case in.Retries != nil && *in.Retries < 0:
		return invalid("retries", "expected a non-negative integer, got %d", *in.Retries)
	case in.RetryInterval != nil && *in.RetryInterval < 0:
		return invalid("retryInterval", "expected a non-negative number of seconds, got %d", *in.RetryInterval)
	case len(in.SigningCertificate) > 5500: // UpdateFirmwareRequest firmware.signingCertificate maxLength
		return invalid("signingCertificate", "at most 5500 characters")
	case len(in.Signature) > 800: // firmware.signature maxLength
		return invalid("signature", "at most 800 characters")
	}
	var o csms.CommandOptions
	if o.Timeout, err = parseDuration("timeout", in.Timeout); err != nil {
		return err
	}
	if o.QueueTimeout, err = parseDuration("queueTimeout", in.QueueTimeout); err != nil {
		return err
	}
	now := s.opts.Now().UTC()
	retrieve := now
	if in.RetrieveAt != "" {
		t, err := time.Parse(time.RFC3339Nano, in.RetrieveAt)
		if err != nil {
			return invalid("retrieveAt", "expected an RFC 3339 time such as 2025-01-31T12:00:00Z, got %q", in.RetrieveAt)
		}
		retrieve = t.UTC()
	}
	location := s.opts.Firmware.FirmwareURL(img.SHA256, img.Name)
	if len(location) > 512 { // 2.x firmware.location maxLength
		return ocppd.Errorf(ocppd.EINVALID, "the firmware URL %q is longer than the 512 characters OCPP 2.x allows: shorten the image's name or --public-url", location)
	}

	// The stations, checked before anything is sent.
	var stations []store.RolloutStation
	if in.All {
		cps, err := s.opts.Store.ListChargePoints(ctx, store.ListOptions{})
		if err != nil {
			return err
		}
		for _, cp := range cps {
			st := store.RolloutStation{ChargePointID: cp.ID, Protocol: cp.Protocol}
			if cp.Protocol == "" {
				st.Error = "skipped: the station's OCPP version is not known yet (it never connected)"
			} else if id, err := s.inflightUpdate(r, cp.ID); err != nil {
				return err
			} else if id != "" {
				st.Error = "skipped: UpdateFirmware command " + id + " is still queued or sent"
			}
			stations = append(stations, st)
		}
	} else {
		seen := map[string]bool{}
		for i, id := range in.ChargePoints {
			field := fmt.Sprintf("chargePoints[%d]", i)
			if id == "" {
				return invalid(field, "empty station id")
			}
			if seen[id] {
				continue
			}
			seen[id] = true
			cp, err := s.opts.Store.GetChargePoint(ctx, id)
			if err != nil {
				if ocppd.ErrorCode(err) == ocppd.ENOTFOUND {
					return &Error{Code: ocppd.ENOTFOUND, Field: field, Message: fmt.Sprintf("station %q not found", id)}
				}
				return err
			}
			if cp.Protocol == "" {
				return &Error{Code: ocppd.ECONFLICT, Field: field,
					Message: fmt.Sprintf("station %q never connected, so its OCPP version is not known yet", id)}
			}
			if cmd, err := s.inflightUpdate(r, id); err != nil {
				return err
			} else if cmd != "" {
				return &Error{Code: ocppd.ECONFLICT, Field: field,
					Message: fmt.Sprintf("station %q has UpdateFirmware command %s still queued or sent; wait for it to end", id, cmd)}
			}
			stations = append(stations, store.RolloutStation{ChargePointID: id, Protocol: cp.Protocol})
		}
	}
	// The request of each version, validated once before anything is sent.
	for _, st := range stations {
		if st.Error != "" {
			continue
		}
		v := ocpp.Version(st.Protocol)
		raw, _ := json.Marshal(rolloutPayload(v, &in, location, retrieve, 1))
		if _, err := message.DecodeRequest(v, "UpdateFirmware", raw, ocpp.DecodeOptions{}); err != nil {
			return invalid("", "the UpdateFirmware request for %s stations is not valid: %v", v, err)
		}
	}

	ro := store.FirmwareRollout{
		ID: newRolloutID(), FirmwareSHA256: img.SHA256, Location: location, RetrieveAt: retrieve,
		Retries: in.Retries, RetryInterval: in.RetryInterval, CreatedAt: now,
	}
	// L01: UpdateFirmware to each station, in its own version.
	for i := range stations {
		st := &stations[i]
		if st.Error != "" {
			continue
		}
		v := ocpp.Version(st.Protocol)
		req := 0
		if v != ocpp.V16 {
			req = newRequestID()
			st.RequestID = &req
		}
		c, err := s.opts.Commands.SendWith(ctx, st.ChargePointID, "UpdateFirmware", rolloutPayload(v, &in, location, retrieve, req), o)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			st.RequestID, st.Error = nil, "not sent: "+ocppd.ErrorMessage(err)
			s.log.Warn("firmware rollout: UpdateFirmware not sent", "cp", st.ChargePointID, "rollout", ro.ID, "err", err)
			continue
		}
		st.CommandID = c.ID
	}
	ro.Stations = stations
	if ro.Stations == nil {
		ro.Stations = []store.RolloutStation{}
	}
	if err := s.opts.Store.AddFirmwareRollout(ctx, ro); err != nil {
		return fmt.Errorf("record rollout: %w", err)
	}
	s.log.Info("firmware rollout started", "rollout", ro.ID, "sha256", img.SHA256, "stations", len(ro.Stations))
	p, err := s.progress(r, ro, img)
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/firmware/rollouts/"+url.PathEscape(ro.ID))
	writeJSON(w, http.StatusCreated, p)
	return nil
}
