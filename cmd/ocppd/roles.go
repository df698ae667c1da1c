package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ocppd/ocppd/bus/mqtt"
	"github.com/ocppd/ocppd/store"
	"github.com/ocppd/ocppd/store/postgres"
	"github.com/ocppd/ocppd/store/sqlite"
)

// The roles a serve process can take (--roles).
const (
	roleGateway = "gateway" // OCPP WebSocket listener, bridged onto the bus
	roleCSMS    = "csms"    // consumes {cp}/in, stores, answers on {cp}/out
	roleAPI     = "api"     // operator API and portal
)

// roles is the set of roles of one serve process. The zero value means
// every role (what `ocppd serve` runs by default).
type roles struct {
	gateway, csms, api bool
}

// allRoles is every role in one process.
var allRoles = roles{gateway: true, csms: true, api: true}

// parseRoles parses --roles: "all" or a comma-separated list of gateway,
// csms and api.
func parseRoles(s string) (roles, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "all" {
		return allRoles, nil
	}
	var r roles
	for _, name := range strings.Split(s, ",") {
		switch strings.TrimSpace(name) {
		case roleGateway:
			r.gateway = true
		case roleCSMS:
			r.csms = true
		case roleAPI:
			r.api = true
		case "all":
			r = allRoles
		default:
			return roles{}, usageErrorf("--roles %q: unknown role %q; expected all or a comma-separated list of gateway, csms, api", s, name)
		}
	}
	return r, nil
}

// String returns the roles as --roles would take them.
func (r roles) String() string {
	var names []string
	if r.gateway {
		names = append(names, roleGateway)
	}
	if r.csms {
		names = append(names, roleCSMS)
	}
	if r.api {
		names = append(names, roleAPI)
	}
	return strings.Join(names, ",")
}

// brokerConfig is how a process reaches an external MQTT broker (--broker
// and friends).
type brokerConfig struct {
	URL      string // mqtt://, mqtts://, ws://, wss://; empty: the embedded broker
	Username string
	Password string
	CAFile   string // PEM bundle trusted for mqtts/wss instead of the system roots
	CertFile string // client certificate (PEM), e.g. for AWS IoT Core
	KeyFile  string // its private key (PEM)
}

// tlsConfig returns the TLS configuration of the broker connection, or nil
// for the defaults (system roots, no client certificate).
func (c brokerConfig) tlsConfig() (*tls.Config, error) {
	if c.CAFile == "" && c.CertFile == "" && c.KeyFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("--broker-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--broker-ca %s: no PEM certificate found", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, usageErrorf("--broker-cert and --broker-key go together")
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("--broker-cert/--broker-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// mqttOptions returns the options of this process's MQTT client for role.
// The client id is "{gatewayID}-{role}": stable across restarts when
// --gateway-id is, so that the broker finds the persistent session again,
// and distinct per role, so that a process running several roles holds one
// connection per role without the broker taking one over for the other.
func (c brokerConfig) mqttOptions(gatewayID, role string, logger *slog.Logger) (mqtt.Options, error) {
	tlsCfg, err := c.tlsConfig()
	if err != nil {
		return mqtt.Options{}, err
	}
	o := mqtt.Options{
		URL:      c.URL,
		ClientID: gatewayID + "-" + role,
		Username: c.Username,
		Password: c.Password,
		TLS:      tlsCfg,
		Logger:   logger.With("role", role),
	}
	switch role {
	case roleGateway:
		// A restarted gateway holds no station yet: the subscriptions of
		// its previous life are stale. Reconnections keep the session.
		o.CleanStart = true
	case roleCSMS:
		// The broker queues a share of $share/csms/+/in for a worker
		// whose connection is down (Mosquitto does): kept long enough for
		// a restart to collect it, short enough that a worker that never
		// returns does not hoard its share for long.
		o.SessionExpiry = 60 * time.Second
		// What the broker queued or had in flight for this worker's
		// previous run arrives right after the connection, before the
		// CSMS has subscribed: it waits for the handlers instead of being
		// dropped. The CSMS acknowledges a message only once it has
		// stored and answered it (bus.Message.Hold), so messages a killed
		// worker held come back here.
		o.StartupGrace = 30 * time.Second
	}
	return o, nil
}

// dbConfig selects the store (--db, --db-schema, --data-dir).
type dbConfig struct {
	URL     string // postgres://…; empty: SQLite under DataDir
	Schema  string // PostgreSQL schema; empty: the database's search_path
	DataDir string
}

// isPostgres reports whether the store is PostgreSQL.
func (c dbConfig) isPostgres() bool { return c.URL != "" }

// newStore returns the store the configuration selects, not yet open.
func (c dbConfig) newStore(logger *slog.Logger) (storeCloser, error) {
	if c.URL == "" {
		return sqlite.New(sqlite.Options{Path: filepath.Join(c.DataDir, "ocppd.db"), Logger: logger}), nil
	}
	if !strings.HasPrefix(c.URL, "postgres://") && !strings.HasPrefix(c.URL, "postgresql://") {
		return nil, usageErrorf("--db: expected a postgres://… URL (empty for SQLite under --data-dir)")
	}
	return postgres.New(postgres.Options{URL: c.URL, Schema: c.Schema, Logger: logger}), nil
}

// where names the store for messages, without credentials.
func (c dbConfig) where() string {
	if c.URL == "" {
		return "SQLite in " + c.DataDir
	}
	return "PostgreSQL " + redactURL(c.URL)
}

// storeCloser is a store that must be opened first.
type storeCloser interface {
	store.Store
	Open(ctx context.Context) error
}

var (
	_ storeCloser = (*sqlite.DB)(nil)
	_ storeCloser = (*postgres.DB)(nil)
)

// openStore opens the store the configuration selects.
func (c dbConfig) openStore(ctx context.Context, logger *slog.Logger) (store.Store, error) {
	st, err := c.newStore(logger)
	if err != nil {
		return nil, err
	}
	if err := st.Open(ctx); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("open store (%s): %w", c.where(), err)
	}
	return st, nil
}

// redactURL hides the password of a URL ("postgres://u:xxxxx@h/db").
func redactURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	at := strings.LastIndexByte(strings.SplitN(rest, "/", 2)[0], '@')
	if at < 0 {
		return raw
	}
	user := rest[:at]
	if name, _, hasPass := strings.Cut(user, ":"); hasPass {
		user = name + ":xxxxx"
	}
	return scheme + "://" + user + rest[at:]
}
