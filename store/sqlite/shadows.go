package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

// GetShadow returns the station's shadow; a station without one yet gives a
// record with Version 0 and a nil Document. ENOTFOUND for an unknown
// station.
func (db *DB) GetShadow(ctx context.Context, id string) (store.ShadowRecord, error) {
	if err := db.opened(); err != nil {
		return store.ShadowRecord{}, err
	}
	var (
		doc       sql.NullString
		version   sql.NullInt64
		updatedAt sql.NullInt64
	)
	err := db.r.QueryRowContext(ctx, `SELECT s.document, s.version, s.updated_at
		FROM charge_points cp LEFT JOIN shadows s ON s.charge_point_id = cp.id
		WHERE cp.id = ?`, id).Scan(&doc, &version, &updatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ShadowRecord{}, notFound(id)
	}
	if err != nil {
		return store.ShadowRecord{}, translate("get shadow", err)
	}
	rec := store.ShadowRecord{ChargePointID: id, Version: version.Int64, UpdatedAt: fromNullMS(updatedAt)}
	if doc.Valid {
		rec.Document = json.RawMessage(doc.String)
	}
	return rec, nil
}

// PutShadow stores doc as version expect+1 if the stored version is expect
// (0: none stored yet); otherwise ECONFLICT and nothing is written.
// ENOTFOUND for an unknown station, EINVALID if doc is not JSON.
func (db *DB) PutShadow(ctx context.Context, id string, doc json.RawMessage, expect int64, at time.Time) error {
	if !json.Valid(doc) {
		return ocppd.Errorf(ocppd.EINVALID, "shadow document of %q is not valid JSON", id)
	}
	return db.write(ctx, "put shadow", func(ctx context.Context, tx *sql.Tx) error {
		// The write transaction holds SQLite's write lock from BEGIN
		// IMMEDIATE on, so the version read here cannot change before the
		// write below.
		var stored sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT s.version
			FROM charge_points cp LEFT JOIN shadows s ON s.charge_point_id = cp.id
			WHERE cp.id = ?`, id).Scan(&stored)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(id)
		}
		if err != nil {
			return err
		}
		if stored.Int64 != expect {
			return ocppd.Errorf(ocppd.ECONFLICT, "shadow of %q is at version %d, not %d", id, stored.Int64, expect)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO shadows (charge_point_id, document, version, updated_at)
			VALUES (?, ?, ?, ?)
			ON CONFLICT (charge_point_id) DO UPDATE
			SET document = excluded.document, version = excluded.version, updated_at = excluded.updated_at`,
			id, string(doc), expect+1, ms(db.orNow(at)))
		return err
	})
}
