package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

var _ store.StationData = (*DB)(nil)

// GetStationPolicy returns the station's registration, protocol and
// lenient flag. ENOTFOUND for an unknown station.
func (db *DB) GetStationPolicy(ctx context.Context, cpID string) (store.StationPolicy, error) {
	if err := db.opened(); err != nil {
		return store.StationPolicy{}, err
	}
	var (
		p   store.StationPolicy
		reg string
	)
	err := db.r.QueryRowContext(ctx, `SELECT registration, protocol, lenient FROM charge_points WHERE id = ?`, cpID).
		Scan(&reg, &p.Protocol, &p.Lenient)
	if errors.Is(err, sql.ErrNoRows) {
		return p, notFound(cpID)
	}
	p.Registration = ocppd.RegistrationStatus(reg)
	return p, translate("get station policy", err)
}

// SetLenient sets the station's lenient flag. ENOTFOUND for an unknown
// station.
func (db *DB) SetLenient(ctx context.Context, cpID string, lenient bool) error {
	return db.write(ctx, "set lenient", func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE charge_points SET lenient = ? WHERE id = ?`, lenient, cpID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound(cpID)
		}
		return nil
	})
}

// AddStationEvent appends ev to the station's log. ENOTFOUND for an
// unknown station.
func (db *DB) AddStationEvent(ctx context.Context, ev store.StationEvent) error {
	if len(ev.Payload) == 0 {
		ev.Payload = json.RawMessage(`{}`)
	}
	return db.write(ctx, "add station event", func(ctx context.Context, tx *sql.Tx) error {
		recv := db.orNow(ev.ReceivedAt)
		ts := ev.Timestamp
		if ts.IsZero() {
			ts = recv
		}
		sum := sha256.Sum256(ev.Payload)
		// A redelivered notification (same action, timestamp and
		// payload) is stored once: station_events_identity.
		_, err := tx.ExecContext(ctx, `INSERT INTO station_events (charge_point_id, action, status, timestamp, payload, received_at, payload_hash)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, ev.ChargePointID, ev.Action, ev.Status, ms(ts), string(ev.Payload), ms(recv), sum[:])
		if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
			return notFound(ev.ChargePointID)
		}
		return err
	})
}

// ListStationEvents returns up to limit events of the station, newest
// first.
func (db *DB) ListStationEvents(ctx context.Context, cpID, action string, limit int) ([]store.StationEvent, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = -1
	}
	rows, err := db.r.QueryContext(ctx, `SELECT charge_point_id, action, status, timestamp, payload, received_at
		FROM station_events WHERE charge_point_id = ? AND (? = '' OR action = ?)
		ORDER BY timestamp DESC, id DESC LIMIT ?`, cpID, action, action, limit)
	if err != nil {
		return nil, translate("list station events", err)
	}
	defer rows.Close()
	var out []store.StationEvent
	for rows.Next() {
		var (
			ev       store.StationEvent
			ts, recv int64
			payload  string
		)
		if err := rows.Scan(&ev.ChargePointID, &ev.Action, &ev.Status, &ts, &payload, &recv); err != nil {
			return nil, translate("list station events", err)
		}
		ev.Timestamp, ev.ReceivedAt, ev.Payload = fromMS(ts), fromMS(recv), json.RawMessage(payload)
		out = append(out, ev)
	}
	return out, translate("list station events", rows.Err())
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// PutDeviceVariables adds or replaces variables of the station's device
// model. ENOTFOUND for an unknown station.
func (db *DB) PutDeviceVariables(ctx context.Context, vars []store.DeviceVariable) error {
	if len(vars) == 0 {
		return nil
	}
	return db.write(ctx, "put device variables", func(ctx context.Context, tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO device_variables
			(charge_point_id, component, component_instance, evse, connector, variable, variable_instance,
			 attributes, characteristics, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, v := range vars {
			attrs := v.Attributes
			if len(attrs) == 0 {
				attrs = json.RawMessage(`[]`)
			}
			_, err := stmt.ExecContext(ctx, v.ChargePointID, v.Component, v.ComponentInstance, intOr(v.EVSE, -1),
				intOr(v.Connector, -1), v.Variable, v.VariableInstance, string(attrs), nullJSON(v.Characteristics),
				ms(db.orNow(v.UpdatedAt)))
			if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
				return notFound(v.ChargePointID)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// DeviceModel returns the station's device model ordered by component and
// variable.
func (db *DB) DeviceModel(ctx context.Context, cpID string) ([]store.DeviceVariable, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT charge_point_id, component, component_instance, evse, connector, variable,
		variable_instance, attributes, characteristics, updated_at FROM device_variables WHERE charge_point_id = ?
		ORDER BY component, component_instance, evse, connector, variable, variable_instance`, cpID)
	if err != nil {
		return nil, translate("device model", err)
	}
	defer rows.Close()
	var out []store.DeviceVariable
	for rows.Next() {
		var (
			v               store.DeviceVariable
			evse, conn      int
			attrs           string
			characteristics sql.NullString
			updated         int64
		)
		if err := rows.Scan(&v.ChargePointID, &v.Component, &v.ComponentInstance, &evse, &conn, &v.Variable,
			&v.VariableInstance, &attrs, &characteristics, &updated); err != nil {
			return nil, translate("device model", err)
		}
		if evse >= 0 {
			v.EVSE = &evse
		}
		if conn >= 0 {
			v.Connector = &conn
		}
		v.Attributes, v.UpdatedAt = json.RawMessage(attrs), fromMS(updated)
		if characteristics.Valid {
			v.Characteristics = json.RawMessage(characteristics.String)
		}
		out = append(out, v)
	}
	return out, translate("device model", rows.Err())
}
