package api

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// apiMetrics are the API's own Prometheus metrics. They work unregistered
// when Options.Registerer is nil.
type apiMetrics struct {
	requests      *prometheus.CounterVec
	seconds       *prometheus.HistogramVec
	denied        *prometheus.CounterVec
	clients       prometheus.Gauge
	slowClients   prometheus.Counter
	eventsDropped prometheus.Counter
}

func newAPIMetrics(reg prometheus.Registerer) *apiMetrics {
	m := &apiMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ocppd_api_requests_total",
			Help: "Operator API requests, by route pattern and HTTP status.",
		}, []string{"route", "status"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ocppd_api_request_seconds",
			Help:    "Operator API request latency, by route pattern (event streams: their lifetime).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"route"}),
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ocppd_api_denied_total",
			Help: "Operator API requests refused before routing: 401 (no, unknown or revoked token) or 403 (read-only token).",
		}, []string{"status"}),
		clients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ocppd_api_event_clients",
			Help: "Clients connected to the event stream.",
		}),
		slowClients: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ocppd_api_event_clients_dropped_total",
			Help: "Event stream clients disconnected because they fell too far behind.",
		}),
		eventsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ocppd_api_events_dropped_total",
			Help: "Bus messages the event stream and message log dropped because their queue was full.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.seconds, m.denied, m.clients, m.slowClients, m.eventsDropped} {
			if err := reg.Register(c); err != nil {
				// Registered twice in one process (two Servers): keep
				// counting in unregistered collectors.
				_ = err
			}
		}
	}
	return m
}

// statusWriter records the status a handler wrote. Unwrap lets
// http.ResponseController reach the underlying writer (Flush for the
// event stream).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument counts and times the requests of one route and logs them:
// changes at info level with the token's name (an audit trail), reads at
// debug level. Lines about a station carry its id as "cp".
func (s *Server) instrument(route string, next http.Handler) http.Handler {
	m := s.m
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		m.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
		m.seconds.WithLabelValues(route).Observe(time.Since(start).Seconds())
		level := slog.LevelDebug
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			level = slog.LevelInfo
		}
		if !s.log.Enabled(r.Context(), level) {
			return
		}
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", sw.status, "took", time.Since(start)}
		if cp := r.PathValue("cp"); cp != "" {
			attrs = append(attrs, "cp", cp)
		}
		if t, ok := TokenFrom(r.Context()); ok {
			attrs = append(attrs, "token", t.Name)
		}
		s.log.Log(r.Context(), level, "API request", attrs...)
	})
}
