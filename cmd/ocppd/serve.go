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
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/bus/embedded"
	"github.com/ocppd/ocppd/csms"
	"github.com/ocppd/ocppd/gateway"
	"github.com/ocppd/ocppd/store/sqlite"
)

// defaultMQTTAddr is the default MQTT listener for outside tools.
const defaultMQTTAddr = ":1883"

// serveConfig is the configuration of `ocppd serve`.
type serveConfig struct {
	OCPPAddr          string
	HTTPAddr          string
	MQTTAddr          string
	MQTTAddrExplicit  bool // set by the user, so a taken port is an error
	DataDir           string
	HeartbeatInterval time.Duration
	PingInterval      time.Duration
	MaxFrameSize      int
	CallTimeout       time.Duration
	AllowUnknown      bool
	TopicPrefix       string
	GatewayID         string
	ShutdownTimeout   time.Duration
}

func serveCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "Runs every role of ocppd in one process: the OCPP gateway, the embedded MQTT broker, the CSMS and the operator HTTP server.", stderr)
	var cfg serveConfig
	fs.StringVar(&cfg.OCPPAddr, "ocpp-addr", ":8080", "OCPP-J WebSocket listen address; stations connect to ws://HOST:PORT/[prefix/]{cpId}")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", ":8081", "operator HTTP listen address (health, API, portal, metrics)")
	fs.StringVar(&cfg.MQTTAddr, "mqtt-addr", defaultMQTTAddr, "MQTT listener of the embedded broker for outside tools; empty disables it")
	fs.StringVar(&cfg.DataDir, "data-dir", "./data", "directory of the SQLite database")
	secondsVar(fs, &cfg.HeartbeatInterval, "heartbeat-interval", 300*time.Second, "heartbeat interval returned to accepted stations (seconds, or a duration like 5m)")
	secondsVar(fs, &cfg.PingInterval, "ping-interval", 30*time.Second, "WebSocket ping interval; a station silent for two intervals is dropped (0 disables)")
	fs.IntVar(&cfg.MaxFrameSize, "max-frame-size", 64<<10, "largest WebSocket frame accepted, in bytes; larger ones close the connection with 1009")
	secondsVar(fs, &cfg.CallTimeout, "call-timeout", 60*time.Second, "how long a CSMS→station call may wait for its answer")
	fs.BoolVar(&cfg.AllowUnknown, "allow-unknown", false, "admit unknown stations and register them as Pending (for labs)")
	fs.StringVar(&cfg.TopicPrefix, "topic-prefix", "", "prefix of every MQTT topic, e.g. fleet1/")
	fs.StringVar(&cfg.GatewayID, "gateway-id", "", "id of this gateway in lifecycle events (default hostname-pid)")
	secondsVar(fs, &cfg.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long a shutdown may take before it is forced")
	logCfg := addLogFlags(fs)
	opts, err := loadFlags(fs, args)
	if err != nil {
		return err
	}
	cfg.MQTTAddrExplicit = opts.explicit("mqtt-addr")
	logger, err := logCfg.logger(stderr)
	if err != nil {
		return err
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

// server is every role of ocppd wired together in one process.
type server struct {
	cfg serveConfig
	log *slog.Logger

	store   *sqlite.DB
	broker  *embedded.Broker
	csms    *csms.Service
	gw      *gateway.Gateway
	ocppSrv *http.Server
	httpSrv *http.Server
	ocppLn  net.Listener
	httpLn  net.Listener

	shutdownOnce sync.Once
	shutdownErr  error
	serveWG      sync.WaitGroup
}

func newServer(cfg serveConfig, logger *slog.Logger) *server {
	if cfg.GatewayID == "" {
		host, _ := os.Hostname()
		cfg.GatewayID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	return &server{
		cfg:   cfg,
		log:   logger,
		store: sqlite.New(sqlite.Options{Path: filepath.Join(cfg.DataDir, "ocppd.db"), Logger: logger.With("component", "store")}),
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

// Start opens the store, starts the broker, the CSMS and the gateway, and
// starts listening. On error the caller calls Shutdown.
func (s *server) Start(ctx context.Context) error {
	if err := s.store.Open(ctx); err != nil {
		return fmt.Errorf("open store in %s: %w", s.cfg.DataDir, err)
	}
	if err := s.startBroker(); err != nil {
		return err
	}
	topics := bus.Topics{Prefix: s.cfg.TopicPrefix}
	s.csms = csms.New(csms.Options{
		Bus: s.broker, Topics: topics, Store: s.store,
		HeartbeatInterval: s.cfg.HeartbeatInterval,
		Logger:            s.log.With("component", "csms"),
	})
	if err := s.csms.Start(ctx); err != nil {
		return err
	}
	s.gw = gateway.New(gateway.Options{
		Bus: s.broker, Topics: topics,
		Registry:     &registry{store: s.store, allowUnknown: s.cfg.AllowUnknown, log: s.log},
		GatewayID:    s.cfg.GatewayID,
		PingInterval: pingOption(s.cfg.PingInterval),
		MaxFrameSize: s.cfg.MaxFrameSize,
		CallTimeout:  s.cfg.CallTimeout,
		Logger:       s.log.With("component", "gateway"),
	})
	if err := s.gw.Start(ctx); err != nil {
		return err
	}
	var err error
	if s.ocppLn, err = net.Listen("tcp", s.cfg.OCPPAddr); err != nil {
		return fmt.Errorf("listen for OCPP (--ocpp-addr %s): %w", s.cfg.OCPPAddr, err)
	}
	if s.httpLn, err = net.Listen("tcp", s.cfg.HTTPAddr); err != nil {
		return fmt.Errorf("listen for operator HTTP (--http-addr %s): %w", s.cfg.HTTPAddr, err)
	}
	errLog := slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)
	s.ocppSrv = &http.Server{Handler: s.gw, ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
	s.httpSrv = &http.Server{Handler: s.operatorHandler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
	for _, p := range []struct {
		srv *http.Server
		ln  net.Listener
	}{{s.ocppSrv, s.ocppLn}, {s.httpSrv, s.httpLn}} {
		s.serveWG.Add(1)
		go func() {
			defer s.serveWG.Done()
			if err := p.srv.Serve(p.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("HTTP server failed", "addr", p.ln.Addr().String(), "err", err)
			}
		}()
	}
	attrs := []any{"ocpp", s.ocppLn.Addr().String(), "http", s.httpLn.Addr().String(), "data", s.cfg.DataDir, "gateway", s.cfg.GatewayID}
	if a := s.broker.Addr(); a != nil {
		attrs = append(attrs, "mqtt", a.String())
	}
	s.log.Info("ocppd is running", attrs...)
	return nil
}

// startBroker starts the embedded broker. When the DEFAULT MQTT address is
// taken (a local Mosquitto often holds :1883) it warns, naming the flag,
// and runs on without the listener; an address the user chose that is
// taken is an error.
func (s *server) startBroker() error {
	s.broker = embedded.New(embedded.Options{ListenAddr: s.cfg.MQTTAddr, ClientID: s.cfg.GatewayID, Logger: s.log.With("component", "broker")})
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

// OCPPAddr returns the address the OCPP listener is bound to.
func (s *server) OCPPAddr() string { return s.ocppLn.Addr().String() }

// HTTPAddr returns the address the operator listener is bound to.
func (s *server) HTTPAddr() string { return s.httpLn.Addr().String() }

// Shutdown stops accepting connections, closes every station session with
// 1001, stops the CSMS after it has stored and answered what it holds,
// closes the broker and flushes the store. It is idempotent.
func (s *server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() {
		var errs []error
		if s.ocppSrv != nil {
			// Stop accepting new upgrades; hijacked WebSockets are closed by
			// the gateway below.
			errs = append(errs, s.ocppSrv.Shutdown(ctx))
		}
		if s.gw != nil {
			errs = append(errs, s.gw.Shutdown(ctx))
		}
		if s.httpSrv != nil {
			errs = append(errs, s.httpSrv.Shutdown(ctx))
		}
		s.serveWG.Wait()
		if s.csms != nil {
			errs = append(errs, s.csms.Close())
		}
		if s.broker != nil {
			errs = append(errs, s.broker.Close())
		}
		errs = append(errs, s.store.Close())
		s.shutdownErr = errors.Join(errs...)
	})
	return s.shutdownErr
}

// operatorHandler serves the operator port: health now; API, portal and
// metrics later.
func (s *server) operatorHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"ok","version":%q}`+"\n", version)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if _, _, err := s.store.CountChargePoints(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, `{"status":"unavailable","reason":"store: %s"}`+"\n", strings.ReplaceAll(err.Error(), `"`, `'`))
			return
		}
		fmt.Fprintf(w, `{"status":"ready","sessions":%d}`+"\n", s.gw.Sessions())
	})
	return mux
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
