package sqlite

import (
	"context"
	"database/sql"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ocppd/ocppd"
)

// AddStatus appends ev to the history and makes it the connector's current
// status unless the stored one has a later Timestamp (an event queued by
// the station while offline and delivered late). An event already stored
// (same station, EVSE, connector, Timestamp, status and error code: a
// redelivery) changes nothing. ENOTFOUND for an unknown station.
func (db *DB) AddStatus(ctx context.Context, ev ocppd.StatusEvent) error {
	return db.write(ctx, "add status", func(ctx context.Context, tx *sql.Tx) error {
		ts, recv := ms(ev.Timestamp), ms(db.orNow(ev.ReceivedAt))
		res, err := tx.ExecContext(ctx, `INSERT INTO status_history
			(charge_point_id, evse, connector, status, error_code, info, timestamp, received_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`,
			ev.ChargePointID, ev.EVSE, ev.Connector, ev.Status, ev.ErrorCode, ev.Info, ts, recv)
		if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
			return notFound(ev.ChargePointID)
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return nil // stored before (status_history_identity)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO status_current
			(charge_point_id, evse, connector, status, error_code, info, timestamp, received_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (charge_point_id, evse, connector) DO UPDATE
			SET status = excluded.status, error_code = excluded.error_code, info = excluded.info,
			    timestamp = excluded.timestamp, received_at = excluded.received_at
			WHERE excluded.timestamp >= status_current.timestamp`,
			ev.ChargePointID, ev.EVSE, ev.Connector, ev.Status, ev.ErrorCode, ev.Info, ts, recv)
		return err
	})
}

const statusColumns = `charge_point_id, evse, connector, status, error_code, info, timestamp, received_at`

// queryStatus runs q and scans status events.
func (db *DB) queryStatus(ctx context.Context, op, q string, args ...any) ([]ocppd.StatusEvent, error) {
	if err := db.opened(); err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, translate(op, err)
	}
	defer rows.Close()
	var evs []ocppd.StatusEvent
	for rows.Next() {
		var (
			ev       ocppd.StatusEvent
			ts, recv int64
		)
		if err := rows.Scan(&ev.ChargePointID, &ev.EVSE, &ev.Connector, &ev.Status, &ev.ErrorCode, &ev.Info, &ts, &recv); err != nil {
			return nil, translate(op, err)
		}
		ev.Timestamp, ev.ReceivedAt = fromMS(ts), fromMS(recv)
		evs = append(evs, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(op, err)
	}
	return evs, nil
}

// CurrentStatus returns the latest status of every connector of the
// station, ordered by EVSE and connector; none for an unknown station.
func (db *DB) CurrentStatus(ctx context.Context, id string) ([]ocppd.StatusEvent, error) {
	return db.queryStatus(ctx, "current status", `SELECT `+statusColumns+`
		FROM status_current WHERE charge_point_id = ? ORDER BY evse, connector`, id)
}

// StatusHistory returns up to limit events of the station, newest first by
// the station's Timestamp, and among equal timestamps the later arrival
// first. A limit of 0 or less means no limit.
func (db *DB) StatusHistory(ctx context.Context, id string, limit int) ([]ocppd.StatusEvent, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	return db.queryStatus(ctx, "status history", `SELECT `+statusColumns+`
		FROM status_history WHERE charge_point_id = ? ORDER BY timestamp DESC, id DESC LIMIT ?`, id, limit)
}
