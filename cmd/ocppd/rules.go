package main

// Wiring of the device shadows and the rules engine (docs/shadows-and-rules.md):
// a process with the csms role runs the shadow runtime (csms.Shadows: the
// $shadow MQTT topics and the desired-state reconciler) and the rules
// engine on its bus; the rules come from the config file's `rules:`
// section and from the store (the REST API), shared by every process.

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ocppd/ocppd/api"
	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/csms"
	"github.com/ocppd/ocppd/metrics"
	"github.com/ocppd/ocppd/rules"
)

// rulesSection is the config file's section holding rules.
const rulesSection = "rules"

// rulesConfig is the rules of the config file.
type rulesConfig = []rules.Rule

// rulesFromConfig decodes the config file's `rules:` section, a list of
// rules in the JSON form of rules.Rule written as YAML:
//
//	rules:
//	  - name: heartbeats
//	    sql: SELECT topic(1) AS chargePointId, timestamp() AS lastTimestamp FROM '+/in' WHERE get(*, 2) = 'Heartbeat'
//	    actions:
//	      - table: {name: chargePointHeartbeat, key: chargePointId}
func rulesFromConfig(o options) (rulesConfig, error) {
	node, ok := o.sections[rulesSection]
	if !ok {
		return nil, nil
	}
	var v any
	if err := node.Decode(&v); err != nil {
		return nil, fmt.Errorf("config file: rules (line %d): %w", node.Line, err)
	}
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("config file: rules (line %d): %w", node.Line, err)
	}
	rs, err := rules.ParseRules(b)
	if err != nil {
		return nil, fmt.Errorf("config file: rules (line %d): %w", node.Line, err)
	}
	return rs, nil
}

// shadowsRules is the server's shadow runtime and rules engine.
type shadowsRules struct {
	mu      sync.Mutex
	shadows *csms.Shadows // csms role only
	engine  *rules.Engine // running with the csms role; definitions only otherwise
}

// startShadowsAndRules starts the shadow runtime on s.csms (before the
// CSMS starts, so that its observers see the first messages) and the rules
// engine on b.
func (s *server) startShadowsAndRules(ctx context.Context, b bus.Bus) error {
	s.sr.mu.Lock()
	defer s.sr.mu.Unlock()
	s.sr.shadows = csms.NewShadows(s.csms, csms.ShadowOptions{Logger: s.log.With("component", "shadows")})
	if err := s.sr.shadows.Start(ctx); err != nil {
		return err
	}
	s.sr.engine = rules.New(rules.Options{
		Bus: b, Topics: s.topics, Store: s.store, Static: s.cfg.Rules,
		Logger: s.log.With("component", "rules"),
	})
	if err := s.sr.engine.Start(ctx); err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	return nil
}

// shadowsAPI returns the shadow runtime for the operator API (its
// UpdateShadow pushes desired changes to the station), or nil in a process
// without the csms role.
func (s *server) shadowsAPI() *csms.Shadows {
	s.sr.mu.Lock()
	defer s.sr.mu.Unlock()
	return s.sr.shadows
}

// rulesAPI returns the rules engine for the operator API: the running one
// with the csms role, otherwise one that only manages the definitions in
// the store (the csms processes pick changes up within their poll
// interval).
func (s *server) rulesAPI() *rules.Engine {
	s.sr.mu.Lock()
	defer s.sr.mu.Unlock()
	if s.sr.engine == nil {
		s.sr.engine = rules.New(rules.Options{Store: s.store, Static: s.cfg.Rules, Logger: s.log.With("component", "rules")})
		// Without a bus Start only validates the config file's rules,
		// which serveCommand did already.
		_ = s.sr.engine.Start(context.Background())
	}
	return s.sr.engine
}

// closeShadowsAndRules stops the rules engine (its actions drain their
// queues) and the shadow runtime; the CSMS and the bus close after.
func (s *server) closeShadowsAndRules() error {
	s.sr.mu.Lock()
	defer s.sr.mu.Unlock()
	var err error
	if s.sr.engine != nil {
		err = s.sr.engine.Close()
	}
	if s.sr.shadows != nil {
		if cerr := s.sr.shadows.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// wireShadowsRules gives the operator API the shadow runtime (so that a
// desired change through REST reaches the station at once) and the rules
// engine, and registers the engine's counters when it runs here.
func (s *server) wireShadowsRules(opts *api.Options, reg prometheus.Registerer) {
	if sh := s.shadowsAPI(); sh != nil {
		opts.Shadows = sh
	}
	s.sr.mu.Lock()
	running := s.sr.engine != nil
	s.sr.mu.Unlock()
	opts.Rules = s.rulesAPI()
	if running {
		reg.MustRegister(metrics.NewRulesCollector(opts.Rules))
	}
}
