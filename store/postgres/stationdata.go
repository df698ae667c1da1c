package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5"

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
	err := db.pool.QueryRow(ctx, `SELECT registration, protocol, lenient FROM charge_points WHERE id = $1`, cpID).
		Scan(&reg, &p.Protocol, &p.Lenient)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, notFound(cpID)
	}
	p.Registration = ocppd.RegistrationStatus(reg)
	return p, translate("get station policy", err)
}

// SetLenient sets the station's lenient flag. ENOTFOUND for an unknown
// station.
func (db *DB) SetLenient(ctx context.Context, cpID string, lenient bool) error {
	return db.write(ctx, "set lenient", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE charge_points SET lenient = $1 WHERE id = $2`, lenient, cpID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
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
	if ev.ReceivedAt.IsZero() {
		ev.ReceivedAt = db.opts.Now()
	}
	if ev.Timestamp.IsZero() {
		ev.Timestamp = ev.ReceivedAt
	}
	return db.write(ctx, "add station event", func(tx pgx.Tx) error {
		sum := sha256.Sum256(ev.Payload)
		// A redelivered notification (same action, timestamp and
		// payload) is stored once: station_events_identity.
		_, err := tx.Exec(ctx, `INSERT INTO station_events (charge_point_id, action, status, timestamp, payload, received_at, payload_hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`, ev.ChargePointID, ev.Action, ev.Status, ev.Timestamp, string(ev.Payload), ev.ReceivedAt, sum[:])
		if isCode(err, codeForeignKeyViolation) {
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
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	rows, err := db.pool.Query(ctx, `SELECT charge_point_id, action, status, timestamp, payload, received_at
		FROM station_events WHERE charge_point_id = $1 AND ($2 = '' OR action = $2)
		ORDER BY timestamp DESC, id DESC LIMIT $3`, cpID, action, lim)
	if err != nil {
		return nil, translate("list station events", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.StationEvent, error) {
		var (
			ev      store.StationEvent
			payload []byte
		)
		err := r.Scan(&ev.ChargePointID, &ev.Action, &ev.Status, &ev.Timestamp, &payload, &ev.ReceivedAt)
		ev.Timestamp, ev.ReceivedAt, ev.Payload = utc(ev.Timestamp), utc(ev.ReceivedAt), json.RawMessage(payload)
		return ev, err
	})
	return out, translate("list station events", err)
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
	now := db.opts.Now()
	return db.write(ctx, "put device variables", func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, v := range vars {
			attrs := v.Attributes
			if len(attrs) == 0 {
				attrs = json.RawMessage(`[]`)
			}
			at := v.UpdatedAt
			if at.IsZero() {
				at = now
			}
			b.Queue(`INSERT INTO device_variables (charge_point_id, component, component_instance, evse, connector, variable,
				variable_instance, attributes, characteristics, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
				ON CONFLICT (charge_point_id, component, component_instance, evse, connector, variable, variable_instance)
				DO UPDATE SET attributes = excluded.attributes, characteristics = excluded.characteristics,
				updated_at = excluded.updated_at`,
				v.ChargePointID, v.Component, v.ComponentInstance, intOr(v.EVSE, -1), intOr(v.Connector, -1), v.Variable,
				v.VariableInstance, string(attrs), nullJSON(v.Characteristics), at)
		}
		err := tx.SendBatch(ctx, b).Close()
		if isCode(err, codeForeignKeyViolation) {
			return notFound(vars[0].ChargePointID)
		}
		return err
	})
}

// DeviceModel returns the station's device model ordered by component and
// variable.
func (db *DB) DeviceModel(ctx context.Context, cpID string) ([]store.DeviceVariable, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT charge_point_id, component, component_instance, evse, connector, variable,
		variable_instance, attributes, characteristics, updated_at FROM device_variables WHERE charge_point_id = $1
		ORDER BY component COLLATE "C", component_instance COLLATE "C", evse, connector, variable COLLATE "C", variable_instance COLLATE "C"`, cpID)
	if err != nil {
		return nil, translate("device model", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.DeviceVariable, error) {
		var (
			v                      store.DeviceVariable
			evse, conn             int
			attrs, characteristics []byte
		)
		err := r.Scan(&v.ChargePointID, &v.Component, &v.ComponentInstance, &evse, &conn, &v.Variable,
			&v.VariableInstance, &attrs, &characteristics, &v.UpdatedAt)
		if evse >= 0 {
			v.EVSE = &evse
		}
		if conn >= 0 {
			v.Connector = &conn
		}
		v.Attributes, v.UpdatedAt = json.RawMessage(attrs), utc(v.UpdatedAt)
		if characteristics != nil {
			v.Characteristics = json.RawMessage(characteristics)
		}
		return v, err
	})
	return out, translate("device model", err)
}
