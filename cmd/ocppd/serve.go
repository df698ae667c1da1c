package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/bus/embedded"
	"github.com/ocppd/ocppd/csms"
	"github.com/ocppd/ocppd/gateway"
	"github.com/ocppd/ocppd/store"
)

// defaultMQTTAddr is the default MQTT listener for outside tools.
const defaultMQTTAddr = "127.0.0.1:1883" // loopback: no credentials needed (security.go)

// serveConfig is the configuration of `ocppd serve`. The zero value of
// Roles means every role.
type serveConfig struct {
	Roles             string // --roles: "all" or e.g. "gateway,csms"
	OCPPAddr          string
	HTTPAddr          string
	MQTTAddr          string
	MQTTAddrExplicit  bool // set by the user, so a taken port is an error
	Broker            brokerConfig
	DB                dbConfig // DB.DataDir mirrors DataDir
	DataDir           string
	HeartbeatInterval time.Duration
	PingInterval      time.Duration
	MaxFrameSize      int
	CallTimeout       time.Duration
	AllowUnknown      bool
	TopicPrefix       string
	GatewayID         string
	ShutdownTimeout   time.Duration
	Rules             rulesConfig    // the config file's rules: section (rules.go)
	Security          securityConfig // security.go
	API               apiConfig      // api.go
	Files             filesConfig    // files.go
	// wrapStore, set only by tests, wraps the opened store (e.g. to
	// inject failures); nil uses it as is.
	wrapStore func(store.Store) store.Store
}

const serveSummary = `Runs ocppd. By default every role runs in one process with an embedded MQTT
broker and SQLite. For scale-out, split the roles over processes with
--roles, an external MQTT v5 broker (--broker) and PostgreSQL (--db); see
docs/deploy.md.`

func serveCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", serveSummary, stderr)
	var cfg serveConfig
	fs.StringVar(&cfg.Roles, "roles", "all", "roles of this process: all, or a comma-separated list of gateway (OCPP WebSocket listener), csms (business logic), api (operator API and portal)")
	fs.StringVar(&cfg.OCPPAddr, "ocpp-addr", ":8080", "OCPP-J WebSocket listen address (gateway role); stations connect to ws://HOST:PORT/[prefix/]{cpId}")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", ":8081", "operator HTTP listen address (health and metrics in every role; API and portal with the api role)")
	fs.StringVar(&cfg.MQTTAddr, "mqtt-addr", defaultMQTTAddr, "MQTT listener of the embedded broker for outside tools; empty disables it (not with --broker)")
	fs.StringVar(&cfg.Broker.URL, "broker", "", "external MQTT v5 broker: mqtt://host:1883, mqtts://host:8883, ws(s)://host/path; credentials may be in the URL; empty runs the embedded broker")
	fs.StringVar(&cfg.Broker.Username, "broker-username", "", "user name for --broker (overrides one in the URL)")
	fs.StringVar(&cfg.Broker.Password, "broker-password", "", "password for --broker")
	fs.StringVar(&cfg.Broker.CAFile, "broker-ca", "", "PEM file of the CA certificates that sign the broker's certificate (mqtts/wss; default the system roots)")
	fs.StringVar(&cfg.Broker.CertFile, "broker-cert", "", "PEM client certificate for --broker (e.g. AWS IoT Core); with --broker-key")
	fs.StringVar(&cfg.Broker.KeyFile, "broker-key", "", "PEM private key of --broker-cert")
	fs.StringVar(&cfg.DB.URL, "db", "", "PostgreSQL store: postgres://user@host:5432/db?sslmode=verify-full; empty uses SQLite under --data-dir")
	fs.StringVar(&cfg.DB.Schema, "db-schema", "", "PostgreSQL schema holding ocppd's tables (created if missing); default the database's search_path")
	fs.StringVar(&cfg.DataDir, "data-dir", "./data", "directory of the SQLite database (without --db)")
	secondsVar(fs, &cfg.HeartbeatInterval, "heartbeat-interval", 300*time.Second, "heartbeat interval returned to accepted stations (seconds, or a duration like 5m)")
	secondsVar(fs, &cfg.PingInterval, "ping-interval", 30*time.Second, "WebSocket ping interval; a station silent for two intervals is dropped (0 disables)")
	fs.IntVar(&cfg.MaxFrameSize, "max-frame-size", 64<<10, "largest WebSocket frame accepted, in bytes; larger ones close the connection with 1009")
	secondsVar(fs, &cfg.CallTimeout, "call-timeout", 60*time.Second, "how long a CSMS→station call may wait for its answer")
	fs.BoolVar(&cfg.AllowUnknown, "allow-unknown", false, "admit unknown stations and register them as Pending (for labs)")
	fs.StringVar(&cfg.TopicPrefix, "topic-prefix", "", "prefix of every MQTT topic, e.g. fleet1/")
	fs.StringVar(&cfg.GatewayID, "gateway-id", "", "id of this process in the cluster: the gateway id in lifecycle events and the base of its MQTT client ids; keep it stable across restarts and unique (default hostname-pid)")
	secondsVar(fs, &cfg.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long a shutdown may take before it is forced")
	addAPIFlags(fs, &cfg.API)
	addSecurityFlags(fs, &cfg.Security)
	addFilesFlags(fs, &cfg.Files)
	logCfg := addLogFlags(fs)
	opts, err := loadFlags(fs, args, rulesSection)
	if err != nil {
		return err
	}
	if cfg.Rules, err = rulesFromConfig(opts); err != nil {
		return err
	}
	cfg.MQTTAddrExplicit = opts.explicit("mqtt-addr")
	if cfg.Broker.URL != "" && cfg.MQTTAddrExplicit && cfg.MQTTAddr != "" {
		return usageErrorf("--mqtt-addr is the listener of the embedded broker, which does not run with --broker %s; drop one of them (watch the traffic on the external broker instead)", redactURL(cfg.Broker.URL))
	}
	if _, err := parseRoles(cfg.Roles); err != nil {
		return err
	}
	if err := cfg.Security.validate(cfg.MQTTAddr, cfg.Broker.URL == ""); err != nil {
		return err
	}
	logger, err := logCfg.logger(stderr)
	if err != nil {
		return err
	}
	if cfg.Broker.URL != "" && !opts.explicit("gateway-id") {
		logger.Warn("--gateway-id is not set: this process's MQTT client ids change on every restart, so the broker cannot hand it its persistent session back; give each process a stable, unique --gateway-id")
	}
	srv := newServer(cfg, logger)
	if err := srv.Start(ctx); err != nil {
		_ = srv.Shutdown(context.Background())
		return err
	}
	<-ctx.Done()
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	return srv.Shutdown(sctx)
}

// server is the roles of one ocppd process wired together: the store, the
// bus (the embedded broker, or one client of an external broker per role),
// and for each role its component:
//
//	gateway  the OCPP WebSocket listener (gateway.Gateway)
//	csms     the business logic (csms.Service) and the gateway watcher
//	api      the operator API and portal, on the operator port
//
// The operator port (health, readiness, metrics) is open in every role.
type server struct {
	cfg   serveConfig
	roles roles
	log   *slog.Logger

	store  store.Store
	broker *embedded.Broker // the embedded broker; nil with --broker
	busMu  sync.Mutex
	buses  map[string]bus.Bus // per role; all the embedded broker without --broker
	topics bus.Topics
	// instance identifies this run in the gateway's statuses and will.
	instance string

	csms    *csms.Service
	gwWatch *csms.GatewayWatcher
	gw      *gateway.Gateway
	gwLive  atomic.Pointer[gateway.Gateway] // gw once started, for the bus's reconnect hook
	ocppSrv *http.Server
	httpSrv *http.Server
	ocppLn  net.Listener
	httpLn  net.Listener
	sr      shadowsRules // rules.go: device shadows and the rules engine
	files   filesRole    // files.go: firmware downloads and log uploads

	ocppTLS2 tlsListener // security.go: the optional second OCPP listener (--ocpp-tls-addr)

	api          apiRole     // api.go: operator API and metrics
	draining     atomic.Bool // shutdown started: /readyz answers 503
	shutdownOnce sync.Once
	shutdownErr  error
	serveWG      sync.WaitGroup
}

func newServer(cfg serveConfig, logger *slog.Logger) *server {
	if cfg.GatewayID == "" {
		host, _ := os.Hostname()
		cfg.GatewayID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if cfg.DB.DataDir == "" {
		cfg.DB.DataDir = cfg.DataDir
	}
	r, err := parseRoles(cfg.Roles)
	if err != nil {
		r = allRoles // serveCommand has refused it already
	}
	return &server{
		cfg:      cfg,
		roles:    r,
		log:      logger,
		buses:    map[string]bus.Bus{},
		topics:   bus.Topics{Prefix: cfg.TopicPrefix},
		instance: gateway.NewInstanceID(),
	}
}

// pingOption maps the CLI's "0 disables" onto the gateway's "negative
// disables".
func pingOption(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// Start opens the store, starts the bus and each role's component, and
// starts listening. On error the caller calls Shutdown.
func (s *server) Start(ctx context.Context) error {
	var err error
	if s.store, err = s.cfg.DB.openStore(ctx, s.log.With("component", "store")); err != nil {
		return err
	}
	s.store = s.instrumentStore(s.store) // api.go: store latency metrics
	if s.cfg.wrapStore != nil {
		s.store = s.cfg.wrapStore(s.store)
	}
	if s.cfg.Broker.URL == "" {
		if err := s.startBroker(); err != nil {
			return err
		}
	}
	if s.roles.csms {
		if err := s.startCSMS(ctx); err != nil {
			return err
		}
	}
	if s.roles.gateway {
		if err := s.startGateway(ctx); err != nil {
			return err
		}
	}
	// Features of the api role start here (they mount their handlers in
	// operatorHandler).
	if err := s.startFiles(); err != nil { // files.go
		return err
	}
	if err := s.startAPI(ctx); err != nil {
		return err
	}
	if s.roles.gateway {
		if s.ocppLn, err = s.listenOCPP(); err != nil { // TLS for profiles 2, 3 (security.go)
			return err
		}
	}
	if s.httpLn, err = net.Listen("tcp", s.cfg.HTTPAddr); err != nil {
		return fmt.Errorf("listen for operator HTTP (--http-addr %s): %w", s.cfg.HTTPAddr, err)
	}
	errLog := slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)
	s.httpSrv = &http.Server{Handler: s.operatorHandler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
	s.serve(s.httpSrv, s.httpLn)
	if s.roles.gateway {
		s.ocppSrv = &http.Server{Handler: s.ocppHandler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
		s.serve(s.ocppSrv, s.ocppLn)
		if err := s.startTLSListener(errLog); err != nil { // security.go
			return err
		}
	}
	attrs := []any{"roles", s.roles.String(), "http", s.httpLn.Addr().String(), "store", s.cfg.DB.where(), "gateway", s.cfg.GatewayID}
	if s.ocppLn != nil {
		attrs = append(attrs, "ocpp", s.ocppLn.Addr().String())
	}
	if s.broker != nil {
		if a := s.broker.Addr(); a != nil {
			attrs = append(attrs, "mqtt", a.String())
		}
	} else {
		attrs = append(attrs, "broker", redactURL(s.cfg.Broker.URL))
	}
	s.log.Info("ocppd is running", attrs...)
	return nil
}

// serve runs srv on ln until Shutdown.
func (s *server) serve(srv *http.Server, ln net.Listener) {
	s.serveWG.Add(1)
	go func() {
		defer s.serveWG.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("HTTP server failed", "addr", ln.Addr().String(), "err", err)
		}
	}()
}

// startCSMS starts the CSMS service and the gateway watcher.
func (s *server) startCSMS(ctx context.Context) error {
	b, err := s.bus(ctx, roleCSMS)
	if err != nil {
		return err
	}
	s.csms = csms.New(csms.Options{
		Bus: b, Topics: s.topics, Store: s.store,
		HeartbeatInterval: s.cfg.HeartbeatInterval,
		Logger:            s.log.With("component", "csms"),
	})
	if err := s.enableCSMSSecurity(s.csms); err != nil { // security.go
		return err
	}
	if err := s.startShadowsAndRules(ctx, b); err != nil { // rules.go
		return err
	}
	if err := s.csms.Start(ctx); err != nil {
		return err
	}
	s.gwWatch = csms.NewGatewayWatcher(csms.GatewayWatcherOptions{
		Bus: b, Topics: s.topics, Store: s.store,
		Logger: s.log.With("component", "csms"),
	})
	return s.gwWatch.Start(ctx)
}

// startGateway starts the gateway. The stations a previous run under the
// same --gateway-id left marked online are marked offline first: that run
// is gone, and nothing of this run is online yet.
func (s *server) startGateway(ctx context.Context) error {
	if ids, err := s.store.MarkGatewayOffline(ctx, s.cfg.GatewayID, time.Now().UTC()); err != nil {
		return fmt.Errorf("mark the stations of this gateway's previous run offline: %w", err)
	} else if len(ids) > 0 {
		s.log.Info("marked the stations of this gateway's previous run offline", "stations", len(ids))
	}
	b, err := s.bus(ctx, roleGateway)
	if err != nil {
		return err
	}
	reg, err := s.secureRegistry(&registry{store: s.store, allowUnknown: s.cfg.AllowUnknown, log: s.log}) // security.go
	if err != nil {
		return err
	}
	s.gw = gateway.New(gateway.Options{
		Bus: b, Topics: s.topics,
		Registry:     reg,
		Limits:       s.cfg.Security.gatewayLimits(),
		GatewayID:    s.cfg.GatewayID,
		Instance:     s.instance,
		PingInterval: pingOption(s.cfg.PingInterval),
		MaxFrameSize: s.cfg.MaxFrameSize,
		CallTimeout:  s.cfg.CallTimeout,
		Logger:       s.log.With("component", "gateway"),
	})
	if err := s.gw.Start(ctx); err != nil {
		return err
	}
	s.gwLive.Store(s.gw)
	return nil
}

// startBroker starts the embedded broker. When the DEFAULT MQTT address is
// taken (a local Mosquitto often holds :1883) it warns, naming the flag,
// and runs on without the listener; an address the user chose that is
// taken is an error.
func (s *server) startBroker() error {
	s.broker = embedded.New(embedded.Options{ListenAddr: s.cfg.MQTTAddr, ClientID: s.cfg.GatewayID, Logger: s.log.With("component", "broker"),
		Users: s.cfg.Security.mqttUsers()}) // security.go
	err := s.broker.Start()
	if err == nil {
		return nil
	}
	_ = s.broker.Close()
	if !errors.Is(err, syscall.EADDRINUSE) || s.cfg.MQTTAddrExplicit {
		return fmt.Errorf("start MQTT broker (--mqtt-addr %s): %w", s.cfg.MQTTAddr, err)
	}
	s.log.Warn("the default MQTT port is taken (often by a local Mosquitto): running WITHOUT the MQTT listener for outside tools; set --mqtt-addr to a free address such as :1884 to watch the traffic, or --mqtt-addr '' to disable the listener and this warning",
		"flag", "--mqtt-addr", "addr", s.cfg.MQTTAddr, "err", err)
	s.broker = embedded.New(embedded.Options{ClientID: s.cfg.GatewayID, Logger: s.log.With("component", "broker")})
	if err := s.broker.Start(); err != nil {
		return fmt.Errorf("start MQTT broker: %w", err)
	}
	return nil
}

// OCPPAddr returns the address the OCPP listener is bound to ("" without
// the gateway role).
func (s *server) OCPPAddr() string {
	if s.ocppLn == nil {
		return ""
	}
	return s.ocppLn.Addr().String()
}

// HTTPAddr returns the address the operator listener is bound to.
func (s *server) HTTPAddr() string { return s.httpLn.Addr().String() }

// Shutdown turns readiness off, stops accepting connections, closes every
// station session with 1001 (the gateway then publishes its "down"
// status), stops the CSMS after it has stored and answered what it holds,
// closes the bus and flushes the store. It is idempotent.
func (s *server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() {
		s.draining.Store(true)
		var errs []error
		errs = append(errs, s.closeAPI()) // ends event streams before the HTTP shutdown waits for them
		if s.ocppSrv != nil {
			// Stop accepting new upgrades; hijacked WebSockets are closed by
			// the gateway below.
			errs = append(errs, s.ocppSrv.Shutdown(ctx))
			errs = append(errs, s.closeTLSListener(ctx)) // security.go
		}
		if s.gw != nil {
			errs = append(errs, s.gw.Shutdown(ctx))
		}
		if s.httpSrv != nil {
			errs = append(errs, s.httpSrv.Shutdown(ctx))
		}
		s.serveWG.Wait()
		errs = append(errs, s.closeShadowsAndRules()) // rules.go
		if s.csms != nil {
			errs = append(errs, s.csms.Close())
		}
		if s.gwWatch != nil {
			errs = append(errs, s.gwWatch.Close())
		}
		errs = append(errs, s.closeBuses())
		if s.store != nil {
			errs = append(errs, s.store.Close())
		}
		s.shutdownErr = errors.Join(errs...)
	})
	return s.shutdownErr
}

// operatorHandler serves the operator port: health and readiness in every
// role; the api role's features mount their handlers here.
func (s *server) operatorHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"ok","version":%q,"roles":%q}`+"\n", version, s.roles.String())
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	s.mountAPI(mux)
	return mux
}

// readyz answers 200 when this process can do its roles' work: the store
// answers, the bus connections are up, and it is not shutting down (a
// load balancer then stops sending it new stations). 503 otherwise, with
// the reason.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	unavailable := func(reason string) {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, `{"status":"unavailable","reason":%q}`+"\n", reason)
	}
	if s.draining.Load() {
		unavailable("shutting down")
		return
	}
	if _, _, err := s.store.CountChargePoints(r.Context()); err != nil {
		unavailable("store: " + err.Error())
		return
	}
	if role, ok := s.busDown(); !ok {
		unavailable("not connected to the MQTT broker (" + role + ")")
		return
	}
	sessions := 0
	if s.gw != nil {
		sessions = s.gw.Sessions()
	}
	fmt.Fprintf(w, `{"status":"ready","roles":%q,"sessions":%d}`+"\n", s.roles.String(), sessions)
}

// secondsVar defines a duration flag that also accepts a plain number of
// seconds ("300" as well as "5m").
func secondsVar(fs *flag.FlagSet, p *time.Duration, name string, def time.Duration, usage string) {
	*p = def
	fs.Var((*secondsValue)(p), name, usage)
}

type secondsValue time.Duration

func (v *secondsValue) String() string { return time.Duration(*v).String() }

func (v *secondsValue) Set(s string) error {
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		if n < 0 {
			return fmt.Errorf("must not be negative")
		}
		*v = secondsValue(time.Duration(n * float64(time.Second)))
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("expected seconds or a duration like 30s or 5m")
	}
	if d < 0 {
		return fmt.Errorf("must not be negative")
	}
	*v = secondsValue(d)
	return nil
}
