package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"

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
	return db.write(ctx, "put charging profile", func(ctx context.Context, tx *sql.Tx) error {
		if err := stationExists(ctx, tx, p.ChargePointID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM charging_profiles WHERE charge_point_id = ?
			AND (profile_id = ? OR (evse = ? AND purpose = ? AND stack_level = ?))`,
			p.ChargePointID, p.ProfileID, p.EVSE, p.Purpose, p.StackLevel); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO charging_profiles (charge_point_id, profile_id, evse, stack_level, purpose,
			kind, transaction_id, source, schedule, profile, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ChargePointID, p.ProfileID, p.EVSE, p.StackLevel, p.Purpose, p.Kind, p.TransactionID, p.Source,
			jsonOr(p.Schedule, "null"), jsonOr(p.Profile, "{}"), ms(db.orNow(p.UpdatedAt)))
		return err
	})
}

// ClearChargingProfiles removes the station's profiles matching c.
func (db *DB) ClearChargingProfiles(ctx context.Context, cpID string, c store.ChargingProfileCriteria) (int, error) {
	n := 0
	err := db.write(ctx, "clear charging profiles", func(ctx context.Context, tx *sql.Tx) error {
		q, args := `DELETE FROM charging_profiles WHERE charge_point_id = ?`, []any{cpID}
		if c.ProfileID != nil {
			q += ` AND profile_id = ?`
			args = append(args, *c.ProfileID)
		} else {
			if c.EVSE != nil {
				q += ` AND evse = ?`
				args = append(args, *c.EVSE)
			}
			if c.Purpose != "" {
				q += ` AND purpose = ?`
				args = append(args, c.Purpose)
			}
			if c.StackLevel != nil {
				q += ` AND stack_level = ?`
				args = append(args, *c.StackLevel)
			}
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		m, _ := res.RowsAffected()
		n = int(m)
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
	if err := stationExists(ctx, db.r, cpID); err != nil {
		return nil, translate("list charging profiles", err)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT profile_id, evse, stack_level, purpose, kind, transaction_id, source,
		schedule, profile, updated_at FROM charging_profiles WHERE charge_point_id = ?
		ORDER BY evse, purpose, stack_level, profile_id`, cpID)
	if err != nil {
		return nil, translate("list charging profiles", err)
	}
	defer rows.Close()
	var out []store.ChargingProfile
	for rows.Next() {
		p := store.ChargingProfile{ChargePointID: cpID}
		var sched, prof string
		var updated int64
		if err := rows.Scan(&p.ProfileID, &p.EVSE, &p.StackLevel, &p.Purpose, &p.Kind, &p.TransactionID, &p.Source,
			&sched, &prof, &updated); err != nil {
			return nil, translate("list charging profiles", err)
		}
		p.Schedule, p.Profile, p.UpdatedAt = json.RawMessage(sched), json.RawMessage(prof), fromMS(updated)
		out = append(out, p)
	}
	return out, translate("list charging profiles", rows.Err())
}
