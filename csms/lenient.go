package csms

import (
	"context"
	"encoding/json"
	"time"

	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/store"
)

// decodeOptions returns how to decode the payloads of station cp: strict,
// or — for stations flagged lenient in the registry (issue #8: known to
// send out-of-spec enum values or extra properties) — lenient, with every
// tolerated deviation logged and counted.
func (s *Service) decodeOptions(cp string, pol store.StationPolicy) ocpp.DecodeOptions {
	if !pol.Lenient {
		return ocpp.DecodeOptions{}
	}
	return ocpp.DecodeOptions{Lenient: true, Warn: func(path, msg string) {
		s.metrics.lenientWarnings.Add(1)
		s.log.Debug("tolerated out-of-spec payload", "cp", cp, "path", path, "msg", msg)
	}}
}

// stationDecodeOptions looks the station's policy up for decodeOptions.
func (s *Service) stationDecodeOptions(ctx context.Context, cp string) ocpp.DecodeOptions {
	pol, err := s.stationPolicy(ctx, cp, false)
	if err != nil {
		return ocpp.DecodeOptions{}
	}
	return s.decodeOptions(cp, pol)
}

// triggerWindow is how long after a TriggerMessage (or a report request)
// the message it asked for is accepted from a station that is not
// Accepted.
const triggerWindow = 10 * time.Minute

// allowedBeforeAccepted reports whether a Pending station may send r even
// though it is not Accepted: B02.FR.09 exempts messages triggered by a
// TriggerMessage, and provisioning a Pending station (B02.FR.02: the CSMS
// may ask for reports and set variables) needs the NotifyReport answering
// a GetBaseReport/GetReport. A Rejected station may send nothing but
// BootNotification (B03.FR.07).
func (s *Service) allowedBeforeAccepted(ctx context.Context, r *Request) bool {
	if r.Station.Registration != "Pending" {
		return false
	}
	want := r.Action
	if want == "SignCertificate" {
		want = "SignChargingStationCertificate"
	}
	cmds, err := s.opts.Store.ListCommands(ctx, store.CommandFilter{ChargePointID: r.ChargePointID, Limit: 20})
	if err != nil {
		return false
	}
	since := s.opts.Now().Add(-triggerWindow)
	for _, c := range cmds {
		if c.CreatedAt.Before(since) {
			break
		}
		switch c.Action {
		case "TriggerMessage", "ExtendedTriggerMessage":
			var req struct {
				RequestedMessage string `json:"requestedMessage"`
			}
			if json.Unmarshal(c.Request, &req) == nil && (req.RequestedMessage == want || req.RequestedMessage == r.Action) {
				return true
			}
		case "GetBaseReport", "GetReport":
			if r.Action == "NotifyReport" {
				return true
			}
		case "GetMonitoringReport":
			if r.Action == "NotifyMonitoringReport" {
				return true
			}
		}
	}
	return false
}
