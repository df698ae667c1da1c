// Package api is ocppd's operator REST API: JSON under /api/v1 on the
// operator port, described by the OpenAPI 3 document it serves at
// /api/v1/openapi.json, protected by bearer tokens (see Token), with a
// live stream of bus traffic as server-sent events, a per-station log of
// recent frames, and Prometheus /metrics. The web portal is served at /
// from a handler given in Options.
//
// Every handler returns an error; one function (writeError) turns it into
// the HTTP status and the JSON body {"error":{"code","message","field"}},
// mapping ocppd.Error codes: invalid → 400, unauthorized → 401, forbidden →
// 403, not_found → 404, conflict → 409, unavailable → 503, not_implemented
// → 501, and anything else → 500 (logged, with a message that leaks
// nothing).
package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/metrics"
	"github.com/ocppd/ocppd/store"
)

// Prefix is the path under which the API is served.
const Prefix = "/api/v1"

// Options configure a Server. Store is required; Bus is required for the
// event stream and the message log. Zero values of the others take the
// defaults noted.
type Options struct {
	Store  store.Store
	Bus    bus.Bus
	Topics bus.Topics
	Logger *slog.Logger
	Now    func() time.Time
	// Version is the ocppd version reported by GET /api/v1/system.
	Version string

	// Metrics serves GET /metrics (nil: no /metrics). It needs a token
	// unless MetricsPublic is set.
	Metrics       http.Handler
	MetricsPublic bool
	// Registerer, if set, receives the API's own metrics
	// (ocppd_api_requests_total, ocppd_api_request_seconds,
	// ocppd_api_events_*).
	Registerer prometheus.Registerer
	// Observer, if set, provides the message figures of GET
	// /api/v1/system.
	Observer interface{ Stats() metrics.ObserverStats }
	// Sessions, if set, returns the number of station sessions open on
	// this process's gateway (GET /api/v1/system).
	Sessions func() int

	// Portal serves the web portal at "/" (public: it holds no data and
	// asks for a token). Nil serves a short page pointing to the API.
	Portal http.Handler

	// Shadows applies desired-state updates; nil uses a compare-and-swap
	// loop on the store (see shadowUpdater).
	Shadows ShadowUpdater
	// Commands issues CSMS→station commands; nil answers 501 to POST
	// /chargepoints/{cp}/commands (listing and reading still work).
	Commands Commander
	// Rules is the rules engine behind /rules and /tables; nil leaves
	// those routes answering 501.
	Rules RulesEngine
	// Firmware keeps uploaded firmware images (*files.Store); nil leaves
	// /firmware answering 501. Rollouts also need Commands.
	Firmware FirmwareFiles
	// FirmwareMaxBytes bounds an uploaded firmware image. Default 256 MiB.
	FirmwareMaxBytes int64

	// MessageLog is the number of recent frames kept per station (in this
	// process's memory) for GET /api/v1/chargepoints/{id}/messages.
	// Default 50; negative disables the log.
	MessageLog int
	// MessageLogBytes bounds the memory of the whole message log; when it
	// is exceeded the station written to least recently is forgotten.
	// Default 64 MiB.
	MessageLogBytes int
	// EventBuffer is the number of events buffered per event-stream
	// client; a client that falls this far behind is disconnected and
	// counted. Default 256.
	EventBuffer int
	// EventHeartbeat is the interval of the comment lines that keep idle
	// event streams open through proxies; the stream's token is checked
	// again at each. Default 15 s.
	EventHeartbeat time.Duration
}

// Server is the operator API. Create it with New, call Start to subscribe
// to the bus, serve Handler, and Close it.
type Server struct {
	opts    Options
	log     *slog.Logger
	started time.Time

	mux     *http.ServeMux
	routes  []route
	handler http.Handler

	hub *hub
	m   *apiMetrics

	closeOnce sync.Once
}

// route is one registered API operation.
type route struct{ Method, Path string }

// New returns a Server for opts. It does no I/O.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MessageLog == 0 {
		opts.MessageLog = 50
	}
	if opts.MessageLogBytes <= 0 {
		opts.MessageLogBytes = 64 << 20
	}
	if opts.EventBuffer <= 0 {
		opts.EventBuffer = 256
	}
	if opts.EventHeartbeat <= 0 {
		opts.EventHeartbeat = 15 * time.Second
	}
	if opts.Shadows == nil {
		opts.Shadows = &shadowUpdater{store: opts.Store, now: opts.Now}
	}
	s := &Server{
		opts:    opts,
		log:     opts.Logger,
		started: opts.Now(),
		mux:     http.NewServeMux(),
	}
	s.m = newAPIMetrics(opts.Registerer)
	s.hub = newHub(opts, s.m)
	s.registerRoutes()
	s.handler = s.buildHandler()
	return s
}

// Start subscribes to the stations' frames and lifecycle events for the
// event stream and the message log. Without a bus it does nothing.
func (s *Server) Start(ctx context.Context) error {
	if s.opts.Bus == nil {
		return nil
	}
	return s.hub.start(ctx)
}

// Close ends the event streams and unsubscribes. It is idempotent.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() { err = s.hub.close() })
	return err
}

// Handler returns the operator HTTP handler: the API under /api/v1,
// /metrics, and the portal at /. It does not serve /healthz and /readyz;
// the caller mounts those beside it.
func (s *Server) Handler() http.Handler { return s.handler }

// Routes returns the API's operations as "METHOD /path" patterns, in
// registration order.
func (s *Server) Routes() []string {
	out := make([]string, len(s.routes))
	for i, r := range s.routes {
		out[i] = r.Method + " " + r.Path
	}
	return out
}

// handlerFunc is an API handler: it writes a response or returns an error
// for writeError.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle registers an operation under Prefix.
func (s *Server) handle(method, path string, h handlerFunc) {
	full := Prefix + path
	s.routes = append(s.routes, route{method, full})
	pattern := method + " " + full
	s.mux.Handle(pattern, s.instrument(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})))
}

func (s *Server) buildHandler() http.Handler {
	top := http.NewServeMux()
	// Unknown API paths and wrong methods answer JSON too.
	s.mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		if allow := s.allowed(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.writeError(w, r, &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
				Message: fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allow, ", "))})
			return
		}
		s.writeError(w, r, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such API path: " + r.URL.Path})
	})
	top.Handle(Prefix+"/", s.authenticate(s.mux))
	if s.opts.Metrics != nil {
		h := s.opts.Metrics
		if !s.opts.MetricsPublic {
			h = s.authenticate(h)
		}
		top.Handle("GET /metrics", h)
	}
	portal := s.opts.Portal
	if portal == nil {
		portal = http.HandlerFunc(placeholderPortal)
	}
	top.Handle("/", portal)
	return top
}

// allowed returns the methods registered for r's path when r's method is
// not one of them.
func (s *Server) allowed(r *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != Prefix+"/" {
			allow = append(allow, m)
		}
	}
	return allow
}

func placeholderPortal(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, `<!doctype html><meta charset="utf-8"><title>ocppd</title>
<h1>ocppd</h1><p>The web portal is not part of this build. The operator API is at
<a href="/api/v1/openapi.json">/api/v1</a> (bearer token required: <code>ocppd token create --name NAME</code>).</p>`)
}
