// Package metrics is ocppd's Prometheus registry and the collectors that
// feed it: every part of ocppd exposes its figures here without importing
// the Prometheus client itself.
//
//   - Observer subscribes to the bus ({cp}/in, {cp}/out and the lifecycle
//     events), parses only each frame's header (ocpp.Parse) and counts
//     messages by action and direction, CALLERRORs by code and connected
//     stations by OCPP version, and times CALL→CALLRESULT round trips by
//     matching message ids per station. The gateway and the CSMS are not
//     touched.
//   - NewGatewayCollector reads gateway.Stats() at scrape time.
//   - InstrumentStore wraps a store.Store and times its calls.
//   - Registry.QueueDepth exposes any queue's length as a gauge.
//
// Every metric name starts with "ocppd_".
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry holds the collectors of one ocppd process. The zero value is not
// usable; create it with NewRegistry.
type Registry struct {
	reg *prometheus.Registry
}

// NewRegistry returns a registry with the Go runtime and process
// collectors registered.
func NewRegistry() *Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Registry{reg: reg}
}

// Registerer returns the registry for collectors of other packages.
func (r *Registry) Registerer() prometheus.Registerer { return r.reg }

// Gatherer returns the registry for reading the current values (tests).
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Handler serves the metrics in the Prometheus text format (or OpenMetrics
// when the scraper asks for it). Errors of single collectors are logged by
// the caller's server and do not fail the scrape.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		Registry:          r.reg,
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
}

// QueueDepth exposes f as ocppd_queue_depth{queue="name"}, read at scrape
// time. f must be safe to call from any goroutine. It returns an error if
// name is registered already.
func (r *Registry) QueueDepth(name string, f func() int) error {
	return r.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "ocppd_queue_depth",
		Help:        "Items waiting in an internal queue, by queue.",
		ConstLabels: prometheus.Labels{"queue": name},
	}, func() float64 { return float64(f()) }))
}
