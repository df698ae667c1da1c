package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"sync"

	"github.com/ocppd/ocppd/api"
	"github.com/ocppd/ocppd/csms"
	"github.com/ocppd/ocppd/metrics"
	"github.com/ocppd/ocppd/portal"
	"github.com/ocppd/ocppd/store"
)

// apiConfig is the configuration of the operator API and /metrics.
type apiConfig struct {
	MetricsPublic bool
	MessageLog    int
}

// addAPIFlags defines the API's flags of `ocppd serve`.
func addAPIFlags(fs *flag.FlagSet, c *apiConfig) {
	fs.BoolVar(&c.MetricsPublic, "metrics-public", false, "serve /metrics without a bearer token (for a scraper on a trusted network); by default it needs one like the API")
	fs.IntVar(&c.MessageLog, "api-message-log", 50, "recent OCPP frames kept in memory per station for the API's message log (0 disables)")
}

// apiRole is the operator API (api role) and the metrics (every role) of
// a serve process.
type apiRole struct {
	reg      *metrics.Registry
	observer *metrics.Observer
	srv      *api.Server

	closeOnce sync.Once
}

// startAPI builds the metrics registry with the collectors of the
// components this process runs and, in the api role, starts the bus
// observer and the API. Call it after the other roles have started.
func (s *server) startAPI(ctx context.Context) error {
	a := &s.api
	if a.reg == nil { // instrumentStore may have made it
		a.reg = metrics.NewRegistry()
	}
	reg := a.reg.Registerer()
	if s.gw != nil {
		reg.MustRegister(metrics.NewGatewayCollector(s.gw))
	}
	if s.csms != nil {
		reg.MustRegister(metrics.NewCSMSCollector(s.csms))
	}
	opts := api.Options{
		Store:         s.store,
		Topics:        s.topics,
		Logger:        s.log.With("component", "api"),
		Version:       version,
		Metrics:       a.reg.Handler(),
		MetricsPublic: s.cfg.API.MetricsPublic,
		Registerer:    reg,
		MessageLog:    s.cfg.API.MessageLog,
	}
	s.wireShadowsRules(&opts, reg) // rules.go
	s.wireFiles(&opts)             // files.go
	if opts.MessageLog == 0 {
		opts.MessageLog = -1 // the flag's 0 disables; the API's 0 is its default
	}
	if s.gw != nil {
		opts.Sessions = s.gw.Sessions
	}
	if s.roles.api {
		b, err := s.bus(ctx, roleAPI)
		if err != nil {
			return err
		}
		opts.Bus = b
		a.observer, err = metrics.NewObserver(metrics.ObserverOptions{
			Bus: b, Topics: s.topics, Registerer: reg, Online: s.store,
			Logger: s.log.With("component", "metrics"),
		})
		if err != nil {
			return err
		}
		if err := a.observer.Start(ctx); err != nil {
			return err
		}
		opts.Observer = a.observer
		// Commands: this process's CSMS, or in an api-only process one
		// that only sends (it is not started: the CSMS processes match
		// the answers, and Wait reads them from the store).
		if s.csms != nil {
			opts.Commands = s.csms
		} else {
			opts.Commands = csms.New(csms.Options{Bus: b, Topics: s.topics, Store: s.store, Logger: s.log.With("component", "csms")})
		}
		opts.Portal = portal.New(portal.Options{})
	}
	a.srv = api.New(opts)
	if !s.roles.api {
		return nil
	}
	if err := a.srv.Start(ctx); err != nil {
		return err
	}
	s.warnWithoutTokens(ctx)
	return nil
}

// instrumentStore times the store's calls (ocppd_store_seconds{op},
// ocppd_store_errors_total{op,code}) in the metrics registry, which it
// creates: the store opens before the other components.
func (s *server) instrumentStore(st store.Store) store.Store {
	a := &s.api
	if a.reg == nil {
		a.reg = metrics.NewRegistry()
	}
	m, err := metrics.NewStoreMetrics(a.reg.Registerer())
	if err != nil {
		s.log.Warn("store metrics not registered", "err", err)
		return st
	}
	return m.Instrument(st)
}

// warnWithoutTokens says in the log how to create a token when none is
// active: nothing but /healthz and /readyz answers without one.
func (s *server) warnWithoutTokens(ctx context.Context) {
	toks, err := s.store.ListTokens(ctx)
	if err != nil {
		s.log.Warn("cannot list API tokens", "err", err)
		return
	}
	for _, t := range toks {
		if t.Active() {
			return
		}
	}
	where := "--data-dir " + s.cfg.DataDir
	if s.cfg.DB.isPostgres() {
		where = "--db URL"
	}
	s.log.Warn(fmt.Sprintf("no API token exists yet, so the operator API and portal refuse every request; create one with: ocppd token create --name NAME %s", where),
		"http", s.cfg.HTTPAddr)
}

// mountAPI mounts the API, the portal and /metrics on the operator mux
// beside /healthz and /readyz. Without the api role only /metrics is
// served (with the same token check).
func (s *server) mountAPI(mux *http.ServeMux) {
	a := &s.api
	if a.srv == nil {
		return
	}
	if s.roles.api {
		mux.Handle("/", a.srv.Handler())
		return
	}
	h := a.reg.Handler()
	if !s.cfg.API.MetricsPublic {
		h = a.srv.Protect(h)
	}
	mux.Handle("GET /metrics", h)
}

// closeAPI ends the event streams (so that the HTTP server's shutdown does
// not wait for them), unsubscribes and stops the observer. It is
// idempotent.
func (s *server) closeAPI() error {
	a := &s.api
	var err error
	a.closeOnce.Do(func() {
		var errs []error
		if a.srv != nil {
			errs = append(errs, a.srv.Close())
		}
		if a.observer != nil {
			errs = append(errs, a.observer.Close())
		}
		err = errors.Join(errs...)
	})
	return err
}
