package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ocppd/ocppd/gateway"
)

// GatewaySource is what NewGatewayCollector reads: *gateway.Gateway.
type GatewaySource interface {
	Stats() gateway.Stats
	Sessions() int
}

// gatewayCollector turns a gateway's Stats snapshot into metrics at scrape
// time, so the gateway keeps its own cheap atomic counters.
type gatewayCollector struct {
	g GatewaySource

	sessions, accepted, refused, replaced, framesIn, framesInvalid, framesOut,
	callErrorsSent, publishErrors, outInvalid, outDropped, callsDropped,
	callTimeouts, slowPeers, abusive *prometheus.Desc
}

// NewGatewayCollector returns a collector of g's counters:
// ocppd_gateway_sessions and ocppd_gateway_*_total.
func NewGatewayCollector(g GatewaySource) prometheus.Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("ocppd_gateway_"+name, help, labels, nil)
	}
	return &gatewayCollector{
		g:              g,
		sessions:       d("sessions", "Station WebSocket sessions open on this gateway."),
		accepted:       d("sessions_accepted_total", "Station sessions started (admitted, subprotocol agreed)."),
		refused:        d("connections_refused_total", "Station connection attempts refused, by reason.", "reason"),
		replaced:       d("sessions_replaced_total", "Sessions closed because their station connected again."),
		framesIn:       d("frames_in_total", "Text frames received from stations."),
		framesInvalid:  d("frames_invalid_total", "Malformed frames received from stations (answered, not published)."),
		framesOut:      d("frames_out_total", "Text frames written to stations."),
		callErrorsSent: d("callerrors_sent_total", "CALLERRORs the gateway sent itself, by error code.", "code"),
		publishErrors:  d("publish_errors_total", "Frames and lifecycle events the bus refused."),
		outInvalid:     d("out_invalid_total", "Malformed frames received on /out topics (dropped)."),
		outDropped:     d("out_dropped_total", "Frames on /out dropped because their session was closing."),
		callsDropped:   d("calls_dropped_total", "CSMS-to-station CALLs dropped because the call queue was full."),
		callTimeouts:   d("call_timeouts_total", "CSMS-to-station CALLs given up after the call timeout."),
		slowPeers:      d("slow_peers_total", "Stations disconnected because their write queue was full."),
		abusive:        d("abusive_sessions_total", "Sessions closed for sending too many malformed frames."),
	}
}

// Describe implements prometheus.Collector.
func (c *gatewayCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.sessions, c.accepted, c.refused, c.replaced, c.framesIn, c.framesInvalid,
		c.framesOut, c.callErrorsSent, c.publishErrors, c.outInvalid, c.outDropped, c.callsDropped, c.callTimeouts, c.slowPeers, c.abusive} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *gatewayCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.g.Stats()
	ch <- prometheus.MustNewConstMetric(c.sessions, prometheus.GaugeValue, float64(c.g.Sessions()))
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.accepted, s.Accepted)
	for reason, n := range s.Refused {
		counter(c.refused, n, reason)
	}
	counter(c.replaced, s.Replaced)
	counter(c.framesIn, s.FramesIn)
	counter(c.framesInvalid, s.FramesInvalid)
	counter(c.framesOut, s.FramesOut)
	for code, n := range s.CallErrorsSent {
		counter(c.callErrorsSent, n, code)
	}
	counter(c.publishErrors, s.PublishErrors)
	counter(c.outInvalid, s.OutInvalid)
	counter(c.outDropped, s.OutDropped)
	counter(c.callsDropped, s.CallsDropped)
	counter(c.callTimeouts, s.CallTimeouts)
	counter(c.slowPeers, s.SlowPeers)
	counter(c.abusive, s.Abusive)
}
