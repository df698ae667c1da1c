package csms

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/message"
	"github.com/ocppd/ocppd/store"
)

// send stores an OCPP 2.1 SEND frame (message type 6, unanswered by
// definition: NotifyPeriodicEventStream, the data of a stream opened with
// OpenPeriodicEventStream) in the station's event log. A SEND has no
// answer, so what cannot be stored — a station that is not Accepted, a
// payload that does not validate, a store failure — is logged and
// dropped; the station does not retry it either.
func (s *Service) send(ctx context.Context, log *slog.Logger, cp string, v ocpp.Version, f ocpp.Frame) {
	pol, err := s.stationPolicy(ctx, cp, false)
	if err != nil {
		if ocppd.ErrorCode(err) != ocppd.ENOTFOUND {
			log.Error("SEND dropped: reading the station failed", "action", f.Action, "err", err)
		}
		return
	}
	if pol.Registration != ocppd.RegistrationAccepted {
		log.Info("SEND dropped: the station is not Accepted", "action", f.Action, "registration", pol.Registration)
		return
	}
	if _, err := message.DecodeRequest(v, f.Action, f.Payload, s.decodeOptions(cp, pol)); err != nil {
		log.Warn("SEND dropped: invalid payload", "action", f.Action, "err", err)
		return
	}
	received := s.opts.Now()
	var p struct {
		Basetime time.Time `json:"basetime"`
	}
	_ = json.Unmarshal(f.Payload, &p) // validated; best effort
	ts := p.Basetime
	if ts.IsZero() {
		ts = received
	}
	err = s.opts.Store.AddStationEvent(ctx, store.StationEvent{ChargePointID: cp, Action: f.Action, Timestamp: ts,
		Payload: append(json.RawMessage(nil), f.Payload...), ReceivedAt: received})
	if err != nil && ocppd.ErrorCode(err) != ocppd.ENOTFOUND {
		log.Error("SEND dropped: storing it failed", "action", f.Action, "err", err)
	}
}
