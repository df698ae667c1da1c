package store

import (
	"context"
	"time"
)

// AuthCache is what the CSMS knows of a station's authorization cache
// (OCPP 1.6 §3.5.1, 2.0.1 C10–C12): the cache itself lives on the station,
// so ocppd keeps only what the station confirmed — the outcome of the
// last ClearCache and, where the station reported it, whether the cache
// is enabled.
type AuthCache struct {
	ChargePointID string `json:"chargePointId"`
	// LastClearStatus is the answer to the latest ClearCache (Accepted or
	// Rejected), "" if none was answered; LastClearAt is when the answer
	// was recorded.
	LastClearStatus string    `json:"lastClearStatus,omitempty"`
	LastClearAt     time.Time `json:"lastClearAt,omitzero"`
	// ClearedAt is when the station last accepted a ClearCache: its cache
	// was empty then.
	ClearedAt time.Time `json:"clearedAt,omitzero"`
	// Enabled is the station's AuthCacheCtrlr.Enabled (2.x) or
	// AuthorizationCacheEnabled (1.6) as last reported or accepted; nil
	// if never. EnabledAt is when that was recorded.
	Enabled   *bool     `json:"enabled,omitempty"`
	EnabledAt time.Time `json:"enabledAt,omitzero"`
}

// AuthCaches keeps per station what the CSMS knows of its authorization
// cache. Each record carries its time; a record older than the stored one
// of the same kind (clear, enabled) changes nothing, so late answers do
// not undo newer ones.
type AuthCaches interface {
	// RecordCacheClear records the answer to a ClearCache: status is
	// Accepted (the cache was emptied at at) or Rejected. ENOTFOUND for an
	// unknown station.
	RecordCacheClear(ctx context.Context, cpID, status string, at time.Time) error
	// RecordCacheEnabled records whether the station's cache is enabled.
	// ENOTFOUND for an unknown station.
	RecordCacheEnabled(ctx context.Context, cpID string, enabled bool, at time.Time) error
	// GetAuthCache returns what is known of the station's cache (only
	// ChargePointID set if nothing). ENOTFOUND for an unknown station.
	GetAuthCache(ctx context.Context, cpID string) (AuthCache, error)
}
