package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/store"
)

// Phases of a station in a rollout.
const (
	phaseSkipped   = "skipped"   // no command was sent (see error)
	phasePending   = "pending"   // the command is queued or sent, not answered yet
	phaseRejected  = "rejected"  // the station answered other than Accepted
	phaseUpdating  = "updating"  // accepted; downloading or installing
	phaseInstalled = "installed" // FirmwareStatusNotification Installed
	phaseFailed    = "failed"    // the command failed or timed out, or the update failed
)

// rolloutSummary counts the stations of a rollout by phase.
type rolloutSummary struct {
	Total     int `json:"total"`
	Pending   int `json:"pending"`
	Updating  int `json:"updating"`
	Installed int `json:"installed"`
	Rejected  int `json:"rejected"`
	Failed    int `json:"failed"`
	Skipped   int `json:"skipped"`
	// Done is true when no station is pending or updating.
	Done bool `json:"done"`
}

func (s *rolloutSummary) add(phase string) {
	s.Total++
	switch phase {
	case phasePending:
		s.Pending++
	case phaseUpdating:
		s.Updating++
	case phaseInstalled:
		s.Installed++
	case phaseRejected:
		s.Rejected++
	case phaseFailed:
		s.Failed++
	case phaseSkipped:
		s.Skipped++
	}
	s.Done = s.Pending == 0 && s.Updating == 0
}

// commandProgress is where a station's UpdateFirmware command is.
type commandProgress struct {
	State store.CommandState `json:"state"`
	// Status is the answer's status (1.6 answers nothing: Accepted).
	Status     string    `json:"status,omitempty"`
	Error      string    `json:"error,omitempty"`
	SentAt     time.Time `json:"sentAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
}

// firmwareStatus is the latest FirmwareStatusNotification of a station
// that belongs to the rollout.
type firmwareStatus struct {
	Status     string    `json:"status"`
	Timestamp  time.Time `json:"timestamp"`
	ReceivedAt time.Time `json:"receivedAt"`
}

// stationProgress is one station of a rollout with its progress.
type stationProgress struct {
	store.RolloutStation
	Phase          string           `json:"phase"`
	Command        *commandProgress `json:"command,omitempty"`
	FirmwareStatus *firmwareStatus  `json:"firmwareStatus,omitempty"`
}

// rolloutProgress is the body of GET /firmware/rollouts/{id}.
type rolloutProgress struct {
	ID            string            `json:"id"`
	Firmware      firmwareImage     `json:"firmware"`
	Location      string            `json:"location"`
	RetrieveAt    time.Time         `json:"retrieveAt"`
	Retries       *int              `json:"retries,omitempty"`
	RetryInterval *int              `json:"retryInterval,omitempty"`
	CreatedAt     time.Time         `json:"createdAt"`
	Summary       rolloutSummary    `json:"summary"`
	Stations      []stationProgress `json:"stations"`
}

// firmwareFailures are the FirmwareStatusNotification statuses that end an
// update without installing it (1.6 and 2.x).
var firmwareFailures = map[string]bool{
	"DownloadFailed": true, "InstallationFailed": true, "InstallVerificationFailed": true, "InvalidSignature": true,
}

// statusEventsScanned bounds how many of a station's latest
// FirmwareStatusNotifications are looked at for the rollout's.
const statusEventsScanned = 50

// progress reads where each station of ro is: its command and the latest
// FirmwareStatusNotification that belongs to the rollout — for 2.x the
// ones carrying the rollout's requestId (L01.FR.20), for 1.6 (which has
// no requestId) the ones received since the command was created.
func (s *Server) progress(r *http.Request, ro store.FirmwareRollout, img store.FirmwareImage) (rolloutProgress, error) {
	ctx := r.Context()
	p := rolloutProgress{
		ID: ro.ID, Firmware: s.firmwareJSON(img), Location: ro.Location, RetrieveAt: ro.RetrieveAt,
		Retries: ro.Retries, RetryInterval: ro.RetryInterval, CreatedAt: ro.CreatedAt,
		Stations: make([]stationProgress, 0, len(ro.Stations)), Summary: rolloutSummary{Done: true},
	}
	for _, st := range ro.Stations {
		sp := stationProgress{RolloutStation: st, Phase: phaseSkipped}
		if st.CommandID != "" {
			c, err := s.opts.Store.GetCommand(ctx, st.CommandID)
			if err != nil {
				return p, err
			}
			sp.Command = &commandProgress{State: c.State, SentAt: c.SentAt, FinishedAt: c.FinishedAt}
			switch c.State {
			case store.CommandAnswered:
				var a struct{ Status string }
				_ = json.Unmarshal(c.Response, &a)
				if a.Status == "" && ocpp.Version(c.Protocol) == ocpp.V16 {
					a.Status = "Accepted"
				}
				sp.Command.Status = a.Status
			case store.CommandFailed, store.CommandTimedOut:
				sp.Command.Error = strings.TrimPrefix(c.ErrorCode+": "+c.ErrorDescription, ": ")
				if c.State == store.CommandTimedOut && sp.Command.Error == "" {
					sp.Command.Error = "no answer in time"
				}
			}
			if sp.FirmwareStatus, err = s.latestFirmwareStatus(r, st, c.CreatedAt); err != nil {
				return p, err
			}
			sp.Phase = phase(sp)
		}
		p.Summary.add(sp.Phase)
		p.Stations = append(p.Stations, sp)
	}
	return p, nil
}

// phase derives a station's phase from its command and firmware status.
func phase(sp stationProgress) string {
	if fs := sp.FirmwareStatus; fs != nil {
		// The station's own report wins: a late answer may follow it.
		switch {
		case fs.Status == "Installed":
			return phaseInstalled
		case firmwareFailures[fs.Status]:
			return phaseFailed
		}
	}
	switch c := sp.Command; c.State {
	case store.CommandQueued, store.CommandSent:
		return phasePending
	case store.CommandAnswered:
		if c.Status == "Accepted" || c.Status == "AcceptedCanceled" {
			return phaseUpdating
		}
		return phaseRejected
	}
	return phaseFailed
}

// latestFirmwareStatus returns the latest FirmwareStatusNotification of
// st's station that belongs to the rollout, or nil.
func (s *Server) latestFirmwareStatus(r *http.Request, st store.RolloutStation, since time.Time) (*firmwareStatus, error) {
	evs, err := s.opts.Store.ListStationEvents(r.Context(), st.ChargePointID, "FirmwareStatusNotification", statusEventsScanned)
	if err != nil {
		return nil, err
	}
	for _, ev := range evs {
		if ev.ReceivedAt.Before(since) {
			continue
		}
		if st.RequestID != nil {
			var p struct {
				RequestID *int `json:"requestId"`
			}
			if json.Unmarshal(ev.Payload, &p) != nil || p.RequestID == nil || *p.RequestID != *st.RequestID {
				continue
			}
		}
		status := ev.Status
		if status == "" {
			var p struct{ Status string }
			_ = json.Unmarshal(ev.Payload, &p)
			status = p.Status
		}
		return &firmwareStatus{Status: status, Timestamp: ev.Timestamp, ReceivedAt: ev.ReceivedAt}, nil
	}
	return nil, nil
}

func (s *Server) getRollout(w http.ResponseWriter, r *http.Request) error {
	if err := s.firmwareAvailable(); err != nil {
		return err
	}
	ro, err := s.opts.Store.GetFirmwareRollout(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	img, err := s.opts.Store.GetFirmwareImage(r.Context(), ro.FirmwareSHA256)
	if err != nil {
		return err
	}
	p, err := s.progress(r, ro, img)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) listRollouts(w http.ResponseWriter, r *http.Request) error {
	if err := s.firmwareAvailable(); err != nil {
		return err
	}
	limit, err := queryLimit(r, defaultLimit)
	if err != nil {
		return err
	}
	sha := strings.ToLower(r.URL.Query().Get("firmware"))
	if sha != "" {
		if _, err := s.opts.Store.GetFirmwareImage(r.Context(), sha); err != nil {
			if ocppd.ErrorCode(err) == ocppd.ENOTFOUND {
				return &Error{Code: ocppd.ENOTFOUND, Field: "firmware", Message: ocppd.ErrorMessage(err)}
			}
			return err
		}
	}
	ros, err := s.opts.Store.ListFirmwareRollouts(r.Context(), sha, limit)
	if err != nil {
		return err
	}
	if ros == nil {
		ros = []store.FirmwareRollout{}
	}
	writeJSON(w, http.StatusOK, List[store.FirmwareRollout]{Items: ros})
	return nil
}
