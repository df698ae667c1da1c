package api

import (
	"net/http"
	"time"

	"github.com/ocppd/ocppd/metrics"
)

// System is the body of GET /api/v1/system: figures about this ocppd
// process and the fleet.
type System struct {
	Version       string    `json:"version"`
	StartedAt     time.Time `json:"startedAt"`
	UptimeSeconds float64   `json:"uptimeSeconds"`
	Stations      struct {
		Total  int `json:"total"`
		Online int `json:"online"`
	} `json:"stations"`
	// GatewaySessions counts the station sessions open on this process's
	// gateway (absent in a process without a gateway).
	GatewaySessions *int `json:"gatewaySessions,omitempty"`
	// Messages are the bus figures since this process started (absent
	// without a metrics observer).
	Messages *metrics.ObserverStats `json:"messages,omitempty"`
	Events   struct {
		Clients            int    `json:"clients"`
		SlowClientsDropped uint64 `json:"slowClientsDropped"`
	} `json:"events"`
	MessageLog struct {
		Stations int `json:"stations"`
		Bytes    int `json:"bytes"`
	} `json:"messageLog"`
}

func (s *Server) getSystem(w http.ResponseWriter, r *http.Request) error {
	var out System
	total, online, err := s.opts.Store.CountChargePoints(r.Context())
	if err != nil {
		return err
	}
	now := s.opts.Now()
	out.Version = s.opts.Version
	out.StartedAt = s.started.UTC()
	out.UptimeSeconds = now.Sub(s.started).Seconds()
	out.Stations.Total, out.Stations.Online = total, online
	if s.opts.Sessions != nil {
		n := s.opts.Sessions()
		out.GatewaySessions = &n
	}
	if s.opts.Observer != nil {
		st := s.opts.Observer.Stats()
		out.Messages = &st
	}
	out.Events.Clients = s.hub.clientCount()
	out.Events.SlowClientsDropped = s.hub.slow.Load()
	s.hub.mu.Lock()
	out.MessageLog.Stations, out.MessageLog.Bytes = s.hub.log.size()
	s.hub.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
	return nil
}
