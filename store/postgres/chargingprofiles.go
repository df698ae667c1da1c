package postgres

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"

	"github.com/ocppd/ocppd/store"
)

var _ store.ChargingProfiles = (*DB)(nil)

// jsonOr returns b, or def when b is empty.
func jsonOr(b json.RawMessage, def string) string {
	if len(b) == 0 {
		return def
	}
	return string(b)
}

// PutChargingProfile stores p, replacing the profiles with its id or its
// EVSE, purpose and stack level; ENOTFOUND for an unknown station.
func (db *DB) PutChargingProfile(ctx context.Context, p store.ChargingProfile) error {
	if p.Source == "" {
		p.Source = "CSO"
	}
	p.UpdatedAt = db.orNow(p.UpdatedAt)
	return db.write(ctx, "put charging profile", func(tx pgx.Tx) error {
		if err := stationExists(ctx, tx, p.ChargePointID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM charging_profiles WHERE charge_point_id = $1
			AND (profile_id = $2 OR (evse = $3 AND purpose = $4 AND stack_level = $5))`,
			p.ChargePointID, p.ProfileID, p.EVSE, p.Purpose, p.StackLevel); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO charging_profiles (charge_point_id, profile_id, evse, stack_level, purpose,
			kind, transaction_id, source, schedule, profile, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb, $11)`,
			p.ChargePointID, p.ProfileID, p.EVSE, p.StackLevel, p.Purpose, p.Kind, p.TransactionID, p.Source,
			jsonOr(p.Schedule, "null"), jsonOr(p.Profile, "{}"), p.UpdatedAt)
		return err
	})
}

// ClearChargingProfiles removes the station's profiles matching c.
func (db *DB) ClearChargingProfiles(ctx context.Context, cpID string, c store.ChargingProfileCriteria) (int, error) {
	n := 0
	err := db.write(ctx, "clear charging profiles", func(tx pgx.Tx) error {
		var tag interface{ RowsAffected() int64 }
		var err error
		if c.ProfileID != nil {
			tag, err = tx.Exec(ctx, `DELETE FROM charging_profiles WHERE charge_point_id = $1 AND profile_id = $2`, cpID, *c.ProfileID)
		} else {
			tag, err = tx.Exec(ctx, `DELETE FROM charging_profiles WHERE charge_point_id = $1
				AND ($2::integer IS NULL OR evse = $2) AND ($3 = '' OR purpose = $3) AND ($4::integer IS NULL OR stack_level = $4)`,
				cpID, c.EVSE, c.Purpose, c.StackLevel)
		}
		if err != nil {
			return err
		}
		n = int(tag.RowsAffected())
		return nil
	})
	return n, err
}

// ListChargingProfiles returns the station's profiles; ENOTFOUND for an
// unknown station.
func (db *DB) ListChargingProfiles(ctx context.Context, cpID string) ([]store.ChargingProfile, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	if err := stationExists(ctx, db.pool, cpID); err != nil {
		return nil, translate("list charging profiles", err)
	}
	rows, err := db.pool.Query(ctx, `SELECT profile_id, evse, stack_level, purpose, kind, transaction_id, source,
		schedule::text, profile::text, updated_at FROM charging_profiles WHERE charge_point_id = $1
		ORDER BY evse, purpose, stack_level, profile_id`, cpID)
	if err != nil {
		return nil, translate("list charging profiles", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.ChargingProfile, error) {
		p := store.ChargingProfile{ChargePointID: cpID}
		var sched, prof string
		err := r.Scan(&p.ProfileID, &p.EVSE, &p.StackLevel, &p.Purpose, &p.Kind, &p.TransactionID, &p.Source, &sched, &prof, &p.UpdatedAt)
		p.Schedule, p.Profile, p.UpdatedAt = json.RawMessage(sched), json.RawMessage(prof), utc(p.UpdatedAt)
		return p, err
	})
	return out, translate("list charging profiles", err)
}
