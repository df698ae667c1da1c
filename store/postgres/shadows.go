package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

// GetShadow returns the station's shadow; a station without one yet gives a
// record with Version 0 and a nil Document. ENOTFOUND for an unknown
// station. The document comes back as jsonb re-encodes it: the same JSON
// value, with keys ordered and whitespace removed.
func (db *DB) GetShadow(ctx context.Context, id string) (store.ShadowRecord, error) {
	if err := db.opened(); err != nil {
		return store.ShadowRecord{}, err
	}
	var (
		doc       []byte
		version   *int64
		updatedAt *time.Time
	)
	err := db.pool.QueryRow(ctx, `SELECT s.document::text, s.version, s.updated_at
		FROM charge_points cp LEFT JOIN shadows s ON s.charge_point_id = cp.id
		WHERE cp.id = $1`, id).Scan(&doc, &version, &updatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ShadowRecord{}, notFound(id)
	}
	if err != nil {
		return store.ShadowRecord{}, translate("get shadow", err)
	}
	rec := store.ShadowRecord{ChargePointID: id, UpdatedAt: fromNull(updatedAt)}
	if version != nil {
		rec.Version = *version
		rec.Document = json.RawMessage(doc)
	}
	return rec, nil
}

// PutShadow stores doc as version expect+1 if the stored version is expect
// (0: none stored yet); otherwise ECONFLICT and nothing is written.
// ENOTFOUND for an unknown station, EINVALID if doc is not JSON.
//
// It takes no lock beyond the row's: the first version is an INSERT … ON
// CONFLICT DO NOTHING, later ones an UPDATE … WHERE version = expect, and
// of two writers with the same expect exactly one changes a row.
func (db *DB) PutShadow(ctx context.Context, id string, doc json.RawMessage, expect int64, at time.Time) error {
	if !json.Valid(doc) {
		return ocppd.Errorf(ocppd.EINVALID, "shadow document of %q is not valid JSON", id)
	}
	if err := db.opened(); err != nil {
		return err
	}
	var (
		n   int64
		err error
	)
	if expect == 0 {
		n, err = db.exec1(ctx, "put shadow", `INSERT INTO shadows (charge_point_id, document, version, updated_at)
			VALUES ($1, $2::text::jsonb, 1, $3)
			ON CONFLICT (charge_point_id) DO NOTHING`, id, string(doc), at)
		if isCode(err, codeForeignKeyViolation) {
			return notFound(id)
		}
	} else {
		n, err = db.exec1(ctx, "put shadow", `UPDATE shadows
			SET document = $2::text::jsonb, version = version + 1, updated_at = $3
			WHERE charge_point_id = $1 AND version = $4`, id, string(doc), at, expect)
	}
	if err != nil {
		return err
	}
	if n == 1 {
		return nil
	}
	// Nothing written: a version mismatch, or no such station.
	var stored *int64
	err = db.pool.QueryRow(ctx, `SELECT s.version
		FROM charge_points cp LEFT JOIN shadows s ON s.charge_point_id = cp.id
		WHERE cp.id = $1`, id).Scan(&stored)
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound(id)
	}
	if err != nil {
		return translate("put shadow", err)
	}
	var v int64
	if stored != nil {
		v = *stored
	}
	return ocppd.Errorf(ocppd.ECONFLICT, "shadow of %q is at version %d, not %d", id, v, expect)
}
