package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/bus/mqtt"
	"github.com/ocppd/ocppd/csms"
	"github.com/ocppd/ocppd/gateway"
)

// bus returns the bus of role, connecting on first use. Without --broker
// every role shares the embedded broker. With --broker each role has its
// own client of the external broker, with the client id
// "{gateway-id}-{role}" and the session settings of that role (see
// brokerConfig.mqttOptions); the gateway's client carries the gateway's
// will (its "down" status) and re-announces the gateway's sessions after
// a reconnection.
func (s *server) bus(ctx context.Context, role string) (bus.Bus, error) {
	s.busMu.Lock()
	defer s.busMu.Unlock()
	if b, ok := s.buses[role]; ok {
		return b, nil
	}
	if s.broker != nil {
		s.buses[role] = s.broker
		return s.broker, nil
	}
	opts, err := s.cfg.Broker.mqttOptions(s.cfg.GatewayID, role, s.log)
	if err != nil {
		return nil, err
	}
	if role == roleGateway {
		will := gateway.Will(s.topics, s.cfg.GatewayID, s.instance)
		opts.Will = &will
		opts.OnReconnect = func(ctx context.Context) {
			gw := s.gwLive.Load()
			if gw == nil {
				return
			}
			if err := gw.Reannounce(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("re-announcing the gateway after a broker reconnection failed", "err", err)
			}
		}
	}
	var c *mqtt.Client
	if role == roleCSMS {
		// Back without its session, the CSMS may have missed lifecycle
		// events: the gateways publish their sessions again on request.
		opts.OnReconnect = func(ctx context.Context) {
			if err := csms.RequestResync(ctx, c, s.topics, opts.ClientID); err != nil && ctx.Err() == nil {
				s.log.Warn("asking the gateways to re-announce their sessions failed", "err", err)
			}
		}
	}
	c = mqtt.New(opts)
	if err := c.Start(ctx); err != nil {
		return nil, fmt.Errorf("connect to the MQTT broker (--broker, %s role): %w", role, err)
	}
	s.buses[role] = c
	return c, nil
}

// busDown returns a role whose broker connection is down, and ok=false;
// ok=true when every connection is up (always with the embedded broker).
func (s *server) busDown() (role string, ok bool) {
	s.busMu.Lock()
	defer s.busMu.Unlock()
	for role, b := range s.buses {
		if c, isClient := b.(*mqtt.Client); isClient && !c.Connected() {
			return role, false
		}
	}
	return "", true
}

// closeBuses closes every role's bus client, then the embedded broker.
func (s *server) closeBuses() error {
	s.busMu.Lock()
	defer s.busMu.Unlock()
	var errs []error
	for role, b := range s.buses {
		if b == bus.Bus(s.broker) {
			continue
		}
		if err := b.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s bus: %w", role, err))
		}
	}
	clear(s.buses)
	if s.broker != nil {
		errs = append(errs, s.broker.Close())
	}
	return errors.Join(errs...)
}
