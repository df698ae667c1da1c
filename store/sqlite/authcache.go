package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ocppd/ocppd/store"
)

var _ store.AuthCaches = (*DB)(nil)

// RecordCacheClear records a ClearCache answer unless a newer one is
// stored; ENOTFOUND for an unknown station.
func (db *DB) RecordCacheClear(ctx context.Context, cpID, status string, at time.Time) error {
	t := ms(db.orNow(at))
	var cleared sql.NullInt64
	if status == "Accepted" {
		cleared = sql.NullInt64{Int64: t, Valid: true}
	}
	return db.write(ctx, "record cache clear", func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO auth_caches (charge_point_id, last_clear_status, last_clear_at, cleared_at)
			VALUES (?, ?, ?, ?)
			ON CONFLICT (charge_point_id) DO UPDATE SET
			  last_clear_status = CASE WHEN last_clear_at IS NULL OR excluded.last_clear_at >= last_clear_at
			                      THEN excluded.last_clear_status ELSE last_clear_status END,
			  last_clear_at = max(coalesce(last_clear_at, 0), excluded.last_clear_at),
			  cleared_at = CASE WHEN excluded.cleared_at IS NOT NULL AND (cleared_at IS NULL OR excluded.cleared_at > cleared_at)
			               THEN excluded.cleared_at ELSE cleared_at END`,
			cpID, status, t, cleared)
		if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
			return notFound(cpID)
		}
		return err
	})
}

// RecordCacheEnabled records whether the station's cache is enabled,
// unless a newer record is stored; ENOTFOUND for an unknown station.
func (db *DB) RecordCacheEnabled(ctx context.Context, cpID string, enabled bool, at time.Time) error {
	return db.write(ctx, "record cache enabled", func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO auth_caches (charge_point_id, enabled, enabled_at) VALUES (?, ?, ?)
			ON CONFLICT (charge_point_id) DO UPDATE SET
			  enabled = CASE WHEN enabled_at IS NULL OR excluded.enabled_at >= enabled_at THEN excluded.enabled ELSE enabled END,
			  enabled_at = max(coalesce(enabled_at, 0), excluded.enabled_at)`,
			cpID, enabled, ms(db.orNow(at)))
		if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
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
		status                          sql.NullString
		lastAt, clearedAt, enAt, enable sql.NullInt64
	)
	err := db.r.QueryRowContext(ctx, `SELECT a.last_clear_status, a.last_clear_at, a.cleared_at, a.enabled, a.enabled_at
		FROM charge_points cp LEFT JOIN auth_caches a ON a.charge_point_id = cp.id WHERE cp.id = ?`, cpID).
		Scan(&status, &lastAt, &clearedAt, &enable, &enAt)
	if errors.Is(err, sql.ErrNoRows) {
		return a, notFound(cpID)
	}
	if err != nil {
		return a, translate("get auth cache", err)
	}
	a.LastClearStatus, a.LastClearAt, a.ClearedAt, a.EnabledAt = status.String, fromNullMS(lastAt), fromNullMS(clearedAt), fromNullMS(enAt)
	if enable.Valid {
		a.Enabled = new(enable.Int64 == 1)
	}
	return a, nil
}
