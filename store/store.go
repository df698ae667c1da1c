// Package store defines the persistence interface of ocppd. Two adapters
// implement it — store/sqlite (the default, under --data-dir) and
// store/postgres (for scale-out) — and both are held to the one
// conformance suite in store/storetest.
//
// Errors are *ocppd.Error with code ENOTFOUND or ECONFLICT where the doc
// comment says so; driver errors are wrapped with context and surface as
// EINTERNAL (or EUNAVAILABLE when the database cannot be reached).
package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/ocppd/ocppd"
)

// Store is everything the CSMS, the gateway's registry look-ups, the API
// and the CLI persist.
type Store interface {
	ChargePoints
	Shadows
	Statuses
	Commands         // CSMS→station commands (store/commands.go)
	Transactions     // charging sessions and meter values (store/transactions.go)
	IDTokens         // authorization list, local list versions (store/authorization.go)
	AuthCaches       // what is known of each station's authorization cache (store/authcache.go)
	Reservations     // reservations made with ReserveNow and what became of them (store/reservations.go)
	ChargingProfiles // charging profiles installed on stations (store/chargingprofiles.go)
	StationData      // lenient flag, notification log, device model (store/stationdata.go)
	Tokens
	Rules    // rules engine definitions and tables (store/rules.go)
	Security // station credentials, issued certificates, security events (store/credentials.go)
	Firmware // firmware images and rollouts (store/firmware.go)
	// Close flushes pending batched writes and releases the database.
	// It is idempotent.
	Close() error
}

// ListOptions filters and pages ListChargePoints. Zero values mean no
// filter; results are ordered by id and start after After.
type ListOptions struct {
	Online *bool  // only online (true) or offline (false) stations
	Prefix string // id prefix
	After  string // keyset paging: ids greater than this
	Limit  int    // at most this many; 0 means no limit
}

// Connection describes a station session that a gateway reported as
// started.
type Connection struct {
	ChargePointID string
	SessionID     string
	GatewayID     string
	Protocol      string
	RemoteAddr    string
	At            time.Time
}

// ChargePoints is the station registry and its connection state.
type ChargePoints interface {
	// AddChargePoints registers cps in one transaction. RegisteredAt is
	// set by the caller. If any id exists already, nothing is written and
	// the error is ECONFLICT naming that id.
	AddChargePoints(ctx context.Context, cps []ocppd.ChargePoint) error
	// GetChargePoint returns ENOTFOUND for an unknown id.
	GetChargePoint(ctx context.Context, id string) (ocppd.ChargePoint, error)
	// ListChargePoints returns the stations matching opts, ordered by id.
	ListChargePoints(ctx context.Context, opts ListOptions) ([]ocppd.ChargePoint, error)
	// CountChargePoints returns how many stations exist and how many of
	// them are online.
	CountChargePoints(ctx context.Context) (total, online int, err error)
	// DeleteChargePoint removes a station and everything stored about it;
	// ENOTFOUND for an unknown id.
	DeleteChargePoint(ctx context.Context, id string) error
	// SetRegistration sets the status answered to BootNotification;
	// ENOTFOUND for an unknown id.
	SetRegistration(ctx context.Context, id string, status ocppd.RegistrationStatus) error
	// RecordConnected marks the station online in session c.SessionID.
	// ENOTFOUND for an unknown id.
	RecordConnected(ctx context.Context, c Connection) error
	// RecordDisconnected marks the station offline if sessionID is still
	// its current session; otherwise (it reconnected since) it does
	// nothing. Unknown ids are not an error.
	RecordDisconnected(ctx context.Context, id, sessionID string, at time.Time) error
	// MarkGatewayOffline marks offline every station whose current session
	// is held by gatewayID, and returns their ids.
	MarkGatewayOffline(ctx context.Context, gatewayID string, at time.Time) ([]string, error)
	// MarkSeen records that the station was heard from at t (never moving
	// LastSeen backwards). Implementations may coalesce concurrent calls
	// into one transaction, but return only once the write is durable.
	// Unknown ids are not an error.
	MarkSeen(ctx context.Context, id string, t time.Time) error
}

// ShadowRecord is a stored shadow document with its version.
type ShadowRecord struct {
	ChargePointID string
	Document      json.RawMessage // the shadow document, see package shadow
	Version       int64           // 0 when no document was stored yet
	UpdatedAt     time.Time
}

// Shadows stores one shadow document per station, with optimistic
// concurrency on Version.
type Shadows interface {
	// GetShadow returns the station's shadow; a station without one yet
	// gives a record with Version 0 and a nil Document. ENOTFOUND for an
	// unknown station.
	GetShadow(ctx context.Context, id string) (ShadowRecord, error)
	// PutShadow stores doc as version expect+1 if the stored version is
	// expect (0: none stored yet); otherwise ECONFLICT and nothing is
	// written. ENOTFOUND for an unknown station.
	PutShadow(ctx context.Context, id string, doc json.RawMessage, expect int64, at time.Time) error
}

// Statuses keeps the StatusNotification history and the latest status of
// each connector.
type Statuses interface {
	// AddStatus appends ev to the history and updates the connector's
	// current status (unless ev is older than the one stored). An event
	// stored before — same station, EVSE, connector, Timestamp, status
	// and error code: a redelivery — changes nothing.
	AddStatus(ctx context.Context, ev ocppd.StatusEvent) error
	// CurrentStatus returns the latest status of every connector of the
	// station, ordered by EVSE and connector.
	CurrentStatus(ctx context.Context, id string) ([]ocppd.StatusEvent, error)
	// StatusHistory returns up to limit events of the station, newest
	// first.
	StatusHistory(ctx context.Context, id string, limit int) ([]ocppd.StatusEvent, error)
}
