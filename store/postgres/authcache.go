package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ocppd/ocppd/store"
)

var _ store.AuthCaches = (*DB)(nil)

// RecordCacheClear records a ClearCache answer unless a newer one is
// stored; ENOTFOUND for an unknown station.
func (db *DB) RecordCacheClear(ctx context.Context, cpID, status string, at time.Time) error {
	at = db.orNow(at)
	var cleared *time.Time
	if status == "Accepted" {
		cleared = &at
	}
	return db.write(ctx, "record cache clear", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO auth_caches AS a (charge_point_id, last_clear_status, last_clear_at, cleared_at)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (charge_point_id) DO UPDATE SET
			  last_clear_status = CASE WHEN a.last_clear_at IS NULL OR excluded.last_clear_at >= a.last_clear_at
			                      THEN excluded.last_clear_status ELSE a.last_clear_status END,
			  last_clear_at = greatest(a.last_clear_at, excluded.last_clear_at),
			  cleared_at = greatest(a.cleared_at, excluded.cleared_at)`,
			cpID, status, at, cleared)
		if isCode(err, codeForeignKeyViolation) {
			return notFound(cpID)
		}
		return err
	})
}

// RecordCacheEnabled records whether the station's cache is enabled,
// unless a newer record is stored; ENOTFOUND for an unknown station.
func (db *DB) RecordCacheEnabled(ctx context.Context, cpID string, enabled bool, at time.Time) error {
	at = db.orNow(at)
	return db.write(ctx, "record cache enabled", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO auth_caches AS a (charge_point_id, enabled, enabled_at) VALUES ($1, $2, $3)
			ON CONFLICT (charge_point_id) DO UPDATE SET
			  enabled = CASE WHEN a.enabled_at IS NULL OR excluded.enabled_at >= a.enabled_at THEN excluded.enabled ELSE a.enabled END,
			  enabled_at = greatest(a.enabled_at, excluded.enabled_at)`,
			cpID, enabled, at)
		if isCode(err, codeForeignKeyViolation) {
			return notFound(cpID)
		}
		return err
	})
}

// GetAuthCache returns what is known of the station's cache; ENOTFOUND
// for an unknown station.
func (db *DB) GetAuthCache(ctx context.Context, cpID string) (store.AuthCache, error) {
	a := store.AuthCache{ChargePointID: cpID}
	if err := db.opened(); err != nil {
		return a, err
	}
	var (
		status                  *string
		lastAt, clearedAt, enAt *time.Time
	)
	err := db.pool.QueryRow(ctx, `SELECT a.last_clear_status, a.last_clear_at, a.cleared_at, a.enabled, a.enabled_at
		FROM charge_points cp LEFT JOIN auth_caches a ON a.charge_point_id = cp.id WHERE cp.id = $1`, cpID).
		Scan(&status, &lastAt, &clearedAt, &a.Enabled, &enAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, notFound(cpID)
	}
	if err != nil {
		return a, translate("get auth cache", err)
	}
	if status != nil {
		a.LastClearStatus = *status
	}
	a.LastClearAt, a.ClearedAt, a.EnabledAt = fromNull(lastAt), fromNull(clearedAt), fromNull(enAt)
	return a, nil
}
